"""Forward-mode AD (``autograd.forward_ad``): every op's ``jvp`` rule, checked from the gradcheck table.

For each entry of ``tests/test_ops_gradcheck.py`` and random directions v (one input at a time, then all
together) and u, the tangent ``J v`` pushed forward through dual tensors is compared with

* central finite differences along v, ``(f(x + εv) − f(x − εv)) / 2ε``, in float64;
* the reverse-mode Jacobian: ``⟨u, J v⟩`` against ``⟨Jᵀu, v⟩`` from one backward pass.

It runs both with inputs that do not require grad (the rules see an unrecorded ctx) and with inputs
that do (the rules see the recorded Node), and at second order forward-over-reverse and
reverse-over-forward Hessian-vector products are compared with reverse-over-reverse.
"""
import numpy as np
import pytest

import autograd as ag
import autograd.forward_ad as fwAD
from autograd.function import Function
from test_ops_gradcheck import CASES, SECOND, _grad_fn

F64 = ag.float64


def _outs(result):
    return list(result) if isinstance(result, (tuple, list)) else [result]


def _array(t):
    return np.asarray(t._data, dtype=np.float64)


def _directions(inputs, which, rng):
    return [ag.tensor(rng.standard_normal(x.shape)) if k in which else None for k, x in enumerate(inputs)]


def _forward_tangents(fn, inputs, tangents, requires_grad):
    """The primal outputs and their tangents (zeros where an output has none)."""
    primals = [x.detach().requires_grad_(requires_grad) for x in inputs]
    with fwAD.dual_level():
        duals = [p if t is None else fwAD.make_dual(p, t) for p, t in zip(primals, tangents)]
        outs = _outs(fn(*duals))
        result = []
        for out in outs:
            primal, tangent = fwAD.unpack_dual(out)
            result.append((_array(primal), np.zeros(out.shape) if tangent is None else _array(tangent)))
    return result


def _finite_difference(fn, inputs, tangents, eps):
    def at(sign):
        shifted = [ag.tensor(_array(x) + sign * eps * _array(t)) if t is not None else x.detach()
                   for x, t in zip(inputs, tangents)]
        with ag.no_grad():
            return [_array(o) for o in _outs(fn(*shifted))]
    return [(p - m) / (2 * eps) for p, m in zip(at(1.0), at(-1.0))]


def _reverse_projection(fn, inputs, tangents, rng):
    """(u per output, ⟨Jᵀu, v⟩) with one backward pass."""
    xs = [x.detach().requires_grad_(True) for x in inputs]
    outs = _outs(fn(*xs))
    us = [rng.standard_normal(o.shape) for o in outs]
    total = None
    for o, u in zip(outs, us):
        if o.requires_grad:
            term = (o * ag.tensor(u)).sum()
            total = term if total is None else total + term
    if total is None:
        return us, 0.0
    grads = ag.grad(total, xs, allow_unused=True)
    value = sum(float(np.sum(_array(g) * _array(t))) for g, t in zip(grads, tangents)
                if g is not None and t is not None)
    return us, value


def _check_case(case, requires_grad):
    inputs = case.inputs()
    rng = np.random.default_rng(1234)
    groups = [[k] for k in range(len(inputs))]
    if len(inputs) > 1:
        groups.append(list(range(len(inputs))))
    for which in groups:
        tangents = _directions(inputs, which, rng)
        forward = _forward_tangents(case.fn, inputs, tangents, requires_grad)
        with ag.no_grad():
            expected = [_array(o) for o in _outs(case.fn(*[x.detach() for x in inputs]))]
        for (primal, _), want in zip(forward, expected):
            np.testing.assert_allclose(primal, want, rtol=1e-12, atol=1e-12, err_msg=f"{case.name}: primal changed")
        numeric = _finite_difference(case.fn, inputs, tangents, case.eps)
        for out_number, ((_, tangent), num) in enumerate(zip(forward, numeric)):
            excess = np.abs(tangent - num) - (case.atol + case.rtol * np.abs(num))
            if excess.size and excess.max() > 0:
                i = int(np.argmax(excess))
                raise AssertionError(
                    f"{case.name}: tangent of output {out_number} along inputs {which} differs from finite "
                    f"differences at flat index {i}: forward {tangent.reshape(-1)[i]!r}, numerical "
                    f"{num.reshape(-1)[i]!r}")
        us, reverse = _reverse_projection(case.fn, inputs, tangents, rng)
        projected = sum(float(np.sum(u * t)) for u, (_, t) in zip(us, forward))
        tolerance = 1e-8 if case.eps <= 1e-6 else 1e-6  # (the float32 round trips round both ways)
        assert abs(projected - reverse) <= tolerance * (1 + abs(reverse)), \
            f"{case.name}: <u, J v> = {projected!r} forward but {reverse!r} from the reverse-mode Jacobian"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_jvp_rule_matches_finite_differences_and_reverse_mode(case):
    _check_case(case, requires_grad=False)


