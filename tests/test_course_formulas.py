"""Autograd against the gradients derived by hand in the course material (shared/seeds/)."""
import math

import numpy as np
import pytest

import autograd as ag


def leaf(array):
    return ag.tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_sigmoid_derivative_is_sigma_times_one_minus_sigma():
    """Lecture slides: f(z) = 1/(1+e⁻ᶻ), f'(z) = f(z)(1 − f(z))."""
    z = leaf(np.linspace(-6, 6, 25))
    assert ag.check_grad(lambda t: t.sigmoid(), [z], lambda a: sigmoid(a) * (1 - sigmoid(a)), atol=1e-12)


def test_tanh_derivative_is_one_minus_tanh_squared():
    z = leaf(np.linspace(-4, 4, 17))
    assert ag.check_grad(lambda t: t.tanh(), [z], lambda a: 1 - np.tanh(a) ** 2, atol=1e-12)


def test_softmax_cross_entropy_delta_is_p_minus_y():
    """Revision notes: with z = softmax(x) and L = −Σ y log z, −∂L/∂x = δ = y − z (so ∂L/∂x = p − y)."""
    rng = np.random.default_rng(0)
    logits = leaf(rng.normal(size=(5, 4)))
    labels = np.eye(4)[rng.integers(0, 4, 5)]

    def loss(x):
        return -(ag.tensor(labels) * x.log_softmax(dim=1)).sum()

    def hand(x):
        p = np.exp(x - x.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        return p - labels

    assert ag.check_grad(loss, [logits], hand, atol=1e-12)


def test_delta_recursion_of_a_two_hidden_layer_mlp_in_matrix_form():
    """Lecture slides, backprop in matrix form with J = ½‖h(x) − y‖², sigmoid layers, a batch in rows:
    δ⁽⁴⁾ = (a⁽⁴⁾ − y) ⊙ f'(z⁽⁴⁾),  δ⁽ˡ⁾ = (δ⁽ˡ⁺¹⁾ W⁽ˡ⁾) ⊙ f'(z⁽ˡ⁾),  ∂J/∂W⁽ˡ⁾ = δ⁽ˡ⁺¹⁾ᵀ a⁽ˡ⁾,  ∂J/∂b⁽ˡ⁾ = Σ δ⁽ˡ⁺¹⁾."""
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(6, 3)), rng.random(size=(6, 2))
    shapes = [(4, 3), (5, 4), (2, 5)]
    W = [leaf(rng.normal(size=s)) for s in shapes]
    b = [leaf(rng.normal(size=s[0])) for s in shapes]

    a = ag.tensor(x)
    for Wl, bl in zip(W, b):
        a = (a @ Wl.T + bl).sigmoid()
    J = 0.5 * ((a - ag.tensor(y)) ** 2).sum()
    J.backward()

    activations = [x]
    for Wl, bl in zip(W, b):
        activations.append(sigmoid(activations[-1] @ Wl.detach().numpy().T + bl.detach().numpy()))
    f_prime = [act * (1 - act) for act in activations[1:]]   # σ' from the layer's own output
    delta = (activations[-1] - y) * f_prime[-1]
    for layer in reversed(range(3)):
        np.testing.assert_allclose(W[layer].grad.numpy(), delta.T @ activations[layer], rtol=1e-10)
        np.testing.assert_allclose(b[layer].grad.numpy(), delta.sum(0), rtol=1e-10)
        if layer:
            delta = (delta @ W[layer].detach().numpy()) * f_prime[layer - 1]


def test_log_sum_exp_bounds():
    """Exam sheet: ‖x‖∞ ≤ LSE(x) ≤ ‖x‖∞ + ln n (x ≥ 0, so ‖x‖∞ = max x), equality on the right for a
    constant vector, and (1/t)·LSE(tx) → ‖x‖∞ as t grows (computed stably even at t = 10⁴)."""
    rng = np.random.default_rng(2)
    for n in (1, 2, 7, 50):
        x = ag.tensor(rng.random(n) * 5, dtype=ag.float64)
        lse, inf_norm = ag.logsumexp(x, 0).item(), x.abs().max().item()
        assert inf_norm <= lse <= inf_norm + math.log(n) + 1e-12
        if n > 1:
            assert lse > inf_norm   # strict for n > 1
    constant = ag.full((8,), 3.0, dtype=ag.float64)
    assert ag.logsumexp(constant, 0).item() == pytest.approx(3.0 + math.log(8), abs=1e-12)
    x = ag.tensor([0.5, 2.0, 1.0], dtype=ag.float64)
    for t in (1.0, 10.0, 1e4):
        scaled = ag.logsumexp(x * t, 0).item() / t
        assert 2.0 <= scaled <= 2.0 + math.log(3) / t + 1e-12


