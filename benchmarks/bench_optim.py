"""One optimizer step over 1M float32 parameters in four tensors (an MLP's 1000x800, 800, 200x1000, 200),
for SGD with momentum and for Adam: numbagrad (one fused Numba pass per tensor: ``autograd.sgd_step_`` /
``autograd.adam_step_``) vs a numpy reference (the same update as in-place numpy ufuncs, several passes)
vs PyTorch's ``torch.optim`` (its default implementation, with its default threads and with one)."""
import numpy as np

from benchmarks.common import fmt_ratio, fmt_time, print_table, timeit_median, torch_or_none

import autograd as ag
import optim

SHAPES = [(1000, 800), (800,), (200, 1000), (200,)]
LR, MOMENTUM, BETAS, EPS = 1e-3, 0.9, (0.9, 0.999), 1e-8


def _numpy_sgd(params, grads):
    bufs = [g.copy() for g in grads]

    def step():
        for p, g, b in zip(params, grads, bufs):
            b *= MOMENTUM
            b += g
            p -= LR * b
    return step


def _numpy_adam(params, grads):
    ms = [np.zeros_like(p) for p in params]
    vs = [np.zeros_like(p) for p in params]
    t = [0]
    b1, b2 = BETAS

    def step():
        t[0] += 1
        bc1, bc2 = 1 - b1 ** t[0], 1 - b2 ** t[0]
        for p, g, m, v in zip(params, grads, ms, vs):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            denom = np.sqrt(v)
            denom /= np.sqrt(bc2)
            denom += EPS
            p -= (LR / bc1) * m / denom
    return step


def _ours(kind, arrays, grads):
    params = [ag.tensor(a.copy(), requires_grad=True) for a in arrays]
    for p, g in zip(params, grads):
        p.grad = ag.tensor(g)
    opt = optim.SGD(params, lr=LR, momentum=MOMENTUM) if kind == "sgd" else optim.Adam(params, lr=LR, betas=BETAS)
    return opt.step


def _torch(torch, kind, arrays, grads):
    params = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    for p, g in zip(params, grads):
        p.grad = torch.tensor(g)
    if kind == "sgd":
        opt = torch.optim.SGD(params, lr=LR, momentum=MOMENTUM)
    else:
        opt = torch.optim.Adam(params, lr=LR, betas=BETAS)
    return opt.step


def main(repeat=15):
    torch = torch_or_none()
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    grads = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    n = sum(a.size for a in arrays)
    rows = []
    for kind, label in (("sgd", "SGD momentum"), ("adam", "Adam")):
        ours = timeit_median(_ours(kind, arrays, grads), repeat=repeat)
        reference = (_numpy_sgd if kind == "sgd" else _numpy_adam)([a.copy() for a in arrays], grads)
        numpy_t = timeit_median(reference, repeat=repeat)
        torch_t = torch_1 = float("nan")
        if torch is not None:
            threads = torch.get_num_threads()
            torch_t = timeit_median(_torch(torch, kind, arrays, grads), repeat=repeat)
            torch.set_num_threads(1)
            try:
                torch_1 = timeit_median(_torch(torch, kind, arrays, grads), repeat=repeat)
            finally:
                torch.set_num_threads(threads)
        rows.append([label, f"{n / 1e6:.2f}M", fmt_time(ours), fmt_time(numpy_t), fmt_time(torch_t),
                     fmt_time(torch_1), fmt_ratio(numpy_t / ours), fmt_ratio(torch_t / ours),
                     fmt_ratio(torch_1 / ours)])
    threads = torch.get_num_threads() if torch is not None else "-"
    print_table(f"optimizer step, float32, 4 tensors (median per step; speedup = their time / ours; "
                f"torch threads: {threads} and 1)",
                ["optimizer", "params", "numbagrad", "numpy", "torch", "torch 1 thr", "vs numpy",
                 "vs torch", "vs torch 1 thr"], rows)


if __name__ == "__main__":
    main()
