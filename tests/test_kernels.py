"""Tests for the kernel modules of autograd.kernels against float64 numpy references."""

import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autograd.kernels import elementwise, losses, matmul, rows, threads, updates, warmup

DTYPES = [np.float32, np.float64]
EDGE = np.array([0.0, -0.0, 1e-8, -1e-8, 1.0, -1.0, 0.5, -0.5, 3.0, -3.0, 20.0, -20.0,
                 80.0, -80.0, 100.0, -100.0, 1e4, -1e4, np.inf, -np.inf])
SHAPES = [(), (1,), (7,), (5, 3), (2, 3, 4), (0,), (3, 0)]

_erfc = np.frompyfunc(math.erfc, 1, 1)
_SQ2 = math.sqrt(2.0)
_K0 = math.sqrt(2.0 / math.pi)
_K1 = 0.044715


@pytest.fixture(autouse=True)
def _warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# ---- float64 references (computed from the exact input values) ------------
def _sig(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0, e) / (1.0 + e)


def _phi(x):
    return np.asarray(0.5 * _erfc(-x / _SQ2), dtype=np.float64)


def ref_forward(name, x):
    with np.errstate(all="ignore"):  # the reference itself may form inf*0
        return _ref_forward(name, x.astype(np.float64))


def _ref_forward(name, x):
    if name == "sigmoid":
        return _sig(x)
    if name == "tanh":
        return np.tanh(x)
    if name == "relu":
        return np.where(x > 0, x, 0.0)
    if name == "gelu_none":
        c = _phi(x)
        return np.where(c == 0, 0.0, x * c)
    if name == "gelu_tanh":
        s = _sig(2 * _K0 * (x + _K1 * x**3))
        return np.where(s == 0, 0.0, x * s)
    raise AssertionError(name)


def ref_gelu_grad(approx, x):
    x = x.astype(np.float64)
    with np.errstate(all="ignore"):
        if approx == "none":
            xc = np.clip(x, -40, 40)
            return _phi(x) + xc * np.exp(-0.5 * xc * xc) / math.sqrt(2 * math.pi)
        s = _sig(2 * _K0 * (x + _K1 * x**3))
        xc = np.clip(x, -1e4, 1e4)
        return s + 2 * xc * _K0 * (1 + 3 * _K1 * xc * xc) * s * (1 - s)


def forward(name, x):
    if name.startswith("gelu"):
        return elementwise.gelu_forward(x, name.split("_")[1])
    return getattr(elementwise, f"{name}_forward")(x)


def tol(dtype):
    # float32: a few ulp relative, plus an absolute floor for results near 0
    # (cancellation in derivatives, flushed values below ~1e-37).
    return dict(rtol=4e-7 * 4, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-300)


def check(got, ref, dtype):
    assert got.dtype == dtype
    np.testing.assert_allclose(got.astype(np.float64), ref, **tol(dtype))


ACTS = ["sigmoid", "tanh", "relu", "gelu_none", "gelu_tanh"]


# ---- elementwise forward ---------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ACTS)
def test_forward_random_and_edges(name, dtype):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(2000) * 4, EDGE, np.linspace(-12, 12, 2001)]).astype(dtype)
    x_before = x.copy()
    y = forward(name, x)
    np.testing.assert_array_equal(x, x_before)  # input untouched
    check(y, ref_forward(name, x), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ACTS)
@pytest.mark.parametrize("shape", SHAPES)
def test_forward_shapes(name, dtype, shape):
    x = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    y = forward(name, x)
    assert y.shape == x.shape and y.dtype == x.dtype and y is not x
    check(y, ref_forward(name, x), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ACTS)
def test_forward_noncontiguous(name, dtype):
    base = np.random.default_rng(2).standard_normal((6, 8)).astype(dtype)
    for x in (base.T, base[::2, 1::3], base[:, ::-1]):
        assert not x.flags.c_contiguous
        check(forward(name, x), ref_forward(name, x), dtype)


