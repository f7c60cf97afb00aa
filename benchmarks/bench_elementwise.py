"""Activation forward + backward through the Tensor API, float32, at 1e4, 1e6 and 1e7 elements:
numbagrad (one fused Numba pass forward, one backward) vs numpy's multi-pass formulas (in numbagrad's
process) vs PyTorch (in its own process), interleaved. The steps: benchmarks.cases.activation."""
import math

from benchmarks.common import fmt_ratio, fmt_time, interleaved_times, paired, print_table
from benchmarks.reference import SETTLE, Sides, print_notes

NAMES = ("sigmoid", "tanh", "relu", "gelu_tanh")


def _gelu_tanh(np, x, g):
    c = np.float32(math.sqrt(2 / math.pi))
    inner = c * (x + np.float32(0.044715) * x ** 3)
    t = np.tanh(inner)
    y = 0.5 * x * (1 + t)
    dy = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + np.float32(3 * 0.044715) * x * x)
    return y, g * dy


def numpy_activation(name, n):
    """The activation and its gradient as numpy formulas (several passes), on the inputs of cases.activation."""
    import numpy as np
    rng = np.random.default_rng(0)
    x, g = rng.standard_normal(n, dtype=np.float32), rng.standard_normal(n, dtype=np.float32)
    formulas = {
        "sigmoid": lambda: (lambda s: (s, g * s * (1 - s)))(1 / (1 + np.exp(-x))),
        "tanh": lambda: (lambda t: (t, g * (1 - t * t)))(np.tanh(x)),
        "relu": lambda: (lambda r: (r, g * (r > 0)))(np.maximum(x, 0)),
        "gelu_tanh": lambda: _gelu_tanh(np, x, g),
    }
    return formulas[name]


def main(quick=False, sizes=(10_000, 1_000_000, 10_000_000)):
    notes = {}
    rows = []
    for n in (sizes[:2] if quick else sizes):
        repeat = 3 if quick else (5 if n >= 10_000_000 else 9)
        with Sides(notes) as sides:
            for name in NAMES:
                fns = {"ours": sides.case("numbagrad", "activation", engine="numbagrad", name=name, n=n),
                       "numpy": sides.case("numbagrad", "benchmarks.bench_elementwise:numpy_activation",
                                           name=name, n=n),
                       "torch": sides.case("torch", "activation", engine="torch", name=name, n=n)}
                times = interleaved_times(fns, repeat=repeat, settle=SETTLE)
                ours, numpy_t, vs_numpy = paired(times, "ours", "numpy")
                _, torch_t, vs_torch = paired(times, "ours", "torch")
                rows.append([f"{n:.0e}", name, fmt_time(ours), fmt_time(numpy_t), fmt_time(torch_t),
                             fmt_ratio(1 / vs_numpy), fmt_ratio(1 / vs_torch)])
    print_table("Activation forward+backward, float32, through the Tensor API (medians; ratios = medians of "
                "paired ratios, > 1: we are faster)",
                ["n", "op", "numbagrad", "numpy multi-pass", "torch", "numpy/ours", "torch/ours"], rows, left=2)
    print_notes(notes)


if __name__ == "__main__":
    import sys
    main(quick="--quick" in sys.argv)
