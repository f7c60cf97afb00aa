"""Metrics for classification and regression: ``accuracy, mse, rmse, mae, r2_score, confusion_matrix``.

Every metric takes ``(y_true, y_pred)`` in that order (scikit-learn's), as Tensors, numpy arrays or
lists, and returns a Python float (``confusion_matrix`` an int64 Tensor). They measure, they do not train:
nothing here is part of a graph. (Metrics may use numpy: see DEVELOPERS.md.)

The course's definitions (``shared/seeds``): MSE = (1/N) Σ (ŷ − y)², RMSE = √MSE, MAE = (1/N) Σ |ŷ − y|,
R² = 1 − Σ (ŷ − y)² / Σ (ȳ − y)² = 1 − MSE / variance(y): 1 for a perfect fit, 0 for always predicting
the mean, negative for worse.
"""
import numpy as np

import autograd as ag

__all__ = ["accuracy", "mse", "rmse", "mae", "r2_score", "confusion_matrix", "METRICS", "get_metric"]


def _array(x, name):
    if isinstance(x, ag.Tensor):
        return x.detach().numpy()
    array = np.asarray(x)
    if array.dtype == object:
        raise TypeError(f"{name}: expected numbers (a Tensor, array or list), got {type(x).__name__}")
    return array


def _regression_pair(y_true, y_pred, name):
    t, p = _array(y_true, name).astype(np.float64), _array(y_pred, name).astype(np.float64)
    if t.shape != p.shape:
        if t.size == p.size and t.squeeze().shape == p.squeeze().shape:
            t, p = t.reshape(-1), p.reshape(-1)  # (N,) against (N, 1): the usual regression output
        else:
            raise ValueError(f"{name}: y_true and y_pred shapes differ: {t.shape} vs {p.shape}")
    if t.size == 0:
        raise ValueError(f"{name}: empty input")
    return t, p


def _labels(y_true, y_pred, name, threshold=0.5):
    t, p = _array(y_true, name), _array(y_pred, name)
    if t.ndim == 2 and t.shape[1] > 1 and p.shape == t.shape and t.dtype.kind == "f":
        t = t.argmax(axis=1)  # one-hot or probability targets
    if t.ndim == 2 and t.shape[1] == 1:
        t = t[:, 0]
    if p.ndim == t.ndim + 1:
        p = p.argmax(axis=-1) if p.shape[-1] > 1 else p[..., 0]  # scores -> classes; one column: binary
    if p.dtype.kind == "f" and not np.all(p == np.round(p)):
        p = (p > threshold).astype(np.int64)  # binary probabilities (or logits with threshold=0)
    if p.shape != t.shape:
        raise ValueError(f"{name}: y_true has shape {t.shape} but y_pred has shape {p.shape}; y_pred should be "
                         f"class predictions of the same shape or scores with one more (class) dimension")
    if t.size == 0:
        raise ValueError(f"{name}: empty input")
    return t, p


def accuracy(y_true, y_pred, threshold=0.5):
    """The fraction of correct predictions. ``y_pred`` holds class predictions (same shape as
    ``y_true``) or scores/logits/probabilities of shape (N, C) whose argmax is the prediction. Binary
    predictions that are not whole numbers (shape (N,) or (N, 1)) are probabilities of class 1, cut at
    ``threshold`` (pass ``threshold=0.0`` for logits)."""
    t, p = _labels(y_true, y_pred, "accuracy", threshold)
    return float(np.mean(t == p))


def mse(y_true, y_pred):
    """Mean squared error (1/N) Σ (ŷ − y)²."""
    t, p = _regression_pair(y_true, y_pred, "mse")
    return float(np.mean((p - t) ** 2))


def rmse(y_true, y_pred):
    """Root mean squared error √MSE, in the units of y."""
    return float(np.sqrt(mse(y_true, y_pred)))


def mae(y_true, y_pred):
    """Mean absolute error (1/N) Σ |ŷ − y|."""
    t, p = _regression_pair(y_true, y_pred, "mae")
    return float(np.mean(np.abs(p - t)))


def r2_score(y_true, y_pred):
    """The coefficient of determination R² = 1 − Σ (ŷ − y)² / Σ (ȳ − y)² = 1 − MSE / variance(y).
    For several targets (2-D y) the average over targets. A constant ``y_true`` has no variance:
    then R² is 1.0 for a perfect prediction and 0.0 otherwise (scikit-learn's convention)."""
    t, p = _regression_pair(y_true, y_pred, "r2_score")
    if t.ndim == 1:
        t, p = t[:, None], p[:, None]
    residual = ((p - t) ** 2).sum(axis=0)
    total = ((t - t.mean(axis=0)) ** 2).sum(axis=0)
    scores = np.where(total > 0, 1.0 - residual / np.where(total > 0, total, 1.0),
                      np.where(residual == 0, 1.0, 0.0))
    return float(scores.mean())


def confusion_matrix(y_true, y_pred, num_classes=None):
    """A (C, C) int64 Tensor whose entry [i, j] counts samples of true class i predicted as j (rows:
    truth, columns: prediction, as scikit-learn). ``y_pred`` may be scores (argmax taken). Labels must be
    0 … C−1; C is ``num_classes`` or one more than the largest label seen."""
    t, p = _labels(y_true, y_pred, "confusion_matrix")
    t, p = t.reshape(-1).astype(np.int64), p.reshape(-1).astype(np.int64)
    if t.min() < 0 or p.min() < 0:
        raise ValueError("confusion_matrix: labels must be non-negative class indices")
    largest = int(max(t.max(), p.max())) + 1
    if num_classes is None:
        num_classes = largest
    elif largest > num_classes:
        raise ValueError(f"confusion_matrix: label {largest - 1} is out of range for num_classes={num_classes}")
    counts = np.bincount(t * num_classes + p, minlength=num_classes * num_classes)
    return ag.tensor(counts.reshape(num_classes, num_classes).astype(np.int64))


METRICS = {"accuracy": accuracy, "acc": accuracy, "mse": mse, "rmse": rmse, "mae": mae, "r2": r2_score,
           "r2_score": r2_score}


def get_metric(spec):
    """``(name, function)`` for a metric given by name ('accuracy', 'mse', 'rmse', 'mae', 'r2') or as a
    function ``f(y_true, y_pred) -> float`` (named after the function)."""
    if isinstance(spec, str):
        key = spec.lower()
        if key not in METRICS:
            raise ValueError(f"unknown metric {spec!r}; expected one of {sorted(METRICS)} or a function "
                             f"f(y_true, y_pred) -> float")
        return ("accuracy" if key == "acc" else "r2" if key == "r2_score" else key), METRICS[key]
    if callable(spec):
        return getattr(spec, "__name__", type(spec).__name__), spec
    raise TypeError(f"a metric must be a name or a function, got {type(spec).__name__}")
