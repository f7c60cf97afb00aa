"""The fused in-place ops the optimizers are built from: addcmul_, addcdiv_, lerp_, add_(alpha=...),
sgd_step_ and adam_step_ (values against numpy formulas; gradcheck where differentiable)."""
import numpy as np
import pytest

import autograd as ag

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


# ---------------------------------------------------------------------------- sgd_step_
def _sgd_reference(p, g, buf, lr, momentum, dampening, nesterov, wd, maximize, first):
    g = -g if maximize else g
    g = g + wd * p
    if momentum:
        buf = g.copy() if first else momentum * buf + (1 - dampening) * g
        d = g + momentum * buf if nesterov else buf
    else:
        d = g
    return p - lr * d, buf


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opts", [dict(momentum=0.0), dict(momentum=0.9), dict(momentum=0.9, nesterov=True),
                                  dict(momentum=0.5, dampening=0.2, wd=0.1),
                                  dict(momentum=0.9, maximize=True, wd=0.01)])
def test_sgd_step_matches_formula(dtype, opts):
    rng = np.random.default_rng(3)
    p0, buf0 = _arrays(rng, (5, 3), dtype, 2)
    kw = dict(lr=0.1, momentum=0.0, dampening=0.0, nesterov=False, wd=0.0, maximize=False)
    kw.update(opts)
    p, buf = ag.tensor(p0.copy()), ag.tensor(buf0.copy())
    ref_p, ref_buf = p0.astype(np.float64), buf0.astype(np.float64)
    for step in range(4):
        g = rng.standard_normal((5, 3)).astype(dtype)
        ag.sgd_step_(p, ag.tensor(g), buf, lr=kw["lr"], momentum=kw["momentum"], dampening=kw["dampening"],
                     nesterov=kw["nesterov"], weight_decay=kw["wd"], maximize=kw["maximize"],
                     first_step=step == 0)
        ref_p, ref_buf = _sgd_reference(ref_p, g.astype(np.float64), ref_buf, kw["lr"], kw["momentum"],
                                        kw["dampening"], kw["nesterov"], kw["wd"], kw["maximize"], step == 0)
    rtol = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(p.numpy(), ref_p, rtol=rtol, atol=rtol)
    if kw["momentum"]:
        np.testing.assert_allclose(buf.numpy(), ref_buf, rtol=rtol, atol=rtol)
    else:
        np.testing.assert_array_equal(buf.numpy(), buf0)


# ---------------------------------------------------------------------------- adam_step_
def _adam_reference(p, g, m, v, vmax, t, lr, b1, b2, eps, wd, decoupled, amsgrad, inside):
    if decoupled:
        p = p * (1 - lr * wd)
    else:
        g = g + wd * p
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    vmax = np.maximum(vmax, v)
    vhat = (vmax if amsgrad else v) / (1 - b2 ** t)
    mhat = m / (1 - b1 ** t)
    denom = np.sqrt(vhat + eps) if inside else np.sqrt(vhat) + eps
    return p - lr * mhat / denom, m, v, vmax


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opts", [dict(), dict(wd=0.1), dict(wd=0.1, decoupled=True), dict(amsgrad=True),
                                  dict(inside=True, eps=1e-3), dict(amsgrad=True, inside=True, wd=0.05)])
def test_adam_step_matches_formula(dtype, opts):
    rng = np.random.default_rng(4)
    kw = dict(lr=0.01, b1=0.9, b2=0.99, eps=1e-8, wd=0.0, decoupled=False, amsgrad=False, inside=False)
    kw.update(opts)
    p0 = rng.standard_normal((4, 6)).astype(dtype)
    p = ag.tensor(p0.copy())
    m, v, vmax = (ag.zeros((4, 6), dtype=dtype) for _ in range(3))
    ref = [p0.astype(np.float64)] + [np.zeros((4, 6))] * 3
    for t in range(1, 6):
        g = rng.standard_normal((4, 6)).astype(dtype)
        ag.adam_step_(p, ag.tensor(g), m, v, vmax if kw["amsgrad"] else None, step=t, lr=kw["lr"],
                      beta1=kw["b1"], beta2=kw["b2"], eps=kw["eps"], weight_decay=kw["wd"],
                      decoupled_weight_decay=kw["decoupled"], amsgrad=kw["amsgrad"],
                      eps_inside_sqrt=kw["inside"])
        ref = _adam_reference(ref[0], g.astype(np.float64), *ref[1:], t, kw["lr"], kw["b1"], kw["b2"],
                              kw["eps"], kw["wd"], kw["decoupled"], kw["amsgrad"], kw["inside"])
    rtol = 2e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(p.numpy(), ref[0], rtol=rtol, atol=rtol)
    np.testing.assert_allclose(m.numpy(), ref[1], rtol=rtol, atol=rtol)
    np.testing.assert_allclose(v.numpy(), ref[2], rtol=rtol, atol=rtol)
    assert p.version == 5 and m.version == 5


