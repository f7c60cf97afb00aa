"""Run every benchmark in one process (startup latency runs in fresh subprocesses) and print tables.

    python -m benchmarks              # all
    python -m benchmarks overhead     # only the named ones
"""
import importlib
import sys

ALL = ["startup", "overhead", "elementwise", "kernels", "matmul", "mlp", "nn", "optim", "scalar", "targets"]


def main(names):
    for name in names or ALL:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        module.main()


if __name__ == "__main__":
    main(sys.argv[1:])
