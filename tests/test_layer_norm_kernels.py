"""kernels.normalization_rows (LayerNorm's forward and plain backward as row kernels): against float64
formulas in float32 and float64, large and offset values, non-contiguous inputs, every subset of the
gradients asked for, through autograd (gradcheck of first and second order, the create_graph path),
and against torch."""
import numpy as np
import pytest

import autograd as ag
import nn
import nn.functional as F
from autograd import gradcheck, gradgradcheck
from autograd.kernels import normalization_rows as ln

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=2e-6, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-12)}


def _reference(x, w, b, dims, eps):
    """Forward and backward in float64 from the (already rounded) inputs."""
    x = x.astype(np.float64)
    axes = tuple(range(x.ndim - dims, x.ndim))
    mean = x.mean(axes, keepdims=True)
    rstd = 1.0 / np.sqrt(((x - mean) ** 2).mean(axes, keepdims=True) + eps)
    xhat = (x - mean) * rstd
    return xhat, rstd, axes


def _forward_reference(x, w, b, dims, eps):
    xhat, _, _ = _reference(x, w, b, dims, eps)
    return xhat * (1 if w is None else w.astype(np.float64)) + (0 if b is None else b.astype(np.float64))


def _backward_reference(g, x, w, dims, eps):
    xhat, rstd, axes = _reference(x, None, None, dims, eps)
    g = g.astype(np.float64)
    gw = g * (1 if w is None else w.astype(np.float64))
    dx = rstd * (gw - gw.mean(axes, keepdims=True) - xhat * (gw * xhat).mean(axes, keepdims=True))
    lead = tuple(range(x.ndim - dims))
    return dx, (g * xhat).sum(lead), g.sum(lead)


def _draw(rng, shape, dims, dtype, scale=1.0, offset=0.0):
    x = (rng.standard_normal(shape) * scale + offset).astype(dtype)
    w = rng.uniform(0.5, 1.5, shape[len(shape) - dims:]).astype(dtype)
    b = rng.standard_normal(shape[len(shape) - dims:]).astype(dtype)
    return x, w, b


def _close(got, want, dtype, scale=1.0):
    tol = TOL[dtype]
    np.testing.assert_allclose(got, want, rtol=tol["rtol"], atol=tol["atol"] * scale)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, dims", [((16, 32, 64), 1), ((5, 7), 1), ((3, 4, 5), 2), ((6,), 1), ((2, 1), 1),
                                         ((4, 3, 65), 1), ((2, 3, 1, 4), 3)])
def test_forward_and_backward_match_float64_formulas(dtype, shape, dims):
    rng = np.random.default_rng(0)
    x, w, b = _draw(rng, shape, dims, dtype, scale=3.0, offset=2.0)
    y, mean, rstd = ln.layer_norm_forward(x, w, b, dims, 1e-5)
    assert y.dtype == dtype and y.shape == x.shape and mean.shape == shape[:len(shape) - dims] == rstd.shape
    _close(y, _forward_reference(x, w, b, dims, 1e-5), dtype, scale=4)
    g = rng.standard_normal(shape).astype(dtype)
    dx, dw, db = ln.layer_norm_backward(g, x, w, mean, rstd, dims)
    want_dx, want_dw, want_db = _backward_reference(g, x, w, dims, 1e-5)
    assert dx.dtype == dw.dtype == db.dtype == dtype and dw.shape == w.shape == db.shape
    _close(dx, want_dx, dtype, scale=4)
    _close(dw, want_dw, dtype, scale=np.prod(shape))
    _close(db, want_db, dtype, scale=np.prod(shape))