def test_saturation_and_relative_tails():
    for dtype in DTYPES:
        s = elementwise.sigmoid_forward(np.array([1e4, -1e4, np.inf, -np.inf, 89.0], dtype))
        assert s[0] == 1 and s[2] == 1 and s[4] == 1
        assert 0 <= s[1] < 1e-37 and s[3] == 0
        t = elementwise.tanh_forward(np.array([1e4, -1e4, np.inf, -np.inf], dtype))
        np.testing.assert_array_equal(t, [1, -1, 1, -1])
        g = elementwise.gelu_forward(np.array([np.inf, -np.inf, 1e4, -1e4], dtype), "none")
        np.testing.assert_array_equal(g, [np.inf, 0, 1e4, 0])
        g = elementwise.gelu_forward(np.array([np.inf, -np.inf, 1e4, -1e4], dtype), "tanh")
        np.testing.assert_array_equal(g, [np.inf, 0, 1e4, 0])
    # Left tails keep full RELATIVE accuracy (no 1 - ... cancellation).
    for x in (-20.0, -50.0, -80.0):
        got = elementwise.sigmoid_forward(np.array([x], np.float32))[0]
        assert abs(got / _sig(np.array(x)) - 1) < 4 * 2.0**-24
    for x in (-3.0, -5.0, -8.0):
        got = elementwise.gelu_forward(np.array([x], np.float32), "none")[0]
        assert abs(got / ref_forward("gelu_none", np.array(x)) - 1) < 6 * 2.0**-24


@pytest.mark.parametrize("name", ACTS)
def test_nan_propagates(name):
    for dtype in DTYPES:
        assert np.isnan(forward(name, np.array([np.nan], dtype))[0])


def test_float32_ulp_dense_grid():
    """Max error in float32 ulp over a dense grid (few-ulp accuracy contract)."""
    x = np.linspace(-30, 30, 600001).astype(np.float32)
    limits = {"sigmoid": 3, "tanh": 2, "gelu_none": 3, "gelu_tanh": 3}
    for name, lim in limits.items():
        ref = ref_forward(name, x)
        got = forward(name, x).astype(np.float64)
        ulp = np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)
        mask = np.abs(ref) > 1e-30  # exps below ~1.6e-38 are flushed to 0 (abs err < 1e-36)
        err = (np.abs(got - ref) / ulp)[mask].max()
        assert err <= lim, (name, err)


def test_gelu_left_tail_relative_accuracy_float32():
    """x·Φ(x) keeps its relative accuracy where Φ is tiny (1 + erf(x/√2) would lose it all)."""
    x = np.linspace(-10, -3, 200001).astype(np.float32)
    x64 = x.astype(np.float64)
    ref = x64 * np.array([0.5 * math.erfc(-v / _SQ2) for v in x64])
    rel = np.abs(elementwise.gelu_forward(x, "none").astype(np.float64) / ref - 1)
    assert rel.max() < 3 * 2.0**-24, rel.max()
    # The derivative the forward saves, Φ(x) + x·φ(x), likewise (it is ~x·φ(x) there).
    _, d = elementwise.gelu_forward(x, "none", with_derivative=True)
    dref = ref / x64 + x64 * np.exp(-0.5 * x64 * x64) / math.sqrt(2 * math.pi)
    assert (np.abs(d / dref - 1)).max() < 1e-5


