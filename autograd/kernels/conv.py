"""Convolution and pooling: im2col / col2im, the weight product's images, the weight gradient, max
pooling with its indices, average pooling.

Public surface: ``im2col``, ``col2im``, ``columns_to_images``, ``weight_grad``, ``max_pool2d_forward``,
``plane_scatter_add``, ``plane_gather``, ``avg_pool2d_forward``, ``avg_pool2d_adjoint``
(autograd/ops/conv.py).

Design notes:

* Images are (N, C, H, W), C-contiguous; the window geometry (kernel kh×kw, stride sh×sw, zero
  padding ph×pw, output oh×ow) is computed by the caller.  Column matrices are (C·kh·kw, N·oh·ow), so
  one BLAS product with the (O, C·kh·kw) weight matrix makes the whole batch's convolution.  A direct
  Numba convolution (multiply-add passes over a whole output plane, the taps four at a time) measured
  slower than im2col, that product and ``columns_to_images``, even with a single input channel.
* im2col: with stride 1 each row of a window is one contiguous slice of an input row, which a Numba
  loop copies faster than numpy's kh·kw strided slice copies; with other strides the Numba gather's
  index arithmetic keeps its loop from vectorising, so numpy's slices stay.  col2im, a scatter-add, is
  a Numba kernel: as fast as kh·kw numpy ``+=`` slices for one channel and faster from a few on.
* The product is (O, N·oh·ow); ``columns_to_images`` copies it into (N, O, oh, ow) with the bias
  added, a contiguous row per image and channel (numpy's strided add was three times slower).
* The weight gradient is g (as (O, N·oh·ow)) times the columns' transpose.  For few column rows
  (a first layer: C·kh·kw up to ``DIRECT_WEIGHT_GRAD_MAX_ROWS``) BLAS is slow for so small an
  output, and it needs g transposed first: there each image's dot products are taken in place
  (``summing``: split over vector lanes), added up in float64.
* Max pooling records the flat position of each window's maximum in its H×W plane, so its backward
  (``plane_scatter_add``) and its double backward (``plane_gather``) need no window search.  As in
  PyTorch the first maximum wins ties and a NaN wins.  The window's comparison only selects: a
  branch on it mispredicts on every other element of random data.  2×2 windows without padding have
  a kernel of their own with the window written out.
* Average pooling is kh·kw strided numpy slice additions, vectorised by numpy, with no gather.
"""
import numpy as np

from .arrays import check_float, contiguous
from .jit import kernel
from .jit import reassociating as summing  # (the weight gradient's dot products)

#: Up to this many rows (C·kh·kw) of the column matrix, the weight gradient is the Numba dot products
#: of ``weight_grad`` instead of a BLAS product, which is slow for so few output rows and columns.
DIRECT_WEIGHT_GRAD_MAX_ROWS = 16


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
def _im2col_stride1_kernel(x, kh, kw, oh, ow, cols):
    # cols (C, kh, kw, N, oh, ow) of x (N, C, H, W) already padded, stride 1: each output row is one
    # contiguous slice of an input row.
    n_img, n_ch = x.shape[0], x.shape[1]
    for c in range(n_ch):
        for i in range(kh):
            for j in range(kw):
                for n in range(n_img):
                    for y in range(oh):
                        dst = cols[c, i, j, n, y]
                        src = x[n, c, y + i, j:j + ow]
                        for t in range(ow):
                            dst[t] = src[t]


@kernel
def _columns_to_images_kernel(product, bias, out):
    # out[n, o, :] = product[o, n·P:(n + 1)·P] + bias[o]; product (O, N·P), out (N, O, P)
    n_img, o_ch, plane = out.shape
    for n in range(n_img):
        for o in range(o_ch):
            src = product[o, n * plane:(n + 1) * plane]
            dst = out[n, o]
            b = bias[o]
            for t in range(plane):
                dst[t] = src[t] + b


@summing
def _dot(a, b, zero):
    """Σ a·b in the arrays' dtype (zero: 0 in that dtype)."""
    s = zero
    for t in range(a.shape[0]):
        s += a[t] * b[t]
    return s


@kernel
def _weight_grad_from_columns_kernel(g, cols, zero, out):
    # out[o, k] = Σ_n Σ_p g[n, o, p]·cols[k, n·P + p], each image's dot product in the dtype (split
    # over vector lanes), added up image after image in float64.  g (N, O, P), cols (K, N·P), out
    # (O, K) float64; zero: 0 in the dtype.
    n_img, o_ch, plane = g.shape
    for o in range(o_ch):
        for k in range(cols.shape[0]):
            out[o, k] = 0.0
    for n in range(n_img):
        for o in range(o_ch):
            g_block = g[n, o]
            for k in range(cols.shape[0]):
                out[o, k] += _dot(g_block, cols[k, n * plane:(n + 1) * plane], zero)


