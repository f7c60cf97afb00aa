"""Issue 7's targets table: every target row measured against its reference in the same run.

    python -m benchmarks targets
    python -m benchmarks.bench_targets mlp tiny     # only some sections (names: SECTIONS)

In-process rows interleave the implementations (one batch of calls of each per repetition, the order
reversed every other repetition) and report the medians and the median of the paired per-repetition
ratios ours/reference; the target applies to that ratio. Start-up rows run fresh processes, alternating
ours and the reference. Torch missing: its rows print '-' and 'n/a'.
"""
import gc
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

import autograd as ag
from benchmarks import target_steps as ts
from benchmarks.bench_scalar import relu_mlp
from benchmarks.common import fmt_bytes, fmt_time, interleaved_times, paired, print_table, torch_or_none

ROOT = Path(__file__).resolve().parent.parent
NAN = float("nan")


class Table:
    """Rows of (what, ours, reference, reference's value, ours/reference, target, PASS/FAIL/n/a)."""

    def __init__(self):
        self.rows = []

    def ratio(self, what, reference, ours, theirs, ratio, limit, fmt=fmt_time, strict=False):
        """A row whose target is ``ratio ≤ limit`` (``< limit`` when strict)."""
        if ratio != ratio:
            verdict = "n/a"
        else:
            verdict = "PASS" if (ratio < limit if strict else ratio <= limit) else "FAIL"
        target = f"{'<' if strict else '≤'} {limit:.2f}x"
        self.rows.append([what, fmt(ours), reference, fmt(theirs) if theirs == theirs else "-",
                          "-" if ratio != ratio else f"{ratio:.2f}x", target, verdict])

    def bound(self, what, value, reference, theirs, ratio, target, fmt=fmt_time):
        """A measurement that bounds a target row (what even a perfect implementation would need)."""
        self.rows.append([what, fmt(value), reference, fmt(theirs), f"{ratio:.2f}x", target, "bound"])

    def check(self, what, ours, reference, ok, target):
        self.rows.append([what, ours, reference, "-", "-", target, "PASS" if ok else "FAIL"])

    def print(self):
        print_table("issue 7 targets (ours/ref = median of paired ratios; ours and ref = medians)",
                    ["what", "ours", "reference", "ref", "ours/ref", "target", "result"], self.rows, left=1)


# -------------------------------------------------------------------------------------- header
def _cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _header(torch):
    import numba
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    try:
        blas = np.__config__.CONFIG["Build Dependencies"]["blas"]
        blas = f"{blas['name']} {blas.get('version', '')}".strip()
    except Exception:
        blas = "?"
    env = " ".join(f"{k}={os.environ.get(k, '-')}" for k in
                   ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
                    "OMP_WAIT_POLICY"))
    print(f"machine: {_cpu_model()}, {os.cpu_count()} cores ({usable} usable), {platform.system()} "
          f"{platform.release()}")
    print(f"versions: Python {platform.python_version()}, numpy {np.__version__} (BLAS {blas}), "
          f"numba {numba.__version__}, torch {torch.__version__ if torch else 'not installed'}")
    print(f"threads: {env}, torch.get_num_threads()={torch.get_num_threads() if torch else '-'}, "
          f"numbagrad elementwise kernels {_kernel_threads()}, numpy matmul on OpenBLAS's threads", flush=True)


def _kernel_threads():
    from autograd.lazy_kernels import kernels
    k = kernels()
    if not k._THREADS:
        return "serial (NUMBAGRAD_KERNEL_THREADS=1)"
    return (f"on 2 threads from {k._PARALLEL_MIN_MATH} (transcendental) / {k._PARALLEL_MIN_MEMORY} "
            f"(memory-bound) elements")


# ------------------------------------------------------------------------------------ rows
def mlp_rows(table, torch, batches=(32, 128, 512), repeat=25):
    floor_targets = {32: 1.5, 128: 1.3, 512: 1.15}
    torch_targets = {32: 0.55, 128: 0.7, 512: 0.8}
    for batch in batches:
        x, y = ts.mlp_batch(batch)
        model, opt = ts.ours_mlp()
        fns = {"ours": ts.ours_step(model, opt, x, y),
               "floor": ts.matmul_floor(batch),
               "numpy": ts.numpy_mlp_step(ts.numpy_mlp_weights(model), x, y),
               "kernels": ts.kernel_mlp_step(ts.numpy_mlp_weights(model), x, y),
               "torch": None}
        if torch is not None:
            tmodel, topt = ts.torch_mlp(torch, model)
            fns["torch"] = ts.torch_step(torch, tmodel, topt, x, y)
        times = interleaved_times(fns, repeat=repeat)
        what = f"MLP 784-256-256-10 step, b{batch}"
        table.ratio(what, "8 matmuls (floor)", *paired(times, "ours", "floor"), floor_targets[batch])
        table.ratio(what, "numpy by hand", *paired(times, "ours", "numpy"), 1.0, strict=True)
        table.ratio(what, "torch", *paired(times, "ours", "torch"), torch_targets[batch])
        kernels_only, floor, ratio = paired(times, "kernels", "floor")
        table.bound(f"  its kernels alone, no framework [3]", kernels_only, "8 matmuls (floor)", floor, ratio,
                    f"≤ {floor_targets[batch]:.2f}x")


