"""Row kernels over the last axis: softmax, log-softmax, logsumexp and their backward passes.

Public surface: ``softmax_forward``, ``log_softmax_forward`` (each with ``blocked=None``),
``logsumexp_lastdim``, ``softmax_backward``, ``log_softmax_backward``; ``NARROW_ROWS``, ``WIDE_ROWS``
and ``uses_blocked_kernel`` say which float32 kernel a row length takes; ``row_sum`` (a row's float64
sum, reassociated so that it vectorises; LayerNorm's kernels call it too).

Design notes:

* The kernels work on the 2-D (rows, n) C-contiguous view of the input; the wrappers make it.
* Row sums accumulate in float64 (accuracy for float32 rows) in separate functions that may
  reassociate (``reassociating``), so they vectorise; the exp and scale passes are loops of their own,
  which vectorise too.
* Max-shifted everywhere (e^{x − max}): no overflow, and an all −inf row gives −inf / NaN as PyTorch.
  Rounding x − max to float32 would cost |x − max|·2^-24 relative error in e^{x−max}, so the float32
  softmax kernels split x − max exactly into float32 hi + lo (a two-sum) and take e^hi·(1 + lo) with
  one fused multiply-add: the accuracy of forming x − max in float64 (``fastmath.exp_ext``) at the full
  float32 vector width.
* Very short float32 rows (a few classes) are too short for a per-row loop to vectorise, so they go
  through blocked kernels that exponentiate a block of rows in one loop (bit-identical to the per-row
  ones). Long float32 rows take their max through integer keys, a reduction that vectorises.
"""
import math

import numpy as np

from .. import buffer_pool
from .arrays import F32, check_float, contiguous
from .fastmath import exp_ext, exp_f32, fma
from .jit import inline, kernel, reassociating  # (the float32 exps' error-free splits need IEEE order)


@reassociating
def row_sum(row):
    """Σ row in float64."""
    s = 0.0
    for j in range(row.shape[0]):
        s += row[j]
    return s


@reassociating
def _row_dot(a, b):
    """Σ a·b in float64."""
    s = 0.0
    for j in range(a.shape[0]):
        s += np.float64(a[j]) * b[j]
    return s


_EXP_FLUSH_F32 = np.float32(-87.0)  # as fastmath.exp_ext: e^-87 = 1.6e-38, just above FLT_MIN
_ZERO_F32 = np.float32(0.0)


_SIGN_SHIFT = np.int32(31)
_MAGNITUDE_BITS = np.int32(0x7fffffff)
_LOWEST_KEY = np.int32(-2147483648)


@inline
def _row_max_f32(row):
    """max(row) as a float32 (a row has at least one element here)."""
    m = row[0]
    for j in range(1, row.shape[0]):
        v = row[j]
        m = v if v > m else m
    return m


@inline
def _row_max_by_keys_f32(row):
    """max(row) through integer keys, for long rows: a float32's bits b with the magnitude bits
    flipped when negative (b ^ ((b >> 31) & 0x7fffffff)) order as the floats do, and an integer max
    reduction vectorises where a float one (whose NaN rules fix the order) does not. A NaN with the
    sign bit clear ranks above +inf and is returned, one with it set ranks below −inf and is passed
    over: either way its row comes out NaN (its e^(x − max) is NaN), as with ``_row_max_f32``."""
    bits = row.view(np.int32)
    key_max = _LOWEST_KEY
    for j in range(bits.shape[0]):
        b = bits[j]
        key = b ^ ((b >> _SIGN_SHIFT) & _MAGNITUDE_BITS)
        key_max = key if key > key_max else key_max
    return np.int32(key_max ^ ((key_max >> _SIGN_SHIFT) & _MAGNITUDE_BITS)).view(np.float32)


@inline
def _exp_of_split_f32(hi, lo):
    """e^(hi + lo) for float32 hi and a residual |lo| ≤ ulp(hi)/2: e^hi·(1 + lo) rounded once, ~1 ulp.
    Below e^-87 flushed to 0 (subnormal arithmetic is microcode-slow); NaN propagates."""
    clamped = hi if hi > _EXP_FLUSH_F32 else _EXP_FLUSH_F32
    e = exp_f32(clamped)
    y = fma(e, lo, e)
    y = y if hi >= _EXP_FLUSH_F32 else _ZERO_F32
    return y if hi == hi else hi