# ---- elementwise backward --------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (9,), (4, 5), (2, 3, 4), (0, 3)])
def test_backward_from_saved_output(dtype, shape):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    for name, ref in (
        ("sigmoid", lambda g, y: g * y * (1 - y)),
        ("tanh", lambda g, y: g * (1 - y) * (1 + y)),
        ("relu", lambda g, y: np.where(y > 0, g, 0.0)),
    ):
        y = forward(name, x)
        g0, y0 = g.copy(), y.copy()
        gx = getattr(elementwise, f"{name}_backward")(g, y)
        np.testing.assert_array_equal(g, g0)
        np.testing.assert_array_equal(y, y0)
        check(gx, ref(g.astype(np.float64), y.astype(np.float64)), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("approx", ["none", "tanh"])
def test_gelu_backward(dtype, approx):
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.standard_normal(1000) * 4, EDGE]).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    got = elementwise.gelu_backward(g, x, approx)
    check(got, g.astype(np.float64) * ref_gelu_grad(approx, x), dtype)
    # Non-contiguous and 3-D.
    x3 = rng.standard_normal((3, 4, 5)).astype(dtype).transpose(2, 0, 1)
    g3 = np.ones_like(x3)
    check(elementwise.gelu_backward(g3, x3, approx), ref_gelu_grad(approx, x3), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("approx", ["none", "tanh"])
def test_gelu_forward_with_derivative(dtype, approx):
    """The (GELU, GELU') pair of one forward pass: the same GELU as the plain forward, the same
    derivative as the recomputing backward, and grad·GELU' from the saved derivative."""
    rng = np.random.default_rng(9)
    x = np.concatenate([rng.standard_normal(3000) * 4, EDGE, [np.nan]]).astype(dtype)
    y, d = elementwise.gelu_forward(x, approx, with_derivative=True)
    assert y.dtype == d.dtype == dtype and y.shape == d.shape == x.shape
    np.testing.assert_array_equal(y, elementwise.gelu_forward(x, approx))
    np.testing.assert_array_equal(d, elementwise.gelu_backward(np.ones_like(x), x, approx))
    check(d[:-1], ref_gelu_grad(approx, x[:-1]), dtype)
    assert np.isnan(d[-1])
    g = rng.standard_normal(x.shape).astype(dtype)
    np.testing.assert_array_equal(elementwise.gelu_backward_from_derivative(g, d), g * d)
    x3 = rng.standard_normal((2, 3, 4)).astype(dtype).transpose(1, 2, 0)
    y3, d3 = elementwise.gelu_forward(x3, approx, with_derivative=True)
    assert y3.shape == d3.shape == x3.shape
    with pytest.raises(ValueError):
        elementwise.gelu_backward_from_derivative(g, d[:3])


@pytest.mark.parametrize("approx", ["none", "tanh"])
def test_gelu_backward_matches_finite_difference_float64(approx):
    x = np.linspace(-6, 6, 241)
    h = 1e-6
    fd = (elementwise.gelu_forward(x + h, approx) - elementwise.gelu_forward(x - h, approx)) / (2 * h)
    np.testing.assert_allclose(elementwise.gelu_backward(np.ones_like(x), x, approx), fd, atol=1e-8)


def test_bad_arguments():
    with pytest.raises(ValueError):
        elementwise.gelu_forward(np.zeros(3), "fast")
    with pytest.raises(TypeError):
        elementwise.sigmoid_forward(np.zeros(3, np.int64))
    with pytest.raises(ValueError):
        elementwise.sigmoid_backward(np.zeros(3), np.zeros(4))
    with pytest.raises(TypeError):
        elementwise.tanh_backward(np.zeros(3, np.float32), np.zeros(3))


# ---- two threads for large calls ---------------------------------------------
def _all_elementwise_calls(x, g):
    """Every public elementwise kernel call on x (and g), as a name -> result dict."""
    out = {}
    for name in ("sigmoid", "tanh", "relu"):
        y = getattr(elementwise, f"{name}_forward")(x)
        out[name] = y
        out[name + "_bwd"] = getattr(elementwise, f"{name}_backward")(g, y)
    for approx in ("none", "tanh"):
        out["gelu_" + approx] = elementwise.gelu_forward(x, approx)
        y, d = elementwise.gelu_forward(x, approx, with_derivative=True)
        out["gelu_pair_" + approx] = np.stack([y, d])
        out["gelu_bwd_" + approx] = elementwise.gelu_backward(g, x, approx)
        out["gelu_bwd_saved_" + approx] = elementwise.gelu_backward_from_derivative(g, d)
    return out


@pytest.mark.parametrize("dtype", DTYPES)
def test_split_over_threads_is_bit_identical(dtype, monkeypatch):
    """Large calls cut into chunks for two threads give exactly the serial results (each element is
    computed on its own, with the same code whichever thread and chunk it falls in)."""
    rng = np.random.default_rng(10)
    n = 3 * threads.MIN_CHUNK * threads.CHUNKS_PER_CALL + 12345  # chunks, plus a ragged tail
    x = np.concatenate([rng.standard_normal(n - len(EDGE)) * 5, EDGE]).astype(dtype)
    g = rng.standard_normal(n).astype(dtype)
    monkeypatch.setattr(threads, "ENABLED", False)
    serial = _all_elementwise_calls(x, g)
    monkeypatch.setattr(threads, "ENABLED", True)
    monkeypatch.setattr(elementwise, "PARALLEL_MIN_MATH", 0)
    monkeypatch.setattr(elementwise, "PARALLEL_MIN_MEMORY", 0)
    for _ in range(3):
        threads.reset_backoff()
        split = _all_elementwise_calls(x, g)
        for name, ref in serial.items():
            np.testing.assert_array_equal(split[name], ref, err_msg=name)
    # Chunk by chunk (whoever runs them) equals one call over the whole array.
    chunk = 4 * threads.CHUNK_ALIGN
    by_chunks = np.concatenate([elementwise.sigmoid_forward(x[lo:lo + chunk]) for lo in range(0, n, chunk)])
    np.testing.assert_array_equal(by_chunks, serial["sigmoid"])


def test_split_runs_every_chunk_once_and_reraises(monkeypatch):
    threads.reset_backoff()
    n = 10 * threads.MIN_CHUNK + 7
    counts = np.zeros(n, np.int64)

    def count(c):  # a Python "kernel": holds the GIL, still correct
        c += 1
    threads.run_elementwise(count, (counts,), 0)
    assert (counts == 1).all()

    def fail(c):
        raise RuntimeError("kernel failed")
    threads.reset_backoff()
    with pytest.raises(RuntimeError, match="kernel failed"):
        threads.run_elementwise(fail, (counts,), 0)


def test_small_calls_stay_serial():
    """Below the thresholds no helper thread is involved (and none is started by loading or warming up
    the kernels in a fresh process)."""
    code = (
        "import threading\n"
        "from autograd.kernels import elementwise, threads, warmup\n"
        "warmup.warm_up(('float32',))\n"
        "import numpy as np\n"
        "elementwise.sigmoid_forward(np.zeros(elementwise.PARALLEL_MIN_MATH - 1, np.float32))\n"
        "assert threading.active_count() == 1, threading.enumerate()\n"
        "assert not threads.helper_started()\n"
    )
    subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                   cwd=__import__("os").path.dirname(__import__("os").path.dirname(__file__)))


