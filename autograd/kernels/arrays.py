"""The argument checks every kernel wrapper shares: float dtypes and C-contiguous memory.

Design notes: the kernels walk their arrays as flat C-ordered memory and are compiled per dtype, so
each wrapper turns its arguments into C-contiguous float32 or float64 arrays first (a copy only when
the caller's array is not already one) and raises a TypeError naming the argument for other dtypes.
Outputs are allocated by numpy in the wrappers and passed in: an allocation inside a kernel goes
through numba's allocator, which for large arrays costs more than the kernel itself.
"""
import numpy as np

F32 = np.dtype(np.float32)
F64 = np.dtype(np.float64)


def check_float(x, name="x"):
    """``x`` as an array, or a TypeError naming ``name`` when it is not float32 or float64."""
    x = np.asarray(x)
    if x.dtype != F32 and x.dtype != F64:
        raise TypeError(f"{name}: expected float32 or float64 array, got {x.dtype}")
    return x


def contiguous(x):
    """``x`` if C-contiguous, else a C-ordered copy (np.ascontiguousarray would make a 0-d array 1-d)."""
    return x if x.flags.c_contiguous else np.array(x, order="C", copy=True)
