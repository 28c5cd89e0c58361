"""The share page's address (shown under the QR code) mixed l and I, 0 and O: a person typing it
from the projector got it wrong. Its token now uses letters and digits that cannot be mistaken
for one another, as strong as before (192 bits or more), and the server still takes it."""
from __future__ import annotations

import http.client
import json
import math
import re

from PySide6.QtCore import Qt

from viscause_gui.core.share import server as share_server

from .people import choose_in_menu

AMBIGUOUS = set("0Oo1lI")
BITS_BEFORE = 192                    # secrets.token_urlsafe(24)
DRAWS = 2_000


def test_tokens_have_no_look_alike_characters_and_as_many_bits(qtbot):
    tokens = [share_server.new_token() for _ in range(DRAWS)]
    seen = set("".join(tokens))
    assert not seen & AMBIGUOUS, sorted(seen & AMBIGUOUS)
    assert len(set(tokens)) == DRAWS
    assert len({len(t) for t in tokens}) == 1
    assert len(tokens[0]) * math.log2(len(share_server.TOKEN_ALPHABET)) >= BITS_BEFORE
    assert seen == set(share_server.TOKEN_ALPHABET)           # every symbol drawn: the bits are there
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", t) for t in tokens)   # what the join page accepts


def get(port: int, path: str, body: dict | None = None) -> tuple[int, dict | bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        if body is None:
            conn.request("GET", path)
        else:
            conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        r = conn.getresponse()
        data = r.read()
        return r.status, (json.loads(data) if body is not None and data else data)
    finally:
        conn.close()


def test_the_address_in_the_share_window_is_the_page_as_typed(qtbot, shown_window):
    window = shown_window
    choose_in_menu(qtbot, window, "Share", "Let others answer…")
    share_window = window.share_window
    qtbot.mouseClick(share_window.start_button, Qt.MouseButton.LeftButton)
    try:
        server = window.share.server
        address = re.search(r"<small>(\S+)</small>", share_window.address.text()).group(1)
        token = address.rstrip("/").rsplit("/", 1)[1]
        assert not set(token) & AMBIGUOUS and token == server.token
        path = address.split(f":{server.port}", 1)[1]
        assert get(server.port, path)[0] == 200                          # the page, typed from the screen
        status, hello = get(server.port, f"/j/{token}/api/hello", {"annotator": None, "device": None})
        assert status == 200 and hello["annotator"]
        status, joined = get(server.port, "/join", {"code": server.join_code})
        assert status == 200 and joined["token"] == token
        wrong = token[:-1] + ("a" if token[-1] != "a" else "b")
        assert get(server.port, f"/j/{wrong}/")[0] == 403
    finally:
        window.share.stop()
