"""Training step of a 3-layer MLP (784-128-64-10) written with tensor ops, float32: numbagrad vs PyTorch,
each in its own process (interleaved). The step is benchmarks.cases.raw_mlp_step: ``x @ W + b``, relu,
log_softmax, the picked log-likelihoods' mean, backward, ``p -= lr * p.grad`` under no_grad.

This is also where the threading trap is checked: a Numba kernel right after a BLAS matmul must not
wait for BLAS's spinning threads (numbagrad's elementwise kernels are serial for that reason)."""
from benchmarks.common import fmt_ratio, fmt_time, interleaved_times, paired, print_table
from benchmarks.reference import SETTLE, Sides, print_notes


def main(quick=False):
    notes = {}
    rows = []
    with Sides(notes) as sides:
        for batch in (64, 256):
            fns = {"ours": sides.case("numbagrad", "raw_mlp_step", engine="numbagrad", batch=batch),
                   "torch": sides.case("torch", "raw_mlp_step", engine="torch", batch=batch)}
            times = interleaved_times(fns, repeat=3 if quick else 11, settle=SETTLE)
            ours, theirs, ratio = paired(times, "ours", "torch")
            rows.append([batch, fmt_time(ours), fmt_time(theirs), fmt_ratio(1 / ratio)])
    print_table("3-layer MLP training step 784-128-64-10, float32 (medians; torch/ours = median of paired "
                "ratios, > 1: we are faster)", ["batch", "numbagrad", "torch", "torch/ours"], rows)
    print_notes(notes)


if __name__ == "__main__":
    import sys
    main(quick="--quick" in sys.argv)
