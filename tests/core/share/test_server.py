"""Issue 15: the share's web server on 127.0.0.1: the page, the API, and bad input refused with a
4xx and nothing written (fuzzed with hypothesis: wrong tokens, huge bodies, wrong types,
unknown image ids, replayed answers, and, issue 21, Host headers naming another server).
Stopping joins the server's thread."""
from __future__ import annotations

import http.client
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from viscause_gui.core.share.hub import ShareHub
from viscause_gui.core.share.server import Limits, ShareServer
from viscause_gui.core.store.journal import Journal, read_journal

KEY = "algorithm1:0"


class Client:
    def __init__(self, server: ShareServer):
        self.server = server

    def request(self, method: str, path: str, body: bytes | None = None, content_type="application/json",
                headers: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        try:
            h = {"Content-Type": content_type} if body is not None else {}
            h.update(headers or {})
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            data = r.read()
            return r.status, data, dict(r.getheaders())
        finally:
            conn.close()

    def api(self, name: str, obj, token: str | None = None):
        token = self.server.token if token is None else token
        status, data, _ = self.request("POST", f"/j/{token}/api/{name}", json.dumps(obj).encode())
        return status, json.loads(data) if data else {}


@pytest.fixture(scope="module")
def share(tmp_path_factory):
    path = tmp_path_factory.mktemp("share") / "s.journal.jsonl"
    journal = Journal(path, "sid")
    hub = ShareHub(lambda: journal, lambda: journal.records, k=50, question="Is there a bar?")
    hub.set_batches([(KEY, np.random.default_rng(0).random((6, 8, 8)).astype(np.float32))])
    server = ShareServer(hub, limits=Limits(ip_rate=10_000, ip_burst=10_000, annotator_rate=10_000,
                                            annotator_burst=10_000, new_annotator_rate=10_000,
                                            new_annotator_burst=10_000))
    server.start()
    yield server, hub, journal, path
    server.stop()
    journal.close()


def test_page_api_and_headers(share):
    server, _hub, journal, path = share
    c = Client(server)
    status, page, headers = c.request("GET", f"/j/{server.token}/")
    assert status == 200 and b"page.js" in page
    assert "default-src 'none'" in headers["Content-Security-Policy"] and headers["Referrer-Policy"] == "no-referrer"
    assert c.request("GET", f"/j/{server.token}/page.js")[0] == 200
    assert c.request("GET", "/")[0] == 200 and c.request("GET", "/join.js")[0] == 200
    status, hello = c.api("hello", {"annotator": None, "device": None})
    assert status == 200 and hello["question"] == "Is there a bar?" and hello["k"] == 50
    status, item = c.api("next", {"annotator": hello["annotator"]})
    assert status == 200 and item["image"].startswith("data:image/png;base64,") and item["left"] == 6
    before = len(journal.records)
    status, ok = c.api("answer", {"annotator": hello["annotator"], "batch": item["batch"], "index": item["index"],
                                  "answer": "yes"})
    assert status == 200
    on_disk = read_journal(path).records                         # acknowledged = on disk
    assert len(on_disk) == before + 1 and on_disk[-1].id == ok["id"] and on_disk[-1].value == 1.0
    assert on_disk[-1].annotator == "web:" + hello["name"]
    assert c.api("undo", {"annotator": hello["annotator"]})[0] == 200
    status, token = c.request("POST", "/join", json.dumps({"code": server.join_code.lower()}).encode())[:2]
    assert status == 200 and json.loads(token)["token"] == server.token


def _paths(server):
    return [f"/j/{server.token}/api/{n}" for n in ("hello", "next", "answer", "undo")]


json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
json_values = st.recursive(json_scalars,
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                         max_size=4), max_leaves=8)


