"""The share's web server: aiohttp in a worker thread, serving the page and its small JSON API.

Routes (everything but the join page carries the join token in the path):

| route | what |
|---|---|
| ``GET /`` | the join page (``join.js``, ``page.css``): type the short join code (rate limited) |
| ``POST /join`` ``{"code"}`` | the join token for a right code (403 otherwise) |
| ``GET /j/<token>/`` | the answer page (``page.js``, ``page.css`` beside it) |
| ``POST /j/<token>/api/hello`` ``{"annotator": secret or null}`` | who you are (a new random id, or the same after a reload), the question, k |
| ``POST /j/<token>/api/next`` ``{"annotator"}`` | the image to answer (base64 PNG) or a wait, and counts |
| ``POST /j/<token>/api/answer`` ``{"annotator", "batch", "index", "answer"}`` | journalled (fsync) before the 200 |
| ``POST /j/<token>/api/undo`` ``{"annotator"}`` | undo your last answer |

Security: the token (``secrets.token_urlsafe(24)``, new per share) is compared in constant
time; a wrong or missing one is 403. Bodies over `max_body` bytes are 413; every field is
checked (types, exact key sets; unknown keys are refused) and refused with 400; per client
address and per annotator token buckets answer 429; join codes: 10 wrong tries a minute per
address, and the code stops working after 1,000 wrong tries. Nothing is read from disk
after start (the page is held in memory), nothing a client sends is echoed (messages are
fixed strings), and every response carries a strict Content-Security-Policy, ``no-store``
and ``no-referrer`` (the token is in the path). `stop` closes the server and joins its thread.
"""
from __future__ import annotations

import asyncio
import base64
import hmac
import ipaddress
import json
import math
import secrets
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from typing import Any, Awaitable, Callable

from aiohttp import web

from viscause_gui.core.share.hub import ShareHub, ShareRefused

STATIC = {"page.js": "application/javascript", "page.css": "text/css", "index.html": "text/html",
          "join.html": "text/html", "join.js": "application/javascript"}
JOIN_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"     # no 0/O, 1/I
JOIN_LENGTH = 6
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}


@dataclass
class Limits:
    """Request limits. Per address: `ip_rate` requests a second (bursts of `ip_burst`); per
    annotator: `annotator_rate` (`annotator_burst`); bodies up to `max_body` bytes."""

    max_body: int = 2048
    ip_rate: float = 300.0
    ip_burst: float = 600.0
    annotator_rate: float = 20.0
    annotator_burst: float = 40.0
    join_tries_per_minute: int = 10
    join_failures_total: int = 1000


class _Buckets:
    """Token buckets by key (an address or an annotator)."""

    def __init__(self, rate: float, burst: float, max_keys: int = 10_000):
        self.rate, self.burst, self.max_keys = rate, burst, max_keys
        self._state: dict[str, tuple[float, float]] = {}

    def allow(self, key: str, now: float) -> bool:
        tokens, last = self._state.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._state[key] = (tokens, now)
            return False
        if len(self._state) >= self.max_keys and key not in self._state:
            self._state.clear()                      # a flood of addresses: start over, never grow
        self._state[key] = (tokens - 1.0, now)
        return True


def _static_files() -> dict[str, bytes]:
    root = resources.files("viscause_gui.core.share") / "static"
    return {name: (root / name).read_bytes() for name in STATIC}


