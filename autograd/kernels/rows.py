"""Row kernels over the last axis: softmax, log-softmax, logsumexp and their backward passes.

Public surface: ``softmax_forward``, ``log_softmax_forward`` (each with ``blocked=None``),
``logsumexp_lastdim``, ``softmax_backward``, ``log_softmax_backward``; ``NARROW_ROWS`` and
``uses_blocked_kernel`` say which float32 kernel a row length takes.

Design notes:

* The kernels work on the 2-D (rows, n) C-contiguous view of the input; the wrappers make it.
* Row sums accumulate in float64 (accuracy for float32 rows; the loops are latency-bound either way),
  while the exp and scale passes stay separate loops, so they vectorise.
* Max-shifted everywhere (e^{x − max}): no overflow, and an all −inf row gives −inf / NaN as PyTorch.
  float32 kernels form x − max in float64 and take ``fastmath.exp_ext`` of it: rounding x − max to
  float32 first would cost |x − max|·2^-24 relative error in e^{x−max}.
* Short float32 rows (10 classes) are too short for a per-row loop to vectorise, so they go through
  blocked kernels that exponentiate a block of rows in one loop (bit-identical to the per-row ones).
"""
import math

import numba
import numpy as np

from .. import buffer_pool
from .arrays import F32, check_float, contiguous
from .fastmath import exp_ext
from .jit import inline, kernel

#: For a row's sum and nothing else: ``kernel`` with reassociation allowed, so that LLVM splits the sum
#: over vector lanes (in the strict order a row's sum is one chain of dependent adds, whose latency
#: then sets the speed of a whole kernel on short rows). Called, not inlined, from ``kernel``
#: functions: the flag stays on the sum's own instructions, and the caller keeps IEEE order (the
#: error-free splits in the float32 exps depend on it). The order is fixed when compiled, so results
#: are deterministic.
reassociating = numba.njit(cache=True, error_model="numpy", nogil=True, fastmath={"reassoc"})

@inline
def _row_max(row):
    m = -np.inf
    for j in range(row.shape[0]):
        v = row[j]
        if v > m:
            m = v
    return m


@kernel
def _softmax_f32(x, out):
    n = x.shape[1]
    for r in range(x.shape[0]):
        xr = x[r]
        orow = out[r]
        m = _row_max(xr)
        for j in range(n):
            orow[j] = exp_ext(xr[j] - m)
        _scale_to_unit_sum_f32(orow)


@inline
def _scale_to_unit_sum_f32(row):
    # row /= Σ row (summed in float64), as one float32 multiply per element
    s = 0.0
    for j in range(row.shape[0]):
        s += row[j]
    inv = np.float32(1.0 / s)
    for j in range(row.shape[0]):
        row[j] = row[j] * inv


@kernel
def _softmax_f64(x, out):
    n = x.shape[1]
    for r in range(x.shape[0]):
        xr = x[r]
        orow = out[r]
        m = _row_max(xr)
        s = 0.0
        for j in range(n):
            e = math.exp(xr[j] - m)
            orow[j] = e
            s += e
        inv = 1.0 / s
        for j in range(n):
            orow[j] = orow[j] * inv


@kernel
def _log_softmax_f32(x, out):
    n = x.shape[1]
    for r in range(x.shape[0]):
        xr = x[r]
        orow = out[r]
        m = _row_max(xr)
        for j in range(n):
            orow[j] = exp_ext(xr[j] - m)  # scratch: out is overwritten below
        s = 0.0
        for j in range(n):
            s += orow[j]
        lse = math.log(s)
        for j in range(n):
            orow[j] = (xr[j] - m) - lse


@kernel
def _log_softmax_f64(x, out):
    n = x.shape[1]
    for r in range(x.shape[0]):
        xr = x[r]
        orow = out[r]
        m = _row_max(xr)
        s = 0.0
        for j in range(n):
            s += math.exp(xr[j] - m)
        lse = math.log(s)
        for j in range(n):
            orow[j] = (xr[j] - m) - lse


