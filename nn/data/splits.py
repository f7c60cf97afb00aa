"""Train/test splits and cross-validation folds, with scikit-learn's signatures and semantics:
``train_test_split`` and ``KFold``. Randomness comes from ``random_state`` (an int seeds its own
generator; None uses numbagrad's seeded default generator, so ``autograd.manual_seed`` repeats a run).
"""
import math
import numbers

import numpy as np

import autograd as ag

from ._common import resolve_rng, to_numpy


def _n_train_test(n, test_size, train_size):
    def count(size, name, rounding):
        if size is None:
            return None
        if isinstance(size, numbers.Integral) and not isinstance(size, bool):
            if not 0 < size < n:
                raise ValueError(f"train_test_split: {name}={size} should be between 1 and {n - 1} "
                                 f"(the number of samples is {n})")
            return int(size)
        if isinstance(size, numbers.Real) and 0.0 < size < 1.0:
            return int(rounding(size * n))
        raise ValueError(f"train_test_split: {name} must be an int in [1, {n - 1}] or a float in (0, 1), got {size!r}")

    if test_size is None and train_size is None:
        test_size = 0.25
    n_test = count(test_size, "test_size", math.ceil)
    n_train = count(train_size, "train_size", math.floor)
    if n_test is None:
        n_test = n - n_train
    if n_train is None:
        n_train = n - n_test
    if n_train + n_test > n:
        raise ValueError(f"train_test_split: train_size + test_size = {n_train + n_test} is more than the "
                         f"{n} samples")
    if n_train == 0 or n_test == 0:
        raise ValueError(f"train_test_split: with n_samples={n}, test_size={test_size!r} and "
                         f"train_size={train_size!r} one of the sets would be empty")
    return n_train, n_test


def _stratified_indices(labels, n_train, n_test, rng):
    classes, inverse = np.unique(labels, return_inverse=True)
    counts = np.bincount(inverse)
    if counts.min() < 2:
        raise ValueError("train_test_split: the least populated class in stratify has only 1 member; "
                         "every class needs at least 2")
    # Largest remainder: each class gets its share of the test set, the total exactly n_test.
    share = counts * n_test / len(labels)
    test_counts = np.floor(share).astype(int)
    order = np.argsort(-(share - test_counts), kind="stable")
    test_counts[order[:n_test - test_counts.sum()]] += 1
    train, test = [], []
    for c in range(len(classes)):
        members = rng.permutation(np.flatnonzero(inverse == c))
        test.append(members[:test_counts[c]])
        train.append(members[test_counts[c]:])
    train = rng.permutation(np.concatenate(train))[:n_train]
    test = rng.permutation(np.concatenate(test))
    return train, test


def _take(array, indices):
    if isinstance(array, ag.Tensor):
        return array[indices]
    return ag.tensor(np.asarray(array)[indices])


def train_test_split(*arrays, test_size=None, train_size=None, shuffle=True, random_state=None, stratify=None):
    """Split each array (Tensors, numpy arrays or lists, same first dimension) into a train and a test
    part: ``X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)``.

    ``test_size`` a fraction (rounded up) or a count, 0.25 when neither size is given; ``shuffle=False``
    keeps the order (the test set is the tail); ``stratify`` (labels) keeps the class proportions.
    Returns Tensors (numpy inputs are converted, keeping their dtype).
    """
    if not arrays:
        raise ValueError("train_test_split: at least one array required as input")
    lengths = [len(a) for a in arrays]
    if len(set(lengths)) != 1:
        raise ValueError(f"train_test_split: found input variables with inconsistent numbers of samples: {lengths}")
    n = lengths[0]
    n_train, n_test = _n_train_test(n, test_size, train_size)
    if not shuffle:
        if stratify is not None:
            raise ValueError("train_test_split: stratified splitting requires shuffle=True")
        train, test = np.arange(n_train), np.arange(n_train, n_train + n_test)
    else:
        rng = resolve_rng(random_state)
        if stratify is not None:
            labels = to_numpy(stratify)
            if labels.shape != (n,):
                raise ValueError(f"train_test_split: stratify must be {n} labels (1-D), got shape {labels.shape}")
            train, test = _stratified_indices(labels, n_train, n_test, rng)
        else:
            order = rng.permutation(n)
            test, train = order[:n_test], order[n_test:n_test + n_train]
    result = []
    for a in arrays:
        result += [_take(a, train), _take(a, test)]
    return result


class KFold:
    """K-fold cross-validation indices: ``for train_idx, val_idx in KFold(5).split(X)``.

    The samples are cut into ``n_splits`` consecutive folds (the first ``n % n_splits`` one sample
    larger), shuffled first when ``shuffle=True`` (by ``random_state``); each fold is the validation set
    once. Yields numpy int64 index arrays, which index Tensors and arrays alike.
    """

    def __init__(self, n_splits=5, shuffle=False, random_state=None):
        if isinstance(n_splits, bool) or not isinstance(n_splits, numbers.Integral) or n_splits < 2:
            raise ValueError(f"KFold: n_splits must be an int >= 2, got {n_splits!r}")
        if not shuffle and random_state is not None:
            raise ValueError("KFold: setting a random_state has no effect since shuffle is False; "
                             "set shuffle=True or leave random_state None")
        self.n_splits = int(n_splits)
        self.shuffle = bool(shuffle)
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None):
        return self.n_splits

    def split(self, X, y=None, groups=None):
        n = len(X)
        if self.n_splits > n:
            raise ValueError(f"KFold: cannot have n_splits={self.n_splits} greater than the number of samples {n}")
        indices = np.arange(n)
        if self.shuffle:
            # An int seed gives the same folds on every split() call, as scikit-learn.
            resolve_rng(self.random_state).shuffle(indices)
        sizes = np.full(self.n_splits, n // self.n_splits, dtype=np.int64)
        sizes[: n % self.n_splits] += 1
        start = 0
        for size in sizes:
            test = indices[start:start + size]
            train = np.concatenate([indices[:start], indices[start + size:]])
            yield train, test
            start += size

    def __repr__(self):
        return f"KFold(n_splits={self.n_splits}, random_state={self.random_state!r}, shuffle={self.shuffle})"
