"""Who answers which image: the hand-out of shared query batches, and every answer into the journal.

`ShareHub` is what the web server calls (from its own thread) and what the window reads:

- Batches are offered with `set_batches` (the oracle queue's waiting batches). Each image
  should get `k` answers; an annotator is handed the image with the fewest answers (answers
  in force plus live leases) that they have not seen, one at a time, never the same image
  twice. A hand-out is a lease: when the annotator does not answer within `lease_s`, the
  image goes to someone else (their late answer still counts, once).
- `answer` checks everything (the image was handed to this annotator, the batch is still
  offered, the annotator has no answer in force for it), writes the record to the session's
  journal (`core.store.journal.Journal.answer`: fsync'ed when it returns) and only then
  returns; the server acknowledges after that. Annotator names in the journal are
  ``web:<8 hex>``; the secret that identifies the page is never written anywhere.
- `join` makes an annotator per device: the page keeps a random device id in the browser
  (localStorage) and sends it with every hello, so a reload, or a page that lost its
  secret, goes on as the same annotator. New annotators are admitted by the server's pace
  (`admit`: a rate per address and overall; a refusal is a 429 with a Retry-After, which
  the page waits out), at most `MAX_PER_ADDRESS` per address (a class behind one school
  address fits) and `MAX_ANNOTATORS` in all; when full, annotators that never answered and
  have been idle `IDLE_FORGET_S` make room, so a full share turns newcomers away only while
  its annotators are at work (and a crowd that never answers cannot fill it for good).
- `undo` undoes the annotator's own last answer (journal first) while its batch is offered,
  and hands that image back to them (the image they held goes back to the hand-out, theirs too).
- The answers in force are read from the journal records (`records_fn`) whenever the batches
  change or `sync` is called, so answers from before a restart, or the keyboard's, count.

Over K > 2 outcomes (``outcomes``: their names) an answer is the index of the outcome the annotator
saw, journalled as such; the consensus per image is the outcome most of them gave, the agreement
(percent and Krippendorff's alpha, nominal) is over the K outcomes and '?' (core.share.consensus).

Every refusal is a `ShareRefused` with an HTTP status and a fixed message (nothing a client
sent is echoed). Thread-safe: one lock around each call (a journal write included).
"""
from __future__ import annotations

import io
import math
import random
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from viscause_gui.core.share.consensus import Agreement, VoteRule, agreement, category, consensus
from viscause_gui.core.store.journal import AnswerRecord, image_hash
from viscause_gui.core.store.offline import png_pixels
from viscause_gui.core.store.votes import resolve
from viscause_gui.core.system.foreground import yield_to_foreground

WEB_PREFIX = "web:"
MAX_ANNOTATORS = 1000
MAX_PER_ADDRESS = 250          # a class behind one school address (NAT) fits; one person cannot fill the share
IDLE_FORGET_S = 120.0          # an annotator that never answered and is idle this long makes room when full
PNG_MIN_SIDE = 8


class ShareRefused(Exception):
    """A request the hub refuses: `status` (an HTTP 4xx/5xx) and a fixed message."""

    def __init__(self, status: int, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after      # seconds, for a Retry-After header (429/503)


@dataclass
class Offer:
    """One offered batch: its journal key, images and their hashes."""

    key: str
    images: np.ndarray
    hashes: list[str]
    pngs: dict[int, bytes] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.images)


@dataclass
class Annotator:
    public: str                                   # 8 hex, written to the journal as web:<public>
    secret: str                                   # 32 hex, only the page knows it
    joined: float
    last_seen: float
    seen: set[tuple[str, int]] = field(default_factory=set)
    lease: tuple[str, int, float] | None = None   # (batch, index, expiry)
    mine: list[str] = field(default_factory=list)  # ids of this annotator's answers, newest last
    device: str | None = None                     # the page's device id (kept in memory only)
    address: str = "?"                            # the address (IPv6: its /64) it joined from, in memory only

    @property
    def name(self) -> str:
        return WEB_PREFIX + self.public


