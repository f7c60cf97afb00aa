"""The benchmark harness runs (its numbers are not checked here: benchmarks print tables, tests don't time).

What matters for honest comparisons: a reference runs in a process of its own that gets the user's
environment unchanged, and the numbagrad process imports the checkout it is told to."""
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.reference import THREAD_VARIABLES, Worker

ROOT = Path(__file__).resolve().parent.parent


def test_help_lists_the_sections_and_the_ab_command():
    out = subprocess.run([sys.executable, "-m", "benchmarks", "--help"], cwd=ROOT, capture_output=True,
                         text=True, check=True, env=dict(os.environ, PYTHONPATH=str(ROOT))).stdout
    assert "ab --base DIR" in out and "targets" in out


def test_importing_the_benchmarks_changes_no_environment_variable():
    code = "import os; before = dict(os.environ); import benchmarks; print(dict(os.environ) == before)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT))).stdout
    assert out.strip() == "True"


def test_a_reference_worker_times_a_case_in_its_own_process_with_the_users_environment():
    with Worker.reference("numpy") as worker:
        case = worker.case("benchmarks.target_steps:copy_floor", n=1000)
        seconds = case.block(case.calibrate(0.001))
        info = worker.info(pools=False)
    assert 0 < seconds < 1
    assert info["variables"] == {k: v for k, v in os.environ.items() if k.startswith(THREAD_VARIABLES)}
    assert "autograd" not in info["libraries"]  # a reference's process never loads numbagrad


def test_a_numbagrad_worker_imports_the_checkout_it_is_given():
    with Worker.numbagrad(ROOT) as worker:
        case = worker.case("binary_2x2", engine="numbagrad", op="add")
        assert case.block(1) > 0
        assert worker.info(pools=False)["libraries"]["autograd"]["tree"] == str(ROOT)
