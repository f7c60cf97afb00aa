"""Batch normalisation: per-channel statistics, the normalisation with its affine map, its gradients.

Public surface (``autograd/ops/batch_norm.py``): ``channel_moments``, ``normalize``,
``normalize_backward_sums``, ``normalize_backward_input``, ``channel_scale``; ``channel_sums`` (also
a convolution's bias gradient, ``autograd/ops/conv.py``).

Design notes:

* Every array is (N, C, *) and is seen as (outer, C, inner) blocks of one channel each, C-contiguous;
  per-channel values are (C,) arrays.  A (N, C) input has blocks of one element.
* Sums over a channel are accumulated in float64 (for float32 inputs too, each element converted
  first): each block's sum by a function that may reassociate (``summing``), so that LLVM vectorises
  it, then block after block in order.
* The variance is two passes, the mean first and then the mean of the squared deviations from it,
  as numpy's ``var``: one pass of Σx and Σx² loses the variance to cancellation when the mean is
  large against the spread.
* The elementwise passes compute in the input's dtype, with the per-channel values rounded to it
  once: y = (x − μ)·s + b with s = γ/σ, one rounding per operation.  Centring first keeps the
  accuracy that x·s + (b − μ·s) would lose to cancellation when |μ| is large against σ.
* Blocks shorter than ``_SHORT_BLOCK`` (a (N, C) input, or short sequences) are summed row after row
  with the channels as the vectorised axis instead.
"""
import numpy as np

from .arrays import check_float, contiguous
from .jit import kernel
from .jit import reassociating as summing  # (a block's sums)

_SHORT_BLOCK = 16  # blocks shorter than this are summed with the channels as the vectorised axis


def _blocks(x):
    """x (N, C, *) as the (outer, C, inner) C-contiguous array of its channel blocks."""
    outer, channels = x.shape[0], x.shape[1]
    inner = x.size // (outer * channels) if outer * channels else 0
    return contiguous(x).reshape(outer, channels, inner)


@summing
def _block_sum(block, shift):
    """Σ (block − shift) in float64."""
    s = 0.0
    for k in range(block.shape[0]):
        s += np.float64(block[k]) - shift
    return s


@summing
def _block_squares(block, shift):
    """Σ (block − shift)² in float64."""
    s = 0.0
    for k in range(block.shape[0]):
        d = np.float64(block[k]) - shift
        s += d * d
    return s


@summing
def _block_products(g_block, x_block, mean, rstd):
    """(Σ g, Σ g·(x − mean)·rstd) in float64."""
    sum_g = 0.0
    sum_gx = 0.0
    for k in range(x_block.shape[0]):
        gv = np.float64(g_block[k])
        sum_g += gv
        sum_gx += gv * ((np.float64(x_block[k]) - mean) * rstd)
    return sum_g, sum_gx


@kernel
def _channel_sums(x, shift, square, out):
    # out[c] = Σ over channel c's blocks of (x − shift[c]) (squared when square), in float64
    outer, channels, inner = x.shape
    for c in range(channels):
        out[c] = 0.0
    if inner < _SHORT_BLOCK:
        for a in range(outer):
            for t in range(inner):
                for c in range(channels):
                    d = np.float64(x[a, c, t]) - shift[c]
                    out[c] += d * d if square else d
        return
    for a in range(outer):
        for c in range(channels):
            out[c] += _block_squares(x[a, c], shift[c]) if square else _block_sum(x[a, c], shift[c])


@kernel
def _product_sums(g, x, mean, rstd, sum_g, sum_gx):
    # sum_g[c] = Σ g,  sum_gx[c] = Σ g·x̂ with x̂ = (x − mean[c])·rstd[c], all in float64
    outer, channels, inner = x.shape
    for c in range(channels):
        sum_g[c] = 0.0
        sum_gx[c] = 0.0
    if inner < _SHORT_BLOCK:
        for a in range(outer):
            for t in range(inner):
                for c in range(channels):
                    gv = np.float64(g[a, c, t])
                    sum_g[c] += gv
                    sum_gx[c] += gv * ((np.float64(x[a, c, t]) - mean[c]) * rstd[c])
        return
    for a in range(outer):
        for c in range(channels):
            block_g, block_gx = _block_products(g[a, c], x[a, c], mean[c], rstd[c])
            sum_g[c] += block_g
            sum_gx[c] += block_gx


@kernel
def _normalize(x, mean, scale, shift, out):
    # out = (x − mean[c])·scale[c] + shift[c]
    outer, channels, inner = x.shape
    for a in range(outer):
        for c in range(channels):
            m, s, b = mean[c], scale[c], shift[c]
            src, dst = x[a, c], out[a, c]
            for t in range(inner):
                dst[t] = (src[t] - m) * s + b


