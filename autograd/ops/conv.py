"""Convolution and pooling over (N, C, H, W) images: conv2d, max_pool2d, avg_pool2d.

Output size per spatial dim, as in the course: ``out = floor((in + 2·padding − kernel) / stride) + 1``.

conv2d is im2col + one BLAS product (see the notes in ``autograd/kernels/conv.py``). Its three
derivatives are the partial derivatives of one bilinear form B(x, W, g) = ⟨g, conv(x, W)⟩:

* ``Conv2d``            y  = conv(x, W) (+ b)
* ``Conv2dInputGrad``   dx = ∂B/∂x (a transposed convolution: Wᵀ·g, then col2im)
* ``Conv2dWeightGrad``  dW = ∂B/∂W (g · im2col(x)ᵀ)

Each of the three is linear in each argument, and the derivative of any of them is again one of the
three, so every backward is a Function of this file and gradients of any order come out. The bias
gradient is ``Conv2dBiasGrad`` (db = Σ g over all axes but 1), whose backward spreads the gradient back.

Pooling: ``MaxPool2d`` gathers each window's maximum, its backward is ``PoolScatter`` (the gradient
routed to the argmax positions), whose backward is ``PoolGather`` (a gather at the same positions),
and so on. ``AvgPool2d`` and its adjoint ``AvgPool2dAdjoint`` are each other's backward.
"""
from collections import namedtuple

import numpy as np

from ..function import Function
from .. import kernels
from ..tensor import Tensor

Window = namedtuple("Window", "kh kw sh sw ph pw oh ow")


def _rows_by_channel(g):
    """(N, O, oh, ow) -> the (O, N·oh·ow) matrix matching im2col's column order."""
    n, o = g.shape[:2]
    return g.transpose(1, 0, 2, 3).reshape(o, -1)


# ------------------------------------------------------------------------------------- convolution
class Conv2d(Function):
    """y[n, o] = Σ_c W[o, c] ⋆ x[n, c] + b[o] (cross-correlation, as every framework computes it);
    dx = Conv2dInputGrad(g, W),  dW = Conv2dWeightGrad(x, g),  db = Σ g over (N, oh, ow)."""

    @staticmethod
    def forward(ctx, x, weight, bias, win):
        k = kernels.conv
        n = x.shape[0]
        o = weight.shape[0]
        cols = k.im2col(x, *win)
        out = k.columns_to_images(kernels.matmul.matmul(weight.reshape(o, -1), cols), bias, n, win.oh, win.ow)
        ctx.save_for_backward(x, weight)
        ctx.win, ctx.cols = win, cols
        return out

    @staticmethod
    def backward(ctx, grad_output):
        x, weight = ctx.saved_tensors
        cols = ctx.__dict__.pop("cols", None)  # reused once, then the memory is released
        need = ctx.needs_input_grad
        dx = Conv2dInputGrad.apply(grad_output, weight, x.shape, ctx.win) if need[0] else None
        dw = Conv2dWeightGrad.apply(x, grad_output, weight.shape, ctx.win, cols=cols) if need[1] else None
        db = Conv2dBiasGrad.apply(grad_output) if need[2] else None
        return dx, dw, db, None

    @staticmethod
    def jvp(ctx, tx, tw, tb, _win):
        """ẏ = conv(ẋ, W) + conv(x, Ẇ) + ḃ (bilinear in x and W)."""
        from .shape import reshape
        x, weight = ctx.saved_tensors
        win = ctx.win
        out = None if tx is None else Conv2d.apply(tx, weight, tb, win)
        if tw is not None:
            term = Conv2d.apply(x, tw, tb if out is None else None, win)
            out = term if out is None else out + term
        if out is None:
            out = reshape(tb, (1, -1, 1, 1))
        return out


