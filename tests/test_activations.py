"""The activations' eager paths: the two-thread split of large calls, and relu/sigmoid/tanh/gelu through
autograd (float32 and float64, non-contiguous and large-|x| inputs, PyTorch when present, first and
second order gradcheck in float64)."""
import math
import time

import numpy as np
import pytest

import autograd as ag
from autograd.kernels import threads


# ---- splitting where it measurably pays ----------------------------------------------------------
@pytest.fixture
def enabled_threads(monkeypatch):
    monkeypatch.setattr(threads, "ENABLED", True)
    threads.reset_backoff()
    yield
    threads.reset_backoff()


def _ways(kernel, size, calls):
    """For each of ``calls`` calls of ``kernel`` over ``size`` elements: 'split' or 'serial' (how many
    times the kernel ran for that call), checking that every element was computed once."""
    ways = []
    for _ in range(calls):
        counts = np.zeros(size, np.int64)
        runs = []

        def counting(c):
            runs.append(c.size)
            kernel(c)
        threads.run_elementwise(counting, (counts,), 0)
        assert (counts == 1).all()
        ways.append("split" if len(runs) > 1 else "serial")
    return ways


def test_both_ways_are_timed_then_the_faster_one_is_taken_and_the_other_probed(enabled_threads):
    """A kernel with a fixed cost per run (a hand-off that does not pay): the first calls alternate to
    time both ways, then calls stay serial, except every PROBE_EVERY-th, which splits."""
    def fixed_cost(c):  # a Python "kernel"; sleeping releases the GIL, as the Numba kernels do
        time.sleep(0.003)
        c += 1
    ways = _ways(fixed_cost, 4 * threads.MIN_CHUNK, 2 * threads.PROBE_EVERY)
    measuring = 2 * threads.SAMPLES
    assert ways[:measuring] == ["split", "serial"] * threads.SAMPLES
    for call, way in enumerate(ways[measuring:], start=measuring + 1):
        assert way == ("split" if call % threads.PROBE_EVERY == 0 else "serial"), (call, ways)


def test_splitting_is_kept_where_it_is_faster(enabled_threads):
    """A kernel whose cost is proportional to its elements: two threads halve it, so calls keep splitting
    (the serial way is only probed)."""
    def per_element(c):
        time.sleep(c.size * 1e-7)
        c += 1
    ways = _ways(per_element, 8 * threads.MIN_CHUNK, 2 * threads.PROBE_EVERY)
    measuring = 2 * threads.SAMPLES
    for call, way in enumerate(ways[measuring:], start=measuring + 1):
        assert way == ("serial" if call % threads.PROBE_EVERY == 0 else "split"), (call, ways)


def test_closures_made_per_call_share_one_record(enabled_threads):
    """A callable made anew for each call (a closure) is timed by its code, so its calls stop measuring
    both ways once its call site has samples, and the records stay few."""
    def make():
        return lambda c: c.__iadd__(1)
    for _ in range(3 * threads.SAMPLES):
        counts = np.zeros(2 * threads.MIN_CHUNK, np.int64)
        threads.run_elementwise(make(), (counts,), 0)
        assert (counts == 1).all()
    assert len(threads._timings) == 1


# ---- relu, sigmoid, tanh, gelu through autograd ------------------------------------------------
_erfc = np.frompyfunc(math.erfc, 1, 1)
_K0 = math.sqrt(2.0 / math.pi)


def _sigmoid64(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0, e) / (1.0 + e)


def _reference(name, x):
    """(f(x), f'(x)) in float64 from the float64 values of x (PyTorch's definitions)."""
    x = x.astype(np.float64)
    with np.errstate(all="ignore"):
        if name == "relu":
            return np.where(x > 0, x, 0.0), np.where(x > 0, 1.0, 0.0)
        if name == "sigmoid":
            s = _sigmoid64(x)
            return s, s * (1 - s)
        if name == "tanh":
            t = np.tanh(x)
            return t, (1 - t) * (1 + t)
        if name == "gelu":
            cdf = np.asarray(0.5 * _erfc(-x / math.sqrt(2.0)), dtype=np.float64)
            xc = np.clip(x, -40, 40)
            return np.where(cdf == 0, 0.0, x * cdf), cdf + xc * np.exp(-0.5 * xc * xc) / math.sqrt(2 * math.pi)
        if name == "gelu_tanh":
            s = _sigmoid64(2 * _K0 * (x + 0.044715 * x ** 3))
            xc = np.clip(x, -1e4, 1e4)
            return np.where(s == 0, 0.0, x * s), s + 2 * xc * _K0 * (1 + 3 * 0.044715 * xc * xc) * s * (1 - s)
    raise AssertionError(name)


NAMES = ["relu", "sigmoid", "tanh", "gelu", "gelu_tanh"]


def _activation(name):
    if name == "gelu_tanh":
        return lambda t: ag.gelu(t, approximate="tanh")
    return getattr(ag, name)


def _tolerance(dtype):
    return dict(rtol=2e-6, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-300)


def _assert_gradient_close(dx, g, derivative, dtype):
    """|dx − g·f'| within a few ulp of the result plus, for the derivatives taken from the rounded
    output (σ' = y(1 − y), tanh' = (1 − y)(1 + y)), the rounding of y near ±1 times |g|."""
    rtol, ulp_of_one = (2e-6, 2.5e-7) if dtype == np.float32 else (1e-12, 5e-16)
    expected = g.astype(np.float64) * derivative
    excess = np.abs(dx - expected) - (rtol * np.abs(expected) + ulp_of_one * np.abs(g))
    assert excess.max() <= 0, (excess.argmax(), dx[excess.argmax()], expected[excess.argmax()])


