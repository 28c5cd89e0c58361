"""Data sets that ship with the project (sample_data/) or with scikit-learn; the experiments
register them by name (core.experiments.registry)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from viscause_gui.core.data.dataset import Dataset
from viscause_gui.core.data.readers import file_error, load_npz

SAMPLE_DATA_ENV = "VISCAUSE_SAMPLE_DATA"


def sample_data_dir() -> Path:
    """The sample_data folder: $VISCAUSE_SAMPLE_DATA or the one beside the package."""
    env = os.environ.get(SAMPLE_DATA_ENV)
    return Path(env) if env else Path(__file__).resolve().parents[3] / "sample_data"


def load_digits8x8() -> Dataset:
    from sklearn.datasets import load_digits  # imported when used: scikit-learn takes ~1 s to import

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)
    meta = {"source": "sklearn.datasets.load_digits (UCI Optical Recognition of Handwritten Digits)",
            "licence": "scikit-learn BSD-3-Clause; UCI data set CC BY 4.0"}
    return Dataset(images=images, labels=digits.target.astype(np.int64), meta=meta, name="digits8x8")


def load_mnist_subset() -> Dataset:
    path = sample_data_dir() / "mnist_subset.npz"
    if not path.is_file():
        raise file_error(path, "the MNIST subset is missing; create it with "
                          "`python scripts/make_mnist_subset.py` (or set $VISCAUSE_SAMPLE_DATA)")
    ds = load_npz(path)
    ds.name = "mnist_subset"
    return ds
