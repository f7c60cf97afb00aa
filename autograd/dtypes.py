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

# PyTorch's other dtype names exist so code written for PyTorch meets a clear refusal (as_dtype says
# which supported dtype to use instead) rather than an AttributeError.
float16 = half = np.dtype(np.float16)
int8 = np.dtype(np.int8)
int16 = short = np.dtype(np.int16)
int32 = np.dtype(np.int32)
uint8 = np.dtype(np.uint8)
_DEVICE_NAMES = ("cuda", "mps", "xpu", "xla", "meta", "hip", "vulkan")
UNSUPPORTED_NAMES = {"float16": float16, "half": float16, "int8": int8, "int16": int16, "short": int16,
                     "int32": int32, "uint8": uint8}

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
        if dtype in UNSUPPORTED_NAMES:
            raise TypeError(unsupported_message(UNSUPPORTED_NAMES[dtype]))
        if dtype.split(":")[0] in _DEVICE_NAMES:  # x.to("cuda"): a device where a dtype may stand
            raise RuntimeError(f"device {dtype!r} is not available: numbagrad tensors live on the CPU only "
                               f"(device='cpu'); there is no GPU backend")
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
    raise TypeError(unsupported_message(dt))


def unsupported_message(dtype, op=None):
    """Why ``dtype`` is refused and what to use instead (the nearest supported dtype)."""
    dtype = np.dtype(dtype)
    instead = ("float32 (ag.float32, x.float())" if dtype.kind in "fc" else
               "int64 (ag.int64, x.long())" if dtype.kind in "iu" else "float32, float64, int64 or bool")
    where = f"{op}: " if op else ""
    return (f"{where}dtype {dtype} is not supported: numbagrad tensors hold float32, float64, int64 and "
            f"bool only; use {instead}")


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


def promote_tensors(a, a_ndim, b, b_ndim):
    """PyTorch's promotion of two tensors' dtypes: a 0-d tensor beside a tensor with dimensions counts
    like a Python number, raising the category (bool -> int -> float) but never the width
    (float32 (3,) * float64 0-d is float32; int64 (3,) * float64 0-d is float64)."""
    if a is b or a == b:
        return a
    if (a_ndim == 0) == (b_ndim == 0):
        return promote(a, b)
    dimensioned, zero_d = (b, a) if a_ndim == 0 else (a, b)
    return zero_d if _CATEGORY[zero_d.kind] > _CATEGORY[dimensioned.kind] else dimensioned


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}


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
