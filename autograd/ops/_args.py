"""Argument handling shared by the op functions: operand coercion, dtype promotion, dim aliases."""
import numpy as np

from .. import dtypes, tracing
from ..tensor import Tensor, make_tensor


def constant(value, dtype):
    """A tensor outside the graph holding ``value`` (a literal, or an array of the step) as ``dtype``."""
    array = np.asarray(value, dtype=dtype)
    if tracing.recorder is not None:
        tracing.recorder.literal(array)
    return make_tensor(array, False, None, None)


class _AsDtype:
    """``function(*arrays)`` as an array of ``dtype``."""

    def __init__(self, function, dtype):
        self.function, self.dtype = function, dtype
        self.label = getattr(function, "__name__", "computed")

    def __call__(self, *arrays):
        return np.asarray(self.function(*arrays), dtype=self.dtype)


def computed(function, *arrays, dtype):
    """A tensor outside the graph holding ``function(*arrays)`` as ``dtype``: a result without a gradient
    (a comparison, a mask, indices, integer arithmetic) computed on arrays, and reported to
    ``autograd.tracing`` so that a compiled step computes it again at each replay."""
    return make_tensor(tracing.computed(_AsDtype(function, dtype), *arrays), False, None, None)


def as_tensor(value, dtype=None):
    if isinstance(value, Tensor):
        return value if dtype is None or value.dtype == dtype else value.to(dtype)
    return Tensor(value, dtype=dtype)


def binary_operands(a, b, op, floating=False):
    """Two Tensors of one dtype (PyTorch promotion; Python scalars don't widen a tensor's dtype).

    ``floating=True`` (division, pow with float exponents...) promotes integer results to float32.
    """
    a_is, b_is = isinstance(a, Tensor), isinstance(b, Tensor)
    if a_is and b_is and a._data.dtype == b._data.dtype and (not floating or a._data.dtype.kind == "f"):
        return a, b  # the common case, kept cheap: this runs for every binary op
    if a_is and b_is:
        dtype = dtypes.promote_tensors(a.dtype, a._data.ndim, b.dtype, b._data.ndim)
    elif a_is:
        dtype = _scalar_dtype(a.dtype, b, op)
    elif b_is:
        dtype = _scalar_dtype(b.dtype, a, op)
    else:
        raise TypeError(f"{op}: expected at least one Tensor operand")
    if floating and dtype.kind != "f":
        dtype = dtypes.default_float
    a = _coerce(a, dtype, a_is)
    b = _coerce(b, dtype, b_is)
    return a, b


def _scalar_dtype(tensor_dtype, scalar, op):
    if isinstance(scalar, np.ndarray):
        return dtypes.promote(tensor_dtype, dtypes.storage_dtype(scalar.dtype))
    try:
        return dtypes.promote_with_scalar(tensor_dtype, scalar)
    except TypeError:
        raise TypeError(f"{op}: unsupported operand of type {type(scalar).__name__}") from None


def _coerce(x, dtype, is_tensor):
    if is_tensor:
        return x if x.dtype == dtype else x.to(dtype)
    return constant(x, dtype)


def floating(x):
    """``x`` itself if floating, else converted to float32 (exp of an int tensor is float, as in torch)."""
    return x if x._data.dtype.kind == "f" else x.to(dtypes.default_float)


def dim_alias(dim, keepdim, axis, keepdims):
    """Accept numpy's ``axis``/``keepdims`` as aliases of PyTorch's ``dim``/``keepdim``."""
    if axis is not None:
        if dim is not None:
            raise TypeError("pass either dim or axis, not both")
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    return dim, bool(keepdim)


def shape_arg(shape, op):
    """``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])`` all mean shape (2, 3)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    try:
        return tuple(int(s) for s in shape)
    except TypeError:
        raise TypeError(f"{op}: shape must be ints, got {shape!r}") from None
