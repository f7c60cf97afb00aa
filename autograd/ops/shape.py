"""Movement ops: reshape, permute, broadcast and its inverse. They change how elements are laid out,
never their values, so each backward is the inverse movement of the gradient."""
import numpy as np

from ..blas import column_sums
from ..function import Function
from ..tensor import normalize_dim, normalize_dims
from ._args import shape_arg


class Reshape(Function):
    """y = x viewed with a new shape;  dx = dy reshaped back."""
    is_view = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.input_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, grad_output):
        return Reshape.apply(grad_output, ctx.input_shape), None

    @staticmethod
    def jvp(ctx, tx, _shape):
        """ẏ = ẋ reshaped (linear)."""
        return Reshape.apply(tx, ctx.primal_inputs[1])


class Permute(Function):
    """y = x with axes reordered by ``dims``;  dx = dy with the inverse order."""
    is_view = True

    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return x.transpose(dims)

    @staticmethod
    def backward(ctx, grad_output):
        return Permute.apply(grad_output, tuple(np.argsort(ctx.dims))), None

    @staticmethod
    def jvp(ctx, tx, _dims):
        """ẏ = ẋ permuted (linear)."""
        return Permute.apply(tx, ctx.dims)


class BroadcastTo(Function):
    """y = x repeated along broadcast axes (a read-only view);  dx = dy summed over those axes."""
    is_view = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.input_shape = x.shape
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, grad_output):
        return SumToShape.apply(grad_output, shape=ctx.input_shape), None

    @staticmethod
    def jvp(ctx, tx, _shape):
        """ẏ = ẋ broadcast (linear)."""
        return BroadcastTo.apply(tx, ctx.primal_inputs[1])


class SumToShape(Function):
    """y = x summed down to ``shape`` (the inverse of broadcasting);  dx = dy broadcast back."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.input_shape = x.shape
        lead = x.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape) if s == 1 and x.shape[lead + i] != 1)
        if axes == (0,) and x.ndim == 2:  # a broadcast bias's gradient: Σ of a batch's rows
            out = column_sums(x)
            if out is not None:
                return out.reshape(shape)
        out = x.sum(axis=axes, keepdims=True) if axes else x
        return out.reshape(shape)

    @staticmethod
    def backward(ctx, grad_output):
        grad = BroadcastTo.apply(grad_output, ctx.input_shape)
        # callers pass ``shape`` as a keyword (not an edge of the graph): one gradient per positional arg
        return grad if len(ctx.next_edges) == 1 else (grad, None)

    @staticmethod
    def jvp(ctx, tx):
        """ẏ = ẋ summed down to the output's shape (linear)."""
        return SumToShape.apply(tx, shape=ctx.primal_output.shape)


class Alias(Function):
    """y = x, a view sharing x's memory and version counter (``forward_ad.make_dual``/``unpack_dual``
    return one);  dx = dy,  ẏ = ẋ."""
    is_view = True

    @staticmethod
    def forward(ctx, x):
        return x.view()

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output

    @staticmethod
    def jvp(ctx, tx):
        return tx


def _resolve_shape(numel, shape, op):
    shape = list(shape)
    unknown = [i for i, s in enumerate(shape) if s == -1]
    if len(unknown) > 1:
        raise RuntimeError(f"{op}: only one dimension can be inferred (-1), got shape {tuple(shape)}")
    known = int(np.prod([s for s in shape if s != -1])) if shape else 1
    if unknown:
        if known == 0 or numel % known:
            raise RuntimeError(f"{op}: shape {tuple(shape)} is invalid for input of size {numel}")
        shape[unknown[0]] = numel // known
    elif known != numel:
        raise RuntimeError(f"{op}: shape {tuple(shape)} is invalid for input of size {numel}")
    if any(s < 0 for s in shape):
        raise RuntimeError(f"{op}: invalid shape {tuple(shape)}")
    return tuple(shape)


def reshape(input, *shape):
    """``input`` with a new shape of the same number of elements (one dim may be -1)."""
    shape = _resolve_shape(input.numel(), shape_arg(shape, "reshape"), "reshape")
    if shape == input.shape:
        return input
    return Reshape.apply(input, shape)


