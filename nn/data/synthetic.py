"""Synthetic datasets that work offline, with scikit-learn's signatures and generating processes:
``make_moons, make_circles, make_blobs, make_regression``, plus ``make_spirals`` (the CS231n spirals) and
``polynomial_features``.

Each returns Tensors: ``X`` (float32 unless ``dtype`` says otherwise) and ``y`` (int64 class labels, or
floats for regression). ``random_state``: an int seeds a generator of its own; None draws from numbagrad's
seeded default generator (``autograd.manual_seed``). The numbers differ from scikit-learn's (another
random generator), the distributions are the same.
"""
import itertools
import numbers

import numpy as np

import autograd as ag

from ._common import check_positive_int, float_tensor, label_tensor, resolve_rng


def _split_counts(n_samples, parts, where):
    if isinstance(n_samples, numbers.Integral) and not isinstance(n_samples, bool):
        n_samples = check_positive_int(n_samples, "n_samples", where, minimum=0)
        counts = [n_samples // parts] * parts
        if parts == 2:  # scikit-learn: outer gets n // 2, inner the rest
            counts = [n_samples // 2, n_samples - n_samples // 2]
        else:
            for i in range(n_samples % parts):
                counts[i] += 1
        return counts
    counts = [int(c) for c in n_samples]
    if len(counts) != parts:
        raise ValueError(f"{where}: n_samples as a sequence needs {parts} counts (one per class), got {len(counts)}")
    return counts


def _finish(X, y, shuffle, noise, rng, dtype, labels=True):
    if shuffle:
        order = rng.permutation(len(X))
        X, y = X[order], y[order]
    if noise is not None and noise > 0:
        X = X + rng.normal(scale=noise, size=X.shape)
    return float_tensor(X, dtype), (label_tensor(y) if labels else float_tensor(y, dtype))


def make_moons(n_samples=100, *, shuffle=True, noise=None, random_state=None, dtype=None):
    """Two interleaving half circles (labels 0 and 1); ``noise``: std of Gaussian noise added to the
    points. ``n_samples`` an int or a pair (outer, inner)."""
    n_out, n_in = _split_counts(n_samples, 2, "make_moons")
    rng = resolve_rng(random_state)
    t_out, t_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_in)
    X = np.vstack([np.append(np.cos(t_out), 1 - np.cos(t_in)),
                   np.append(np.sin(t_out), 1 - np.sin(t_in) - 0.5)]).T
    y = np.hstack([np.zeros(n_out, np.int64), np.ones(n_in, np.int64)])
    return _finish(X, y, shuffle, noise, rng, dtype)


def make_circles(n_samples=100, *, shuffle=True, noise=None, random_state=None, factor=0.8, dtype=None):
    """A large circle (label 0) around a smaller one (label 1) of radius ``factor``; ``noise``: std of
    Gaussian noise added to the points."""
    if not 0 <= factor < 1:
        raise ValueError(f"make_circles: factor has to be between 0 and 1, got {factor}")
    n_out, n_in = _split_counts(n_samples, 2, "make_circles")
    rng = resolve_rng(random_state)
    t_out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    t_in = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
    X = np.vstack([np.append(np.cos(t_out), factor * np.cos(t_in)),
                   np.append(np.sin(t_out), factor * np.sin(t_in))]).T
    y = np.hstack([np.zeros(n_out, np.int64), np.ones(n_in, np.int64)])
    return _finish(X, y, shuffle, noise, rng, dtype)


def make_spirals(n_samples=300, n_classes=3, *, noise=None, random_state=None, shuffle=True, dtype=None):
    """``n_classes`` interleaved spiral arms in 2-D (the CS231n spirals), radius 0 → 1, labels
    0 … n_classes−1; ``noise``: std of Gaussian noise added to the points (0.1 makes a hard problem)."""
    n_classes = check_positive_int(n_classes, "n_classes", "make_spirals")
    counts = _split_counts(n_samples, n_classes, "make_spirals")
    rng = resolve_rng(random_state)
    Xs, ys = [], []
    for k, m in enumerate(counts):
        r = np.linspace(0.0, 1.0, m)
        t = np.linspace(0.0, 4.0, m) + 2 * np.pi * k / n_classes  # each arm turns 4 rad, arms evenly spaced
        Xs.append(np.c_[r * np.sin(t), r * np.cos(t)])
        ys.append(np.full(m, k, np.int64))
    return _finish(np.concatenate(Xs), np.concatenate(ys), shuffle, noise, rng, dtype)


def make_blobs(n_samples=100, n_features=2, *, centers=None, cluster_std=1.0, center_box=(-10.0, 10.0),
               shuffle=True, random_state=None, dtype=None):
    """Isotropic Gaussian blobs: ``centers`` an int (3 by default, drawn uniformly in ``center_box``) or
    an array of centres; ``cluster_std`` one std or one per centre."""
    rng = resolve_rng(random_state)
    if centers is None or isinstance(centers, numbers.Integral):
        n_centers = 3 if centers is None else int(centers)
        centers = rng.uniform(center_box[0], center_box[1], size=(n_centers, n_features))
    else:
        centers = np.asarray(centers, dtype=np.float64)
        n_features = centers.shape[1]
    stds = np.broadcast_to(np.asarray(cluster_std, dtype=np.float64), (len(centers),))
    counts = _split_counts(n_samples, len(centers), "make_blobs")
    X = np.concatenate([rng.normal(c, s, size=(m, n_features)) for c, s, m in zip(centers, stds, counts)])
    y = np.concatenate([np.full(m, k, np.int64) for k, m in enumerate(counts)])
    return _finish(X, y, shuffle, None, rng, dtype)


def make_regression(n_samples=100, n_features=100, *, n_informative=10, n_targets=1, bias=0.0, noise=0.0,
                    shuffle=True, coef=False, random_state=None, dtype=None):
    """A random linear regression problem, as scikit-learn's: ``X`` standard normal, ``y = X·w + bias +
    noise`` with only ``n_informative`` non-zero weights, each uniform in [0, 100); ``noise`` the std of
    the Gaussian noise on ``y``. ``y`` has shape (n,) when ``n_targets == 1``. With ``coef=True`` the true
    weights ``w`` are returned too: ``X, y, w``."""
    n_samples = check_positive_int(n_samples, "n_samples", "make_regression")
    n_features = check_positive_int(n_features, "n_features", "make_regression")
    n_informative = min(n_features, n_informative)
    rng = resolve_rng(random_state)
    X = rng.standard_normal(size=(n_samples, n_features))
    w = np.zeros((n_features, n_targets))
    w[:n_informative] = 100 * rng.uniform(size=(n_informative, n_targets))
    y = X @ w + bias
    if noise > 0.0:
        y = y + rng.normal(scale=noise, size=y.shape)
    if shuffle:
        order = rng.permutation(n_samples)
        X, y = X[order], y[order]
        columns = rng.permutation(n_features)
        X, w = X[:, columns], w[columns]
    X, y = float_tensor(X, dtype), float_tensor(np.squeeze(y, axis=1) if n_targets == 1 else y, dtype)
    return (X, y, float_tensor(np.squeeze(w, axis=1) if n_targets == 1 else w, dtype)) if coef else (X, y)


def polynomial_features(X, degree=2, *, include_bias=False, interaction_only=False):
    """Every product of the columns of ``X`` of degree 1 … ``degree`` (scikit-learn's
    ``PolynomialFeatures`` order: x1, x2, x1², x1·x2, x2², ...); a 1-D ``X`` is one feature, giving
    x, x², …, x^degree. ``include_bias=True`` puts a column of ones first (off by default: a ``Linear``
    layer has its own bias). Written with Tensor ops, so gradients flow through it."""
    degree = check_positive_int(degree, "degree", "polynomial_features")
    X = X if isinstance(X, ag.Tensor) else ag.tensor(np.asarray(X, dtype=np.float64))
    if X.ndim == 1:
        X = X.unsqueeze(1)
    if X.ndim != 2:
        raise ValueError(f"polynomial_features: X must be 1-D or 2-D (samples, features), got shape {tuple(X.shape)}")
    n_features = X.shape[1]
    columns = [X[:, i] for i in range(n_features)]
    combine = itertools.combinations if interaction_only else itertools.combinations_with_replacement
    out = [ag.ones(X.shape[0], dtype=X.dtype)] if include_bias else []
    for d in range(1, degree + 1):
        for combo in combine(range(n_features), d):
            term = columns[combo[0]]
            for i in combo[1:]:
                term = term * columns[i]
            out.append(term)
    return ag.stack(out, dim=1)
