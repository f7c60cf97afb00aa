"""numbagrad benchmarks: ``python -m benchmarks`` (or ``make bench``) runs them all and prints tables."""

import os

# PyTorch's OpenMP threads and numpy's OpenBLAS threads spin-wait for work after each call. On a 2-core
# machine, with both libraries in one process, each then waits for cores the other is spinning on
# (measured: a 3-layer MLP step went from ~1.5 ms to 80 ms for numbagrad and 170 ms for torch).
# Passive waiting makes the side-by-side comparison measure the libraries rather than the contention.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
