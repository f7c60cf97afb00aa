"""Run the benchmarks and print tables.

    python -m benchmarks [--quick] [SECTION ...]     # all sections, or the named ones
    python -m benchmarks targets [--quick] [mlp tiny ...]   # issue 7's targets (sections: see bench_targets)
    python -m benchmarks ab --base DIR [--quick]     # A/B guardrails: this checkout against the one at DIR

Each reference (PyTorch, micrograd) runs in a process of its own with your environment unchanged
(benchmarks/reference.py); numbagrad runs with the settings a user gets after pip install. --quick uses
few repetitions: for checking that a table runs, not for its numbers.
"""
import importlib
import sys
from pathlib import Path

ALL = ["startup", "overhead", "elementwise", "kernels", "matmul", "mlp", "nn", "optim", "scalar", "sequence",
       "targets"]
# Sections added as benchmarks/bench_NAME.py run too, before the targets table.
ALL[-1:-1] = sorted(p.stem[len("bench_"):] for p in Path(__file__).parent.glob("bench_*.py")
                    if p.stem[len("bench_"):] not in ALL + ["ab"])


def main(argv):
    if "-h" in argv or "--help" in argv:
        print(__doc__.strip())
        print(f"\nsections: {', '.join(ALL)}, ab")
        return
    quick = "--quick" in argv
    args = [a for a in argv if a != "--quick"]
    if args and args[0] == "ab":
        from benchmarks.bench_ab import main as ab_main
        ab_main(args[1:], quick=quick)
        return
    if args and args[0] == "targets":
        from benchmarks.bench_targets import SECTIONS, main as targets_main
        targets_main(args[1:] or tuple(SECTIONS), quick=quick)
        return
    unknown = [a for a in args if a not in ALL]
    if unknown:
        raise SystemExit(f"unknown section(s) {unknown}; choose from {', '.join(ALL)}, ab (see --help)")
    for name in args or ALL:
        importlib.import_module(f"benchmarks.bench_{name}").main(quick=quick)


if __name__ == "__main__":
    main(sys.argv[1:])
