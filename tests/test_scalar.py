"""autograd.Scalar: every op's value and derivative, Scalar == Tensor on random expressions, gradient
semantics (accumulation, shared subexpressions, zero_grad), deep graphs, errors and reprs."""
import math
import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autograd as ag
from autograd import Scalar
from autograd.engine import topological_order
from autograd.scalar import zero_grad

# name -> (Scalar function, float reference, points where it is smooth)
UNARY = {
    "neg": (lambda s: -s, lambda x: -x, [-1.3, 0.4, 2.0]),
    "exp": (Scalar.exp, math.exp, [-1.3, 0.4, 2.0]),
    "log": (Scalar.log, math.log, [0.3, 1.0, 4.5]),
    "tanh": (Scalar.tanh, math.tanh, [-1.3, 0.4, 2.0]),
    "sigmoid": (Scalar.sigmoid, lambda x: 1 / (1 + math.exp(-x)), [-30.0, -1.3, 0.4, 2.0]),
    "relu": (Scalar.relu, lambda x: max(x, 0.0), [-1.3, 0.4, 2.0]),
    "leaky_relu": (lambda s: s.leaky_relu(0.1), lambda x: x if x > 0 else 0.1 * x, [-1.3, 0.4]),
    "elu": (lambda s: s.elu(0.7), lambda x: x if x > 0 else 0.7 * (math.exp(x) - 1), [-1.3, 0.4]),
    "softplus": (Scalar.softplus, lambda x: math.log1p(math.exp(x)), [-1.3, 0.4, 2.0]),
    "abs": (Scalar.abs, abs, [-1.3, 0.4]),
    "sqrt": (Scalar.sqrt, math.sqrt, [0.3, 2.0]),
    "sin": (Scalar.sin, math.sin, [-1.3, 0.4, 2.0]),
    "cos": (Scalar.cos, math.cos, [-1.3, 0.4, 2.0]),
}

BINARY = {
    "+": (lambda a, b: a + b, [(1.5, -0.5)]),
    "-": (lambda a, b: a - b, [(1.5, -0.5)]),
    "*": (lambda a, b: a * b, [(1.5, -0.5)]),
    "/": (lambda a, b: a / b, [(1.5, -0.5), (-2.0, 3.0)]),
    "**": (lambda a, b: a ** b, [(1.5, -0.5), (2.0, 3.0), (0.7, 2.5)]),
}


def numeric_derivative(f, x, eps=1e-6):
    return (f(x + eps) - f(x - eps)) / (2 * eps)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_value_and_derivative(name):
    fn, reference, points = UNARY[name]
    for x in points:
        s = Scalar(x)
        out = fn(s)
        out.backward()
        assert out.data == pytest.approx(reference(x), rel=1e-12, abs=1e-300)
        assert s.grad == pytest.approx(numeric_derivative(reference, x), rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_value_and_derivatives_with_scalars_and_floats_on_either_side(name):
    fn, points = BINARY[name]
    for a, b in points:
        sa, sb = Scalar(a), Scalar(b)
        out = fn(sa, sb)
        out.backward()
        assert out.data == pytest.approx(fn(a, b), rel=1e-12)
        assert sa.grad == pytest.approx(numeric_derivative(lambda x: fn(x, b), a), rel=1e-6)
        assert sb.grad == pytest.approx(numeric_derivative(lambda y: fn(a, y), b), rel=1e-6)
        # a float on the left and on the right gives the same value and the same gradient
        left, right = Scalar(b), Scalar(a)
        out_l, out_r = fn(a, left), fn(right, b)
        out_l.backward()
        out_r.backward()
        assert out_l.data == pytest.approx(fn(a, b)) and out_r.data == pytest.approx(fn(a, b))
        assert left.grad == pytest.approx(sb.grad) and right.grad == pytest.approx(sa.grad)


def test_scalar_exponent_is_differentiable_in_both_arguments():
    a, b = Scalar(2.0), Scalar(3.0)
    (a ** b).backward()
    assert a.grad == pytest.approx(3 * 2.0 ** 2)
    assert b.grad == pytest.approx(8 * math.log(2.0))


def test_numpy_numbers_are_accepted():
    s = Scalar(np.float32(1.5)) * np.float64(2.0)
    assert type(s.data) is float and s.data == 3.0


def test_matches_torch_on_the_course_neuron():
    torch = pytest.importorskip("torch")
    x1, x2, w1, w2, b = 2.0, 0.0, -3.0, 1.0, 6.8813735870195432
    s = [Scalar(v) for v in (x1, x2, w1, w2, b)]
    out = (s[0] * s[2] + s[1] * s[3] + s[4]).tanh()
    out.backward()
    t = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (x1, x2, w1, w2, b)]
    tout = (t[0] * t[2] + t[1] * t[3] + t[4]).tanh()
    tout.backward()
    assert out.data == pytest.approx(tout.item(), rel=1e-12)
    for si, ti in zip(s, t):
        assert si.grad == pytest.approx(ti.grad.item(), rel=1e-10, abs=1e-12)


