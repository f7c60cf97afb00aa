"""In-place updates, one pass over memory: the optimizers' building blocks (autograd/ops/inplace.py).

Public surface: ``axpy_(x, y, alpha)`` (x += alpha·y; ``blas_axpy_`` its BLAS path), ``addcmul_(x, a, b, value)``,
``addcdiv_(x, a, b, value)``, ``lerp_(x, end, weight)``, ``sgd_step_``, ``adam_step_``; ``BLAS_AXPY_MIN``.

Design notes:

* Arguments are 1-D C-contiguous arrays of one dtype and scalars already cast to that dtype, so
  float32 updates stay float32 (as in PyTorch).  Each loop mirrors the order of operations of
  PyTorch's single-tensor update, so trajectories agree to rounding.
* Large axpy updates call numpy's own BLAS (autograd/blas.py says why: its threads are the ones the
  weight-gradient products just ran on, and hold half of each gradient in their caches); small ones
  stay a Numba loop, which has no ctypes call to pay.  Partly overlapping arrays keep the loop, whose
  order threads would not keep.
* Switches are loop-invariant: small ones are selects; the Adam kernel has one loop per
  (amsgrad, eps_inside_sqrt), so each vectorises.
"""
import numpy as np

from .. import blas
from .jit import inline, kernel


@kernel
def addcmul_(x, a, b, value):
    for i in range(x.size):
        x[i] = x[i] + value * a[i] * b[i]


@kernel
def addcdiv_(x, a, b, value):
    for i in range(x.size):
        x[i] = x[i] + value * a[i] / b[i]


@kernel
def lerp_(x, end, weight):
    # PyTorch's two-sided form: exact at weight 0 and at weight 1.
    one = weight - weight + 1
    if weight < 0.5:
        for i in range(x.size):
            x[i] = x[i] + weight * (end[i] - x[i])
    else:
        w1 = one - weight
        for i in range(x.size):
            x[i] = end[i] - (end[i] - x[i]) * w1


@kernel
def _axpy_kernel(x, y, alpha):
    for i in range(x.size):
        x[i] = x[i] + alpha * y[i]


def axpy_(x, y, alpha):
    """x += alpha·y for flat C-contiguous arrays ``x`` and ``y`` of one float dtype (``alpha`` a scalar
    of that dtype): numpy's BLAS from ``BLAS_AXPY_MIN`` elements, multithreaded on the cores the last
    product used (autograd/blas.py says why), the Numba loop below that (no ctypes call to pay)."""
    if x.size >= BLAS_AXPY_MIN:
        function = blas.axpy_function(x.dtype)
        if function is not None and x.size <= function.int_max:
            blas_axpy_(function, x, y, alpha)
            return
    _axpy_kernel(x, y, alpha)


# OpenBLAS splits an axpy over its threads above 10,000 elements; below, a BLAS call on one thread
# only adds the ctypes call to the Numba loop's time.
BLAS_AXPY_MIN = 16384


@kernel
def blas_axpy_(axpy, x, y, alpha):
    """x += alpha·y through ``axpy``, a CBLAS ?axpy from ``blas.axpy_function``, for flat arrays of its
    dtype (``axpy_`` calls it for large ones)."""
    x_start, y_start = x.ctypes.data, y.ctypes.data
    nbytes = x.size * x.itemsize
    if x_start != y_start and x_start < y_start + nbytes and y_start < x_start + nbytes:
        _axpy_kernel(x, y, alpha)  # partly overlapping arrays: the loop's order, which threads would not keep
    else:
        axpy(x.size, alpha, y_start, 1, x_start, 1)


@kernel
def sgd_step_(p, g, buf, neg_lr, momentum, one_minus_dampening, weight_decay, sign,
                     use_momentum, first_step, nesterov):
    for i in range(p.size):
        gi = sign * g[i]
        if weight_decay != 0:
            gi = gi + weight_decay * p[i]
        if use_momentum:
            if first_step:
                b = gi
            else:
                b = buf[i] * momentum + one_minus_dampening * gi
            buf[i] = b
            if nesterov:
                gi = gi + momentum * b
            else:
                gi = b
        p[i] = p[i] + neg_lr * gi


@inline
def _adam_moments(p, g, m, v, decay, weight_decay, has_weight_decay, lerp_weight, w1, small_weight, beta2,
                  one_minus_beta2, sign):
    # Selects, not branches, so the loop stays vectorised.
    pi = p * decay
    gi = sign * g
    gd = gi + weight_decay * pi
    gi = gd if has_weight_decay else gi
    lo = m + lerp_weight * (gi - m)
    hi = gi - (gi - m) * w1
    mi = lo if small_weight else hi
    vi = v * beta2 + one_minus_beta2 * gi * gi
    return pi, mi, vi


@inline
def _adam_loop(p, g, m, v, vmax, decay, weight_decay, has_weight_decay, lerp_weight, w1, small_weight, beta2,
               one_minus_beta2, neg_step_size, bc2_sqrt, bias_correction2, eps, sign, amsgrad, eps_inside_sqrt):
    for i in range(p.size):
        pi, mi, vi = _adam_moments(p[i], g[i], m[i], v[i], decay, weight_decay, has_weight_decay,
                                   lerp_weight, w1, small_weight, beta2, one_minus_beta2, sign)
        m[i] = mi
        v[i] = vi
        if amsgrad:
            vm = vmax[i]
            vi = vm if vm >= vi else vi
            vmax[i] = vi
        if eps_inside_sqrt:
            denom = np.sqrt(vi / bias_correction2 + eps)
        else:
            denom = np.sqrt(vi) / bc2_sqrt + eps
        p[i] = pi + neg_step_size * mi / denom


@kernel
def adam_step_(p, g, m, v, vmax, decay, weight_decay, lerp_weight, beta2, one_minus_beta2,
                      neg_step_size, bc2_sqrt, bias_correction2, eps, sign, amsgrad, eps_inside_sqrt):
    one = lerp_weight - lerp_weight + 1
    small_weight = lerp_weight < 0.5
    w1 = one - lerp_weight
    has_weight_decay = weight_decay != 0
    # One loop per (amsgrad, eps_inside_sqrt): literal flags let LLVM drop the unused denominator.
    if amsgrad:
        if eps_inside_sqrt:
            _adam_loop(p, g, m, v, vmax, decay, weight_decay, has_weight_decay, lerp_weight, w1, small_weight,
                       beta2, one_minus_beta2, neg_step_size, bc2_sqrt, bias_correction2, eps, sign, True, True)
        else:
            _adam_loop(p, g, m, v, vmax, decay, weight_decay, has_weight_decay, lerp_weight, w1, small_weight,
                       beta2, one_minus_beta2, neg_step_size, bc2_sqrt, bias_correction2, eps, sign, True, False)
    elif eps_inside_sqrt:
        _adam_loop(p, g, m, v, vmax, decay, weight_decay, has_weight_decay, lerp_weight, w1, small_weight,
                   beta2, one_minus_beta2, neg_step_size, bc2_sqrt, bias_correction2, eps, sign, False, True)
    else:
        _adam_loop(p, g, m, v, vmax, decay, weight_decay, has_weight_decay, lerp_weight, w1, small_weight,
                   beta2, one_minus_beta2, neg_step_size, bc2_sqrt, bias_correction2, eps, sign, False, False)