@dataclass
class Tally:
    """What the window shows, computed under the hub's lock."""

    k: int
    batches: list[dict[str, Any]]                 # per batch: key, size, complete, rows (per image: yes, no,
                                                  # unknown, n, handed, consensus; over K > 2 outcomes
                                                  # "counts", one per outcome, instead of yes and no)
    annotators: list[dict[str, Any]]              # name, answers, agreement, compared, last_seen_s
    batch_agreement: dict[str, Agreement]
    overall: Agreement
    answers: int                                   # answers in force on offered batches
    needed: int                                    # k x images offered
    web_answers: int                               # answers written through the hub since it started
    outcomes: tuple[str, ...] = ("0", "1")         # the names of T's outcomes (a binary T's by default)


class ShareHub:
    """The hand-out and the answers of a share. See the module's doc."""

    def __init__(self, journal_fn: Callable[[], Any], records_fn: Callable[[], Sequence[AnswerRecord]], *,
                 k: int = 5, lease_s: float = 60.0, question: str = "Does T happen for this image?",
                 positive_digit: int | None = None, rule: VoteRule = VoteRule(),
                 clock: Callable[[], float] = time.monotonic, seed: int | None = None,
                 on_change: Callable[[], None] | None = None, outcomes: Sequence[str] | None = None):
        """outcomes: the names of T's outcomes; over K > 2 an answer is an outcome's index (None: a binary T)."""
        if not 1 <= int(k) <= 50:
            raise ValueError("k must be 1 to 50")
        self.journal_fn, self.records_fn = journal_fn, records_fn
        self.k, self.lease_s = int(k), float(lease_s)
        self.question = str(question)
        self.positive_digit = positive_digit
        self.outcomes: tuple[str, ...] = tuple(outcomes) if outcomes else ("0", "1")
        self.rule = rule
        self.clock = clock
        self.on_change = on_change
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._offers: dict[str, Offer] = {}
        self._in_force: dict[tuple[str, int], dict[str, AnswerRecord]] = {}
        self._leases: dict[tuple[str, int], dict[str, float]] = {}
        self._by_secret: dict[str, Annotator] = {}
        self._by_name: dict[str, Annotator] = {}
        self._by_device: dict[str, Annotator] = {}
        self._all_records: list[AnswerRecord] = []
        self.web_answers = 0

    # ----- batches -----
    def set_batches(self, batches: Sequence[tuple[str, np.ndarray]]) -> None:
        """Offer these batches (key, images) from now on; answers in force come from the records."""
        with self._lock:
            offers = {}
            for key, images in batches:
                old = self._offers.get(key)
                if old is not None and old.images.shape == images.shape and old.images is images:
                    offers[key] = old
                else:
                    offers[key] = Offer(key, np.asarray(images), [image_hash(im) for im in images])
            self._offers = offers
            self._leases = {kv: v for kv, v in self._leases.items() if kv[0] in offers}
            for a in self._by_secret.values():
                if a.lease is not None and a.lease[0] not in offers:
                    a.lease = None
            self._rebuild()
        self._changed()

    def sync(self) -> None:
        """Read the answers in force again (after answers that did not come through the hub)."""
        with self._lock:
            self._rebuild()
        self._changed()

    def _rebuild(self) -> None:
        records = list(self.records_fn())
        self._all_records = records
        self._in_force = {}
        for (batch, index, annotator), r in resolve(records).items():
            offer = self._offers.get(batch)
            if offer is None or not 0 <= index < len(offer):
                continue
            if r.image_sha256 is not None and r.image_sha256 != offer.hashes[index]:
                continue
            self._in_force.setdefault((batch, index), {})[annotator] = r
        for a in self._by_name.values():      # an annotator of this share whose answers are in force
            for (batch, index), answers in self._in_force.items():
                if a.name in answers:
                    a.seen.add((batch, index))

    def offered(self) -> list[str]:
        with self._lock:
            return list(self._offers)

    def complete(self, key: str) -> bool:
        """Every image of the offered batch has k answers in force."""
        with self._lock:
            offer = self._offers.get(key)
            return offer is not None and all(len(self._in_force.get((key, i), {})) >= self.k
                                             for i in range(len(offer)))

    def values(self, key: str) -> np.ndarray:
        """The consensus per image of an offered batch (the vote rule), NaN where none."""
        with self._lock:
            offer = self._offers[key]
            k = len(self.outcomes)
            return np.array([consensus([r.value for r in self._in_force.get((key, i), {}).values()], self.rule, k)
                             for i in range(len(offer))], np.float64)

    # ----- annotators -----
    def join(self, secret: str | None = None, device: str | None = None, address: str = "?",
             admit: Callable[[str], float] | None = None) -> Annotator:
        """The annotator of this secret (a reloaded page) or of this device (a page that lost its
        secret), or a new one with a random id. `admit(address)` paces new annotators: 0 lets
        one in (and counts it), more is the seconds to wait (a 429 with that Retry-After)."""
        with self._lock:
            now = self.clock()
            a = self._by_secret.get(secret) if secret is not None else None
            if a is None and device is not None:
                a = self._by_device.get(device)
            if a is not None:
                a.last_seen = now
                if device is not None and a.device is None and device not in self._by_device:
                    a.device = device
                    self._by_device[device] = a
                return a
            mine = sum(other.address == address for other in self._by_secret.values())
            if mine >= MAX_PER_ADDRESS and not self._forget_idle(now, address):
                raise ShareRefused(429, "too many people from your address; wait a moment", IDLE_FORGET_S / 4)
            if len(self._by_secret) >= MAX_ANNOTATORS and not self._forget_idle(now):
                raise ShareRefused(503, "the share is full; wait a moment", IDLE_FORGET_S / 4)
            wait = admit(address) if admit is not None else 0.0
            if wait > 0:
                raise ShareRefused(429, "many people are joining; wait a moment", wait)
            while True:
                public = secrets.token_hex(4)
                if WEB_PREFIX + public not in self._by_name:
                    break
            a = Annotator(public, secrets.token_hex(16), now, now, device=device, address=address)
            self._by_secret[a.secret] = a
            self._by_name[a.name] = a
            if device is not None:
                self._by_device[device] = a
        self._changed()
        return a

    def _forget_idle(self, now: float, address: str | None = None) -> bool:
        """Forget the annotators (of `address`, or anyone's) that never answered and have been
        idle `IDLE_FORGET_S` with no image handed to them; True when one was forgotten. Their
        page, if it comes back, joins again as a new annotator (403, then hello)."""
        idle = [a for a in self._by_secret.values()
                if not a.mine and (a.lease is None or a.lease[2] <= now) and now - a.last_seen >= IDLE_FORGET_S
                and (address is None or a.address == address)]
        for a in idle:
            del self._by_secret[a.secret]
            del self._by_name[a.name]
            if a.device is not None and self._by_device.get(a.device) is a:
                del self._by_device[a.device]
        return bool(idle)

    def annotators(self) -> int:
        """How many annotators this share knows."""
        with self._lock:
            return len(self._by_secret)

    def annotator(self, secret: Any) -> Annotator:
        if not isinstance(secret, str):
            raise ShareRefused(403, "unknown annotator")
        with self._lock:
            a = self._by_secret.get(secret)
            if a is None:
                raise ShareRefused(403, "unknown annotator")
            a.last_seen = self.clock()
            return a

    # ----- hand-out -----
    def next_image(self, secret: str) -> dict[str, Any]:
        """The image this annotator should answer now (the same one after a reload), or a wait."""
        with self._lock:
            a = self.annotator(secret)
            now = self.clock()
            self._expire(now)
            if a.lease is not None:
                key, index, _ = a.lease
                if a.name not in self._in_force.get((key, index), {}):
                    a.lease = (key, index, now + self.lease_s)
                    self._leases.setdefault((key, index), {})[a.name] = now + self.lease_s
                    return self._hand(a, key, index)
                a.lease = None
            best, best_n = None, None
            for key, offer in self._offers.items():
                for i in range(len(offer)):
                    if (key, i) in a.seen:
                        continue
                    n = len(self._in_force.get((key, i), {})) + len(self._leases.get((key, i), {}))
                    if n >= self.k:
                        continue
                    if best_n is None or n < best_n or (n == best_n and self._rng.random() < 0.3):
                        best, best_n = (key, i), n
            if best is None:
                return {"wait": True, **self._counts(a)}
            key, index = best
            a.seen.add(best)
            a.lease = (key, index, now + self.lease_s)
            self._leases.setdefault(best, {})[a.name] = now + self.lease_s
            return self._hand(a, key, index)

    def _expire(self, now: float) -> None:
        for kv in list(self._leases):
            live = {n: t for n, t in self._leases[kv].items() if t > now}
            if live:
                self._leases[kv] = live
            else:
                del self._leases[kv]

    def _hand(self, a: Annotator, key: str, index: int) -> dict[str, Any]:
        offer = self._offers[key]
        png = offer.pngs.get(index)
        if png is None:
            png = offer.pngs[index] = image_png(offer.images[index])
        return {"wait": False, "batch": key, "index": index, "png": png, **self._counts(a)}

    def _counts(self, a: Annotator) -> dict[str, int]:
        """left: images still short of k answers; mine: this annotator's answers in force here."""
        left = mine = 0
        for key, offer in self._offers.items():
            for i in range(len(offer)):
                answers = self._in_force.get((key, i), {})
                left += len(answers) < self.k
                mine += a.name in answers
        return {"left": left, "mine": mine}

    # ----- answers -----
    def answer(self, secret: str, key: Any, index: Any, value: float, label: int | str | None) -> AnswerRecord:
        """Journal this annotator's answer (fsync'ed when it returns) or refuse it."""
        with self._lock:
            a = self.annotator(secret)
            if not isinstance(key, str) or key not in self._offers:
                raise ShareRefused(409, "that batch is not offered")
            offer = self._offers[key]
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(offer):
                raise ShareRefused(400, "bad image index")
            if (key, index) not in a.seen:
                raise ShareRefused(403, "that image was not handed to you")
            if a.name in self._in_force.get((key, index), {}):
                raise ShareRefused(409, "you answered that image already")
            journal = self.journal_fn()
            if journal is None:
                raise ShareRefused(503, "the session has no journal open; try again")
            try:
                record = journal.answer(key, index, value, annotator=a.name, image_sha256=offer.hashes[index],
                                        label=label)
            except (ValueError, OSError) as exc:                  # JournalError is a ValueError
                raise ShareRefused(503, "the answer could not be saved; try again") from exc
            self._in_force.setdefault((key, index), {})[a.name] = record
            self._all_records.append(record)
            self._leases.get((key, index), {}).pop(a.name, None)
            if a.lease is not None and a.lease[:2] == (key, index):
                a.lease = None
            a.mine.append(record.id)
            self.web_answers += 1
        self._changed()
        return record

    def undo(self, secret: str) -> AnswerRecord:
        """Undo this annotator's last answer in force (journal first); the image comes back to them."""
        with self._lock:
            a = self.annotator(secret)
            target = None
            while a.mine:
                rid = a.mine[-1]
                hit = next(((kv, r) for kv, answers in self._in_force.items() for r in answers.values()
                            if r.id == rid), None)
                if hit is None:
                    a.mine.pop()                   # gone (its batch was handed on, or replaced)
                    continue
                target = hit
                break
            if target is None:
                raise ShareRefused(409, "nothing to undo")
            (key, index), record = target
            journal = self.journal_fn()
            if journal is None:
                raise ShareRefused(503, "the session has no journal open; try again")
            try:
                undo = journal.undo(record.id, annotator=a.name)
            except (ValueError, OSError) as exc:
                raise ShareRefused(503, "the undo could not be saved; try again") from exc
            del self._in_force[(key, index)][a.name]
            self._all_records.append(undo)
            a.mine.pop()
            self._put_back_lease(a)
            now = self.clock()
            a.lease = (key, index, now + self.lease_s)
            self._leases.setdefault((key, index), {})[a.name] = now + self.lease_s
        self._changed()
        return undo

    def _put_back_lease(self, a: Annotator) -> None:
        """The image an annotator holds unanswered goes back to the hand-out, theirs too: after an undo
        they answer the undone image first, and a person answering alone would never see this one again."""
        if a.lease is None:
            return
        held = a.lease[:2]
        if a.name not in self._in_force.get(held, {}):
            a.seen.discard(held)
            self._leases.get(held, {}).pop(a.name, None)
        a.lease = None

    # ----- what the window shows -----
    def tally(self) -> Tally:
        """What the window shows. The hub's lock is held only to copy the state (~1 ms); the
        counting (agreement over every answer, 20-60 ms for 3,000) runs outside it, so answers
        being written, and a GUI thread offering a batch, never wait for it. Between its parts
        it lets a busy GUI thread go first (`core.system.foreground`)."""
        with self._lock:
            now = self.clock()
            self._expire(now)
            k, rule, web_answers, names = self.k, self.rule, self.web_answers, self.outcomes
            offers = [(key, len(offer)) for key, offer in self._offers.items()]
            force = {kv: dict(answers) for kv, answers in self._in_force.items()}
            handed = {kv: len(v) for kv, v in self._leases.items()}
            records = list(self._all_records)
            idle = {name: now - a.last_seen for name, a in self._by_name.items()}
        batches, batch_agreement, everything = [], {}, {}
        answers = needed = 0
        for key, size in offers:
            yield_to_foreground()
            rows, table = [], {}
            for i in range(size):
                here = force.get((key, i), {})
                rows.append({"index": i, **_votes_of([r.value for r in here.values()], rule, len(names)),
                             "n": len(here), "handed": handed.get((key, i), 0)})
                table[(key, i)] = {name: r.value for name, r in here.items()}
                answers += min(len(here), k)
            needed += k * size
            yield_to_foreground()
            batch_agreement[key] = agreement(table, rule, len(names))
            everything.update(table)
            batches.append({"key": key, "size": size, "rows": rows, "complete": all(r["n"] >= k for r in rows)})
        # overall: every batch the journal has answers for (answered ones included)
        yield_to_foreground()
        offered = {key for key, _ in offers}
        for (batch, index, name), r in resolve(records).items():
            if batch not in offered:
                everything.setdefault((batch, index), {})[name] = r.value
        yield_to_foreground()
        overall = agreement(everything, rule, len(names))
        yield_to_foreground()
        counts: dict[str, int] = dict.fromkeys(idle, 0)
        for t in everything.values():
            for name in t:
                counts[name] = counts.get(name, 0) + 1
        people = []
        for name in sorted(counts):
            agree, compared = overall.per_annotator.get(name, (math.nan, 0))
            people.append({"name": name, "answers": counts[name], "agreement": agree, "compared": compared,
                           "idle_s": idle.get(name)})
        return Tally(k, batches, people, batch_agreement, overall, answers, needed, web_answers, names)

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()


def _votes_of(values: list[float], rule: VoteRule, outcomes: int) -> dict[str, Any]:
    """One image's row of the tally: yes / no (over K > 2 outcomes the count of each), '?', the consensus."""
    cats = [category(v, outcomes) for v in values]
    counts: dict[str, Any] = {"yes": cats.count("yes"), "no": cats.count("no")} if outcomes <= 2 else \
        {"counts": [cats.count(str(j)) for j in range(outcomes)]}
    return {**counts, "unknown": cats.count("?"), "consensus": consensus(values, rule, outcomes)}


def image_png(image: np.ndarray) -> bytes:
    """PNG bytes of one image as the offline oracle shows it (dark ink on white, colour as RGB);
    tiny images are enlarged by whole pixels so browsers that ignore pixelated scaling stay sharp."""
    pixels = png_pixels(image)
    h, w = pixels.shape[:2]
    scale = max(1, math.ceil(PNG_MIN_SIDE * 32 / max(h, w)) if max(h, w) < 256 else 1)
    img = Image.fromarray(pixels)
    if scale > 1:
        img = img.resize((w * scale, h * scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=False)
    return buf.getvalue()