# ---------------------------------------------------------------------------- Scalar == Tensor
def _tensor_leaky_relu(t, slope):
    return ag.where(t > 0, t, t * slope)


def _tensor_elu(t, alpha):
    return ag.where(t > 0, t, (t.exp() - 1) * alpha)


# unary ops applied to a value guarded into their domain, the same way on both sides
EXPRESSION_UNARY = [
    ("tanh", lambda s: s.tanh(), lambda t: t.tanh()),
    ("sigmoid", lambda s: s.sigmoid(), lambda t: t.sigmoid()),
    ("sin", lambda s: s.sin(), lambda t: t.sin()),
    ("cos", lambda s: s.cos(), lambda t: t.cos()),
    ("neg", lambda s: -s, lambda t: -t),
    ("exp∘tanh", lambda s: s.tanh().exp(), lambda t: t.tanh().exp()),
    ("log(|x|+0.5)", lambda s: (abs(s) + 0.5).log(), lambda t: (t.abs() + 0.5).log()),
    ("sqrt(x²+0.1)", lambda s: (s * s + 0.1).sqrt(), lambda t: (t * t + 0.1).sqrt()),
    ("relu", lambda s: s.relu(), lambda t: t.relu()),
    ("leaky_relu", lambda s: s.leaky_relu(0.2), lambda t: _tensor_leaky_relu(t, 0.2)),
    ("elu", lambda s: s.elu(), lambda t: _tensor_elu(t, 1.0)),
    ("softplus", lambda s: s.softplus(), lambda t: (t.exp() + 1).log()),
]
EXPRESSION_BINARY = [
    ("+", lambda a, b: a + b, lambda a, b: a + b),
    ("-", lambda a, b: a - b, lambda a, b: a - b),
    ("*", lambda a, b: a * b, lambda a, b: a * b),
    ("/", lambda a, b: a / (b * b + 0.5), lambda a, b: a / (b * b + 0.5)),
    ("**", lambda a, b: (a * a + 0.5) ** b.tanh(), lambda a, b: (a * a + 0.5) ** b.tanh()),
    ("2*x-b", lambda a, b: 2.0 * a - b, lambda a, b: 2.0 * a - b),
    ("1/(1+x)", lambda a, b: 1.0 / (1.0 + a * a) + b, lambda a, b: 1.0 / (1.0 + a * a) + b),
]

program = st.lists(
    st.one_of(
        st.tuples(st.just("u"), st.integers(0, len(EXPRESSION_UNARY) - 1), st.integers(0, 99)),
        st.tuples(st.just("b"), st.integers(0, len(EXPRESSION_BINARY) - 1), st.integers(0, 99),
                  st.integers(0, 99))),
    min_size=1, max_size=25)


@given(values=st.lists(st.floats(-2.0, 2.0), min_size=1, max_size=4), steps=program)
def test_scalar_and_tensor_give_the_same_values_and_gradients(values, steps):
    scalars = [Scalar(v) for v in values]
    tensors = [ag.tensor(v, dtype=ag.float64, requires_grad=True) for v in values]
    pool_s, pool_t = list(scalars), list(tensors)
    for step in steps:
        if step[0] == "u":
            _, op, i = step
            _, fs, ft = EXPRESSION_UNARY[op]
            pool_s.append(fs(pool_s[i % len(pool_s)]))
            pool_t.append(ft(pool_t[i % len(pool_t)]))
        else:
            _, op, i, j = step
            _, fs, ft = EXPRESSION_BINARY[op]
            pool_s.append(fs(pool_s[i % len(pool_s)], pool_s[j % len(pool_s)]))
            pool_t.append(ft(pool_t[i % len(pool_t)], pool_t[j % len(pool_t)]))
    out_s, out_t = pool_s[-1], pool_t[-1]
    if not math.isfinite(out_s.data) or abs(out_s.data) > 1e6:
        return
    assert out_s.data == pytest.approx(out_t.item(), rel=1e-9, abs=1e-12)
    if not out_t.requires_grad:
        return
    out_s.backward()
    out_t.backward()
    for s, t in zip(scalars, tensors):
        expected = 0.0 if t.grad is None else t.grad.item()
        assert s.grad == pytest.approx(expected, rel=1e-7, abs=1e-9)