def test_adam_step_non_contiguous_param_and_mixed_grad_dtype():
    rng = np.random.default_rng(5)
    p0 = rng.standard_normal((3, 4))
    p = ag.tensor(p0.copy()).T
    g = rng.standard_normal((4, 3))
    m, v = ag.zeros((4, 3), dtype=ag.float64), ag.zeros((4, 3), dtype=ag.float64)
    ag.adam_step_(p, ag.tensor(g.astype(np.float32)), m, v, step=1, lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8)
    g32 = g.astype(np.float32).astype(np.float64)
    expected = _adam_reference(p0.T, g32, 0, 0, 0, 1, 0.1, 0.9, 0.999, 1e-8, 0, False, False, False)[0]
    np.testing.assert_allclose(p.numpy(), expected, rtol=1e-12)


def test_update_ops_errors():
    p = ag.tensor([1.0, 2.0], requires_grad=True)
    g = ag.tensor([0.1, 0.2])
    m, v = ag.zeros(2), ag.zeros(2)
    with pytest.raises(RuntimeError, match="adam_step_.*no_grad"):
        ag.adam_step_(p, g, m, v, step=1, lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8)
    with pytest.raises(RuntimeError, match="sgd_step_.*no_grad"):
        ag.sgd_step_(p, g, lr=0.1)
    with ag.no_grad():
        with pytest.raises(ValueError, match="exp_avg has shape"):
            ag.adam_step_(p, g, ag.zeros(3), v, step=1, lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8)
        with pytest.raises(ValueError, match="momentum_buffer"):
            ag.sgd_step_(p, g, lr=0.1, momentum=0.9)
        with pytest.raises(ValueError, match="max_exp_avg_sq"):
            ag.adam_step_(p, g, m, v, step=1, lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8, amsgrad=True)
        with pytest.raises(ValueError, match="step counts from 1"):
            ag.adam_step_(p, g, m, v, step=0, lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8)
        with pytest.raises(TypeError, match="grad must be a Tensor"):
            ag.sgd_step_(p, np.zeros(2), lr=0.1)
        ag.sgd_step_(p, g, lr=1.0)
    np.testing.assert_allclose(p.detach().numpy(), [0.9, 1.8], rtol=1e-6)


@pytest.mark.parametrize("opts", [dict(), dict(maximize=True), dict(weight_decay=0.1), dict(momentum=0.9),
                                  dict(momentum=0.9, nesterov=True, weight_decay=0.1),
                                  dict(momentum=0.5, dampening=0.2, maximize=True)])
def test_sgd_steps_equals_sgd_step_per_tensor(opts):
    """The foreach form gives the same bits as one sgd_step_ per tensor, for ordinary tensors, a
    non-contiguous one, a float64 one beside float32 ones and a gradient of another dtype."""
    rng = np.random.default_rng(1)
    shapes = [(4, 3), (5,), (6, 4), ()]
    values = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    values.append(rng.standard_normal((3, 4)).astype(np.float64))
    grads = [rng.standard_normal(v.shape).astype(v.dtype) for v in values]
    grads[1] = grads[1].astype(np.float64)  # cast to the parameter's dtype, like sgd_step_
    momentum = opts.get("momentum", 0.0)

    def fresh():
        params = [ag.tensor(v.copy()) for v in values]
        params[2] = ag.tensor(values[2].T.copy()).t()  # non-contiguous: the general path
        bufs = [ag.zeros_like(p) for p in params] if momentum else None
        return params, bufs

    one_by_one, one_bufs = fresh()
    foreach, foreach_bufs = fresh()
    for step in range(3):
        firsts = [step == 0] * len(values)
        for i, (p, g) in enumerate(zip(one_by_one, grads)):
            ag.sgd_step_(p, ag.tensor(g), one_bufs[i] if momentum else None, lr=0.1, first_step=firsts[i], **opts)
        versions = [p.version for p in foreach]
        ag.sgd_steps_(foreach, [ag.tensor(g) for g in grads], foreach_bufs, lr=0.1, first_steps=firsts, **opts)
        assert [p.version for p in foreach] == [v + 1 for v in versions]
    for a, b in zip(one_by_one, foreach):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    for a, b in zip(one_bufs or [], foreach_bufs or []):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_sgd_steps_errors():
    p, g = ag.ones(3), ag.ones(3)
    with pytest.raises(ValueError, match="sgd_steps_: expected one gradient per parameter, got 1 parameters, 2"):
        ag.sgd_steps_([p], [g, g], lr=0.1)
    with pytest.raises(ValueError, match="and one momentum buffer"):
        ag.sgd_steps_([p], [g], None, lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="sgd_step_: grad has shape"):
        ag.sgd_steps_([p], [ag.ones(4)], lr=0.1)
    leaf = ag.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="not differentiable"):
        ag.sgd_steps_([leaf], [g], lr=0.1)
    with ag.no_grad():
        ag.sgd_steps_([leaf], [g], lr=0.5)
    np.testing.assert_array_equal(leaf.detach().numpy(), 0.5)


