"""Scalar engine per node: ``autograd.Scalar`` against micrograd's ``Value`` on the same expressions, each
engine in its own process (benchmarks/reference.py), runs alternating.

micrograd is a benchmark-only comparison (``pip install micrograd``); its columns show "-" when it is
not installed. Only ops that both engines build as one node each are used (``+ * relu``), so both
graphs have the same number of nodes and "per node" compares like with like. Times are the best of
several runs, forward (building the graph) and backward (``.backward()``) separately
(benchmarks.cases.scalar_graph). A second table times micrograd's README training step in a loop with the
garbage collector on, and counts its full collections (their cost grows with everything else the process
holds: each process holds only its engine and the benchmark).
"""
import sys

from benchmarks.common import fmt_ratio, print_table
from benchmarks.reference import Sides, print_notes

GRAPHS = [("chain relu(y*a+b) x 300", "chain300", 25), ("MLP 2-16-16-1, 1 sample", "mlp1", 25),
          ("MLP 2-16-16-1, batch 32", "mlp32", 5), ("chain x 100,000 (deep)", "chain100k", 2)]


def _best(runs):
    """Best forward and backward of [forward, backward, error, nodes] runs; an error replaces backward."""
    forward = min(r[0] for r in runs)
    errors = [r[2] for r in runs if r[2]]
    backward = None if errors else min(r[1] for r in runs)
    return forward, backward, (errors[0] if errors else None), runs[0][3]


def main(quick=False):
    notes = {}
    rows = []
    with Sides(notes) as sides:
        for name, graph, repeat in GRAPHS:
            repeat = min(repeat, 3) if quick else repeat
            cases = {"ours": sides.case("numbagrad", "scalar_graph", engine="numbagrad", graph=graph),
                     "mg": sides.case("micrograd", "scalar_graph", engine="micrograd", graph=graph)}
            runs = {k: [] for k, c in cases.items() if c is not None}
            for rep in range(repeat):
                for key in (list(runs) if rep % 2 == 0 else list(runs)[::-1]):
                    runs[key].append(cases[key].call())
            forward, backward, _, nodes = _best(runs["ours"])
            ours = [f"{forward / nodes * 1e6:.2f}", f"{backward / nodes * 1e6:.2f}",
                    f"{(forward + backward) / nodes * 1e6:.2f}"]
            theirs, ratio = ["-", "-", "-"], "-"
            if "mg" in runs:
                m_forward, m_backward, m_error, m_nodes = _best(runs["mg"])
                assert m_nodes == nodes, (name, m_nodes, nodes)
                if m_error:
                    theirs = [f"{m_forward / nodes * 1e6:.2f}", m_error, "-"]
                else:
                    theirs = [f"{m_forward / nodes * 1e6:.2f}", f"{m_backward / nodes * 1e6:.2f}",
                              f"{(m_forward + m_backward) / nodes * 1e6:.2f}"]
                    ratio = fmt_ratio((m_forward + m_backward) / (forward + backward))
            rows.append([name, f"{nodes:,}"] + ours + theirs + [ratio])
    print_table(f"Scalar engine, microseconds per node (best of runs; micrograd/ours > 1 means we are faster; "
                f"recursion limit {sys.getrecursionlimit()}, both)",
                ["graph", "nodes", "ours fwd", "ours bwd", "ours total", "micrograd fwd", "micrograd bwd",
                 "micrograd total", "micrograd/ours"], rows, left=1)

    rows = []
    with Sides(notes) as sides:
        for label, side, steps in (("ours", "numbagrad", 5 if quick else 20),
                                   ("micrograd", "micrograd", 2 if quick else 5)):
            case = sides.case(side, "scalar_training_loop", warm_up=False, engine=side, steps=steps)
            if case is None:
                continue
            seconds, full, heap = case.call()
            rows.append([label, f"{steps}", f"{seconds * 1e3:.1f}", f"{full:.2f}", f"{heap:,}"])
    print_table("micrograd's README step (MLP 2-16-16-1, 100 points) in a loop, gc on, no gc.collect() between "
                "steps, each engine in a fresh process",
                ["engine", "steps", "ms per step", "full collections per step", "gc-tracked objects after"],
                rows, left=1)
    print_notes(notes)


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
