"""The in-place ops the optimizers are built from: addcmul_, addcdiv_, lerp_, add_(alpha=...) (values
against numpy formulas; gradcheck where differentiable); their foreach forms (autograd.foreach_*: the
same bits as the single-tensor op on each tensor); and SGD / Adam / AdamW written with them, equal to
the per-parameter form of the same rule (foreach=False) for every option."""
import itertools

import numpy as np
import pytest

import autograd as ag
import optim

DTYPES = [np.float32, np.float64]


def _arrays(rng, shape, dtype, n=3):
    return [rng.standard_normal(shape).astype(dtype) for _ in range(n)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (7,), (3, 5), (2, 3, 4)])
def test_addcmul_addcdiv_lerp_values(dtype, shape):
    rng = np.random.default_rng(0)
    x, a, b = _arrays(rng, shape, dtype)
    b = np.abs(b) + dtype(0.5)
    tol = dict(rtol=1e-6 if dtype == np.float32 else 1e-14, atol=0)
    t = ag.tensor(x.copy())
    version = t.version
    assert t.addcmul_(ag.tensor(a), ag.tensor(b), value=-0.5) is t
    np.testing.assert_allclose(t.numpy(), x + dtype(-0.5) * a * b, **tol)
    assert t.version == version + 1 and t.dtype == dtype
    t = ag.tensor(x.copy()).addcdiv_(ag.tensor(a), ag.tensor(b), value=2)
    np.testing.assert_allclose(t.numpy(), x + dtype(2) * a / b, **tol)
    for w in (0.0, 0.3, 0.5, 0.9, 1.0):
        t = ag.tensor(x.copy()).lerp_(ag.tensor(a), w)
        np.testing.assert_allclose(t.numpy(), x + dtype(w) * (a - x), rtol=tol["rtol"], atol=1e-6)
    np.testing.assert_array_equal(ag.tensor(x.copy()).lerp_(ag.tensor(a), 1.0).numpy(), a)  # exact ends
    np.testing.assert_array_equal(ag.tensor(x.copy()).lerp_(ag.tensor(a), 0.0).numpy(), x)
    t = ag.tensor(x.copy()).add_(ag.tensor(a), alpha=-0.25)
    np.testing.assert_allclose(t.numpy(), x - dtype(0.25) * a, **tol)


def test_fused_ops_on_non_contiguous_and_broadcast_operands():
    rng = np.random.default_rng(1)
    base = rng.standard_normal((4, 6))
    t = ag.tensor(base.copy()).T  # a non-contiguous view
    a = rng.standard_normal((6, 4))
    t.addcmul_(ag.tensor(a), ag.tensor(a))
    np.testing.assert_allclose(t.numpy(), base.T + a * a, rtol=1e-14)
    row = rng.standard_normal(4)  # broadcast operand: the general (out-of-place) path
    s = ag.tensor(a.copy()).addcdiv_(ag.tensor(row), ag.tensor(np.abs(row) + 1), value=0.5)
    np.testing.assert_allclose(s.numpy(), a + 0.5 * row / (np.abs(row) + 1), rtol=1e-14)
    s = ag.tensor(a.copy()).lerp_(ag.tensor(row), ag.tensor(0.25, dtype=ag.float64))  # tensor weight
    np.testing.assert_allclose(s.numpy(), a + 0.25 * (row - a), rtol=1e-14)
    s = ag.tensor(a.copy()).add_(ag.tensor(row), alpha=3)
    np.testing.assert_allclose(s.numpy(), a + 3 * row, rtol=1e-14)


def test_fused_ops_gradcheck_when_recording():
    rng = np.random.default_rng(2)
    x, a, b = (ag.tensor(v, requires_grad=True) for v in _arrays(rng, (3, 4), np.float64))
    c = ag.tensor(np.abs(rng.standard_normal((3, 4))) + 1, requires_grad=True)
    assert ag.gradcheck(lambda x, a, b: x.clone().addcmul_(a, b, value=0.7), [x, a, b])
    assert ag.gradcheck(lambda x, a, c: x.clone().addcdiv_(a, c, value=-1.3), [x, a, c])
    assert ag.gradcheck(lambda x, a: x.clone().lerp_(a, 0.3), [x, a])
    assert ag.gradcheck(lambda x, a: x.clone().lerp_(a, 0.8), [x, a])
    assert ag.gradcheck(lambda x, a: x.clone().add_(a, alpha=-2.5), [x, a])
    y = x.clone().addcmul_(a, b)
    assert y.grad_fn is not None


