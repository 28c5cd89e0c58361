"""The lesson bar: the step's text shown large, where the lesson is, Back / Next / Play and the pace.

A thin view of gui.controllers.lessons.LessonController: every button calls one of its public
methods and the bar redraws from its signals.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QDoubleSpinBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QSizePolicy,
                               QVBoxLayout, QWidget)

from viscause_gui.gui.controllers.lessons import LessonController


class LessonBar(QWidget):
    TEXT_SCALE = 1.5           # the step's text: larger than everything around it

    def __init__(self, controller: LessonController, parent: QWidget | None = None):
        super().__init__(parent)
        self.controller = controller
        self.title = QLabel()
        self.title.setObjectName("lessonTitle")
        self.where = QLabel()
        self.where.setObjectName("lessonWhere")
        self.text = QLabel()
        self.text.setObjectName("lessonText")
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(90)
        self.busy.setToolTip("The step's run is going on (training, a search)")
        self.busy.setVisible(False)
        self.back_button = self._button("◀ Back", "The previous step's text and set-up again (PgUp)",
                                        controller.back)
        self.next_button = self._button("Next ▶", "The next step: its set-up and its run (PgDown)", controller.next)
        self.play_button = self._button("Play", "Go on by itself, one step after another at the pace set "
                                        "beside", controller.toggle_play)
        self.restart_button = self._button("Restart", "The lesson from its first step, data reloaded (the same "
                                           "seeds: the same results)", controller.restart)
        self.close_button = self._button("Close", "Close the lesson (what it learned stays)", controller.close)
        self.pace = QDoubleSpinBox()
        self.pace.setRange(controller.MIN_PACE_S, controller.MAX_PACE_S)
        self.pace.setSuffix(" s")
        self.pace.setDecimals(0)
        self.pace.setValue(controller.pace_s)
        self.pace.setToolTip("Pace of Play: seconds each step stays on screen after its run ends")
        self.pace.valueChanged.connect(controller.set_pace)
        top = QHBoxLayout()
        top.addWidget(self.title)
        top.addWidget(self.where)
        top.addStretch(1)
        top.addWidget(self.busy)
        for widget in (self.back_button, self.next_button, self.play_button, QLabel("pace"), self.pace,
                       self.restart_button, self.close_button):
            top.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addLayout(top)
        layout.addWidget(self.text)
        controller.step_changed.connect(self.refresh)
        controller.busy_changed.connect(self._busy)
        controller.playing_changed.connect(lambda _p: self.refresh())
        controller.failed.connect(self._failed)
        controller.finished.connect(self.refresh)
        self.refresh()

    def _button(self, text: str, tip: str, slot) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(tip)
        button.clicked.connect(lambda _checked=False: slot())
        return button

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == event.Type.FontChange:
            self._scale_text()

    def _scale_text(self) -> None:
        font = QFont(self.font())
        font.setPointSizeF(max(font.pointSizeF(), 8.0) * self.TEXT_SCALE)
        self.text.setFont(font)
        bold = QFont(self.font())
        bold.setBold(True)
        self.title.setFont(bold)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._scale_text()
        self._fit_text()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_text()

    def _fit_text(self) -> None:
        """The whole text shows, wrapped at the bar's width (a step's text is never cut off)."""
        width = max(self.text.width(), 200)
        self.text.setMinimumHeight(max(self.text.heightForWidth(width), 0))

    def refresh(self, _index: int | None = None) -> None:
        c = self.controller
        lesson, step = c.lesson, c.step
        self.title.setText("" if lesson is None else lesson.title)
        self.where.setText("" if lesson is None or step is None else f"step {c.index + 1} of {len(lesson)}")
        if step is not None or lesson is None:
            self.text.setText("" if step is None else step.text)
            self._fit_text()
        self.back_button.setEnabled(c.can_back())
        self.next_button.setEnabled(c.can_next())
        self.play_button.setText("Pause" if c.playing else "Play")
        self.play_button.setEnabled(lesson is not None and (c.playing or c.index + 1 < len(lesson)))
        self.restart_button.setEnabled(lesson is not None)

    def _busy(self, busy: bool) -> None:
        self.busy.setVisible(busy)
        self.refresh()

    def _failed(self, message: str) -> None:
        self.text.setText(f"{self.text.text()}<br><span style='color:#c0392b'>{message}</span>")
        self.refresh()
