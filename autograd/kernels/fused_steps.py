"""Kernels of compiled steps: what the fusion pass (``autograd/compiler/passes/fusion.py``) puts in place
of two calls of the eager step, one pass over the memory where the eager step makes two.

Public surface:

* ``relu_backward_column_sums(grad, out)``: ReLU's backward and the gradient of the bias before it;
* ``cross_entropy_grad_column_sums(logp, target, row_weights, coef, g)``: the fused softmax − one-hot
  gradient and the gradient of the bias of the layer that made the logits;
* ``scale_shift_relu(x, scale, shift)``: a per-channel affine map and its ReLU (BatchNorm's output).

Design notes:

* Each kernel computes its first output element for element with the expressions of the eager
  kernel it replaces (``elementwise.relu_backward_loop``, ``losses.cross_entropy_grad``, numpy's
  ``x * scale + shift`` then ``relu``): those outputs are bit-equal to the eager step's.
* The column sums are added up row after row in the arrays' dtype while the row is in registers;
  the eager step sums with BLAS (``blas.column_sums``), whose order of additions is its own, so the
  sums agree to rounding, not to the bit.
* Wrappers take float32 or float64 arrays of any layout (a C-contiguous copy first when needed) and
  return new arrays; ``relu_backward_column_sums`` may also write its masked gradient over the
  incoming one (``into=grad``, when the buffer planning of a compiled program finds that input dead
  after the call), with a kernel of its own that takes the array once (passed as two arguments that
  may alias, the loop does not vectorise); the fusion pass only calls them where the eager
  kernels they replace would have run serially (below ``elementwise.PARALLEL_MIN_MEMORY`` elements).
"""
import math

import numpy as np

from .arrays import F32, check_float, contiguous
from .fastmath import exp_f32
from .jit import kernel

_ZERO = np.float32(0.0)


@kernel
def _relu_backward_column_sums(g, y, out, sums):
    # g, y, out: (rows, n) C-contiguous; out = g where y > 0 else 0 (relu_backward_loop's expression),
    # sums[j] = Σ_i out[i, j].
    rows, n = g.shape
    for j in range(n):
        sums[j] = _ZERO
    for i in range(rows):
        g_row, y_row, out_row = g[i], y[i], out[i]
        for j in range(n):
            v = g_row[j] if y_row[j] > _ZERO else _ZERO
            out_row[j] = v
            sums[j] += v


@kernel
def _relu_backward_column_sums_in_place(g, y, sums):
    # The same, with the masked gradient written over g: one array for both, so that nothing may alias
    # and the loop vectorises (given as two arguments, g and out = g, it measured many times slower).
    rows, n = g.shape
    for j in range(n):
        sums[j] = _ZERO
    for i in range(rows):
        g_row, y_row = g[i], y[i]
        for j in range(n):
            v = g_row[j] if y_row[j] > _ZERO else _ZERO
            g_row[j] = v
            sums[j] += v


def relu_backward_column_sums(grad, out, into=None):
    """``(masked, sums)``: ``masked = grad where out > 0 else 0`` (ReLU's backward from its output) and
    ``sums`` its sums over every axis but the last (the gradient of the bias added before the ReLU)."""
    grad = contiguous(check_float(grad, "grad"))
    out = contiguous(check_float(out, "out"))
    if grad.dtype != out.dtype or grad.shape != out.shape or grad.ndim == 0:
        raise ValueError(f"relu_backward_column_sums: grad {grad.dtype}{list(grad.shape)} and out "
                         f"{out.dtype}{list(out.shape)} must have one dtype and one shape of at least 1-D")
    n = grad.shape[-1]
    sums = np.empty(n, grad.dtype)
    if into is not None and into is grad:  # (contiguous already: contiguous() returned it as it was)
        _relu_backward_column_sums_in_place(grad.reshape(-1, n), out.reshape(-1, n), sums)
        return grad, sums
    masked = np.empty_like(grad)
    _relu_backward_column_sums(grad.reshape(-1, n), out.reshape(-1, n), masked.reshape(-1, n), sums)
    return masked, sums