RECORDED = CASES[::3]  # every op family again with recorded inputs (the rules then read a graph Node)


@pytest.mark.parametrize("case", RECORDED, ids=[c.name for c in RECORDED])
def test_jvp_rule_with_inputs_that_require_grad(case):
    _check_case(case, requires_grad=True)


SECOND_SAMPLE = SECOND[::4]


def _hvp_reverse(case, inputs, vs):
    """H v by reverse over reverse: d/dx ⟨∇(Σ w⊙f), v⟩."""
    xs = [x.detach().requires_grad_(True) for x in inputs]
    grads = _grad_fn(case.fn)(*xs)
    total = None
    for g, v in zip(grads, vs):
        if g is not None and g.requires_grad:
            term = (g * v).sum()
            total = term if total is None else total + term
    if total is None:
        return [np.zeros(x.shape) for x in inputs]
    return [np.zeros(x.shape) if h is None else _array(h) for x, h in zip(xs, ag.grad(total, xs, allow_unused=True))]


@pytest.mark.parametrize("case", SECOND_SAMPLE, ids=[c.name for c in SECOND_SAMPLE])
def test_forward_over_reverse_hessian_vector_product(case):
    """The jvp rules of the backward formulas: the tangent of ∇(Σ w⊙f) along v is H v."""
    inputs = case.inputs()
    rng = np.random.default_rng(7)
    vs = [ag.tensor(rng.standard_normal(x.shape)) for x in inputs]
    expected = _hvp_reverse(case, inputs, vs)
    with fwAD.dual_level():
        xs = [fwAD.make_dual(x.detach().requires_grad_(True), v) for x, v in zip(inputs, vs)]
        grads = _grad_fn(case.fn)(*xs)
        got = []
        for g, x in zip(grads, inputs):
            tangent = None if g is None else fwAD.unpack_dual(g).tangent
            got.append(np.zeros(x.shape) if tangent is None else _array(tangent))
    for k, (h, want) in enumerate(zip(got, expected)):
        np.testing.assert_allclose(h, want, rtol=1e-7, atol=1e-9, err_msg=f"{case.name}: input {k}")


@pytest.mark.parametrize("case", SECOND_SAMPLE, ids=[c.name for c in SECOND_SAMPLE])
def test_reverse_over_forward_hessian_vector_product(case):
    """Reverse mode through the tangents: d/dx ⟨w, J(x) v⟩ = H v as well."""
    from conftest import weighted_sum
    inputs = case.inputs()
    rng = np.random.default_rng(7)
    vs = [ag.tensor(rng.standard_normal(x.shape)) for x in inputs]
    expected = _hvp_reverse(case, inputs, vs)
    xs = [x.detach().requires_grad_(True) for x in inputs]
    with fwAD.dual_level():
        duals = [fwAD.make_dual(x, v) for x, v in zip(xs, vs)]
        outs = _outs(case.fn(*duals))
        tangents = [fwAD.unpack_dual(o).tangent for o in outs]
        tangents = [ag.zeros(o.shape, dtype=F64) if t is None else t for o, t in zip(outs, tangents)]
        total = weighted_sum(tuple(tangents) if len(tangents) > 1 else tangents[0])
    if not total.requires_grad:
        got = [np.zeros(x.shape) for x in inputs]
    else:
        got = [np.zeros(x.shape) if h is None else _array(h) for x, h in zip(xs, ag.grad(total, xs, allow_unused=True))]
    for k, (h, want) in enumerate(zip(got, expected)):
        np.testing.assert_allclose(h, want, rtol=1e-7, atol=1e-9, err_msg=f"{case.name}: input {k}")


# --------------------------------------------------------------------------- every op has a rule
def _all_subclasses(cls):
    out = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_all_subclasses(sub))
    return out


