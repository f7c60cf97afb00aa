"""The course's worked gradients (../shared/seeds/002_*), reproduced with nn layers and losses."""
import numpy as np

import autograd as ag
import nn
import nn.functional as F

RNG = np.random.default_rng(2024)


def t64(a, requires_grad=False):
    return ag.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def linear_no_bias(out_f, in_f):
    layer = nn.Linear(in_f, out_f, bias=False).double()
    with ag.no_grad():
        layer.weight[...] = t64(RNG.normal(size=(out_f, in_f)))
    return layer


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_weighted_bce_with_alpha_beta_class_weights():
    # J = −(1/m) Σ [α y log ŷ + β (1−y) log(1−ŷ)],  ŷ = σ(W2 relu(W1 x + b1) + b2)
    m, dx, da, alpha, beta = 6, 4, 5, 1.0, 10.0
    fc1, fc2 = nn.Linear(dx, da).double(), nn.Linear(da, 1).double()
    X = RNG.normal(size=(m, dx))
    y = np.array([1, 0, 0, 1, 0, 0], dtype=np.float64)
    class_weight = alpha * y + beta * (1 - y)
    y_hat = F.sigmoid(fc2(F.relu(fc1(t64(X))))).reshape(-1)
    nn.BCELoss(weight=t64(class_weight))(y_hat, t64(y)).backward()

    W1, b1 = fc1.weight.detach().numpy(), fc1.bias.detach().numpy()
    W2, b2 = fc2.weight.detach().numpy(), fc2.bias.detach().numpy()
    dW1, db1, dW2, db2 = np.zeros_like(W1), np.zeros_like(b1), np.zeros_like(W2), np.zeros_like(b2)
    for x, yi in zip(X, y):
        z1 = W1 @ x + b1
        a1 = np.maximum(z1, 0)
        z2 = W2 @ a1 + b2
        yh = sigmoid(z2)
        delta_yhat = alpha * yi / yh - beta * (1 - yi) / (1 - yh)   # ∇_ŷ L⁽ⁱ⁾
        delta_b2 = yh * (1 - yh) * delta_yhat                        # σ'(z2) δ_ŷ
        delta_W2 = np.outer(delta_b2, a1)                            # δ_b2 a1ᵀ
        delta_b1 = (z1 > 0) * (W2.T @ delta_b2)                      # 1(z1>0) ⊙ W2ᵀ δ_b2
        delta_W1 = np.outer(delta_b1, x)                             # δ_b1 xᵀ
        dW1 -= delta_W1 / m
        db1 -= delta_b1 / m
        dW2 -= delta_W2 / m
        db2 -= delta_b2 / m
    for p, g in ((fc1.weight, dW1), (fc1.bias, db1), (fc2.weight, dW2), (fc2.bias, db2)):
        np.testing.assert_allclose(p.grad.numpy(), g, rtol=1e-10, atol=1e-12)


def test_siamese_cosine_similarity_with_shared_weights():
    # h = relu(W1 x), ĥ = relu(W1 x̂), z = W2 h, ẑ = W2 ĥ, s = cos⟨z, ẑ⟩, L = −y s
    n, m, k, y = 5, 4, 3, 1.0
    W1, W2 = linear_no_bias(m, n), linear_no_bias(k, m)
    x, x_hat = RNG.normal(size=n), RNG.normal(size=n)
    z, z_hat = W2(F.relu(W1(t64(x)))), W2(F.relu(W1(t64(x_hat))))
    loss = -y * F.cosine_similarity(z, z_hat, dim=0)
    loss.backward()

    w1, w2 = W1.weight.detach().numpy(), W2.weight.detach().numpy()
    mm, nn_ = w1 @ x, w1 @ x_hat
    zz, zh = w2 @ np.maximum(mm, 0), w2 @ np.maximum(nn_, 0)
    nz, nzh, dot = np.linalg.norm(zz), np.linalg.norm(zh), zz @ zh
    delta_z = -y * (nz * nzh * zh - dot * nzh / nz * zz) / (nz ** 2 * nzh ** 2)
    delta_zh = -y * (nz * nzh * zz - dot * nz / nzh * zh) / (nz ** 2 * nzh ** 2)
    delta_m = (mm >= 0) * (w2.T @ delta_z)
    delta_n = (nn_ >= 0) * (w2.T @ delta_zh)
    branch1, branch2 = np.outer(delta_m, x), np.outer(delta_n, x_hat)
    np.testing.assert_allclose(W1.weight.grad.numpy(), branch1 + branch2, rtol=1e-10)  # sum over both branches
    np.testing.assert_allclose(W2.weight.grad.numpy(),
                               np.outer(delta_z, np.maximum(mm, 0)) + np.outer(delta_zh, np.maximum(nn_, 0)),
                               rtol=1e-10)
    assert W1.num_parameters() == n * m  # one set of weights serves both branches
    # the same loss through CosineEmbeddingLoss (y = +1: 1 − s) has the same gradient
    W1.zero_grad(), W2.zero_grad()
    z, z_hat = W2(F.relu(W1(t64(x)))), W2(F.relu(W1(t64(x_hat))))
    nn.CosineEmbeddingLoss()(z.unsqueeze(0), z_hat.unsqueeze(0), ag.tensor([1])).backward()
    np.testing.assert_allclose(W1.weight.grad.numpy(), branch1 + branch2, rtol=1e-8)


