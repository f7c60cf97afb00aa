"""Forward mode and the functional API: numbagrad vs PyTorch, each in its own process.

* ``jvp`` through a 784-256-256-10 ReLU MLP (float32, batch 64) against one plain forward pass of the
  same MLP (target: at most 2x), with torch's ``forward_ad`` through the same MLP beside it;
* ``jacobian`` of f(x) = tanh(A x) (100 inputs, 100 outputs) and ``hessian`` of h(x) = Σ tanh(A x)² + ½‖x‖²
  (100 inputs), float64, against ``torch.autograd.functional`` with ``vectorize=False`` (its default),
  the target being at or below torch's time; and the Jacobian by forward mode (100 forward passes,
  which torch runs only with ``vectorize=True``: not measured on its side).

    python -m benchmarks functional [--quick]
"""
from benchmarks.common import fmt_ratio, fmt_time, interleaved_times, paired, print_table
from benchmarks.reference import SETTLE, Sides, print_notes

SIZES = (784, 256, 256, 10)


def _mlp(engine, batch):
    import numpy as np
    rng = np.random.default_rng(0)
    weights = [(rng.standard_normal((n, m)).astype(np.float32) / np.sqrt(m), np.zeros(n, np.float32))
               for m, n in zip(SIZES[:-1], SIZES[1:])]
    x = rng.standard_normal((batch, SIZES[0])).astype(np.float32)
    v = rng.standard_normal((batch, SIZES[0])).astype(np.float32)
    if engine == "numbagrad":
        import autograd as lib
        import nn
    else:
        import torch as lib
        nn = lib.nn
    layers = []
    for i, (w, b) in enumerate(weights):
        linear = nn.Linear(w.shape[1], w.shape[0])
        linear.load_state_dict({"weight": lib.tensor(w), "bias": lib.tensor(b)})
        layers.append(linear)
        if i < len(weights) - 1:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    for p in model.parameters():
        p.requires_grad_(False)
    return lib, model, lib.tensor(x), lib.tensor(v)


def mlp_forward(engine, batch=64):
    lib, model, x, _ = _mlp(engine, batch)

    def run():
        with lib.no_grad():
            return model(x)
    return run


def mlp_jvp(engine, batch=64):
    lib, model, x, v = _mlp(engine, batch)
    if engine == "numbagrad":
        from autograd.functional import jvp
        return lambda: jvp(model, x, v)[1]
    import torch.autograd.forward_ad as fwAD

    def run():
        with lib.no_grad(), fwAD.dual_level():
            return fwAD.unpack_dual(model(fwAD.make_dual(x, v))).tangent
    return run


def _problem(engine, n):
    import numpy as np
    rng = np.random.default_rng(1)
    a = rng.standard_normal((n, n)) / np.sqrt(n)
    x = rng.standard_normal(n)
    if engine == "numbagrad":
        import autograd as lib
        from autograd import functional
    else:
        import torch as lib
        from torch.autograd import functional
    A = lib.tensor(a)

    def f(x):
        return (A @ x).tanh()

    def h(x):
        return ((A @ x).tanh() ** 2).sum() + (x * x).sum() * 0.5
    return functional, f, h, lib.tensor(x)


def jacobian_case(engine, n=100, strategy="reverse-mode"):
    functional, f, _, x = _problem(engine, n)
    if engine == "numbagrad":
        return lambda: functional.jacobian(f, x, strategy=strategy)
    return lambda: functional.jacobian(f, x, vectorize=False, strategy=strategy)


def hessian_case(engine, n=100):
    functional, _, h, x = _problem(engine, n)
    if engine == "numbagrad":
        return lambda: functional.hessian(h, x)
    return lambda: functional.hessian(h, x, vectorize=False)


def main(quick=False):
    notes, rows = {}, []
    repeat = 3 if quick else 15
    case = "benchmarks.bench_functional:"
    with Sides(notes) as sides:
        fns = {"forward": sides.case("numbagrad", case + "mlp_forward", engine="numbagrad"),
               "jvp": sides.case("numbagrad", case + "mlp_jvp", engine="numbagrad"),
               "torch forward": sides.case("torch", case + "mlp_forward", engine="torch"),
               "torch jvp": sides.case("torch", case + "mlp_jvp", engine="torch")}
        times = interleaved_times(fns, repeat=repeat, min_time=0.05, settle=SETTLE)
        jvp_time, forward, ratio = paired(times, "jvp", "forward")
        t_jvp, t_forward, t_ratio = paired(times, "torch jvp", "torch forward")
        rows.append(["numbagrad: autograd.functional.jvp through MLP 784-256-256-10, batch 64, float32 "
                     "(target <= 2x)", fmt_time(jvp_time), fmt_time(forward), fmt_ratio(ratio)])
        rows.append(["torch: forward_ad through the same MLP", fmt_time(t_jvp), fmt_time(t_forward),
                     fmt_ratio(t_ratio)])
        print_table("Forward mode: a Jacobian-vector product costs one pass (medians; ratio = median of paired "
                    "ratios)", ["case", "jvp", "forward", "jvp/forward"], rows, left=1)
        rows = []
        for label, name, kwargs in [
                ("jacobian of tanh(A x), 100 -> 100, float64 (reverse mode)", "jacobian_case", {}),
                ("jacobian, forward mode (strategy='forward-mode')", "jacobian_case", {"strategy": "forward-mode"}),
                ("hessian of sum tanh(A x)^2 + |x|^2/2, 100 inputs, float64", "hessian_case", {})]:
            fns = {"ours": sides.case("numbagrad", case + name, engine="numbagrad", **kwargs),
                   "torch": sides.case("torch", case + name, engine="torch", optional=True, **kwargs)}
            times = interleaved_times(fns, repeat=max(3, repeat // 3), min_time=0.05, settle=SETTLE)
            ours, theirs, ratio = paired(times, "ours", "torch")
            rows.append([label, fmt_time(ours), fmt_time(theirs), fmt_ratio(ratio)])
    print_table("autograd.functional vs torch.autograd.functional (vectorize=False), target <= 1x",
                ["case", "numbagrad", "torch", "ours/torch"], rows, left=1)
    print_notes(notes)


if __name__ == "__main__":
    import sys
    main(quick="--quick" in sys.argv)
