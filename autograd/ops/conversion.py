"""Dtype conversion, copies and comparisons."""
import numpy as np

from .. import dtypes
from ..function import Function
from ..tensor import Tensor
from ._args import binary_operands, constant


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
            return constant(x._data.astype(dtype), dtype)
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
        return constant(ufunc(a._data, b._data), np.bool_)
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
    return constant(np.logical_not(input._data), np.bool_)


def _bitwise(name, ufunc):
    def op(input, other):
        a, b = binary_operands(input, other, name)
        if a.dtype.kind == "f":
            raise TypeError(f"{name} is only supported for integer and bool tensors, got {a.dtype}")
        return constant(ufunc(a._data, b._data), a.dtype)
    op.__name__ = name
    return op


bitwise_and = _bitwise("bitwise_and", np.bitwise_and)
bitwise_or = _bitwise("bitwise_or", np.bitwise_or)
bitwise_xor = _bitwise("bitwise_xor", np.bitwise_xor)


def bitwise_not(input):
    if input.dtype.kind == "f":
        raise TypeError(f"bitwise_not (~) is only supported for integer and bool tensors, got {input.dtype}")
    return constant(np.invert(input._data), input.dtype)


def isnan(input):
    return constant(np.isnan(input._data), np.bool_)


def isinf(input):
    return constant(np.isinf(input._data), np.bool_)


def isfinite(input):
    return constant(np.isfinite(input._data), np.bool_)


def equal(input, other):
    """True when both tensors have the same shape and elements."""
    return input.shape == other.shape and bool(np.array_equal(input._data, other._data))


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(np.allclose(input._data, np.asarray(other), rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return constant(np.isclose(input._data, np.asarray(other), rtol=rtol, atol=atol, equal_nan=equal_nan),
                    np.bool_)


def all(input, dim=None, keepdim=False):
    return constant(np.all(input._data, axis=dim, keepdims=keepdim), np.bool_)


def any(input, dim=None, keepdim=False):
    return constant(np.any(input._data, axis=dim, keepdims=keepdim), np.bool_)


def to(input, dtype=None, copy=False):
    """``input`` converted to ``dtype`` (differentiable between float dtypes). Devices are not
    modelled: ``"cpu"`` is accepted and changes nothing."""
    if isinstance(dtype, str) and dtype == "cpu":
        return input
    target = dtypes.as_dtype(dtype)
    if target is None or (target == input.dtype and not copy):
        return input
    return Cast.apply(input, dtype=target)