class Skip(nn.Module):
    """z = W3 relu(W1 x) + W2 x."""

    def __init__(self, n, h, out):
        super().__init__()
        self.W1, self.W2, self.W3 = linear_no_bias(h, n), linear_no_bias(out, n), linear_no_bias(out, h)

    def forward(self, x):
        return self.W3(F.relu(self.W1(x))) + self.W2(x)


def test_skip_connection_gradient():
    n, h, out = 4, 6, 3
    net = Skip(n, h, out)
    x = t64(RNG.normal(size=n), requires_grad=True)
    y = RNG.normal(size=out)
    z = net(x)
    (0.5 * ((z - t64(y)) ** 2).sum()).backward()
    w1, w2, w3 = (m.weight.detach().numpy() for m in (net.W1, net.W2, net.W3))
    dz = z.detach().numpy() - y
    expected = w1.T @ ((w1 @ x.detach().numpy() > 0) * (w3.T @ dz)) + w2.T @ dz
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-10)
    np.testing.assert_allclose(net.W2.weight.grad.numpy(), np.outer(dz, x.detach().numpy()), rtol=1e-10)


def test_prelu_elu_network_gradients():
    # L = ½‖W3 ELU(W2 PReLU(W1 x)) − y‖²
    n, m, alpha_p, alpha_e = 5, 3, 0.2, 0.8
    W1, W2, W3 = linear_no_bias(n, n), linear_no_bias(n, n), linear_no_bias(m, n)
    prelu = nn.PReLU(init=alpha_p, dtype=ag.float64)
    elu = nn.ELU(alpha_e)
    x, y = RNG.normal(size=n), RNG.normal(size=m)
    a = W3(elu(W2(prelu(W1(t64(x))))))
    (0.5 * ((a - t64(y)) ** 2).sum()).backward()

    w1, w2, w3 = (l.weight.detach().numpy() for l in (W1, W2, W3))
    e = w1 @ x
    d = np.where(e > 0, e, alpha_p * e)
    c = w2 @ d
    b = np.where(c > 0, c, alpha_e * np.expm1(c))
    a_np = w3 @ b
    delta_a = a_np - y
    delta_c = np.where(c > 0, 1.0, alpha_e * np.exp(c)) * (w3.T @ delta_a)
    delta_e = np.where(e > 0, 1.0, alpha_p) * (w2.T @ delta_c)
    np.testing.assert_allclose(W3.weight.grad.numpy(), np.outer(delta_a, b), rtol=1e-10)
    np.testing.assert_allclose(W2.weight.grad.numpy(), np.outer(delta_c, d), rtol=1e-10)
    np.testing.assert_allclose(W1.weight.grad.numpy(), np.outer(delta_e, x), rtol=1e-10)
    np.testing.assert_allclose(prelu.weight.grad.numpy(), [np.sum(np.where(e > 0, 0.0, e) * (w2.T @ delta_c))],
                               rtol=1e-10)


def test_leaky_relu_jacobian_is_diagonal_alpha_or_one():
    # f = max(αg, g): ∂f_j/∂g_i = 0 (i≠j), α (αg_j > g_j), 1 otherwise
    g = t64([-1.5, 0.7, -0.2, 2.0], requires_grad=True)
    jac = np.stack([ag.grad(F.leaky_relu(g, 0.3)[j], [g])[0].numpy() for j in range(4)])
    np.testing.assert_allclose(jac, np.diag([0.3, 1.0, 0.3, 1.0]))


def test_label_smoothing_gradient_is_p_minus_smoothed_target():
    # q = (1−ε)·onehot + ε/K, L = −Σ q log softmax(x)  ⇒  ∂L/∂x = softmax(x) − q
    K, eps = 5, 0.1
    x = t64(RNG.normal(size=(3, K)), requires_grad=True)
    target = np.array([0, 3, 4])
    F.cross_entropy(x, ag.tensor(target), label_smoothing=eps, reduction="sum").backward()
    q = np.full((3, K), eps / K)
    q[np.arange(3), target] += 1 - eps
    p = np.exp(x.detach().numpy())
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(x.grad.numpy(), p - q, rtol=1e-10, atol=1e-14)
    # the same as cross-entropy against the smoothed probabilities
    smoothed = F.cross_entropy(x, t64(q), reduction="sum").item()
    assert np.isclose(F.cross_entropy(x, ag.tensor(target), label_smoothing=eps, reduction="sum").item(), smoothed)