def test_fused_ops_refuse_leaf_requiring_grad_outside_no_grad():
    w = ag.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="addcmul_.*leaf"):
        w.addcmul_(ag.tensor([1.0, 1.0]), ag.tensor([1.0, 1.0]))
    with ag.no_grad():
        w.addcmul_(ag.tensor([1.0, 1.0]), ag.tensor([2.0, 2.0]))
    np.testing.assert_allclose(w.detach().numpy(), [3.0, 4.0])


# ---------------------------------------------------------------------------- foreach ops
def _mixed_lists(seed, count=3):
    """``count`` lists of tensors shaped alike: float32 tensors of several shapes (one large enough for
    numpy's BLAS axpy, one 0-d), a float64 one, and a non-contiguous view (the single-tensor path)."""
    rng = np.random.default_rng(seed)
    shapes = [(4, 3), (5,), (), (130, 130)]
    lists = []
    for _ in range(count):
        tensors = [ag.tensor(rng.standard_normal(s).astype(np.float32)) for s in shapes]
        tensors.append(ag.tensor(rng.standard_normal((3, 4))))
        tensors.append(ag.tensor(rng.standard_normal((4, 6)).astype(np.float32)).t())
        lists.append(tensors)
    return lists


def _positive(tensors):
    return [t.abs() + 0.5 for t in tensors]


def _copy(tensors):
    return [t.clone() for t in tensors]


# (foreach op, the same update written per tensor with the single-tensor op, how many operand lists)
IN_PLACE = [
    ("add_ tensors", lambda ts, a, b: ag.foreach_add_(ts, a, alpha=-0.3), lambda t, a, b: t.add_(a, alpha=-0.3)),
    ("add_ alphas", lambda ts, a, b: ag.foreach_add_(ts, a, alpha=[0.5 * i for i in range(len(ts))]),
     None),
    ("add_ scalar", lambda ts, a, b: ag.foreach_add_(ts, 0.25), lambda t, a, b: t.add_(0.25)),
    ("mul_ scalar", lambda ts, a, b: ag.foreach_mul_(ts, 0.9), lambda t, a, b: t.mul_(0.9)),
    ("mul_ tensors", lambda ts, a, b: ag.foreach_mul_(ts, a), lambda t, a, b: t.mul_(a)),
    ("div_ scalars", lambda ts, a, b: ag.foreach_div_(ts, [1.5 + i for i in range(len(ts))]), None),
    ("div_ tensors", lambda ts, a, b: ag.foreach_div_(ts, _positive(a)), None),
    ("lerp_ 0.1", lambda ts, a, b: ag.foreach_lerp_(ts, a, 0.1), lambda t, a, b: t.lerp_(a, 0.1)),
    ("lerp_ 0.9", lambda ts, a, b: ag.foreach_lerp_(ts, a, 0.9), lambda t, a, b: t.lerp_(a, 0.9)),
    ("addcmul_", lambda ts, a, b: ag.foreach_addcmul_(ts, a, b, value=-0.2),
     lambda t, a, b: t.addcmul_(a, b, value=-0.2)),
    ("addcdiv_", lambda ts, a, b: ag.foreach_addcdiv_(ts, a, _positive(b), value=0.7), None),
    ("maximum_", lambda ts, a, b: ag.foreach_maximum_(ts, a), lambda t, a, b: t.copy_(ag.maximum(t, a))),
    ("sqrt_", lambda ts, a, b: ag.foreach_sqrt_(_positive_in_place(ts)), None),
]


def _positive_in_place(tensors):
    for t in tensors:
        t.copy_(t.abs())
    return tensors


PER_TENSOR = {  # the per-tensor forms of the rows above that need the list index or a prepared operand
    "add_ alphas": lambda i, t, a, b: t.add_(a, alpha=0.5 * i),
    "div_ scalars": lambda i, t, a, b: t.div_(1.5 + i),
    "div_ tensors": lambda i, t, a, b: t.div_(a.abs() + 0.5),
    "addcdiv_": lambda i, t, a, b: t.addcdiv_(a, b.abs() + 0.5, value=0.7),
    "sqrt_": lambda i, t, a, b: t.copy_(t.abs().sqrt()),
}


