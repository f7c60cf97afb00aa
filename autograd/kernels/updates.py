"""In-place updates, one pass over memory: the optimizers' building blocks (autograd/ops/inplace.py).

Public surface: ``axpy_(x, y, alpha)`` (x += alpha·y; ``blas_axpy_`` its BLAS path), ``addcmul_(x, a, b, value)``,
``addcdiv_(x, a, b, value)``, ``lerp_(x, end, weight)``, ``sqrt(x, out)``; ``BLAS_AXPY_MIN``; the whole
steps ``sgd_step_`` and ``adam_step_``.

Design notes:

* Arguments are 1-D C-contiguous arrays of one dtype and scalars already cast to that dtype, so
  float32 updates stay float32 (as in PyTorch).  Each loop mirrors the order of operations of
  PyTorch's single-tensor update, so trajectories agree to rounding.
* Large axpy updates call numpy's own BLAS (autograd/blas.py says why: its threads are the ones the
  weight-gradient products just ran on, and hold half of each gradient in their caches); small ones
  stay a Numba loop, which has no ctypes call to pay.  Partly overlapping arrays keep the loop, whose
  order threads would not keep.
* The optimizers compose these (through ``autograd.foreach_*``), each update rule written as its
  formula: a generic kernel per operation, not one kernel per optimizer and option. The two whole
  steps at the end are the exception PyTorch makes too (``fused=True``): SGD's and Adam's rule in one
  pass per tensor, the same operations in the same order as the foreach form, which is what a compiled
  training step replays (one kernel call per parameter instead of one per operation).
"""
import numpy as np

from .. import blas
from .jit import kernel


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
def sqrt(x, out):
    """out = √x (``out`` may be ``x``). numpy's float32 square root runs several times slower than
    this loop, which LLVM vectorises; both are IEEE's correctly rounded square root, so the same bits."""
    for i in range(x.size):
        out[i] = np.sqrt(x[i])


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


# ---------------------------------------------------------------------------------------------------
# Whole updates in one pass (the optimizers' ``fused=True``, and what a compiled step replays): the
# same operations, in the same order, as the optimizer's foreach form, for one tensor at a time.
# ---------------------------------------------------------------------------------------------------
@kernel
def sgd_step_(p, g, buf, neg_lr, weight_decay, momentum, one_minus_dampening, nesterov, maximize, first):
    """One SGD step on flat arrays: g ← −g (maximize); g ← g + wd·p; with a buffer (``buf.size``):
    v ← g on the first step, else v ← μ·v + (1 − dampening)·g, then g ← g + μ·v (Nesterov) or v;
    finally p ← p − lr·g."""
    has_buffer = buf.size == p.size
    for i in range(p.size):
        gi = -g[i] if maximize else g[i]
        if weight_decay != 0:
            gi = gi + weight_decay * p[i]
        if has_buffer:
            if first:
                v = gi
            else:
                v = buf[i] * momentum
                v = v + one_minus_dampening * gi
            buf[i] = v
            gi = gi + momentum * v if nesterov else v
        p[i] = p[i] + neg_lr * gi


@kernel
def adam_step_(p, g, m, v, v_max, step_size, beta1_weight, beta2, one_minus_beta2, eps, root_correction2,
               correction2, decay, has_decay, decoupled, maximize, eps_inside_sqrt):
    """One Adam step on flat arrays: g ← −g (maximize); p ← p·decay (decoupled weight decay) or
    g ← g + decay·p; m ← lerp(m, g, 1 − β1); v ← β2·v + (1 − β2)·g²; with ``v_max`` (amsgrad,
    ``v_max.size``) v̂ ← max(v̂, v) is the second moment used; denominator √v / √(1 − β2^t) + eps (or
    √(v / (1 − β2^t) + eps)); p ← p + step_size·m / denominator (step_size = −lr / (1 − β1^t))."""
    amsgrad = v_max.size == p.size
    one = beta2 - beta2 + 1
    for i in range(p.size):
        gi = -g[i] if maximize else g[i]
        if has_decay:
            if decoupled:
                p[i] = p[i] * decay
            else:
                gi = gi + decay * p[i]
        if beta1_weight < 0.5:  # lerp's two-sided form, as lerp_ above (written to m: m's dtype)
            m[i] = m[i] + beta1_weight * (gi - m[i])
        else:
            m[i] = gi - (gi - m[i]) * (one - beta1_weight)
        mi = m[i]
        vi = v[i] * beta2
        vi = vi + one_minus_beta2 * gi * gi
        v[i] = vi
        if amsgrad:
            if vi > v_max[i] or vi != vi:  # (a NaN on either side stays, as with np.maximum)
                v_max[i] = vi
            vi = v_max[i]
        if eps_inside_sqrt:
            denominator = np.sqrt(vi / correction2 + eps)
        else:
            denominator = np.sqrt(vi) / root_correction2 + eps
        p[i] = p[i] + step_size * mi / denominator