@kernel
def _normalize_backward_input(g, x, mean, rstd, scale, mean_g, mean_gx, out):
    # out = scale[c]·(g − mean_g[c] − x̂·mean_gx[c]) with x̂ = (x − mean[c])·rstd[c]
    outer, channels, inner = x.shape
    for a in range(outer):
        for c in range(channels):
            m, r, s, k1, k2 = mean[c], rstd[c], scale[c], mean_g[c], mean_gx[c]
            gs, xs, dst = g[a, c], x[a, c], out[a, c]
            for t in range(inner):
                dst[t] = s * (gs[t] - k1 - ((xs[t] - m) * r) * k2)


@kernel
def _channel_scale(g, scale, out):
    outer, channels, inner = g.shape
    for a in range(outer):
        for c in range(channels):
            s = scale[c]
            gs, dst = g[a, c], out[a, c]
            for t in range(inner):
                dst[t] = gs[t] * s


def _per_channel(values, channels, dtype, name):
    values = np.asarray(values, dtype).reshape(-1)
    if values.size != channels:
        raise ValueError(f"batch norm kernels: {name} has {values.size} values for {channels} channels")
    return contiguous(values)


def channel_moments(x):
    """(mean, biased variance) of each channel (axis 1) of x (N, C, *), as float64 (C,) arrays."""
    blocks = _blocks(check_float(x))
    channels = blocks.shape[1]
    count = blocks.shape[0] * blocks.shape[2]
    sums = np.zeros(channels)
    if count == 0:
        return np.full(channels, np.nan), np.full(channels, np.nan)
    _channel_sums(blocks, np.zeros(channels), False, sums)
    mean = sums / count
    squares = np.zeros(channels)
    _channel_sums(blocks, mean, True, squares)
    return mean, squares / count


def channel_sums(x):
    """Σ over all axes but 1 of x (N, C, *), as a float64 (C,) array."""
    blocks = _blocks(check_float(x))
    sums = np.zeros(blocks.shape[1])
    if blocks.size:
        _channel_sums(blocks, np.zeros(blocks.shape[1]), False, sums)
    return sums


def normalize(x, mean, scale, shift):
    """(x − mean)·scale + shift per channel (axis 1) of x (N, C, *), in x's dtype."""
    x = check_float(x)
    blocks = _blocks(x)
    channels, dtype = blocks.shape[1], blocks.dtype
    out = np.empty(x.shape, dtype)
    if out.size:
        _normalize(blocks, _per_channel(mean, channels, dtype, "mean"), _per_channel(scale, channels, dtype, "scale"),
                   _per_channel(shift, channels, dtype, "shift"), out.reshape(blocks.shape))
    return out


def normalize_backward_sums(g, x, mean, rstd):
    """(Σ g, Σ g·x̂) per channel (float64 (C,) arrays), x̂ = (x − mean)·rstd, over all axes but 1
    (computed in float64)."""
    x, g = check_float(x), check_float(g, "grad")
    if g.shape != x.shape:
        raise ValueError(f"batch norm kernels: grad shape {g.shape} != input shape {x.shape}")
    blocks, g_blocks = _blocks(x), _blocks(g.astype(x.dtype, copy=False))
    channels, dtype = blocks.shape[1], blocks.dtype
    sum_g, sum_gx = np.zeros(channels), np.zeros(channels)
    if x.size:
        _product_sums(g_blocks, blocks, _per_channel(mean, channels, np.float64, "mean"),
                      _per_channel(rstd, channels, np.float64, "rstd"), sum_g, sum_gx)
    return sum_g, sum_gx


def normalize_backward_input(g, x, mean, rstd, scale, mean_g, mean_gx):
    """scale·(g − mean_g − x̂·mean_gx) per channel, x̂ = (x − mean)·rstd: the input gradient of batch
    normalisation (scale = w/σ, mean_g = mean of g, mean_gx = mean of g·x̂ over the channel)."""
    x, g = check_float(x), check_float(g, "grad")
    if g.shape != x.shape:
        raise ValueError(f"batch norm kernels: grad shape {g.shape} != input shape {x.shape}")
    blocks = _blocks(x)
    channels, dtype = blocks.shape[1], blocks.dtype
    out = np.empty(x.shape, dtype)
    if out.size:
        values = [_per_channel(v, channels, dtype, name) for v, name in
                  ((mean, "mean"), (rstd, "rstd"), (scale, "scale"), (mean_g, "mean_g"), (mean_gx, "mean_gx"))]
        _normalize_backward_input(_blocks(g.astype(dtype, copy=False)), blocks, *values, out.reshape(blocks.shape))
    return out


def channel_scale(g, scale):
    """g·scale per channel (axis 1) of g (N, C, *)."""
    g = check_float(g, "grad")
    blocks = _blocks(g)
    out = np.empty(g.shape, blocks.dtype)
    if out.size:
        _channel_scale(blocks, _per_channel(scale, blocks.shape[1], blocks.dtype, "scale"), out.reshape(blocks.shape))
    return out
