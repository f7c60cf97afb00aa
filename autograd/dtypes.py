"""The four dtypes numbagrad tensors hold, and the promotion rules between them.

Dtypes are numpy dtype objects, so ``x.dtype == autograd.float32`` and ``np.dtype`` comparisons
both work. Like PyTorch, Python floats become float32 (the default float dtype), Python ints int64,
and numpy arrays keep float64.
"""
import numpy as np

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int64 = np.dtype(np.int64)
bool_ = np.dtype(np.bool_)

default_float = float32
SUPPORTED = (float32, float64, int64, bool_)

_ALIASES = {
    "float": float32, "float32": float32, "float64": float64, "double": float64,
    "int": int64, "int64": int64, "long": int64, "bool": bool_,
}


def as_dtype(dtype):
    """Normalise a dtype argument (autograd dtype, numpy dtype or type, or name) to one of SUPPORTED."""
    if dtype is None:
        return None
    if isinstance(dtype, str):
        if dtype in _ALIASES:
            return _ALIASES[dtype]
        raise TypeError(f"unknown dtype {dtype!r}; numbagrad supports float32, float64, int64 and bool")
    if dtype is float:
        return float32
    if dtype is int:
        return int64
    if dtype is bool:
        return bool_
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"unknown dtype {dtype!r}; numbagrad supports float32, float64, int64 and bool") from None
    if dt in SUPPORTED:
        return dt
    raise TypeError(f"dtype {dt} is not supported; numbagrad supports float32, float64, int64 and bool")


def storage_dtype(array_dtype):
    """The supported dtype an incoming numpy array is stored as (float16 -> float32, int8/uint32 -> int64)."""
    if array_dtype in SUPPORTED:
        return array_dtype
    kind = array_dtype.kind
    if kind == "f":
        return float32 if array_dtype.itemsize < 8 else float64
    if kind in "iu":
        return int64
    if kind == "b":
        return bool_
    raise TypeError(f"cannot make a tensor from an array of dtype {array_dtype}; "
                    "numbagrad supports float32, float64, int64 and bool")


def is_floating(dtype):
    return dtype.kind == "f"


def promote(a, b):
    """PyTorch's type promotion for two tensors: bool < int64 < float32 < float64."""
    if a is b or a == b:
        return a
    return a if _RANK[a] >= _RANK[b] else b


def promote_with_scalar(tensor_dtype, scalar):
    """A Python scalar only raises the *category* (bool -> int -> float), never the width."""
    if isinstance(scalar, (bool, np.bool_)):
        return tensor_dtype
    if isinstance(scalar, (int, np.integer)):
        return int64 if tensor_dtype == bool_ else tensor_dtype
    if isinstance(scalar, (float, np.floating)):
        return tensor_dtype if tensor_dtype.kind == "f" else default_float
    raise TypeError(f"unsupported operand of type {type(scalar).__name__}")


_RANK = {bool_: 0, int64: 1, float32: 2, float64: 3}
