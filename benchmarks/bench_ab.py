"""A/B guardrails: this checkout ("new") against another one ("old") in one run.

    git worktree add /tmp/base 9eee808
    python -m benchmarks ab --base /tmp/base [--quick]

Each checkout runs in its own process with its own code (PYTHONPATH=DIR, this Python), the references in
theirs (benchmarks/reference.py); the rounds alternate between the processes (the order reversed every
other round) and each ratio is the median of the per-round ratios. The rows reach numbagrad only through
its public API (benchmarks/cases.py), so they run against older checkouts too. Guardrails:

* eager MLP 784-256-256-10 SGD step at b32, b128, b512: new/old ≤ 1.10;
* 2x2 ``op(a, b).sum().backward()`` for add, sub, mul, div, matmul: new/torch ≤ 0.70;
* micrograd's README step (Scalar MLP 2-16-16-1, 100 points), gc on: new/micrograd ≤ 0.15.
"""
import gc
import sys
import time
from pathlib import Path

from benchmarks.common import fmt_time, interleaved_times, paired, print_table
from benchmarks.reference import ROOT, SETTLE, ReferenceUnavailable, Worker

NAN = float("nan")


def _ratio(x):
    return "-" if x != x else f"{x:.2f}x"


class Rows:
    def __init__(self):
        self.rows, self.notes = [], {}

    def add(self, what, times, reference, limit, against):
        """One row from interleaved times of "new", "old" and (if measured) "ref"; the guardrail bounds
        new/old (against="old") or new/ref (against = the reference's name)."""
        new, old, new_old = paired(times, "new", "old")
        _, ref, new_ref = paired(times, "new", "ref")
        old_ref = paired(times, "old", "ref")[2]
        value = new_old if against == "old" else new_ref
        verdict = "n/a" if value != value else ("PASS" if value <= limit else "FAIL")
        self.rows.append([what, fmt_time(new), fmt_time(old), reference, fmt_time(ref), _ratio(new_old),
                          _ratio(new_ref), _ratio(old_ref), f"new/{against} ≤ {limit:.2f}x", verdict])

    def note(self, workers):
        for label, worker in workers.items():
            self.notes.setdefault(f"{label}: {worker.describe()}", None)


def _workers(base, references=()):
    workers = {"new": Worker.numbagrad(ROOT, label="new"), "old": Worker.numbagrad(base, label="old")}
    for name in references:
        workers[name] = Worker.reference(name)
    return workers


def _check_trees(workers, base):
    """Each numbagrad worker must have imported the checkout it stands for (not an installed copy)."""
    for label, tree in (("new", ROOT), ("old", Path(base).resolve())):
        found = workers[label].info(pools=False)["libraries"].get("autograd", {}).get("tree")
        if found != str(tree):
            raise SystemExit(f"the {label} process imported autograd from {found}, not from {tree}")


def _reference_case(worker, name, **kwargs):
    try:
        return worker.case(name, **kwargs)
    except ReferenceUnavailable:  # its columns print '-'
        return None


def _close(workers):
    for worker in workers.values():
        worker.close()


def measure(rows, base, items, reference, limit, repeat, **options):
    """Rows for ``items`` ((what, case name, case kwargs) each), new and old and, if ``reference`` names a
    library, that library's run of the same case; the guardrail bounds new/old (no reference) or
    new/reference. ``options`` go to interleaved_times."""
    workers = _workers(base, [reference] if reference else [])
    try:
        for i, (what, case, kwargs) in enumerate(items):
            cases = {side: workers[side].case(case, engine="numbagrad", **kwargs) for side in ("new", "old")}
            if i == 0:
                _check_trees(workers, base)
            if reference:
                cases["ref"] = _reference_case(workers[reference], case, engine=reference, **kwargs)
            times = interleaved_times(cases, repeat=repeat, **options)
            rows.add(what, times, reference or "-", limit, reference or "old")
        rows.note(workers)
    finally:
        _close(workers)


def main(argv=(), quick=False):
    argv = list(argv)
    quick = quick or "--quick" in argv
    if "--base" not in argv or argv.index("--base") + 1 >= len(argv):
        raise SystemExit("usage: python -m benchmarks ab --base DIR [--quick]   (DIR: another checkout, e.g. "
                         "git worktree add /tmp/base 9eee808)")
    base = Path(argv[argv.index("--base") + 1]).resolve()
    if not (base / "autograd" / "__init__.py").exists():
        raise SystemExit(f"{base} is not a numbagrad checkout (no autograd/__init__.py)")
    started = time.perf_counter()
    rows = Rows()
    measure(rows, base, [(f"MLP 784-256-256-10 SGD step, b{batch}", "mlp_step", {"batch": batch})
                         for batch in (32, 128, 512)], None, 1.10, 5 if quick else 25, settle=SETTLE)
    measure(rows, base, [(f"2x2 {op}(a, b).sum().backward()", "binary_2x2", {"op": op})
                         for op in ("add", "sub", "mul", "div", "matmul")], "torch", 0.70, 7 if quick else 31)
    # gc.collect() (untimed) before each batch in each process; the steps run with the collector on.
    measure(rows, base, [("Scalar MLP 2-16-16-1 step, 100 pts, gc on", "scalar_mlp_step", {})], "micrograd",
            0.15, 2 if quick else 7, setup=gc.collect)
    print_table(f"A/B: new = {ROOT}, old = {base} (medians; ratios = medians of per-round ratios)",
                ["what", "new", "old", "reference", "ref", "new/old", "new/ref", "old/ref", "guardrail",
                 "result"], rows.rows, left=1)
    print("How each side ran (each in a process of its own, the user's environment; numbagrad from its checkout):")
    for line in rows.notes:
        print(f"  {line}")
    print(f"{'--quick: few rounds, the ratios are rough. ' if quick else ''}"
          f"Total time {time.perf_counter() - started:.0f} s.", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
