"""Scatter-add of rows: ``out[index[i]] += src[i]``, the backward of indexing by an int array (an
embedding's weight gradient).

Public surface: ``index_add_rows(src, index, shape)``.

Design notes:

* The rows are added one index after another, in the index's C order, in the dtype: the same
  additions in the same order as ``np.add.at(out, index, src)``, so the same bits, and a repeated
  index receives the sum of its rows whatever the run (deterministic: no threads).
* ``np.add.at`` goes through numpy's generic ufunc-at machinery element by element; here each row is
  one contiguous loop, which vectorises.
* Negative indices count from the end, as numpy's; the kernel returns the position of the first index
  out of range (or −1) and the wrapper raises numpy's IndexError for it.
"""
import math

import numpy as np

from .arrays import check_float, contiguous
from .jit import kernel


@kernel
def _scatter_add_rows(out, index, src):
    rows = out.shape[0]
    width = out.shape[1]
    for i in range(index.shape[0]):
        k = index[i]
        if k < 0:
            k += rows
        if k < 0 or k >= rows:
            return i
        orow = out[k]
        srow = src[i]
        for j in range(width):
            orow[j] = orow[j] + srow[j]
    return -1


def index_add_rows(src, index, shape):
    """zeros(shape) with ``src[i]`` added at row ``index[i]`` along the first axis: ``src`` has shape
    ``index.shape + shape[1:]``, ``index`` any shape of signed (or narrower unsigned) integers.
    Repeated indices accumulate."""
    src = contiguous(check_float(src, "src"))
    index = np.asarray(index)
    if index.dtype.kind not in "iu" or (index.dtype.kind == "u" and index.dtype.itemsize >= 8):
        raise TypeError(f"index: expected a signed (or narrower unsigned) integer array, got {index.dtype}")
    shape = tuple(shape)
    if not shape:
        raise ValueError("index_add_rows: the output needs at least one dimension")
    if src.shape != index.shape + shape[1:]:
        raise ValueError(f"src shape {src.shape} != index shape {index.shape} + {shape[1:]}")
    out = np.zeros(shape, src.dtype)
    count, width = index.size, math.prod(shape[1:])
    if count:
        flat_index = contiguous(index.astype(np.intp, copy=False)).reshape(count)
        bad = _scatter_add_rows(out.reshape(shape[0], width), flat_index, src.reshape(count, width))
        if bad >= 0:
            raise IndexError(f"index {flat_index[bad]} is out of bounds for axis 0 with size {shape[0]}")
    return out
