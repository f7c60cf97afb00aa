"""Reuse of very large output arrays (≥ 32 MiB), which the C allocator cannot keep for us.

Below 32 MiB glibc keeps freed blocks for the next op (``autograd/allocator.py`` raises its thresholds).
Above, every new array is a fresh ``mmap`` whose pages the kernel zeroes on first touch: one extra
pass over memory per output, a large share of an elementwise op's time at that size.

So the kernels take their large outputs from here: the pool keeps the arrays it handed out and hands
one out again once nothing but the pool refers to it (its reference count says so; a view, a Tensor,
a saved tensor or an exported buffer all hold a reference). At most ``MAX_BUFFERS`` arrays and
``MAX_BYTES`` are kept. ``release()`` drops the idle ones (like ``torch.cuda.empty_cache``);
``NUMBAGRAD_BUFFER_POOL=0`` in the environment turns the pool off.
"""
import math
import os
import sys

import numpy as np

MIN_BYTES = 32 << 20
MAX_BUFFERS = 8
MAX_BYTES = 1 << 30

enabled = os.environ.get("NUMBAGRAD_BUFFER_POOL", "1") != "0"
_buffers = []
_getrefcount = getattr(sys, "getrefcount", None)


def _calibrate():
    # An idle buffer, checked inside a loop over the pool's list, is referenced by that list, the loop
    # variable and getrefcount's argument: measured here through the same pattern.
    buffers = [np.empty(1)]
    for buffer in buffers:
        return _getrefcount(buffer)


_IDLE_REFS = _calibrate() if _getrefcount is not None else -1


def empty(shape, dtype):
    """An uninitialised C-contiguous array of ``shape`` and ``dtype``: an idle pooled one when large."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes < MIN_BYTES or not enabled or _getrefcount is None:
        return np.empty(shape, dtype)
    shape = tuple(shape)
    for buffer in _buffers:
        if buffer.shape == shape and buffer.dtype == dtype and _getrefcount(buffer) <= _IDLE_REFS:
            return buffer
    buffer = np.empty(shape, dtype)
    if not _fits(nbytes):
        _drop_idle()
    if _fits(nbytes):
        _buffers.append(buffer)
    return buffer


def _fits(nbytes):
    return len(_buffers) < MAX_BUFFERS and pooled_bytes() + nbytes <= MAX_BYTES


def empty_like(array):
    if array.nbytes < MIN_BYTES:  # the usual case, without empty()'s size arithmetic
        return np.empty(array.shape, array.dtype)
    return empty(array.shape, array.dtype)


def holds(array):
    """1 when ``array`` is one of the pool's (the pool's own reference to it), else 0."""
    if array.nbytes < MIN_BYTES:  # the usual case, decided without a look at the pool
        return 0
    return 1 if any(b is array for b in _buffers) else 0


def _drop_idle():
    kept = []
    for buffer in _buffers:
        if _getrefcount(buffer) > _IDLE_REFS:
            kept.append(buffer)
    _buffers[:] = kept


def release():
    """Drop the pooled arrays that nothing else refers to; returns the bytes given back."""
    before = pooled_bytes()
    _drop_idle()
    return before - pooled_bytes()


def pooled_bytes():
    return sum(b.nbytes for b in _buffers)
