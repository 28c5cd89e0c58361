"""The run settings model (gui.models.run_form): one set of keys, checked values, old keys read."""
from __future__ import annotations

import pytest

from viscause_gui.gui.models.run_form import RunForm


def test_a_change_reaches_the_listeners_with_the_changed_keys():
    form, heard = RunForm(), []
    form.subscribe(heard.append)
    assert form.set(queries=20, seed=0) == {"queries"}
    form.set(queries=20)
    assert heard == [{"queries"}]


@pytest.mark.parametrize("values", [{"queries": 0}, {"alpha": 1.5}, {"seed": 0.5}, {"oracle": "nobody"},
                                    {"iterations": True}, {"queries_by": "psychic"}, {"nonsense": 1}])
def test_a_bad_value_is_refused_and_nothing_changes(values):
    form = RunForm()
    with pytest.raises(ValueError):
        form.set(**{"label": 9, **values})
    assert form == RunForm()


def test_update_takes_each_good_value_on_its_own_and_old_names():
    form = RunForm(oracle="model")
    changed = form.update({"retrain": 3, "alpha": 1, "queries": "many", "oracle": "truth", "label": 4},
                          oracles=("model", "human"))
    assert changed == {"retrain_epochs", "alpha", "label"} and form.alpha == 1.0 and form.oracle == "model"
    assert form.to_json()["retrain_epochs"] == 3 and "retrain" not in form.to_json()
