"""numbagrad demo: logistic regression by plain gradient descent, then a gradient check.

Run with ``make demo`` (sets everything up first) or ``python demo.py`` inside the virtual environment.

The model is p = σ(Xw + b) and the loss the mean binary cross-entropy, written in its stable form
    BCE(z, y) = max(z, 0) − z·y + log(1 + e^(−|z|)),   z = Xw + b,
whose gradient the course derives by hand: ∂L/∂w = Xᵀ(σ(z) − y)/N, ∂L/∂b = mean(σ(z) − y).
"""
import numpy as np

import autograd as ag


def make_data(n=400, features=2, seed=0):
    """Two Gaussian blobs, labelled 0 and 1."""
    ag.manual_seed(seed)
    y = (ag.rand(n) < 0.5).float()
    centres = ag.where(y.unsqueeze(1) > 0.5, ag.tensor([1.5, 1.0]), ag.tensor([-1.0, -1.5]))
    X = centres + ag.randn(n, features)
    return X, y


def bce_with_logits(z, y):
    """Mean binary cross-entropy of logits z against labels y, stable for any z."""
    return (ag.clamp(z, min=0) - z * y + ag.log1p(ag.exp(-z.abs()))).mean()


def main(steps=200, lr=0.5):
    X, y = make_data()
    w = ag.zeros(2, requires_grad=True)
    b = ag.zeros(1, requires_grad=True)

    print("Logistic regression on 400 points, plain gradient descent (lr = %.2f)" % lr)
    for step in range(steps + 1):
        loss = bce_with_logits(X @ w + b, y)
        w.grad = b.grad = None
        loss.backward()
        with ag.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        if step % 40 == 0:
            accuracy = ((X @ w + b > 0).float() == y).float().mean().item()
            print(f"  step {step:4d}   loss {loss.item():.4f}   accuracy {accuracy:.3f}")

    # The course's hand-derived gradient against autograd's, at the trained weights.
    with ag.no_grad():
        residual = ag.sigmoid(X @ w + b) - y
        hand_w = (X.T @ residual) / len(y)
    loss = bce_with_logits(X @ w + b, y)
    auto_w, = ag.grad(loss, [w])
    print(f"\n|autograd ∂L/∂w − Xᵀ(σ(z) − y)/N|max = {np.abs(auto_w.numpy() - hand_w.numpy()).max():.2e}")

    # Finite differences in float64 on a small batch: the full Jacobian of the loss.
    Xs, ys = X[:16].double(), y[:16].double()
    ok = ag.gradcheck(lambda w_, b_: bce_with_logits(Xs @ w_ + b_, ys),
                      [w.detach().double().requires_grad_(), b.detach().double().requires_grad_()])
    print(f"gradcheck(loss, [w, b]) in float64: {'passed' if ok else 'FAILED'}")
    print(f"learned w = {w.detach().numpy().round(3)}, b = {b.detach().numpy().round(3)}")


if __name__ == "__main__":
    main()