class Conv2dInputGrad(Function):
    """dx = ∂⟨g, conv(x, W)⟩/∂x: z = col2im(Wᵀ g);  dg = conv(dz, W),  dW = Conv2dWeightGrad(dz, g)."""

    @staticmethod
    def forward(ctx, g, weight, x_shape, win):
        k = kernels.conv
        o = weight.shape[0]
        dcols = kernels.matmul.matmul(weight.reshape(o, -1).T, _rows_by_channel(g))
        ctx.save_for_backward(g, weight)
        ctx.win = win
        return k.col2im(dcols, x_shape, *win)

    @staticmethod
    def backward(ctx, grad_output):
        g, weight = ctx.saved_tensors
        need = ctx.needs_input_grad
        dg = Conv2d.apply(grad_output, weight, None, ctx.win) if need[0] else None
        dw = Conv2dWeightGrad.apply(grad_output, g, weight.shape, ctx.win) if need[1] else None
        return dg, dw, None, None

    @staticmethod
    def jvp(ctx, tg, tw, _x_shape, _win):
        """ż = InputGrad(ġ, W) + InputGrad(g, Ẇ) (bilinear)."""
        g, weight = ctx.saved_tensors
        x_shape = ctx.primal_inputs[2]
        dg = None if tg is None else Conv2dInputGrad.apply(tg, weight, x_shape, ctx.win)
        dw = None if tw is None else Conv2dInputGrad.apply(g, tw, x_shape, ctx.win)
        return dg if dw is None else dw if dg is None else dg + dw


class Conv2dWeightGrad(Function):
    """dW = ∂⟨g, conv(x, W)⟩/∂W: z = g · im2col(x)ᵀ;  dx = Conv2dInputGrad(g, dz),  dg = conv(x, dz)."""

    @staticmethod
    def forward(ctx, x, g, w_shape, win, cols=None):
        k = kernels.conv
        if cols is None:
            cols = k.im2col(x, *win)
        ctx.save_for_backward(x, g)
        ctx.win = win
        return k.weight_grad(g, cols, w_shape)

    @staticmethod
    def backward(ctx, grad_output):
        x, g = ctx.saved_tensors
        need = ctx.needs_input_grad
        dx = Conv2dInputGrad.apply(g, grad_output, x.shape, ctx.win) if need[0] else None
        dg = Conv2d.apply(x, grad_output, None, ctx.win) if need[1] else None
        return dx, dg, None, None

    @staticmethod
    def jvp(ctx, tx, tg, *_constants):
        """ż = WeightGrad(ẋ, g) + WeightGrad(x, ġ) (bilinear)."""
        x, g = ctx.saved_tensors
        w_shape = ctx.primal_inputs[2]
        dx = None if tx is None else Conv2dWeightGrad.apply(tx, g, w_shape, ctx.win)
        dg = None if tg is None else Conv2dWeightGrad.apply(x, tg, w_shape, ctx.win)
        return dx if dg is None else dg if dx is None else dx + dg


