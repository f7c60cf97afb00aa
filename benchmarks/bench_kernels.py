"""Fused activation forward+backward: numbagrad kernels and Tensor ops vs torch autograd vs the copy floor.

Run: python benchmarks/bench_kernels.py [--quick] [--threads] [--torch-1-thread]

Default table: per activation and size, float32, the median time of one forward+backward
  kernels  the kernel calls alone, as the engine makes them (forward, then backward from what the
           forward saved);
  tensor   y = act(x); y.backward(g) through the Tensor API (includes the engine's work: the copy of
           the gradient into x.grad, graph bookkeeping);
  torch    the same through torch autograd (default threads, as the targets in bench_targets);
  floor    np.copyto(y, x) + np.copyto(dx, g) into preallocated arrays (4 passes over n floats).
All implementations are interleaved (common.interleaved_times).

--threads: serial vs two-thread timings of single kernel calls over a range of sizes (how the
PARALLEL_MIN_* thresholds in autograd/kernels/elementwise.py were chosen), and a sigmoid right after a BLAS
product (OpenBLAS threads keep spinning after it, so the helper thread finds no free core).
"""

from __future__ import annotations

import os
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common import fmt_ratio, fmt_time, interleaved_times, print_table, torch_or_none  # noqa: E402

import autograd as ag  # noqa: E402
from autograd.kernels import elementwise, threads, warmup  # noqa: E402

ACTIVATIONS = ("relu", "sigmoid", "tanh", "gelu", "gelu_tanh")


def kernel_pair(name, x, g):
    """One forward+backward with the kernel calls the autograd ops make."""
    if name in ("sigmoid", "tanh", "relu"):
        fwd, bwd = getattr(elementwise, f"{name}_forward"), getattr(elementwise, f"{name}_backward")
        return lambda: bwd(g, fwd(x))
    approx = "tanh" if name == "gelu_tanh" else "none"

    def run():
        _, derivative = elementwise.gelu_forward(x, approx, with_derivative=True)
        return elementwise.gelu_backward_from_derivative(g, derivative)
    return run


def ours_tensor_fn(name):
    if name == "gelu_tanh":
        return lambda t: ag.gelu(t, approximate="tanh")
    return getattr(ag, name)


def torch_tensor_fn(torch, name):
    if name == "gelu":
        return torch.nn.functional.gelu
    if name == "gelu_tanh":
        return lambda t: torch.nn.functional.gelu(t, approximate="tanh")
    return getattr(torch, name)


def fwd_bwd(fn, x, g):
    def run():
        fn(x).backward(g)
        x.grad = None
    return run


def copy_floor(x, g):
    y, dx = np.empty_like(x), np.empty_like(g)

    def run():
        np.copyto(y, x)
        np.copyto(dx, g)
    return run


def bench_activations(sizes, torch, names=ACTIVATIONS):
    rng = np.random.default_rng(0)
    rows = []
    for n in sizes:
        x = rng.standard_normal(n, dtype=np.float32)
        g = rng.standard_normal(n, dtype=np.float32)
        xa, ga = ag.tensor(x, requires_grad=True), ag.tensor(g)
        xt = gt = None
        if torch is not None:
            xt, gt = torch.from_numpy(x.copy()).requires_grad_(), torch.from_numpy(g.copy())
        repeat = 7 if n >= 10**7 else 11
        for name in names:
            fns = {"kernels": kernel_pair(name, x, g), "tensor": fwd_bwd(ours_tensor_fn(name), xa, ga),
                   "floor": copy_floor(x, g),
                   "torch": fwd_bwd(torch_tensor_fn(torch, name), xt, gt) if torch is not None else None}
            times = interleaved_times(fns, repeat=repeat)
            med = {k: statistics.median(v) if v else float("nan") for k, v in times.items()}
            rows.append([f"{n:.0e}", name, fmt_time(med["kernels"]), fmt_time(med["tensor"]), fmt_time(med["torch"]),
                         fmt_time(med["floor"]), fmt_ratio(med["tensor"] / med["torch"]),
                         fmt_ratio(med["tensor"] / med["floor"])])
    return rows


