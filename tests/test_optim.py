"""Optimizers: trajectories computed by hand from each formula (PyTorch's and the course's), the course's
worked results, ridge regression by gradient descent, the Optimizer base class and its state_dicts."""
import math

import numpy as np
import pytest

import autograd as ag
import optim


def _param(values, dtype=ag.float64):
    return ag.tensor(np.asarray(values, dtype=np.float64), dtype=dtype, requires_grad=True)


def _feed(opt, params, grads):
    """One step with the given gradients (numpy arrays), as if backward had produced them."""
    for p, g in zip(params, grads):
        p.grad = ag.tensor(np.asarray(g, dtype=p.dtype))
    opt.step()


def _grad_sequence(n, shape=(3,), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for _ in range(n)]


# ---------------------------------------------------------------------------- by hand
def test_sgd_on_a_parabola_by_hand():
    w = _param([1.0])
    opt = optim.SGD([w], lr=0.1)
    for expected in (0.8, 0.64, 0.512):  # w ← w − 0.1·2w
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
        assert w.item() == pytest.approx(expected, rel=1e-15)


def test_sgd_momentum_by_hand():
    w = _param([1.0])
    opt = optim.SGD([w], lr=0.1, momentum=0.5)
    # g = 2w. step 1: v = g = 2, w = 0.8. step 2: g = 1.6, v = 0.5·2 + 1.6 = 2.6, w = 0.54.
    # step 3: g = 1.08, v = 1.3 + 1.08 = 2.38, w = 0.302.
    for expected in (0.8, 0.54, 0.302):
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
        assert w.item() == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("nesterov,dampening,wd", [(False, 0.0, 0.0), (True, 0.0, 0.0), (False, 0.3, 0.1),
                                                   (True, 0.0, 0.2)])
def test_sgd_trajectory_equals_pytorch_formula(nesterov, dampening, wd):
    grads = _grad_sequence(6)
    w = _param([0.5, -1.0, 2.0])
    opt = optim.SGD([w], lr=0.05, momentum=0.8, dampening=dampening, nesterov=nesterov, weight_decay=wd)
    ref, buf = np.array([0.5, -1.0, 2.0]), None
    for g in grads:
        _feed(opt, [w], [g])
        g = g + wd * ref
        buf = g.copy() if buf is None else 0.8 * buf + (1 - dampening) * g
        ref = ref - 0.05 * (g + 0.8 * buf if nesterov else buf)
        np.testing.assert_allclose(w.detach().numpy(), ref, rtol=1e-14, atol=1e-15)


def test_sgd_ema_momentum_is_the_course_formula():
    grads = _grad_sequence(6)
    w = _param([0.5, -1.0, 2.0])
    beta, lr = 0.9, 0.1
    opt = optim.SGD([w], lr=lr, momentum=beta, ema_momentum=True)
    ref, delta_prev = np.array([0.5, -1.0, 2.0]), np.zeros(3)
    for g in grads:
        _feed(opt, [w], [g])
        delta = -(1 - beta) * lr * g + beta * delta_prev  # Δw = −(1−β)η ∂L/∂w + β Δw_prev (notes 3.12)
        ref, delta_prev = ref + delta, delta
        np.testing.assert_allclose(w.detach().numpy(), ref, rtol=1e-13, atol=1e-15)


def test_adagrad_trajectory_by_formula():
    grads = _grad_sequence(6)
    for inside in (False, True):
        w = _param([0.5, -1.0, 2.0])
        opt = optim.Adagrad([w], lr=0.1, lr_decay=0.05, initial_accumulator_value=0.2, eps=1e-3,
                            weight_decay=0.01, eps_inside_sqrt=inside)
        ref, s = np.array([0.5, -1.0, 2.0]), np.full(3, 0.2)
        for t, g in enumerate(grads, start=1):
            _feed(opt, [w], [g])
            g = g + 0.01 * ref
            s = s + g * g
            lr_t = 0.1 / (1 + (t - 1) * 0.05)
            ref = ref - lr_t * g / (np.sqrt(s + 1e-3) if inside else np.sqrt(s) + 1e-3)
            np.testing.assert_allclose(w.detach().numpy(), ref, rtol=1e-13)


