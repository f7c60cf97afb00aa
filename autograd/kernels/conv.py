"""Convolution and pooling: im2col / col2im, max pooling with its indices, average pooling.

Public surface: ``im2col``, ``col2im``, ``max_pool2d_forward``, ``plane_scatter_add``, ``plane_gather``,
``avg_pool2d_forward``, ``avg_pool2d_adjoint`` (autograd/ops/conv.py).

Design notes:

* Images are (N, C, H, W), C-contiguous; the window geometry (kernel kh×kw, stride sh×sw, zero
  padding ph×pw, output oh×ow) is computed by the caller.  Column matrices are (C·kh·kw, N·oh·ow), so
  one BLAS product with the (O, C·kh·kw) weight matrix makes the whole batch's convolution: that beats
  a direct Numba convolution kernel except with a single input channel.
* im2col is kh·kw strided numpy slice copies, faster than a Numba gather loop, whose short rows (ow
  elements) do not vectorise.  col2im, a scatter-add, is a Numba kernel: as fast as kh·kw numpy
  ``+=`` slices for one channel and faster from a few channels on.
* Max pooling records the flat position of each window's maximum in its H×W plane, so its backward
  (``plane_scatter_add``) and its double backward (``plane_gather``) need no window search.  As in
  PyTorch the first maximum wins ties and a NaN wins.
* Average pooling is kh·kw strided numpy slice additions, vectorised by numpy, with no gather.
"""
import numpy as np

from .arrays import check_float, contiguous
from .jit import kernel


@kernel
def _col2im_kernel(cols, kh, kw, sh, sw, ph, pw, oh, ow, out):
    # out must be zeroed: overlapping windows (stride < kernel) add up.
    n_img, n_ch, h, w = out.shape
    plane = oh * ow
    for c in range(n_ch):
        for i in range(kh):
            for j in range(kw):
                row = cols[(c * kh + i) * kw + j]
                for n in range(n_img):
                    base = n * plane
                    for y in range(oh):
                        hy = y * sh - ph + i
                        if hy < 0 or hy >= h:
                            continue
                        dst = out[n, c, hy]
                        start = base + y * ow
                        for xo in range(ow):
                            wx = xo * sw - pw + j
                            if 0 <= wx < w:
                                dst[wx] += row[start + xo]


@kernel
def _max_pool_kernel(x, kh, kw, sh, sw, ph, pw, oh, ow, out, idx):
    # idx: flat position (hy·W + wx) of each window's maximum in its (H, W) plane.  As PyTorch:
    # the first maximum wins ties and a NaN wins (the last NaN's position).  Window bounds are
    # clipped once per window (padding is never selected), so the inner loops have no branches
    # but the comparison.
    n_img, n_ch, h, w = x.shape
    for n in range(n_img):
        for c in range(n_ch):
            src = x[n, c]
            for y in range(oh):
                h0 = max(y * sh - ph, 0)
                h1 = min(y * sh - ph + kh, h)
                for xo in range(ow):
                    w0 = max(xo * sw - pw, 0)
                    w1 = min(xo * sw - pw + kw, w)
                    best = src[h0, w0]
                    best_at = h0 * w + w0
                    for hy in range(h0, h1):
                        row = src[hy]
                        for wx in range(w0, w1):
                            v = row[wx]
                            if v > best or v != v:
                                best = v
                                best_at = hy * w + wx
                    out[n, c, y, xo] = best
                    idx[n, c, y, xo] = best_at


@kernel
def _plane_scatter_add_kernel(g, idx, out):
    # out[p, idx[p, k]] += g[p, k]; out (planes, H·W) zeroed by the caller.
    planes, m = g.shape
    for p in range(planes):
        for k in range(m):
            out[p, idx[p, k]] += g[p, k]


@kernel
def _plane_gather_kernel(x, idx, out):
    planes, m = idx.shape
    for p in range(planes):
        for k in range(m):
            out[p, k] = x[p, idx[p, k]]


def _check_window(x, name, kh, kw, sh, sw, ph, pw, oh, ow):
    x = check_float(x, name)
    if x.ndim != 4:
        raise ValueError(f"{name}: expected a 4-D (N, C, H, W) array, got shape {x.shape}")
    if min(kh, kw, sh, sw, oh, ow) < 1 or min(ph, pw) < 0:
        raise ValueError(f"invalid window: kernel {kh}x{kw}, stride {sh}x{sw}, padding {ph}x{pw}, "
                         f"output {oh}x{ow}")
    return contiguous(x)


