"""Activation forward + backward through the Tensor API, float32, at 1e4, 1e6 and 1e7 elements:
numbagrad (one fused Numba pass forward, one backward) vs numpy's multi-pass formulas vs PyTorch."""
import math

import numpy as np

from benchmarks.common import fmt_ratio, fmt_time, print_table, timeit_median, torch_or_none

import autograd as ag


def _erf(x):
    from math import erf
    return np.vectorize(erf, otypes=[x.dtype])(x)


NUMPY = {
    "sigmoid": lambda x, g: (lambda s: (s, g * s * (1 - s)))(1 / (1 + np.exp(-x))),
    "tanh": lambda x, g: (lambda t: (t, g * (1 - t * t)))(np.tanh(x)),
    "relu": lambda x, g: (lambda r: (r, g * (r > 0)))(np.maximum(x, 0)),
    "gelu(tanh)": lambda x, g: _numpy_gelu_tanh(x, g),
}


def _numpy_gelu_tanh(x, g):
    c = np.float32(math.sqrt(2 / math.pi))
    inner = c * (x + np.float32(0.044715) * x ** 3)
    t = np.tanh(inner)
    y = 0.5 * x * (1 + t)
    dy = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + np.float32(3 * 0.044715) * x * x)
    return y, g * dy


def _ours(name, x, g):
    fn = {"sigmoid": ag.sigmoid, "tanh": ag.tanh, "relu": ag.relu,
          "gelu(tanh)": lambda t: ag.gelu(t, approximate="tanh")}[name]

    def run():
        y = fn(x)
        y.backward(g)
        x.grad = None
    return run


def _torch(torch, name, x, g):
    fn = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
          "gelu(tanh)": lambda t: torch.nn.functional.gelu(t, approximate="tanh")}[name]

    def run():
        y = fn(x)
        y.backward(g)
        x.grad = None
    return run


def main(sizes=(10_000, 1_000_000, 10_000_000)):
    torch = torch_or_none()
    rng = np.random.default_rng(0)
    rows = []
    for n in sizes:
        x_np = rng.standard_normal(n, dtype=np.float32)
        g_np = rng.standard_normal(n, dtype=np.float32)
        x, g = ag.tensor(x_np, requires_grad=True), ag.tensor(g_np)
        repeat = 5 if n >= 10_000_000 else 9
        for name in NUMPY:
            ours = timeit_median(_ours(name, x, g), repeat=repeat)
            numpy_time = timeit_median(lambda: NUMPY[name](x_np, g_np), repeat=repeat)
            torch_time = float("nan")
            if torch is not None:
                tx = torch.from_numpy(x_np.copy()).requires_grad_()
                torch_time = timeit_median(_torch(torch, name, tx, torch.from_numpy(g_np)), repeat=repeat)
            rows.append([f"{n:.0e}", name, fmt_time(ours), fmt_time(numpy_time), fmt_time(torch_time),
                         fmt_ratio(numpy_time / ours), fmt_ratio(torch_time / ours)])
    print_table("Activation forward+backward, float32, through the Tensor API (median; ratio > 1: we are faster)",
                ["n", "op", "numbagrad", "numpy multi-pass", "torch", "numpy/ours", "torch/ours"], rows)


if __name__ == "__main__":
    main()
