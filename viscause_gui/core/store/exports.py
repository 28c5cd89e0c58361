"""Exports of a session: the answers (CSV), the oracle queries (CSV) and the causal data set (npz)."""
from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from viscause_gui.core.data.outcomes import known
from viscause_gui.core.data.readers import PathLike
from viscause_gui.core.method.experiment import Experiment
from viscause_gui.core.store.atomic import atomic_write
from viscause_gui.core.store.journal import AnswerRecord, image_hash
from viscause_gui.core.store.session_writer import json_default
from viscause_gui.core.store.votes import record_status

CSV_COLUMNS = ("seq", "id", "type", "status", "batch", "index", "annotator", "value", "label",
               "time", "image_sha256", "target")


def export_answers_csv(path: str | os.PathLike, records: Sequence[AnswerRecord],
                       outcomes: Sequence[str] | None = None) -> Path:
    """One row per record (columns `CSV_COLUMNS`); value empty for '?'; status from `record_status`.
    outcomes: the names of T's K > 2 outcomes (None: a binary T): `value` is then the outcome's index and a
    last column, `outcome`, its name."""
    records = list(records)
    status = record_status(records)
    names = list(outcomes) if outcomes is not None and len(outcomes) > 2 else None
    columns = CSV_COLUMNS if names is None else (*CSV_COLUMNS, "outcome")

    def write(f: Any) -> None:

        text = io.TextIOWrapper(f, encoding="utf-8", newline="")
        w = csv.writer(text)
        w.writerow(columns)
        for r in records:
            row = asdict(r)
            row["status"] = status[r.id]
            answered = r.type == "answer" and not math.isnan(r.value)
            if names is None:
                row["value"] = repr(float(r.value)) if answered else ""
            else:
                row["value"] = int(r.value) if answered else ""
                row["outcome"] = names[int(r.value)] if answered and 0 <= r.value < len(names) else ""
            if r.type == "undo":
                row["batch"], row["index"] = "", ""
            w.writerow(["" if row.get(c) is None else row[c] for c in columns])
        text.flush()
        text.detach()

    return atomic_write(path, write)


CAUSAL_SOURCES = {0: "data set image, causal class from its observational class (Algorithm 1)",
                  1: "manipulated image, causal class from the oracle's answer (Algorithm 2)"}


def causal_dataset(experiment: Experiment) -> dict[str, np.ndarray]:
    """The causal data set: the data set's images with their causal class, then every
    manipulated image the oracle answered, with the class of its answer.

    Keys: images (N', H, W) float32, causal_class (N',) int64, source (N',) int8 (see
    CAUSAL_SOURCES), source_index (index into the data set of the image or of the start
    image), iteration (0 for data images), p_causal (P(T=1|man): the class level for data
    images, the oracle's answer for manipulated ones; over K > 2 outcomes (N', K), P(T|man))."""
    exp = experiment
    if exp.causal_labels is None:
        raise ValueError("no causal classes yet: answer the Algorithm 1 queries first")
    n = len(exp.data)
    levels = np.asarray(exp.causal_levels, np.float64)
    images = [exp.data.images]
    labels = [np.asarray(exp.causal_labels, np.int64)]
    source, index = [np.zeros(n, np.int8)], [np.arange(n, dtype=np.int64)]
    iteration, p = [np.zeros(n, np.int64)], [levels[exp.causal_labels]]
    for batch in exp.batches:
        if batch.kind != "algorithm2" or batch.answers is None:
            continue
        answered = known(batch.answers)
        images.append(batch.images[answered].astype(np.float32))
        labels.append(exp.class_of_answer(batch.answers[answered]).astype(np.int64))
        source.append(np.ones(int(answered.sum()), np.int8))
        index.append(np.asarray(batch.source_index)[answered].astype(np.int64))
        iteration.append(np.full(int(answered.sum()), batch.iteration, np.int64))
        p.append(np.asarray(batch.answers, np.float64)[answered])
    return {"images": np.concatenate(images), "causal_class": np.concatenate(labels),
            "source": np.concatenate(source), "source_index": np.concatenate(index),
            "iteration": np.concatenate(iteration), "p_causal": np.concatenate(p)}


def export_causal_dataset(path: PathLike, experiment: Experiment) -> Path:
    """Write `causal_dataset` as an .npz (readable by the data set loader: images +
    causal_class + a JSON meta) atomically."""
    arrays: dict[str, Any] = causal_dataset(experiment)
    meta = {"kind": "viscause causal data set", "dataset": experiment.data.name,
            "source_codes": {str(k): v for k, v in CAUSAL_SOURCES.items()},
            "causal_levels": np.asarray(experiment.causal_levels, np.float64).tolist(),
            "outcomes": list(experiment.outcomes), "config": experiment.config.to_json()}
    return atomic_write(path, lambda f: np.savez_compressed(
        f, meta=np.array(json.dumps(meta, default=json_default)), **arrays))


QUERY_CSV_COLUMNS = ("kind", "iteration", "index", "source_index", "target", "answer", "answered_class",
                     "distance", "p_target", "image_sha256")


def export_queries_csv(path: PathLike, experiment: Experiment) -> Path:
    """One row per queried image of every batch (and the pending one): the oracle's answer
    as the experiment got it (empty when none), its class, the target, the distance. Over K > 2
    outcomes `answer` is the name of the outcome the answer makes most probable, and one last column
    per outcome, `P(<name>)`, holds the answer's probability of it."""
    exp = experiment
    batches = [*exp.batches, *([exp.pending] if exp.pending is not None else [])]
    names = list(exp.outcomes) if exp.n_outcomes > 2 else None
    columns = QUERY_CSV_COLUMNS if names is None else (*QUERY_CSV_COLUMNS, *(f"P({n})" for n in names))

    def write(f: BinaryIO) -> None:
        text = io.TextIOWrapper(f, encoding="utf-8", newline="")
        w = csv.writer(text)
        w.writerow(columns)
        for b in batches:
            shape = (len(b),) if names is None else (len(b), len(names))
            answers = b.answers if b.answers is not None else np.full(shape, np.nan)
            cls = exp.class_of_answer(answers) if exp.causal_levels is not None else np.full(len(b), -1)
            answered = known(answers)
            for i in range(len(b)):
                if names is None:
                    a = float(answers[i])
                    cells = ["" if math.isnan(a) else repr(a)]
                else:
                    cells = [names[int(np.argmax(answers[i]))] if answered[i] else ""]
                row = [b.kind, b.iteration, i, int(b.source_index[i]), _optional_cell(b.targets, i, int), *cells,
                       "" if cls[i] < 0 else int(cls[i]), _optional_cell(b.distances, i),
                       _optional_cell(b.p_target, i), image_hash(b.images[i])]
                if names is not None:
                    row += [repr(float(v)) if answered[i] else "" for v in answers[i]]
                w.writerow(row)
        text.flush()
        text.detach()

    return atomic_write(path, write)


def _optional_cell(values: np.ndarray | None, i: int, cast: Callable = float) -> str:
    """A CSV cell with values[i], empty when the batch has no such values."""
    return "" if values is None else repr(cast(values[i]))
