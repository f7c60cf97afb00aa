"""numpy's BLAS beyond matrix products: axpy for the kernels' large updates, gemv for column sums.

Why axpy: an optimizer step streams every parameter and its gradient right after the weight-gradient
products, which OpenBLAS ran on both cores, leaving half of each gradient in the other core's cache.
OpenBLAS's multithreaded axpy runs y += a·x on those same threads (still spinning after the product,
so they start at once), where a Numba loop on one core waits on the other core's cache and on memory
(benchmarks/bench_targets.py's MLP step measures both). Those threads also make the call's cost
depend on the machine: when other processes hold the cores, a threaded axpy waits for a thread
that cannot run, which a one-core loop never does (OPENBLAS_NUM_THREADS=1 keeps BLAS on one core).

The library is the one numpy is linked against: its symbols are looked up through numpy's own
extension module (the dynamic loader searches the module's dependencies), so nothing is loaded that
numpy has not loaded already. :func:`axpy_function` returns None where no CBLAS axpy is found (numpy
built against Accelerate, or a platform where the lookup fails); callers then use their Numba loop.
"""
import ctypes

import numpy as np

# (symbol pattern, integer type): numpy's wheels ship OpenBLAS with 64-bit integers under
# "scipy_"-prefixed, "64_"-suffixed names; other builds export the plain CBLAS names.
_NAMINGS = (
    ("scipy_cblas_{}axpy64_", ctypes.c_int64),
    ("cblas_{}axpy64_", ctypes.c_int64),
    ("scipy_cblas_{}axpy", ctypes.c_int),
    ("cblas_{}axpy", ctypes.c_int),
)
_PREFIXES = {np.dtype(np.float32): ("s", ctypes.c_float), np.dtype(np.float64): ("d", ctypes.c_double)}

_functions = None  # dtype -> the bound ctypes function (None: not available), filled on first use
_INT32_MAX = 2**31 - 1


def _numpy_library():
    try:
        from numpy._core import _multiarray_umath as module
    except ImportError:  # numpy 1.x
        from numpy.core import _multiarray_umath as module
    return ctypes.CDLL(module.__file__)


def _bind():
    functions = dict.fromkeys(_PREFIXES)
    try:
        library = _numpy_library()
    except (OSError, ImportError, AttributeError):
        return functions
    for dtype, (letter, real) in _PREFIXES.items():
        for pattern, integer in _NAMINGS:
            function = getattr(library, pattern.format(letter), None)
            if function is None:
                continue
            # void axpy(n, alpha, const x*, incx, y*, incy): y += alpha·x
            function.argtypes = [integer, real, ctypes.c_void_p, integer, ctypes.c_void_p, integer]
            function.restype = None
            function.int_max = np.iinfo(np.int64).max if integer is ctypes.c_int64 else _INT32_MAX
            functions[dtype] = function
            break
    return functions


def axpy_function(dtype):
    """The CBLAS ``?axpy(n, alpha, x, incx, y, incy)`` (y += alpha·x) of numpy's BLAS for float32 or
    float64 ``dtype``, as a ctypes function (Numba kernels can call it), or None when there is none.
    Its ``int_max`` attribute is the largest ``n`` its integer type holds."""
    global _functions
    if _functions is None:
        _functions = _bind()
    return _functions.get(dtype)


def column_sums(x):
    """Σ over the rows of a 2-D float32/float64 array, as BLAS's matrix-vector product with a vector of
    ones (OpenBLAS threads it), or None for other arrays. numpy's add.reduce(axis=0) adds the rows one
    after another too, but several times slower, the more so the more rows."""
    rows = x.shape[0]
    if rows == 0 or x.dtype.char not in "fd" or not x.flags.c_contiguous:
        return None
    key = (rows, x.dtype.char)
    ones = _ONES.get(key)
    if ones is None:
        if len(_ONES) >= 64:
            _ONES.clear()
        ones = _ONES[key] = np.ones(rows, x.dtype)
        ones.flags.writeable = False
    return ones.dot(x)


_ONES = {}  # (rows, dtype char) -> a read-only vector of ones: the batch sizes a model sees are few
