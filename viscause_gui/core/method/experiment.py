"""Algorithms 1 and 2 as a resumable state machine.

`Experiment.steps()` is a generator: it yields `TrainEvent`s while nets train and a
`QueryBatch` whenever it needs the oracle. The caller answers the batch with
`experiment.answer(values)` (now, or later: a person may take minutes) and iterates on;
a new `steps()` generator continues from the saved state, so the loop can stop and resume.
`Experiment.run(oracle)` does the whole thing with an automatic oracle.
"""
from __future__ import annotations

import copy
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, cast

import numpy as np
from torch import nn

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.data.outcomes import OutcomeError, distance, known, mean_answer, outcome_answers
from viscause_gui.core.method.manifold import PrototypeBank
from viscause_gui.core.method.manipulator import ManipulationResult
from viscause_gui.core.method.manipulator_model import ManipulatorModel
from viscause_gui.core.method.oracles import Oracle
from viscause_gui.core.method.partitions import partition_answers
from viscause_gui.core.method.patches import DonorBank
from viscause_gui.core.method.premise import PremiseRecord, PremiseSettings, review
from viscause_gui.core.method.query_choice import (DEFAULT_CHOICE, QUERY_CHOICES, RANDOM, choose_active, random_queries,
                                                   rows_of)
from viscause_gui.core.nets.augment import jittered, mirrored, translated
from viscause_gui.core.nets.generative import DEFAULT_CODE, DEFAULT_WIDTHS, ConvAutoencoder, autoencoder_spec
from viscause_gui.core.nets.models import default_device, ensemble_proba, new_net
from viscause_gui.core.nets.training import (GENERATIVE_EPOCHS, RobustTraining, TrainConfig, TrainProgress,
                                             generative_config, map_yields, train_steps)

BINARY_MARGIN = 8.0   # ExperimentConfig.binary_margin: see Experiment.manipulator_confidence


