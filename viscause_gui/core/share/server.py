"""The share's web server: aiohttp in a worker thread, serving the page and its small JSON API.

Routes (everything but the join page carries the join token in the path):

| route | what |
|---|---|
| ``GET /`` | the join page (``join.js``, ``page.css``): type the short join code (rate limited) |
| ``POST /join`` ``{"code"}`` | the join token for a right code (403 otherwise) |
| ``GET /j/<token>/`` | the answer page (``page.js``, ``page.css`` beside it) |
| ``POST /j/<token>/api/hello`` ``{"annotator", "device"}`` | who you are (below); the question, k |
| ``POST /j/<token>/api/next`` ``{"annotator"}`` | the image to answer (base64 PNG) or a wait, and counts |
| ``POST /j/<token>/api/answer`` ``{"annotator", "batch", "index", "answer"}`` | journalled (fsync) before the 200 |
| ``POST /j/<token>/api/undo`` ``{"annotator"}`` | undo your last answer |

Who you are, as ``hello`` says it: the annotator of this secret or device (a reload), or a new random id.
An ``answer`` is "yes", "no" or "?" (or a digit 0-9 where T = 1 for one digit); over K > 2 outcomes the
outcome's index or "?", and ``hello`` names the outcomes and their keys (``outcomes``: name, key).

Security: the token (`new_token`: 39 characters that cannot be mistaken for one another, 195 bits
from `secrets`, new per share) is compared in constant time; a wrong or missing one is 403. The
``Host`` header must name this server: localhost, 127.0.0.1, [::1], the address served (with "on
this network": the address shown and the one the connection came to) and this port; any other is
421 (a page on another site whose name was pointed at this machine, DNS rebinding, is refused).
Bodies over `max_body` bytes are 413; every field is checked (types, exact key sets; unknown keys
are refused) and refused with 400; per client address (an IPv6 address counts by its /64) and per
annotator token buckets answer 429. New annotators (a hello from a device the share does not know)
are paced per address and overall (429 with a Retry-After, which the page waits out: a class joining at once is slowed,
never turned away). Join codes: only wrong tries count, 10 a minute per address (a class behind
one school address typing the right code is never held up); once wrong tries from everywhere
pass 100 a minute, each wrong try costs an address five, so guessing slows down while a right
code from an address that has not been guessing still works at once; the code is never switched
off. Malformed HTTP is answered 400 by aiohttp (plain text naming what it could not parse) and
logged as one line, at most one a minute, never a traceback. Nothing is read from disk after
start (the page is held in memory), nothing a client sends is echoed by our handlers (messages
are fixed strings), and every response they give carries a strict Content-Security-Policy,
``no-store`` and ``no-referrer`` (the token is in the path). `stop` closes the server and joins
its thread.
"""
from __future__ import annotations

import asyncio
import base64
import hmac
import ipaddress
import json
import logging
import math
import secrets
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from typing import Any, cast

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from viscause_gui.core.data.outcome_keys import outcome_keys
from viscause_gui.core.share.hub import ShareHub, ShareRefused
from viscause_gui.core.system.foreground import yield_to_foreground

log = logging.getLogger("viscause_gui.share")

STATIC = {"page.js": "application/javascript", "page.css": "text/css", "index.html": "text/html",
          "join.html": "text/html", "join.js": "application/javascript"}
