"""Cross-entropy from log-probabilities: per-row losses and the fused softmax − one-hot gradient.

Public surface: ``cross_entropy_rows(logp, target, weight, ignore_index)`` and
``cross_entropy_grad(logp, target, row_weights, coef, g)`` (autograd/ops/losses.py).

Design notes:

* The forward takes the log-softmax from ``rows`` and picks one entry per row, checking each target
  on the way (an IndexError names it), and returns the sums the reductions need, in float64.
* The backward is (e^logp − onehot(t))·wᵢ·coef·gᵢ in one pass, without materialising the softmax or
  the one-hot matrix.  float32 takes e^logp over the whole block first in one vectorised loop
  (``fastmath.exp_f32``) and then scales the rows; float64 calls libm per element.
"""
import math

import numpy as np

from .arrays import F32, contiguous
from .fastmath import exp_f32
from .jit import kernel


@kernel
def _cross_entropy_rows(logp, target, weight, has_weight, ignore_index, losses, row_weights):
    # losses[i] = -w_i·logp[i, t_i] with w_i = weight[t_i] (or 1), 0 where t_i = ignore_index.
    # Returns (the first row whose target is out of range, or -1; Σ losses; Σ w) in float64.
    loss_sum = 0.0
    weight_sum = 0.0
    classes = logp.shape[1]
    for i in range(logp.shape[0]):
        t = target[i]
        if t == ignore_index:
            losses[i] = 0.0
            row_weights[i] = 0.0
            continue
        if t < 0 or t >= classes:
            return i, loss_sum, weight_sum
        w = weight[t] if has_weight else 1.0
        loss = -logp[i, t] * w
        losses[i] = loss
        row_weights[i] = w
        loss_sum += loss
        weight_sum += w
    return -1, loss_sum, weight_sum


@kernel
def _cross_entropy_grad(logp, target, row_weights, coef, g, g_stride, out):
    # out[i, j] = (e^logp[i, j] − [j = t_i])·w_i·coef·g_i  (g one value, g_stride 0, or one per row).
    classes = logp.shape[1]
    for i in range(logp.shape[0]):
        c = row_weights[i] * coef * g[i * g_stride]
        t = target[i]
        for j in range(classes):
            p = math.exp(logp[i, j])
            out[i, j] = ((p - 1.0) if j == t else p) * c


def cross_entropy_rows(logp, target, weight, ignore_index):
    """Per-row losses −wᵢ·logp[i, tᵢ] and weights wᵢ (0 where tᵢ = ignore_index) of (N, C) log-probabilities
    and int64 targets, with their sums; raises IndexError naming an out-of-range target."""
    losses = np.empty(logp.shape[0], logp.dtype)
    row_weights = np.empty(logp.shape[0], logp.dtype)
    has_weight = weight is not None
    bad, loss_sum, weight_sum = _cross_entropy_rows(logp, target, weight if has_weight else losses, has_weight,
                                                    ignore_index, losses, row_weights)
    if bad >= 0:
        classes = logp.shape[1]
        raise IndexError(f"cross_entropy: target {int(target[bad])} is out of bounds for {classes} classes "
                         f"(expected values in [0, {classes - 1}] or ignore_index={ignore_index})")
    return losses, row_weights, loss_sum, weight_sum


@kernel
def _cross_entropy_grad_f32(logp, target, row_weights, coef, g, g_stride, out):
    # _cross_entropy_grad with e^logp taken over the whole block first, in one loop that vectorises
    # (math.exp is a scalar libm call per element); within 2 ulp of it.
    flat_out = out.reshape(-1)
    flat_logp = logp.reshape(-1)
    for k in range(flat_out.size):
        flat_out[k] = exp_f32(flat_logp[k])
    classes = logp.shape[1]
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


def cross_entropy_grad(logp, target, row_weights, coef, g):
    """(softmax − onehot(t))·wᵢ·coef·gᵢ in one pass, g a scalar array or one value per row."""
    logp = contiguous(logp)  # the float32 kernel walks logp and out as flat arrays
    out = np.empty_like(logp)
    g = np.ascontiguousarray(g, dtype=logp.dtype).reshape(-1)
    kernel = _cross_entropy_grad_f32 if logp.dtype == F32 else _cross_entropy_grad
    kernel(logp, target, row_weights, coef, g, 0 if g.size == 1 else 1, out)
    return out

