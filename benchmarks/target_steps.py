"""The training steps that issue 7's targets are measured on, for numbagrad, numpy by hand and PyTorch.

Imports of autograd, nn, optim, numpy and torch happen inside the functions, so that run as a script in a
fresh process (``python -m benchmarks.target_steps MODE``) the time of the imports can be measured:

    import-ours    seconds for ``import autograd, nn, optim``, and whether any Numba kernel got compiled
    import-torch   seconds for ``import torch``
    first-ours     seconds for the imports + building the MLP + its first training step
    first-torch    the same with PyTorch
    peak-ours      peak bytes allocated during one batch-512 MLP step (tracemalloc), numbagrad
    peak-numpy     the same for the hand-written numpy step

Each prints one JSON object.
"""
import json
import sys
import time

MLP_SIZES = (784, 256, 256, 10)
LR = 0.01
CNN_CHANNELS = 8


# ------------------------------------------------------------------------------------------ data
def mlp_batch(batch, seed=0):
    """float32 inputs (batch, 784) and int64 class labels, as numpy arrays."""
    import numpy as np
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((batch, MLP_SIZES[0]), dtype=np.float32),
            rng.integers(0, MLP_SIZES[-1], batch).astype(np.int64))


# ------------------------------------------------------------------------------ MLP: numbagrad
def ours_mlp(seed=0):
    """784-256-256-10 ReLU MLP from nn.Linear layers, with its SGD optimizer."""
    import autograd as ag
    import nn
    import optim
    ag.manual_seed(seed)
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(MLP_SIZES[:-1], MLP_SIZES[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(MLP_SIZES) - 2:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    return model, optim.SGD(model.parameters(), lr=LR)


def ours_step(model, opt, x_np, y_np):
    """Returns ``step()`` of a classifier: forward, cross-entropy, backward, optimizer update."""
    import autograd as ag
    import nn
    x, y = ag.tensor(x_np), ag.tensor(y_np)
    cross_entropy = nn.functional.cross_entropy

    def step():
        opt.zero_grad()
        loss = cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


# ------------------------------------------------------------------------ MLP: numpy by hand
def numpy_mlp_weights(model):
    """Copies of a numbagrad model's (weight (out, in), bias) pairs as numpy arrays."""
    import nn
    return [(m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy())
            for m in model if isinstance(m, nn.Linear)]


def numpy_mlp_step(weights, x, y):
    """The same step written by hand in numpy: what a person would write for exactly this model.
    Eight matrix products (3 forward, 2 per layer backward but none for the input's gradient)."""
    import numpy as np
    (w1, b1), (w2, b2), (w3, b3) = weights
    batch = len(x)
    rows = np.arange(batch)

    def step():
        a1 = x @ w1.T
        a1 += b1
        h1 = np.maximum(a1, 0)
        a2 = h1 @ w2.T
        a2 += b2
        h2 = np.maximum(a2, 0)
        z = h2 @ w3.T
        np.add(z, b3, out=z)
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        loss = float(np.log(s[:, 0]).mean() - z[rows, y].mean())
        g3 = e / s
        g3[rows, y] -= 1
        g3 /= batch
        dw3, db3 = g3.T @ h2, g3.sum(axis=0)
        g2 = g3 @ w3
        g2 *= a2 > 0
        dw2, db2 = g2.T @ h1, g2.sum(axis=0)
        g1 = g2 @ w2
        g1 *= a1 > 0
        dw1, db1 = g1.T @ x, g1.sum(axis=0)
        for p, g in ((w1, dw1), (b1, db1), (w2, dw2), (b2, db2), (w3, dw3), (b3, db3)):
            p -= LR * g
        return loss
    return step


def matmul_floor(batch, seed=1):
    """Returns ``run()``: the eight matrix products of one step alone (operands made beforehand, with the
    shapes and memory layouts of :func:`numpy_mlp_step`): the floor for any implementation on numpy's BLAS."""
    import numpy as np
    rng = np.random.default_rng(seed)
    f32 = np.float32
    d0, d1, d2, d3 = MLP_SIZES
    x = rng.standard_normal((batch, d0), dtype=f32)
    w1, w2, w3 = (rng.standard_normal((o, i), dtype=f32) for i, o in ((d0, d1), (d1, d2), (d2, d3)))
    h1, h2 = rng.standard_normal((batch, d1), dtype=f32), rng.standard_normal((batch, d2), dtype=f32)
    g3 = rng.standard_normal((batch, d3), dtype=f32)
    g2, g1 = rng.standard_normal((batch, d2), dtype=f32), rng.standard_normal((batch, d1), dtype=f32)

    def run():
        return (x @ w1.T, h1 @ w2.T, h2 @ w3.T,          # forward
                g3.T @ h2, g3 @ w3, g2.T @ h1, g2 @ w2, g1.T @ x)  # backward
    return run


def kernel_mlp_step(weights, x, y):
    """numbagrad's step with the framework taken away: the same BLAS calls (products, column sums, axpy)
    and Numba kernels (fused bias+ReLU, ReLU backward, cross-entropy) on preallocated arrays, called
    directly, with no Tensors, graph or optimizer objects. What the step would cost if numbagrad's Python overhead were
    zero: a floor for the step's arithmetic on this machine (a bound for the targets, not a competitor).
    ``weights`` are updated in place, as by :func:`numpy_mlp_step`."""
    import numpy as np
    from autograd.lazy_kernels import kernels
    k = kernels()
    (w1, b1), (w2, b2), (w3, b3) = weights
    f32 = np.float32
    batch = len(x)
    h1, h2 = np.empty((batch, w1.shape[0]), f32), np.empty((batch, w2.shape[0]), f32)
    z, g2, g1 = np.empty((batch, w3.shape[0]), f32), np.empty_like(h2), np.empty_like(h1)
    gz2, gz1 = np.empty_like(h2), np.empty_like(h1)  # separate outputs: an aliased kernel stays scalar
    grads = [np.empty_like(a) for pair in weights for a in pair]
    dw1, db1, dw2, db2, dw3, db3 = grads
    flat = [(p.reshape(-1), g.reshape(-1)) for p, g in zip([a for pair in weights for a in pair], grads)]
    neg_lr = f32(-LR)
    one = np.ones(1, f32)
    batch_ones = np.ones(batch, f32)  # bias gradients: column sums as BLAS gemv, as autograd.blas.column_sums

    def step():
        np.matmul(x, w1.T, out=h1)
        k.bias_relu_(h1, b1)
        np.matmul(h1, w2.T, out=h2)
        k.bias_relu_(h2, b2)
        np.matmul(h2, w3.T, out=z)
        np.add(z, b3, out=z)
        logp = k.log_softmax_forward(z)
        _, row_weights, loss_sum, weight_sum = k.cross_entropy_rows(logp, y, None, -100)
        g3 = k.cross_entropy_grad(logp, y, row_weights, 1.0 / weight_sum, one)
        np.dot(batch_ones, g3, out=db3)
        np.matmul(g3.T, h2, out=dw3)
        np.matmul(g3, w3, out=g2)
        k._relu_bwd(g2.reshape(-1), h2.reshape(-1), gz2.reshape(-1))
        np.dot(batch_ones, gz2, out=db2)
        np.matmul(gz2.T, h1, out=dw2)
        np.matmul(gz2, w2, out=g1)
        k._relu_bwd(g1.reshape(-1), h1.reshape(-1), gz1.reshape(-1))
        np.dot(batch_ones, gz1, out=db1)
        np.matmul(gz1.T, x, out=dw1)
        for p, g in flat:
            k.axpy_(p, g, neg_lr)  # what SGD.step runs without momentum or weight decay
        return loss_sum / weight_sum
    return step


# ------------------------------------------------------------------------------- MLP: PyTorch
def torch_mlp(torch, model=None, seed=0):
    """The same MLP in PyTorch (weights copied from a numbagrad model if given) and its SGD optimizer."""
    torch.manual_seed(seed)
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(MLP_SIZES[:-1], MLP_SIZES[1:])):
        layers.append(torch.nn.Linear(fan_in, fan_out))
        if i < len(MLP_SIZES) - 2:
            layers.append(torch.nn.ReLU())
    tmodel = torch.nn.Sequential(*layers)
    if model is not None:
        copy_parameters(torch, model, tmodel)
    return tmodel, torch.optim.SGD(tmodel.parameters(), lr=LR)


def copy_parameters(torch, model, tmodel):
    with torch.no_grad():
        for p, tp in zip(model.parameters(), tmodel.parameters()):
            tp.copy_(torch.from_numpy(p.detach().numpy()))


def torch_step(torch, tmodel, opt, x_np, y_np):
    x, y = torch.from_numpy(x_np.copy()), torch.from_numpy(y_np.copy())
    cross_entropy = torch.nn.functional.cross_entropy

    def step():
        opt.zero_grad()
        loss = cross_entropy(tmodel(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


# ------------------------------------------------------------------------------------ small CNN
def cnn_batch(batch=64, seed=0):
    import numpy as np
    rng = np.random.default_rng(seed)
    return rng.standard_normal((batch, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, batch).astype(np.int64)


def ours_cnn(seed=0):
    """Conv2d(1, 8, 3) → ReLU → MaxPool2d(2) → Flatten → Linear(8·13·13, 10), with SGD."""
    import autograd as ag
    import nn
    import optim
    ag.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(1, CNN_CHANNELS, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(CNN_CHANNELS * 13 * 13, 10))
    return model, optim.SGD(model.parameters(), lr=LR)


def torch_cnn(torch, model):
    tmodel = torch.nn.Sequential(torch.nn.Conv2d(1, CNN_CHANNELS, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                 torch.nn.Flatten(), torch.nn.Linear(CNN_CHANNELS * 13 * 13, 10))
    copy_parameters(torch, model, tmodel)
    return tmodel, torch.optim.SGD(tmodel.parameters(), lr=LR)


# --------------------------------------------------------------------- fresh-process measurements
def _compiled_kernels():
    """Names of Numba dispatchers in numbagrad's modules that hold a compiled signature (loading one from
    the disk cache counts too); empty when numba was not even imported."""
    if "numba" not in sys.modules:
        return []
    found = []
    for name, module in list(sys.modules.items()):
        if module is None or name.split(".")[0] not in ("autograd", "nn", "optim"):
            continue
        for attr, obj in list(vars(module).items()):
            if hasattr(obj, "py_func") and getattr(obj, "signatures", None):
                found.append(f"{name}.{attr}")
    return found


def _first_step_ours(t0):
    import autograd  # noqa: F401  (timed: part of what a new process pays)
    model, opt = ours_mlp()
    x, y = mlp_batch(128)
    ours_step(model, opt, x, y)()
    return time.perf_counter() - t0


def _first_step_torch(t0):
    import torch
    tmodel, opt = torch_mlp(torch)
    x, y = mlp_batch(128)
    torch_step(torch, tmodel, opt, x, y)()
    return time.perf_counter() - t0


def _peak(kind):
    """Peak bytes allocated during one batch-512 step, after two untraced steps (so lazily created state
    such as gradient buffers, optimizer state and loaded kernels exists, as in a training loop)."""
    import tracemalloc
    x, y = mlp_batch(512)
    model, opt = ours_mlp()
    if kind == "ours":
        step = ours_step(model, opt, x, y)
    else:
        step = numpy_mlp_step(numpy_mlp_weights(model), x, y)
    step()
    step()
    tracemalloc.start()
    step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main(mode):
    t0 = time.perf_counter()
    if mode == "import-ours":
        import autograd  # noqa: F401
        import nn  # noqa: F401
        import optim  # noqa: F401
        result = {"seconds": time.perf_counter() - t0, "numba_imported": "numba" in sys.modules,
                  "compiled": _compiled_kernels()}
    elif mode == "import-torch":
        import torch  # noqa: F401
        result = {"seconds": time.perf_counter() - t0}
    elif mode == "first-ours":
        result = {"seconds": _first_step_ours(t0)}
    elif mode == "first-torch":
        result = {"seconds": _first_step_torch(t0)}
    elif mode in ("peak-ours", "peak-numpy"):
        result = {"bytes": _peak(mode.split("-")[1])}
    else:
        raise SystemExit(f"unknown mode {mode!r}: see the docstring of benchmarks/target_steps.py")
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1])
