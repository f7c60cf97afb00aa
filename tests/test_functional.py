"""autograd.functional (vjp, jvp, jacobian, hessian, hvp, vhp): values against hand formulas and finite
differences, PyTorch's shape and tuple conventions (against torch.autograd.functional when installed),
create_graph, strict, and bad input."""
import numpy as np
import pytest

import autograd as ag
from autograd import functional as AF

F64 = ag.float64
rng = np.random.default_rng(0)
X = rng.standard_normal(3)
Y = rng.standard_normal((2, 3))
V3 = rng.standard_normal(3)


def T(a, requires_grad=False):
    return ag.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def cubic(x):
    return (x ** 3).sum()


def two_in_two_out(x, y):
    return (y @ x).exp(), (x * x).sum() + y.sin().sum()


def test_jacobian_of_an_elementwise_map_is_diagonal():
    j = AF.jacobian(lambda x: x ** 2, T(X))
    np.testing.assert_allclose(j.numpy(), np.diag(2 * X))
    assert not j.requires_grad


@pytest.mark.parametrize("strategy", ["reverse-mode", "forward-mode"])
def test_jacobian_shapes_and_nesting(strategy):
    x, y = T(X), T(Y)
    jac = AF.jacobian(two_in_two_out, (x, y), strategy=strategy)
    assert isinstance(jac, tuple) and len(jac) == 2 and all(isinstance(row, tuple) and len(row) == 2 for row in jac)
    assert jac[0][0].shape == (2, 3) and jac[0][1].shape == (2, 2, 3)
    assert jac[1][0].shape == (3,) and jac[1][1].shape == (2, 3)
    e = np.exp(Y @ X)
    np.testing.assert_allclose(jac[0][0].numpy(), e[:, None] * Y)
    np.testing.assert_allclose(jac[1][0].numpy(), 2 * X)
    np.testing.assert_allclose(jac[1][1].numpy(), np.cos(Y))
    expected = np.zeros((2, 2, 3))
    for i in range(2):
        expected[i, i] = e[i] * X
    np.testing.assert_allclose(jac[0][1].numpy(), expected)


def test_forward_and_reverse_jacobians_agree_on_a_matrix_function():
    w = T(rng.standard_normal((4, 3)))
    f = lambda m: (m @ w.T).tanh()  # noqa: E731  (2,3) -> (2,4)
    rev = AF.jacobian(f, T(Y))
    fwd = AF.jacobian(f, T(Y), strategy="forward-mode")
    assert rev.shape == (2, 4, 2, 3)
    np.testing.assert_allclose(fwd.numpy(), rev.numpy(), rtol=1e-12, atol=1e-14)


def test_hessian_of_a_cubic_and_of_two_inputs():
    h = AF.hessian(cubic, T(X))
    np.testing.assert_allclose(h.numpy(), np.diag(6 * X))
    f = lambda x, y: (x * x).sum() * (y ** 2).sum()  # noqa: E731
    y = rng.standard_normal(2)
    hh = AF.hessian(f, (T(X), T(y)))
    np.testing.assert_allclose(hh[0][0].numpy(), 2 * np.sum(y ** 2) * np.eye(3))
    np.testing.assert_allclose(hh[0][1].numpy(), 4 * np.outer(X, y))
    np.testing.assert_allclose(hh[1][0].numpy(), 4 * np.outer(y, X))
    np.testing.assert_allclose(hh[1][1].numpy(), 2 * np.sum(X ** 2) * np.eye(2))
    forward = AF.hessian(f, (T(X), T(y)), outer_jacobian_strategy="forward-mode")
    for i in range(2):
        for j in range(2):
            np.testing.assert_allclose(forward[i][j].numpy(), hh[i][j].numpy(), rtol=1e-12)


def test_vjp_jvp_hvp_vhp_values():
    x, v = T(X), T(V3)
    out, g = AF.vjp(cubic, x)
    np.testing.assert_allclose(out.numpy(), np.sum(X ** 3))
    np.testing.assert_allclose(g.numpy(), 3 * X ** 2)
    out, t = AF.jvp(lambda x: x.sin() * 2.0, x, v)
    np.testing.assert_allclose(out.numpy(), 2 * np.sin(X))
    np.testing.assert_allclose(t.numpy(), 2 * np.cos(X) * V3)
    for product in (AF.hvp, AF.vhp):
        out, hv = product(cubic, x, v)
        np.testing.assert_allclose(out.numpy(), np.sum(X ** 3))
        np.testing.assert_allclose(hv.numpy(), 6 * X * V3)


def test_jvp_is_one_forward_pass_with_dual_numbers():
    calls = []

    def f(x):
        calls.append(1)
        return (x * x).sum(0)
    AF.jvp(f, T(Y), T(np.ones((2, 3))))
    assert len(calls) == 1


def test_create_graph_keeps_the_results_differentiable():
    x = T(X, requires_grad=True)
    _, g = AF.vjp(cubic, x, create_graph=True)
    assert g.requires_grad
    (second,) = ag.grad(g.sum(), x)
    np.testing.assert_allclose(second.numpy(), 6 * X)
    _, t = AF.jvp(lambda z: z ** 3, x, T(V3), create_graph=True)
    (d,) = ag.grad(t.sum(), x)
    np.testing.assert_allclose(d.numpy(), 6 * X * V3)
    h = AF.hessian(cubic, x, create_graph=True)
    (d3,) = ag.grad(h.sum(), x)
    np.testing.assert_allclose(d3.numpy(), 6 * np.ones(3))
    _, hv = AF.hvp(cubic, x, T(V3), create_graph=True)
    (d,) = ag.grad(hv.sum(), x)
    np.testing.assert_allclose(d.numpy(), 6 * V3)


