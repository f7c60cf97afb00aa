"""Joining and splitting: cat stack split chunk repeat pad."""
import numpy as np

from ..function import Function
from ..tensor import Tensor, normalize_dim
from .indexing import getitem
from .shape import broadcast_to, reshape, unsqueeze


class Cat(Function):
    """y = [x₁, x₂, ...] joined along ``dim``;  dxₖ = the slice of dy that xₖ occupies."""

    @staticmethod
    def forward(ctx, *arrays, dim):
        ctx.dim = dim
        ctx.sizes = [a.shape[dim] for a in arrays]
        return np.concatenate(arrays, axis=dim)

    @staticmethod
    def backward(ctx, grad_output):
        grads, start = [], 0
        for size, needed in zip(ctx.sizes, ctx.needs_input_grad):
            if needed:
                key = (slice(None),) * ctx.dim + (slice(start, start + size),)
                grads.append(getitem(grad_output, key))
            else:
                grads.append(None)
            start += size
        return tuple(grads)

    @staticmethod
    def jvp(ctx, *tangents):
        """ẏ = [ẋ₁, ẋ₂, ...] joined along dim (a missing tangent is zeros)."""
        from ..creation import zeros
        parts = [t if t is not None else zeros(x.shape, dtype=x.dtype)
                 for t, x in zip(tangents, ctx.primal_inputs)]
        return Cat.apply(*parts, dim=ctx.dim)


def cat(tensors, dim=0, *, axis=None):
    """Concatenate tensors of the same shape except in ``dim``."""
    if axis is not None:
        dim = axis
    tensors = [t for t in tensors]
    if not tensors:
        raise RuntimeError("cat: expected a non-empty list of Tensors")
    if not all(isinstance(t, Tensor) for t in tensors):
        raise TypeError("cat: expected a sequence of Tensors")
    first = tensors[0]
    d = normalize_dim(dim, first.ndim, "cat")
    from .. import dtypes
    dtype = first.dtype
    for t in tensors[1:]:
        dtype = dtypes.promote(dtype, t.dtype)
        if t.ndim != first.ndim or t.shape[:d] + t.shape[d + 1:] != first.shape[:d] + first.shape[d + 1:]:
            raise RuntimeError(f"cat: sizes of tensors must match except in dimension {dim}: got "
                               f"{first.shape} and {t.shape}")
    tensors = [t if t.dtype == dtype else t.to(dtype) for t in tensors]
    return Cat.apply(*tensors, dim=d)


concatenate = concat = cat


def stack(tensors, dim=0):
    """Join tensors of one shape along a new axis ``dim``."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack: expected a non-empty list of Tensors")
    shape = tensors[0].shape
    for t in tensors[1:]:
        if t.shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {shape} and {t.shape}")
    d = normalize_dim(dim, len(shape) + 1, "stack")
    return cat([unsqueeze(t, d) for t in tensors], d)


def split(tensor, split_size_or_sections, dim=0):
    """Views of consecutive pieces along ``dim``: of ``split_size`` each (the last may be smaller), or of
    the given list of sizes."""
    d = normalize_dim(dim, tensor.ndim, "split")
    length = tensor.shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)):
        size = int(split_size_or_sections)
        if size <= 0:
            raise RuntimeError(f"split: split_size must be positive, got {size}")
        sizes = [min(size, length - start) for start in range(0, length, size)] or [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != length:
            raise RuntimeError(f"split: sizes {sizes} don't add up to the dimension's length {length}")
    pieces, start = [], 0
    for size in sizes:
        pieces.append(getitem(tensor, (slice(None),) * d + (slice(start, start + size),)))
        start += size
    return tuple(pieces)


def chunk(input, chunks, dim=0):
    """``chunks`` pieces of ceil(n / chunks) along ``dim`` (fewer when n is small), as PyTorch."""
    if chunks <= 0:
        raise RuntimeError(f"chunk: chunks must be positive, got {chunks}")
    d = normalize_dim(dim, input.ndim, "chunk")
    size = -(-input.shape[d] // chunks) if input.shape[d] else 1
    return split(input, max(size, 1), d)


def repeat(input, *repeats):
    """Tile ``input``: dim i repeated ``repeats[i]`` times (PyTorch's ``repeat``, numpy's ``tile``).

    Built from reshape and expand, so the gradient (a sum over the copies) needs no op of its own.
    """
    from ._args import shape_arg
    repeats = shape_arg(repeats, "repeat")
    if len(repeats) < input.ndim:
        raise RuntimeError(f"repeat: number of repeat dims ({len(repeats)}) can not be smaller than the "
                           f"number of dimensions of the tensor ({input.ndim})")
    shape = (1,) * (len(repeats) - input.ndim) + input.shape
    interleaved = reshape(input, tuple(x for s in shape for x in (1, s)))
    expanded = broadcast_to(interleaved, tuple(x for r, s in zip(repeats, shape) for x in (r, s)))
    return reshape(expanded, tuple(r * s for r, s in zip(repeats, shape)))


class ConstantPad(Function):
    """y = x surrounded by ``value``;  dx = the centre of dy."""

    @staticmethod
    def forward(ctx, x, widths, value):
        ctx.key = tuple(slice(lo, lo + s) for (lo, _), s in zip(widths, x.shape))
        return np.pad(x, widths, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, grad_output):
        return getitem(grad_output, ctx.key), None, None

    @staticmethod
    def jvp(ctx, tx, _widths, _value):
        """ẏ = ẋ padded with zeros (the padding value is a constant)."""
        widths = ctx.primal_inputs[1]
        return ConstantPad.apply(tx, widths, 0.0)


_NUMPY_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pad(input, pad, mode="constant", value=0.0):
    """Pad the last ``len(pad)//2`` dims: ``pad = (left_last, right_last, left_prev, right_prev, ...)``
    as in ``torch.nn.functional.pad``. Modes: constant, reflect, replicate, circular. Negative pads crop.
    """
    pad = [int(p) for p in pad]
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise RuntimeError(f"pad: padding length {len(pad)} must be even and at most 2·ndim "
                           f"({2 * input.ndim})")
    widths = [(0, 0)] * input.ndim
    for i in range(len(pad) // 2):
        widths[input.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if any(lo < 0 or hi < 0 for lo, hi in widths):  # negative padding crops first
        key = tuple(slice(-lo if lo < 0 else 0, s + hi if hi < 0 else s) for (lo, hi), s in zip(widths, input.shape))
        input = getitem(input, key)
        widths = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    if mode == "constant":
        return ConstantPad.apply(input, tuple(widths), value)
    if mode not in _NUMPY_MODES:
        raise NotImplementedError(f"pad: mode must be one of constant, reflect, replicate, circular; got {mode!r}")
    for (lo, hi), s in zip(widths, input.shape):
        if mode == "reflect" and (lo >= s or hi >= s) and (lo or hi):
            raise RuntimeError(f"pad: padding ({lo}, {hi}) should be less than the dimension size {s} "
                               f"in reflect mode")
    # The padded tensor gathers input elements: index the input by the padded map of its own positions,
    # so the gradient (scatter-add of repeated positions) comes from indexing's backward.
    positions = np.pad(np.arange(input.numel()).reshape(input.shape), widths, mode=_NUMPY_MODES[mode])
    return getitem(reshape(input, (-1,)), positions)