@pytest.mark.parametrize("centered,momentum,inside", [(False, 0.0, False), (True, 0.0, False),
                                                      (False, 0.7, False), (True, 0.7, True),
                                                      (False, 0.0, True)])
def test_rmsprop_trajectory_by_formula(centered, momentum, inside):
    grads = _grad_sequence(6)
    w = _param([0.5, -1.0, 2.0])
    a, lr, eps = 0.9, 0.01, 1e-4
    opt = optim.RMSprop([w], lr=lr, alpha=a, eps=eps, momentum=momentum, centered=centered,
                        eps_inside_sqrt=inside)
    ref, s, gbar, buf = np.array([0.5, -1.0, 2.0]), np.zeros(3), np.zeros(3), np.zeros(3)
    for g in grads:
        _feed(opt, [w], [g])
        s = a * s + (1 - a) * g * g
        gbar = a * gbar + (1 - a) * g
        var = s - gbar ** 2 if centered else s
        d = np.sqrt(var + eps) if inside else np.sqrt(var) + eps
        if momentum:
            buf = momentum * buf + g / d
            ref = ref - lr * buf
        else:
            ref = ref - lr * g / d
        np.testing.assert_allclose(w.detach().numpy(), ref, rtol=1e-12)


@pytest.mark.parametrize("cls,amsgrad,inside", [(optim.Adam, False, False), (optim.Adam, True, False),
                                                (optim.Adam, False, True), (optim.AdamW, False, False),
                                                (optim.AdamW, True, True)])
def test_adam_trajectory_by_formula(cls, amsgrad, inside):
    grads = _grad_sequence(8)
    w = _param([0.5, -1.0, 2.0])
    lr, b1, b2, eps, wd = 0.02, 0.8, 0.95, 1e-6, 0.1
    opt = cls([w], lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd, amsgrad=amsgrad, eps_inside_sqrt=inside)
    ref, m, v, vmax = np.array([0.5, -1.0, 2.0]), np.zeros(3), np.zeros(3), np.zeros(3)
    for t, g in enumerate(grads, start=1):
        _feed(opt, [w], [g])
        if cls is optim.AdamW:
            ref = ref * (1 - lr * wd)
        else:
            g = g + wd * ref
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = np.maximum(vmax, v)
        m_hat, v_hat = m / (1 - b1 ** t), (vmax if amsgrad else v) / (1 - b2 ** t)
        ref = ref - lr * m_hat / (np.sqrt(v_hat + eps) if inside else np.sqrt(v_hat) + eps)
        np.testing.assert_allclose(w.detach().numpy(), ref, rtol=1e-12)
    assert opt.state[w]["step"].item() == 8


def test_maximize_climbs():
    for cls, kw in [(optim.SGD, dict(momentum=0.9)), (optim.Adam, {}), (optim.Adagrad, {}), (optim.RMSprop, {})]:
        w = _param([0.0])
        opt = cls([w], lr=0.01, maximize=True, **kw)
        for _ in range(5):
            opt.zero_grad()
            (-(w - 1.0) ** 2).sum().backward()
            opt.step()
        assert 0 < w.item() < 1, cls.__name__


@pytest.mark.parametrize("cls,kw", [(optim.SGD, {}), (optim.SGD, dict(momentum=0.9)), (optim.Adam, {})])
def test_step_with_a_gradient_recorded_by_create_graph(cls, kw):
    """After backward(create_graph=True) the .grad requires grad; the update still records nothing
    and gives what the same gradient without a graph gives."""
    w, v = _param([1.0, -2.0]), _param([1.0, -2.0])
    opt_w, opt_v = cls([w], lr=0.1, **kw), cls([v], lr=0.1, **kw)
    (w ** 3).sum().backward(create_graph=True)
    (v ** 3).sum().backward()
    assert w.grad.requires_grad and not v.grad.requires_grad
    opt_w.step()
    opt_v.step()
    assert w.is_leaf and w.grad_fn is None
    np.testing.assert_array_equal(w.detach().numpy(), v.detach().numpy())


