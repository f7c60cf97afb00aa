"""One optimizer step over 1M float32 parameters in four tensors (an MLP's 1000x800, 800, 200x1000, 200),
for SGD with momentum and for Adam: numbagrad's optim vs a numpy reference (the same update as in-place
numpy ufuncs, several passes, in numbagrad's process) vs PyTorch's ``torch.optim`` (its default
implementation and threads, in its own process). The steps: benchmarks.cases.optimizer_step."""
import math

from benchmarks.cases import OPTIM_SHAPES
from benchmarks.common import fmt_ratio, fmt_time, interleaved_times, paired, print_table
from benchmarks.reference import SETTLE, Sides, print_notes

LR, MOMENTUM, BETAS, EPS = 1e-3, 0.9, (0.9, 0.999), 1e-8


def numpy_step(kind):
    """The update written with numpy ufuncs on the same parameters and gradients as optimizer_step."""
    import numpy as np
    rng = np.random.default_rng(0)
    params = [rng.standard_normal(s).astype(np.float32) for s in OPTIM_SHAPES]
    grads = [rng.standard_normal(s).astype(np.float32) for s in OPTIM_SHAPES]
    if kind == "sgd":
        bufs = [g.copy() for g in grads]

        def sgd():
            for p, g, b in zip(params, grads, bufs):
                b *= MOMENTUM
                b += g
                p -= LR * b
        return sgd
    ms = [np.zeros_like(p) for p in params]
    vs = [np.zeros_like(p) for p in params]
    t = [0]
    b1, b2 = BETAS

    def adam():
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
    return adam


def main(quick=False):
    notes = {}
    rows = []
    n = sum(math.prod(s) for s in OPTIM_SHAPES)
    with Sides(notes) as sides:
        for kind, label in (("sgd", "SGD momentum"), ("adam", "Adam")):
            fns = {"ours": sides.case("numbagrad", "optimizer_step", engine="numbagrad", kind=kind),
                   "numpy": sides.case("numbagrad", "benchmarks.bench_optim:numpy_step", kind=kind),
                   "torch": sides.case("torch", "optimizer_step", engine="torch", kind=kind)}
            times = interleaved_times(fns, repeat=3 if quick else 15, settle=SETTLE)
            ours, numpy_t, vs_numpy = paired(times, "ours", "numpy")
            _, torch_t, vs_torch = paired(times, "ours", "torch")
            rows.append([label, f"{n / 1e6:.2f}M", fmt_time(ours), fmt_time(numpy_t), fmt_time(torch_t),
                         fmt_ratio(1 / vs_numpy), fmt_ratio(1 / vs_torch)])
    print_table("optimizer step, float32, 4 tensors (medians; speedup = their time / ours, median of paired "
                "ratios)", ["optimizer", "params", "numbagrad", "numpy", "torch", "vs numpy", "vs torch"], rows)
    print_notes(notes)


if __name__ == "__main__":
    import sys
    main(quick="--quick" in sys.argv)
