"""The convolution and pooling kernels (autograd/kernels/conv.py) against plain Python references: max
pooling's values and indices (ties, NaN, ±inf, padding; the 2x2 and the general kernel), im2col (stride
1 through Numba, other strides through numpy), the images of the weight product with their bias, the
weight gradient (Numba dot products for few rows, BLAS beyond), and the bias gradient op (gradcheck
first and second order, forward mode, torch)."""
import itertools

import numpy as np
import pytest

import autograd as ag
from autograd.kernels import conv
from autograd.ops.conv import Conv2dBiasGrad
from test_forward_ad import _check_case
from test_ops_gradcheck import G, uni

try:
    import torch
except Exception:  # noqa: BLE001  (optional)
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

DTYPES = [np.float32, np.float64]


def _geometry(h, w, kh, kw, sh, sw, ph, pw):
    return (kh, kw, sh, sw, ph, pw, (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1)


# ------------------------------------------------------------------------------------ max pooling
def _max_pool_reference(x, kh, kw, sh, sw, ph, pw, oh, ow):
    """Each window's first maximum in row-major order, or its last NaN (PyTorch's rule), by loops."""
    n, c, h, w = x.shape
    out, idx = np.empty((n, c, oh, ow), x.dtype), np.empty((n, c, oh, ow), np.int64)
    for a, b, y, t in itertools.product(range(n), range(c), range(oh), range(ow)):
        positions = [(hy, wx) for hy in range(y * sh - ph, y * sh - ph + kh) for wx in range(t * sw - pw, t * sw - pw + kw)
                     if 0 <= hy < h and 0 <= wx < w]
        values = [x[a, b, hy, wx] for hy, wx in positions]
        nans = [k for k, v in enumerate(values) if v != v]
        best = nans[-1] if nans else max(range(len(values)), key=lambda k: (values[k], -k))
        out[a, b, y, t] = values[best]
        idx[a, b, y, t] = positions[best][0] * w + positions[best][1]
    return out, idx


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool_matches_the_reference_on_random_geometries_with_ties_nan_and_infinities(dtype):
    rng = np.random.default_rng(0)
    for trial in range(120):
        kh, kw = (2, 2) if trial % 3 == 0 else tuple(rng.integers(1, 4, 2))
        sh, sw = tuple(rng.integers(1, 3, 2))
        ph, pw = (0, 0) if trial % 3 == 0 else (rng.integers(0, kh // 2 + 1), rng.integers(0, kw // 2 + 1))
        h, w = rng.integers(kh, 8), rng.integers(kw, 8)
        x = rng.integers(-2, 3, (2, 2, h, w)).astype(dtype)  # many ties
        special = rng.random(x.shape)
        x[special < 0.08] = np.nan
        x[(special > 0.1) & (special < 0.15)] = np.inf
        x[(special > 0.15) & (special < 0.2)] = -np.inf
        geometry = _geometry(h, w, kh, kw, sh, sw, ph, pw)
        out, idx = conv.max_pool2d_forward(x, *geometry)
        expected, expected_idx = _max_pool_reference(x, *geometry)
        assert out.dtype == dtype and idx.dtype == np.int64
        np.testing.assert_array_equal(out, expected, err_msg=f"geometry {geometry}")
        np.testing.assert_array_equal(idx, expected_idx, err_msg=f"geometry {geometry}")


def test_max_pool_of_all_minus_infinity_windows_and_a_non_contiguous_input():
    x = np.full((1, 1, 4, 4), -np.inf, np.float32)
    for geometry in (_geometry(4, 4, 2, 2, 2, 2, 0, 0), _geometry(4, 4, 3, 3, 1, 1, 1, 1)):
        out, idx = conv.max_pool2d_forward(x, *geometry)
        expected, expected_idx = _max_pool_reference(x, *geometry)
        np.testing.assert_array_equal(out, expected)
        np.testing.assert_array_equal(idx, expected_idx)
    strided = np.random.default_rng(1).standard_normal((3, 6, 6, 2)).transpose(0, 3, 1, 2)
    out, idx = conv.max_pool2d_forward(strided, *_geometry(6, 6, 2, 2, 2, 2, 0, 0))
    expected, expected_idx = _max_pool_reference(strided, *_geometry(6, 6, 2, 2, 2, 2, 0, 0))
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(idx, expected_idx)


# ------------------------------------------------------------------------------------ im2col
def _im2col_reference(x, kh, kw, sh, sw, ph, pw, oh, ow):
    n, c, h, w = x.shape
    padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw), x.dtype)
    padded[:, :, ph:ph + h, pw:pw + w] = x
    cols = np.empty((c, kh, kw, n, oh, ow), x.dtype)
    for ci, i, j, a, y, t in itertools.product(range(c), range(kh), range(kw), range(n), range(oh), range(ow)):
        cols[ci, i, j, a, y, t] = padded[a, ci, y * sh + i, t * sw + j]
    return cols.reshape(c * kh * kw, n * oh * ow)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel, stride, padding", [((3, 3), (1, 1), (0, 0)), ((3, 2), (1, 1), (1, 1)),
                                                     ((2, 3), (2, 1), (1, 0)), ((1, 1), (1, 1), (0, 0))])
