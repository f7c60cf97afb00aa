"""Dtype conversion, copies and comparisons."""
import numpy as np

from .. import dtypes
from ..function import Function
from ..tensor import Tensor
from ._args import binary_operands, computed


class Cast(Function):
    """y = x converted to ``dtype``;  dx = dy converted back (only float → float carries a gradient)."""

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.input_dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, grad_output):
        return Cast.apply(grad_output, ctx.input_dtype), None

    @classmethod
    def apply(cls, x, dtype):
        if dtype.kind != "f" or x.dtype.kind != "f":
            return computed(lambda a: a.astype(dtype), x._data, dtype=dtype)
        return super().apply(x, dtype)

    @staticmethod
    def jvp(ctx, tx, _dtype):
        """ẏ = ẋ converted to the output's dtype (linear)."""
        return Cast.apply(tx, ctx.primal_output.dtype)


class Clone(Function):
    """y = a copy of x;  dx = dy."""

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output

    @staticmethod
    def jvp(ctx, tx):
        """ẏ = ẋ."""
        return Clone.apply(tx)


def clone(input):
    return Clone.apply(input)


def contiguous(input):
    return input if input._data.flags.c_contiguous else clone(input)


def _compare(name, ufunc):
    def compare(input, other):
        a, b = binary_operands(input, other, name)
        return computed(ufunc, a._data, b._data, dtype=np.bool_)
    compare.__name__ = name
    compare.__doc__ = f"Elementwise ``{name}`` as a bool tensor (no gradient)."
    return compare


eq = _compare("eq", np.equal)
ne = _compare("ne", np.not_equal)
lt = _compare("lt", np.less)
le = _compare("le", np.less_equal)
gt = _compare("gt", np.greater)
ge = _compare("ge", np.greater_equal)
logical_and = _compare("logical_and", np.logical_and)
logical_or = _compare("logical_or", np.logical_or)
logical_xor = _compare("logical_xor", np.logical_xor)
greater, greater_equal, less, less_equal, equal_elementwise, not_equal = gt, ge, lt, le, eq, ne


def logical_not(input):
    return computed(np.logical_not, input._data, dtype=np.bool_)


def _bitwise(name, ufunc):
    def op(input, other):
        a, b = binary_operands(input, other, name)
        if a.dtype.kind == "f":
            raise TypeError(f"{name} is only supported for integer and bool tensors, got {a.dtype}")
        return computed(ufunc, a._data, b._data, dtype=a.dtype)
    op.__name__ = name
    return op


bitwise_and = _bitwise("bitwise_and", np.bitwise_and)
bitwise_or = _bitwise("bitwise_or", np.bitwise_or)
bitwise_xor = _bitwise("bitwise_xor", np.bitwise_xor)


def bitwise_not(input):
    if input.dtype.kind == "f":
        raise TypeError(f"bitwise_not (~) is only supported for integer and bool tensors, got {input.dtype}")
    return computed(np.invert, input._data, dtype=input.dtype)


def isnan(input):
    return computed(np.isnan, input._data, dtype=np.bool_)


def isinf(input):
    return computed(np.isinf, input._data, dtype=np.bool_)


def isfinite(input):
    return computed(np.isfinite, input._data, dtype=np.bool_)


def equal(input, other):
    """True when both tensors have the same shape and elements."""
    return input.shape == other.shape and bool(np.array_equal(input._data, other._data))


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(np.allclose(input._data, np.asarray(other), rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    other = other._data if isinstance(other, Tensor) else np.asarray(other)
    return computed(lambda a, b: np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan), input._data, other,
                    dtype=np.bool_)


def all(input, dim=None, keepdim=False):
    return computed(lambda a: np.all(a, axis=dim, keepdims=keepdim), input._data, dtype=np.bool_)


def any(input, dim=None, keepdim=False):
    return computed(lambda a: np.any(a, axis=dim, keepdims=keepdim), input._data, dtype=np.bool_)


def to(input, dtype=None, copy=False):
    """``input`` converted to ``dtype`` (differentiable between float dtypes). Devices are not
    modelled: ``"cpu"`` is accepted and changes nothing."""
    if isinstance(dtype, str) and dtype == "cpu":
        return input
    target = dtypes.as_dtype(dtype)
    if target is None or (target == input.dtype and not copy):
        return input
    return Cast.apply(input, dtype=target)
