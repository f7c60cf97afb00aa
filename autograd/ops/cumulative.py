"""``cumsum(input, dim)``: running sums along a dim, as ``torch.cumsum``."""
import numpy as np

from .. import dtypes
from ..function import Function
from ..tensor import normalize_dim
from ._args import as_tensor


class CumSum(Function):
    """y_i = Σ_{j ≤ i} x_j along ``dim`` (``reverse``: Σ_{j ≥ i});  dx = the reverse cumsum of dy
    (each x_j feeds every later y_i); tangent = cumsum of the tangent (a linear op)."""

    @staticmethod
    def forward(ctx, x, dim, reverse):
        ctx.dim, ctx.reverse = dim, reverse
        if reverse:
            return np.flip(np.cumsum(np.flip(x, dim), dim), dim).copy()
        return np.cumsum(x, dim)

    @staticmethod
    def backward(ctx, grad_output):
        return CumSum.apply(grad_output, ctx.dim, not ctx.reverse), None, None

    @staticmethod
    def jvp(ctx, tangent, _dim, _reverse):
        return None if tangent is None else CumSum.apply(tangent, ctx.dim, ctx.reverse)


def cumsum(input, dim, *, dtype=None):
    """Running sums along ``dim``; integer and bool inputs give int64 (as PyTorch)."""
    input = as_tensor(input)
    if dtype is not None:
        input = input.to(dtype)
    elif input.dtype.kind in "biu":
        input = input.to(dtypes.int64)
    if input.ndim == 0:
        return CumSum.apply(input.reshape(1), 0, False).reshape(())
    return CumSum.apply(input, normalize_dim(dim, input.ndim, "cumsum"), False)
