"""Startup latency in fresh processes: ``import autograd`` and the first forward+backward of a 3-layer
MLP, with an empty Numba kernel cache (everything compiles) and with a warm one (kernels load from disk).
"""
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import USER_ENVIRONMENT
from benchmarks.common import fmt_time, print_table

ROOT = Path(__file__).resolve().parent.parent


def _run(cache_dir):
    env = dict(USER_ENVIRONMENT, NUMBA_CACHE_DIR=cache_dir, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-m", "benchmarks.mlp_step"], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1])


def main(warm_runs=5, quick=False):
    warm_runs = 2 if quick else warm_runs
    with tempfile.TemporaryDirectory() as cache_dir:
        cold_import, cold_step = _run(cache_dir)             # empty cache: compiles and writes it
        warm = [_run(cache_dir) for _ in range(warm_runs)]   # the cache written above is reused
    warm_import = statistics.median(w[0] for w in warm)
    warm_step = statistics.median(w[1] for w in warm)
    rows = [
        ["import autograd", fmt_time(cold_import), fmt_time(warm_import), "< 0.5 s (warm)"],
        ["first forward+backward+update, 3-layer MLP", fmt_time(cold_step), fmt_time(warm_step), "< 1 s (warm)"],
    ]
    print_table(f"Startup in a fresh process (empty kernel cache: 1 run; warm cache: median of {warm_runs})",
                ["what", "empty cache", "warm cache", "goal"], rows, left=1)


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
