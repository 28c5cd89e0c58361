"""Background work and the GUI thread: Python's garbage collector runs only on the GUI thread."""
from __future__ import annotations

import gc
import threading
import weakref

from PySide6.QtCore import QObject


def _make_cyclic_garbage(n: int) -> None:
    for _ in range(n):
        node: list = []
        node.append(node)


def test_a_worker_thread_never_collects_and_the_gui_thread_does(qtbot):
    collecting_threads: set[int] = set()

    def note(phase: str, _info: dict) -> None:
        if phase == "start":
            collecting_threads.add(threading.get_ident())

    widget_like = QObject()
    widget_like.cycle = widget_like          # only the cyclic collector can free it
    freed = weakref.ref(widget_like)
    del widget_like
    gc.callbacks.append(note)
    try:
        worker = threading.Thread(target=_make_cyclic_garbage, args=(50_000,))
        worker.start()
        worker.join()
        assert not gc.isenabled()
        assert collecting_threads == set()            # 50,000 allocations and no collection there
        qtbot.waitUntil(lambda: freed() is None, timeout=2000)
        assert collecting_threads == {threading.get_ident()}
    finally:
        gc.callbacks.remove(note)


def test_collections_follow_pythons_thresholds(_garbage_collected_on_the_gui_thread):
    collector = _garbage_collected_on_the_gui_thread
    gc.collect()
    assert collector.collect_if_due() is None         # nothing allocated since: nothing due
    _make_cyclic_garbage(gc.get_threshold()[0] + 10)
    assert collector.collect_if_due() == 0            # the youngest generation only
    assert gc.get_count()[0] < 10


def test_uninstall_collects_what_is_left_and_gives_collection_back(qapp):
    from viscause_gui.gui.workers import GuiThreadGarbageCollector

    gc.enable()                                       # as before any collector (the package's is on)
    collector = GuiThreadGarbageCollector()
    try:
        assert not gc.isenabled()
        widget_like = QObject()
        widget_like.cycle = widget_like
        freed = weakref.ref(widget_like)
        del widget_like
        collector.uninstall()
        assert freed() is None and gc.isenabled()
    finally:
        gc.disable()                                  # back to the package's collector


def test_a_full_collection_waits_for_a_quarter_more_long_lived_objects(_garbage_collected_on_the_gui_thread,
                                                                         monkeypatch):
    """CPython's rule for the oldest generation: without it every tenth middle collection was a
    full one, over every object the session holds (~85 ms in digit mode)."""
    collector = _garbage_collected_on_the_gui_thread
    collected: list[int] = []
    thresholds = gc.get_threshold()
    due_everywhere = (thresholds[0] + 1, thresholds[1] + 1, thresholds[2] + 1)
    monkeypatch.setattr(gc, "get_count", lambda: due_everywhere)
    monkeypatch.setattr(gc, "collect", lambda generation=2: collected.append(generation) or 0)
    collector.long_lived_total, collector.long_lived_pending = 400_000, 1_000
    assert collector.collect_if_due() == 1 and collected == [1]     # a middle collection instead
    assert collector.long_lived_pending >= 1_000                    # its survivors are counted
    collector.long_lived_pending = 100_001                          # a quarter more: now a full one
    assert collector.collect_if_due() == 2 and collected == [1, 2]
    assert collector.long_lived_pending == 0 and collector.long_lived_total >= 400_000