def _forward_backward(name, x, g):
    t = ag.tensor(x, requires_grad=True)
    y = _activation(name)(t)
    y.backward(ag.tensor(g))
    return y.detach().numpy(), t.grad.numpy()


LARGE = np.array([-1e4, -100.0, -30.0, -15.0, -9.5, -5.0, 5.0, 9.5, 15.0, 30.0, 100.0, 1e4,
                  -np.inf, np.inf])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NAMES)
def test_forward_and_gradient_against_float64_formulas(name, dtype):
    """Random values, large |x| and ±inf: values and x.grad = g·f'(x) to a few float32 ulp (float64:
    to rounding), finite everywhere except f(±inf) = ±inf where f is unbounded."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(3000) * 4, LARGE]).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    y, dx = _forward_backward(name, x, g)
    ref_y, ref_d = _reference(name, x)
    assert y.dtype == dx.dtype == dtype
    np.testing.assert_allclose(y, ref_y, **_tolerance(dtype))
    _assert_gradient_close(dx, g, ref_d, dtype)
    assert np.isfinite(dx).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NAMES)
def test_non_contiguous_input_gives_the_contiguous_results(name, dtype):
    base = np.random.default_rng(1).standard_normal((40, 30)).astype(dtype) * 3
    for view in (lambda a: a.T[::2, ::2], lambda a: a[::-1, 5:25][::3]):
        g = np.random.default_rng(2).standard_normal(view(base).shape).astype(dtype)
        t = ag.tensor(base, requires_grad=True)
        strided = view(t)
        assert not strided.detach().numpy().flags.c_contiguous
        y = _activation(name)(strided)
        y.backward(ag.tensor(g))
        y_ref, dx_ref = _forward_backward(name, np.ascontiguousarray(view(base)), g)
        np.testing.assert_array_equal(y.detach().numpy(), y_ref)
        expected = np.zeros_like(base)
        view(expected)[...] = dx_ref
        np.testing.assert_array_equal(t.grad.numpy(), expected)


@pytest.mark.parametrize("name", NAMES)
def test_large_arrays_split_over_two_threads_equal_the_serial_results(name, monkeypatch, enabled_threads):
    """Forward and backward split over two threads: bit for bit the serial results, and the float64
    reference within float32 rounding."""
    n = (1 << 20) + 12345
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(n) * 4).astype(np.float32)
    g = rng.standard_normal(n).astype(np.float32)
    from autograd.kernels import elementwise
    monkeypatch.setattr(elementwise, "PARALLEL_MIN_MATH", 0)  # every kernel may split, memory-bound too
    monkeypatch.setattr(elementwise, "PARALLEL_MIN_MEMORY", 0)
    splits = []
    original = threads._SplitCall.__init__

    def counted(self, *args):
        splits.append(args[0])
        original(self, *args)
    monkeypatch.setattr(threads._SplitCall, "__init__", counted)
    split = _forward_backward(name, x, g)
    assert len(splits) == 2  # the first calls of a kernel split (the helper may not have run any chunk)
    monkeypatch.setattr(threads, "ENABLED", False)
    serial = _forward_backward(name, x, g)
    for a, b in zip(split, serial):
        np.testing.assert_array_equal(a, b)
    ref_y, ref_d = _reference(name, x)
    np.testing.assert_allclose(split[0], ref_y, **_tolerance(np.float32))
    _assert_gradient_close(split[1], g, ref_d, np.float32)


@pytest.mark.parametrize("name", NAMES)
def test_matches_torch(name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.standard_normal(5000) * 3, LARGE[:-2]]).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    y, dx = _forward_backward(name, x, g)
    tx = torch.tensor(x, requires_grad=True)
    if name.startswith("gelu"):
        ty = torch.nn.functional.gelu(tx, approximate="tanh" if name == "gelu_tanh" else "none")
    else:
        ty = getattr(torch, name)(tx)
    ty.backward(torch.tensor(g))
    # torch's float32 kernels are accurate to an absolute 1e-7 or so (its erf is a polynomial
    # approximation, and its tanh-form derivative cancels to 0 below x = -5, where it is about -1e-6);
    # ours to a few ulp (checked above against float64): they agree to that absolute error.
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-5, atol=2e-6)


def _gradcheck_inputs(seed, shape=(3, 4)):
    rng = np.random.default_rng(seed)
    values = np.concatenate([rng.uniform(-3, 3, 8), [-7.5, 6.5, -0.3, 0.4]]).reshape(shape)
    return values


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck_first_and_second_order_float64_strided_and_large(name):
    """In float64, through a transposed view (a non-contiguous input), with |x| up to 7.5."""
    values = _gradcheck_inputs(5)
    if name == "relu":  # finite differences need distance from the kink at 0
        values = np.where(np.abs(values) < 0.05, 0.5, values)
    fn = lambda a: _activation(name)(a.mT) * 1.5  # noqa: E731
    x = ag.tensor(values, dtype=ag.float64, requires_grad=True)
    assert ag.gradcheck(fn, [x])
    assert ag.gradgradcheck(fn, [x])