def tiny_graph_rows(table, torch, repeat=31):
    ops = {"mul": lambda a, b: a * b, "add": lambda a, b: a + b, "sub": lambda a, b: a - b,
           "div": lambda a, b: a / b, "matmul": lambda a, b: a @ b}
    rng = np.random.default_rng(0)
    a_np, b_np = rng.standard_normal((2, 2), dtype=np.float32), rng.uniform(1, 2, (2, 2)).astype(np.float32)
    a, b = ag.tensor(a_np, requires_grad=True), ag.tensor(b_np, requires_grad=True)
    if torch is not None:
        ta, tb = torch.tensor(a_np, requires_grad=True), torch.tensor(b_np, requires_grad=True)
    for name, op in ops.items():
        fns = {"ours": lambda op=op: op(a, b).sum().backward(),
               "torch": (lambda op=op: op(ta, tb).sum().backward()) if torch is not None else None}
        times = interleaved_times(fns, repeat=repeat)
        table.ratio(f"2x2 c={name}(a,b); c.sum().backward()", "torch", *paired(times, "ours", "torch"), 0.5)


ACTIVATIONS = ("relu", "sigmoid", "tanh", "gelu")


def _torch_activation(torch, name):
    if name == "gelu":  # both default to the exact (erf) form
        return torch.nn.functional.gelu
    return getattr(torch, name)


def _fwd_bwd(fn, x, g):
    def run():
        fn(x).backward(g)
        x.grad = None
    return run


def copy_floor(x_np, g_np):
    """Returns ``run()``: np.copyto(y, x) then np.copyto(dx, g) into preallocated arrays. That is 4 array
    passes of n float32 (read x, write y, read g, write dx): the least memory traffic that turns x and g
    into y and dx. A fused forward+backward makes 5 (its backward also reads y or x), so a perfect one sits
    at 1.25x this floor; allocating fresh outputs (page faults) shows up against it at large n."""
    y, dx = np.empty_like(x_np), np.empty_like(g_np)

    def run():
        np.copyto(y, x_np)
        np.copyto(dx, g_np)
    return run


def copy_floor_two_threads(x_np, g_np, pool):
    """:func:`copy_floor` with each copy split in halves, one copied by a second thread: the memory
    bandwidth of both cores, which numbagrad's elementwise kernels also use on large arrays."""
    y, dx = np.empty_like(x_np), np.empty_like(g_np)
    half = len(x_np) // 2

    def second_half():
        np.copyto(y[half:], x_np[half:])
        np.copyto(dx[half:], g_np[half:])

    def run():
        other = pool.submit(second_half)
        np.copyto(y[:half], x_np[:half])
        np.copyto(dx[:half], g_np[:half])
        other.result()
    return run


def activation_rows(table, torch):
    rng = np.random.default_rng(0)
    pool = ThreadPoolExecutor(1)
    for n, repeat in ((1_000_000, 11), (10_000_000, 7)):
        x_np = rng.standard_normal(n, dtype=np.float32)
        g_np = rng.standard_normal(n, dtype=np.float32)
        x, g = ag.tensor(x_np, requires_grad=True), ag.tensor(g_np)
        tx = tg = None
        if torch is not None and n == 1_000_000:
            tx, tg = torch.from_numpy(x_np.copy()).requires_grad_(), torch.from_numpy(g_np.copy())
        for name in ACTIVATIONS:
            ours_fn = getattr(ag, name)
            fns = {"ours": _fwd_bwd(ours_fn, x, g), "floor": copy_floor(x_np, g_np), "torch": None,
                   "floor2": copy_floor_two_threads(x_np, g_np, pool) if n == 1_000_000 else None}
            if tx is not None:
                fns["torch"] = _fwd_bwd(_torch_activation(torch, name), tx, tg)
            times = interleaved_times(fns, repeat=repeat)
            what = f"{name} fwd+bwd, {n:.0e} float32"
            if n == 1_000_000:
                table.ratio(what, "torch autograd", *paired(times, "ours", "torch"), 0.6)
                # A fused fwd+bwd moves at least 5/4 of the copy floor's bytes, at best at the bandwidth of
                # both cores: that time over torch's is the least ratio any implementation can reach.
                least = [1.25 * f for f in times["floor2"]]
                if times.get("torch"):
                    table.bound("  least possible: 1.25 x 2-thread copy [1]", statistics.median(least),
                                "torch autograd", statistics.median(times["torch"]),
                                statistics.median(a / b for a, b in zip(least, times["torch"])), "≤ 0.60x")
                table.ratio(what, "copy floor [1]", *paired(times, "ours", "floor"), 2.5)
            else:
                table.ratio(what, "copy floor [1]", *paired(times, "ours", "floor"), 2.0)
            del times, fns