def test_im2col_matches_the_reference(kernel, stride, padding, dtype):
    x = np.random.default_rng(2).standard_normal((2, 3, 6, 5)).astype(dtype)
    geometry = _geometry(6, 5, *kernel, *stride, *padding)
    np.testing.assert_array_equal(conv.im2col(x, *geometry), _im2col_reference(x, *geometry))
    strided = np.asfortranarray(x)
    np.testing.assert_array_equal(conv.im2col(strided, *geometry), _im2col_reference(x, *geometry))


@pytest.mark.parametrize("dtype", DTYPES)
def test_columns_to_images_adds_the_bias_in_image_layout(dtype):
    rng = np.random.default_rng(3)
    product = rng.standard_normal((4, 2 * 3 * 5)).astype(dtype)
    bias = rng.standard_normal(4).astype(dtype)
    images = conv.columns_to_images(product, bias, 2, 3, 5)
    expected = product.reshape(4, 2, 3, 5).transpose(1, 0, 2, 3) + bias.reshape(1, 4, 1, 1)
    assert images.dtype == dtype and images.flags.c_contiguous
    np.testing.assert_array_equal(images, expected)
    np.testing.assert_array_equal(conv.columns_to_images(product, None, 2, 3, 5),
                                  product.reshape(4, 2, 3, 5).transpose(1, 0, 2, 3))
    with pytest.raises(ValueError, match="does not hold 3 images of 3x5"):
        conv.columns_to_images(product, bias, 3, 3, 5)


# ------------------------------------------------------------------------------------ weight gradient
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels, kernel", [(1, (3, 3)), (1, (4, 4)), (2, (3, 3)), (3, (3, 3))])
def test_weight_grad_equals_the_float64_product_on_both_sides_of_the_threshold(channels, kernel, dtype):
    """9 and 16 column rows take the Numba dot products, 18 and 27 the BLAS product."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((5, channels, 9, 8)).astype(dtype)
    geometry = _geometry(9, 8, *kernel, 1, 1, 0, 0)
    cols = conv.im2col(x, *geometry)
    g = rng.standard_normal((5, 4, geometry[6], geometry[7])).astype(dtype)
    w_shape = (4, channels) + kernel
    dw = conv.weight_grad(g, cols, w_shape)
    exact = (g.astype(np.float64).transpose(1, 0, 2, 3).reshape(4, -1) @ cols.astype(np.float64).T).reshape(w_shape)
    assert dw.dtype == dtype and dw.shape == w_shape
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(dw, exact, rtol=rtol, atol=rtol * np.abs(exact).max())
    strided = np.ascontiguousarray(g.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)  # same values, other layout
    np.testing.assert_array_equal(conv.weight_grad(strided, cols, w_shape), dw)


def test_weight_grad_of_an_empty_batch_is_zero():
    cols = np.zeros((9, 0), np.float32)
    dw = conv.weight_grad(np.zeros((0, 2, 4, 4), np.float32), cols, (2, 1, 3, 3))
    np.testing.assert_array_equal(dw, 0.0)


# ------------------------------------------------------------------------------------ bias gradient
def test_bias_grad_gradcheck_first_and_second_order():
    g = ag.tensor(np.random.default_rng(5).standard_normal((3, 4, 2, 5)), requires_grad=True)
    assert ag.gradcheck(Conv2dBiasGrad.apply, [g])
    assert ag.gradgradcheck(lambda g: Conv2dBiasGrad.apply(g) ** 2, [g])
    np.testing.assert_allclose(Conv2dBiasGrad.apply(g).detach().numpy(), g.detach().numpy().sum((0, 2, 3)), rtol=1e-13)


@pytest.mark.parametrize("requires_grad", [False, True])
def test_bias_grad_forward_mode(requires_grad):
    _check_case(G("conv2d_bias_grad", Conv2dBiasGrad.apply, uni(2, 3, 4, 4)), requires_grad)


@needs_torch
@pytest.mark.parametrize("shape, weight, padding", [((16, 1, 12, 12), (8, 1, 3, 3), 0),
                                                    ((6, 3, 9, 9), (5, 3, 3, 3), 1)])
def test_a_float32_convolution_and_its_gradients_match_torch(shape, weight, padding):
    import torch.nn.functional as TF
    rng = np.random.default_rng(6)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in (shape, weight, weight[:1]))
    ours = [ag.tensor(a, requires_grad=True) for a in (x, w, b)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = ag.conv2d(*ours, padding=padding)
    ty = TF.conv2d(*theirs, padding=padding)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-4, atol=1e-4)
    g = rng.standard_normal(y.shape).astype(np.float32)
    (y * ag.tensor(g)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    for a, t in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-4, atol=1e-3)
