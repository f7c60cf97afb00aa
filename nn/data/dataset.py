"""Datasets as ``torch.utils.data``: ``Dataset``, ``TensorDataset``, ``Subset``, ``random_split``."""
import math
import numbers

import numpy as np

import autograd as ag

from ._common import resolve_rng


class Dataset:
    """A map-style dataset: ``len(ds)`` samples, ``ds[i]`` the i-th (a tuple of Tensors, usually)."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} has no __getitem__(); define it in the subclass")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} has no __len__(); define it in the subclass")

    def __add__(self, other):
        return ConcatDataset([self, other])


class TensorDataset(Dataset):
    """Samples are rows of the given Tensors (all with the same first dimension):
    ``TensorDataset(X, y)[i] == (X[i], y[i])``. Arrays and lists are converted to Tensors."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        tensors = tuple(t if isinstance(t, ag.Tensor) else ag.tensor(np.asarray(t)) for t in tensors)
        for i, t in enumerate(tensors):
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: tensor {i} is 0-d; each tensor needs a first (sample) dimension")
        sizes = [t.shape[0] for t in tensors]
        if len(set(sizes)) != 1:
            raise ValueError(f"TensorDataset: size mismatch between tensors: first dimensions {sizes}")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]

    def __repr__(self):
        shapes = ", ".join(str(tuple(t.shape)) for t in self.tensors)
        return f"TensorDataset({shapes})"


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = [int(i) for i in indices]

    def __getitem__(self, index):
        if isinstance(index, (list, np.ndarray)):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __len__(self):
        return len(self.indices)


class ConcatDataset(Dataset):
    """The samples of several datasets one after the other."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset needs at least one dataset")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"ConcatDataset index {index} out of range for length {len(self)}")
        which = int(np.searchsorted(self.cumulative_sizes, index, side="right"))
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][index - start]


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` into non-overlapping ``Subset``s of the given ``lengths`` (ints summing to
    ``len(dataset)``, or fractions summing to 1, as PyTorch), shuffled with ``generator`` (numbagrad's
    seeded default generator when None)."""
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(isinstance(x, numbers.Real) and not isinstance(x, numbers.Integral) for x in lengths) \
            and math.isclose(sum(lengths), 1.0) and sum(lengths) <= 1.0 + 1e-9:
        if any(x < 0 for x in lengths):
            raise ValueError(f"random_split: fractions must be non-negative, got {lengths}")
        counts = [int(math.floor(n * frac)) for frac in lengths]
        for i in range(n - sum(counts)):  # the remainder, round-robin, as PyTorch
            counts[i % len(counts)] += 1
        lengths = counts
    if any(isinstance(x, bool) or not isinstance(x, numbers.Integral) or x < 0 for x in lengths):
        raise ValueError(f"random_split: lengths must be non-negative ints or fractions summing to 1, got {lengths}")
    if sum(lengths) != n:
        raise ValueError(f"random_split: sum of input lengths ({sum(lengths)}) does not equal the length of "
                         f"the input dataset ({n})")
    order = resolve_rng(generator).permutation(n)
    offsets = np.cumsum([0] + lengths)
    return [Subset(dataset, order[offsets[i]:offsets[i + 1]]) for i in range(len(lengths))]
