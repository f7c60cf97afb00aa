"""The float32 softmax and log-softmax row kernels (x − max split exactly into hi + lo, e^hi·(1 + lo)),
and the vectorised row sums of the backward kernels: against float64 on the transformer's attention
shape with its causal mask, large and near-underflow differences, NaN/inf rows, non-contiguous inputs,
gradcheck of first and second order through Softmax/LogSoftmax, and torch."""
import numpy as np
import pytest

import autograd as ag
from autograd import gradcheck, gradgradcheck
from autograd.kernels import rows

CAUSAL = np.triu(np.full((32, 32), -np.inf), 1)


def _softmax64(x):
    x = x.astype(np.float64)
    m = x.max(-1, keepdims=True)
    e = np.exp(x - m)
    return e / e.sum(-1, keepdims=True), (x - m) - np.log(e.sum(-1, keepdims=True))


def _ulps32(got, want):
    """|got − want| in float32 ulps of want (normal range)."""
    spacing = np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)
    return np.abs(got.astype(np.float64) - want) / np.maximum(spacing, np.finfo(np.float32).tiny)


@pytest.mark.parametrize("scale, offset", [(1.0, 0.0), (30.0, 0.0), (1.0, 1e4), (0.01, -300.0)])
def test_float32_softmax_on_causal_attention_scores_is_within_a_few_ulp(scale, offset):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((16, 4, 32, 32)) * scale + offset + CAUSAL).astype(np.float32)
    sm, lsm = _softmax64(x)
    got = rows.softmax_forward(x)
    assert got.dtype == np.float32
    with np.errstate(invalid="ignore"):
        flushed = (x - x.max(-1, keepdims=True)) < np.float32(-87)  # e^(x − max) below e^-87, masked ones
    np.testing.assert_array_equal(got == 0, flushed)  # nothing else is 0
    normal = ~flushed & (sm >= np.finfo(np.float32).tiny)
    assert _ulps32(got[normal], sm[normal]).max() <= 3
    got_log = rows.log_softmax_forward(x)
    assert np.array_equal(np.isneginf(got_log), np.isneginf(lsm))
    finite = np.isfinite(lsm)
    np.testing.assert_allclose(got_log[finite], lsm[finite], rtol=4e-7, atol=2e-6)


def test_differences_near_the_flush_threshold_and_special_rows():
    x = np.array([[0.0, -86.9, -87.0, -87.1, -100.0, -np.inf],
                  [1e30, -1e30, 0.0, 1e30, 5.0, -np.inf],
                  [np.nan, 1.0, 2.0, 3.0, 4.0, 5.0],
                  [1.0, 2.0, np.inf, 3.0, 4.0, 5.0],
                  [-np.inf] * 6], np.float32)
    sm, _ = _softmax64(x[:2])
    for blocked in (True, False):
        got = rows.softmax_forward(x, blocked=blocked)
        np.testing.assert_allclose(got[0, :3], sm[0, :3], rtol=4e-7)
        assert got[0, 3:].tolist() == [0.0, 0.0, 0.0]  # below e^-87: flushed, as the float64-split kernels
        np.testing.assert_array_equal(got[1], [0.5, 0.0, 0.0, 0.5, 0.0, 0.0])
        assert np.isnan(got[2:]).all()  # a NaN, a +inf, an all −inf row: NaN rows, as PyTorch
        log = rows.log_softmax_forward(x, blocked=blocked)
        np.testing.assert_allclose(log[1, [0, 3]], [-np.log(2.0)] * 2, rtol=1e-7)
        assert np.isnan(log[2:]).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_contiguous_scores_equal_contiguous_ones(dtype):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((16, 32, 4, 32)) * 4).astype(dtype).transpose(0, 2, 1, 3)
    assert not x.flags.c_contiguous
    for forward in (rows.softmax_forward, rows.log_softmax_forward):
        np.testing.assert_array_equal(forward(x), forward(np.ascontiguousarray(x)))
    g = rng.standard_normal(x.shape).astype(dtype)[..., ::-1]
    y = rows.softmax_forward(x)
    np.testing.assert_array_equal(rows.softmax_backward(g, y), rows.softmax_backward(np.ascontiguousarray(g), y))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("columns", [3, 32, 65, 1000])
