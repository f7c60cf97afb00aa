"""``sort``, ``argsort`` and ``topk``, as PyTorch's: values with their indices.

The values are ``gather`` of the input at the sorted indices, so their gradient (each value's gradient
sent back to where it came from) and tangent are gather's; the indices never require grad.
"""
from collections import namedtuple

import numpy as np

from ..tensor import normalize_dim
from ._args import as_tensor, computed, constant
from .reduction import gather

SortResult = namedtuple("sort", ["values", "indices"])
TopKResult = namedtuple("topk", ["values", "indices"])


def _order(data, dim, descending):
    # Always stable (equal elements keep their order, in both directions): torch's stable=True, and a
    # valid answer for stable=False, so results do not depend on the sort algorithm.
    if descending:
        key = ~data if data.dtype == np.bool_ else -data.astype(np.int64) if data.dtype.kind == "u" else -data
        return np.argsort(key, axis=dim, kind="stable")
    return np.argsort(data, axis=dim, kind="stable")


def sort(input, dim=-1, descending=False, stable=False):
    """``(values, indices)`` of ``input`` sorted along ``dim`` (ascending unless ``descending``); equal
    elements keep their order."""
    input = as_tensor(input)
    if input.ndim == 0:
        return SortResult(input * 1 if input.dtype.kind == "f" else input, constant(0, np.int64))
    d = normalize_dim(dim, input.ndim, "sort")
    index = computed(lambda a: _order(a, d, descending), input._data, dtype=np.int64)
    return SortResult(_take(input, d, index), index)


def argsort(input, dim=-1, descending=False, stable=False):
    """The indices that sort ``input`` along ``dim`` (int64)."""
    return sort(input, dim, descending, stable).indices


def topk(input, k, dim=-1, largest=True, sorted=True):
    """``(values, indices)`` of the ``k`` largest (or smallest) elements along ``dim``, largest first."""
    input = as_tensor(input)
    d = normalize_dim(dim, input.ndim, "topk") if input.ndim else 0
    length = input.shape[d] if input.ndim else 1
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool):
        raise TypeError(f"topk: k must be an int, got {type(k).__name__}")
    if not 0 <= k <= length:
        raise RuntimeError(f"topk: k ({k}) is out of range for dim {dim} of size {length} (input shape "
                           f"{tuple(input.shape)})")
    if input.ndim == 0:
        return TopKResult(input * 1 if input.dtype.kind == "f" else input, constant(0, np.int64))
    index = computed(lambda a: np.take(_order(a, d, largest), np.arange(k), axis=d), input._data, dtype=np.int64)
    return TopKResult(_take(input, d, index), index)


def _take(input, dim, index):
    if input.dtype.kind == "f":
        return gather(input, dim, index)
    return computed(lambda a, i: np.take_along_axis(a, i, axis=dim), input._data, index._data, dtype=input.dtype)
