"""Per-op overhead: the tiny graph ``(a*b + c).sum().backward()`` on 2×2 tensors, where the time is all
bookkeeping (creating nodes, walking the graph), against PyTorch, each in its own process (interleaved)."""
from benchmarks.common import fmt_ratio, fmt_time, interleaved_times, paired, print_table
from benchmarks.reference import Sides, print_notes

CASES = {"backward": "(a*b+c).sum().backward()", "forward": "forward only: (a*b+c).sum()",
         "mul": "a*b (one recorded op)", "mul_no_grad": "a*b under no_grad"}


def main(quick=False):
    notes = {}
    rows = []
    with Sides(notes) as sides:
        for what, label in CASES.items():
            fns = {"ours": sides.case("numbagrad", "overhead_2x2", engine="numbagrad", what=what),
                   "torch": sides.case("torch", "overhead_2x2", engine="torch", what=what)}
            ours, theirs, ratio = paired(interleaved_times(fns, repeat=5 if quick else 15), "ours", "torch")
            rows.append([label, fmt_time(ours), fmt_time(theirs), fmt_ratio(1 / ratio)])
    print_table("Per-op overhead on 2x2 float32 tensors (medians; torch/ours = median of paired ratios, > 1: "
                "we are faster)", ["graph", "numbagrad", "torch", "torch/ours"], rows, left=1)
    print_notes(notes)


if __name__ == "__main__":
    import sys
    main(quick="--quick" in sys.argv)