def matmul_rows(table, sizes=(128, 256, 512), repeat=11):
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        for n in sizes:
            a_np, b_np = rng.standard_normal((n, n)).astype(dtype), rng.standard_normal((n, n)).astype(dtype)
            a, b = ag.tensor(a_np), ag.tensor(b_np)
            times = interleaved_times({"ours": lambda: a @ b, "numpy": lambda: a_np @ b_np}, repeat=repeat)
            table.ratio(f"matmul {n}x{n} {np.dtype(dtype).name}", "numpy a@b", *paired(times, "ours", "numpy"), 1.1)


def cnn_rows(table, torch, repeat=11):
    x, y = ts.cnn_batch(64)
    model, opt = ts.ours_cnn()
    fns = {"ours": ts.ours_step(model, opt, x, y), "torch": None}
    if torch is not None:
        tmodel, topt = ts.torch_cnn(torch, model)
        fns["torch"] = ts.torch_step(torch, tmodel, topt, x, y)
    times = interleaved_times(fns, repeat=repeat)
    table.ratio("CNN step b64 1x28x28 conv3x3x8+pool+linear", "torch", *paired(times, "ours", "torch"), 1.0)


# ------------------------------------------------------------------------------------ Scalar engine
def _moons(n=100, seed=0):
    """Two interleaving half circles with noise (like sklearn's make_moons), labels -1/+1."""
    rng = random.Random(seed)
    points, labels = [], []
    for i in range(n):
        t = math.pi * rng.random()
        if i % 2:
            points.append((math.cos(t) + rng.gauss(0, 0.1), math.sin(t) + rng.gauss(0, 0.1)))
            labels.append(-1.0)
        else:
            points.append((1 - math.cos(t) + rng.gauss(0, 0.1), 0.5 - math.sin(t) + rng.gauss(0, 0.1)))
            labels.append(1.0)
    return points, labels


def scalar_mlp_step(cls, sizes=(2, 16, 16, 1), alpha=1e-4, lr=0.05):
    """Returns ``step()``: micrograd's README demo step (max-margin loss + L2 on 100 points, full batch,
    SGD) for an MLP 2-16-16-1 written once for any micrograd-like scalar class."""
    params, forward = relu_mlp(cls, sizes, random.Random(0))
    points, labels = _moons()

    def step():
        scores = [forward([cls(u), cls(v)]) for u, v in points]
        losses = [(1 + -y * s).relu() for y, s in zip(labels, scores)]
        total = sum(losses) * (1.0 / len(losses)) + alpha * sum(p * p for p in params)
        for p in params:
            p.grad = 0.0
        total.backward()
        for p in params:
            p.data -= lr * p.grad
        return total
    return step


def scalar_rows(table, repeat=5):
    try:
        from micrograd.engine import Value
    except Exception:
        Value = None
    mg_on = mg_off = None
    if Value is not None:
        mg_on = scalar_mlp_step(Value)
        mg_step_off = scalar_mlp_step(Value)

        def mg_off():
            gc.disable()
            try:
                mg_step_off()
            finally:
                gc.enable()
    # gc.collect() before every timed run (untimed) so one side's garbage is not collected on the other's
    # clock; ours runs with the collector on, as users run it.
    times = interleaved_times({"ours": scalar_mlp_step(ag.Scalar), "mg": mg_on, "mg_off": mg_off},
                              repeat=repeat, setup=gc.collect)
    what = "Scalar MLP 2-16-16-1, 100 pts, 1 step"
    table.ratio(what, "micrograd (gc on)", *paired(times, "ours", "mg"), 0.15)
    table.ratio(what, "micrograd (gc off)", *paired(times, "ours", "mg_off"), 0.8)


def adam_rows(table, torch, repeat=15):
    from benchmarks.bench_optim import SHAPES, _ours, _torch
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    grads = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    fns = {"ours": _ours("adam", arrays, grads),
           "torch": _torch(torch, "adam", arrays, grads) if torch is not None else None}
    times = interleaved_times(fns, repeat=repeat)
    n = sum(a.size for a in arrays)
    table.ratio(f"Adam step, {n / 1e6:.2f}M float32 params", "torch.optim.Adam", *paired(times, "ours", "torch"), 1.0)