@pytest.mark.parametrize("name,foreach,single", IN_PLACE, ids=[row[0] for row in IN_PLACE])
def test_foreach_in_place_ops_equal_the_single_tensor_op_on_each_tensor(name, foreach, single):
    targets, first, second = _mixed_lists(4)
    expected = _copy(targets)
    versions = [t.version for t in targets]
    with ag.no_grad():
        assert foreach(targets, first, second) is None
        for i, (t, a, b) in enumerate(zip(expected, first, second)):
            PER_TENSOR[name](i, t, a, b) if single is None else single(t, a, b)
    for got, want in zip(targets, expected):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert all(t.version > v for t, v in zip(targets, versions))


def test_foreach_out_of_place_ops_return_new_tensors():
    tensors, others, _ = _mixed_lists(5)
    before = _copy(tensors)
    for got, want in [(ag.foreach_add(tensors, others, alpha=2.0), [t.add(o, alpha=2.0) for t, o in zip(tensors, others)]),
                      (ag.foreach_add(tensors, 1.5), [t + 1.5 for t in tensors]),
                      (ag.foreach_mul(tensors, others), [t * o for t, o in zip(tensors, others)]),
                      (ag.foreach_div(tensors, [2.0] * len(tensors)), [t / 2.0 for t in tensors]),
                      (ag.foreach_neg(tensors), [-t for t in tensors]),
                      (ag.foreach_sqrt(_positive(tensors)), [t.sqrt() for t in _positive(tensors)])]:
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g.numpy(), w.numpy())
    for t, b in zip(tensors, before):  # inputs untouched
        np.testing.assert_array_equal(t.numpy(), b.numpy())


def test_foreach_ops_record_when_the_graph_needs_them():
    """Outside no_grad on tensors that require grad, each element goes through the recorded op (like
    the single-tensor op): a leaf is refused, and a non-leaf gets a gradient through the update."""
    leaf = ag.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="add_.*leaf"):
        ag.foreach_add_([leaf], [ag.ones(3)], alpha=0.5)
    x = ag.tensor([1.0, 2.0, 3.0], dtype=ag.float64, requires_grad=True)
    y = x * 1.0
    ag.foreach_addcmul_([y], [x], [x], value=0.5)  # y = x + 0.5·x², dy/dx = 1 + x
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 3.0, 4.0])
    with ag.no_grad():
        ag.foreach_add_([leaf], [ag.ones(3)], alpha=0.5)
    np.testing.assert_array_equal(leaf.detach().numpy(), 1.5)


def test_foreach_errors_name_the_op_and_the_lengths():
    a, b = ag.ones(3), ag.ones(3)
    with pytest.raises(ValueError, match="foreach_add_: expected one operand per tensor, got 2 tensors and 1"):
        ag.foreach_add_([a, b], [a], alpha=2)
    with pytest.raises(ValueError, match="foreach_lerp_: expected one weight per tensor, got 1 tensors and 2"):
        ag.foreach_lerp_([a], [b], [0.1, 0.2])
    with pytest.raises(ValueError, match="foreach_addcdiv_: expected one value per tensor"):
        ag.foreach_addcdiv_([a], [a], [b], value=[1.0, 2.0])
    with pytest.raises(TypeError, match="foreach_mul_: expected a list of tensors, got Tensor"):
        ag.foreach_mul_(a, 2.0)
    with pytest.raises(TypeError, match="foreach_add_: alpha goes with a list of tensors"):
        ag.foreach_add_([a], 1.0, alpha=2)
    with pytest.raises(TypeError, match="foreach_addcmul_: tensors1 and tensors2 must be lists of tensors"):
        ag.foreach_addcmul_([a], 1.0, [b])
    with pytest.raises(TypeError, match="foreach_lerp_: weight must be a number or a list of numbers"):
        ag.foreach_lerp_([a], [b], ag.tensor(0.5))
    with pytest.raises(RuntimeError, match="add_: output with shape"), ag.no_grad():
        ag.foreach_add_([a], [ag.ones(2, 3)], alpha=2)  # not broadcastable to the target: the op says so


def test_foreach_add_on_large_tensors_rounds_like_axpy():
    """A tensor large enough for numpy's BLAS axpy (autograd/blas.py): p − lr·g rounded once or twice
    (BLAS may fuse the multiply-add), one version per update."""
    for dtype in (np.float32, np.float64):
        rng = np.random.default_rng(3)
        values, grad = (rng.standard_normal((300, 200)).astype(dtype) for _ in range(2))
        param = ag.tensor(values.copy())
        ag.foreach_add_([param], [ag.tensor(grad)], alpha=-0.05)
        assert param.version == 1
        wide = np.longdouble
        exact = values.astype(wide) - wide(dtype(0.05)) * grad.astype(wide)
        bound = np.finfo(dtype).eps * (np.abs(values) + np.abs(dtype(0.05) * grad)).astype(wide)
        assert np.all(np.abs(param.numpy().astype(wide) - exact) <= bound)