# ---- softmax family --------------------------------------------------------
def ref_softmax(x):
    x = x.astype(np.float64)
    m = x.max(-1, keepdims=True)
    e = np.exp(x - m)
    return e / e.sum(-1, keepdims=True), (x - m) - np.log(e.sum(-1, keepdims=True))


SM_TOL = {np.float32: dict(rtol=4e-7 * 4, atol=1e-7), np.float64: dict(rtol=1e-13, atol=1e-300)}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5,), (4, 7), (2, 3, 10), (3, 1), (1, 200)])
def test_softmax_log_softmax_logsumexp(dtype, shape):
    rng = np.random.default_rng(5)
    x = (rng.standard_normal(shape) * 5).astype(dtype)
    sm, lsm = ref_softmax(x)
    np.testing.assert_allclose(rows.softmax_forward(x), sm, **SM_TOL[dtype])
    np.testing.assert_allclose(rows.log_softmax_forward(x), lsm, rtol=SM_TOL[dtype]["rtol"], atol=1e-6 if dtype == np.float32 else 1e-12)
    lse = np.log(np.exp(x.astype(np.float64) - x.max(-1, keepdims=True)).sum(-1)) + x.max(-1)
    got = rows.logsumexp_lastdim(x)
    assert got.shape == x.shape[:-1] and got.dtype == dtype
    np.testing.assert_allclose(got, lse, rtol=SM_TOL[dtype]["rtol"], atol=1e-6 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_extremes(dtype):
    x = np.array([[1e4, 0.0, -1e4], [-1e4, -1e4 + 1, -1e4], [0.0, -np.inf, 1.0], [-np.inf, 5.0, -np.inf]], dtype)
    sm, lsm = ref_softmax(x)  # numpy reference is finite here (no all -inf row)
    np.testing.assert_allclose(rows.softmax_forward(x), sm, **SM_TOL[dtype])
    got = rows.log_softmax_forward(x)
    assert np.array_equal(np.isneginf(got), np.isneginf(lsm))
    fin = np.isfinite(lsm)
    np.testing.assert_allclose(got[fin], lsm[fin], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(rows.logsumexp_lastdim(x), [1e4, -1e4 + 1 + math.log(1 + 2 * math.exp(-1)), 1 + math.log1p(math.exp(-1)), 5.0], rtol=1e-6)
    # Non-contiguous input, empty arrays, all -inf row for logsumexp.
    xt = np.random.default_rng(6).standard_normal((6, 4)).astype(dtype).T
    np.testing.assert_allclose(rows.softmax_forward(xt), ref_softmax(xt)[0], **SM_TOL[dtype])
    assert rows.softmax_forward(np.zeros((0, 3), dtype)).shape == (0, 3)
    assert rows.log_softmax_forward(np.zeros((2, 0), dtype)).shape == (2, 0)
    np.testing.assert_array_equal(rows.logsumexp_lastdim(np.zeros((2, 0), dtype)), [-np.inf, -np.inf])
    np.testing.assert_array_equal(rows.logsumexp_lastdim(np.full((1, 3), -np.inf, dtype)), [-np.inf])


@pytest.mark.parametrize("columns", [1, 2, 10, 15, 16, 32, 37, 255])
def test_blocked_float32_softmax_kernels_equal_the_per_row_ones(columns):
    """Short float32 rows go through the blocked kernels (more rows than one block holds, with
    NaN, inf and all -inf rows); they must give exactly what the per-row kernels give, at any width."""
    rng = np.random.default_rng(columns)
    x = (rng.standard_normal((2000 // columns + 3, columns)) * 20).astype(np.float32)
    x[0, 0], x[1, -1], x[2, :] = np.nan, np.inf, -np.inf
    x[3, 0] = -90.0 + x[3].max()  # an element flushed to 0 (below e^-87)
    narrow = columns < rows.NARROW_ROWS
    for forward in (rows.softmax_forward, rows.log_softmax_forward):
        blocked = forward(x, blocked=True)
        np.testing.assert_array_equal(blocked, forward(x, blocked=False))
        np.testing.assert_array_equal(forward(x), blocked)  # the default, whichever it is
    assert rows.uses_blocked_kernel(np.dtype(np.float32), columns) == narrow
    assert not rows.uses_blocked_kernel(np.dtype(np.float32), rows.NARROW_ROWS)
    assert not rows.uses_blocked_kernel(np.dtype(np.float64), columns)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(6,), (3, 5), (2, 2, 9), (0, 4)])
def test_softmax_backwards(dtype, shape):
    rng = np.random.default_rng(7)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    y = rows.softmax_forward(x)
    y64, g64 = y.astype(np.float64), g.astype(np.float64)
    ref = y64 * (g64 - (g64 * y64).sum(-1, keepdims=True))
    atol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(rows.softmax_backward(g, y), ref, rtol=1e-5, atol=atol)
    ly = rows.log_softmax_forward(x)
    ref = g64 - np.exp(ly.astype(np.float64)) * g64.sum(-1, keepdims=True)
    np.testing.assert_allclose(rows.log_softmax_backward(g, ly), ref, rtol=1e-5, atol=atol)


@settings(deadline=None, max_examples=40)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=6),
                  elements=st.floats(-200, 200, allow_nan=False)))