@pytest.mark.parametrize("opts", [dict(), dict(amsgrad=True, weight_decay=0.1),
                                  dict(decoupled_weight_decay=True, weight_decay=0.1, maximize=True),
                                  dict(eps_inside_sqrt=True)])
def test_adam_steps_equals_adam_step_per_tensor(opts):
    """Same bits as one adam_step_ per tensor: ordinary tensors, a non-contiguous one, float64 beside
    float32, a gradient of another dtype, and parameters at different step counts."""
    rng = np.random.default_rng(2)
    values = [rng.standard_normal(s).astype(np.float32) for s in [(4, 3), (5,), (6, 4), ()]]
    values.append(rng.standard_normal((3, 4)).astype(np.float64))
    grads = [rng.standard_normal(v.shape).astype(v.dtype) for v in values]
    grads[1] = grads[1].astype(np.float64)
    amsgrad = opts.get("amsgrad", False)
    hyper = dict(lr=0.01, beta1=0.9, beta2=0.99, eps=1e-8, **opts)

    def fresh():
        params = [ag.tensor(v.copy()) for v in values]
        params[2] = ag.tensor(values[2].T.copy()).t()  # non-contiguous: the general path
        states = [[ag.zeros_like(p) for _ in range(3 if amsgrad else 2)] for p in params]
        return params, states

    one_by_one, one_states = fresh()
    foreach, foreach_states = fresh()
    for step in range(1, 4):
        steps = [step + (i % 2) for i in range(len(values))]  # two step counts in one call
        for p, g, st, t in zip(one_by_one, grads, one_states, steps):
            ag.adam_step_(p, ag.tensor(g), *st[:2], st[2] if amsgrad else None, step=t, **hyper)
        ag.adam_steps_(foreach, [ag.tensor(g) for g in grads], [st[0] for st in foreach_states],
                       [st[1] for st in foreach_states], [st[2] for st in foreach_states] if amsgrad else None,
                       steps=steps, **hyper)
    for a, b in zip(one_by_one + [t for st in one_states for t in st],
                    foreach + [t for st in foreach_states for t in st]):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_adam_steps_errors():
    p, g, m, v = ag.ones(3), ag.ones(3), ag.zeros(3), ag.zeros(3)
    hyper = dict(lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8)
    with pytest.raises(ValueError, match="adam_steps_: expected one gradient, exp_avg, exp_avg_sq, step per"):
        ag.adam_steps_([p], [g], [m], [v], steps=[1, 2], **hyper)
    with pytest.raises(ValueError, match="and max_exp_avg_sq"):
        ag.adam_steps_([p], [g], [m], [v], steps=[1], amsgrad=True, **hyper)
    with pytest.raises(ValueError, match="adam_step_: step counts from 1, got 0"):
        ag.adam_steps_([p], [g], [m], [v], steps=[0], **hyper)
    with pytest.raises(RuntimeError, match="not differentiable"):
        ag.adam_steps_([ag.ones(3, requires_grad=True)], [g], [m], [v], steps=[1], **hyper)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sgd_steps_on_large_tensors_matches_the_formula(dtype):
    """Plain SGD over a tensor large enough for numpy's BLAS axpy (autograd/blas.py) gives p − lr·g
    rounded once or twice (BLAS may fuse the multiply-add), and counts one version per step."""
    rng = np.random.default_rng(3)
    values = rng.standard_normal((300, 200)).astype(dtype)
    grad = rng.standard_normal((300, 200)).astype(dtype)
    param = ag.tensor(values.copy())
    ag.sgd_steps_([param], [ag.tensor(grad)], lr=0.05)
    assert param.version == 1
    wide = np.longdouble
    exact = values.astype(wide) - wide(dtype(0.05)) * grad.astype(wide)
    bound = np.finfo(dtype).eps * (np.abs(values) + np.abs(dtype(0.05) * grad)).astype(wide)
    assert np.all(np.abs(param.numpy().astype(wide) - exact) <= bound)
    ag.sgd_steps_([param], [ag.tensor(grad)], lr=0.05, maximize=True)  # back up by the same step
    np.testing.assert_allclose(param.numpy(), values, rtol=0, atol=4 * np.finfo(dtype).eps * np.abs(values).max())
    assert param.version == 2