@dataclass
class ExperimentConfig:
    iterations: int = 20
    queries: int = 100
    alpha: float = 0.5
    seed: int = 0
    net: dict[str, Any] = field(default_factory=lambda: {"arch": "mlp", "hidden": [100]})
    ensemble: int = 1              # nets trained with different seeds; the manipulator must fool all
    query_weight: float = 20.0     # loss weight of one oracle answer vs one observational image
    representatives: int = 5       # Algorithm 1 queries per observational class
    causal_tol: float = 0.1        # class answers closer than this merge into one causal class
    epochs: int = 30               # first training
    retrain_epochs: int = 5        # later iterations continue from the previous weights
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 0.0
    distance_scale: float | None = None
    confidence: float | None = None  # logit margin the manipulator aims for (None: cross-entropy, or for binary
                                     # images `binary_margin`)
    binary_margin: float = BINARY_MARGIN  # binary images, `confidence` None: the pixel search flips until every
                                   # net puts the image in the target class by this logit margin (a hinge, not
                                   # cross-entropy: see Experiment.manipulator_confidence); 0: cross-entropy (the
                                   # paper's; sessions saved before this field existed)
    adversarial_radius: float = 0.0  # > 0: train with L2-bounded adversarial copies of each batch
                                     # (nets.training.RobustTraining): "a change this small changes nothing"
    augment_shifts: int = 10        # random shifts of each answered image added to training
                                   # (an invariance the experimenter asserts: class ignores position)
    shift_mode: str = "cyclic"      # those shifts: "cyclic" (GRATING's: any offset, wrapped round) or
                                   # "translate" (up to augment.default_max_shift pixels, background filled)
    augment_flips: bool = False     # each answered image's left-right mirror added too (asserted: class
                                   # ignores mirroring); sessions saved before the field existed: no flips
    augment_jitter: int = 0         # jittered copies (a pixel's shift, thicker or thinner strokes) of every
                                   # training image added (an invariance asserted: a class ignores them)
    manipulator: str = "pixels"    # "pixels": search in pixel space (exact flips for binary images);
                                   # "manifold": in the code space of a generative model of the images
    generative_epochs: int = GENERATIVE_EPOCHS   # the generative model's training (manifold search)
    generative_code: int = DEFAULT_CODE          # its code size
    generative_widths: list[int] = field(default_factory=lambda: list(DEFAULT_WIDTHS))  # its two conv layers' widths
    queries_by: str = DEFAULT_CHOICE   # how Algorithm 2 chooses its queries (method.query_choice): "active" (the
                                   # default: the candidates the nets doubt most, of a larger pool) or "random" (the
                                   # paper's; sessions saved before the field existed)
    premise_check: bool = False    # Algorithm 1 checks its premise (method.premise): the data recipe's; off, it is the
                                   # paper's Algorithm 1 (built-in recipes, sessions saved before the field)
    premise_budget: int = 40       # answers Algorithm 1 may ask beyond its representatives where an observational
                                   # class's answers disagree or the evidence is thin (method.premise); 0: none
    premise_alpha: float = 0.01    # 0/1 answers: the rate at which a class whose answers agree is split

    def __post_init__(self) -> None:
        if self.manipulator not in MANIPULATORS:
            raise ValueError(f"manipulator must be one of {', '.join(MANIPULATORS)}, got {self.manipulator!r}")
        if self.queries_by not in QUERY_CHOICES:
            raise ValueError(f"queries_by must be one of {', '.join(QUERY_CHOICES)}, got {self.queries_by!r}")
        if self.shift_mode not in SHIFT_MODES:
            raise ValueError(f"shift_mode must be one of {', '.join(SHIFT_MODES)}, got {self.shift_mode!r}")
        if not (len(self.generative_widths) == 2 and all(isinstance(w, int) and 1 <= w <= 1024
                                                          for w in self.generative_widths)):
            raise ValueError(f"generative_widths must be two integers in 1..1024, got {self.generative_widths!r}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExperimentConfig:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


MANUAL = "manual"            # QueryBatch.kind of images a user sent to the oracle queue
MANIPULATORS = ("pixels", "manifold", "patches")
SHIFT_MODES = ("cyclic", "translate")


@dataclass
class QueryBatch:
    """Images waiting for the oracle. targets/originals only for Algorithm 2."""

    kind: str                      # "algorithm1" | "algorithm2"
    iteration: int
    images: np.ndarray
    source_index: np.ndarray       # index into the data set of each start image
    originals: np.ndarray | None = None
    targets: np.ndarray | None = None
    distances: np.ndarray | None = None
    p_target: np.ndarray | None = None
    answers: np.ndarray | None = None   # P(T=1 | man) per image (B,), NaN = '?'; over K > 2 outcomes (B, K) rows

    def __len__(self) -> int:
        return len(self.images)

    def first(self, n: int) -> QueryBatch:
        """The batch cut to its first n images, each per-image array with it."""
        def head(values: np.ndarray | None) -> np.ndarray | None:
            return None if values is None else values[:n]
        return QueryBatch(self.kind, self.iteration, self.images[:n], self.source_index[:n],
                          originals=head(self.originals), targets=head(self.targets),
                          distances=head(self.distances), p_target=head(self.p_target), answers=head(self.answers))

    @classmethod
    def manual(cls, result: ManipulationResult, originals: np.ndarray, targets: np.ndarray,
               source_index: Sequence[int], iteration: int) -> QueryBatch:
        """A batch (kind MANUAL) of manipulations a user sends to the oracle queue."""
        return cls(MANUAL, int(iteration), np.array(result.images, np.float32),
                   np.asarray(source_index, np.int64), originals=np.array(originals, np.float32),
                   targets=np.asarray(targets, np.int64), distances=np.array(result.distance),
                   p_target=np.array(result.p_target))

    def describe(self, i: int) -> str:
        """Where image i comes from, for a person answering it."""
        if self.kind == "algorithm1":
            return f"Algorithm 1 · representative {i + 1}/{len(self)}"
        if self.kind == "algorithm2":
            return f"Algorithm 2 · iteration {self.iteration} · image {i + 1}/{len(self)}"
        return f"sent by you · {i + 1}/{len(self)}"


@dataclass
class TrainEvent:
    iteration: int
    member: int
    members: int
    progress: TrainProgress
    model: str = "causal"          # "causal": a causal net; "generative": the generative model


@dataclass
class IterationRecord:
    iteration: int
    merr: float
    mdist: float
    n_train: int
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


Event = TrainEvent | QueryBatch


@dataclass
class ExperimentState:
    """Everything an Experiment learned and asked so far (what a session saves and restores)."""

    spec: dict[str, Any]
    nets: list[nn.Module]
    pending: QueryBatch | None
    batches: list[QueryBatch]
    history: list[IterationRecord]
    causal_levels: np.ndarray | None
    obs_to_causal: np.ndarray | None
    obs_answers: np.ndarray | None
    causal_labels: np.ndarray | None
    query_images: np.ndarray
    query_labels: np.ndarray
    iteration: int
    rng: np.random.Generator
    iteration_elapsed: float = 0.0
    generative: ConvAutoencoder | None = None
    premise: PremiseRecord | None = None    # Algorithm 1's check of its premise (None: sessions saved before it)


class ExperimentError(RuntimeError):
    pass


def random_cyclic_shifts(images: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k copies of each image (grey or colour), each rolled by a random (row, column) offset: (k * N, H, W[, C])."""
    n, h, w = images.shape[:3]
    rows = (np.arange(h)[None, :] - rng.integers(0, h, k * n)[:, None]) % h
    cols = (np.arange(w)[None, :] - rng.integers(0, w, k * n)[:, None]) % w
    tiled = np.tile(images, (k,) + (1,) * (images.ndim - 1))
    return tiled[np.arange(k * n)[:, None, None], rows[:, :, None], cols[:, None, :]]


def default_training(config: ExperimentConfig) -> Callable[..., Iterator[TrainProgress]]:
    """The training routine the config asks for (so a saved config rebuilds the same experiment)."""
    if config.adversarial_radius > 0:
        return RobustTraining(radius=config.adversarial_radius)
    return train_steps


def train_generative_model(images: np.ndarray, config: ExperimentConfig, device=None,
                           train_fn: Callable[..., Iterator[TrainProgress]] = train_steps
                           ) -> Generator[TrainProgress, None, ConvAutoencoder]:
    """Generator: the manifold manipulator's generative model of `images`, progress per epoch;
    returns the trained model (same config, same model)."""
    images = np.asarray(images, np.float32)
    spec = autoencoder_spec(images.shape[1:], config.generative_code, config.generative_widths)
    net = cast(ConvAutoencoder, new_net(spec, config.seed * 1000 + 999, device))
    yield from train_fn(net, images, None, None, generative_config(config.seed, config.generative_epochs, len(images)),
                        device)
    return net.eval()


class Experiment:
    def __init__(self, data: Dataset, config: ExperimentConfig | None = None,
                 train_fn: Callable[..., Iterator[TrainProgress]] | None = None):
        """train_fn: the training routine (default: the one `config` asks for, see
        default_training; same signature as nets.training.train_steps)."""
        if data.obs_class is None:
            raise ExperimentError(
                f"{data.name}: Algorithm 1 needs observational classes (run `viscause observe` first)")
        self.data = data
        self.config = config or ExperimentConfig()
        self.binary = data.is_binary
        self.rng = np.random.default_rng(self.config.seed)
        self.device = default_device()
        self.spec = {**self.config.net, "in_shape": list(data.shape)}
        self.train_fn = train_fn or default_training(self.config)
        self.generative_train_fn: Callable[..., Iterator[TrainProgress]] = train_steps
        self.nets: list[nn.Module] = []
        self.generative: ConvAutoencoder | None = None   # the manifold manipulator's model of the images
        self.bank: PrototypeBank | None = None            # its path ends, rebuilt after each training
        self.donors: DonorBank | None = None              # the patch search's donors, rebuilt after each training
        self.pending: QueryBatch | None = None
        self.batches: list[QueryBatch] = []
        self.history: list[IterationRecord] = []
        self.causal_levels: np.ndarray | None = None   # P(T=1|man) of each causal class ((C, K): P(T|man))
        self.obs_to_causal: np.ndarray | None = None
        self.obs_answers: np.ndarray | None = None     # mean oracle answer per obs class ((n, K) rows)
        self.causal_labels: np.ndarray | None = None   # per data image, by Algorithm 1
        self.premise: PremiseRecord | None = None       # Algorithm 1's check of its premise (method.premise)
        self.query_images = np.zeros((0, *data.shape), np.float32)
        self.query_labels = np.zeros(0, np.int64)
        self.iteration = 0
        self._iteration_started = 0.0
        self._iteration_seconds: float | None = None   # frozen once the batch is built: no waiting counted

    # ----- state -----
    @property
    def phase(self) -> str:
        if self.causal_labels is None:
            return "algorithm1"
        return "done" if self.iteration >= self.config.iterations and self.pending is None else "algorithm2"

    @property
    def obs_class(self) -> np.ndarray:
        """The data set's observational classes (the constructor refuses a data set without them)."""
        assert self.data.obs_class is not None
        return self.data.obs_class

    @property
    def learned_labels(self) -> np.ndarray:
        """causal_labels, for what runs only after Algorithm 1 has set them."""
        if self.causal_labels is None:
            raise ExperimentError("no causal classes yet: Algorithm 1 has not finished")
        return self.causal_labels

    @property
    def learned_levels(self) -> np.ndarray:
        """causal_levels, for what runs only after Algorithm 1 has set them."""
        if self.causal_levels is None:
            raise ExperimentError("no causal classes yet: Algorithm 1 has not finished")
        return self.causal_levels

    @property
    def outcomes(self) -> tuple[str, ...]:
        """The names of T's outcomes (the data set's)."""
        return self.data.outcome_names

    @property
    def n_outcomes(self) -> int:
        """K: 2 for a binary T, whose answers are P(T=1) (B,); more, and answers are distributions (B, K)."""
        return self.data.n_outcomes

    @property
    def n_causal_classes(self) -> int:
        return 0 if self.causal_levels is None else len(self.causal_levels)

    @property
    def training_in_progress(self) -> bool:
        """Between the start of an iteration's training and its query batch: the nets are half
        trained (a state that cannot be saved)."""
        return self.causal_labels is not None and self.pending is None and len(self.history) < self.iteration

    def state(self) -> ExperimentState:
        """What the experiment holds now (shared arrays and nets: copy before changing them)."""
        elapsed = self._elapsed()
        return ExperimentState(
            spec=self.spec, nets=list(self.nets), pending=self.pending, batches=list(self.batches),
            history=list(self.history), causal_levels=self.causal_levels, obs_to_causal=self.obs_to_causal,
            obs_answers=self.obs_answers, causal_labels=self.causal_labels, query_images=self.query_images,
            query_labels=self.query_labels, iteration=self.iteration, rng=self.rng, iteration_elapsed=elapsed,
            generative=self.generative, premise=self.premise)

    def restore(self, state: ExperimentState) -> Experiment:
        """Go on from a saved state: the next steps() continues where that experiment stopped."""
        self.spec = dict(state.spec)
        self.nets = list(state.nets)
        self.pending = state.pending
        self.batches = list(state.batches)
        self.history = list(state.history)
        self.causal_levels = state.causal_levels
        self.obs_to_causal = state.obs_to_causal
        self.obs_answers = state.obs_answers
        self.causal_labels = state.causal_labels
        self.query_images = state.query_images
        self.query_labels = state.query_labels
        self.iteration = int(state.iteration)
        self.rng = state.rng
        self.generative, self.bank, self.donors = state.generative, None, None
        self.premise = state.premise
        self._iteration_started = time.perf_counter() - float(state.iteration_elapsed)
        self._iteration_seconds = float(state.iteration_elapsed) if self.pending is not None else None
        return self

    def _elapsed(self) -> float:
        """Seconds of this iteration's work (training, manipulation), not the wait for answers."""
        if self._iteration_seconds is not None:
            return self._iteration_seconds
        started = self._iteration_started
        return max(0.0, time.perf_counter() - started) if started and self.iteration else 0.0

    def rewind(self) -> bool:
        """Undo the start of an iteration whose training was stopped, so steps() redoes it.

        steps() counts an iteration when its training starts; a generator closed during training
        would otherwise make the next one skip that iteration number. Stopped during the first
        training, the half-trained nets are dropped (it starts again with the full epochs).
        """
        if not self.training_in_progress:
            return False
        self.iteration -= 1
        if not self.history:
            self.nets = []
        return True

    def shrink_pending(self, queries: int) -> QueryBatch | None:
        """A waiting Algorithm 2 batch cut to its first `queries` images (a person asked for
        fewer before answering any); the new pending batch, or None when nothing changed."""
        batch = self.pending
        if batch is None or batch.kind != "algorithm2" or batch.answers is not None or len(batch) <= queries:
            return None
        self.pending = batch.first(max(1, int(queries)))
        self.config.queries = int(queries)
        return self.pending

    def snapshot(self) -> Experiment:
        """A frozen copy for readers on other threads: own nets, lists and generator; shared data set,
        generative model and prototype bank (trained once, never changed: only read).

        Relies on the experiment rebinding (never mutating in place) its arrays, which it does.
        """
        snap = copy.copy(self)
        snap.nets = [copy.deepcopy(net) for net in self.nets]
        snap.config = copy.copy(self.config)
        snap.batches = list(self.batches)
        snap.history = list(self.history)
        snap.rng = copy.deepcopy(self.rng)
        snap.pending = None
        return snap

    def add_answers(self, images: np.ndarray, answers: np.ndarray) -> np.ndarray:
        """Add answered images to the causal data (the next training uses them).

        Returns each image's causal class by its answer (-1 for no answer: not added).
        """
        got = self.class_of_answer(answers)
        known = got >= 0
        self.query_images = np.concatenate([self.query_images, np.asarray(images, np.float32)[known]])
        self.query_labels = np.concatenate([self.query_labels, got[known]])
        return got

    # ----- the loop -----
    def steps(self) -> Iterator[Event]:
        """Yield training progress and query batches until the configured iterations are done."""
        while True:
            if self.pending is not None:
                batch = self.pending
                yield batch
                if self.pending is batch and batch.answers is None:
                    raise ExperimentError("the query batch was not answered; call answer() before going on")
                continue
            if self.causal_labels is None:
                self.pending = self._algorithm1_queries()
                continue
            if self.iteration >= self.config.iterations:
                return
            self.iteration += 1
            self._iteration_started, self._iteration_seconds = time.perf_counter(), None
            yield from self._train()
            self.pending = self._algorithm2_queries()
            self._iteration_seconds = self._elapsed()

    def answer(self, answers: np.ndarray) -> None:
        """Give the oracle's P(T=1 | man(I)) for the pending batch (NaN = no answer). With K > 2 outcomes:
        P(T | man(I)), one distribution per image (B, K) (a NaN row = no answer), or one observed outcome
        per image (B,) as its index (NaN = no answer)."""
        batch = self.pending
        if batch is None:
            raise ExperimentError("no query batch is waiting for answers")
        if self.n_outcomes > 2:
            try:
                answers = outcome_answers(answers, len(batch), self.n_outcomes)
            except OutcomeError as exc:
                raise ExperimentError(f"answers over {self.n_outcomes} outcomes: {exc}") from None
        else:
            answers = _binary_answers(answers, len(batch))
        batch.answers = answers
        try:
            if batch.kind == "algorithm1":
                batch = self._finish_algorithm1(batch)
            else:
                self._finish_algorithm2(batch)
        except ExperimentError:
            batch.answers = None          # refused: the batch (still the pending one) waits for usable answers
            raise
        if batch.answers is None:         # Algorithm 1 asks more representatives (method.premise)
            self.pending = batch
            return
        self.batches.append(batch)
        self.pending = None

    def run(self, oracle: Oracle, on_event: Callable[[Event], bool | None] | None = None) -> list[IterationRecord]:
        """Run to the end with an automatic oracle; on_event may return True to stop (resumable)."""
        for event in self.steps():
            if on_event is not None and on_event(event):
                break
            if isinstance(event, QueryBatch):
                self.answer(oracle.answer(event.images))
        return self.history

    # ----- Algorithm 1 -----
    def _algorithm1_queries(self) -> QueryBatch:
        obs = self.obs_class
        picks = []
        for c in np.unique(obs):
            members = np.flatnonzero(obs == c)
            k = min(self.config.representatives, len(members))
            picks.append(self.rng.choice(members, k, replace=False))
        index = np.concatenate(picks)
        return QueryBatch("algorithm1", 0, self.data.images[index], index)

    def _finish_algorithm1(self, batch: QueryBatch) -> QueryBatch:
        """Check the premise on every answer so far (method.premise): returns a batch of more representatives
        to ask, or the answered Algorithm 1 batch (all representatives) once the causal classes are set."""
        assert batch.answers is not None, "answer() gives the batch its answers first"
        earlier = self.premise if self.premise is not None and not self.premise.finished else None
        index = batch.source_index if earlier is None else np.concatenate([earlier.rep_index, batch.source_index])
        answers = batch.answers if earlier is None else np.concatenate([earlier.rep_answers, batch.answers])
        obs = self.obs_class
        missing = [int(c) for c in np.unique(obs) if not np.any(known(answers[obs[index] == c]))]
        if missing:
            raise ExperimentError(f"observational classes {missing} got no answer; answer at least one image each")
        record = None
        if self.config.premise_check:
            step = review(self.data.images, obs, index, answers, self.premise_settings,
                          *((earlier.asked, earlier.rounds) if earlier else (0, 0)), seed=self.config.seed)
            if step.more is not None:
                self.premise = step.record
                return QueryBatch("algorithm1", 0, self.data.images[step.more], step.more)
            assert step.refined is not None and step.answers is not None, "a review that asks no more has both"
            record, refined, class_answers = step.record, step.refined, step.answers
        else:
            refined, class_answers = obs, _class_means(obs, index, answers)
        classes = np.unique(refined)
        means = class_answers[classes]
        causal_of_class = partition_answers(means, self.config.causal_tol)
        if causal_of_class.max() < 1:
            raise ExperimentError("all observational classes got the same causal answer: "
                                  "there is only one causal class, nothing to manipulate")
        self.premise = record
        self.obs_answers = means
        self.obs_to_causal = np.zeros(classes.max() + 1, np.int64)
        self.obs_to_causal[classes] = causal_of_class
        self.causal_levels = np.array([mean_answer(means[causal_of_class == k])
                                       for k in range(causal_of_class.max() + 1)])
        self.causal_labels = self.obs_to_causal[refined]
        if earlier is None:
            return batch
        return QueryBatch("algorithm1", 0, self.data.images[index], index, answers=answers)

    @property
    def premise_settings(self) -> PremiseSettings:
        c = self.config
        return PremiseSettings(tolerance=c.causal_tol, alpha=c.premise_alpha, budget=c.premise_budget,
                               per_part=c.representatives)

    def class_of_answer(self, answers: np.ndarray) -> np.ndarray:
        """Causal class whose level is nearest each answer (-1 for NaN): |answer − level| for a binary T,
        the total variation distance between distributions over K > 2 outcomes."""
        answers = np.asarray(answers, np.float64)
        levels = self.learned_levels
        if levels.ndim == 1:
            out = np.abs(answers[:, None] - levels[None]).argmin(1)
            out[~np.isfinite(answers)] = -1
            return out
        answers = answers.reshape(-1, levels.shape[1])
        out = distance(answers[:, None, :], levels[None]).argmin(1)
        out[~known(answers)] = -1
        return out

    # ----- Algorithm 2 -----
    def _training_set(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        q_images, q_labels = self.query_images, self.query_labels
        q_weight = np.full(len(q_labels), self.config.query_weight)
        if self.config.augment_flips and len(q_labels):           # declared: a mirror image is the same image
            q_images = np.concatenate([q_images, mirrored(q_images)])
            q_labels = np.tile(q_labels, 2)
        k = self.config.augment_shifts
        if k and len(q_labels):
            shift = random_cyclic_shifts if self.config.shift_mode == "cyclic" else translated
            shifted = shift(q_images, k, self.rng)
            q_images = np.concatenate([q_images, shifted])
            q_labels = np.concatenate([q_labels, np.tile(q_labels, k)])
        copies = len(q_labels) // max(len(self.query_labels), 1)
        if copies > 1:                                             # one answer weighs the same, however many copies
            q_weight = np.full(len(q_labels), self.config.query_weight / copies)
        images = np.concatenate([self.data.images, q_images])
        labels = np.concatenate([self.learned_labels, q_labels])
        weights = np.concatenate([np.ones(len(self.data)), q_weight])
        j = self.config.augment_jitter
        if j:
            jitters = jittered(images, j, seed=self.config.seed * 1000 + self.iteration, max_shift=1, noise=0.0)
            images = np.concatenate([images, jitters])
            labels, weights = np.tile(labels, j + 1), np.tile(weights, j + 1)
        return images, labels, weights

    @property
    def uses_manifold(self) -> bool:
        """The manifold manipulator searches (grey or colour images, config.manipulator 'manifold')."""
        return self.config.manipulator == "manifold" and not self.binary

    def _train_generative(self) -> Iterator[TrainEvent]:
        """The generative model of the images, once, before the first causal training."""
        steps = train_generative_model(self.data.images, self.config, self.device, self.generative_train_fn)
        self.generative = yield from map_yields(steps, lambda p: TrainEvent(self.iteration, 0, 1, p,
                                                                            model="generative"))

    def _train(self) -> Iterator[TrainEvent]:
        if self.uses_manifold and self.generative is None:
            yield from self._train_generative()
        images, labels, weights = self._training_set()
        first = not self.nets
        if first:
            spec = {**self.spec, "n_classes": self.n_causal_classes}
            self.spec = spec
            self.nets = [new_net(spec, self.config.seed * 1000 + m, self.device) for m in range(self.config.ensemble)]
        for m, net in enumerate(self.nets):
            cfg = TrainConfig(epochs=self.config.epochs if first else self.config.retrain_epochs,
                              batch_size=self.config.batch_size, lr=self.config.lr,
                              weight_decay=self.config.weight_decay,
                              patience=5 if first else self.config.retrain_epochs,
                              seed=self.config.seed * 1000 + self.iteration * 10 + m)
            for p in self.train_fn(net, images, labels, weights, cfg, self.device):
                yield TrainEvent(self.iteration, m, len(self.nets), p)
        self.bank = self.donors = None
        if self.uses_manifold and self.generative is not None:
            self.prototype_bank()       # built here, in the training thread: readers get it ready-made
        if self.uses_patches:
            self.donor_bank()

    def _algorithm2_queries(self) -> QueryBatch:
        """Q start images with their targets, chosen as config.queries_by says, and their manipulations."""
        q, k = self.config.queries, self.n_causal_classes
        if self.config.queries_by == RANDOM:
            index, targets = random_queries(self.rng, self.learned_labels, k, q)
            result = self.manipulate(self.data.images[index], targets)
        else:
            choice, pool = choose_active(
                self.data.images, self.learned_labels, k, q, self.nets, self.manipulate, self.rng,
                shifts=self.config.augment_shifts > 0 and self.config.shift_mode == "cyclic",
                jitter=self.config.augment_jitter > 0,
                seed=self.config.seed * 1000 + self.iteration, past=self._past_failures())
            index, targets = choice.index, choice.targets
            result = rows_of(pool, choice.chosen)
        return QueryBatch("algorithm2", self.iteration, result.images, index,
                          originals=self.data.images[index], targets=targets,
                          distances=result.distance, p_target=result.p_target)

    def _past_failures(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(targets, failed) of every answered Algorithm 2 batch, oldest first."""
        return [(b.targets, self.class_of_answer(b.answers) != b.targets) for b in self.batches
                if b.kind == "algorithm2" and b.answers is not None and b.targets is not None]

    def _finish_algorithm2(self, batch: QueryBatch) -> None:
        assert batch.answers is not None and batch.targets is not None and batch.distances is not None, \
            "an Algorithm 2 batch has targets and distances, and answer() gave it its answers"
        got = self.add_answers(batch.images, batch.answers)
        known = got >= 0
        self.history.append(IterationRecord(
            iteration=batch.iteration,
            merr=float(np.mean(got != batch.targets)),
            mdist=float(np.mean(batch.distances)),
            n_train=int(len(self.data) + len(self.query_labels) - known.sum()),
            seconds=float(self._elapsed()),
        ))

    # ----- using the learned nets -----
    def manipulate(self, images: np.ndarray, targets: np.ndarray, alpha: float | None = None) -> ManipulationResult:
        if not self.nets:
            raise ExperimentError("no causal net yet: run Algorithm 1 and train first")
        return self._manipulator(copy_nets=False).manipulate(images, targets,
                                                             self.config.alpha if alpha is None else alpha)

    def prototype_bank(self) -> PrototypeBank:
        """The manifold search's path ends: real images of each causal class the nets agree on."""
        if self.bank is None:
            if self.generative is None or not self.nets:
                raise ExperimentError("the manifold manipulator needs a trained generative model and causal net")
            self.bank = PrototypeBank.build(self.generative, self.nets, self.data.images, self.learned_labels,
                                            seed=self.config.seed)
        return self.bank

    @property
    def uses_patches(self) -> bool:
        """The patch manipulator searches (config.manipulator 'patches')."""
        return self.config.manipulator == "patches"

    def donor_bank(self) -> DonorBank:
        """The patch search's donors: real images of each causal class the nets agree on."""
        if self.donors is None:
            if not self.nets:
                raise ExperimentError("the patch manipulator needs a trained causal net")
            self.donors = DonorBank.build(self.nets, self.data.images, self.learned_labels, seed=self.config.seed)
        return self.donors

    def predict_causal(self, images: np.ndarray) -> np.ndarray:
        """Mean ensemble class probabilities (N, K)."""
        if not self.nets:
            raise ExperimentError("no causal net yet")
        return ensemble_proba(self.nets, images)

    def manipulator_model(self) -> ManipulatorModel:
        """The manipulator with copies of the nets (call only while no other thread trains them)."""
        if not self.nets or self.causal_levels is None:
            raise ExperimentError("the experiment has no trained causal net yet")
        return self._manipulator(copy_nets=True)

    @property
    def manipulator_confidence(self) -> float | None:
        """The logit margin the manipulator aims for: config.confidence when set; else, for binary images,
        config.binary_margin (None when 0: the paper's cross-entropy).

        Why a margin for binary images: with cross-entropy and alpha = 1/2 the greedy flips stop once the
        net is about 90 % sure, and a net half-way through learning a boundary is that sure of images
        just short of it (on GRATING: a row of 8-9 pixels taken for an h-bar). Those manipulations fail,
        and each retraining moves the boundary only one pixel further. Asking every net for a margin of
        `binary_margin` logits (P >= 0.9997 at 8) makes the search go on until the image is deep in the
        target class as the nets see it: the row gets completed, and a net whose boundary is still
        wrong is wrong far less often. The loss is the cross-entropy plus the hinge counted in units of
        twice the margin (manipulator._worst_loss), so once the nets are sure only flips that buy a real
        part of the margin are taken. GRATING, truth oracle, seeds 0-4, true MErr of 500 random
        manipulations (benchmarks/bench_queries.py), active choice: 30.8 % -> 2.7 % with 100 answers,
        4.8 % -> 1.1 % with 200; MDist 5.0 -> 5.9-6.1 flips, the v-bar kept by 97-99 % of the
        manipulations (before: 100 %). The loop sees nothing but the oracle's answers; the margin is a
        property of the search alone. Measured the same way (100 / 200 answers), other losses: the hinge
        alone, in logits: 2.2 % / 0.9 %, MDist 6.6-7.0, v-bar kept 91 %; the hinge alone in units of 16
        logits: 3.1 % / 0.5 %, but a net that is still unsure (few epochs) gets no flip at all; margin 12:
        1.6 % / 0.1 %, MDist 6.6-6.7, v-bar kept 93-94 %; hinge alone, margin 4: 28.7 % / 2.7 %, margin 6:
        11.1 % / 1.3 %, margin 6 with answers weighing 100: 4.0 % / 0.7 %; 10 retraining epochs instead
        of 5 (margin 4): 35.7 % / 4.1 %, no gain.
        """
        if self.config.confidence is not None:
            return self.config.confidence
        return float(self.config.binary_margin) if self._binary_margin_on else None

    @property
    def _binary_margin_on(self) -> bool:
        return self.config.confidence is None and self.binary and self.config.binary_margin > 0

    def _manipulator(self, copy_nets: bool) -> ManipulatorModel:
        """The manipulator with the experiment's settings: the manifold search once there is a
        generative model, else the pixel search; its own copies of the nets, or these nets."""
        manifold = (self.generative, self.prototype_bank()) if self.uses_manifold and self.generative is not None \
            else None
        make = ManipulatorModel.copy_of if copy_nets else ManipulatorModel.sharing
        return make(self.nets, self.learned_levels, self.binary, self.config.distance_scale,
                    self.manipulator_confidence, self.iteration, manifold,
                    self.donor_bank() if self.uses_patches else None)

    def p_causal(self, images: np.ndarray) -> np.ndarray:
        """P(T=1 | man(I)) predicted: class probabilities weighted by the class levels (K > 2 outcomes:
        P(T | man(I)), (N, K))."""
        return self.predict_causal(images) @ self.learned_levels


def _class_means(obs: np.ndarray, index: np.ndarray, answers: np.ndarray) -> np.ndarray:
    """The paper's Algorithm 1: the mean answer of each observational class's representatives
    (indexed by class; NaN for a class without one). Over K > 2 outcomes the mean of their
    distributions (a single observed outcome counts as its one-hot row)."""
    means = np.full((int(obs.max()) + 1, *answers.shape[1:]), np.nan)
    for c in np.unique(obs):
        mine = answers[obs[index] == c]
        if answers.ndim == 1:
            if np.any(np.isfinite(mine)):
                means[c] = np.nanmean(mine)
        elif np.any(known(mine)):
            means[c] = mine[known(mine)].mean(axis=0)
    return means


def _binary_answers(answers: np.ndarray, n: int) -> np.ndarray:
    """A binary T's answers as P(T=1) (n,), NaN = '?'; (n, 2) distributions give their second column."""
    values = np.asarray(answers, np.float64)
    if values.shape == (n, 2):
        try:
            values = outcome_answers(values, n, 2)[:, 1]
        except OutcomeError as exc:
            raise ExperimentError(f"answers over 2 outcomes: {exc}") from None
    values = values.reshape(-1)
    if values.shape != (n,):
        raise ExperimentError(f"expected {n} answers, got {values.shape[0]}")
    finite = values[np.isfinite(values)]
    if np.any((finite < 0) | (finite > 1)):
        raise ExperimentError("answers are probabilities P(T=1) and must lie in [0, 1]")
    return values