def test_softmax_hypothesis(x):
    sm, lsm = ref_softmax(x)
    np.testing.assert_allclose(rows.softmax_forward(x), sm, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(rows.log_softmax_forward(x), lsm, rtol=1e-12, atol=1e-12)
    x32 = x.astype(np.float32)
    np.testing.assert_allclose(rows.softmax_forward(x32), ref_softmax(x32)[0], rtol=2e-6, atol=1e-7)


@settings(deadline=None, max_examples=60)
@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=0, max_dims=3, max_side=5),
                  elements=st.floats(-1e6, 1e6, width=32, allow_nan=False)),
       st.sampled_from(ACTS))
def test_activation_hypothesis_float32(x, name):
    check(forward(name, x), ref_forward(name, x), np.float32)


# ---- matmul -----------------------------------------------------------------
MM_SHAPES = [(1, 1, 1), (1, 7, 5), (6, 7, 1), (5, 1, 4), (128, 1, 64), (64, 1, 64), (32, 2, 16),
             (3, 0, 4), (0, 3, 4), (3, 4, 0), (17, 33, 9), (64, 100, 32)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m,k,n", MM_SHAPES)
def test_matmul(dtype, m, k, n):
    rng = np.random.default_rng(8)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    for f in (matmul.matmul, matmul.matmul_numba):
        c = f(a, b)
        assert c.shape == (m, n) and c.dtype == dtype
        np.testing.assert_allclose(c, ref, rtol=rtol, atol=rtol * max(k, 1))
    # Transposed (non-contiguous) operands.
    at, bt = np.ascontiguousarray(a.T).T, np.ascontiguousarray(b.T).T
    for f in (matmul.matmul, matmul.matmul_numba):
        np.testing.assert_allclose(f(at, bt), ref, rtol=rtol, atol=rtol * max(k, 1))


def test_matmul_dispatch_rule_and_errors():
    assert matmul.use_numba_matmul(64, 1, 64)
    assert not matmul.use_numba_matmul(16, 1, 16)
    assert not matmul.use_numba_matmul(64, 784, 128)
    with pytest.raises(ValueError):
        matmul.matmul(np.zeros((2, 3)), np.zeros((4, 2)))
    with pytest.raises(TypeError):
        matmul.matmul(np.zeros((2, 3)), np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError):
        matmul.matmul(np.zeros(3), np.zeros(3))


# ---- import / warm-up ----------------------------------------------------------
def test_import_is_lazy():
    """``import autograd`` must not load numba, and loading the kernels compiles nothing (the time it
    takes is measured by benchmarks/bench_startup.py, not asserted here)."""
    code = (
        "import sys\n"
        "import autograd\n"
        "assert 'numba' not in sys.modules, 'import autograd loaded numba'\n"
        "from autograd.kernels import warmup\n"
        "assert warmup.dispatchers(), 'no kernels found'\n"
        "assert not any(d.signatures for d in warmup.dispatchers().values()), "
        "'compiled at import'\n"
    )
    subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                   cwd=__import__("os").path.dirname(__import__("os").path.dirname(__file__)))