JOIN_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"     # no 0/O, 1/I
JOIN_LENGTH = 6
# The join token is read off a projector and typed: lower case only (no shift on a phone) and no
# 0/o, 1/l (nor O, I): 32 symbols, 5 bits each; 39 of them are 195 bits (token_urlsafe(24) had 192).
TOKEN_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
TOKEN_BITS = 192
TOKEN_LENGTH = math.ceil(TOKEN_BITS / math.log2(len(TOKEN_ALPHABET)))
LOCAL_NAMES = {"localhost", "127.0.0.1", "::1"}
WILDCARDS = ("0.0.0.0", "::")
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
    annotator: `annotator_rate` (`annotator_burst`); bodies up to `max_body` bytes. New
    annotators: `new_annotator_rate` a second per address (bursts of `new_annotator_burst`)
    and `new_annotators_rate` overall (`new_annotators_burst`). Join codes: `join_tries_per_minute`
    wrong tries per address; beyond `join_failures_per_minute` wrong tries from everywhere, a
    wrong try costs an address `join_pressure_cost` tries."""

    max_body: int = 2048
    ip_rate: float = 300.0
    ip_burst: float = 600.0
    annotator_rate: float = 20.0
    annotator_burst: float = 40.0
    new_annotator_rate: float = 1.0
    new_annotator_burst: float = 10.0
    new_annotators_rate: float = 10.0
    new_annotators_burst: float = 120.0
    join_tries_per_minute: int = 10
    join_failures_per_minute: int = 100
    join_pressure_cost: float = 5.0


class _Buckets:
    """Token buckets by key (an address or an annotator). A take may leave a bucket below
    zero (a longer wait). Never more than `max_keys` keys: full buckets (no different from a
    key never seen) go first, then the longest unused."""

    def __init__(self, rate: float, burst: float, max_keys: int = 10_000):
        self.rate, self.burst, self.max_keys = rate, burst, max_keys
        self._state: dict[str, tuple[float, float]] = {}

    def _tokens(self, key: str, now: float) -> float:
        tokens, last = self._state.get(key, (self.burst, now))
        return min(self.burst, tokens + max(0.0, now - last) * self.rate)

    def wait(self, key: str, now: float, cost: float = 1.0) -> float:
        """Seconds until `key` has `cost` tokens (0: now)."""
        missing = cost - self._tokens(key, now)
        return 0.0 if missing <= 0 else missing / self.rate

    def take(self, key: str, now: float, cost: float = 1.0) -> None:
        tokens = self._tokens(key, now)
        if key not in self._state and len(self._state) >= self.max_keys:
            self._shrink(now)
        self._state[key] = (tokens - cost, now)

    def allow(self, key: str, now: float) -> bool:
        """Take one token if there is one."""
        if self.wait(key, now) > 0:
            return False
        self.take(key, now)
        return True

    def _shrink(self, now: float) -> None:
        self._state = {k: v for k, v in self._state.items() if self._tokens(k, now) < self.burst}
        if len(self._state) >= self.max_keys:                 # a flood of busy keys: keep the recent half
            recent = sorted(self._state.items(), key=lambda kv: kv[1][1])[len(self._state) // 2:]
            self._state = dict(recent)


def address_key(remote: str | None) -> str:
    """Whom limits count: the IPv4 address, or an IPv6 address's /64 (one machine may hold a
    whole /64); '?' when unknown."""
    try:
        ip = ipaddress.ip_address((remote or "").split("%", 1)[0])
    except ValueError:
        return "?"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def _static_files() -> dict[str, bytes]:
    root = resources.files("viscause_gui.core.share") / "static"
    return {name: (root / name).read_bytes() for name in STATIC}


def new_token() -> str:
    """A join token: TOKEN_LENGTH symbols of TOKEN_ALPHABET drawn with `secrets` (TOKEN_BITS or more)."""
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))


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
        self.token = new_token()
        self.join_code = "".join(secrets.choice(JOIN_ALPHABET) for _ in range(JOIN_LENGTH))
        self._files = _static_files()
        self._served = {_normal_host(host)} | ({_normal_host(lan_address())} if host in WILDCARDS else set())
        self._ip_buckets = _Buckets(self.limits.ip_rate, self.limits.ip_burst)
        self._annotator_buckets = _Buckets(self.limits.annotator_rate, self.limits.annotator_burst)
        lim = self.limits
        self._new_buckets = _Buckets(lim.new_annotator_rate, lim.new_annotator_burst)
        self._new_all = _Buckets(lim.new_annotators_rate, lim.new_annotators_burst)
        self._join_buckets = _Buckets(lim.join_tries_per_minute / 60.0, lim.join_tries_per_minute)
        self._join_all = _Buckets(lim.join_failures_per_minute / 60.0, lim.join_failures_per_minute)
        self.malformed = 0                        # malformed HTTP requests refused (400 by aiohttp)
        self._malformed_logged = -math.inf
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
        return lan_address() if self.host in WILDCARDS else self.host

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
        except BaseException as exc:             # reported to start()
            self._error = exc
            self._started.set()
            return
        self._started.set()
        try:
            loop.run_forever()
        finally:
            if self._runner is not None:            # _serve made it before the server started
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
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, logger=_ServerLog(self))
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        server = cast(asyncio.Server | None, site._server)       # aiohttp's private server: the bound port
        sockets = server.sockets if server is not None else []
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
        # Each request is a few hundred microseconds of Python on this thread, which shares the
        # interpreter lock with the GUI thread: while the GUI works (a redraw, a batch handed to the
        # experiment) the server waits for it, at most the gate's 0.1 s (`core.system.foreground`).
        yield_to_foreground()
        try:
            if not self._host_allowed(request):
                raise _Refusal(421, "this server answers only to its own address")
            now = time.monotonic()
            if not self._ip_buckets.allow(address_key(request.remote), now):
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
            if exc.retry_after is not None:
                response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        except ShareRefused as exc:
            self.refused += 1
            response = _error(exc.status, exc.message)
            if exc.retry_after is not None:
                response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
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
        """The token for the right code. Only wrong tries count against an address; under a
        flood of wrong tries from everywhere each costs more, and the code is never switched off."""
        body = await _json(request, {"code"})
        code = body["code"]
        if not isinstance(code, str) or len(code) > 32:
            raise _Refusal(400, "bad join code")
        now, who = time.monotonic(), address_key(request.remote)
        wait = self._join_buckets.wait(who, now)
        if wait > 0:
            raise _Refusal(429, "too many wrong tries from your address; wait a minute", wait)
        if not hmac.compare_digest(code.strip().upper().encode("utf-8", "replace"), self.join_code.encode()):
            pressure = not self._join_all.allow("all", now)
            self._join_buckets.take(who, now, self.limits.join_pressure_cost if pressure else 1.0)
            raise _Refusal(403, "wrong join code")
        return web.json_response({"token": self.token})

    # ----- the Host header -----
    def _host_allowed(self, request: web.Request) -> bool:
        """The Host header names this server: a localhost name, the address served (with a
        wildcard bind: the address shown, or the one this connection came to), and this port."""
        hosts = request.headers.getall("Host", [])
        if len(hosts) != 1:
            return False
        name, port = _split_host(hosts[0])
        if name is None or port != self.port:
            return False
        if name in LOCAL_NAMES or name in self._served:
            return True
        if self.host in WILDCARDS:
            sockname = request.transport.get_extra_info("sockname") if request.transport is not None else None
            if not sockname:
                return False
            return name == _normal_host(str(sockname[0]))
        return False

    # ----- the API -----
    def _admit(self, address: str) -> float:
        """The pace of new annotators (called by the hub, under its lock, for a device it does not
        know): 0 lets one in and counts it against `address` and overall; more is the wait."""
        now = time.monotonic()
        wait = max(self._new_buckets.wait(address, now), self._new_all.wait("all", now))
        if wait == 0:
            self._new_buckets.take(address, now)
            self._new_all.take("all", now)
        return wait

    def _annotator_allowed(self, secret: Any) -> str:
        if not _is_hex32(secret):
            raise _Refusal(400, "bad annotator")
        if not self._annotator_buckets.allow(secret, time.monotonic()):
            raise _Refusal(429, "too many requests")
        return secret

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run hub work (it may fsync) off the event loop, after a busy GUI thread's turn."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, _after_foreground, fn, *args)

    async def _api_hello(self, request: web.Request) -> web.Response:
        body = await _json(request, {"annotator", "device"})
        secret, device = body["annotator"], body["device"]
        if secret is not None:
            secret = self._annotator_allowed(secret)
        if device is not None and not _is_hex32(device):
            raise _Refusal(400, "bad device")
        a = await self._call(self.hub.join, secret, device, address_key(request.remote), self._admit)
        hub = self.hub
        names = hub.outcomes
        outcomes = None if len(names) <= 2 else [{"name": n, "key": k} for n, k in zip(names, outcome_keys(names))]
        return web.json_response({"annotator": a.secret, "name": a.public, "question": hub.question,
                                  "digits": hub.positive_digit is not None and outcomes is None, "k": hub.k,
                                  "outcomes": outcomes})

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
        names = self.hub.outcomes
        if len(names) > 2:                  # an outcome's index, or '?'
            if isinstance(given, int) and not isinstance(given, bool) and 0 <= given < len(names):
                return float(given), outcome_keys(names)[given]
            if given == "?":
                return math.nan, "?"
            raise _Refusal(400, "bad answer")
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
    def __init__(self, status: int, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.status, self.message, self.retry_after = status, message, retry_after


def _after_foreground(fn: Callable[..., Any], *args: Any) -> Any:
    yield_to_foreground()
    return fn(*args)


def _is_hex32(value: Any) -> bool:
    """A page's secret or device id: 32 lowercase hex digits."""
    return isinstance(value, str) and len(value) == 32 and all(c in "0123456789abcdef" for c in value)


