"""matmul: dispatcher (autograd.kernels.matmul.matmul) vs numpy BLAS (a @ b) vs the raw Numba kernel, in one
process (numbagrad against numpy: no reference library is involved).

Run: python -m benchmarks.bench_matmul [--grid] [--quick]
The --grid table (small k / small cubes) is what the dispatch rule in
autograd/kernels/matmul.py was derived from.
"""

from __future__ import annotations

import sys

import numpy as np

from benchmarks.common import fmt_ratio, fmt_time, print_table, timeit_median

MLP_SHAPES = [
    ("(32,2)@(2,16)", (32, 2), (2, 16), False),
    ("(32,16)@(16,1)", (32, 16), (16, 1), False),
    ("(64,784)@(784,128)", (64, 784), (784, 128), False),
    ("(256,128)@(128,10)", (256, 128), (128, 10), False),
    ("grad W: (784,64)@(64,128)", (64, 784), (64, 128), "aT"),
    ("grad x: (64,128)@(128,784)", (64, 128), (784, 128), "bT"),
    ("(1,784)@(784,128)", (1, 784), (784, 128), False),
    ("(128,1)@(1,128) outer", (128, 1), (1, 128), False),
    ("(512,4)@(4,512)", (512, 4), (4, 512), False),
] + [(f"({k},{k})@({k},{k})", (k, k), (k, k), False) for k in (4, 8, 16, 32, 64, 128, 256, 512)] + [
    (f"(1,{k})@({k},{k})", (1, k), (k, k), False) for k in (4, 64, 512)
]


def _operands(rng, sa, sb, transpose, dtype):
    a = rng.standard_normal(sa).astype(dtype)
    b = rng.standard_normal(sb).astype(dtype)
    if transpose == "aT":
        a = a.T  # non-contiguous operand, as in grad_W = x.T @ grad
    elif transpose == "bT":
        b = b.T
    return a, b


def bench_shapes(shapes, dtype=np.float32, repeat=7):
    from autograd.kernels import matmul
    rng = np.random.default_rng(0)
    rows = []
    for name, sa, sb, tr in shapes:
        a, b = _operands(rng, sa, sb, tr, dtype)
        m, k = a.shape
        n = b.shape[1]
        t_np = timeit_median(lambda: a @ b, repeat=repeat)
        t_disp = timeit_median(lambda: matmul.matmul(a, b), repeat=repeat)
        t_nb = timeit_median(lambda: matmul.matmul_numba(a, b), repeat=repeat)
        choice = "numba" if matmul.use_numba_matmul(m, k, n) else "blas"
        rows.append([name, fmt_time(t_np), fmt_time(t_nb), fmt_time(t_disp), choice,
                     fmt_ratio(t_np / t_nb), fmt_ratio(t_np / t_disp)])
    return rows


def bench_grid(dtype=np.float32):
    from autograd.kernels import matmul
    rng = np.random.default_rng(1)
    rows = []
    for k in (1, 2, 4, 8, 16, 64):
        for mn in (1, 4, 16, 64, 256, 512):
            a = rng.standard_normal((mn, k)).astype(dtype)
            b = rng.standard_normal((k, mn)).astype(dtype)
            t_np = timeit_median(lambda: a @ b)
            t_nb = timeit_median(lambda: matmul.matmul_numba(a, b))
            rows.append([mn, k, mn, fmt_time(t_np), fmt_time(t_nb), fmt_ratio(t_np / t_nb)])
    return rows


def main(argv=None, quick=False):
    from autograd.kernels import warmup
    argv = sys.argv[1:] if argv is None else argv
    repeat = 3 if quick or "--quick" in argv else 7
    warmup.warm_up(("float32", "float64"))
    headers = ["shape", "numpy a@b", "numba kernel", "dispatcher", "picks", "np/numba", "np/dispatch"]
    print_table("matmul float32 (median per call)", headers, bench_shapes(MLP_SHAPES, np.float32, repeat), left=1)
    print_table("matmul float64 (median per call)", headers, bench_shapes(MLP_SHAPES[:9], np.float64, repeat),
                left=1)
    if "--grid" in argv:
        print_table("matmul grid float32: (m,k)@(k,n), m=n (numba kernel incl. wrapper)",
                    ["m", "k", "n", "numpy a@b", "numba", "np/numba"], bench_grid())


if __name__ == "__main__":
    main()
