"""Masks: ``masked_fill`` (and ``masked_fill_``), ``tril`` and ``triu``, as PyTorch's.

These are what attention needs: a causal mask is ``triu`` of ones, and masked scores are filled with
−∞ before the softmax.
"""
import numpy as np

from ..function import Function
from ..tensor import Tensor
from ._args import as_tensor


class MaskedFill(Function):
    """y = value where mask else x (mask broadcast to x's shape);  dx = dy where ¬mask else 0,
    dvalue = Σ dy where mask (a tensor ``value`` is differentiable, as in PyTorch);
    tangent: t_x where ¬mask, t_value where mask."""

    @staticmethod
    def forward(ctx, x, mask, value):
        ctx.mask = mask
        ctx.value_shape = np.shape(value)
        return np.where(mask, np.asarray(value, x.dtype), x)

    @staticmethod
    def backward(ctx, grad_output):
        need_x, _, need_value = ctx.needs_input_grad
        dx = MaskedFill.apply(grad_output, ctx.mask, 0.0) if need_x else None
        dvalue = None
        if need_value:
            dvalue = MaskedFill.apply(grad_output, ~ctx.mask, 0.0).sum().reshape(ctx.value_shape)
        return dx, None, dvalue

    @staticmethod
    def jvp(ctx, x_tangent, _mask, value_tangent):
        if x_tangent is None and value_tangent is None:
            return None
        shape = np.broadcast_shapes(ctx.mask.shape, x_tangent.shape if x_tangent is not None else ())
        if x_tangent is None:
            x_tangent = Tensor(np.zeros(shape, value_tangent.dtype))
        return MaskedFill.apply(x_tangent, ctx.mask, value_tangent if value_tangent is not None else 0.0)


def _mask_array(input, mask, op):
    mask = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if mask.dtype != np.bool_:
        raise TypeError(f"{op}: mask must be a bool tensor, got {mask.dtype}")
    try:
        if np.broadcast_shapes(mask.shape, input.shape) != tuple(input.shape):
            raise ValueError
    except ValueError:
        raise RuntimeError(f"{op}: the mask of shape {tuple(mask.shape)} must be broadcastable to the input's "
                           f"shape {tuple(input.shape)}") from None
    return mask


def _fill_value(value, input, op):
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"{op}: only supports a 0-dimensional value tensor, but got one with "
                               f"{value.ndim} dimension(s)")
        return value if value.dtype == input.dtype else value.to(input.dtype)
    if isinstance(value, (bool, int, float, np.number)):
        return value
    raise TypeError(f"{op}: value must be a number or a 0-d tensor, got {type(value).__name__}")


def masked_fill(input, mask, value):
    """``input`` with the elements where ``mask`` is True replaced by ``value``."""
    input = as_tensor(input)
    return MaskedFill.apply(input, _mask_array(input, mask, "masked_fill"), _fill_value(value, input,
                                                                                         "masked_fill"))


def masked_fill_(input, mask, value):
    """In-place ``masked_fill``."""
    from .inplace import apply_inplace
    mask = _mask_array(input, mask, "masked_fill_")
    value = _fill_value(value, input, "masked_fill_")
    others = (value,) if isinstance(value, Tensor) else ()
    return apply_inplace(input, "masked_fill_",
                         lambda x, *v: MaskedFill.apply(x, mask, v[0] if v else value), *others)


class Tril(Function):
    """y = the lower triangle (j ≤ i + diagonal) of each matrix over the last two dims, zeros elsewhere;
    dy and the tangent are cut the same way (a linear op). :class:`Triu` keeps the upper one."""

    cut = staticmethod(np.tril)

    @classmethod
    def forward(cls, ctx, x, diagonal):
        ctx.diagonal = diagonal
        return cls.cut(x, diagonal)

    @classmethod
    def backward(cls, ctx, grad_output):
        return cls.apply(grad_output, ctx.diagonal), None

    @classmethod
    def jvp(cls, ctx, tangent, _diagonal):
        return None if tangent is None else cls.apply(tangent, ctx.diagonal)


class Triu(Tril):
    """y = the upper triangle (j ≥ i + diagonal) of each matrix over the last two dims (see Tril)."""

    cut = staticmethod(np.triu)


def _triangle(input, diagonal, op_class, op):
    input = as_tensor(input)
    if input.ndim < 2:
        raise RuntimeError(f"{op}: input tensor must have at least 2 dimensions, got shape {tuple(input.shape)}")
    if not isinstance(diagonal, (int, np.integer)) or isinstance(diagonal, bool):
        raise TypeError(f"{op}: diagonal must be an int, got {type(diagonal).__name__}")
    return op_class.apply(input, int(diagonal))


def tril(input, diagonal=0):
    """The lower triangle (j ≤ i + diagonal) of each matrix over the last two dims; zeros above."""
    return _triangle(input, diagonal, Tril, "tril")


def triu(input, diagonal=0):
    """The upper triangle (j ≥ i + diagonal) of each matrix over the last two dims; zeros below."""
    return _triangle(input, diagonal, Triu, "triu")
