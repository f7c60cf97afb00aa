"""What issue 7's targets are measured against besides the references: the MLP step written by hand in numpy,
the floor of its matrix products, its kernels alone, the copy floor of an activation (cases for a
benchmarks.reference worker, built in the same process as numbagrad's step); and fresh-process
measurements. The steps themselves are benchmarks.cases.mlp_step.

Imports of autograd, nn, optim, numpy and torch happen inside the functions, so that run as a script in a
fresh process (``python -m benchmarks.target_steps MODE``) the time of the imports can be measured:

    import-ours    seconds for ``import autograd, nn, optim``, and whether any Numba kernel got compiled
    import-torch   seconds for ``import torch``
    first-ours     seconds for the imports + building the MLP + its first b128 training step
    first-torch    the same with PyTorch
    peak-ours      peak bytes allocated during one batch-512 MLP step (tracemalloc), numbagrad
    peak-numpy     the same for the hand-written numpy step

Each prints one JSON object.
"""
import json
import sys
import time

from benchmarks.cases import LR, MLP_SIZES, mlp_batch, mlp_step, uniform_weights


def mlp_weights():
    """The (weight (out, in), bias) pairs of benchmarks.cases.mlp_step's model, as numpy arrays."""
    arrays = uniform_weights(MLP_SIZES)
    return list(zip(arrays[0::2], arrays[1::2]))


# ------------------------------------------------------------------------ MLP: numpy by hand
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
    from autograd import kernels
    elementwise, rows, losses, updates = kernels.elementwise, kernels.rows, kernels.losses, kernels.updates
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
        elementwise.bias_relu_(h1, b1)
        np.matmul(h1, w2.T, out=h2)
        elementwise.bias_relu_(h2, b2)
        np.matmul(h2, w3.T, out=z)
        np.add(z, b3, out=z)
        logp = rows.log_softmax_forward(z)
        _, row_weights, loss_sum, weight_sum = losses.cross_entropy_rows(logp, y, None, -100)
        g3 = losses.cross_entropy_grad(logp, y, row_weights, 1.0 / weight_sum, one)
        np.dot(batch_ones, g3, out=db3)
        np.matmul(g3.T, h2, out=dw3)
        np.matmul(g3, w3, out=g2)
        elementwise.relu_backward_loop(g2.reshape(-1), h2.reshape(-1), gz2.reshape(-1))
        np.dot(batch_ones, gz2, out=db2)
        np.matmul(gz2.T, h1, out=dw2)
        np.matmul(gz2, w2, out=g1)
        elementwise.relu_backward_loop(g1.reshape(-1), h1.reshape(-1), gz1.reshape(-1))
        np.dot(batch_ones, gz1, out=db1)
        np.matmul(gz1.T, x, out=dw1)
        for p, g in flat:
            updates.axpy_(p, g, neg_lr)  # what SGD.step runs without momentum or weight decay
        return loss_sum / weight_sum
    return step


# -------------------------------------------------------- cases for benchmarks.reference workers
def numpy_mlp_case(batch):
    """:func:`numpy_mlp_step` on the weights and batch of benchmarks.cases.mlp_step."""
    return numpy_mlp_step(mlp_weights(), *mlp_batch(batch))


def floor_case(batch):
    return matmul_floor(batch)


def kernel_mlp_case(batch):
    return kernel_mlp_step(mlp_weights(), *mlp_batch(batch))


def copy_floor(n, threads=1):
    """Returns ``run()``: np.copyto(y, x) then np.copyto(dx, g) into preallocated arrays of n float32. That is
    4 array passes (read x, write y, read g, write dx): the least memory traffic that turns x and g into y
    and dx. A fused forward+backward makes 5 (its backward also reads y or x), so a perfect one sits at
    1.25x this floor; allocating fresh outputs (page faults) shows up against it at large n. With
    ``threads=2`` a second thread copies the second halves: the memory bandwidth of both cores, which
    numbagrad's elementwise kernels also use on large arrays."""
    import numpy as np
    rng = np.random.default_rng(0)
    x, g = rng.standard_normal(n, dtype=np.float32), rng.standard_normal(n, dtype=np.float32)
    y, dx = np.empty_like(x), np.empty_like(g)
    if threads == 1:
        def run():
            np.copyto(y, x)
            np.copyto(dx, g)
        return run
    from concurrent.futures import ThreadPoolExecutor
    pool = ThreadPoolExecutor(1)
    half = n // 2

    def second_half():
        np.copyto(y[half:], x[half:])
        np.copyto(dx[half:], g[half:])

    def run_two():
        other = pool.submit(second_half)
        np.copyto(y[:half], x[:half])
        np.copyto(dx[:half], g[:half])
        other.result()
    return run_two


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


def _first_step(engine, t0):
    if engine == "numbagrad":
        import autograd  # noqa: F401  (timed: part of what a new process pays)
    else:
        import torch  # noqa: F401
    mlp_step(engine, 128)  # builds the model and runs its first step
    return time.perf_counter() - t0


def _peak(kind):
    """Peak bytes allocated during one batch-512 step, after two untraced steps (so lazily created state
    such as gradient buffers, optimizer state and loaded kernels exists, as in a training loop)."""
    import tracemalloc
    step = mlp_step("numbagrad", 512) if kind == "ours" else numpy_mlp_case(512)
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
        result = {"seconds": _first_step("numbagrad", t0)}
    elif mode == "first-torch":
        result = {"seconds": _first_step("torch", t0)}
    elif mode in ("peak-ours", "peak-numpy"):
        result = {"bytes": _peak(mode.split("-")[1])}
    else:
        raise SystemExit(f"unknown mode {mode!r}: see the docstring of benchmarks/target_steps.py")
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1])
