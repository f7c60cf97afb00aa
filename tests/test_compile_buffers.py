"""Buffer planning of compiled programs: results written into a dead input's memory, frees, peak."""
import numpy as np

import autograd as ag
import nn
import optim
from autograd.compiler.passes.buffers import WritingInto
from autograd.kernels import fused_steps


def _mlp_step(seed=0):
    ag.manual_seed(seed)
    model = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 4))
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def step(x, y):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss
    return model, step


def test_dead_inputs_take_the_results_and_the_step_stays_eager_equal():
    (eager_model, eager), (model, step) = _mlp_step(), _mlp_step()
    compiled = ag.compile(step)
    rng = np.random.default_rng(0)
    for _ in range(4):
        x = ag.tensor(rng.standard_normal((8, 12)).astype(np.float32))
        y = ag.tensor(rng.integers(0, 4, 8))
        np.testing.assert_allclose(compiled(x, y).item(), eager(x, y).item(), rtol=1e-6)
    for a, b in zip(eager_model.parameters(), model.parameters()):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-7)
    program = compiled.program
    into = [i for i in program.instructions if isinstance(getattr(i, "function", None), WritingInto)]
    # both ReLU backwards, into the incoming gradient
    assert len(into) == 2
    for instruction in into:
        source = instruction.inputs[instruction.function.index]
        assert instruction.into is source and f"[into {source.name}'s memory]" in str(program)
        later = program.instructions[program.instructions.index(instruction) + 1:]
        assert all(source not in i.buffers_read() for i in later)  # nothing reads it afterwards
    assert "results written into a dead input's memory" in str(program)


def test_the_planned_peak_is_below_the_sum_of_the_buffers():
    _, step = _mlp_step()
    compiled = ag.compile(step)
    x, y = ag.randn(64, 12), ag.randint(0, 4, (64,))
    compiled(x, y)
    program = compiled.program
    allocated = sum(b.nbytes for b in program.buffers if b.owns_memory and b.producer is not None
                    and b.producer.kind != "read")
    assert 0 < program.peak_bytes < allocated


def test_into_the_incoming_gradient_gives_the_same_values():
    rng = np.random.default_rng(0)
    g = rng.standard_normal((5, 3)).astype(np.float32)
    y = np.maximum(rng.standard_normal((5, 3)).astype(np.float32), 0)
    expected, sums = fused_steps.relu_backward_column_sums(g, y)
    target = g.copy()
    masked, sums_into = fused_steps.relu_backward_column_sums(target, y, into=target)
    assert masked is target
    np.testing.assert_array_equal(masked, expected)
    np.testing.assert_array_equal(sums_into, sums)
    other = np.zeros((5, 3), np.float32)  # not the gradient itself: a new array, `other` untouched
    masked, _ = fused_steps.relu_backward_column_sums(g, y, into=other)
    assert masked is not other and not other.any()
    np.testing.assert_array_equal(masked, expected)
