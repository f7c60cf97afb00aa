"""Property tests: broadcasting binary ops and reductions over random shapes and dims.

* Binary ops (add sub mul div maximum where) on random broadcast-compatible shape pairs: the forward
  equals numpy's, and the gradient of each operand has that operand's shape and equals the numpy
  reference (the local derivative times the upstream gradient, summed over the broadcast axes).
* Reductions (sum mean amax var logsumexp prod) over random shapes and random dim subsets (an int, a
  tuple, negative or not, or None) with keepdim True/False: the forward equals numpy's and the gradient
  passes gradcheck.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd as ag


# ---------------------------------------------------------------------------- strategies
@st.composite
def base_shapes(draw, max_ndim=4, max_side=4):
    return tuple(draw(st.lists(st.integers(1, max_side), min_size=0, max_size=max_ndim)))


@st.composite
def operand_shape(draw, base):
    """``base`` with some leading dims dropped and some of the remaining dims set to 1."""
    drop = draw(st.integers(0, len(base)))
    kept = base[drop:]
    ones = draw(st.lists(st.booleans(), min_size=len(kept), max_size=len(kept)))
    return tuple(1 if one else s for s, one in zip(kept, ones))


@st.composite
def broadcast_pair(draw):
    base = draw(base_shapes())
    return base, draw(operand_shape(base)), draw(operand_shape(base))


def sum_to(array, shape):
    """numpy reference of the inverse of broadcasting: sum ``array`` down to ``shape``."""
    lead = array.ndim - len(shape)
    out = array.sum(axis=tuple(range(lead))) if lead else array
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and out.shape[i] != 1)
    return out.sum(axis=axes, keepdims=True) if axes else out


def _values(rng, shape, kind):
    """A float64 ndarray (np.asarray: a 0-d product of numpy arrays is a numpy scalar)."""
    if kind == "denominator":
        return np.asarray(rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape))
    return np.asarray(rng.uniform(-2.0, 2.0, size=shape))


# local derivatives (d out/d a, d out/d b) as numpy functions of the broadcast operands
BINARY = {
    "add": (ag.add, np.add, lambda a, b: (np.ones_like(a), np.ones_like(b))),
    "sub": (lambda a, b: a - b, np.subtract, lambda a, b: (np.ones_like(a), -np.ones_like(b))),
    "mul": (lambda a, b: a * b, np.multiply, lambda a, b: (b, a)),
    "div": (ag.div, np.divide, lambda a, b: (1 / b, -a / (b * b))),
    "maximum": (ag.maximum, np.maximum,
                lambda a, b: ((a > b) + 0.5 * (a == b), (b > a) + 0.5 * (a == b))),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@settings(max_examples=60)
@given(shapes=broadcast_pair(), seed=st.integers(0, 2 ** 31 - 1))
def test_binary_broadcast_gradients_match_numpy(name, shapes, seed):
    op, ref, local = BINARY[name]
    _, sa, sb = shapes
    rng = np.random.default_rng(seed)
    a = _values(rng, sa, "any")
    b = _values(rng, sb, "denominator" if name == "div" else "any")
    ta = ag.tensor(a, requires_grad=True)
    tb = ag.tensor(b, requires_grad=True)
    out = op(ta, tb)
    expected = ref(a, b)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-12)
    g = rng.uniform(0.5, 1.5, size=expected.shape)
    out.backward(ag.tensor(g))
    ab, bb = np.broadcast_arrays(a, b)
    da, db = local(ab, bb)
    assert ta.grad.shape == sa and tb.grad.shape == sb
    assert ta.grad.dtype == ag.float64 and tb.grad.dtype == ag.float64
    np.testing.assert_allclose(ta.grad.numpy(), sum_to(g * da, sa), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(tb.grad.numpy(), sum_to(g * db, sb), rtol=1e-10, atol=1e-12)


@settings(max_examples=60)
@given(shapes=broadcast_pair(), data=st.data(), seed=st.integers(0, 2 ** 31 - 1))
def test_where_broadcast_gradients_match_numpy(shapes, data, seed):
    base, sa, sb = shapes
    sc = data.draw(operand_shape(base), label="condition shape")
    rng = np.random.default_rng(seed)
    a, b = _values(rng, sa, "any"), _values(rng, sb, "any")
    cond = rng.random(sc) < 0.5
    ta, tb = ag.tensor(a, requires_grad=True), ag.tensor(b, requires_grad=True)
    out = ag.where(ag.tensor(cond), ta, tb)
    expected = np.where(cond, a, b)
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out.detach().numpy(), expected)
    g = rng.uniform(0.5, 1.5, size=expected.shape)
    out.backward(ag.tensor(g))
    c = np.broadcast_to(cond, expected.shape)
    assert ta.grad.shape == sa and tb.grad.shape == sb
    np.testing.assert_allclose(ta.grad.numpy(), sum_to(np.where(c, g, 0.0), sa), rtol=1e-12)
    np.testing.assert_allclose(tb.grad.numpy(), sum_to(np.where(c, 0.0, g), sb), rtol=1e-12)


@settings(max_examples=40)
@given(shapes=broadcast_pair(), seed=st.integers(0, 2 ** 31 - 1))
def test_mixed_dtype_broadcast_gradients_keep_each_operand_dtype(shapes, seed):
    """float32 ⊙ float64 promotes to float64 (but a 0-d float64 beside a float32 tensor with dims does
    not widen it, as in torch), and each gradient comes back in its operand's dtype."""
    _, sa, sb = shapes
    rng = np.random.default_rng(seed)
    a = _values(rng, sa, "any").astype(np.float32)
    b = _values(rng, sb, "any")
    ta, tb = ag.tensor(a, requires_grad=True), ag.tensor(b, requires_grad=True)
    out = ta * tb
    assert out.dtype == (ag.float32 if sb == () and sa != () else ag.float64)
    out.sum().backward()
    assert ta.grad.dtype == ag.float32 and tb.grad.dtype == ag.float64
    ab, bb = np.broadcast_arrays(a.astype(np.float64), b)
    np.testing.assert_allclose(ta.grad.numpy(), sum_to(bb, sa), rtol=1e-6)
    np.testing.assert_allclose(tb.grad.numpy(), sum_to(ab, sb), rtol=1e-12 if out.dtype == ag.float64 else 1e-5)


