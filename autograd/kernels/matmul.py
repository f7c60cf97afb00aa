"""Matrix products: numpy's BLAS, except the outer products that a Numba loop does faster.

Public surface: ``matmul(a, b)`` (the dispatcher), ``matmul_numba(a, b)`` (always the Numba kernel,
for tests and benchmarks) and ``use_numba_matmul(m, k, n)`` (the dispatch rule).

Design notes (``benchmarks/bench_matmul.py --grid`` measures the grid this rule comes from):

* For an inner size k of 1 (an outer product) OpenBLAS is slow: the Numba kernel is several times
  faster from a few thousand outputs on.  At k = 2 the two break even; from k = 4 on BLAS wins at
  every size, tiny ones included (numba's dispatch and the wrapper cost more than numpy's
  small-matrix path, and OpenBLAS's packed kernels win as soon as k grows).
* The kernel loops i-p-j, so its inner loop streams contiguous rows of b and out and vectorises;
  operands are made C-contiguous first.
"""
import numpy as np

from .arrays import F32, F64, check_float, contiguous
from .jit import kernel


@kernel
def _matmul_kernel(a, b, out):
    m, k = a.shape
    n = b.shape[1]
    for i in range(m):
        orow = out[i]
        for j in range(n):
            orow[j] = 0
        for p in range(k):
            aip = a[i, p]
            brow = b[p]
            for j in range(n):
                orow[j] += aip * brow[j]



# The kernel is used only for k == 1 products with at least this many outputs (e.g. the weight
# gradient x.T @ grad for batch size 1); see the module's notes.
_MM_MIN_OUTER = 4096


def use_numba_matmul(m, k, n):
    """Whether ``matmul`` gives an (m, k) @ (k, n) product to the Numba kernel rather than BLAS."""
    return k == 1 and m * n >= _MM_MIN_OUTER


def _check_mm(a, b):
    a = check_float(a, "a")
    b = check_float(b, "b")
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"matmul expects 2-D arrays, got {a.ndim}-D and {b.ndim}-D")
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"matmul shape mismatch: {a.shape} @ {b.shape}")
    if a.dtype != b.dtype:
        raise TypeError(f"matmul dtype mismatch: {a.dtype} @ {b.dtype}")
    return a, b


def matmul_numba(a, b):
    """a @ b always with the hand-written Numba kernel (benchmarks, tests)."""
    a, b = _check_mm(a, b)
    out = np.empty((a.shape[0], b.shape[1]), dtype=a.dtype)
    _matmul_kernel(contiguous(a), contiguous(b), out)
    return out


def matmul(a, b):
    """a @ b for 2-D float arrays of one dtype: the Numba kernel where ``use_numba_matmul``, else BLAS."""
    # Validation fast path: this sits on every linear layer's critical path.
    if not (type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 2 and b.ndim == 2
            and a.dtype == b.dtype and (a.dtype == F32 or a.dtype == F64)
            and a.shape[1] == b.shape[0]):
        a, b = _check_mm(a, b)
    m, k = a.shape
    n = b.shape[1]
    if use_numba_matmul(m, k, n):
        out = np.empty((m, n), dtype=a.dtype)
        _matmul_kernel(contiguous(a), contiguous(b), out)
        return out
    return a @ b