def test_log_sum_exp_gradient_is_softmax():
    z = leaf(np.array([1.0, -2.0, 0.5, 3.0]))
    assert ag.check_grad(lambda t: ag.logsumexp(t, 0), [z],
                         lambda a: np.exp(a - a.max()) / np.exp(a - a.max()).sum(), atol=1e-12)


def test_squared_error_gradient_of_linear_regression():
    """Revision notes: for L = (1/N)‖Xw − y‖², ∇L = (2/N)Xᵀ(Xw − y)."""
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(20, 3)), rng.normal(size=20)
    w = leaf(rng.normal(size=3))
    assert ag.check_grad(lambda t: ((ag.tensor(X) @ t - ag.tensor(y)) ** 2).mean(), [w],
                         lambda a: 2 / 20 * X.T @ (X @ a - y), atol=1e-12)


def test_ridge_closed_form_is_a_stationary_point():
    """Revision notes: w* = (XᵀX + λI)⁻¹Xᵀy minimises ‖Xw − y‖² + λ‖w‖², so the gradient there is 0;
    linalg.solve reproduces the closed form."""
    rng = np.random.default_rng(4)
    X, y, lam = ag.tensor(rng.normal(size=(30, 4))), ag.tensor(rng.normal(size=30)), 0.7
    w_star = ag.linalg.solve(X.T @ X + lam * ag.eye(4, dtype=ag.float64), X.T @ y)
    w = w_star.detach().requires_grad_()
    (((X @ w - y) ** 2).sum() + lam * (w ** 2).sum()).backward()
    np.testing.assert_allclose(w.grad.numpy(), 0.0, atol=1e-10)


def test_kl_divergence_worked_example_of_the_slides():
    """Lecture slides: P = (9/25, 12/25, 4/25), Q uniform; D(P‖Q) = (32 ln 2 + 55 ln 3 − 50 ln 5)/25 ≈ 0.0852996
    and D(Q‖P) = (−4 ln 2 − 6 ln 3 + 6 ln 5)/3 ≈ 0.097455: KL is asymmetric. kl_div takes log Q as input
    and P as target, as PyTorch's, and its gradient with respect to log Q is −P."""
    F = pytest.importorskip("nn").functional
    P = np.array([9, 12, 4], dtype=np.float64) / 25
    Q = np.full(3, 1 / 3)
    closed_pq = (32 * math.log(2) + 55 * math.log(3) - 50 * math.log(5)) / 25
    closed_qp = (-4 * math.log(2) - 6 * math.log(3) + 6 * math.log(5)) / 3
    assert round(closed_pq, 7) == 0.0852996 and round(closed_qp, 6) == 0.097455
    log_q = leaf(np.log(Q))
    d_pq = F.kl_div(log_q, ag.tensor(P), reduction="sum")
    d_qp = F.kl_div(ag.tensor(np.log(P)), ag.tensor(Q), reduction="sum")
    assert d_pq.item() == pytest.approx(closed_pq, rel=1e-12)
    assert d_qp.item() == pytest.approx(closed_qp, rel=1e-12)
    assert d_pq.item() != pytest.approx(d_qp.item(), rel=1e-3)
    d_pq.backward()
    np.testing.assert_allclose(log_q.grad.numpy(), -P, rtol=1e-12)
    # the same with log-probabilities as the target, and the divergence of a distribution from itself
    assert F.kl_div(log_q, ag.tensor(np.log(P)), reduction="sum", log_target=True).item() == pytest.approx(closed_pq)
    assert F.kl_div(ag.tensor(np.log(P)), ag.tensor(P), reduction="sum").item() == pytest.approx(0.0, abs=1e-15)