def _normal_host(name: str) -> str:
    """A host name lowercased, or an IP address in its usual form (an IPv4-mapped IPv6 as IPv4)."""
    name = name.strip().lower()
    try:
        ip = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return name
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def _split_host(value: str) -> tuple[str | None, int | None]:
    """A Host header's name (see `_normal_host`) and port (80 when none); (None, None) if malformed."""
    value = value.strip()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None, None
        name, rest = value[1:end], value[end + 1:]
        if rest and not rest.startswith(":"):
            return None, None
        port_text = rest[1:] if rest else ""
    elif value.count(":") == 1:
        name, port_text = value.split(":")
    elif ":" in value:
        return None, None                     # a bare IPv6 address needs brackets
    else:
        name, port_text = value, ""
    if not name:
        return None, None
    if not port_text:
        return _normal_host(name), 80
    if not port_text.isdigit() or len(port_text) > 5:
        return None, None
    return _normal_host(name), int(port_text)


class _ServerLog(logging.LoggerAdapter):
    """aiohttp's low-level server log for one share. A malformed request (bad HTTP, a TLS or
    HTTP/2 hello on this plain port, a line too long) is already answered 400 by aiohttp; here it
    becomes one line on the `viscause_gui.share` log (at most one a minute, with a count), not a
    traceback. Anything else aiohttp reports (a fault of ours) is logged with its traceback."""

    def __init__(self, server: ShareServer):
        super().__init__(log, {})
        self.server = server

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kwargs: Any) -> None:
        exc = exc_info if isinstance(exc_info, BaseException) else None
        if isinstance(exc, ConnectionError):                    # the client went away
            log.debug("share: a client went away (%s)", type(exc).__name__)
            return
        if isinstance(exc, HttpProcessingError):
            self.server.malformed += 1
            now = time.monotonic()
            if now - self.server._malformed_logged >= 60:
                self.server._malformed_logged = now
                log.warning("share: refused a malformed HTTP request (%s; %d so far)",
                            type(exc).__name__, self.server.malformed)
            return
        log.error(msg, *args, exc_info=exc_info, **kwargs)

    def debug(self, msg: object, *args: object, **kwargs: Any) -> None:
        log.debug(msg, *args, **{**kwargs, "exc_info": None})


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
