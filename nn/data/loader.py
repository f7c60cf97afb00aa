"""``DataLoader``: mini-batches of a dataset, as ``torch.utils.data.DataLoader`` (single process)."""
import math
import numbers

import numpy as np

import autograd as ag

from ._common import check_positive_int, resolve_rng
from .dataset import Subset, TensorDataset


def default_collate(samples):
    """Stack a list of samples into a batch: tuples field by field, Tensors/arrays/numbers stacked
    along a new first dimension."""
    first = samples[0]
    if isinstance(first, (tuple, list)):
        return tuple(default_collate([s[i] for s in samples]) for i in range(len(first)))
    if isinstance(first, dict):
        return {key: default_collate([s[key] for s in samples]) for key in first}
    if isinstance(first, ag.Tensor):
        return ag.stack(samples)
    if isinstance(first, (np.ndarray, numbers.Number)):
        return ag.tensor(np.stack([np.asarray(s) for s in samples]))
    raise TypeError(f"default_collate: don't know how to batch samples of type {type(first).__name__}; "
                    f"pass collate_fn=")


class DataLoader:
    """Iterate over ``dataset`` in mini-batches.

    ``batch_size`` samples per batch; ``shuffle=True`` draws a new order every epoch (every ``iter()``)
    from ``generator`` (numbagrad's seeded default generator when None, so ``autograd.manual_seed`` makes
    it repeat); ``drop_last=True`` drops a last, smaller batch. Each batch of a ``TensorDataset`` is a
    tuple of Tensors, ``(X_batch, y_batch)``; other datasets are batched by ``collate_fn``.

    ``transform`` (a numbagrad extension, for on-the-fly augmentation): a callable applied to the first
    Tensor of every batch, e.g. ``nn.data.augment.RandomHorizontalFlip()``; the other Tensors (labels) are
    left alone.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, collate_fn=None, generator=None,
                 transform=None):
        if batch_size is None:
            raise ValueError("DataLoader: batch_size=None (no batching) is not supported; use batch_size=1")
        self.dataset = dataset
        self.batch_size = check_positive_int(batch_size, "batch_size", "DataLoader")
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn or default_collate
        self.generator = generator
        self.transform = transform
        if transform is not None and not callable(transform):
            raise TypeError(f"DataLoader: transform must be callable, got {type(transform).__name__}")

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _order(self):
        n = len(self.dataset)
        if self.shuffle:
            return resolve_rng(self.generator).permutation(n)
        return np.arange(n)

    def _fetch(self, indices):
        dataset = self.dataset
        if isinstance(dataset, Subset) and isinstance(dataset.dataset, TensorDataset):
            indices = np.asarray(dataset.indices, dtype=np.int64)[indices]
            dataset = dataset.dataset
        if isinstance(dataset, TensorDataset):
            if self.collate_fn is not default_collate:
                return self.collate_fn([dataset[int(i)] for i in indices])
            return tuple(t[indices] for t in dataset.tensors)  # one gather per tensor
        return self.collate_fn([dataset[int(i)] for i in indices])

    def __iter__(self):
        order = self._order()
        stop = len(self) * self.batch_size if self.drop_last else len(order)
        for start in range(0, stop, self.batch_size):
            batch = self._fetch(order[start:start + self.batch_size])
            if self.transform is not None:
                if isinstance(batch, tuple):
                    batch = (self.transform(batch[0]),) + batch[1:]
                else:
                    batch = self.transform(batch)
            yield batch

    def __repr__(self):
        return (f"DataLoader({self.dataset!r}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last})")
