"""Issue 24: a share over K > 2 outcomes: the page is told the outcomes and their keys, answers are outcome
indices in the journal, the consensus per image is the outcome most annotators gave, and agreement
(percent and Krippendorff's alpha, nominal) is over the K outcomes and '?'."""
from __future__ import annotations

import math

import krippendorff
import numpy as np
import pytest

from tests.core.share.test_server import Client
from viscause_gui.core.share.consensus import VoteRule, agreement, consensus, consensus_of
from viscause_gui.core.share.hub import ShareHub
from viscause_gui.core.share.server import ShareServer
from viscause_gui.core.store.journal import Journal, read_journal
from viscause_gui.core.store.votes import resolve

KEY = "algorithm1:0"
NAMES = ("left", "up", "right")
N = math.nan


@pytest.mark.parametrize("values,rule,expected", [
    ([2, 2, 0], VoteRule(), 2.0),
    ([0, 1, N], VoteRule(), N),                                  # an even split: '?'
    ([0, 1, N], VoteRule(ties="yes"), N),                        # whatever the tie rule: no yes over K
    ([1, N, N, N], VoteRule(), 1.0),                             # '?' left out
    ([1, N, N, N], VoteRule(unknown="vote"), N),                 # '?' votes, and wins
    ([N, N], VoteRule(), N),
    ([], VoteRule(), N),
    ([2, 2, 1], VoteRule(method="mean"), 2.0),                   # the tally's vote: the most given
])
def test_consensus_over_k_outcomes(values, rule, expected):
    got = consensus(values, rule, outcomes=3)
    assert (math.isnan(got) and math.isnan(expected)) or got == expected
    index = np.zeros(len(values), np.int64)
    assert np.array_equal(consensus_of(index, np.array(values, float), 1, rule, 3), [expected], equal_nan=True)


def test_binary_consensus_is_unchanged():
    assert consensus([1.0, 1.0, 0.0]) == 1.0 and math.isnan(consensus([1.0, 0.0]))
    assert consensus([1.0, 0.0], VoteRule(ties="half")) == 0.5


def test_agreement_over_k_outcomes_is_krippendorffs_nominal_alpha_over_the_outcomes_and_unknown():
    table = {0: {"a": 0, "b": 0, "c": 0}, 1: {"a": 1, "b": 1, "c": 2}, 2: {"a": 2, "b": 2},
             3: {"a": N, "b": 1}, 4: {"a": 1}}
    got = agreement(table, outcomes=3)
    codes = np.array([[0, 1, 2, 3, 1], [0, 1, 2, 1, N], [0, 2, N, N, N]], float)   # '?' is a category (3)
    assert got.alpha == pytest.approx(krippendorff.alpha(reliability_data=codes[:, :4],
                                                         level_of_measurement="nominal"))
    assert got.percent == pytest.approx((3 + 1 + 1 + 0) / (3 + 3 + 1 + 1))
    assert got.images == 5 and got.answers == 11
    assert got.per_annotator["c"] == (0.5, 2)                  # agrees on image 0, not on 1 (vote: 1)


def test_a_hub_over_k_outcomes_journals_indices_and_tallies_each_outcome(tmp_path):
    journal = Journal(tmp_path / "k.journal.jsonl", "sid", outcomes=NAMES)
    hub = ShareHub(lambda: journal, lambda: journal.records, k=3, outcomes=NAMES, seed=0)
    hub.set_batches([(KEY, np.random.default_rng(1).random((2, 6, 6)).astype(np.float32))])
    people = [hub.join() for _ in range(3)]
    given = {0: [2, 2, 0], 1: [1, N, 1]}
    for p in people:
        for _ in range(2):
            item = hub.next_image(p.secret)
            i = item["index"]
            hub.answer(p.secret, KEY, i, given[i].pop(), "k")
    assert hub.complete(KEY) and np.array_equal(hub.values(KEY), [2.0, 1.0])
    tally = hub.tally()
    rows = tally.batches[0]["rows"]
    assert [r["counts"] for r in rows] == [[1, 0, 2], [0, 2, 0]] and [r["unknown"] for r in rows] == [0, 1]
    assert [r["consensus"] for r in rows] == [2.0, 1.0] and tally.outcomes == NAMES
    assert "yes" not in rows[0]
    on_disk = read_journal(tmp_path / "k.journal.jsonl")
    assert on_disk.header["outcomes"] == list(NAMES)
    assert sorted(v for v in (r.value for r in on_disk.records) if v == v) == [0, 1, 1, 2, 2]
    journal.close()


def test_the_page_api_names_the_outcomes_and_takes_their_indices(tmp_path):
    journal = Journal(tmp_path / "p.journal.jsonl", "sid", outcomes=NAMES)
    hub = ShareHub(lambda: journal, lambda: journal.records, k=1, outcomes=NAMES, positive_digit=3)
    hub.set_batches([(KEY, np.random.default_rng(2).random((3, 8, 8)).astype(np.float32))])
    server = ShareServer(hub)
    server.start()
    try:
        c = Client(server)
        hello = c.api("hello", {"annotator": None, "device": None})[1]
        assert hello["outcomes"] == [{"name": "left", "key": "l"}, {"name": "up", "key": "u"},
                                     {"name": "right", "key": "r"}]
        assert hello["digits"] is False                          # K outcomes: no digit buttons
        me = hello["annotator"]
        item = c.api("next", {"annotator": me})[1]
        for refused in ("yes", 3, -1, 1.0, True, "up"):
            assert c.api("answer", {"annotator": me, "batch": KEY, "index": item["index"], "answer": refused})[0] \
                == 400
        for answer in (2, "?", 0):
            item = c.api("next", {"annotator": me})[1]
            assert c.api("answer", {"annotator": me, "batch": KEY, "index": item["index"], "answer": answer})[0] \
                == 200
        assert c.api("undo", {"annotator": me})[0] == 200
    finally:
        server.stop()
    records = journal.records
    assert [(None if r.value != r.value else r.value, r.label) for r in records if r.type == "answer"] == [
        (2.0, "r"), (None, "?"), (0.0, "l")]
    assert len(resolve(records)) == 2
    journal.close()


def test_after_an_undo_a_person_answering_alone_still_gets_every_image(tmp_path):
    """The image a person held when they undid an answer went to nobody: they had seen it, and nobody else
    answers a share of one. It goes back to the hand-out, so one person finishes the batch."""
    journal = Journal(tmp_path / "u.journal.jsonl", "sid", outcomes=NAMES)
    hub = ShareHub(lambda: journal, lambda: journal.records, k=1, outcomes=NAMES, seed=0)
    hub.set_batches([(KEY, np.random.default_rng(3).random((3, 6, 6)).astype(np.float32))])
    me = hub.join()
    first = hub.next_image(me.secret)["index"]
    hub.answer(me.secret, KEY, first, 1, "u")
    held = hub.next_image(me.secret)["index"]
    hub.undo(me.secret)
    assert hub.next_image(me.secret)["index"] == first              # the undone image first
    hub.answer(me.secret, KEY, first, 2, "r")
    answered = {first}
    for _ in range(2):
        item = hub.next_image(me.secret)
        assert not item["wait"]
        hub.answer(me.secret, KEY, item["index"], 0, "l")
        answered.add(item["index"])
    assert held in answered and hub.complete(KEY) and hub.next_image(me.secret)["wait"]
    journal.close()