@pytest.mark.slow
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_requests_are_refused_and_write_nothing(share, data):
    server, _hub, _journal, path = share
    c = Client(server)
    status, hello = c.api("hello", {"annotator": None, "device": None})
    me = hello["annotator"]
    status, item = c.api("next", {"annotator": me})
    assert status == 200 and not item["wait"]                  # k = 50: every new annotator gets one
    answered = {"annotator": me, "batch": item["batch"], "index": item["index"], "answer": "no"}
    assert c.api("answer", answered)[0] == 200                 # then replay it below
    before = path.stat().st_size
    kind = data.draw(st.sampled_from(["token", "huge", "fields", "types", "image", "replay", "junk", "method",
                                      "host"]))
    if kind == "host":                                          # issue 21: DNS rebinding
        host = data.draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-:[]", min_size=1, max_size=40))
        if host.lower() in (f"127.0.0.1:{server.port}", f"localhost:{server.port}", f"[::1]:{server.port}"):
            host = "evil.example"
        status = c.request("POST", f"/j/{server.token}/api/answer", json.dumps({**answered, "index": 0}).encode(),
                           headers={"Host": host})[0]
        expect = {421}
    elif kind == "token":
        token = data.draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=0, max_size=40))
        status, _, _ = c.request("POST", f"/j/{token}/api/answer", json.dumps(answered).encode())
        expect = {403, 404}
    elif kind == "huge":
        size = data.draw(st.integers(3000, 3_000_000))
        body = json.dumps({**answered, "answer": "y" * size}).encode()
        status = c.request("POST", f"/j/{server.token}/api/answer", body)[0]
        expect = {413}
    elif kind == "fields":
        obj = data.draw(st.dictionaries(st.sampled_from(["annotator", "batch", "index", "answer", "extra", "x"]),
                                        json_values, max_size=6))
        status = c.api("answer", {**obj} if set(obj) != set(answered) else {**obj, "extra": 1})[0]
        expect = {400}
    elif kind == "types":
        field = data.draw(st.sampled_from(["annotator", "batch", "index", "answer"]))
        value = data.draw(json_values.filter(lambda v: v != answered[field]))
        status = c.api("answer", {**answered, field: value, "index": answered["index"] + 1000}
                       if field != "index" else {**answered, field: value})[0]
        expect = set(range(400, 500))
    elif kind == "image":
        index = data.draw(st.integers(-5, 10**7).filter(lambda i: i != item["index"]))
        batch = data.draw(st.sampled_from([KEY, "algorithm2:3", "data", "../../etc/passwd"]))
        status = c.api("answer", {**answered, "batch": batch, "index": index, "answer": "yes"})[0]
        expect = set(range(400, 500))
    elif kind == "replay":
        status = c.api("answer", answered)[0]
        expect = {409}
    elif kind == "junk":
        raw = data.draw(st.binary(max_size=1500))
        ctype = data.draw(st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded"]))
        status = c.request("POST", data.draw(st.sampled_from(_paths(server))), raw, content_type=ctype)[0]
        expect = set(range(400, 500))
    else:
        path_ = data.draw(st.sampled_from(["/etc/passwd", f"/j/{server.token}/../../pyproject.toml",
                                           f"/j/{server.token}/static/page.js", "/j/x/", "/api/answer",
                                           f"/j/{server.token}/api/answer"]))
        status = c.request(data.draw(st.sampled_from(["GET", "PUT", "DELETE"])), path_)[0]
        expect = set(range(400, 500))
    assert status in expect, (kind, status)
    assert path.stat().st_size == before                       # nothing written


def test_limits_answer_429_and_stop_joins_the_thread(tmp_path):
    journal = Journal(tmp_path / "t.journal.jsonl", "sid")
    hub = ShareHub(lambda: journal, lambda: journal.records, k=1)
    server = ShareServer(hub, limits=Limits(ip_rate=1, ip_burst=5, join_tries_per_minute=2))
    server.start()
    c = Client(server)
    codes = [c.request("GET", "/")[0] for _ in range(8)]
    assert codes[:5] == [200] * 5 and 429 in codes[5:]
    thread = server._thread
    server.stop()
    assert not server.running and not thread.is_alive()          # stopped and joined
    with pytest.raises(OSError):
        c.request("GET", "/")
    journal.close()


def test_wrong_join_codes_are_limited(tmp_path):
    journal = Journal(tmp_path / "j.journal.jsonl", "sid")
    server = ShareServer(ShareHub(lambda: journal, lambda: journal.records), limits=Limits(join_tries_per_minute=3))
    server.start()
    c = Client(server)
    codes = [c.request("POST", "/join", json.dumps({"code": "WRONG1"}).encode())[0] for _ in range(5)]
    assert codes[:3] == [403] * 3 and codes[3:] == [429, 429]
    assert c.request("POST", "/join", json.dumps({"code": server.join_code}).encode())[0] == 429  # even right
    server.stop()
    journal.close()


def test_digit_answers(tmp_path):
    """A digit behaviour (T = 1 for 7): the page's digit buttons send the digit; the journal
    keeps it as the label and the value says whether it is the 7."""
    journal = Journal(tmp_path / "d.journal.jsonl", "sid")
    hub = ShareHub(lambda: journal, lambda: journal.records, k=1, positive_digit=7)
    hub.set_batches([(KEY, np.random.default_rng(2).random((3, 8, 8)).astype(np.float32))])
    server = ShareServer(hub)
    server.start()
    c = Client(server)
    hello = c.api("hello", {"annotator": None, "device": None})[1]
    assert hello["digits"] is True
    me = hello["annotator"]
    for answer in (7, 3, "yes"):
        item = c.api("next", {"annotator": me})[1]
        assert c.api("answer", {"annotator": me, "batch": KEY, "index": item["index"], "answer": answer})[0] == 200
    assert [(r.value, r.label) for r in journal.records] == [(1.0, 7), (0.0, 3), (1.0, "y")]
    hub.positive_digit = None                                    # a yes/no behaviour takes no digits
    assert c.api("answer", {"annotator": me, "batch": KEY, "index": 0, "answer": 1})[0] == 400
    server.stop()
    journal.close()