@kernel
def _max_pool_kernel(x, w, kh, kw, sh, sw, ph, pw, oh, ow, zero, out, idx):
    # x: (planes, H·W); out, idx: (planes, oh·ow).  idx: the flat position (hy·W + wx) of each
    # window's maximum in its plane.  As PyTorch: the first maximum wins ties and a NaN wins (the
    # last NaN's position).  Window bounds are clipped once per window (padding is never selected).
    # The comparison only picks (the select, not a branch: random data would mispredict every other
    # element); NaN is found through v·0, NaN for NaN and ±inf alone, and a window holding one is
    # scanned again for its last NaN.  zero: 0 in x's dtype.
    planes = x.shape[0]
    h = x.shape[1] // w
    for p in range(planes):
        for y in range(oh):
            h0 = max(y * sh - ph, 0)
            h1 = min(y * sh - ph + kh, h)
            for xo in range(ow):
                w0 = max(xo * sw - pw, 0)
                w1 = min(xo * sw - pw + kw, w)
                at = h0 * w + w0
                best = x[p, at]
                check = zero
                for hy in range(h0, h1):
                    for wx in range(w0, w1):
                        pos = hy * w + wx
                        v = x[p, pos]
                        larger = v > best
                        best = v if larger else best
                        at = pos if larger else at
                        check += v * zero
                if check != check:
                    for hy in range(h0, h1):
                        for wx in range(w0, w1):
                            if x[p, hy * w + wx] != x[p, hy * w + wx]:
                                at = hy * w + wx
                    best = x[p, at]
                out[p, y * ow + xo] = best
                idx[p, y * ow + xo] = at


@kernel
def _max_pool_2x2_kernel(x, w, sh, sw, oh, ow, zero, out, idx):
    # _max_pool_kernel for 2x2 windows inside the image (no padding), the window written out
    for p in range(x.shape[0]):
        for y in range(oh):
            for xo in range(ow):
                s = y * sh * w + xo * sw
                a, b, c, d = x[p, s], x[p, s + 1], x[p, s + w], x[p, s + w + 1]
                best, at = a, s
                larger = b > best
                best, at = (b if larger else best), (s + 1 if larger else at)
                larger = c > best
                best, at = (c if larger else best), (s + w if larger else at)
                larger = d > best
                best, at = (d if larger else best), (s + w + 1 if larger else at)
                check = a * zero + b * zero + c * zero + d * zero
                if check != check:
                    at = s + w + 1 if d != d else s + w if c != c else s + 1 if b != b else s if a != a else at
                    best = x[p, at]
                out[p, y * ow + xo] = best
                idx[p, y * ow + xo] = at


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
    if sh == sw == 1:
        if cols.size:
            _im2col_stride1_kernel(x, kh, kw, oh, ow, cols)
        return cols.reshape(c * kh * kw, n * oh * ow)
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


def columns_to_images(product, bias, n, oh, ow):
    """The (N, O, oh, ow) images of the (O, N·oh·ow) product of the weights with ``im2col``'s columns,
    plus ``bias`` (O,) or None."""
    product = contiguous(check_float(product, "product"))
    o = product.shape[0]
    if product.shape[1] != n * oh * ow:
        raise ValueError(f"product shape {product.shape} does not hold {n} images of {oh}x{ow}")
    bias = np.zeros(o, product.dtype) if bias is None else contiguous(np.asarray(bias, product.dtype))
    out = np.empty((n, o, oh, ow), dtype=product.dtype)
    if out.size:
        _columns_to_images_kernel(product, bias, out.reshape(n, o, oh * ow))
    return out


def weight_grad(g, cols, w_shape):
    """Σ over the images of g (N, O, oh, ow) times ``im2col``'s columns (C·kh·kw, N·oh·ow): the weight
    gradient of a convolution, of shape ``w_shape``. Numba dot products (each image's in the dtype,
    the images' added in float64) up to ``DIRECT_WEIGHT_GRAD_MAX_ROWS`` rows, else one BLAS product."""
    from .matmul import matmul
    g = contiguous(check_float(g, "grad"))
    n, o = g.shape[:2]
    if cols.shape[0] > DIRECT_WEIGHT_GRAD_MAX_ROWS or g.size == 0:
        return matmul(g.transpose(1, 0, 2, 3).reshape(o, -1), cols.T).reshape(w_shape)
    cols = contiguous(check_float(cols, "cols"))
    if cols.dtype != g.dtype:
        raise TypeError(f"weight_grad: grad dtype {g.dtype} and cols dtype {cols.dtype} differ")
    out = np.empty((o, cols.shape[0]))
    _weight_grad_from_columns_kernel(g.reshape(n, o, -1), cols, g.dtype.type(0), out)
    return out.astype(g.dtype).reshape(w_shape)


def max_pool2d_forward(x, kh, kw, sh, sw, ph, pw, oh, ow):
    """(max over each window, flat int64 position of that maximum in its H×W plane)."""
    x = _check_window(x, "x", kh, kw, sh, sw, ph, pw, oh, ow)
    n, c, h, w = x.shape
    out = np.empty((n, c, oh, ow), dtype=x.dtype)
    idx = np.empty((n, c, oh, ow), dtype=np.int64)
    if out.size:
        planes = (x.reshape(n * c, h * w), w)
        flat_out = (out.reshape(n * c, oh * ow), idx.reshape(n * c, oh * ow))
        if kh == kw == 2 and ph == pw == 0:
            _max_pool_2x2_kernel(*planes, sh, sw, oh, ow, x.dtype.type(0), *flat_out)
        else:
            _max_pool_kernel(*planes, kh, kw, sh, sw, ph, pw, oh, ow, x.dtype.type(0), *flat_out)
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