# ---------------------------------------------------------------------------- gradient semantics
def test_shared_subexpression_sums_every_path():
    x = Scalar(2.0)
    y = x * x
    z = y * y + y          # z = x⁴ + x², dz/dx = 4x³ + 2x = 36
    z.backward()
    assert x.grad == pytest.approx(36.0)
    assert y.grad == pytest.approx(2 * 4.0 + 1)   # dz/dy = 2y + 1


def test_same_scalar_twice_in_one_op():
    x = Scalar(3.0)
    (x * x).backward()
    assert x.grad == 6.0
    x.zero_grad()
    (x + x).backward()
    assert x.grad == 2.0


def test_leaves_accumulate_but_interior_gradients_are_recomputed():
    x = Scalar(1.5)
    y = x * 2.0
    z = y * 3.0
    z.backward()
    z.backward()
    assert x.grad == 12.0           # leaves accumulate over backward calls, as in PyTorch
    assert y.grad == 3.0            # an interior gradient is dz/dy, not a running sum
    zero_grad([x])
    assert x.grad == 0.0
    z.backward(gradient=0.5)
    assert x.grad == 3.0


def test_zero_grad_of_a_whole_graph():
    a, b = Scalar(1.0), Scalar(2.0)
    c = (a * b).tanh()
    c.backward()
    c.zero_grad(graph=True)
    assert all(v.grad == 0.0 for v in topological_order([c]))


def test_backward_order_is_the_engines_walk():
    a, b = Scalar(1.0), Scalar(2.0)
    c = a * b
    d = c + a
    seen = []
    ag.engine.backward([d], [1.0], observer=lambda vertex, grad, input_grads: seen.append(vertex))
    assert seen == topological_order([d])
    position = {id(v): i for i, v in enumerate(seen)}
    for v in seen:
        for parent in v.next_edges:
            assert position[id(parent)] > position[id(v)]


def test_edges_and_local_derivatives_are_readable():
    a, b = Scalar(2.0), Scalar(3.0)
    c = a * b
    assert c.next_edges == (a, b) and c.next_edges[0] is a and c.local_grads == (3.0, 2.0)
    t = c.tanh()
    assert t.next_edges == (c,) and t.local_grads == pytest.approx((1 - math.tanh(6.0) ** 2,))
    assert a.next_edges == () and a.local_grads == () and a.is_leaf and not c.is_leaf


def _random_graph(rng, n_leaves=5, n_ops=300, tensors=False):
    """Random ops over earlier vertices: shared subexpressions, repeated inputs (x * x), constants
    (as 0-d float64 Tensors with ``tensors``, the same graph)."""
    values = [rng.uniform(-1, 1) for _ in range(n_leaves)]
    leaves = ([ag.tensor(np.float64(v), requires_grad=True) for v in values] if tensors
              else [Scalar(v, param=True) for v in values])
    pool = list(leaves)
    for _ in range(n_ops):
        x, y = rng.choice(pool), rng.choice(pool[-20:])
        kind = rng.randrange(6)
        out = (x * y if kind == 0 else x + y if kind == 1 else x - 0.5 * y if kind == 2 else
               x.tanh() if kind == 3 else (x * 0.9).sin() if kind == 4 else x * x)
        pool.append(out)
    return leaves, pool