class Conv2dBiasGrad(Function):
    """db[o] = Σ g[n, o, y, x] over the images and positions (the bias gradient; linear in g);
    dg = db's gradient spread over every (n, y, x) of its channel."""

    @staticmethod
    def forward(ctx, g):
        ctx.g_shape = g.shape
        return kernels.normalization_channels.channel_sums(g).astype(g.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        from .shape import broadcast_to, reshape
        return broadcast_to(reshape(grad_output, (1, -1, 1, 1)), ctx.g_shape)

    @staticmethod
    def jvp(ctx, tg):
        """ż = Σ ġ over the same axes (linear)."""
        return Conv2dBiasGrad.apply(tg)


# ---------------------------------------------------------------------------------------- pooling
class MaxPool2d(Function):
    """y = max over each window (the first maximum on ties);  dx = PoolScatter(dy, argmax)."""

    @staticmethod
    def forward(ctx, x, win):
        out, idx = kernels.conv.max_pool2d_forward(x, *win)
        ctx.idx, ctx.input_shape = idx, x.shape
        return out

    @staticmethod
    def backward(ctx, grad_output):
        return PoolScatter.apply(grad_output, ctx.idx, ctx.input_shape), None

    @staticmethod
    def jvp(ctx, tx, _win):
        """ẏ = ẋ read at each window's argmax."""
        return PoolGather.apply(tx, ctx.idx)


class PoolScatter(Function):
    """z = zeros(shape) with g added at the flat H×W positions ``idx`` of each plane (linear in g);
    dg = PoolGather(dz, idx)."""

    @staticmethod
    def forward(ctx, g, idx, shape):
        ctx.idx = idx
        return kernels.conv.plane_scatter_add(g, idx, shape)

    @staticmethod
    def backward(ctx, grad_output):
        return PoolGather.apply(grad_output, ctx.idx), None, None

    @staticmethod
    def jvp(ctx, tg, _idx, _shape):
        """ż = ġ scattered at the same positions (linear)."""
        return PoolScatter.apply(tg, ctx.idx, ctx.primal_inputs[2])


class PoolGather(Function):
    """z = x read at the flat H×W positions ``idx`` of each plane;  dx = PoolScatter(dz, idx)."""

    @staticmethod
    def forward(ctx, x, idx):
        ctx.idx, ctx.input_shape = idx, x.shape
        return kernels.conv.plane_gather(x, idx)

    @staticmethod
    def backward(ctx, grad_output):
        return PoolScatter.apply(grad_output, ctx.idx, ctx.input_shape), None

    @staticmethod
    def jvp(ctx, tx, _idx):
        """ż = ẋ read at the same positions (linear)."""
        return PoolGather.apply(tx, ctx.idx)


class AvgPool2d(Function):
    """y = mean over each window (zero padding counted or not);  dx = AvgPool2dAdjoint(dy)."""

    @staticmethod
    def forward(ctx, x, win, count_include_pad):
        ctx.win, ctx.include, ctx.input_shape = win, count_include_pad, x.shape
        return kernels.conv.avg_pool2d_forward(x, *win, count_include_pad)

    @staticmethod
    def backward(ctx, grad_output):
        return AvgPool2dAdjoint.apply(grad_output, ctx.input_shape, ctx.win, ctx.include), None, None

    @staticmethod
    def jvp(ctx, tx, _win, _include):
        """ẏ = average pooling of ẋ (linear)."""
        return AvgPool2d.apply(tx, ctx.win, ctx.include)


class AvgPool2dAdjoint(Function):
    """z = each g[window] / divisor spread over its window (the transpose of average pooling);
    dg = AvgPool2d(dz)."""

    @staticmethod
    def forward(ctx, g, shape, win, count_include_pad):
        ctx.win, ctx.include = win, count_include_pad
        return kernels.conv.avg_pool2d_adjoint(g, shape, *win, count_include_pad)

    @staticmethod
    def backward(ctx, grad_output):
        return AvgPool2d.apply(grad_output, ctx.win, ctx.include), None, None, None

    @staticmethod
    def jvp(ctx, tg, _shape, _win, _include):
        """ż = the adjoint pooling of ġ (linear)."""
        return AvgPool2dAdjoint.apply(tg, ctx.primal_inputs[1], ctx.win, ctx.include)


# ------------------------------------------------------------------------------- argument handling
def _pair(value, name, op):
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
        a, b = value
    else:
        a = b = value
    try:
        if int(a) != a or int(b) != b:
            raise TypeError
        return int(a), int(b)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}") from None