@inline
def _exp_of_difference_f32(x, m):
    """e^(x − m) for float32 x and m, with x − m split exactly into hi + lo (Knuth's two-sum)."""
    hi = x - m
    t = hi - x
    lo = (x - (hi - t)) + (-m - t)
    return _exp_of_split_f32(hi, lo)


@inline
def _row_max(row):
    m = -np.inf
    for j in range(row.shape[0]):
        v = row[j]
        if v > m:
            m = v
    return m


# The per-row float32 kernels go over blocks of rows in three passes: every row's max, then every
# row's exps, then the sums and scaling. A row's exps wait for its max, a chain of dependent compares;
# with the maxima of a block taken first, those chains overlap each other instead of each stalling
# its row's exps.
_MAXIMA_BLOCK_ELEMENTS = 1024


@inline
def _exps_of_rows_f32(x, out, first, stop, maxima):
    n = x.shape[1]
    for r in range(first, stop):
        xr = x[r]
        orow = out[r]
        m = maxima[r - first]
        for j in range(n):
            orow[j] = _exp_of_difference_f32(xr[j], m)


@kernel
def _softmax_f32(x, out):
    rows, n = x.shape
    block = max(1, _MAXIMA_BLOCK_ELEMENTS // n)
    maxima = np.empty(block, np.float32)
    for first in range(0, rows, block):
        stop = min(first + block, rows)
        for r in range(first, stop):
            maxima[r - first] = _row_max_f32(x[r])
        _exps_of_rows_f32(x, out, first, stop, maxima)
        for r in range(first, stop):
            _scale_to_unit_sum_f32(out[r])


@kernel
def _softmax_wide_f32(x, out):
    rows, n = x.shape
    block = max(1, _MAXIMA_BLOCK_ELEMENTS // n)
    maxima = np.empty(block, np.float32)
    for first in range(0, rows, block):
        stop = min(first + block, rows)
        for r in range(first, stop):
            maxima[r - first] = _row_max_by_keys_f32(x[r])
        _exps_of_rows_f32(x, out, first, stop, maxima)
        for r in range(first, stop):
            _scale_to_unit_sum_f32(out[r])


@inline
def _scale_to_unit_sum_f32(row):
    # row /= Σ row (summed in float64), as one float32 multiply per element
    inv = np.float32(1.0 / row_sum(row))
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


@inline
def _log_softmax_rows_f32(x, out, first, stop, maxima):
    _exps_of_rows_f32(x, out, first, stop, maxima)  # scratch: out is overwritten below
    n = x.shape[1]
    for r in range(first, stop):
        xr = x[r]
        orow = out[r]
        lse = math.log(row_sum(orow))
        mf = np.float64(maxima[r - first])
        for j in range(n):
            orow[j] = (xr[j] - mf) - lse


@kernel
def _log_softmax_f32(x, out):
    rows, n = x.shape
    block = max(1, _MAXIMA_BLOCK_ELEMENTS // n)
    maxima = np.empty(block, np.float32)
    for first in range(0, rows, block):
        stop = min(first + block, rows)
        for r in range(first, stop):
            maxima[r - first] = _row_max_f32(x[r])
        _log_softmax_rows_f32(x, out, first, stop, maxima)


@kernel
def _log_softmax_wide_f32(x, out):
    rows, n = x.shape
    block = max(1, _MAXIMA_BLOCK_ELEMENTS // n)
    maxima = np.empty(block, np.float32)
    for first in range(0, rows, block):
        stop = min(first + block, rows)
        for r in range(first, stop):
            maxima[r - first] = _row_max_by_keys_f32(x[r])
        _log_softmax_rows_f32(x, out, first, stop, maxima)


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


# Very short float32 rows (a few classes) leave the per-row loops above too short to vectorise: the
# blocked kernels below split x − max of a block of rows into two buffers (hi, lo) and exponentiate
# the block in a single loop, then finish each row. The same operations in the same order as the
# per-row kernels, so bit-identical. From NARROW_ROWS columns on, the per-row loops vectorise by
# themselves and the extra pass over the block's buffers no longer pays.
NARROW_ROWS = 16
_ROW_BLOCK_ELEMENTS = 1024
# From WIDE_ROWS columns the per-row kernels take the max through integer keys (_row_max_by_keys_f32),
# whose vector loop beats the plain one from there on and loses to it on shorter rows.
WIDE_ROWS = 64


@inline
def _split_differences(x, first, stop, his, los, maxima):
    # x[r] − max(x[r]) as float32 hi + lo for rows first..stop-1, one row after another (their maxima
    # into maxima[r - first]); returns the count.
    n = x.shape[1]
    k = 0
    for r in range(first, stop):
        xr = x[r]
        m = _row_max_f32(xr)
        maxima[r - first] = m
        for j in range(n):
            v = xr[j]
            hi = v - m
            t = hi - v
            his[k + j] = hi
            los[k + j] = (v - (hi - t)) + (-m - t)
        k += n
    return k


@kernel
def _softmax_narrow_f32(x, out):
    rows, n = x.shape
    block = max(1, _ROW_BLOCK_ELEMENTS // n)
    his = np.empty(block * n, np.float32)
    los = np.empty(block * n, np.float32)
    maxima = np.empty(block, np.float32)
    flat = out.reshape(-1)
    for first in range(0, rows, block):
        stop = min(first + block, rows)
        count = _split_differences(x, first, stop, his, los, maxima)
        base = first * n
        for i in range(count):
            flat[base + i] = _exp_of_split_f32(his[i], los[i])
        for r in range(first, stop):
            _scale_to_unit_sum_f32(out[r])


@kernel
def _log_softmax_narrow_f32(x, out):
    rows, n = x.shape
    block = max(1, _ROW_BLOCK_ELEMENTS // n)
    his = np.empty(block * n, np.float32)
    los = np.empty(block * n, np.float32)
    e = np.empty(block * n, np.float32)
    maxima = np.empty(block, np.float32)
    for first in range(0, rows, block):
        stop = min(first + block, rows)
        count = _split_differences(x, first, stop, his, los, maxima)
        for i in range(count):
            e[i] = _exp_of_split_f32(his[i], los[i])
        k = 0
        for r in range(first, stop):
            lse = math.log(row_sum(e[k:k + n]))
            xr = x[r]
            mf = np.float64(maxima[r - first])
            orow = out[r]
            for j in range(n):
                orow[j] = (xr[j] - mf) - lse
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
        d32 = np.float32(_row_dot(gr, yr))  # keep the second loop in float32 (full SIMD width)
        for j in range(n):
            orow[j] = yr[j] * (gr[j] - d32)


@kernel
def _softmax_bwd_f64(g, y, out):
    n = g.shape[1]
    for r in range(g.shape[0]):
        gr = g[r]
        yr = y[r]
        orow = out[r]
        d = _row_dot(gr, yr)
        for j in range(n):
            orow[j] = yr[j] * (gr[j] - d)


@kernel
def _log_softmax_bwd_f32(g, y, out):
    n = g.shape[1]
    for r in range(g.shape[0]):
        gr = g[r]
        yr = y[r]
        orow = out[r]
        s = row_sum(gr)
        for j in range(n):  # y is a float32 already: e^y needs no split argument
            orow[j] = gr[j] - np.float64(_exp_of_split_f32(yr[j], _ZERO_F32)) * s


@kernel
def _log_softmax_bwd_f64(g, y, out):
    n = g.shape[1]
    for r in range(g.shape[0]):
        gr = g[r]
        yr = y[r]
        orow = out[r]
        s = row_sum(gr)
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


def _kernel_for(x2, blocked, f64, per_row_f32, wide_f32, blocked_f32):
    if x2.dtype != F32:
        return f64
    if blocked is None:
        blocked = x2.shape[1] < NARROW_ROWS
    if blocked:
        return blocked_f32
    return wide_f32 if x2.shape[1] >= WIDE_ROWS else per_row_f32


def softmax_forward(x, blocked=None):
    """softmax over the last axis: e^{x−max} / Σ e^{x−max}.

    ``blocked`` picks the float32 kernel (True: blocked, False: per row); None chooses by row length
    (``uses_blocked_kernel``). Both give the same values (rows from ``WIDE_ROWS`` elements, which per
    row take the integer-key max, up to the sign of a zero max)."""
    x, x2 = _rows(x)
    out = np.empty_like(x)
    if x2 is not None:
        _kernel_for(x2, blocked, _softmax_f64, _softmax_f32, _softmax_wide_f32, _softmax_narrow_f32)(x2, out.reshape(x2.shape))
    return out


def log_softmax_forward(x, blocked=None):
    """log-softmax over the last axis: (x − max) − log Σ e^{x−max}; ``blocked`` as in ``softmax_forward``."""
    x, x2 = _rows(x)
    out = np.empty_like(x)
    if x2 is not None:
        _kernel_for(x2, blocked, _log_softmax_f64, _log_softmax_f32, _log_softmax_wide_f32,
                    _log_softmax_narrow_f32)(
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