@pytest.mark.parametrize("seed", range(5))
def test_backward_matches_the_same_graph_of_float64_tensors(seed):
    """Scalar.backward against Tensor.backward on the same random graph (0-d float64 tensors), from
    several roots of one graph: vertices that consume part of the graph but are not below the root
    must not hold the walk up."""
    leaves, pool = _random_graph(random.Random(seed))
    t_leaves, t_pool = _random_graph(random.Random(seed), tensors=True)
    for k in (-1, len(pool) // 2, -1, 0):
        zero_grad(leaves)
        pool[k].backward(0.5)
        for t in t_leaves:
            t.grad = None
        t_pool[k].backward(ag.tensor(np.float64(0.5)), retain_graph=True)
        expected = [0.0 if t.grad is None else t.grad.item() for t in t_leaves]
        assert [v.grad for v in leaves] == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_a_failed_backward_leaves_the_graph_usable():
    x, w = Scalar(0.5), Scalar(2.0)
    h = (w * w).tanh()
    y = x * h + h
    x.grad = None  # an invalid gradient: the walk fails before it reaches h
    with pytest.raises(TypeError):
        y.backward()
    x.grad = 0.0
    y.backward()
    assert x.grad == pytest.approx(math.tanh(4.0))
    assert w.grad == pytest.approx((0.5 + 1.0) * (1 - math.tanh(4.0) ** 2) * 2 * 2.0)


def test_deep_chain_of_100000_ops_backprops_without_recursion():
    x = Scalar(0.5)
    y = x
    for _ in range(50_000):
        y = y * 0.9999 + 0.0001
    assert len(topological_order([y])) == 1 + 4 * 50_000   # each step: *, +, and two constants
    y.backward()
    assert x.grad == pytest.approx(0.9999 ** 50_000, rel=1e-9)
    del y  # freeing a deep chain must not overflow the C stack either


def test_deep_chain_of_nonlinear_ops():
    x = Scalar(0.3)
    y = x
    for _ in range(100_000):
        y = y.sin()
    y.backward()
    # d/dx sinⁿ(x) = Π cos(sinᵏ(x)); recompute it in a loop
    value, expected = 0.3, 1.0
    for _ in range(100_000):
        expected *= math.cos(value)
        value = math.sin(value)
    assert y.data == pytest.approx(value) and x.grad == pytest.approx(expected, rel=1e-9)


# ---------------------------------------------------------------------------- comparisons, repr, errors
def test_comparisons_compare_values():
    a, b = Scalar(1.0), Scalar(2.0)
    assert a < b and a <= 1.0 and b > a and b >= 2 and a == 1.0 and a != b and not (a == b)
    assert len({a, Scalar(1.0)}) == 2          # hashed by identity, like tensors
    assert float(b) == 2.0 and bool(Scalar(0.0)) is False


def test_repr_shows_data_grad_label_and_op():
    x = Scalar(2.0, label="x")
    y = x.tanh()
    y.backward()
    assert repr(x) == f"Scalar(data=2, grad={1 - math.tanh(2.0) ** 2:.6g}, label='x')"
    assert repr(y).startswith("Scalar(data=0.96402") and "op='tanh'" in repr(y)
    assert "param=True" in repr(Scalar(1.0, param=True))


def test_clear_errors():
    with pytest.raises(ValueError, match="log"):
        Scalar(0.0).log()
    with pytest.raises(ValueError, match="sqrt"):
        Scalar(-1.0).sqrt()
    with pytest.raises(ZeroDivisionError):
        Scalar(1.0) / 0.0
    with pytest.raises(ValueError, match="negative base"):
        Scalar(-2.0) ** 0.5
    with pytest.raises(TypeError, match=r"Scalar \*: unsupported operand of type str"):
        Scalar(1.0) * "2"
    with pytest.raises(TypeError, match="real number"):
        Scalar("1")


def test_random_mlp_matches_tensor_mlp():
    """A 3-4-1 tanh network in Scalars and in Tensors: same loss, same gradients."""
    rng = random.Random(0)
    W1 = [[rng.uniform(-1, 1) for _ in range(3)] for _ in range(4)]
    b1 = [rng.uniform(-1, 1) for _ in range(4)]
    W2 = [rng.uniform(-1, 1) for _ in range(4)]
    x = [0.5, -1.0, 2.0]
    sW1 = [[Scalar(w) for w in row] for row in W1]
    sb1 = [Scalar(b) for b in b1]
    sW2 = [Scalar(w) for w in W2]
    h = [(sum((w * xi for w, xi in zip(row, x)), b)).tanh() for row, b in zip(sW1, sb1)]
    out = sum((w * hi for w, hi in zip(sW2, h)), Scalar(0.0))
    loss = (out - 1.0) ** 2
    loss.backward()
    tW1 = ag.tensor(W1, dtype=ag.float64, requires_grad=True)
    tb1 = ag.tensor(b1, dtype=ag.float64, requires_grad=True)
    tW2 = ag.tensor(W2, dtype=ag.float64, requires_grad=True)
    th = (tW1 @ ag.tensor(x, dtype=ag.float64) + tb1).tanh()
    tloss = ((tW2 * th).sum() - 1.0) ** 2
    tloss.backward()
    assert loss.data == pytest.approx(tloss.item(), rel=1e-12)
    np.testing.assert_allclose([[w.grad for w in row] for row in sW1], tW1.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose([b.grad for b in sb1], tb1.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose([w.grad for w in sW2], tW2.grad.numpy(), rtol=1e-10)