# ---------------------------------------------------------------------------- the course's results
def test_momentum_velocity_is_the_discounted_sum_of_gradients():
    grads = _grad_sequence(7)
    beta = 0.7
    for ema in (False, True):
        w = _param([0.0, 0.0, 0.0])
        opt = optim.SGD([w], lr=0.1, momentum=beta, ema_momentum=ema)
        for t in range(1, len(grads) + 1):
            _feed(opt, [w], [grads[t - 1]])
            discounted = sum(beta ** (t - i) * grads[i - 1] for i in range(1, t + 1))
            expected = (1 - beta) * discounted if ema else discounted  # v_t = Σ β^{t−i} g_i
            np.testing.assert_allclose(opt.state[w]["momentum_buffer"].numpy(), expected, rtol=1e-13)
        # and the parameter moved by −lr times the sum of the velocities
        velocities = [sum(beta ** (t - i) * grads[i - 1] for i in range(1, t + 1)) * ((1 - beta) if ema else 1)
                      for t in range(1, len(grads) + 1)]
        np.testing.assert_allclose(w.detach().numpy(), -0.1 * sum(velocities), rtol=1e-12)


def test_nesterov_is_the_reformulated_update_of_the_notes():
    # L(θ) = ½ θᵀAθ, ∇L(θ) = Aθ. Notes 002: (1) v ← αv − ε∇L(θ + αv), θ ← θ + v (look-ahead gradient);
    # (2) with θ̃ = θ + αv: v_new = αv_old − ε∇L(θ̃), θ̃ ← θ̃ + v_new + α(v_new − v_old).
    A = np.array([[3.0, 0.5], [0.5, 1.0]])
    alpha, eps = 0.9, 0.05
    theta, v = np.array([1.0, -2.0]), np.zeros(2)  # formulation (1)
    tilde, v2 = theta.copy(), np.zeros(2)  # formulation (2)
    w = _param(theta)
    opt = optim.SGD([w], lr=eps, momentum=alpha, nesterov=True)
    for _ in range(15):
        v = alpha * v - eps * A @ (theta + alpha * v)
        theta = theta + v
        v_new = alpha * v2 - eps * A @ tilde
        tilde, v2 = tilde + v_new + alpha * (v_new - v2), v_new
        opt.zero_grad()
        (0.5 * (w @ ag.tensor(A) @ w)).backward()
        opt.step()
        np.testing.assert_allclose(tilde, theta + alpha * v, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(w.detach().numpy(), tilde, rtol=1e-12, atol=1e-14)


def test_adagrad_effective_learning_rate_never_increases():
    rng = np.random.default_rng(0)
    w = _param(rng.standard_normal(5))
    opt = optim.Adagrad([w], lr=0.5)
    previous = np.full(5, np.inf)
    for _ in range(30):
        _feed(opt, [w], [rng.standard_normal(5) * rng.uniform(0, 3)])
        effective = 0.5 / (np.sqrt(opt.state[w]["sum"].numpy()) + 1e-10)
        assert np.all(effective <= previous)
        previous = effective


def test_adam_bias_correction():
    # Constant gradient g: m_t = (1 − β1^t)·g, so m̂_t = g exactly what it estimates, from step 1 on;
    # the first step moves each coordinate by lr·g/(|g| + eps) ≈ lr·sign(g), whatever the scale of g.
    g = np.array([1e-3, -2.0, 50.0])
    w = _param([0.0, 0.0, 0.0])
    opt = optim.Adam([w], lr=0.1)
    for t in range(1, 11):
        _feed(opt, [w], [g])
        state = opt.state[w]
        m_hat = state["exp_avg"].numpy() / (1 - 0.9 ** t)
        v_hat = state["exp_avg_sq"].numpy() / (1 - 0.999 ** t)
        np.testing.assert_allclose(m_hat, g, rtol=1e-12)
        np.testing.assert_allclose(v_hat, g * g, rtol=1e-12)
        if t == 1:
            np.testing.assert_allclose(w.detach().numpy(), -0.1 * g / (np.abs(g) + 1e-8), rtol=1e-12)
            # without correction the first step would be lr·(1−β1)/sqrt(1−β2) ≈ 3.2·lr
            uncorrected = 0.1 * (1 - 0.9) * g / (np.sqrt((1 - 0.999) * g * g) + 1e-8)
            assert np.all(np.abs(uncorrected) > 3 * np.abs(w.detach().numpy()))
    np.testing.assert_allclose(w.detach().numpy(), -1.0 * np.sign(g), rtol=1e-4)


# ---------------------------------------------------------------------------- ridge regression
def _ridge_problem(n=60, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) + 0.3 * rng.standard_normal(n)
    return ag.tensor(X), ag.tensor(y)


def test_ridge_regression_by_gradient_descent_converges_to_closed_form():
    X, y = _ridge_problem()
    lam = 5.0
    d = X.shape[1]
    closed = ag.linalg.solve(X.T @ X + lam * ag.eye(d, dtype=ag.float64), X.T @ y).numpy()
    w = ag.zeros(d, dtype=ag.float64, requires_grad=True)
    opt = optim.SGD([w], lr=0.004)
    for _ in range(400):  # L(w) = ‖Xw − y‖² + λ‖w‖², the notes' regularized loss
        opt.zero_grad()
        loss = ((X @ w - y) ** 2).sum() + lam * (w * w).sum()
        loss.backward()
        opt.step()
    np.testing.assert_allclose(w.detach().numpy(), closed, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("make", [lambda p, n, lam: optim.SGD(p, lr=0.2, weight_decay=2 * lam / n),
                                  lambda p, n, lam: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True,
                                                              weight_decay=2 * lam / n),
                                  lambda p, n, lam: optim.Adam(p, lr=0.05, weight_decay=2 * lam / n)])
def test_ridge_through_weight_decay(make):
    # weight_decay adds wd·w to the gradient of the mean squared error (2/n)Xᵀ(Xw − y): wd = 2λ/n.
    X, y = _ridge_problem(seed=1)
    n, d = X.shape
    lam = 3.0
    closed = ag.linalg.solve(X.T @ X + lam * ag.eye(d, dtype=ag.float64), X.T @ y).numpy()
    w = ag.zeros(d, dtype=ag.float64, requires_grad=True)
    opt = make([w], n, lam)
    for _ in range(1500):
        opt.zero_grad()
        ((X @ w - y) ** 2).mean().backward()
        opt.step()
    np.testing.assert_allclose(w.detach().numpy(), closed, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------- the base class
def test_param_groups_and_defaults():
    a, b = _param([1.0]), _param([1.0])
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5, "momentum": 0.9}], lr=0.1)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[0]["momentum"] == 0.0
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["momentum"] == 0.9
    _feed(opt, [a, b], [[1.0], [1.0]])
    assert a.item() == pytest.approx(0.9) and b.item() == pytest.approx(0.5)
    c = _param([2.0])
    opt.add_param_group({"params": [c], "lr": 1.0})
    _feed(opt, [a, b, c], [[0.0], [0.0], [1.0]])
    assert c.item() == pytest.approx(1.0)
    assert "Parameter Group 2" in repr(opt) and "lr: 1.0" in repr(opt)