def test_every_differentiable_function_has_a_jvp_rule():
    import autograd.ops  # noqa: F401  (the op modules define the Function subclasses)
    import importlib
    import pkgutil
    for module in pkgutil.iter_modules(autograd.ops.__path__):
        importlib.import_module(f"autograd.ops.{module.name}")
    missing = sorted({f"{c.__module__}.{c.__qualname__}" for c in _all_subclasses(Function)
                      if c.differentiable and c.__module__.startswith("autograd.")
                      and getattr(c, "jvp", None) is None})
    assert not missing, f"differentiable ops without a forward-mode rule (jvp): {missing}"


# --------------------------------------------------------------------------- the API (torch's semantics)
def test_make_dual_and_unpack_dual():
    x = ag.tensor(np.array([1.0, 2.0, 3.0]))
    v = ag.tensor(np.array([1.0, 0.0, -1.0]))
    with fwAD.dual_level():
        dual = fwAD.make_dual(x, v)
        primal, tangent = fwAD.unpack_dual(dual)
        assert tangent is v
        np.testing.assert_array_equal(primal.numpy(), x.numpy())
        assert fwAD.unpack_dual(primal).tangent is None
        y = (dual * dual).sin()
        unpacked = fwAD.unpack_dual(y)
        assert unpacked.primal is not None and unpacked._fields == ("primal", "tangent")
        np.testing.assert_allclose(unpacked.tangent.numpy(), np.cos(x.numpy() ** 2) * 2 * x.numpy() * v.numpy())
    # leaving the level drops the tangents, as in torch
    assert fwAD.unpack_dual(y).tangent is None and y._fw_tangents is None


def test_a_tensor_without_a_tangent_is_a_constant():
    x = ag.tensor(np.array([1.0, 2.0]))
    c = ag.tensor(np.array([3.0, 4.0]))
    with fwAD.dual_level():
        y = fwAD.make_dual(x, ag.ones_like(x)) * c + c
        np.testing.assert_array_equal(fwAD.unpack_dual(y).tangent.numpy(), [3.0, 4.0])
        assert fwAD.unpack_dual(c * c).tangent is None


def test_unpack_dual_outside_a_level_and_make_dual_errors():
    x = ag.tensor(np.array([1.0]))
    assert fwAD.unpack_dual(x) == (x, None)
    with pytest.raises(RuntimeError, match="make_dual.*dual_level"):
        fwAD.make_dual(x, x)
    with fwAD.dual_level():
        with pytest.raises(ValueError, match="make_dual.*shape"):
            fwAD.make_dual(x, ag.tensor(np.array([1.0, 2.0])))
        with pytest.raises(ValueError, match="make_dual.*dtype"):
            fwAD.make_dual(x, ag.tensor([1.0]))  # float32 tangent for a float64 primal
        with pytest.raises(TypeError, match="make_dual"):
            fwAD.make_dual(x, 1.0)


def test_the_primal_keeps_reverse_mode_gradients():
    x = ag.tensor(np.array([1.0, 2.0]), requires_grad=True)
    with fwAD.dual_level():
        y = fwAD.make_dual(x, ag.tensor(np.array([1.0, 1.0]))) ** 3
        y.sum().backward()
        np.testing.assert_allclose(fwAD.unpack_dual(y).tangent.detach().numpy(), 3 * x.detach().numpy() ** 2)
    np.testing.assert_allclose(x.grad.numpy(), 3 * x.detach().numpy() ** 2)


def test_nested_levels_give_second_derivatives():
    """Forward over forward: the inner tangent of f(x) = x³ carries its own outer tangent 6x."""
    x = ag.tensor(np.array([0.5, -2.0]))
    one = ag.ones_like(x)
    with fwAD.dual_level() as outer:
        x_outer = fwAD.make_dual(x, one, level=outer)
        with fwAD.dual_level() as inner:
            x_both = fwAD.make_dual(x_outer, one, level=inner)
            y = x_both ** 3
            inner_tangent = fwAD.unpack_dual(y, level=inner).tangent
            np.testing.assert_allclose(inner_tangent.numpy(), 3 * x.numpy() ** 2)
            np.testing.assert_allclose(fwAD.unpack_dual(y, level=outer).tangent.numpy(), 3 * x.numpy() ** 2)
        second = fwAD.unpack_dual(inner_tangent, level=outer).tangent
        np.testing.assert_allclose(second.numpy(), 6 * x.numpy())
    with pytest.raises(RuntimeError, match="not an active"):
        fwAD.unpack_dual(x, level=inner)