@pytest.mark.parametrize("dtype", DTYPES)
def test_without_weight_or_bias_and_each_subset_of_gradients(dtype):
    rng = np.random.default_rng(1)
    x, w, b = _draw(rng, (8, 12), 1, dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    for weight, bias in ((None, None), (w, None), (None, b)):
        y, mean, rstd = ln.layer_norm_forward(x, weight, bias, 1, 1e-3)
        _close(y, _forward_reference(x, weight, bias, 1, 1e-3), dtype, scale=4)
    y, mean, rstd = ln.layer_norm_forward(x, w, b, 1, 1e-3)
    want = _backward_reference(g, x, w, 1, 1e-3)
    for needs in [(True, False, False), (False, True, False), (False, False, True), (False, True, True),
                  (True, True, True), (False, False, False)]:
        got = ln.layer_norm_backward(g, x, w, mean, rstd, 1, *needs)
        for need, grad, expected in zip(needs, got, want):
            if need:
                _close(grad, expected, dtype, scale=16)
            else:
                assert grad is None


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale, offset", [(1.0, 1e4), (1e-3, 1.0), (1e30, 0.0), (1e-30, 0.0)])
def test_large_offsets_and_extreme_magnitudes_stay_accurate(dtype, scale, offset):
    """Two-pass float64 statistics: a mean far larger than the spread, and magnitudes whose squares
    overflow (or underflow) float32, still give x̂ to a few ulp of the inputs' own float64 result."""
    rng = np.random.default_rng(2)
    x, w, b = _draw(rng, (32, 64), 1, dtype, scale=scale, offset=offset)
    eps = 1e-5 * scale * scale if scale < 1 else 1e-5  # eps must not drown the variance
    y, mean, rstd = ln.layer_norm_forward(x, w, b, 1, eps)
    assert np.isfinite(y).all()
    _close(y, _forward_reference(x, w, b, 1, eps), dtype, scale=4)
    g = rng.standard_normal(x.shape).astype(dtype)
    dx, _, _ = ln.layer_norm_backward(g, x, w, mean, rstd, 1)
    want_dx = _backward_reference(g, x, w, 1, eps)[0]
    np.testing.assert_allclose(dx, want_dx, rtol=TOL[dtype]["rtol"] * 10,
                               atol=TOL[dtype]["atol"] * 10 * np.abs(want_dx).max())


def test_constant_rows_give_zero_not_nan():
    x = np.full((3, 8), 7.25, np.float32)
    y, mean, rstd = ln.layer_norm_forward(x, None, None, 1, 1e-5)
    np.testing.assert_array_equal(y, 0.0)
    dx, dw, db = ln.layer_norm_backward(np.ones_like(x), x, None, mean, rstd, 1, True, False, True)
    np.testing.assert_array_equal(dx, 0.0)
    np.testing.assert_array_equal(db, 3.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_non_contiguous_inputs_equal_contiguous_ones(dtype):
    rng = np.random.default_rng(3)
    base = rng.standard_normal((64, 6, 5)).astype(dtype)
    x = base.transpose(1, 2, 0)  # (6, 5, 64), not C-contiguous
    w = rng.standard_normal(128).astype(dtype)[::2]  # strided weight
    b = rng.standard_normal(64).astype(dtype)
    g = rng.standard_normal((64, 6, 5)).astype(dtype).transpose(1, 2, 0)
    got = ln.layer_norm_forward(x, w, b, 1, 1e-5)
    want = ln.layer_norm_forward(np.ascontiguousarray(x), np.ascontiguousarray(w), b, 1, 1e-5)
    for a, c in zip(got, want):
        np.testing.assert_array_equal(a, c)
    _, mean, rstd = got
    for a, c in zip(ln.layer_norm_backward(g, x, w, mean, rstd, 1),
                    ln.layer_norm_backward(np.ascontiguousarray(g), np.ascontiguousarray(x), w, mean, rstd, 1)):
        np.testing.assert_array_equal(a, c)


def test_empty_inputs_and_bad_arguments():
    y, mean, rstd = ln.layer_norm_forward(np.zeros((0, 4), np.float32), None, None, 1, 1e-5)
    assert y.shape == (0, 4) and mean.shape == (0,)
    dx, dw, db = ln.layer_norm_backward(np.zeros((0, 4)), np.zeros((0, 4)), None, mean, rstd, 1)
    assert dx.shape == (0, 4) and dw.tolist() == [0, 0, 0, 0] == db.tolist()
    with pytest.raises(ValueError, match="last 3 dims"):
        ln.layer_norm_forward(np.zeros((2, 4)), None, None, 3, 1e-5)
    with pytest.raises(ValueError, match="mean and rstd"):
        ln.layer_norm_backward(np.zeros((2, 4)), np.zeros((2, 4)), None, np.zeros(3), np.zeros(3), 1)
    with pytest.raises(TypeError, match="x"):
        ln.layer_norm_forward(np.zeros((2, 4), np.int64), None, None, 1, 1e-5)


# ---- through autograd ---------------------------------------------------------------------------
@pytest.mark.parametrize("affine", [True, False])
def test_gradcheck_first_and_second_order_through_a_transposed_view(affine):
    rng = np.random.default_rng(4)
    x = ag.tensor(rng.uniform(-2, 2, (5, 3, 4)), requires_grad=True)
    w = ag.tensor(rng.uniform(0.5, 1.5, (3,)), requires_grad=True) if affine else None
    b = ag.tensor(rng.uniform(-1, 1, (3,)), requires_grad=True) if affine else None
    inputs = [x, w, b] if affine else [x]

    def fn(x, w=None, b=None):
        return F.layer_norm(x.transpose(1, 2), (3,), w, b) ** 2  # squared: the second order is not trivial

    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


@pytest.mark.parametrize("dtype", [ag.float32, ag.float64])
def test_plain_backward_equals_the_create_graph_backward(dtype):
    """The kernel's gradients and the Tensor-op formulas a recorded backward runs agree."""
    rng = np.random.default_rng(5)
    x = ag.tensor(rng.normal(1.0, 2.0, (6, 10)), dtype=dtype, requires_grad=True)
    w = ag.tensor(rng.uniform(0.5, 1.5, 10), dtype=dtype, requires_grad=True)
    b = ag.tensor(rng.standard_normal(10), dtype=dtype, requires_grad=True)
    g = ag.tensor(rng.standard_normal((6, 10)), dtype=dtype)
    plain = ag.grad(F.layer_norm(x, (10,), w, b), [x, w, b], g)
    recorded = ag.grad(F.layer_norm(x, (10,), w, b), [x, w, b], g, create_graph=True)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == ag.float32 else dict(rtol=1e-12, atol=1e-12)
    for a, c in zip(plain, recorded):
        assert a.dtype == dtype
        np.testing.assert_allclose(a.numpy(), c.detach().numpy(), **tol)


def test_only_the_weight_gradient_when_the_input_needs_none():
    rng = np.random.default_rng(6)
    x = ag.tensor(rng.standard_normal((4, 5)))
    w = ag.tensor(rng.uniform(0.5, 1.5, 5), requires_grad=True)
    F.layer_norm(x, (5,), w).sum().backward()
    xhat = _reference(x.numpy(), None, None, 1, 1e-5)[0]
    np.testing.assert_allclose(w.grad.numpy(), xhat.sum(0), rtol=1e-12, atol=1e-12)


def test_matches_torch_float32():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x = (rng.standard_normal((16, 32, 64)) * 2 + 0.5).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    ours, theirs = nn.LayerNorm(64), torch.nn.LayerNorm(64)
    w, b = rng.uniform(0.5, 1.5, 64).astype(np.float32), rng.standard_normal(64).astype(np.float32)
    with ag.no_grad():
        ours.weight.copy_(ag.tensor(w))
        ours.bias.copy_(ag.tensor(b))
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(w))
        theirs.bias.copy_(torch.tensor(b))
    xa, xt = ag.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya, yt = ours(xa), theirs(xt)
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-5)
    ya.backward(ag.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours.bias.grad.numpy(), theirs.bias.grad.numpy(), rtol=1e-4, atol=1e-4)
