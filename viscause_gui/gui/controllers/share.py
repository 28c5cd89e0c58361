"""Share → Let others answer, the window's side: the hub and the web server for one main window.

`ShareController.start` builds a `core.share.hub.ShareHub` on the journal of the Oracle (label)
panel's AnswerSession (the session's journal: every web answer is fsync'ed there before the page
gets its acknowledgement) and starts a `core.share.server.ShareServer` (127.0.0.1, or every address
with "on this network"). From then on:

- the oracle queue's waiting batches are offered (`state.queue.changed`);
- the answer session asks for k answers per image (`set_needed`: the panel's "answers per
  image") and combines a complete batch with the vote rule (`AnswerSession.combine`), so the
  batch goes to the experiment, and the loop on, as soon as its last vote arrives, whoever gave it;
- the server thread reports changes through a queued signal; the GUI thread coalesces them
  (at most one refresh every `REFRESH_MS`) so a class answering at once never stalls the window; the
  Oracle (label) panel, when on screen, catches up at most once every `LABEL_REFRESH_MS`.

The GUI thread never takes the hub's lock while sharing (an answer holds it through its fsync):
the tally is counted in a thread, and new batches (and the keyboard's answers) reach the hub
through one worker thread, in order. A batch's last vote hands it to the experiment in one
event-loop turn and redraws the tally in the next (each ~15-30 ms; together they made the
window's longest stall under 60 annotators).

Over K > 2 outcomes (the answer session's: the experiment's, or the data set's) the page shows a button
per outcome and the hub journals outcome indices; a complete batch goes on as the outcome most
annotators gave per image ("majority"), or as the share of each outcome ("fraction": (B, K) rows).

`stop` (and the window closing) stops the server and joins its thread.

The controller takes what it works with, never the window: the AppState, the AnswerSession and
the signal its answers fire, a Dialogs (the share window's messages), and small callables for the
Oracle (label) panel (its "answers per image", whether it is on screen, its tab shown).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from viscause_gui.core.share.consensus import VoteRule, consensus_of
from viscause_gui.core.share.hub import ShareHub, Tally
from viscause_gui.core.share.server import Limits, ShareServer
from viscause_gui.core.store.journal import batch_key
from viscause_gui.core.store.votes import batch_votes, resolve
from viscause_gui.gui.models.answer_session import AnswerSession
from viscause_gui.gui.models.dialogs import Dialogs

REFRESH_MS = 250
LABEL_REFRESH_MS = 1000   # the Oracle (label) panel on screen catches up with the web's answers this often
MAX_ROWS = 500                         # rows of the per-image tally the window shows


@dataclass(frozen=True)
class TallyView:
    """What the share window shows of a tally, as text, made off the GUI thread (`tally_view`)."""

    needed: int                        # the progress bar's maximum (>= 1)
    answers: int
    agreement: str                     # rich text: each batch, then overall
    rows: list[tuple[str, ...]]        # batch, image, yes, no, ?, handed out, vote (the columns below)
    people: list[tuple[str, ...]]      # annotator, answers, agrees with the vote
    columns: tuple[str, ...] = ("batch", "image", "yes", "no", "?", "handed out", "vote")


OUTCOME_COLUMNS = ("batch", "image", "answers", "?", "handed out", "vote")    # over K > 2 outcomes


def tally_view(tally: Tally) -> TallyView:
    lines = []
    for b in tally.batches:
        ag = tally.batch_agreement[b["key"]]
        lines.append(f"<b>{b['key']}</b>: {sum(r['n'] >= tally.k for r in b['rows'])}/{b['size']} images "
                     f"with {tally.k} answers · agreement {fmt(ag.percent, True)} · "
                     f"Krippendorff's α {fmt(ag.alpha)}")
    if not tally.batches:
        lines.append("No batch waits for answers: run Algorithm 1 or 2 with the human oracle.")
    o = tally.overall
    lines.append(f"Overall: {o.answers} answers on {o.images} images · agreement {fmt(o.percent, True)} · "
                 f"α {fmt(o.alpha)}")
    names = tally.outcomes
    rows: list[tuple[str, ...]] = []
    for b in tally.batches:
        for r in b["rows"][:MAX_ROWS]:
            rows.append(_row(b["key"], r, names))
    people: list[tuple[str, ...]] = [(p["name"], str(p["answers"]), fmt(p["agreement"], True)
               + (f" of {p['compared']}" if p["compared"] else "")) for p in tally.annotators]
    return TallyView(max(1, tally.needed), tally.answers, "<br>".join(lines), rows[:MAX_ROWS], people,
                     OUTCOME_COLUMNS if len(names) > 2 else TallyView.columns)


def _row(key: str, r: dict[str, Any], names: tuple[str, ...]) -> tuple[str, ...]:
    """One image's row of the tally: yes / no, or over K > 2 outcomes the outcomes given ("left 2 · up 1")."""
    vote = r["consensus"]
    if len(names) > 2:
        given = " · ".join(f"{names[j]} {c}" for j, c in enumerate(r["counts"]) if c)
        vote_text = "—" if vote != vote else names[int(vote)]
        return (key, str(r["index"]), given, str(r["unknown"]), str(r["handed"]), vote_text if r["n"] else "")
    vote_text = "—" if vote != vote else {1.0: "yes", 0.0: "no"}.get(vote, f"{vote:.2f}")
    return (key, str(r["index"]), str(r["yes"]), str(r["no"]), str(r["unknown"]), str(r["handed"]),
            vote_text if r["n"] else "")


