"""A 3-layer MLP (784-128-64-10, batch 64) written with Tensor ops: one training step, shared by the
startup and MLP benchmarks. Run as a script it times ``import autograd`` and the first step."""
import time

T0 = time.perf_counter()
import autograd as ag  # noqa: E402

T_IMPORT = time.perf_counter() - T0


def make_model(seed=0, sizes=(784, 128, 64, 10)):
    ag.manual_seed(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = (6 / (fan_in + fan_out)) ** 0.5
        params.append(((ag.rand(fan_in, fan_out) * 2 - 1) * bound).requires_grad_())
        params.append(ag.zeros(fan_out, requires_grad=True))
    return params


def make_batch(batch=64, features=784, classes=10):
    return ag.randn(batch, features), ag.randint(0, classes, (batch,))


def step(params, x, y, lr=0.1):
    """Forward, cross-entropy, backward and an SGD update; returns the loss."""
    h = x
    for i in range(0, len(params), 2):
        h = h @ params[i] + params[i + 1]
        if i + 2 < len(params):
            h = h.relu()
    loss = -h.log_softmax(dim=1)[ag.arange(len(y)), y].mean()
    for p in params:
        p.grad = None
    loss.backward()
    with ag.no_grad():
        for p in params:
            p -= lr * p.grad
    return loss


if __name__ == "__main__":
    params = make_model()
    x, y = make_batch()
    t = time.perf_counter()
    step(params, x, y)
    first = time.perf_counter() - t
    print(f"{T_IMPORT:.6f} {first:.6f}")