def _image(input, op):
    """(4-D float tensor, whether the input was a single unbatched (C, H, W) image)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(input).__name__}")
    if input.ndim not in (3, 4):
        raise RuntimeError(f"{op}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape "
                           f"{tuple(input.shape)}")
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point input, got {input.dtype}")
    if input.ndim == 3:
        from .shape import unsqueeze
        return unsqueeze(input, 0), True
    return input, False


def _window(op, shape, kernel_size, stride, padding):
    """The window geometry, with the course's output size floor((in + 2p − k)/s) + 1 per dim."""
    kh, kw = kernel_size
    sh, sw = stride
    ph, pw = padding
    if min(kh, kw) < 1:
        raise ValueError(f"{op}: kernel_size must be positive, got {kernel_size}")
    if min(sh, sw) < 1:
        raise ValueError(f"{op}: stride must be positive, got {stride}")
    if min(ph, pw) < 0:
        raise ValueError(f"{op}: padding must be non-negative, got {padding}")
    h, w = shape[-2:]
    if h + 2 * ph < kh or w + 2 * pw < kw:
        raise RuntimeError(f"{op}: input of shape {tuple(shape)} with padding {padding} is "
                           f"{h + 2 * ph}x{w + 2 * pw}, smaller than the kernel {kh}x{kw}")
    return Window(kh, kw, sh, sw, ph, pw, (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1)


def _unsupported(op, **options):
    for name, (value, default) in options.items():
        if value != default and value != (default, default):
            raise NotImplementedError(f"{op}: {name}={value!r} is not supported (only {default!r})")


def _same_padding(op, kh, kw, stride):
    if stride != (1, 1):
        raise ValueError(f"{op}: padding='same' is only supported with stride 1, got stride {stride}")
    if kh % 2 == 0 or kw % 2 == 0:
        raise NotImplementedError(f"{op}: padding='same' needs an odd kernel size, got {kh}x{kw}")
    return kh // 2, kw // 2


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation of ``input`` (N, C, H, W) or (C, H, W) with ``weight`` (O, C, kh, kw),
    plus ``bias`` (O,); ``stride`` and ``padding`` (zeros) are ints or (h, w) pairs, ``padding`` may
    also be 'valid' or 'same' (stride 1, odd kernels). Output (N, O, oh, ow),
    oh = floor((H + 2·padding − kh)/stride) + 1, likewise ow."""
    op = "conv2d"
    _unsupported(op, dilation=(dilation, 1), groups=(groups, 1))
    x, unbatched = _image(input, op)
    if not isinstance(weight, Tensor) or weight.ndim != 4:
        raise RuntimeError(f"{op}: expected a 4-D weight (out_channels, in_channels, kh, kw), got "
                           f"{tuple(weight.shape) if isinstance(weight, Tensor) else type(weight).__name__}")
    if weight.dtype != x.dtype:
        raise TypeError(f"{op}: input dtype {x.dtype} and weight dtype {weight.dtype} differ")
    o, c, kh, kw = weight.shape
    if x.shape[1] != c:
        raise RuntimeError(f"{op}: weight of shape {tuple(weight.shape)} expects {c} input channels, but the "
                           f"input of shape {tuple(input.shape)} has {x.shape[1]}")
    if bias is not None:
        if not isinstance(bias, Tensor) or bias.shape != (o,):
            raise RuntimeError(f"{op}: expected a bias of shape ({o},), got "
                               f"{tuple(bias.shape) if isinstance(bias, Tensor) else type(bias).__name__}")
        if bias.dtype != x.dtype:
            raise TypeError(f"{op}: input dtype {x.dtype} and bias dtype {bias.dtype} differ")
    stride = _pair(stride, "stride", op)
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise ValueError(f"{op}: padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
        padding = (0, 0) if padding == "valid" else _same_padding(op, kh, kw, stride)
    win = _window(op, x.shape, (kh, kw), stride, _pair(padding, "padding", op))
    out = Conv2d.apply(x, weight, bias, win)
    return _restore(out, unbatched)


def _restore(out, unbatched):
    if unbatched:
        from .shape import squeeze
        return squeeze(out, 0)
    return out


def _pool_window(op, x, kernel_size, stride, padding):
    kernel = _pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None or stride == () or stride == [] else _pair(stride, "stride", op)
    padding = _pair(padding, "padding", op)
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"{op}: padding {padding} should be at most half the kernel size {kernel}")
    return _window(op, x.shape, kernel, stride, padding)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Maximum over each ``kernel_size`` window of ``input`` (N, C, H, W) or (C, H, W); ``stride``
    defaults to ``kernel_size``; padding is −∞ (never selected). The gradient goes to each window's
    (first) maximum. ``return_indices=True`` also returns the flat H×W position of each maximum
    (int64), as PyTorch."""
    op = "max_pool2d"
    _unsupported(op, dilation=(dilation, 1), ceil_mode=(ceil_mode, False))
    x, unbatched = _image(input, op)
    win = _pool_window(op, x, kernel_size, stride, padding)
    out = MaxPool2d.apply(x, win)
    out = _restore(out, unbatched)
    if not return_indices:
        return out
    from ._args import computed
    idx = computed(lambda a: kernels.conv.max_pool2d_forward(a, *win)[1], x._data, dtype=np.int64)  # (recomputed)
    return out, _restore(idx, unbatched)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over each ``kernel_size`` window of ``input`` (N, C, H, W) or (C, H, W); ``stride``
    defaults to ``kernel_size``; zero padding counts in the divisor when ``count_include_pad``
    (PyTorch's default), else only the input pixels of the window do."""
    op = "avg_pool2d"
    _unsupported(op, ceil_mode=(ceil_mode, False), divisor_override=(divisor_override, None))
    x, unbatched = _image(input, op)
    win = _pool_window(op, x, kernel_size, stride, padding)
    return _restore(AvgPool2d.apply(x, win, bool(count_include_pad)), unbatched)
