import numpy as np
import pytest

from viscause_gui.core.experiments.grating import GratingModel, SampledTruthOracle, TruthOracle, has_hbar
from viscause_gui.core.method.experiment import Experiment, ExperimentConfig, ExperimentError, QueryBatch, TrainEvent
from viscause_gui.core.method.oracles import ModelOracle
from viscause_gui.core.nets.training import RobustTraining

SMALL = dict(iterations=3, queries=30, epochs=8, retrain_epochs=2)


@pytest.fixture(scope="module")
def grating():
    model = GratingModel()
    return model, model.sample(2000, 0)


def test_algorithm1_finds_the_causal_classes(grating):
    model, data = grating
    exp = Experiment(data, ExperimentConfig(**SMALL))
    batch = next(exp.steps())
    assert isinstance(batch, QueryBatch) and batch.kind == "algorithm1"
    assert len(batch) == 4 * exp.config.representatives         # a few per observational class
    exp.answer(TruthOracle(model).answer(batch.images))
    # obs classes none / v-bar merge into causal class 0, h-bar / both into 1
    assert exp.obs_to_causal.tolist() == [0, 0, 1, 1]
    np.testing.assert_allclose(exp.causal_levels, [0.25, 0.85])
    assert np.array_equal(exp.causal_labels, has_hbar(data.images).astype(int))


def test_full_loop_records_history_and_learns_hbar(grating):
    model, data = grating
    exp = Experiment(data, ExperimentConfig(**SMALL))
    events = []
    history = exp.run(TruthOracle(model), on_event=lambda e: events.append(e) and False)
    assert [r.iteration for r in history] == [1, 2, 3]
    assert all(0 <= r.merr <= 1 and r.mdist > 0 for r in history)
    assert history[1].n_train > history[0].n_train
    assert any(isinstance(e, TrainEvent) for e in events)
    assert exp.phase == "done"
    fresh = GratingModel().sample(500, 99)
    acc = (exp.predict_causal(fresh.images).argmax(1) == fresh.causal_class).mean()
    assert acc > 0.95


@pytest.mark.slow
def test_same_seed_same_result_and_resume_equals_uninterrupted(grating):
    model, data = grating
    oracle = TruthOracle(model)
    whole = Experiment(data, ExperimentConfig(**SMALL, seed=3))
    whole.run(oracle)
    paused = Experiment(data, ExperimentConfig(**SMALL, seed=3))
    paused.run(oracle, on_event=lambda e: isinstance(e, QueryBatch) and e.iteration == 2)
    assert len(paused.history) == 1 and paused.pending is not None   # stopped at iteration 2's batch
    paused.run(oracle)                                                # a new generator resumes
    assert [r.to_json()["merr"] for r in paused.history] == [r.merr for r in whole.history]
    assert [r.mdist for r in paused.history] == [r.mdist for r in whole.history]


def test_human_can_answer_later_and_unanswered_batch_is_an_error(grating):
    model, data = grating
    exp = Experiment(data, ExperimentConfig(**SMALL))
    steps = exp.steps()
    batch = next(steps)
    with pytest.raises(ExperimentError):
        next(steps)                    # going on without answers is refused
    with pytest.raises(ExperimentError):
        exp.answer(np.ones(3))         # wrong count
    with pytest.raises(ExperimentError):
        exp.answer(np.full(len(batch), 2.0))
    exp.answer(TruthOracle(model).answer(batch.images))
    assert exp.phase == "algorithm2"


def test_unknown_answers_count_as_errors_and_are_not_trained_on(grating):
    model, data = grating
    exp = Experiment(data, ExperimentConfig(**{**SMALL, "iterations": 1}))
    for event in exp.steps():
        if isinstance(event, QueryBatch):
            answers = TruthOracle(model).answer(event.images)
            if event.kind == "algorithm2":
                answers[:] = np.nan
            exp.answer(answers)
    assert exp.history[0].merr == 1.0
    assert len(exp.query_labels) == 0


def test_noisy_oracle_and_model_oracle_run(grating):
    model, data = grating
    exp = Experiment(data, ExperimentConfig(**{**SMALL, "iterations": 1, "representatives": 40, "causal_tol": 0.25}))
    exp.run(SampledTruthOracle(model, samples=5, seed=0))
    assert exp.n_causal_classes == 2
    judge = ModelOracle(exp.nets[0], positive=1, unsure=0.1)
    answers = judge.answer(data.images[:50])
    assert answers.shape == (50,) and np.all(np.isnan(answers) | ((answers >= 0) & (answers <= 1)))


def test_needs_observational_classes(grating):
    _, data = grating
    bare = data.subset(np.arange(10))
    bare.obs_class = None
    with pytest.raises(ExperimentError, match="observational classes"):
        Experiment(bare)


def test_config_chooses_the_training_routine(grating):
    from viscause_gui.core.experiments import mnist
    from viscause_gui.core.nets.training import train_steps

    _, data = grating
    assert Experiment(data, ExperimentConfig()).train_fn is train_steps
    robust = Experiment(data, ExperimentConfig(adversarial_radius=1.5)).train_fn
    assert isinstance(robust, RobustTraining) and robust.radius == 1.5
    assert mnist.experiment_config().adversarial_radius > 0      # a saved MNIST config rebuilds it


class _PersonClock:
    """time.perf_counter for the experiment module, plus the idle time of a person we pretend passed."""

    def __init__(self):
        import time
        self._real, self.idle = time.perf_counter, 0.0

    def perf_counter(self) -> float:
        return self._real() + self.idle


def _answer_slowly(exp: Experiment, oracle, clock: _PersonClock, seconds: float = 600.0) -> None:
    for event in exp.steps():
        if isinstance(event, QueryBatch):
            clock.idle += seconds                      # a person looks at the batch for ten minutes
            exp.answer(oracle.answer(event.images))


def test_seconds_count_the_machines_work_not_the_wait_for_a_person(grating, monkeypatch):
    import viscause_gui.core.method.experiment as experiment_module
    model, data = grating
    clock = _PersonClock()
    monkeypatch.setattr(experiment_module, "time", clock)
    exp = Experiment(data, ExperimentConfig(**{**SMALL, "iterations": 2}))
    _answer_slowly(exp, TruthOracle(model), clock)
    assert [r.iteration for r in exp.history] == [1, 2]
    assert all(0 < r.seconds < 60 for r in exp.history), [r.seconds for r in exp.history]


def test_seconds_survive_a_session_saved_while_a_person_answers(grating, monkeypatch):
    import viscause_gui.core.method.experiment as experiment_module
    model, data = grating
    clock = _PersonClock()
    monkeypatch.setattr(experiment_module, "time", clock)
    config = ExperimentConfig(**{**SMALL, "iterations": 1})
    exp = Experiment(data, config)
    exp.run(TruthOracle(model), on_event=lambda e: isinstance(e, QueryBatch) and e.kind == "algorithm2")
    assert exp.pending is not None and exp.pending.kind == "algorithm2"
    clock.idle += 600                                  # the person waits, then the session is saved
    state = exp.state()
    assert state.iteration_elapsed < 60
    clock.idle += 600                                  # reopened later; the person answers after a while
    again = Experiment(data, config).restore(state)
    clock.idle += 600
    again.answer(TruthOracle(model).answer(again.pending.images))
    assert 0 < again.history[0].seconds < 60, again.history[0].seconds