def bench_threads(sizes):
    """Serial vs split, one kernel call per timing, float32."""
    rng = np.random.default_rng(1)
    cases = {
        "relu fwd (memory)": lambda x, g: elementwise.relu_forward(x),
        "sigmoid bwd (memory)": lambda x, g: elementwise.sigmoid_backward(g, x),
        "sigmoid fwd": lambda x, g: elementwise.sigmoid_forward(x),
        "tanh fwd": lambda x, g: elementwise.tanh_forward(x),
        "gelu fwd+derivative": lambda x, g: elementwise.gelu_forward(x, with_derivative=True),
    }
    rows = []
    saved = elementwise.PARALLEL_MIN_MATH, elementwise.PARALLEL_MIN_MEMORY, threads.ENABLED
    try:
        elementwise.PARALLEL_MIN_MATH = elementwise.PARALLEL_MIN_MEMORY = 0
        for n in sizes:
            x = rng.standard_normal(n, dtype=np.float32)
            g = rng.standard_normal(n, dtype=np.float32)
            for what, call in cases.items():
                def serial(call=call):
                    threads.ENABLED = False
                    call(x, g)

                def split(call=call):
                    threads.ENABLED = True
                    threads.reset_backoff()
                    call(x, g)
                times = interleaved_times({"serial": serial, "split": split}, repeat=15)
                s, t = statistics.median(times["serial"]), statistics.median(times["split"])
                rows.append([f"{n:.0e}", what, fmt_time(s), fmt_time(t), fmt_ratio(t / s)])
    finally:
        elementwise.PARALLEL_MIN_MATH, elementwise.PARALLEL_MIN_MEMORY, threads.ENABLED = saved
    return rows


def bench_after_blas(sizes):
    """A 512x784 @ 784x256 float32 product, then a sigmoid: serial kernel vs the default dispatch."""
    rng = np.random.default_rng(2)
    a = rng.standard_normal((512, 784), dtype=np.float32)
    b = rng.standard_normal((784, 256), dtype=np.float32)
    rows = []
    saved = threads.ENABLED
    try:
        for n in sizes:
            x = rng.standard_normal(n, dtype=np.float32)

            def product():
                a @ b

            def serial():
                threads.ENABLED = False
                a @ b
                elementwise.sigmoid_forward(x)

            def default():
                threads.ENABLED = saved
                a @ b
                elementwise.sigmoid_forward(x)
            times = interleaved_times({"matmul": product, "serial": serial, "default": default}, repeat=21)
            med = {k: statistics.median(v) for k, v in times.items()}
            rows.append([f"{n:.0e}", fmt_time(med["matmul"]), fmt_time(med["serial"] - med["matmul"]),
                         fmt_time(med["default"] - med["matmul"]), fmt_time(max(times["default"])),
                         fmt_ratio(med["default"] / med["serial"])])
    finally:
        threads.ENABLED = saved
    return rows


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    warmup.warm_up(("float32",))
    if "--threads" in argv:
        print_table("float32 kernel calls, serial vs split over 2 threads (median per call)",
                    ["n", "kernel", "serial", "2 threads", "ratio"],
                    bench_threads([3 * 10**4, 6 * 10**4, 10**5, 2 * 10**5, 5 * 10**5, 10**6, 10**7]), left=2)
        print_table("512x784 @ 784x256 float32 matmul, then sigmoid_forward (median; sigmoid = total - matmul)",
                    ["n", "matmul", "sigmoid serial", "sigmoid default", "default max total", "default/serial"],
                    bench_after_blas([10**5, 2 * 10**5, 10**6]))
        return
    torch = torch_or_none()
    if torch is not None and "--torch-1-thread" in argv:
        torch.set_num_threads(1)
    sizes = [10**6] if "--quick" in argv else [10**6, 10**7]
    tnote = f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)" if torch else "torch not installed"
    print_table(f"float32 activation forward+backward, median per fwd+bwd ({tnote})",
                ["n", "activation", "kernels", "tensor", "torch", "floor", "tensor/torch", "tensor/floor"],
                bench_activations(sizes, torch), left=2)


if __name__ == "__main__":
    main()
