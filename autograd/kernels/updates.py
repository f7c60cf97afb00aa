"""In-place updates, one pass over memory: the optimizers' building blocks (autograd/ops/inplace.py).

Public surface: ``axpy_(x, y, alpha)`` (x += alpha·y; ``blas_axpy_`` its BLAS path), ``addcmul_(x, a, b, value)``,
``addcdiv_(x, a, b, value)``, ``lerp_(x, end, weight)``, ``sqrt(x, out)``; ``BLAS_AXPY_MIN``.

Design notes:

* Arguments are 1-D C-contiguous arrays of one dtype and scalars already cast to that dtype, so
  float32 updates stay float32 (as in PyTorch).  Each loop mirrors the order of operations of
  PyTorch's single-tensor update, so trajectories agree to rounding.
* Large axpy updates call numpy's own BLAS (autograd/blas.py says why: its threads are the ones the
  weight-gradient products just ran on, and hold half of each gradient in their caches); small ones
  stay a Numba loop, which has no ctypes call to pay.  Partly overlapping arrays keep the loop, whose
  order threads would not keep.
* The optimizers compose these (through ``autograd.foreach_*``), each update rule written as its
  formula: a generic kernel per operation, not one kernel per optimizer and option.
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
