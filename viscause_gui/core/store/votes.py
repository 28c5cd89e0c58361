"""How answers resolve and combine: undo, the latest answer per annotator, votes per image."""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from viscause_gui.core.store.journal import AnswerRecord, batch_key, image_hash


def resolve(records: Iterable[AnswerRecord]) -> dict[tuple[str, int, str], AnswerRecord]:
    """The answers in force: (batch, index, annotator) -> the latest answer not undone."""
    answers = [r for r in records]
    undone = {r.target for r in answers if r.type == "undo"}
    final: dict[tuple[str, int, str], AnswerRecord] = {}
    for r in answers:
        if r.type == "answer" and r.id not in undone:
            final[(r.batch, r.index, r.annotator)] = r
    return final


def record_status(records: Sequence[AnswerRecord]) -> dict[str, str]:
    """id -> "final" (in force), "replaced" (a later answer by the same annotator counts),
    "undone" or "undo" (an undo record)."""
    records = list(records)
    undone = {r.target for r in records if r.type == "undo"}
    final_ids = {r.id for r in resolve(records).values()}
    status = {}
    for r in records:
        if r.type == "undo":
            status[r.id] = "undo"
        elif r.id in undone:
            status[r.id] = "undone"
        else:
            status[r.id] = "final" if r.id in final_ids else "replaced"
    return status


@dataclass(frozen=True)
class Vote:
    """The oracle's answer for one image from all its annotators.

    value: the fraction of "yes" (the mean of the known answers, which are P(T=1)); NaN when
    no annotator knew. disagreement: twice the standard deviation of the known answers: 0
    when they agree, 1 for an even yes/no split (0.8 for 4 against 1); NaN when none known.
    n: answers counted ('?' included); n_known: those that are not '?'.
    """

    value: float
    disagreement: float
    n: int
    n_known: int


def aggregate(values: Iterable[float | None]) -> Vote:
    """Combine several annotators' answers for one image (None / NaN = '?')."""
    vals = np.array([math.nan if v is None else float(v) for v in values], np.float64)
    known = vals[np.isfinite(vals)]
    if len(known) == 0:
        return Vote(math.nan, math.nan, len(vals), 0)
    return Vote(float(known.mean()), float(min(1.0, 2.0 * known.std())), len(vals), len(known))


def votes(records: Iterable[AnswerRecord]) -> dict[tuple[str, int], Vote]:
    """(batch, index) -> Vote over the answers in force."""
    groups: dict[tuple[str, int], list[float]] = {}
    for r in resolve(records).values():
        groups.setdefault(r.key, []).append(r.value)
    return {key: aggregate(vals) for key, vals in groups.items()}


def batch_votes(records: Iterable[AnswerRecord], batch: str | Any, size: int | None = None, outcomes: int = 2
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(value, disagreement, n) per image of one batch (a key or a QueryBatch).

    value is what `Experiment.answer` takes: the fraction of "yes", NaN where nobody answered
    (or all said '?'); n counts the answers in force per image, so a panel that requires k
    annotators per image can check ``n >= k`` before handing `value` to the experiment.
    Over K = `outcomes` > 2 outcomes (each answer an outcome's index) value is (size, K): the share
    of the answers that gave each outcome (a NaN row where none is known), and the disagreement is
    min(1, 2·sqrt(G / 2)) with G = 1 − Σ share² (the same number as for yes/no answers when K = 2).
    """
    key = batch if isinstance(batch, str) else batch_key(batch)
    if size is None:
        size = len(batch)
    if outcomes > 2:
        return _outcome_votes(records, key, size, outcomes)
    # the same numbers as `votes` (mean and twice the std of the known answers per image), counted
    # with bincount: a share hands on a batch of thousands of answers on the GUI thread
    mine = [r for r in resolve(records).values() if r.batch == key and 0 <= r.index < size]
    index = np.fromiter((r.index for r in mine), np.int64, len(mine))
    values = np.fromiter((math.nan if r.value is None else r.value for r in mine), np.float64, len(mine))
    known = np.isfinite(values)
    n = np.bincount(index, minlength=size).astype(np.int64)
    n_known = np.bincount(index[known], minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.bincount(index[known], weights=values[known], minlength=size) / n_known
        deviation = values[known] - value[index[known]]
        spread = np.sqrt(np.bincount(index[known], weights=deviation * deviation, minlength=size) / n_known)
    disagreement = np.minimum(1.0, 2.0 * spread)
    return value, disagreement, n


def _outcome_votes(records: Iterable[AnswerRecord], key: str, size: int, outcomes: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """batch_votes over K > 2 outcomes."""
    mine = [r for r in resolve(records).values() if r.batch == key and 0 <= r.index < size]
    counts = np.zeros((size, outcomes))
    n = np.zeros(size, np.int64)
    for r in mine:
        n[r.index] += 1
        if not math.isnan(r.value) and 0 <= r.value < outcomes:
            counts[r.index, int(r.value)] += 1
    total = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = counts / total
    gini = 1.0 - (value ** 2).sum(axis=1)
    disagreement = np.minimum(1.0, 2.0 * np.sqrt(gini / 2.0))
    return value, disagreement, n


def check_images(records: Iterable[AnswerRecord], batch: str, images: np.ndarray
                 ) -> tuple[list[AnswerRecord], list[AnswerRecord]]:
    """Split a batch's answers into (matching, mismatched) by their image hash.

    An answer without a hash matches when its index exists. Use it when a batch that was
    not in the saved session is generated again after a recovery."""
    ok, bad = [], []
    for r in records:
        if r.type != "answer" or r.batch != batch:
            continue
        if _fits(r, images):
            ok.append(r)
        else:
            bad.append(r)
    return ok, bad


def _fits(record: AnswerRecord, images: np.ndarray) -> bool:
    """The record's index exists, and its hash, where it has one, is that image's."""
    if not 0 <= record.index < len(images):
        return False
    return record.image_sha256 is None or record.image_sha256 == image_hash(images[record.index])