def lan_address() -> str:
    """This machine's address on the local network (no packet is sent), or 127.0.0.1."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("10.254.254.254", 1))
        address = s.getsockname()[0]
    except OSError:
        address = "127.0.0.1"
    finally:
        s.close()
    return address


class ShareServer:
    """The web server of one share. `start` binds (OSError when it cannot) and returns the URL."""

    def __init__(self, hub: ShareHub, host: str = "127.0.0.1", port: int = 0, limits: Limits | None = None):
        ipaddress.ip_address(host)                          # a literal address only
        self.hub, self.host, self.port = hub, host, int(port)
        self.limits = limits or Limits()
        self.token = secrets.token_urlsafe(24)
        self.join_code = "".join(secrets.choice(JOIN_ALPHABET) for _ in range(JOIN_LENGTH))
        self._files = _static_files()
        self._ip_buckets = _Buckets(self.limits.ip_rate, self.limits.ip_burst)
        self._annotator_buckets = _Buckets(self.limits.annotator_rate, self.limits.annotator_burst)
        self._join_buckets = _Buckets(self.limits.join_tries_per_minute / 60.0, self.limits.join_tries_per_minute)
        self._join_failures = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="share-hub")  # the hub is serial anyway
        self._started = threading.Event()
        self._error: BaseException | None = None
        self.requests = 0
        self.refused = 0

    # ----- addresses -----
    @property
    def shown_host(self) -> str:
        return lan_address() if self.host in ("0.0.0.0", "::") else self.host

    @property
    def base_url(self) -> str:
        return f"http://{self.shown_host}:{self.port}/"

    @property
    def page_url(self) -> str:
        return f"{self.base_url}j/{self.token}/"

    # ----- start / stop -----
    def start(self, timeout: float = 10.0) -> str:
        self._thread = threading.Thread(target=self._run, name="share-server", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout):
            raise OSError("the share server did not start in time")
        if self._error is not None:
            self._thread.join(2)
            error, self._error = self._error, None
            raise error if isinstance(error, OSError) else OSError(str(error))
        return self.page_url

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:             # noqa: BLE001 - reported to start()
            self._error = exc
            self._started.set()
            return
        self._started.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

    async def _serve(self) -> None:
        app = web.Application(client_max_size=self.limits.max_body, middlewares=[self._guard])
        app.router.add_get("/", self._join_page)
        app.router.add_get("/{name:join\\.js|page\\.css}", self._asset)
        app.router.add_post("/join", self._join)
        app.router.add_get("/j/{token}/", self._page)
        app.router.add_get("/j/{token}/{name:page\\.js|page\\.css}", self._asset)
        for name in ("hello", "next", "answer", "undo"):
            app.router.add_post(f"/j/{{token}}/api/{name}", getattr(self, f"_api_{name}"))
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        sockets = site._server.sockets if site._server is not None else []   # noqa: SLF001 - the bound port
        if sockets and self.port == 0:
            self.port = sockets[0].getsockname()[1]

    def stop(self, timeout: float = 5.0) -> None:
        """Close the server and join its thread (answers being written finish first)."""
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
        self._executor.shutdown(wait=True)
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ----- the guard: limits, token, headers -----
    @web.middleware
    async def _guard(self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                     ) -> web.StreamResponse:
        self.requests += 1
        try:
            now = time.monotonic()
            peer = request.remote or "?"
            if not self._ip_buckets.allow(peer, now):
                raise _Refusal(429, "too many requests")
            length = request.content_length
            if length is not None and length > self.limits.max_body:
                raise _Refusal(413, "request too large")
            token = request.match_info.get("token")
            if request.path.startswith("/j/") and (token is None or not hmac.compare_digest(
                    token.encode("utf-8", "replace"), self.token.encode())):
                raise _Refusal(403, "wrong or missing join token")
            response = await handler(request)
        except _Refusal as exc:
            self.refused += 1
            response = _error(exc.status, exc.message)
        except ShareRefused as exc:
            self.refused += 1
            response = _error(exc.status, exc.message)
        except web.HTTPException as exc:               # 404, 405, 413 from aiohttp itself
            self.refused += 1
            response = _error(exc.status, exc.reason or "refused")
        response.headers.update(SECURITY_HEADERS)
        return response

    # ----- pages -----
    async def _join_page(self, request: web.Request) -> web.Response:
        return self._file("join.html")

    async def _page(self, request: web.Request) -> web.Response:
        return self._file("index.html")

    async def _asset(self, request: web.Request) -> web.Response:
        return self._file(request.match_info["name"])

    def _file(self, name: str) -> web.Response:
        return web.Response(body=self._files[name], content_type=STATIC[name], charset="utf-8")

    async def _join(self, request: web.Request) -> web.Response:
        body = await _json(request, {"code"})
        code = body["code"]
        if not isinstance(code, str) or len(code) > 32:
            raise _Refusal(400, "bad join code")
        if not self._join_buckets.allow(request.remote or "?", time.monotonic()):
            raise _Refusal(429, "too many tries; wait a minute")
        if self._join_failures >= self.limits.join_failures_total:
            raise _Refusal(403, "the join code is disabled; scan the QR code")
        if not hmac.compare_digest(code.strip().upper().encode("utf-8", "replace"), self.join_code.encode()):
            self._join_failures += 1
            raise _Refusal(403, "wrong join code")
        return web.json_response({"token": self.token})

    # ----- the API -----
    def _annotator_allowed(self, secret: Any) -> str:
        if not isinstance(secret, str) or len(secret) != 32 or any(c not in "0123456789abcdef" for c in secret):
            raise _Refusal(400, "bad annotator")
        if not self._annotator_buckets.allow(secret, time.monotonic()):
            raise _Refusal(429, "too many requests")
        return secret

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run hub work (it may fsync) off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _api_hello(self, request: web.Request) -> web.Response:
        body = await _json(request, {"annotator"})
        secret = body["annotator"]
        if secret is not None:
            secret = self._annotator_allowed(secret)
        a = await self._call(self.hub.join, secret)
        hub = self.hub
        return web.json_response({"annotator": a.secret, "name": a.public, "question": hub.question,
                                  "digits": hub.positive_digit is not None, "k": hub.k})

    async def _api_next(self, request: web.Request) -> web.Response:
        body = await _json(request, {"annotator"})
        item = await self._call(self.hub.next_image, self._annotator_allowed(body["annotator"]))
        if not item.get("wait"):
            item["image"] = "data:image/png;base64," + base64.b64encode(item.pop("png")).decode("ascii")
        return web.json_response(item)

    async def _api_answer(self, request: web.Request) -> web.Response:
        body = await _json(request, {"annotator", "batch", "index", "answer"})
        secret = self._annotator_allowed(body["annotator"])
        batch, index, given = body["batch"], body["index"], body["answer"]
        if not isinstance(batch, str) or not 0 < len(batch) <= 64:
            raise _Refusal(400, "bad batch")
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < 1_000_000:
            raise _Refusal(400, "bad image index")
        value, label = self._value(given)
        record = await self._call(self.hub.answer, secret, batch, index, value, label)
        return web.json_response({"ok": True, "id": record.id})

    def _value(self, given: Any) -> tuple[float, int | str]:
        if given in ("yes", "no", "?") and isinstance(given, str):
            return {"yes": 1.0, "no": 0.0, "?": math.nan}[given], {"yes": "y", "no": "n", "?": "?"}[given]
        digit = self.hub.positive_digit
        if digit is not None and isinstance(given, int) and not isinstance(given, bool) and 0 <= given <= 9:
            return (1.0 if given == digit else 0.0), given
        raise _Refusal(400, "bad answer")

    async def _api_undo(self, request: web.Request) -> web.Response:
        body = await _json(request, {"annotator"})
        record = await self._call(self.hub.undo, self._annotator_allowed(body["annotator"]))
        return web.json_response({"ok": True, "undone": record.target})


class _Refusal(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _json(request: web.Request, keys: set[str]) -> dict[str, Any]:
    """The body as a JSON object with exactly `keys` (400 otherwise; 413 when too large)."""
    if request.content_type != "application/json":
        raise _Refusal(415, "send application/json")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise _Refusal(413, "request too large") from None
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise _Refusal(400, "the body is not JSON") from None
    if not isinstance(body, dict) or set(body) != keys:
        raise _Refusal(400, "unexpected fields")
    return body


def _no_constant(name: str) -> Any:
    raise ValueError(name)