@kernel
def _cross_entropy_grad_column_sums(logp, target, row_weights, coef, g, g_stride, out, sums):
    # losses._cross_entropy_grad (float64: libm exp per element), and the column sums of its rows.
    classes = logp.shape[1]
    for j in range(classes):
        sums[j] = 0.0
    for i in range(logp.shape[0]):
        c = row_weights[i] * coef * g[i * g_stride]
        t = target[i]
        for j in range(classes):
            p = math.exp(logp[i, j])
            v = ((p - 1.0) if j == t else p) * c
            out[i, j] = v
            sums[j] += v


@kernel
def _cross_entropy_grad_column_sums_f32(logp, target, row_weights, coef, g, g_stride, out, sums):
    # losses._cross_entropy_grad_f32 (e^logp over the whole block first, in one loop that vectorises),
    # and the column sums of its rows, taken as each row is finished.
    flat_out = out.reshape(-1)
    flat_logp = logp.reshape(-1)
    for k in range(flat_out.size):
        flat_out[k] = exp_f32(flat_logp[k])
    classes = logp.shape[1]
    for j in range(classes):
        sums[j] = 0.0
    for i in range(logp.shape[0]):
        c = row_weights[i] * coef * g[i * g_stride]
        t = target[i]
        row = out[i]
        counted = 0 <= t < classes  # not an ignored row (ignore_index)
        p_t = row[t] if counted else 0.0
        for j in range(classes):
            row[j] = row[j] * c
        if counted:
            row[t] = (p_t - 1.0) * c
        for j in range(classes):
            sums[j] += row[j]


def cross_entropy_grad_column_sums(logp, target, row_weights, coef, g):
    """``(grad, sums)``: ``losses.cross_entropy_grad(logp, target, row_weights, coef, g)`` (bit for bit)
    and its sums over the rows (the gradient of the bias of the layer that made the logits)."""
    logp = contiguous(check_float(logp, "logp"))
    out = np.empty_like(logp)
    sums = np.empty(logp.shape[1], logp.dtype)
    g = np.ascontiguousarray(g, dtype=logp.dtype).reshape(-1)
    loop = _cross_entropy_grad_column_sums_f32 if logp.dtype == F32 else _cross_entropy_grad_column_sums
    loop(logp, target, row_weights, float(coef), g, 0 if g.size == 1 else 1, out, sums)
    return out, sums


def _channel_blocks(x):
    """(outer, channels, inner): x (N, C, ...) seen as blocks of one channel each."""
    outer, channels = x.shape[0], x.shape[1]
    return outer, channels, x.size // (outer * channels) if outer * channels else 0


@kernel
def _scale_shift_relu(x, scale, shift, out):
    # x, out: (outer, channels, inner) C-contiguous; scale, shift: (channels,).
    # out = max(x·scale + shift, 0), the product and the sum each rounded, as numpy's two ufuncs.
    outer, channels, inner = x.shape
    for a in range(outer):
        for c in range(channels):
            s, b = scale[c], shift[c]
            x_row, out_row = x[a, c], out[a, c]
            for k in range(inner):
                v = x_row[k] * s + b
                out_row[k] = _ZERO if v <= _ZERO else v  # NaN propagates like torch.relu


def scale_shift_relu(x, scale, shift):
    """``max(x·scale + shift, 0)`` with ``scale`` and ``shift`` one value per channel (axis 1) of ``x``
    (N, C, ...): BatchNorm's affine output and the ReLU after it in one pass."""
    x = contiguous(check_float(x))
    if x.ndim < 2:
        raise ValueError(f"scale_shift_relu: x of shape {x.shape} has no channel axis")
    channels = x.shape[1]
    scale = contiguous(np.asarray(scale, x.dtype).reshape(-1))
    shift = contiguous(np.asarray(shift, x.dtype).reshape(-1))
    if scale.size != channels or shift.size != channels:
        raise ValueError(f"scale_shift_relu: {scale.size} scales and {shift.size} shifts for {channels} "
                         f"channels")
    out = np.empty_like(x)
    if x.size == 0:
        return out
    blocks = _channel_blocks(x)
    _scale_shift_relu(x.reshape(blocks), scale, shift, out.reshape(blocks))
    return out


# The input whose memory the kernel may write its first output into (``into=``), for buffer planning.
relu_backward_column_sums.writes_into = 0