def view(input, *shape):
    """Like ``reshape`` but never copies: raises when the memory layout does not allow a view."""
    shape = _resolve_shape(input.numel(), shape_arg(shape, "view"), "view")
    try:
        np.reshape(input._data, shape, copy=False)
    except ValueError:
        raise RuntimeError(f"view size is not compatible with input tensor's size and stride (shape "
                           f"{input.shape} -> {shape}); use .reshape(...) instead") from None
    return reshape(input, shape)


def flatten(input, start_dim=0, end_dim=-1):
    if input.ndim == 0:  # dims 0 and -1 only, as torch
        normalize_dim(start_dim, 0, "flatten")
        normalize_dim(end_dim, 0, "flatten")
        return reshape(input, (1,))
    start = normalize_dim(start_dim, input.ndim, "flatten")
    end = normalize_dim(end_dim, input.ndim, "flatten")
    if start > end:
        raise RuntimeError("flatten: start_dim cannot come after end_dim")
    merged = int(np.prod(input.shape[start:end + 1]))  # not -1: an empty batch leaves it ambiguous
    return reshape(input, input.shape[:start] + (merged,) + input.shape[end + 1:])


def permute(input, *dims):
    dims = shape_arg(dims, "permute")
    if len(dims) != input.ndim:
        raise RuntimeError(f"permute: number of dims ({len(dims)}) doesn't match the tensor's ndim "
                           f"({input.ndim})")
    axes = tuple(normalize_dim(d, input.ndim, "permute") for d in dims)
    if len(set(axes)) != len(axes):
        raise RuntimeError(f"permute: repeated dim in {dims}")
    if axes == tuple(range(input.ndim)):
        return input
    return Permute.apply(input, axes)


def transpose(input, dim0, dim1):
    d0 = normalize_dim(dim0, input.ndim, "transpose")
    d1 = normalize_dim(dim1, input.ndim, "transpose")
    if input.ndim == 0:  # dims 0 and -1 of a 0-d tensor: nothing to swap, as in torch
        return input
    axes = list(range(input.ndim))
    axes[d0], axes[d1] = axes[d1], axes[d0]
    return permute(input, axes)


def t(input):
    """Transpose of a tensor with at most 2 dims (PyTorch's ``.t()``; ``.T`` reverses all dims)."""
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
    return permute(input, tuple(reversed(range(input.ndim))))


def squeeze(input, dim=None):
    """Remove axes of length 1 (all of them, or the given ``dim`` int/tuple when it has length 1)."""
    axes = normalize_dims(dim, input.ndim, "squeeze") if input.ndim else ()
    shape = tuple(s for i, s in enumerate(input.shape) if not (i in axes and s == 1))
    return reshape(input, shape)


def unsqueeze(input, dim):
    """Insert an axis of length 1 at ``dim`` (``-1`` appends)."""
    d = normalize_dim(dim, input.ndim + 1, "unsqueeze")
    return reshape(input, input.shape[:d] + (1,) + input.shape[d:])


def expand(input, *sizes):
    """Broadcast to ``sizes`` without copying; -1 keeps a dim. The result is a read-only view."""
    sizes = shape_arg(sizes, "expand")
    if len(sizes) < input.ndim:
        raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater or "
                           f"equal to the number of dimensions in the tensor ({input.ndim})")
    lead = len(sizes) - input.ndim
    shape = tuple(input.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    return broadcast_to(input, shape)


def broadcast_to(input, shape):
    shape = tuple(shape)
    if shape == input.shape:
        return input
    try:
        np.broadcast_shapes(input.shape, shape)
        if np.broadcast_shapes(input.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise RuntimeError(f"expand/broadcast_to: the shape {input.shape} cannot be broadcast to "
                           f"{shape}") from None
    return BroadcastTo.apply(input, shape)


def broadcast_tensors(*tensors):
    shape = np.broadcast_shapes(*(t.shape for t in tensors))
    return tuple(broadcast_to(t, shape) for t in tensors)


def sum_to_size(input, *size):
    """``input`` summed down to ``size``, to which it must broadcast (``torch.Tensor.sum_to_size``):
    how a gradient of a broadcast result goes back to the shape of its input."""
    shape = tuple(shape_arg(size, "sum_to_size"))
    if tuple(input.shape) == shape:
        return input
    lead = input.ndim - len(shape)
    if lead < 0 or any(s != 1 and s != d for s, d in zip(shape, input.shape[lead:])):
        raise RuntimeError(f"sum_to_size: size {shape} is not expandable to the tensor's size "
                           f"{tuple(input.shape)}")
    return SumToShape.apply(input, shape=shape)
