"""Share → Let others answer: the window a teacher puts on the projector.

Before starting: k (answers per image), how votes combine (majority or fraction of yes,
ties, '?'), the time after which an unanswered image goes to someone else, the question in
words, and "on this network" (off: only this computer can connect). Started: the address, a
large QR code and the short join code; the batch's progress, agreement (percent and
Krippendorff's alpha, this batch and overall), a live tally per image and each annotator's
agreement with the consensus; Export answers CSV (every answer with its annotator id).
Over K > 2 outcomes the tally shows the outcomes each image was given and the vote by its name;
"fraction of yes" reads "share of each outcome", and an even split is always '?' (no tie rule).

`install_share(window)` makes the share of the main window and the Share menu's commands.
"""
from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QPixmap, QShowEvent, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGridLayout, QHBoxLayout, QHeaderView,
                               QLabel, QLineEdit, QMainWindow, QProgressBar, QPushButton, QSpinBox, QTableView,
                               QVBoxLayout, QWidget)

from viscause_gui.core.share.consensus import VoteRule
from viscause_gui.gui.controllers.share import ShareController
from viscause_gui.gui.widgets.actions import make_action
from viscause_gui.gui.widgets.dialogs import QtDialogs

QR_SIDE = 360


def qr_pixmap(text: str, side: int = QR_SIDE) -> QPixmap:
    """The QR code of `text` (segno, error correction M) as a pixmap about `side` pixels wide."""
    import segno

    code = segno.make(text, error="m", micro=False)
    width = code.symbol_size(scale=1, border=2)[0]
    buf = io.BytesIO()
    code.save(buf, kind="png", scale=max(1, side // width), border=2)
    pixmap = QPixmap()
    pixmap.loadFromData(buf.getvalue(), "PNG")
    return pixmap


class RowsModel(QStandardItemModel):
    """Rows of text for a table view, kept in Qt's own items: painting a table asks its model
    for every visible cell and role (~1,100 calls for the tally), and a model written in Python
    took the interpreter lock for each, behind the server's threads (~7 ms a paint alone, 15+
    ms beside a busy thread). `set_rows` sets only the cells whose text changed."""

    def __init__(self, headers: list[str], parent: QWidget | None = None):
        super().__init__(0, len(headers), parent)
        self.setHorizontalHeaderLabels(headers)
        self.headers = headers
        self.rows: list[tuple[str, ...]] = []

    def set_headers(self, headers: list[str]) -> None:
        """Other columns (a tally over K > 2 outcomes): the rows go, the next `set_rows` fills them."""
        if headers == self.headers:
            return
        self.clear()
        self.setColumnCount(len(headers))
        self.setHorizontalHeaderLabels(headers)
        self.headers, self.rows = headers, []

    def set_rows(self, rows: list[tuple[str, ...]]) -> None:
        if rows == self.rows:
            return
        old, self.rows = self.rows, list(rows)
        if len(rows) < len(old):
            self.setRowCount(len(rows))
        for r, (row, before) in enumerate(zip(rows, old)):
            if row != before:
                for c, (text, was) in enumerate(zip(row, before)):
                    if text != was:
                        self.item(r, c).setText(text)
        for row in rows[len(old):]:          # whole rows at once: a cell at a time took ~45 ms for 500 rows
            self.appendRow([QStandardItem(text) for text in row])


def _table(model: RowsModel, widths: list[int]) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(22)
    view.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
    header = view.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)   # never measured per change
    header.setStretchLastSection(True)
    for column, width in enumerate(widths):
        view.setColumnWidth(column, width)
    return view


class ShareWindow(QWidget):
    """The share's own window (a top-level window of the main window)."""

    def __init__(self, controller: ShareController, parent: QWidget | None = None):
        super().__init__(parent, Qt.WindowType.Window)
        self.controller = controller
        self.setWindowTitle("Let others answer")
        self.setObjectName("share_window")

        self.k = QSpinBox()
        self.k.setRange(1, 50)
        self.k.setValue(5)
        self.k.setToolTip("How many people answer each image (the paper asked five)")
        self.method = QComboBox()
        self.method.addItem("majority vote", "majority")
        self.method.addItem("fraction of yes", "mean")
        self.ties = QComboBox()
        for text, data in (("no answer (?)", "unknown"), ("yes", "yes"), ("no", "no"), ("0.5", "half")):
            self.ties.addItem(text, data)
        self.unknown = QComboBox()
        self.unknown.addItem("left out of the vote", "ignore")
        self.unknown.addItem("a vote of its own", "vote")
        self.lease = QDoubleSpinBox()
        self.lease.setRange(5, 3600)
        self.lease.setValue(60)
        self.lease.setSuffix(" s")
        self.lease.setToolTip("An image not answered in this time goes to someone else")
        self.question = QLineEdit(controller.state.question())
        self.question.setToolTip("The question the page asks (stored in the session)")
        self.question.editingFinished.connect(lambda: controller.state.set_question(self.question.text()))
        controller.state.behaviour_changed.connect(self._question_from_state)
        self.network = QCheckBox("On this network (phones on the same Wi-Fi can connect)")
        self.network.setToolTip("Off: only this computer can open the page (127.0.0.1)")
        for box in (self.method, self.ties, self.unknown):
            box.currentIndexChanged.connect(self._rule_changed)
        form = self.form = QFormLayout()
        form.addRow("Question", self.question)
        form.addRow("Answers per image (k)", self.k)
        form.addRow("Votes combine by", self.method)
        form.addRow("An even split gives", self.ties)
        form.addRow("'?' answers are", self.unknown)
        form.addRow("Hand on after", self.lease)
        form.addRow("", self.network)
        self.start_button = QPushButton("Start sharing")
        self.start_button.clicked.connect(self.toggle)
        self.export_button = QPushButton("Export answers CSV…")
        self.export_button.setToolTip("Every answer and undo with its annotator id")
        self.export_button.clicked.connect(self.export)

        big = QFont()
        big.setPointSize(22)
        big.setBold(True)
        self.address = QLabel("Not sharing.")
        self.address.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.address.setWordWrap(True)
        self.join = QLabel("")
        self.join.setFont(big)
        self.join.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.qr = QLabel()
        self.qr.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.qr.setMinimumSize(QR_SIDE // 2, QR_SIDE // 2)
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m answers")
        self.agreement = QLabel("")
        self.agreement.setWordWrap(True)
        self.tally_model = RowsModel(["batch", "image", "yes", "no", "?", "handed out", "vote"], self)
        self.tally = _table(self.tally_model, [110, 50, 45, 45, 40, 80])
        self.people_model = RowsModel(["annotator", "answers", "agrees with the vote"], self)
        self.people = _table(self.people_model, [130, 70])

        left = QVBoxLayout()
        left.addLayout(form)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.export_button)
        left.addLayout(buttons)
        left.addWidget(self.address)
        left.addWidget(self.join)
        left.addWidget(self.qr, 1)
        right = QVBoxLayout()
        right.addWidget(self.progress)
        right.addWidget(self.agreement)
        right.addWidget(self.tally, 3)
        right.addWidget(self.people, 2)
        grid = QGridLayout(self)
        grid.addLayout(left, 0, 0)
        grid.addLayout(right, 0, 1)
        grid.setColumnStretch(1, 1)
        controller.changed.connect(self.update_tally)
        controller.running_changed.connect(self._running)
        controller.settings_restored.connect(self._show_settings)
        self._show_settings()
        self._running(controller.running)
        self.addAction(make_action(self, "Close", "Close this window; sharing goes on (Share → Let others answer… "
                                   "brings it back)", "Esc", self.close))
        self.resize(1100, 760)

    def _show_settings(self) -> None:
        """The controller's k, vote rule and hand-on time (a session's, or the last share's)."""
        c = self.controller
        self.k.setValue(c.k)
        self.lease.setValue(c.lease_s)
        for box, value in ((self.method, c.rule.method), (self.ties, c.rule.ties), (self.unknown, c.rule.unknown)):
            box.setCurrentIndex(max(0, box.findData(value)))

    # ----- actions -----
    def rule(self) -> VoteRule:
        return VoteRule(self.method.currentData(), self.ties.currentData(), self.unknown.currentData())

    def _name_rules(self) -> None:
        """The vote rule's words for T's outcomes: K > 2 has no yes, and an even split is '?'."""
        many = self.controller.answers.n_outcomes > 2
        self.method.setItemText(1, "share of each outcome" if many else "fraction of yes")
        self.ties.setVisible(not many)
        self.form.labelForField(self.ties).setVisible(not many)

    def _rule_changed(self) -> None:
        self.ties.setEnabled(self.method.currentData() == "majority")
        self.unknown.setEnabled(self.method.currentData() == "majority")
        self.controller.set_rule(self.rule())

    def _question_from_state(self) -> None:
        if not self.question.hasFocus():
            self.question.setText(self.controller.state.question())

    def toggle(self) -> None:
        if self.controller.running:
            self.controller.stop()
            return
        self.controller.state.set_question(self.question.text())
        try:
            self.controller.start(self.k.value(), network=self.network.isChecked(), lease_s=self.lease.value(),
                                  rule=self.rule())
        except OSError as exc:
            self._message("Could not start sharing", str(exc))

    def export(self) -> None:
        self.controller.export_answers()

    def _message(self, title: str, text: str) -> None:
        self.controller.dialogs.message("warning", title, text)

    # ----- showing -----
    def showEvent(self, event: QShowEvent) -> None:
        self._name_rules()                  # the data set's outcomes may have changed since
        super().showEvent(event)

    def _running(self, running: bool) -> None:
        self._name_rules()
        self.start_button.setText("Stop sharing" if running else "Start sharing")
        for w in (self.k, self.lease, self.network):
            w.setEnabled(not running)
        server = self.controller.server
        if running and server is not None:
            url = server.page_url
            where = ("anyone on this network" if server.host != "127.0.0.1" else "this computer only")
            self.address.setText(f"<b>Scan the code</b> or open <a href='{url}'>{server.base_url}</a> and type "
                                 f"the join code ({where}).<br><small>{url}</small>")
            self.join.setText(f"Join code: {server.join_code}")
            self.qr.setPixmap(qr_pixmap(url))
        else:
            why = self.controller.stopped_because
            self.address.setText(f"{why + '. ' if why else ''}Not sharing. Start: a web page for phones and laptops, "
                                 "no install, no account.")
            self.join.setText("")
            self.qr.clear()
        self.update_tally()

    def update_tally(self) -> None:
        """Show the controller's latest tally; its text and rows were made off the GUI thread."""
        view = self.controller.latest_view if self.controller.hub is not None else None
        if view is None:
            self._progress(1, 0)
            self.agreement.setText("")
            self.tally_model.set_rows([])
            self.people_model.set_rows([])
            return
        self._progress(view.needed, view.answers)
        self.tally_model.set_headers(list(view.columns))
        if view.agreement != self.agreement.text():
            self.agreement.setText(view.agreement)
        self.tally_model.set_rows(view.rows)
        self.people_model.set_rows(view.people)

    def _progress(self, maximum: int, value: int) -> None:
        """QProgressBar.setValue repaints at once when its text changes (13 ms under load, on
        every tally); with updates off it only asks for a repaint with the rest of the window."""
        if (self.progress.maximum(), self.progress.value()) == (maximum, value):
            return
        self.progress.setUpdatesEnabled(False)
        self.progress.setRange(0, maximum)
        self.progress.setValue(value)
        self.progress.setUpdatesEnabled(True)                # = update(): painted with the next paint

    def closeEvent(self, event: Any) -> None:
        """Closing this window keeps sharing (the main window's Share menu brings it back)."""
        event.accept()


def install_share(window: QMainWindow) -> tuple[ShareController, dict[str, Callable[[], Any]]]:
    """The share of `window` and its commands (Share → Let others answer… / Stop sharing); the
    share window is made on first use and kept as `window.share_window`."""
    labelling = window.panels["labelling"]
    controller = ShareController(window.state, labelling.session, labelling.answered, QtDialogs(window),
                                 set_needed=labelling.per_image.setValue, on_screen=labelling.isVisible,
                                 tab_shown=window.docks["labelling"].visibilityChanged,
                                 export_answers=lambda: window.session.export_answers_dialog(), parent=window)
    window.share_window = None

    def show() -> None:
        if window.share_window is None:
            window.share_window = ShareWindow(controller, window)
        window.share_window.show()
        window.share_window.raise_()

    def enable_stop(running: bool) -> None:
        action = window.actions.get("share_stop")
        if action is not None:
            action.setEnabled(running)

    controller.running_changed.connect(enable_stop)
    return controller, {"share": show, "share_stop": controller.stop}