def test_in_place_ops_move_the_tangent():
    x = ag.tensor(np.array([1.0, 2.0]))
    with fwAD.dual_level():
        y = fwAD.make_dual(x, ag.tensor(np.array([1.0, 1.0]))) * 1.0
        y.mul_(3.0)
        y += y
        y[0] = 5.0  # an element overwritten by a constant: its tangent is 0
        np.testing.assert_allclose(fwAD.unpack_dual(y).tangent.numpy(), [0.0, 6.0])
        np.testing.assert_allclose(y.numpy(), [5.0, 12.0])


def test_the_mlp_jvp_matches_finite_differences():
    """nn layers go through the ops (including the fused Linear+ReLU): no path skips the rules."""
    import nn
    ag.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3), nn.Tanh()).to(F64)
    x = ag.tensor(np.random.default_rng(0).standard_normal((4, 5)))
    v = ag.tensor(np.random.default_rng(1).standard_normal((4, 5)))
    with fwAD.dual_level():
        tangent = fwAD.unpack_dual(model(fwAD.make_dual(x, v))).tangent.detach().numpy()
    eps = 1e-6
    with ag.no_grad():
        numeric = (model(x + v * eps).detach().numpy() - model(x - v * eps).detach().numpy()) / (2 * eps)
    np.testing.assert_allclose(tangent, numeric, rtol=1e-6, atol=1e-8)


# --------------------------------------------------------------------------- Scalar dual numbers
SCALAR_OPS = [
    ("add", lambda x, c: x + c + 2.0), ("radd", lambda x, c: 2.0 + x), ("sub", lambda x, c: x - c * x),
    ("rsub", lambda x, c: 1.5 - x), ("mul", lambda x, c: x * c * x), ("rmul", lambda x, c: 3.0 * x),
    ("div", lambda x, c: x / (c + 3.0)), ("rdiv", lambda x, c: 2.0 / x), ("pow", lambda x, c: x ** 3),
    ("pow scalar exponent", lambda x, c: x ** (c * 0.5)), ("rpow", lambda x, c: 2.0 ** x),
    ("neg", lambda x, c: -x), ("abs", lambda x, c: abs(x - 5.0)), ("exp", lambda x, c: x.exp()),
    ("log", lambda x, c: x.log()), ("sqrt", lambda x, c: x.sqrt()), ("sin", lambda x, c: x.sin()),
    ("cos", lambda x, c: x.cos()), ("tanh", lambda x, c: (x * c).tanh()), ("sigmoid", lambda x, c: x.sigmoid()),
    ("relu", lambda x, c: (x - 1.0).relu() + (x - 9.0).relu()), ("leaky_relu", lambda x, c: (-x).leaky_relu(0.1)),
    ("elu", lambda x, c: (-x).elu(0.5)), ("softplus", lambda x, c: (x * c).softplus()),
]


@pytest.mark.parametrize("name,f", SCALAR_OPS, ids=[n for n, _ in SCALAR_OPS])
def test_scalar_dual_numbers_give_the_derivative(name, f):
    x0, eps = 1.3, 1e-6
    c = ag.Scalar(0.7)
    y = f(ag.Scalar(x0, tangent=1.0), c)
    numeric = (f(ag.Scalar(x0 + eps), c).data - f(ag.Scalar(x0 - eps), c).data) / (2 * eps)
    assert y.tangent is not None
    assert abs(y.tangent - numeric) <= 1e-6 * (1 + abs(numeric)), (name, y.tangent, numeric)
    assert f(ag.Scalar(x0), c).tangent is None  # no tangent anywhere upstream: a plain Scalar


def test_scalar_dual_numbers_agree_with_backward_on_a_neuron():
    """The directional derivative along (ẋ, ẇ) equals ∇y · (ẋ, ẇ) from the backward pass."""
    x, w, b = ag.Scalar(0.5, tangent=0.3), ag.Scalar(-1.2, tangent=-2.0), ag.Scalar(0.1)
    y = (x * w + b).tanh()
    y.backward()
    assert abs(y.tangent - (x.grad * 0.3 + w.grad * -2.0)) < 1e-12
    assert "tangent=" in repr(y)


def test_draw_graph_shows_scalar_tangents():
    pytest.importorskip("graphviz")
    x = ag.Scalar(2.0, label="x", tangent=1.0)
    y = (x * x).tanh()
    source = ag.draw_graph(y).source
    assert "tangent 1" in source and "tangent 4" in source  # x's, and x·x's (2·x·ẋ)
    assert "tangent" not in ag.draw_graph((ag.Scalar(2.0) * 3.0).exp()).source