class Connectable(Protocol):
    def connect(self, slot: Callable[..., Any]) -> Any: ...


class ShareController(QObject):
    """Owns the share of one main window (at most one at a time)."""

    changed = Signal()                 # the tally changed (GUI thread, coalesced)
    running_changed = Signal(bool)
    settings_restored = Signal()       # a session brought its k, rule and hand-on time
    _poke = Signal()                   # from the server thread
    _tally_ready = Signal(object)      # from the thread that counts

    def __init__(self, state: Any, answers: AnswerSession, answered: Connectable, dialogs: Dialogs, *,
                 set_needed: Callable[[int], None] | None = None, on_screen: Callable[[], bool] = lambda: False,
                 tab_shown: Connectable | None = None, export_answers: Callable[[], None] = lambda: None,
                 parent: QObject | None = None):
        """`answered` fires with each answer or undo the answer session writes; `set_needed` sets the
        answers asked per image (default: the session's own `needed`); `on_screen`: the Oracle
        (label) panel is on screen; `tab_shown` fires (bool) when its tab is shown or hidden;
        `export_answers`: File → Export answers CSV (the share window's button)."""
        super().__init__(parent)
        self.state, self.answers, self.dialogs = state, answers, dialogs
        self.set_needed = set_needed if set_needed is not None else self._set_needed
        self.on_screen, self.export_answers = on_screen, export_answers
        self.hub: ShareHub | None = None
        self.server: ShareServer | None = None
        self.rule = VoteRule()
        self.stopped_because: str | None = None   # why the share stopped, when not at the person's click
        self.limits: Limits | None = None  # None: the server's defaults (tests and benchmarks raise them)
        self.k, self.lease_s = 5, 60.0         # the last share's choices (kept in the session)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self._refresh)
        self._poke.connect(self._schedule)
        self._tally_ready.connect(self._got_tally)
        self._label_timer = QTimer(self)       # coalesced: its count over all answers takes ~20 ms
        self._label_timer.setSingleShot(True)
        self._label_timer.setInterval(LABEL_REFRESH_MS)
        self._label_timer.timeout.connect(self._catch_up_on_screen)
        self.latest: Tally | None = None       # the last tally counted off the GUI thread
        self.latest_view: TallyView | None = None   # and the window's text of it
        self._counting: Future | None = None
        self._recount = False
        self._hub_work: ThreadPoolExecutor | None = None   # offers, syncs and counts for the hub, in order
        self.state.queue.changed.connect(self._offer)
        self.state.behaviour_changed.connect(self._question_changed)
        answered.connect(self._keyboard_answer)
        if tab_shown is not None:                   # its tab shown: catch up with the web's answers
            tab_shown.connect(self._tab_shown)

    def _set_needed(self, k: int) -> None:
        self.answers.needed = k

    def _tab_shown(self, shown: bool) -> None:
        if shown and self.running:
            self.answers.refresh()

    @property
    def running(self) -> bool:
        return self.server is not None and self.server.running

    # ----- start / stop -----
    def start(self, k: int = 5, *, network: bool = False, lease_s: float = 60.0, rule: VoteRule = VoteRule(),
              port: int = 0, limits: Limits | None = None) -> str:
        """Start sharing; the page's URL (with its token). OSError when the server cannot bind."""
        self.stop()
        self.stopped_because = None
        self.rule, self.k, self.lease_s = rule, int(k), float(lease_s)
        self.set_needed(int(k))
        self.answers.combine = self._combine
        self.hub = ShareHub(lambda: self.answers.journal, self.answers.records, k=k, lease_s=lease_s,
                            question=self.state.question(), positive_digit=self._digit(), rule=rule,
                            on_change=self._poke.emit, outcomes=self.answers.outcomes())
        self.latest = self.latest_view = None
        self.hub.set_batches(self._waiting())             # before the server serves: nothing waits
        self.server = ShareServer(self.hub, "0.0.0.0" if network else "127.0.0.1", port, limits or self.limits)
        try:
            url = self.server.start()
        except OSError:
            self.server, self.hub = None, None
            self.answers.combine = None
            raise
        self.running_changed.emit(True)
        self.count()
        return url

    def stop(self) -> None:
        """Stop the server and join its thread; the answers stay in the journal."""
        server, self.server = self.server, None
        if server is not None:
            server.stop()
        work, self._hub_work = self._hub_work, None
        if work is not None:
            work.shutdown(wait=True)          # offers in flight finish (a fraction of a second at most)
        if self.answers.combine == self._combine:       # a bound method is a new object each time: not `is`
            self.answers.combine = None
        self._timer.stop()
        if server is not None:
            self.running_changed.emit(False)

    def session_changed(self) -> None:
        """Another session became the window's: the share's annotators, tally and page belong to the
        one before (its answers stay in that session's journal), so the share stops."""
        if self.running:
            self.stopped_because = ("Sharing stopped: another session was opened (the answers given stay "
                                    "in the earlier one)")
            self.stop()

    # ----- the queue and the panel -----
    def _digit(self) -> int | None:
        ds = self.state.dataset
        binary = self.answers.n_outcomes <= 2
        return self.state.positive_label if binary and ds is not None and ds.labels is not None else None

    def _waiting(self) -> list[tuple[str, np.ndarray]]:
        return [(batch_key(b), b.images) for b in self.state.queue.waiting()]

    def _offer(self) -> None:
        """The queue changed: offer its waiting batches (the hub's work, off the GUI thread)."""
        if self.hub is not None:
            self._to_hub(self.hub.set_batches, self._waiting())

    def _to_hub(self, fn: Any, *args: Any) -> Future:
        """Hub work from the GUI thread, done in one lasting worker thread, in order (it takes the
        hub's lock). Starting a thread each time made the GUI thread wait for it to start: up to
        47 ms while the server's threads held the interpreter lock."""
        if self._hub_work is None:
            self._hub_work = ThreadPoolExecutor(max_workers=1, thread_name_prefix="share-hub-work")
        return self._hub_work.submit(fn, *args)

    def _question_changed(self) -> None:
        if self.hub is not None:
            self.hub.question = self.state.question()
            self.hub.positive_digit = self._digit()

    def _keyboard_answer(self, _record: Any) -> None:
        if self.hub is not None and self.running:
            self._to_hub(self.hub.sync)

    def _combine(self, batch: Any, records: list) -> np.ndarray:
        """The vote rule over each image's answers in force (the panel's `combine` hook; on the
        GUI thread when a batch's last vote arrives, so all images at once). Over K > 2 outcomes
        "fraction" gives each outcome's share, (B, K) rows."""
        key, size, outcomes = batch_key(batch), len(batch), self.answers.n_outcomes
        if outcomes > 2 and self.rule.method == "mean":
            return batch_votes(records, key, size, outcomes=outcomes)[0]
        answers = [(index, r.value) for (b, index, _name), r in resolve(records).items()
                   if b == key and 0 <= index < size]
        index = np.fromiter((i for i, _ in answers), np.int64, len(answers))
        values = np.fromiter((math.nan if v is None else v for _, v in answers), np.float64, len(answers))
        return consensus_of(index, values, size, self.rule, outcomes)

    def _schedule(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def _refresh(self) -> None:
        """Coalesced: count the tally off the GUI thread; `_got_tally` hands complete batches on.

        The Oracle (label) panel is not redrawn for every web answer (its count over all answers
        costs ~20 ms, several times that while the server's threads hold the interpreter lock):
        it catches up when a batch is complete, when its tab is shown, and after a keyboard answer."""
        self.count()

    def count(self) -> None:
        """Count the tally in a thread (it waits for the hub's lock, which answers being written
        hold); `changed` follows on the GUI thread. The GUI thread never waits for the lock."""
        if self.hub is None:
            self.latest = self.latest_view = None
            self.changed.emit()
            return
        if self._counting is not None and not self._counting.done():
            self._recount = True
            return
        hub = self.hub
        self._counting = self._to_hub(self._count_in_thread, hub)

    def _count_in_thread(self, hub: ShareHub) -> None:
        tally = hub.tally()
        self._tally_ready.emit((hub, tally, tally_view(tally)))

    def _got_tally(self, result: tuple[ShareHub, Tally, TallyView]) -> None:
        hub, tally, view = result
        if hub is self.hub:
            self.latest, self.latest_view = tally, view
            if any(b["complete"] for b in tally.batches):
                if not self.answers.submit_complete():   # the votes go to the experiment (it redraws)
                    self.answers.refresh()
                QTimer.singleShot(0, self, self._show_latest)   # the tally in the next turn of the loop
            else:
                self.changed.emit()
                if self.on_screen() and not self._label_timer.isActive():
                    self._label_timer.start()
        if self._recount:
            self._recount = False
            self.count()

    def _catch_up_on_screen(self) -> None:
        if self.running and self.on_screen():
            self.answers.refresh()

    def _show_latest(self) -> None:
        if self.hub is not None:
            self.changed.emit()

    def tally(self) -> Tally | None:
        return None if self.hub is None else self.hub.tally()

    def settings(self) -> dict[str, Any]:
        """What the session keeps of the share: k, the vote rule, the hand-on time."""
        return {"k": self.k, "lease_s": self.lease_s, "rule": self.rule.to_json()}

    def restore_settings(self, saved: Any) -> None:
        """Take a session's share settings (bad or missing values keep the defaults)."""
        if not isinstance(saved, dict):
            return
        k, lease = saved.get("k"), saved.get("lease_s")
        if isinstance(k, int) and not isinstance(k, bool) and 1 <= k <= 50:
            self.k = k
        if isinstance(lease, (int, float)) and not isinstance(lease, bool) and 5 <= lease <= 3600:
            self.lease_s = float(lease)
        self.rule = VoteRule.from_json(saved.get("rule"))
        self.settings_restored.emit()

    def session_settings(self) -> dict[str, Any]:
        """The share's part of a session's settings (a SettingsPart of controllers.session_content)."""
        return {"share": self.settings()}

    def restore_session_settings(self, settings: Mapping[str, Any]) -> None:
        self.restore_settings(settings.get("share"))

    def set_rule(self, rule: VoteRule) -> None:
        self.rule = rule
        if self.hub is not None:
            self.hub.rule = rule
        self.count()


def fmt(value: float, percent: bool = False) -> str:
    """A number for the tally: '—' when undefined."""
    if value is None or not math.isfinite(value):
        return "—"
    return f"{100 * value:.0f} %" if percent else f"{value:.2f}"