def test_named_parameters_and_generators_are_accepted():
    a, b = _param([1.0]), _param([2.0])
    opt = optim.Adam(iter([("w", a), ("b", b)]), lr=0.1)
    assert opt.param_groups[0]["params"] == [a, b] or opt.param_groups[0]["params"][1] is b


def test_parameters_without_grad_are_skipped():
    a, b = _param([1.0]), _param([2.0])
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = ag.tensor([1.0], dtype=ag.float64)
    opt.step()
    assert b.item() == 2.0 and b not in opt.state and a in opt.state


def test_zero_grad():
    w = _param([1.0, 2.0])
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(w.grad.numpy(), [0.0, 0.0])
    opt.zero_grad()
    assert w.grad is None


def test_step_with_closure_records_even_under_no_grad():
    w = _param([3.0])
    opt = optim.SGD([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss
    with ag.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 9.0 and w.item() == pytest.approx(2.4)


def test_update_does_not_touch_the_graph():
    w = _param([1.0, 2.0])
    opt = optim.Adam([w], lr=0.1)
    (w * w).sum().backward()
    opt.step()
    assert w.is_leaf and w.requires_grad and w.grad_fn is None
    assert w.version == 1


def test_nn_parameter_is_accepted():
    nn = pytest.importorskip("nn")
    Parameter = getattr(nn, "Parameter", None)
    if Parameter is None:
        from nn.parameter import Parameter
    w = Parameter(ag.tensor([1.0, -1.0]))
    opt = optim.AdamW([w], lr=0.1)
    (w * w).sum().backward()
    opt.step()
    assert isinstance(w, Parameter) and w.requires_grad and w.is_leaf
    np.testing.assert_allclose(w.detach().numpy(), [1.0 * (1 - 0.1 * 0.01) - 0.1, -(1.0 * (1 - 0.001) - 0.1)],
                               rtol=1e-6)


@pytest.mark.parametrize("make,match", [
    (lambda p: optim.SGD([], lr=0.1), "empty parameter list"),
    (lambda p: optim.SGD(p, lr=-0.1), "Invalid learning rate"),
    (lambda p: optim.Adam(p, lr=math.nan), "learning rate.*finite"),
    (lambda p: optim.Adam(p, lr=math.inf), "learning rate.*finite"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.999)), "beta parameter at index 0"),
    (lambda p: optim.Adam(p, betas=(0.9, -0.1)), "beta parameter at index 1"),
    (lambda p: optim.Adam(p, betas=0.9), "betas must be a pair"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=-0.5), "momentum"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=1.0, ema_momentum=True), "momentum.*\\[0, 1\\)"),
    (lambda p: optim.SGD(p, lr=0.1, nesterov=True), "Nesterov momentum requires"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov"),
    (lambda p: optim.RMSprop(p, alpha=1.5), "alpha"),
    (lambda p: optim.Adagrad(p, lr_decay=-1), "lr_decay"),
    (lambda p: optim.Adam(p, eps=-1e-8), "epsilon"),
    (lambda p: optim.AdamW(p, weight_decay=-0.1), "weight_decay"),
    (lambda p: optim.SGD(p + p, lr=0.1), "appears twice"),
    (lambda p: optim.SGD([{"params": p}, {"params": p}], lr=0.1), "more than one parameter group"),
    (lambda p: optim.SGD([{"params": p, "lr": -1.0}], lr=0.1), "Invalid learning rate"),
    (lambda p: optim.SGD([{"params": p, "momentun": 0.9}], lr=0.1), "unknown hyper-parameter"),
])
def test_clear_errors(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make([_param([1.0])])


def test_clear_errors_for_bad_params():
    w = _param([1.0])
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([w * 2], lr=0.1)
    with pytest.raises(TypeError, match="only optimize Tensors"):
        optim.SGD([np.zeros(3)], lr=0.1)
    with pytest.raises(TypeError, match="got a Tensor"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(TypeError, match="floating-point"):
        optim.SGD([ag.tensor([1, 2])], lr=0.1)
    with pytest.raises(TypeError, match="sets"):
        optim.SGD({w}, lr=0.1)


# ---------------------------------------------------------------------------- state_dict
OPTIMIZERS = [
    (optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    (optim.SGD, dict(lr=0.05, momentum=0.9, ema_momentum=True)),
    (optim.Adagrad, dict(lr=0.1, lr_decay=0.01)),
    (optim.RMSprop, dict(lr=0.01, momentum=0.5, centered=True)),
    (optim.Adam, dict(lr=0.01, amsgrad=True)),
    (optim.AdamW, dict(lr=0.01)),
]


def _train(opt, params, grads):
    for g in grads:
        _feed(opt, params, [g[: p.numel()].reshape(p.shape) for p in params])


@pytest.mark.parametrize("dtype", [ag.float32, ag.float64])
@pytest.mark.parametrize("cls,kw", OPTIMIZERS)
def test_state_dict_round_trip_continues_bit_identically(cls, kw, dtype):
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(6) for _ in range(12)]
    params = [ag.tensor(rng.standard_normal((2, 3)), dtype=dtype, requires_grad=True),
              ag.tensor(rng.standard_normal(3), dtype=dtype, requires_grad=True)]
    opt = cls([{"params": params[:1]}, {"params": params[1:], "lr": kw["lr"] / 2}], **kw)
    _train(opt, params, grads[:6])
    saved = opt.state_dict()
    assert sorted(saved["state"]) == [0, 1] and saved["param_groups"][1]["params"] == [1]
    clones = [ag.tensor(p.detach().numpy().copy(), requires_grad=True) for p in params]
    resumed = cls([{"params": clones[:1]}, {"params": clones[1:]}], lr=123.0)
    resumed.load_state_dict(saved)
    assert resumed.param_groups[1]["lr"] == kw["lr"] / 2
    _train(opt, params, grads[6:])
    _train(resumed, clones, grads[6:])
    for p, q in zip(params, clones):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
        assert p.dtype == q.dtype


def test_loaded_state_is_a_copy_and_accepts_numpy():
    w = _param([1.0, 2.0])
    opt = optim.Adam([w], lr=0.1)
    _feed(opt, [w], [[1.0, 1.0]])
    saved = opt.state_dict()
    as_numpy = {"state": {k: {n: np.array(t.numpy()) for n, t in s.items()} for k, s in saved["state"].items()},
                "param_groups": saved["param_groups"]}
    v = _param(w.detach().numpy())
    other = optim.Adam([v], lr=0.1)
    other.load_state_dict(as_numpy)
    _feed(opt, [w], [[1.0, 1.0]])  # moves opt's own state on, not other's
    assert other.state[v]["step"].item() == 1
    np.testing.assert_allclose(other.state[v]["exp_avg"].numpy(), [0.1, 0.1], rtol=1e-15)


def test_load_state_dict_errors():
    a, b = _param([1.0]), _param([1.0, 2.0])
    opt = optim.Adam([a, b], lr=0.1)
    _feed(opt, [a, b], [[1.0], [1.0, 1.0]])
    saved = opt.state_dict()
    with pytest.raises(ValueError, match="parameter groups"):
        optim.Adam([{"params": [a]}, {"params": [b]}]).load_state_dict(saved)
    with pytest.raises(ValueError, match="has 2 parameters"):
        optim.Adam([a]).load_state_dict(saved)
    with pytest.raises(ValueError, match="shape"):
        optim.Adam([b, a]).load_state_dict(saved)
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        optim.Adam([a]).load_state_dict({"weights": 1})


def test_trains_an_nn_model():
    nn = pytest.importorskip("nn")
    if not hasattr(nn, "Linear"):
        pytest.skip("nn.Linear not there yet")
    ag.manual_seed(0)
    model = nn.Linear(3, 1)
    X = ag.randn(64, 3)
    y = X @ ag.tensor([[1.0], [-2.0], [0.5]]) + 0.3
    opt = optim.Adam(model.parameters(), lr=0.05)
    sched = optim.lr_scheduler.StepLR(opt, step_size=100, gamma=0.5)
    for _ in range(300):
        opt.zero_grad()
        loss = ((model(X) - y) ** 2).mean()
        loss.backward()
        opt.step()
        sched.step()
    assert loss.item() < 1e-3
