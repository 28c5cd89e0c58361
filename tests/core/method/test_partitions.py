
import numpy as np
import pytest

from viscause_gui.core.experiments.grating import GratingModel
from viscause_gui.core.method.partitions import partition_from_values, partition_relation, spurious_classes

# ----------------------------------------------------------------------------- label helpers

def test_partition_from_values_groups_within_tol_and_orders_by_value():
    labels = partition_from_values([0.7, 0.1, 0.1004, 0.4, 0.7009, 1.0])
    assert labels.tolist() == [2, 0, 0, 1, 2, 3]
    assert labels.dtype.kind == "i"


def test_partition_from_values_tolerance_and_edge_cases():
    assert partition_from_values([0.1, 0.15, 0.2], tol=0.1).tolist() == [0, 0, 0]  # a chain of small gaps
    assert partition_from_values([0.1, 0.15, 0.2], tol=0.01).tolist() == [0, 1, 2]
    assert partition_from_values([]).tolist() == []
    assert partition_from_values([0.3]).tolist() == [0]
    with pytest.raises(ValueError):
        partition_from_values([0.1, np.nan])


def test_spurious_classes_number_observational_classes_inside_each_causal_class():
    obs = np.array([0, 1, 2, 3, 3, 1, 0, 2])
    causal = np.array([0, 0, 1, 1, 1, 0, 0, 1])  # GRATING: {none, v-bar} vs {h-bar, both}
    assert spurious_classes(obs, causal).tolist() == [0, 1, 0, 1, 1, 1, 0, 0]
    # one causal class holding three observational classes, ids not contiguous
    assert spurious_classes([5, 2, 9, 2], [0, 0, 0, 0]).tolist() == [1, 0, 2, 0]
    with pytest.raises(ValueError):
        spurious_classes([0, 1], [0])


def test_spurious_classes_on_grating_truth():
    data = GratingModel().sample(500, seed=3)
    s = spurious_classes(data.obs_class, data.causal_class)
    assert np.array_equal(s, data.obs_class % 2)  # S = the v-bar, inside either causal class


def test_partition_relation():
    assert partition_relation([0, 1, 2], [0, 1, 2]) == "equal"
    assert partition_relation([0, 1, 2, 3], [0, 0, 1, 1]) == "causal_coarsens_observational"
    assert partition_relation([0, 0, 1], [0, 1, 2]) == "observational_coarsens_causal"
    assert partition_relation([0, 0, 1], [0, 1, 1]) == "incompatible"


# ----------------------------------------------------------------------------- CCT


# ----------------------------------------------------------------------------- observational fit