def test_backward_row_sums_match_float64(dtype, columns):
    rng = np.random.default_rng(columns)
    x = (rng.standard_normal((40, columns)) * 3).astype(dtype)
    g = (rng.standard_normal(x.shape) * 100).astype(dtype)
    y, ly = rows.softmax_forward(x), rows.log_softmax_forward(x)
    y64, ly64, g64 = y.astype(np.float64), ly.astype(np.float64), g.astype(np.float64)
    want = y64 * (g64 - (g64 * y64).sum(-1, keepdims=True))
    want_log = g64 - np.exp(ly64) * g64.sum(-1, keepdims=True)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    scale = np.abs(g64).max()
    np.testing.assert_allclose(rows.softmax_backward(g, y), want, rtol=rtol, atol=rtol * scale)
    np.testing.assert_allclose(rows.log_softmax_backward(g, ly), want_log, rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_gradcheck_first_and_second_order_through_a_transposed_view(op):
    rng = np.random.default_rng(2)
    x = ag.tensor(rng.uniform(-2, 2, (3, 5, 4)), requires_grad=True)
    weights = ag.tensor(rng.standard_normal((3, 4, 5)))
    fn = lambda x: getattr(x.transpose(1, 2), op)(-1) * weights  # noqa: E731
    assert gradcheck(fn, [x])
    assert gradgradcheck(fn, [x])


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_matches_torch_on_masked_attention_scores(op):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((16, 4, 32, 32)) * 3 + CAUSAL).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    ours = ag.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    y, yt = getattr(ours, op)(-1), getattr(theirs, op)(-1)
    if op == "softmax":
        np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-6, atol=1e-7)
    else:
        finite = np.isfinite(yt.detach().numpy())
        np.testing.assert_array_equal(np.isfinite(y.detach().numpy()), finite)
        np.testing.assert_allclose(y.detach().numpy()[finite], yt.detach().numpy()[finite], rtol=1e-6, atol=1e-6)
    y.backward(ag.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("columns", [rows.WIDE_ROWS, 65, 1000])
def test_wide_rows_integer_key_max_equals_the_plain_max(columns):
    """Rows from WIDE_ROWS columns take the max through integer keys: the same values as the plain
    loop, including rows with a NaN of either sign, ±inf, ±0 and all −inf."""
    rng = np.random.default_rng(columns)
    x = (rng.standard_normal((12, columns)) * 20).astype(np.float32)
    negative_nan = np.array([-np.nan], np.float32)
    assert np.signbit(negative_nan[0])
    x[0, 5] = np.nan
    x[1, 3] = negative_nan[0]
    x[2, 7], x[3, 0], x[4, :] = np.inf, -np.inf, -np.inf
    x[5, :] = -0.0
    x[5, 9] = 0.0
    x[6, :] = -3.0
    x[6, columns - 1] = -1.0  # the max in the tail, after the vector loop
    x2 = x.reshape(-1, columns)
    for wide, plain in ((rows._softmax_wide_f32, rows._softmax_f32),
                        (rows._log_softmax_wide_f32, rows._log_softmax_f32)):
        a, b = np.empty_like(x2), np.empty_like(x2)
        wide(x2, a)
        plain(x2, b)
        np.testing.assert_array_equal(a, b)
    assert np.isnan(rows.softmax_forward(x)[[0, 1, 2, 4]]).all()
    assert np.isfinite(rows.softmax_forward(x)[[3, 5, 6]]).all()
    np.testing.assert_allclose(rows.softmax_forward(x)[5], 1.0 / columns, rtol=1e-6)
