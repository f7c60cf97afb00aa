"""Fused activation forward+backward: numbagrad kernels and Tensor ops vs torch autograd vs the copy floor.

Run: python -m benchmarks.bench_kernels [--quick] [--threads]

Default table: per activation and size, float32, the median time of one forward+backward
  kernels  the kernel calls alone, as the engine makes them (forward, then backward from what the
           forward saved);
  tensor   y = act(x); y.backward(g) through the Tensor API (includes the engine's work: the copy of
           the gradient into x.grad, graph bookkeeping);
  torch    the same through torch autograd, in its own process with its default threads;
  floor    np.copyto(y, x) + np.copyto(dx, g) into preallocated arrays (4 passes over n floats).
kernels, tensor and floor run in one numbagrad process, torch in its own; all are interleaved
(common.interleaved_times) and the ratios are medians of the paired per-round ratios.

--threads: serial vs two-thread timings of single kernel calls over a range of sizes (how the
PARALLEL_MIN_* thresholds in autograd/kernels/elementwise.py were chosen), and a sigmoid right after a
BLAS product (OpenBLAS threads keep spinning after it, so the helper thread finds no free core).
"""

from __future__ import annotations

import statistics
import sys

import numpy as np

from benchmarks.common import fmt_ratio, fmt_time, interleaved_times, paired, print_table
from benchmarks.reference import SETTLE, Sides, print_notes

ACTIVATIONS = ("relu", "sigmoid", "tanh", "gelu", "gelu_tanh")


def kernel_pair(name, n):
    """One forward+backward with the kernel calls the autograd ops make (inputs as cases.activation's)."""
    from autograd.kernels import elementwise
    rng = np.random.default_rng(0)
    x, g = rng.standard_normal(n, dtype=np.float32), rng.standard_normal(n, dtype=np.float32)
    if name in ("sigmoid", "tanh", "relu"):
        fwd, bwd = getattr(elementwise, f"{name}_forward"), getattr(elementwise, f"{name}_backward")
        return lambda: bwd(g, fwd(x))
    approx = "tanh" if name == "gelu_tanh" else "none"

    def run():
        _, derivative = elementwise.gelu_forward(x, approx, with_derivative=True)
        return elementwise.gelu_backward_from_derivative(g, derivative)
    return run


def bench_activations(sizes, notes, quick, names=ACTIVATIONS):
    rows = []
    for n in sizes:
        repeat = 3 if quick else (7 if n >= 10**7 else 11)
        with Sides(notes) as sides:
            for name in names:
                fns = {"kernels": sides.case("numbagrad", "benchmarks.bench_kernels:kernel_pair", name=name, n=n),
                       "tensor": sides.case("numbagrad", "activation", engine="numbagrad", name=name, n=n),
                       "floor": sides.case("numbagrad", "benchmarks.target_steps:copy_floor", n=n),
                       "torch": sides.case("torch", "activation", engine="torch", name=name, n=n)}
                times = interleaved_times(fns, repeat=repeat, settle=SETTLE)
                med = {k: statistics.median(v) if v else float("nan") for k, v in times.items()}
                rows.append([f"{n:.0e}", name, fmt_time(med["kernels"]), fmt_time(med["tensor"]),
                             fmt_time(med["torch"]), fmt_time(med["floor"]),
                             fmt_ratio(paired(times, "tensor", "torch")[2]),
                             fmt_ratio(paired(times, "tensor", "floor")[2])])
    return rows


def bench_threads(sizes):
    """Serial vs split, one kernel call per timing, float32 (in this process: numbagrad only)."""
    from autograd.kernels import elementwise, threads
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
    from autograd.kernels import elementwise, threads
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


def main(argv=None, quick=False):
    argv = sys.argv[1:] if argv is None else argv
    quick = quick or "--quick" in argv
    if "--threads" in argv:
        from autograd.kernels import warmup
        warmup.warm_up(("float32",))
        print_table("float32 kernel calls, serial vs split over 2 threads (median per call)",
                    ["n", "kernel", "serial", "2 threads", "ratio"],
                    bench_threads([3 * 10**4, 6 * 10**4, 10**5, 2 * 10**5, 5 * 10**5, 10**6, 10**7]), left=2)
        print_table("512x784 @ 784x256 float32 matmul, then sigmoid_forward (median; sigmoid = total - matmul)",
                    ["n", "matmul", "sigmoid serial", "sigmoid default", "default max total", "default/serial"],
                    bench_after_blas([10**5, 2 * 10**5, 10**6]))
        return
    notes = {}
    sizes = [10**6] if quick else [10**6, 10**7]
    print_table("float32 activation forward+backward, median per fwd+bwd (ratios: medians of paired ratios)",
                ["n", "activation", "kernels", "tensor", "torch", "floor", "tensor/torch", "tensor/floor"],
                bench_activations(sizes, notes, quick), left=2)
    print_notes(notes)


if __name__ == "__main__":
    main()