def test_warm_up():
    """For both dtypes, the warm-up command compiles every kernel of the package."""
    from autograd import warmup as warmup_command
    warmup_command.warm_up(("float32", "float64"))
    uncompiled = [name for name, d in warmup.dispatchers().items() if not d.signatures]
    assert not uncompiled


def _numpy_uses_openblas():
    return "openblas" in str(np.__config__.CONFIG["Build Dependencies"]["blas"].get("name", "")).lower()


def _assert_one_rounding_of_axpy(result, x, alpha, y):
    """``result`` is x + α·y rounded once or twice (BLAS may fuse the multiply-add): within one unit
    of rounding of |x| + |α·y| of the exact value (so a cancelling sum may be off by many ulps of itself)."""
    wide = np.longdouble
    exact = x.astype(wide) + wide(alpha) * y.astype(wide)
    bound = np.finfo(x.dtype).eps * (np.abs(x).astype(wide) + np.abs(wide(alpha) * y.astype(wide)))
    assert np.all(np.abs(result.astype(wide) - exact) <= bound)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_axpy_large_arrays_go_to_numpys_blas(dtype):
    """x += α·y: from BLAS_AXPY_MIN elements through numpy's BLAS (found whenever numpy ships OpenBLAS,
    as its wheels do), below through the Numba loop (which gives numpy's x + α·y exactly)."""
    from autograd import blas
    function = blas.axpy_function(np.dtype(dtype))
    if _numpy_uses_openblas():
        assert function is not None
    rng = np.random.default_rng(0)
    alpha = dtype(-0.37)
    x, y = rng.standard_normal(updates.BLAS_AXPY_MIN - 1).astype(dtype), rng.standard_normal(
        updates.BLAS_AXPY_MIN - 1).astype(dtype)
    expected = x + alpha * y
    updates.axpy_(x, y, alpha)
    np.testing.assert_array_equal(x, expected)
    for n in (updates.BLAS_AXPY_MIN, 200_003):
        x, y = rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)
        result = x.copy()
        updates.axpy_(result, y, alpha)
        _assert_one_rounding_of_axpy(result, x, alpha, y)
    if function is not None:  # the BLAS kernel itself
        x, y = rng.standard_normal(40_000).astype(dtype), rng.standard_normal(40_000).astype(dtype)
        result = x.copy()
        updates.blas_axpy_(function, result, y, alpha)
        _assert_one_rounding_of_axpy(result, x, alpha, y)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_axpy_with_overlapping_arrays_keeps_the_loops_order(dtype):
    """Partly overlapping x and y (views of one buffer, shifted) give the sequential loop's result, which
    threads splitting the work would not; x is y gives x·(1 + α)."""
    n = updates.BLAS_AXPY_MIN * 3
    buffer = np.random.default_rng(1).standard_normal(n + 7).astype(dtype)
    expected = buffer.copy()
    for lo in range(0, n, 7):  # element i reads what element i - 7 wrote: in steps of 7, numpy is sequential
        hi = min(lo + 7, n)
        expected[7 + lo:7 + hi] += dtype(0.5) * expected[lo:hi]
    updates.axpy_(buffer[7:], buffer[:-7], dtype(0.5))
    np.testing.assert_array_equal(buffer, expected)
    same = np.random.default_rng(2).standard_normal(n).astype(dtype)
    expected = same * dtype(1.5)
    updates.axpy_(same, same, dtype(0.5))
    np.testing.assert_array_max_ulp(same, expected, maxulp=1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 5), (2, 2), (32, 10), (513, 257), (20000, 3)])