def im2col(x, kh, kw, sh, sw, ph, pw, oh, ow):
    """The (C·kh·kw, N·oh·ow) column matrix of the zero-padded windows of x (N, C, H, W):
    row (c, i, j), column (n, y, x) holds x[n, c, y·sh − ph + i, x·sw − pw + j] (0 outside)."""
    x = _check_window(x, "x", kh, kw, sh, sw, ph, pw, oh, ow)
    n, c, h, w = x.shape
    if ph or pw:
        padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
        padded[:, :, ph:ph + h, pw:pw + w] = x
        x = padded
    cols = np.empty((c, kh, kw, n, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            window = x[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
            cols[:, i, j] = window.transpose(1, 0, 2, 3)
    return cols.reshape(c * kh * kw, n * oh * ow)


def col2im(cols, shape, kh, kw, sh, sw, ph, pw, oh, ow):
    """The adjoint of ``im2col``: each column entry added back at its pixel of an array of ``shape``
    (N, C, H, W); entries that fell on padding are dropped."""
    cols = contiguous(check_float(cols, "cols"))
    n, c, h, w = shape
    if cols.shape != (c * kh * kw, n * oh * ow):
        raise ValueError(f"cols shape {cols.shape} does not match image {shape} with kernel {kh}x{kw} "
                         f"and output {oh}x{ow}")
    out = np.zeros(shape, dtype=cols.dtype)
    if cols.size:
        _col2im_kernel(cols, kh, kw, sh, sw, ph, pw, oh, ow, out)
    return out


def max_pool2d_forward(x, kh, kw, sh, sw, ph, pw, oh, ow):
    """(max over each window, flat int64 position of that maximum in its H×W plane)."""
    x = _check_window(x, "x", kh, kw, sh, sw, ph, pw, oh, ow)
    n, c = x.shape[:2]
    out = np.empty((n, c, oh, ow), dtype=x.dtype)
    idx = np.empty((n, c, oh, ow), dtype=np.int64)
    if out.size:
        _max_pool_kernel(x, kh, kw, sh, sw, ph, pw, oh, ow, out, idx)
    return out, idx


def plane_scatter_add(g, idx, shape):
    """An array of ``shape`` (N, C, H, W), zero but for g (N, C, ...) added at the flat H×W
    positions ``idx`` (same shape as g) of each plane."""
    g = contiguous(check_float(g, "grad"))
    if g.shape != idx.shape:
        raise ValueError(f"grad shape {g.shape} != index shape {idx.shape}")
    planes = shape[0] * shape[1]
    out = np.zeros(shape, dtype=g.dtype)
    if g.size:
        _plane_scatter_add_kernel(g.reshape(planes, -1), contiguous(idx).reshape(planes, -1), out.reshape(planes, -1))
    return out


def plane_gather(x, idx):
    """x (N, C, H, W) read at the flat H×W positions ``idx`` (N, C, ...) of each plane."""
    x = contiguous(check_float(x, "x"))
    planes = x.shape[0] * x.shape[1]
    out = np.empty(idx.shape, dtype=x.dtype)
    if out.size:
        _plane_gather_kernel(x.reshape(planes, -1), contiguous(idx).reshape(planes, -1), out.reshape(planes, -1))
    return out



def _avg_pool_divisor(h, w, kh, kw, sh, sw, ph, pw, oh, ow, count_include_pad, dtype):
    """kh·kw, or per window (oh, ow) the number of its pixels inside the unpadded image."""
    if count_include_pad or (ph == 0 and pw == 0):
        return dtype.type(kh * kw)
    rows = np.minimum(np.arange(oh) * sh - ph + kh, h) - np.maximum(np.arange(oh) * sh - ph, 0)
    cols = np.minimum(np.arange(ow) * sw - pw + kw, w) - np.maximum(np.arange(ow) * sw - pw, 0)
    return np.outer(rows, cols).astype(dtype)


def avg_pool2d_forward(x, kh, kw, sh, sw, ph, pw, oh, ow, count_include_pad=True):
    """Mean of each zero-padded window of x (N, C, H, W), divided by kh·kw or, when not
    ``count_include_pad``, by the window's count of real pixels."""
    x = _check_window(x, "x", kh, kw, sh, sw, ph, pw, oh, ow)
    n, c, h, w = x.shape
    if ph or pw:
        padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
        padded[:, :, ph:ph + h, pw:pw + w] = x
        x = padded
    out = np.zeros((n, c, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            out += x[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
    out /= _avg_pool_divisor(h, w, kh, kw, sh, sw, ph, pw, oh, ow, count_include_pad, x.dtype)
    return out


def avg_pool2d_adjoint(g, shape, kh, kw, sh, sw, ph, pw, oh, ow, count_include_pad=True):
    """The transpose of ``avg_pool2d_forward``: each g / divisor added over its window in an
    array of ``shape`` (N, C, H, W); what falls on the padding is dropped."""
    g = check_float(g, "grad")
    n, c, h, w = shape
    if g.shape != (n, c, oh, ow):
        raise ValueError(f"grad shape {g.shape} != pooled shape {(n, c, oh, ow)}")
    share = g / _avg_pool_divisor(h, w, kh, kw, sh, sw, ph, pw, oh, ow, count_include_pad, g.dtype)
    padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=g.dtype)
    for i in range(kh):
        for j in range(kw):
            padded[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw] += share
    return np.ascontiguousarray(padded[:, :, ph:ph + h, pw:pw + w]) if ph or pw else padded