def test_strict_raises_for_an_independent_input_and_zeros_otherwise():
    f = lambda x, y: x * 2.0  # noqa: E731
    x, y = T(X), T(X)
    _, (gx, gy) = AF.vjp(f, (x, y), (T(np.ones(3)),))
    np.testing.assert_allclose(gy.numpy(), 0.0)
    with pytest.raises(RuntimeError, match="independent of input 1"):
        AF.vjp(f, (x, y), (T(np.ones(3)),), strict=True)
    jac = AF.jacobian(f, (x, y))
    np.testing.assert_allclose(jac[1].numpy(), 0.0)
    with pytest.raises(RuntimeError, match="strict"):
        AF.jacobian(lambda x: T(np.ones(2)), x, strict=True)
    with pytest.raises(RuntimeError, match="strict"):
        AF.jvp(lambda x: T(np.ones(2)), x, T(V3), strict=True)


def test_bad_input_is_named():
    with pytest.raises(RuntimeError, match="vjp: v can only be omitted"):
        AF.vjp(lambda x: x * 2.0, T(X))
    with pytest.raises(RuntimeError, match="jvp: entry 0 of v has shape"):
        AF.jvp(lambda x: x, T(X), T(np.ones(2)))
    with pytest.raises(TypeError, match="jacobian: the inputs must be a Tensor"):
        AF.jacobian(lambda x: x, [1.0, 2.0])
    with pytest.raises(RuntimeError, match="hessian: the function given to hessian must return a single"):
        AF.hessian(lambda x: x * 2.0, T(X))
    with pytest.raises(TypeError, match="jacobian: the user-provided function must return"):
        AF.jacobian(lambda x: 3.0, T(X))
    with pytest.raises(ValueError, match="strategy"):
        AF.jacobian(lambda x: x, T(X), strategy="sideways")


# ------------------------------------------------------------------------------ against PyTorch
def _torch_fn(f):
    def g(*xs):
        import torch
        return f(torch, *xs)
    return g


def _ag_fn(f):
    class Lib:
        exp, sin, tanh = staticmethod(ag.exp), staticmethod(ag.sin), staticmethod(ag.tanh)
    return lambda *xs: f(Lib, *xs)


PAIRS = [
    ("single", lambda lib, x: lib.tanh(x) * x, (X,)),
    ("matrix", lambda lib, y: lib.exp(y).sum(0) * y[0], (Y,)),
    ("tuple", lambda lib, x, y: (lib.sin(y @ x), (x * x).sum() * y), (X, Y)),
]


def _compare(ours, theirs):
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _compare(a, b)
        return
    assert isinstance(ours, ag.Tensor) and tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name,f,arrays", PAIRS, ids=[p[0] for p in PAIRS])
def test_against_torch_autograd_functional(name, f, arrays):
    torch = pytest.importorskip("torch")
    tf = torch.autograd.functional
    ours_in = tuple(T(a) for a in arrays)
    theirs_in = tuple(torch.tensor(a) for a in arrays)
    ours_in1 = ours_in if len(arrays) > 1 else ours_in[0]
    theirs_in1 = theirs_in if len(arrays) > 1 else theirs_in[0]
    _compare(AF.jacobian(_ag_fn(f), ours_in1), tf.jacobian(_torch_fn(f), theirs_in1))
    outs = _torch_fn(f)(*theirs_in)
    outs_t = outs if isinstance(outs, tuple) else (outs,)
    v_out = tuple(rng.standard_normal(tuple(o.shape)) for o in outs_t)
    v_in = tuple(rng.standard_normal(a.shape) for a in arrays)

    def pack(values, make, single):
        values = tuple(make(v) for v in values)
        return values[0] if single else values
    single_out = not isinstance(outs, tuple)
    single_in = len(arrays) == 1
    _compare(AF.vjp(_ag_fn(f), ours_in1, pack(v_out, T, single_out)),
             tf.vjp(_torch_fn(f), theirs_in1, pack(v_out, torch.tensor, single_out)))
    _compare(AF.jvp(_ag_fn(f), ours_in1, pack(v_in, T, single_in)),
             tf.jvp(_torch_fn(f), theirs_in1, pack(v_in, torch.tensor, single_in)))

    def scalar(lib, *xs):
        out = f(lib, *xs)
        out = out if isinstance(out, tuple) else (out,)
        total = None
        for o in out:
            term = (o * o).sum()
            total = term if total is None else total + term
        return total
    _compare(AF.hessian(_ag_fn(scalar), ours_in1), tf.hessian(_torch_fn(scalar), theirs_in1))
    _compare(AF.hvp(_ag_fn(scalar), ours_in1, pack(v_in, T, single_in)),
             tf.hvp(_torch_fn(scalar), theirs_in1, pack(v_in, torch.tensor, single_in)))
    _compare(AF.vhp(_ag_fn(scalar), ours_in1, pack(v_in, T, single_in)),
             tf.vhp(_torch_fn(scalar), theirs_in1, pack(v_in, torch.tensor, single_in)))


def test_jvp_of_a_function_that_takes_a_gradient_inside():
    """The function runs in the caller's grad mode, so one that calls autograd.grad itself works
    (the tangent of a gradient is a Hessian-vector product: forward over reverse)."""
    def gradient(x):
        x = x if x.requires_grad else x.requires_grad_(True)
        (g,) = ag.grad((x ** 3).sum(), x, create_graph=True)
        return g
    _, hv = AF.jvp(gradient, T(X), T(V3))
    np.testing.assert_allclose(hv.numpy(), 6 * X * V3)
