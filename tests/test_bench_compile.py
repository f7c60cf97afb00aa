"""The compiled-steps table (benchmarks/bench_compile.py) runs: its numbagrad-only rows in quick mode on
small batches, and the check its compiled cases make before they are timed (numbers are not checked:
benchmarks print tables, tests don't time)."""
import math

import pytest

import autograd
from benchmarks import bench_compile, cases


@pytest.mark.parametrize("model, batch", [("mlp", 8), ("cnn_bn", 4), ("transformer", 2)])
def test_a_compiled_case_replays_after_giving_the_eager_losses(model, batch):
    run = cases.training_step("numbagrad", model, batch=batch, compiled=True)  # raises if the check fails
    loss = run()
    assert loss.shape == () and math.isfinite(loss.item())


def test_the_check_refuses_a_compiled_step_whose_losses_differ():
    e = cases._Engine("numbagrad")
    step, inputs = cases.model_step(e, "mlp", 8)
    compiled = autograd.compile(step)

    def off_by_one(*args):
        return compiled(*args) + 1.0
    off_by_one.captures, off_by_one.replays = 1, cases.CHECKED_CALLS - 1
    with pytest.raises(AssertionError, match="compiled loss"):
        cases._same_losses_as_eager(e, off_by_one, inputs, "mlp", 8)


def test_the_check_refuses_a_step_that_does_not_replay():
    e = cases._Engine("numbagrad")
    step, inputs = cases.model_step(e, "mlp", 8)
    with pytest.raises(AssertionError, match="does not replay"):
        cases._same_losses_as_eager(e, _RunsEagerly(step), inputs, "mlp", 8)


class _RunsEagerly:
    """A step with CompiledFunction's counters that never captures nor replays (as one whose capture
    failed and that runs eagerly at every call)."""

    def __init__(self, step):
        self.step, self.captures, self.replays, self.eager_calls = step, 0, 0, 0

    def __call__(self, *args):
        self.eager_calls += 1
        return self.step(*args)


def test_the_sections_numbagrad_rows_run_in_quick_mode():
    table, notes = bench_compile.Table(), {}
    bench_compile.mlp_rows(table, notes, quick=True, batches=(32,), references=False)
    bench_compile.capture_rows(table, notes, quick=True, batch=8, repeat=1)
    bench_compile.memory_rows(table, notes, quick=True, batch=16)
    rows = {(row[0].strip(), row[2]): row for row in table.rows}
    floor = rows[("compiled MLP 784-256-256-10 step, b32", "8 matmuls (floor) [1]")]
    assert floor[4].endswith("x") and floor[6] in ("PASS", "FAIL")
    assert rows[("compiled MLP 784-256-256-10 step, b32", "torch eager")][6] == "n/a"  # references off
    assert rows[("the same step compiled, over eager", "numbagrad eager")][4].endswith("x")
    assert rows[("capture time, MLP b8 step [5]", "first eager step")][6] in ("PASS", "FAIL")
    assert rows[("peak memory, compiled MLP b16 step [6]", "eager step")][4].endswith("x")
    assert any(line.startswith("capture row: numba's disk cache was") for line in notes)
    table.print()
