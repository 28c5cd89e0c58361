"""Issue 24, the real browser: a batch of ten images over ten outcomes waits for a person; headless Chromium
opens the share page, which shows one button per outcome (its name and key); the person answers by clicking
and by keys, says '?' once and undoes it, and the hub's consensus hands the batch to the experiment as one
(B, K) row per image; the share window's tally names the outcomes and the votes. The Oracle (label)
panel, the share controller and window over one AppState, as the main window wires them. Skipped, with
the reason, where Playwright or a Chromium is not installed."""
from __future__ import annotations

import numpy as np
import pytest

from tests.gui.panels.test_labelling_outcomes import ten_outcomes, waiting_batch
from tests.gui.test_share_browser import CHROMIUM
from viscause_gui.core.store.journal import Journal, read_journal
from viscause_gui.core.store.votes import resolve
from viscause_gui.gui.controllers.share import ShareController
from viscause_gui.gui.models.dialogs import ScriptedDialogs
from viscause_gui.gui.panels.labelling import LabellingPanel
from viscause_gui.gui.panels.share import ShareWindow
from viscause_gui.gui.state import AppState
from viscause_gui.gui.workers import WorkerPool

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="no Chromium at /usr/bin/chromium "
                                 "(apt-get install chromium; .ci/run installs it)")]

# what the person does, in order: (how, outcome); "undo" takes back the answer before it. The last image's
# '?' completes the batch, which Algorithm 1 refuses (its observational class got no answer): the share
# goes on offering it, and the person undoes the '?' and gives an outcome
STEPS = [("click", 3), ("key", 7), ("click", None), ("key", "undo"), ("key", 5), ("click", 0), ("key", 1),
         ("click", 2), ("key", 4), ("click", 6), ("key", 8), ("key", None), ("key", "undo"), ("click", 9)]


def test_a_browser_answers_ten_outcomes_by_clicks_and_keys_and_the_experiment_gets_the_rows(qtbot, tmp_path):
    state = AppState()
    state.set_dataset(ten_outcomes())
    state.set_question("Which digit is it?")
    labelling = LabellingPanel(state, WorkerPool())
    qtbot.addWidget(labelling)
    path = tmp_path / "s.journal.jsonl"
    labelling.set_journal(Journal(path, outcomes=labelling.session.journal_outcomes()))
    share = ShareController(state, labelling.session, labelling.answered, ScriptedDialogs(),
                            set_needed=labelling.per_image.setValue, on_screen=labelling.isVisible)
    _exp, batch = waiting_batch(state)
    url = share.start(1)                                           # k = 1: this person answers the batch
    window = ShareWindow(share)
    qtbot.addWidget(window)
    window.show()
    shown = []                                                     # what the window's tally showed, each time
    share.changed.connect(lambda: shown.append((list(window.tally_model.headers), list(window.tally_model.rows),
                                                window.agreement.text())))
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 390, "height": 844})
            page.goto(url)
            page.wait_for_selector("#image:not([hidden])")
            assert page.text_content("#question") == "Which digit is it?"
            buttons = page.locator("#outcomes button")
            assert buttons.count() == 10 and page.is_hidden("#yes") and page.is_hidden("#no")
            assert [buttons.nth(d).text_content() for d in range(10)] == [f"{d}{d}" for d in range(10)]
            assert [buttons.nth(d).locator("kbd").text_content() for d in range(10)] == [str(d) for d in range(10)]
            mine = 0
            for how, outcome in STEPS:
                sync_api.expect(page.locator("#count")).to_have_text(f"left: {10 - mine} · your answers: {mine}")
                if outcome == "undo":                      # the undo button is there even while the page waits
                    page.keyboard.press("Backspace")
                    mine -= 1
                    continue
                page.wait_for_selector("#outcomes button:not([disabled])")
                if how == "click":
                    page.click("#unknown" if outcome is None else f"#outcomes button:nth-child({outcome + 1})")
                else:
                    page.keyboard.press("?" if outcome is None else str(outcome))
                mine += 1
            page.wait_for_selector("#wait:not([hidden])")
            assert page.text_content("#count") == "left: 0 · your answers: 10"
            browser.close()
        qtbot.waitUntil(lambda: batch.answers is not None, timeout=10000)   # the consensus reached the app
        qtbot.waitUntil(lambda: any(len(rows) == 10 for _h, rows, _t in shown[1:]), timeout=10000)
    finally:
        records = read_journal(path).records
        share.stop()
    web = [r for r in records if r.annotator.startswith("web:")]
    assert [r.type for r in web] == ["answer"] * 3 + ["undo"] + ["answer"] * 8 + ["undo", "answer"]
    given = [None if r.value != r.value else int(r.value) for r in web if r.type == "answer"]
    assert given == [3, 7, None, 5, 0, 1, 2, 4, 6, 8, None, 9]
    assert web[3].target == web[2].id and web[4].index == web[2].index       # the undone image comes back
    final = {i: int(r.value) for (_b, i, _a), r in resolve(records).items()}
    assert sorted(final.values()) == list(range(10)) and sorted(final) == list(range(10))
    assert batch.answers.shape == (10, 10)
    assert np.array_equal(batch.answers, np.eye(10)[[final[i] for i in range(10)]])
    # the share window showed the outcome each image was given and the vote, by name, once all were in
    full = [(headers, rows) for headers, rows, _text in shown if len(rows) == 10 and all(r[2] for r in rows)]
    assert full and full[-1][0] == ["batch", "image", "answers", "?", "handed out", "vote"]
    assert {int(r[1]): (r[2], r[3], r[5]) for r in full[-1][1]} == {i: (f"{final[i]} 1", "0", str(final[i]))
                                                                   for i in range(10)}
    assert "10/10 images with 1 answers" in " ".join(text for _h, _r, text in shown)
    assert window.method.itemText(1) == "share of each outcome" and window.ties.isHidden()