# ------------------------------------------------------------------------------ fresh processes
def _fresh(mode):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    out = subprocess.run([sys.executable, "-m", "benchmarks.target_steps", mode], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{mode} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _alternating(ours_mode, their_mode, repeat):
    """Fresh-process seconds of two modes run alternately (their side skipped when None)."""
    times = {"ours": [], "theirs": []}
    for rep in range(repeat):
        order = [("ours", ours_mode), ("theirs", their_mode)]
        for key, mode in (order if rep % 2 == 0 else order[::-1]):
            if mode is not None:
                times[key].append(_fresh(mode)["seconds"])
    return times


def startup_rows(table, torch, import_repeat=7, step_repeat=5):
    have_torch = torch is not None
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "autograd.warmup"],
                   cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), check=True)
    warm_up_seconds = time.perf_counter() - t0

    _fresh("import-ours")  # lets the OS cache the files, as for a user's second run
    if have_torch:
        _fresh("import-torch")
    times = _alternating("import-ours", "import-torch" if have_torch else None, import_repeat)
    table.ratio("import autograd, nn, optim (fresh process)", "import torch",
                *paired(times, "ours", "theirs"), 0.35)
    probe = _fresh("import-ours")
    compiled = probe["compiled"]
    state = ("numba not imported" if not probe["numba_imported"] else
             f"{len(compiled)} compiled" if compiled else "numba imported, 0 compiled")
    table.check("nothing compiled at import", state, "-", not compiled, "no kernel")

    times = _alternating("first-ours", "first-torch" if have_torch else None, step_repeat)
    table.ratio("import + first MLP b128 step after warm-up", "torch import+step",
                *paired(times, "ours", "theirs"), 0.4)
    return warm_up_seconds


def memory_rows(table):
    ours, numpy_ = _fresh("peak-ours")["bytes"], _fresh("peak-numpy")["bytes"]
    table.ratio("peak memory of one MLP b512 step [2]", "numpy by hand", ours, numpy_, ours / numpy_, 1.5,
                fmt=fmt_bytes)


SECTIONS = ("mlp", "tiny", "activation", "matmul", "cnn", "scalar", "adam", "startup", "memory")


def main(sections=SECTIONS):
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown section(s) {sorted(unknown)}; choose from {', '.join(SECTIONS)}")
    torch = torch_or_none()
    _header(torch)
    table = Table()
    started = time.perf_counter()
    warm_up_seconds = NAN
    for name in SECTIONS:
        if name not in sections:
            continue
        if name == "mlp":
            mlp_rows(table, torch)
        elif name == "tiny":
            tiny_graph_rows(table, torch)
        elif name == "activation":
            activation_rows(table, torch)
        elif name == "matmul":
            matmul_rows(table)
        elif name == "cnn":
            cnn_rows(table, torch)
        elif name == "scalar":
            scalar_rows(table)
        elif name == "adam":
            adam_rows(table, torch)
        elif name == "startup":
            warm_up_seconds = startup_rows(table, torch)
        elif name == "memory":
            memory_rows(table)
    table.print()
    print("[1] copy floor: np.copyto(y, x) + np.copyto(dx, g) into preallocated arrays = 4 passes over n float32\n"
          "    (2 reads + 2 writes). A fused fwd+bwd needs 5 passes (backward re-reads x or y): ideal = 1.25x.\n"
          "    'least possible' rows: 1.25 x the same copies split over both cores (the most bandwidth this\n"
          "    machine gives), divided by torch's time: no implementation can have a smaller ratio to torch.\n"
          "[2] tracemalloc (numpy reports its allocations to it), each side in a fresh process: the peak of the\n"
          "    bytes allocated during the third step, i.e. the memory a step adds on top of the model, the data\n"
          "    and what the first two steps left (gradients, optimizer state). Arrays that Numba allocates\n"
          "    inside compiled code are not seen by tracemalloc (numbagrad's kernels allocate with numpy).\n"
          "[3] the step's arithmetic with the framework taken away: the same BLAS products and Numba kernels\n"
          "    on preallocated arrays, called directly (benchmarks/target_steps.py: kernel_mlp_step). Where it\n"
          "    is above the target, no implementation on numpy's BLAS and these kernels meets the target.\n"
          f"Start-up rows: medians of fresh processes, ours and torch alternating; the warm-up\n"
          f"(python -m autograd.warmup, default Numba cache) ran first and took {warm_up_seconds:.2f} s.\n"
          f"Total time {time.perf_counter() - started:.0f} s.", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or SECTIONS)
