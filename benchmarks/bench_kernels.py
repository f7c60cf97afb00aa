"""Fused activation forward+backward: numbagrad kernels vs numpy multi-pass vs torch.

Run: python benchmarks/bench_kernels.py [--quick] [--torch-threads (keep torch default threads)]
Each row times forward then backward (two calls, as the autograd engine makes
them) on float32 data; numpy does the same math in several whole-array passes.
torch (optional) uses its forward op and its dedicated backward op
(aten.sigmoid_backward, tanh_backward, threshold_backward, gelu_backward).
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common import fmt_ratio, fmt_time, print_table, timeit_median, torch_or_none  # noqa: E402

from autograd import kernels  # noqa: E402

K0 = np.float32(np.sqrt(2.0 / np.pi))
K1 = np.float32(0.044715)


def ours(name):
    if name == "sigmoid":
        return lambda x, g: kernels.sigmoid_backward(g, kernels.sigmoid_forward(x))
    if name == "tanh":
        return lambda x, g: kernels.tanh_backward(g, kernels.tanh_forward(x))
    if name == "relu":
        return lambda x, g: kernels.relu_backward(g, kernels.relu_forward(x))
    approx = "tanh" if name == "gelu_tanh" else "none"
    return lambda x, g: (kernels.gelu_forward(x, approx), kernels.gelu_backward(g, x, approx))


def numpy_multipass(name):
    if name == "sigmoid":
        def f(x, g):
            s = 1 / (1 + np.exp(-x))
            return s, g * s * (1 - s)
    elif name == "tanh":
        def f(x, g):
            t = np.tanh(x)
            return t, g * (1 - t * t)
    elif name == "relu":
        def f(x, g):
            y = np.maximum(x, 0)
            return y, np.where(y > 0, g, 0)
    elif name == "gelu_tanh":
        def f(x, g):
            x2 = x * x
            t = np.tanh(K0 * (x + K1 * x2 * x))
            y = 0.5 * x * (1 + t)
            dy = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * K0 * (1 + 3 * K1 * x2)
            return y, g * dy
    else:
        return None  # numpy has no erf
    return f


def torch_fn(torch, name):
    aten = torch.ops.aten
    if name == "sigmoid":
        def f(x, g):
            y = torch.sigmoid(x)
            return aten.sigmoid_backward(g, y)
    elif name == "tanh":
        def f(x, g):
            y = torch.tanh(x)
            return aten.tanh_backward(g, y)
    elif name == "relu":
        def f(x, g):
            y = torch.relu(x)
            return aten.threshold_backward(g, y, 0)
    else:
        approx = "tanh" if name == "gelu_tanh" else "none"

        def f(x, g):
            y = torch.nn.functional.gelu(x, approximate=approx)
            return y, aten.gelu_backward(g, x, approximate=approx)
    return f


def bench_activations(sizes, names=("sigmoid", "tanh", "relu", "gelu_tanh", "gelu_erf")):
    torch = torch_or_none()
    rng = np.random.default_rng(0)
    rows = []
    for n in sizes:
        x = (rng.standard_normal(n) * 3).astype(np.float32)
        g = rng.standard_normal(n).astype(np.float32)
        xt = gt = None
        if torch is not None:
            xt, gt = torch.from_numpy(x), torch.from_numpy(g)
        repeat = 5 if n >= 10**7 else 7
        for name in names:
            t_ours = timeit_median(lambda f=ours(name): f(x, g), repeat=repeat)
            fnp = numpy_multipass(name)
            t_np = timeit_median(lambda: fnp(x, g), repeat=repeat) if fnp else float("nan")
            if torch is not None:
                ft = torch_fn(torch, name)
                t_t = timeit_median(lambda: ft(xt, gt), repeat=repeat)
            else:
                t_t = float("nan")
            rows.append([f"{n:.0e}", name, fmt_time(t_ours), fmt_time(t_np), fmt_time(t_t),
                         fmt_ratio(t_np / t_ours) if fnp else "-",
                         fmt_ratio(t_t / t_ours) if torch is not None else "-"])
    return rows


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    kernels.warm_up(("float32",))
    torch = torch_or_none()
    if torch is not None and "--torch-threads" not in argv:
        # Ours is serial; torch's default 2-thread pool showed 8-16 ms stalls
        # per op on the shared 2-core machine, so compare like with like.
        torch.set_num_threads(1)
    sizes = [10**4, 10**6] if "--quick" in argv else [10**4, 10**6, 10**7]
    tnote = f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)" if torch else "torch not installed"
    print_table(
        f"float32 activation forward+backward, median per fwd+bwd ({tnote}; ours is serial)",
        ["n", "activation", "ours", "numpy", "torch", "numpy/ours", "torch/ours"],
        bench_activations(sizes),
    )


if __name__ == "__main__":
    main()
