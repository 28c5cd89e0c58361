"""Issue 15, the real browser: headless Chromium (Debian's `chromium`, driven by Playwright with the
system browser) opens the share page, answers a batch with the buttons and the keyboard, undoes
one answer, answers it again, and the app's journal and tally show exactly those answers.
Skipped, with the reason, where Playwright or a Chromium is not installed (`.ci/run` installs both)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from viscause_gui.core.method.experiment import QueryBatch
from viscause_gui.core.store.journal import read_journal
from viscause_gui.core.store.session import journal_path
from viscause_gui.core.store.votes import resolve
from viscause_gui.gui.main_window import MainWindow

CHROMIUM = next((p for p in (os.environ.get("VISCAUSE_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser",
                             shutil.which("chromium") or "") if p and Path(p).exists()), None)
sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="no Chromium at /usr/bin/chromium "
                                 "(apt-get install chromium; .ci/run installs it)")]


def test_a_browser_answers_a_batch_and_undoes_one(qtbot, settings, tmp_path):
    window = MainWindow(settings=settings, load_default=False)
    window.show_message = lambda *a: None
    qtbot.addWidget(window)
    from viscause_gui.core.experiments.grating import GratingModel

    window.state.set_dataset(GratingModel().sample(50, 0))
    window.state.set_question("Is there a horizontal bar?")
    images = (np.random.default_rng(3).random((4, 10, 10)) > 0.5).astype(np.float32)
    window.state.queue.add(QueryBatch("manual", 1, images, np.arange(4)))
    share = window.share
    url = share.start(2)                                 # k = 2: one person leaves the batch open
    shots = os.environ.get("VISCAUSE_SHARE_SHOTS")       # scripts/share_screenshots.py sets it
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
            page.goto(url)
            page.wait_for_selector("#image:not([hidden])")
            assert page.text_content("#question") == "Is there a horizontal bar?"
            assert page.text_content("#count") == "left: 4 · your answers: 0"
            if shots:
                page.screenshot(path=str(Path(shots) / "share_page.png"))
            given = []
            for n, how in enumerate(["click yes", "key n", "click ?", "click no"]):
                sync_api.expect(page.locator("#count")).to_have_text(f"left: 4 · your answers: {n}")
                page.wait_for_selector("#yes:not([disabled])")
                if how == "key n":
                    page.keyboard.press("n")
                else:
                    page.click({"click yes": "#yes", "click ?": "#unknown", "click no": "#no"}[how])
                given.append(how)
            page.wait_for_selector("#wait:not([hidden])")              # nothing left for this person
            assert page.text_content("#count") == "left: 4 · your answers: 4"
            page.click("#undo")                                          # the last answer ("no") comes back
            page.wait_for_selector("#image:not([hidden])")
            assert page.text_content("#count") == "left: 4 · your answers: 3"
            page.reload()                                                # a reloaded phone goes on
            page.wait_for_selector("#image:not([hidden])")
            assert page.text_content("#count") == "left: 4 · your answers: 3"
            page.click("#yes")
            page.wait_for_selector("#wait:not([hidden])")
            browser.close()
    finally:
        qtbot.wait(300)                                                 # the coalesced refresh
        records = read_journal(journal_path(window.session.files.session_file())).records
        tally = share.tally()
        share.stop()
    web = [r for r in records if r.annotator.startswith("web:")]
    assert [r.type for r in web] == ["answer"] * 4 + ["undo", "answer"]
    assert len({r.annotator for r in web}) == 1                       # one person, one id
    values = [None if r.value != r.value else r.value for r in web if r.type == "answer"]
    assert values == [1.0, 0.0, None, 0.0, 1.0]
    assert web[4].target == web[3].id and web[5].index == web[3].index
    final = resolve(records)
    assert sorted((k[1], r.value if r.value == r.value else None) for k, r in final.items()) == sorted(
        (r.index, v) for r, v in zip([web[0], web[1], web[2], web[5]], [1.0, 0.0, None, 1.0]))
    rows = tally.batches[0]["rows"]
    assert [(r["yes"], r["no"], r["unknown"]) for r in rows] == [
        (int(v == 1.0), int(v == 0.0), int(v is None)) for v in
        [dict((r.index, None if r.value != r.value else r.value) for r in (web[0], web[1], web[2], web[5]))[i]
         for i in range(4)]]
    assert tally.overall.answers == 4 and labelled(window) == 4


def labelled(window) -> int:
    """Answers the Oracle (label) panel counts for the queued batch."""
    labelling = window.panels["labelling"]
    batch = window.state.queue.waiting()[0]
    return int(labelling.batch_state(batch)[2].sum())


@pytest.mark.slow
def test_a_phone_keeps_its_annotator_by_its_device_and_waits_out_a_busy_join(qtbot, settings, tmp_path):
    """Issue 21: the page sends a device id kept in the browser, so a page whose secret was
    lost (storage of this share cleared) is still the same person; and a phone that arrives
    while new annotators are paced (429 with a Retry-After) says so, waits and gets in."""
    from viscause_gui.core.experiments.grating import GratingModel
    from viscause_gui.core.share.server import Limits

    window = MainWindow(settings=settings, load_default=False)
    window.show_message = lambda *a: None
    qtbot.addWidget(window)
    window.state.set_dataset(GratingModel().sample(50, 0))
    images = (np.random.default_rng(4).random((4, 10, 10)) > 0.5).astype(np.float32)
    window.state.queue.add(QueryBatch("manual", 1, images, np.arange(4)))
    share = window.share
    share.limits = Limits(new_annotator_burst=1, new_annotator_rate=0.5)      # one now, the next in 2 s
    url = share.start(2)
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            first = browser.new_context().new_page()
            first.goto(url)
            first.wait_for_selector("#image:not([hidden])")
            name = first.text_content("#name")
            first.evaluate("() => { for (const k of Object.keys(localStorage)) "
                           "{ if (k.startsWith('viscause-annotator-')) localStorage.removeItem(k); } }")
            first.reload()                                             # the secret is gone, the device is not
            first.wait_for_selector("#image:not([hidden])")
            assert first.text_content("#name") == name
            second = browser.new_context().new_page()                  # another phone: another device
            second.goto(url)
            sync_api.expect(second.locator("#status")).to_contain_text("Trying again in", timeout=5000)
            second.wait_for_selector("#image:not([hidden])", timeout=15000)
            assert second.text_content("#name") not in (name, "…")
            browser.close()
    finally:
        share.stop()
    assert share.hub.annotators() == 2


@pytest.mark.slow
def test_the_join_page_waits_out_a_lockout_of_its_address(qtbot, settings):
    """Issue 21: wrong codes hold up only their own address, for a while; a student behind that
    address who types the right code sees the wait and gets in by themselves."""
    from viscause_gui.core.share.server import Limits

    window = MainWindow(settings=settings, load_default=False)
    window.show_message = lambda *a: None
    qtbot.addWidget(window)
    share = window.share
    share.limits = Limits(join_tries_per_minute=6)   # 6 wrong tries, then one each 10 s: a slow machine's
                                                     # seconds of typing do not end the wait before the click
    share.start(2)
    server = share.server
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            page = browser.new_page()
            page.goto(server.base_url)
            for _ in range(7):                                # a classmate guessing from the same address
                page.evaluate("() => fetch('/join', {method: 'POST', headers: {'Content-Type': "
                              "'application/json'}, body: JSON.stringify({code: 'WRONG1'})})")
            page.fill("#code", server.join_code.lower())
            page.click("button[type=submit]")
            sync_api.expect(page.locator("#status")).to_contain_text("Trying again in", timeout=5000)
            page.wait_for_url(f"**/j/{server.token}/", timeout=25000)
            page.wait_for_selector("#name:not(:text('…'))", timeout=10000)
            browser.close()
    finally:
        share.stop()