def test_column_sums_equal_numpys_sums_over_rows(dtype, shape):
    """autograd.blas.column_sums (BLAS gemv with ones, what Sum over axis 0 and a broadcast bias's
    gradient use) against numpy's add.reduce over axis 0, with inf, -inf and NaN carried through."""
    from autograd.blas import column_sums
    rng = np.random.default_rng(4)
    x = rng.standard_normal(shape).astype(dtype)
    if shape[1] >= 3:
        x[0, 0], x[-1, 1], x[0, 2] = np.inf, np.nan, -np.inf
    expected = np.add.reduce(x.astype(np.float64), axis=0)
    with np.errstate(invalid="ignore"):
        result = column_sums(x)
    assert result.dtype == dtype and result.shape == (shape[1],)
    tolerance = np.finfo(dtype).eps * np.abs(x).sum(axis=0, where=np.isfinite(x)) * 2
    finite = np.isfinite(expected)
    assert np.all(np.abs(result[finite] - expected[finite]) <= tolerance[finite])
    np.testing.assert_array_equal(result[~finite], expected[~finite].astype(dtype))
    assert column_sums(np.zeros((0, 3), dtype)) is None                  # no rows: numpy's reduce
    assert column_sums(np.ones((3, 4), np.float16)) is None              # no BLAS for half precision
    assert column_sums(np.asfortranarray(np.ones((3, 4), dtype))) is None


@pytest.mark.parametrize("shape", [(1, 1), (7, 10), (300, 10), (16, 1000)])
@pytest.mark.parametrize("per_row_g", [False, True])
def test_float32_cross_entropy_grad_matches_the_float64_kernel(shape, per_row_g):
    """The float32 kernel (one vectorised exp pass, then the rows) against the general per-element
    kernel run in float64 on the same values: within a few float32 ulp of the terms (softmax and
    one-hot, whose difference cancels at the target), with class weights, ignored rows (ignore_index)
    and one upstream value per row."""
    rng = np.random.default_rng(5)
    n_rows, classes = shape
    logp = rows.log_softmax_forward(rng.standard_normal(shape).astype(np.float32) * 4)
    target = rng.integers(0, classes, n_rows)
    target[::3] = -100
    weight = rng.uniform(0.5, 2, classes).astype(np.float32)
    _, row_weights, _, weight_sum = losses.cross_entropy_rows(logp, target, weight, -100)
    g = rng.standard_normal(n_rows).astype(np.float32) if per_row_g else np.float32(0.7)
    coef = 1.0 / max(weight_sum, 1.0)
    result = losses.cross_entropy_grad(logp, target, row_weights, coef, g)
    assert result.dtype == np.float32
    wide = [np.asarray(a, np.float64) for a in (logp, row_weights, g)]
    expected = losses.cross_entropy_grad(wide[0], target, wide[1], coef, wide[2])
    scale = np.abs(wide[1] * coef * wide[2]).reshape(-1, 1)  # each row's factor cᵢ·gᵢ
    onehot = np.arange(classes) == target.reshape(-1, 1)
    bound = 4 * np.finfo(np.float32).eps * (np.exp(wide[0]) + onehot) * scale
    assert np.all(np.abs(result - expected) <= bound)
    assert np.all(result[target == -100] == 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_grad_of_non_contiguous_log_probabilities(dtype):
    """A Fortran-ordered logp gives the same gradient as its C-ordered copy (the float32 kernel walks
    flat arrays, so the wrapper makes logp C-contiguous first)."""
    rng = np.random.default_rng(6)
    logp = rows.log_softmax_forward(rng.standard_normal((6, 4)).astype(dtype))
    target = np.array([0, 1, -100, 3, 2, 1])
    _, row_weights, _, weight_sum = losses.cross_entropy_rows(logp, target, None, -100)
    one = np.ones(1, dtype)
    expected = losses.cross_entropy_grad(logp, target, row_weights, 1.0 / weight_sum, one)
    result = losses.cross_entropy_grad(np.asfortranarray(logp), target, row_weights, 1.0 / weight_sum, one)
    np.testing.assert_array_equal(result, expected)