# Short float32 rows (10 classes) leave the per-row loops above too short to vectorise: the blocked
# kernels below shift a block of rows into one buffer and take e^{x−max} over it in a single loop, then
# finish each row. The same operations in the same order as the per-row kernels, so bit-identical.
# From NARROW_ROWS columns on, the per-row loops vectorise by themselves and the extra pass over the
# block's buffer no longer pays (bench_kernels measures both forms).
NARROW_ROWS = 256
_ROW_BLOCK_ELEMENTS = 1024


@inline
def _shifted_rows(x, first, stop, shifted):
    # x[r] − max(x[r]) in float64 for rows first..stop-1, one row after another; returns the count.
    n = x.shape[1]
    k = 0
    for r in range(first, stop):
        xr = x[r]
        m = _row_max(xr)
        for j in range(n):
            shifted[k + j] = xr[j] - m
        k += n
    return k


@kernel
def _softmax_narrow_f32(x, out):
    rows, n = x.shape
    block = max(1, _ROW_BLOCK_ELEMENTS // n)
    shifted = np.empty(block * n)
    flat = out.reshape(-1)
    for first in range(0, rows, block):
        stop = min(first + block, rows)
        count = _shifted_rows(x, first, stop, shifted)
        base = first * n
        for i in range(count):
            flat[base + i] = exp_ext(shifted[i])
        for r in range(first, stop):
            _scale_to_unit_sum_f32(out[r])


@kernel
def _log_softmax_narrow_f32(x, out):
    rows, n = x.shape
    block = max(1, _ROW_BLOCK_ELEMENTS // n)
    shifted = np.empty(block * n)
    e = np.empty(block * n, np.float32)
    for first in range(0, rows, block):
        stop = min(first + block, rows)
        count = _shifted_rows(x, first, stop, shifted)
        for i in range(count):
            e[i] = exp_ext(shifted[i])
        k = 0
        for r in range(first, stop):
            s = 0.0
            for j in range(n):
                s += e[k + j]
            lse = math.log(s)
            orow = out[r]
            for j in range(n):
                orow[j] = shifted[k + j] - lse
            k += n


@kernel
def _logsumexp_f32(x, out):
    n = x.shape[1]
    for r in range(x.shape[0]):
        xr = x[r]
        m = _row_max(xr)
        if math.isinf(m):  # all -inf (or empty) -> -inf; any +inf -> +inf
            out[r] = m
            continue
        s = 0.0
        for j in range(n):
            s += exp_ext(xr[j] - m)
        out[r] = m + math.log(s)


@kernel
def _logsumexp_f64(x, out):
    n = x.shape[1]
    for r in range(x.shape[0]):
        xr = x[r]
        m = _row_max(xr)
        if math.isinf(m):
            out[r] = m
            continue
        s = 0.0
        for j in range(n):
            s += math.exp(xr[j] - m)
        out[r] = m + math.log(s)


@kernel
def _softmax_bwd_f32(g, y, out):
    n = g.shape[1]
    for r in range(g.shape[0]):
        gr = g[r]
        yr = y[r]
        orow = out[r]
        d = 0.0
        for j in range(n):
            d += gr[j] * yr[j]
        d32 = np.float32(d)  # keep the second loop in float32 (full SIMD width)
        for j in range(n):
            orow[j] = yr[j] * (gr[j] - d32)


@kernel
def _softmax_bwd_f64(g, y, out):
    n = g.shape[1]
    for r in range(g.shape[0]):
        gr = g[r]
        yr = y[r]
        orow = out[r]
        d = 0.0
        for j in range(n):
            d += gr[j] * yr[j]
        for j in range(n):
            orow[j] = yr[j] * (gr[j] - d)


@kernel
def _log_softmax_bwd_f32(g, y, out):
    n = g.shape[1]
    for r in range(g.shape[0]):
        gr = g[r]
        yr = y[r]
        orow = out[r]
        s = 0.0
        for j in range(n):
            s += gr[j]
        for j in range(n):
            orow[j] = gr[j] - exp_ext(np.float64(yr[j])) * s


@kernel
def _log_softmax_bwd_f64(g, y, out):
    n = g.shape[1]
    for r in range(g.shape[0]):
        gr = g[r]
        yr = y[r]
        orow = out[r]
        s = 0.0
        for j in range(n):
            s += gr[j]
        for j in range(n):
            orow[j] = gr[j] - math.exp(yr[j]) * s



def _rows(x):
    """(C-contiguous x, its (rows, n) view) for last-axis kernels."""
    x = contiguous(check_float(x))
    if x.ndim == 0:
        raise ValueError("last-axis reduction needs at least 1 dimension")
    return x, x.reshape(-1, x.shape[-1]) if x.size else None


def uses_blocked_kernel(dtype, columns):
    """Whether softmax and log-softmax of rows of ``columns`` elements of ``dtype`` take the blocked
    kernels by default (float32 rows shorter than ``NARROW_ROWS``)."""
    return dtype == F32 and columns < NARROW_ROWS


def _kernel_for(x2, blocked, f64, per_row_f32, blocked_f32):
    if x2.dtype != F32:
        return f64
    if blocked is None:
        blocked = x2.shape[1] < NARROW_ROWS
    return blocked_f32 if blocked else per_row_f32


def softmax_forward(x, blocked=None):
    """softmax over the last axis: e^{x−max} / Σ e^{x−max}.

    ``blocked`` picks the float32 kernel (True: blocked, False: per row); None chooses by row length
    (``uses_blocked_kernel``). Both give the same bits."""
    x, x2 = _rows(x)
    out = np.empty_like(x)
    if x2 is not None:
        _kernel_for(x2, blocked, _softmax_f64, _softmax_f32, _softmax_narrow_f32)(x2, out.reshape(x2.shape))
    return out


def log_softmax_forward(x, blocked=None):
    """log-softmax over the last axis: (x − max) − log Σ e^{x−max}; ``blocked`` as in ``softmax_forward``."""
    x, x2 = _rows(x)
    out = np.empty_like(x)
    if x2 is not None:
        _kernel_for(x2, blocked, _log_softmax_f64, _log_softmax_f32, _log_softmax_narrow_f32)(
            x2, out.reshape(x2.shape))
    return out



def logsumexp_lastdim(x):
    """log Σ_j e^{x_j} over the last axis (max-shifted); returns shape x.shape[:-1].

    An empty last axis gives −inf, like torch.logsumexp.
    """
    x, x2 = _rows(x)
    out = np.empty(x.shape[:-1], dtype=x.dtype)
    if x2 is not None:
        (_logsumexp_f32 if x.dtype == F32 else _logsumexp_f64)(x2, out.reshape(-1))
    elif out.size:
        out.fill(-np.inf)
    return out


def _row_binary(g, y, k32, k64):
    g = check_float(g, "grad")
    y = check_float(y, "out")
    if g.dtype != y.dtype:
        raise TypeError(f"grad dtype {g.dtype} != out dtype {y.dtype}")
    if g.shape != y.shape:
        raise ValueError(f"grad shape {g.shape} != out shape {y.shape}")
    if y.ndim == 0:
        raise ValueError("last-axis reduction needs at least 1 dimension")
    g = contiguous(g)
    y = contiguous(y)
    out = buffer_pool.empty_like(y)
    if y.size:
        shape2 = (-1, y.shape[-1])
        (k32 if y.dtype == F32 else k64)(g.reshape(shape2), y.reshape(shape2), out.reshape(shape2))
    return out


def softmax_backward(grad, out):
    """out·(grad − Σ_j grad_j·out_j) over the last axis (out = saved softmax)."""
    return _row_binary(grad, out, _softmax_bwd_f32, _softmax_bwd_f64)


def log_softmax_backward(grad, out):
    """grad − e^{out}·Σ_j grad_j over the last axis (out = saved log-softmax)."""
    return _row_binary(grad, out, _log_softmax_bwd_f32, _log_softmax_bwd_f64)
