"""``load_digits()``: the UCI ML optical recognition of handwritten digits data (8×8 images, 1797 samples),
shipped with numbagrad so it works offline.

Source and attribution: E. Alpaydin and C. Kaynak (1998), "Optical Recognition of Handwritten Digits",
UCI Machine Learning Repository, https://doi.org/10.24432/C50P49, licensed under Creative Commons
Attribution 4.0 (CC BY 4.0). The file ``digits.csv.gz`` is the test part of that dataset (1797 images, as
distributed with scikit-learn): each row is the 64 pixel counts (0–16, row-major 8×8) and the label.
32×32 bitmaps from NIST forms were divided into non-overlapping 4×4 blocks and the on pixels counted.
"""
import gzip
import os

import numpy as np

import autograd as ag

_PATH = os.path.join(os.path.dirname(__file__), "digits.csv.gz")
_cache = None


def _raw():
    global _cache
    if _cache is None:
        with gzip.open(_PATH, "rt") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.int64)
        _cache = table[:, :-1], table[:, -1]
    return _cache


def load_digits(n_class=10, *, as_images=False, dtype=None):
    """The 8×8 handwritten digits: ``X, y = load_digits()``.

    ``X`` float32 (``dtype`` to change) of shape (1797, 64), pixel counts 0–16 (divide by 16 to scale to
    [0, 1]); ``as_images=True`` gives shape (N, 1, 8, 8) for convolutional models. ``y`` int64 labels
    0–9. ``n_class`` keeps the digits 0 … n_class−1, as scikit-learn's ``load_digits``.
    """
    if not 1 <= n_class <= 10:
        raise ValueError(f"load_digits: n_class must be between 1 and 10, got {n_class}")
    pixels, labels = _raw()
    keep = labels < n_class
    X = pixels[keep].astype(np.float64)
    if as_images:
        X = X.reshape(-1, 1, 8, 8)
    return ag.tensor(X).to(dtype or ag.float32), ag.tensor(labels[keep].copy())
