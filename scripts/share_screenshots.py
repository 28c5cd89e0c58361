"""The README's two share screenshots: the share window with a class answering Algorithm 1's
GRATING batch, and the answer page on a phone (Debian's chromium through Playwright).

Run under a display (e.g. `Xvfb :58 &` then `DISPLAY=:58 python scripts/share_screenshots.py OUT`):
the window is grabbed with ImageMagick's `import -display $DISPLAY -window root`, as a person sees it.
"""
from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer

from viscause_gui.core.experiments.grating import GratingModel, has_hbar
from viscause_gui.gui.app import create_app
from viscause_gui.gui.main_window import MainWindow
from viscause_gui.gui.workers import configure_gui_threads, install_foreground_gate


def api(url: str, name: str, obj) -> dict:
    host, rest = url.split("//", 1)[1].split("/", 1)
    conn = http.client.HTTPConnection(host, timeout=10)
    conn.request("POST", f"/{rest}api/{name}", json.dumps(obj), {"Content-Type": "application/json"})
    data = json.loads(conn.getresponse().read() or b"{}")
    conn.close()
    return data


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    out.mkdir(parents=True, exist_ok=True)
    configure_gui_threads()
    app = create_app()
    install_foreground_gate(app)
    home = tempfile.mkdtemp()
    window = MainWindow(settings=QSettings(str(Path(home) / "v.ini"), QSettings.Format.IniFormat),
                        load_default=False)
    window.show_message = lambda *a: None
    window.state.set_dataset(GratingModel().sample(1000, 0))
    learning = window.panels["learning"]
    learning.oracle_combo.setCurrentIndex(learning.oracle_combo.findData("human"))
    window.state.set_question("Is there a horizontal bar?")
    window.resize(1280, 800)
    window.show()

    def asked(why: str) -> None:
        if why != "human" or window.share.server is not None:
            return
        window.actions["share"].trigger()
        sw = window.share_window
        sw.k.setValue(5)
        sw.start_button.click()
        url = window.share.server.page_url
        batch = window.state.queue.waiting()[0]
        for person in range(7):                       # a class at work: some answered, some wrong
            me = api(url, "hello", {"annotator": None})["annotator"]
            for step in range(9 - person):
                item = api(url, "next", {"annotator": me})
                if item.get("wait"):
                    break
                truth = has_hbar(batch.images[item["index"]])
                wrong = (person * 7 + step) % 9 == 0
                api(url, "answer", {"annotator": me, "batch": item["batch"], "index": item["index"],
                                    "answer": "?" if person == 5 and step == 2 else
                                    ("yes" if truth != wrong else "no")})
        sw.resize(1180, 740)
        sw.move(50, 30)
        sw.raise_()
        QTimer.singleShot(1500, lambda: shoot(url))

    def shoot(url: str) -> None:
        display = os.environ.get("DISPLAY", ":0")
        subprocess.run(["import", "-display", display, "-window", "root", str(out / "share_window_full.png")],
                       check=True)
        g = window.share_window.geometry()                 # the share window alone
        subprocess.run(["convert", str(out / "share_window_full.png"), "-crop",
                        f"{g.width()}x{g.height()}+{g.x()}+{g.y()}", "+repage", str(out / "share_window.png")],
                       check=True)
        (out / "share_window_full.png").unlink()
        subprocess.run([sys.executable, "-c", PAGE, url, str(out / "share_page.png")], check=True)
        window.share.stop()
        app.quit()

    learning.run_finished.connect(asked)
    learning.buttons["step"].click()
    app.exec()


PAGE = r'''
import sys
from playwright.sync_api import sync_playwright
with sync_playwright() as p:
    b = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"])
    page = b.new_page(viewport={"width": 390, "height": 760}, device_scale_factor=2)
    page.goto(sys.argv[1])
    page.wait_for_selector("#image:not([hidden])")
    page.click("#yes")
    page.wait_for_selector("#image:not([hidden])")
    page.screenshot(path=sys.argv[2])
    b.close()
'''

if __name__ == "__main__":
    main()
