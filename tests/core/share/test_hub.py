"""Issue 15: the hand-out (k answers per image, never twice to one person, leases), the journal
first, undo, votes and agreement."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from viscause_gui.core.share.consensus import VoteRule, agreement, consensus, consensus_of
from viscause_gui.core.share.hub import ShareHub, ShareRefused
from viscause_gui.core.store.journal import Journal, read_journal
from viscause_gui.core.store.votes import resolve

KEY = "algorithm2:1"


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


@pytest.fixture
def hub(tmp_path):
    journal = Journal(tmp_path / "s.journal.jsonl", "sid")
    clock = Clock()
    images = np.random.default_rng(0).random((4, 6, 6)).astype(np.float32)
    h = ShareHub(lambda: journal, lambda: journal.records, k=3, lease_s=30, clock=clock, seed=0)
    h.set_batches([(KEY, images)])
    yield h, journal, clock
    journal.close()


def test_each_image_gets_k_answers_never_twice_to_one_person(hub, tmp_path):
    h, _journal, _ = hub
    people = [h.join() for _ in range(5)]
    seen = {p.public: [] for p in people}
    for _ in range(20):
        for p in people:
            item = h.next_image(p.secret)
            if item["wait"]:
                continue
            seen[p.public].append(item["index"])
            assert item["png"].startswith(b"\x89PNG")
            h.answer(p.secret, item["batch"], item["index"], 1.0, "y")
    for indices in seen.values():
        assert len(indices) == len(set(indices))          # never the same image twice
    assert h.complete(KEY)
    per_image = [sum(i in v for v in seen.values()) for i in range(4)]
    assert per_image == [3, 3, 3, 3]
    records = read_journal(tmp_path / "s.journal.jsonl").records   # on disk, with the annotator ids
    assert len(records) == 12 and {r.annotator for r in records} <= {"web:" + p.public for p in people}
    assert all(r.time and r.image_sha256 for r in records)


def test_a_reload_gets_the_same_image_and_a_vanished_annotators_image_goes_on(tmp_path):
    journal, clock = Journal(tmp_path / "l.journal.jsonl", "sid"), Clock()
    h = ShareHub(lambda: journal, lambda: journal.records, k=1, lease_s=30, clock=clock)
    h.set_batches([(KEY, np.zeros((1, 4, 4), np.float32))])
    a, b = h.join(), h.join()
    first = h.next_image(a.secret)
    assert h.join(a.secret) is a                          # the page reloads with its secret...
    assert h.next_image(a.secret)["index"] == first["index"] == 0   # ...and gets the same image
    assert h.next_image(b.secret)["wait"]                 # handed out to a: b waits
    clock.t = 31                                          # a vanished: the lease ran out
    assert h.next_image(b.secret)["index"] == 0
    h.answer(b.secret, KEY, 0, 1.0, "y")
    h.answer(a.secret, KEY, 0, 0.0, "n")                  # a's late answer still counts, once
    with pytest.raises(ShareRefused) as err:
        h.answer(a.secret, KEY, 0, 0.0, "n")              # replayed
    assert err.value.status == 409
    assert len(journal.records) == 2 and h.complete(KEY)
    journal.close()


def test_refusals_write_nothing(hub):
    h, journal, _ = hub
    a = h.join()
    item = h.next_image(a.secret)
    other = (item["index"] + 1) % 4
    cases = [(a.secret, KEY, other, 403), (a.secret, "algorithm2:9", 0, 409), (a.secret, KEY, 99, 400),
             (a.secret, KEY, True, 400), ("f" * 32, KEY, item["index"], 403), (None, KEY, 0, 403)]
    for secret, key, index, status in cases:
        with pytest.raises(ShareRefused) as err:
            h.answer(secret, key, index, 1.0, "y")
        assert err.value.status == status
    assert journal.records == []


def test_undo_gives_the_image_back_and_only_ones_own(hub):
    h, journal, _ = hub
    a, b = h.join(), h.join()
    ia = h.next_image(a.secret)
    h.answer(a.secret, KEY, ia["index"], 1.0, "y")
    ib = h.next_image(b.secret)
    h.answer(b.secret, KEY, ib["index"], 0.0, "n")
    undo = h.undo(a.secret)
    assert undo.type == "undo" and undo.annotator == "web:" + a.public
    assert h.next_image(a.secret)["index"] == ia["index"]         # answer it again
    with pytest.raises(ShareRefused):
        h.undo(a.secret)                                          # nothing of a's left in force
    final = resolve(journal.records)
    assert [(k[2], r.value) for k, r in final.items()] == [("web:" + b.public, 0.0)]


def test_answers_from_before_a_restart_count(tmp_path):
    images = np.random.default_rng(1).random((2, 5, 5)).astype(np.float32)
    j = Journal(tmp_path / "r.journal.jsonl", "sid")
    h = ShareHub(lambda: j, lambda: j.records, k=2)
    h.set_batches([(KEY, images)])
    for _ in range(2):
        p = h.join()
        it = h.next_image(p.secret)
        h.answer(p.secret, KEY, it["index"], 1.0, "y")
    j.close()
    j2 = Journal(tmp_path / "r.journal.jsonl", "sid")             # the app restarted
    h2 = ShareHub(lambda: j2, lambda: j2.records, k=2)
    h2.set_batches([(KEY, images)])
    t = h2.tally()
    assert t.answers == 2 and sum(r["n"] for r in t.batches[0]["rows"]) == 2
    j2.close()


def test_votes_ties_and_unknown():
    nan = math.nan
    assert consensus([1, 1, 0, 0, 1]) == 1.0
    assert math.isnan(consensus([1, 0]))
    assert consensus([1, 0], VoteRule(ties="yes")) == 1.0 and consensus([1, 0], VoteRule(ties="no")) == 0.0
    assert consensus([1, 0], VoteRule(ties="half")) == 0.5
    assert consensus([nan, nan, 1]) == 1.0                       # '?' left out
    assert math.isnan(consensus([nan, nan, 1], VoteRule(unknown="vote")))
    assert consensus([1, 1, 0], VoteRule(method="mean")) == pytest.approx(2 / 3)
    assert math.isnan(consensus([nan, nan]))


def test_agreement_percent_alpha_and_per_annotator():
    table = {0: {"a": 1.0, "b": 1.0, "c": 0.0}, 1: {"a": 0.0, "b": 0.0, "c": 0.0}, 2: {"a": 1.0, "b": 1.0, "c": 1.0}}
    ag = agreement(table)
    assert ag.percent == pytest.approx(7 / 9)
    import krippendorff
    expected = krippendorff.alpha(reliability_data=[[1, 0, 1], [1, 0, 1], [0, 0, 1]], level_of_measurement="nominal")
    assert ag.alpha == pytest.approx(expected)
    assert ag.per_annotator["a"] == (1.0, 3) and ag.per_annotator["c"] == pytest.approx((2 / 3, 3))
    perfect = agreement({0: {"a": 1.0, "b": 1.0}})
    assert perfect.percent == 1.0 and math.isnan(perfect.alpha)   # alpha undefined with one category


@settings(max_examples=200, deadline=None)
@given(answers=st.lists(st.tuples(st.integers(0, 5), st.sampled_from([0.0, 1.0, 0.5, math.nan, 0.2, 0.8])),
                        max_size=40),
       method=st.sampled_from(["majority", "mean"]), ties=st.sampled_from(["unknown", "yes", "no", "half"]),
       unknown=st.sampled_from(["ignore", "vote"]))
def test_a_whole_batch_votes_as_one_image_at_a_time(answers, method, ties, unknown):
    """consensus_of (numpy, the batch handed on from the GUI thread) = consensus per image."""
    rule = VoteRule(method, ties, unknown)
    got = consensus_of(np.array([i for i, _ in answers], np.int64), np.array([v for _, v in answers]), 6, rule)
    want = [consensus([v for i, v in answers if i == image], rule) for image in range(6)]
    np.testing.assert_allclose(got, want, equal_nan=True)