# ---------------------------------------------------------------------------- optimizers: foreach = per parameter
def _options(**choices):
    names = list(choices)
    return [dict(zip(names, values)) for values in itertools.product(*choices.values())]


SGD_OPTIONS = [o for o in _options(momentum=[0.0, 0.9], dampening=[0.0, 0.3], nesterov=[False, True],
                                   weight_decay=[0.0, 0.1], maximize=[False, True], ema_momentum=[False, True])
               if not (o["nesterov"] and (o["momentum"] == 0 or o["dampening"] or o["ema_momentum"]))
               and not (o["ema_momentum"] and o["dampening"])]
ADAM_OPTIONS = _options(amsgrad=[False, True], maximize=[False, True], eps_inside_sqrt=[False, True],
                        weight_decay=[0.0, 0.1], decoupled_weight_decay=[False, True])


def _trajectories(make, steps=4):
    """Parameters after ``steps`` steps with foreach (the default) and with foreach=False, from the same
    start and gradients: float32 tensors of several shapes (one past the BLAS axpy threshold), a
    float64 one, and a float32 gradient for it."""
    rng = np.random.default_rng(7)
    shapes = [(6, 5), (5,), (), (140, 130)]
    starts = [rng.standard_normal(s).astype(np.float32) for s in shapes] + [rng.standard_normal((3, 2))]
    grads = [[rng.standard_normal(x.shape).astype(np.float32) for x in starts] for _ in range(steps)]
    results = []
    for foreach in (None, False):
        params = [ag.tensor(x.copy(), requires_grad=True) for x in starts]
        opt = make(params, foreach)
        for step_grads in grads:
            for p, g in zip(params, step_grads):
                p.grad = ag.tensor(g)
            opt.step()
        assert all(not np.array_equal(p.detach().numpy(), x) for p, x in zip(params, starts))  # they moved
        results.append((params, opt))
    return results


@pytest.mark.parametrize("options", SGD_OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_sgd_foreach_equals_the_per_parameter_rule(options):
    (ours, opt), (plain, plain_opt) = _trajectories(lambda ps, fe: optim.SGD(ps, lr=0.05, foreach=fe, **options))
    for a, b in zip(ours, plain):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    for a, b in zip(ours, plain):
        for key, value in plain_opt.state.get(b, {}).items():
            np.testing.assert_array_equal(opt.state[a][key].numpy(), value.numpy())


@pytest.mark.parametrize("options", ADAM_OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_adam_foreach_equals_the_per_parameter_rule(options):
    (ours, opt), (plain, plain_opt) = _trajectories(lambda ps, fe: optim.Adam(ps, lr=0.01, foreach=fe, **options))
    for a, b in zip(ours, plain):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
        for key, value in plain_opt.state[b].items():
            np.testing.assert_array_equal(opt.state[a][key].numpy(), value.numpy())


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adamw_foreach_equals_the_per_parameter_rule(amsgrad):
    (ours, _), (plain, _) = _trajectories(lambda ps, fe: optim.AdamW(ps, lr=0.01, weight_decay=0.1,
                                                                        amsgrad=amsgrad, foreach=fe))
    for a, b in zip(ours, plain):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_parameters_at_different_step_counts_in_one_group():
    """A parameter that missed steps (no gradient) has its own bias correction in the foreach form."""
    rng = np.random.default_rng(8)
    starts = [rng.standard_normal(4).astype(np.float32) for _ in range(2)]
    results = []
    for foreach in (None, False):
        params = [ag.tensor(x.copy(), requires_grad=True) for x in starts]
        opt = optim.Adam(params, lr=0.1, foreach=foreach)
        for step in range(4):
            for i, p in enumerate(params):
                p.grad = ag.tensor(np.full(4, step + 1.0, np.float32)) if i == 0 or step >= 2 else None
            opt.step()
        assert opt.state[params[0]]["step"].item() == 4 and opt.state[params[1]]["step"].item() == 2
        results.append(params)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_foreach_option_is_checked():
    with pytest.raises(TypeError, match="foreach must be None, True or False, got 'yes'"):
        optim.SGD([ag.ones(2, requires_grad=True)], lr=0.1, foreach="yes")
    opt = optim.Adam([ag.ones(2, requires_grad=True)], foreach=False)
    assert opt.param_groups[0]["foreach"] is False