# ---------------------------------------------------------------------------- reductions
@st.composite
def reduction_args(draw):
    shape = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=3)))
    ndim = len(shape)
    form = draw(st.sampled_from(["none", "int", "tuple"]))
    if form == "none":
        dim = None
    else:
        axes = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
        signed = [a - ndim if draw(st.booleans()) else a for a in axes]
        dim = signed[0] if form == "int" else tuple(signed)
    keepdim = draw(st.booleans())
    return shape, dim, keepdim


def _axes(dim, ndim):
    if dim is None:
        return tuple(range(ndim))
    dims = dim if isinstance(dim, tuple) else (dim,)
    return tuple(sorted(d % ndim for d in dims))


def _np_logsumexp(x, axis, keepdims):
    m = x.max(axis=axis, keepdims=True)
    out = np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m
    return out if keepdims else out.reshape(np.sum(x, axis=axis).shape)


def _reduction(name, correction=1):
    return {
        "sum": (lambda t, d, k: t.sum(d, keepdim=k), lambda x, a, k: x.sum(axis=a, keepdims=k)),
        "mean": (lambda t, d, k: ag.mean(t, d, keepdim=k), lambda x, a, k: x.mean(axis=a, keepdims=k)),
        "amax": (lambda t, d, k: t.amax(() if d is None else d, keepdim=k),
                 lambda x, a, k: x.max(axis=a, keepdims=k)),
        "var": (lambda t, d, k: t.var(d, keepdim=k, correction=correction),
                lambda x, a, k: x.var(axis=a, keepdims=k, ddof=correction)),
        "logsumexp": (lambda t, d, k: ag.logsumexp(t, d, keepdim=k), _np_logsumexp),
        "prod": (lambda t, d, k: t.prod(d, keepdim=k), lambda x, a, k: x.prod(axis=a, keepdims=k)),
    }[name]


@pytest.mark.parametrize("name", ["sum", "mean", "amax", "var", "logsumexp", "prod"])
@settings(max_examples=50)
@given(args=reduction_args(), seed=st.integers(0, 2 ** 31 - 1), correction=st.integers(0, 2))
def test_reduction_forward_and_gradcheck(name, args, seed, correction):
    shape, dim, keepdim = args
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    axes = _axes(dim, len(shape))
    count = int(np.prod([shape[a] for a in axes]))
    if name == "amax":  # distinct values: no ties, so the gradient is unambiguous and smooth
        x = (rng.permutation(n) * 0.25 - n * 0.1 + rng.uniform(-0.05, 0.05, n)).reshape(shape)
    elif name == "prod":
        x = rng.uniform(0.5, 1.5, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    else:
        x = rng.uniform(-2.0, 2.0, size=shape)
    correction = min(correction, count - 1)  # keep N − correction > 0 (else var is inf/nan)
    op, ref = _reduction(name, correction)
    t = ag.tensor(x, requires_grad=True)
    out = op(t, dim, keepdim)
    expected = ref(x, axes, keepdim)
    assert out.shape == np.shape(expected), (out.shape, np.shape(expected))
    assert out.dtype == ag.float64
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-10, atol=1e-12)
    assert ag.gradcheck(lambda v: op(v, dim, keepdim), [t])
