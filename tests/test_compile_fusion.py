"""The fusion pass (``autograd/compiler/passes/fusion.py``): where it fires (the listing's ``[fused: ...]``
and ``fused_from``), that a fused step follows the eager step and the unfused compiled step call for
call, where it must not fire, and what its kernels (``autograd/kernels/fused_steps.py``) compute."""
import numpy as np
import pytest

import autograd as ag
import nn
import optim
from compile_helpers import (Setup, as_arguments, assert_same, classification_batches, observe, run_eager,
                             tolerances, training_step)
from autograd.compiler.capture import OpForward
from autograd.compiler.passes.fusion import fuse_elementwise
from autograd.compiler.program import Buffer, Call, Const, Program, ReplayTensor, Write
from autograd.kernels import elementwise, fused_steps, losses, rows
from autograd.ops.activations import ReluGrad
from autograd.ops.reduction import Sum

STEPS = 4
DTYPES = (np.float32, np.float64)


def _rng():
    return np.random.default_rng(11)


def _mlp_build(dtype):
    def build():
        model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3))
        if dtype == np.float64:
            model = model.double()
        optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        return Setup(training_step(model, optimizer, nn.CrossEntropyLoss()), model, optimizer)
    return build


def _cnn_build(dtype):
    def build():
        model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(4 * 4 * 4, 3))
        if dtype == np.float64:
            model = model.double()
        optimizer = optim.Adam(model.parameters(), lr=0.01)
        return Setup(training_step(model, optimizer, nn.CrossEntropyLoss()), model, optimizer)
    return build


def _mlp_batches(dtype):
    return classification_batches(_rng(), STEPS, 5, 6, 3, dtype)


def _cnn_batches(dtype):
    return classification_batches(_rng(), STEPS, 4, (1, 8, 8), 3, dtype)


def _program(build, batches, passes=True):
    ag.manual_seed(0)
    compiled = ag.compile(build().step, passes=passes)
    compiled(*as_arguments(batches[0]))
    return compiled.program


def _fused(program):
    """The calls the fusion pass made (a host call may have a fused form of its own)."""
    return [i for i in program.instructions if i.fused_from and isinstance(i, Call)]


def _summary(program):
    return dict(program.passes)["fusion"]


# ---------------------------------------------------------------------------- where it fires
def test_the_mlp_step_fuses_each_layer_and_the_loss_gradient():
    program = _program(_mlp_build(np.float32), _mlp_batches(np.float32))
    chains = [i.fused_from for i in _fused(program)]
    assert chains == [("Linear", "Relu")] * 2 + [("CrossEntropyGrad", "Sum")] + [("ReluGrad", "Sum")] * 2
    assert _summary(program) == "2 Linear + Relu, 2 ReluGrad + Sum, 1 CrossEntropyGrad + Sum"
    text = str(program)
    assert text.count("[fused: Linear + Relu]") == 2 and text.count("[fused: ReluGrad + Sum]") == 2
    assert "pass fusion: 2 Linear + Relu" in text
    labels = [i.label for i in program.instructions]
    assert "Relu" not in labels and "ReluGrad" not in labels and "Sum" not in labels
    # the fused call of the last layer's gradient gives both the gradient and the bias gradient
    (loss_grad,) = [i for i in program.instructions if i.fused_from == ("CrossEntropyGrad", "Sum")]
    assert [b.shape for b in loss_grad.outputs] == [(5, 3), (3,)]


def test_the_unfused_program_keeps_every_call():
    program = _program(_mlp_build(np.float32), _mlp_batches(np.float32), passes=False)
    assert not _fused(program) and "fusion" not in dict(program.passes)
    labels = [i.label for i in program.instructions]
    assert labels.count("Relu") == 2 and labels.count("ReluGrad") == 2 and labels.count("Sum") == 3


def test_the_cnn_step_fuses_batch_norms_affine_output_with_its_relu():
    program = _program(_cnn_build(np.float32), _cnn_batches(np.float32))
    chains = [i.fused_from for i in _fused(program)]
    assert ("Mul", "Add", "Relu") in chains and ("CrossEntropyGrad", "Sum") in chains
    (affine,) = [i for i in program.instructions if i.fused_from == ("Mul", "Add", "Relu")]
    assert affine.label == "scale_shift_relu" and affine.outputs[0].shape == (4, 4, 8, 8)
    assert [b.shape for b in affine.inputs] == [(4, 4, 8, 8), (1, 4, 1, 1), (1, 4, 1, 1)]


def test_a_linear_layer_over_a_sequence_fuses_through_the_reshapes_of_its_gradient():
    def build():
        model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2))
        optimizer = optim.SGD(model.parameters(), lr=0.1)

        def step(inputs):
            optimizer.zero_grad()
            loss = (model(inputs) ** 2).mean()
            loss.backward()
            optimizer.step()
            return loss
        return Setup(step, model, optimizer)
    batches = [(_rng().standard_normal((3, 5, 4)).astype(np.float32),) for _ in range(STEPS)]
    program = _program(build, batches)
    chains = [i.fused_from for i in _fused(program)]
    assert chains == [("Linear", "Relu"), ("ReluGrad", "Sum")]
    (grad,) = [i for i in program.instructions if i.fused_from == ("ReluGrad", "Sum")]
    assert [b.shape for b in grad.outputs] == [(3, 5, 6), (6,)]
    _matches_eager_and_unfused(build, batches, np.float32)


# ---------------------------------------------------------------------------- what it computes
def _matches_eager_and_unfused(build, batches, dtype):
    """After every call, the fused compiled step's observable state equals the eager step's and the
    unfused (``passes=False``) compiled step's, to rounding."""
    rtol, atol = tolerances(dtype)
    expected = run_eager(build, batches)
    runs = {}
    for passes in (True, False):
        ag.manual_seed(1234)  # compile_helpers.run_eager's seed
        setup = build()
        compiled = ag.compile(setup.step, passes=passes)
        runs[passes] = [observe(setup, compiled(*as_arguments(batch))) for batch in batches]
        assert compiled.captures == 1 and compiled.replays == len(batches) - 1
    for i in range(len(batches)):
        assert_same(runs[True][i], expected[i], f"fused vs eager, call {i}", rtol, atol)
        assert_same(runs[True][i], runs[False][i], f"fused vs unfused, call {i}", rtol, atol)
    return compiled


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_a_fused_mlp_step_follows_the_eager_step(dtype):
    assert len(_fused(_program(_mlp_build(dtype), _mlp_batches(dtype)))) == 5
    _matches_eager_and_unfused(_mlp_build(dtype), _mlp_batches(dtype), dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_a_fused_cnn_step_follows_the_eager_step(dtype):
    assert len(_fused(_program(_cnn_build(dtype), _cnn_batches(dtype)))) == 2
    _matches_eager_and_unfused(_cnn_build(dtype), _cnn_batches(dtype), dtype)


def test_the_bit_equal_fusions_give_the_unfused_steps_bits():
    """LinearRelu and BatchNorm's scale, shift and ReLU reuse the eager expressions: where they are the
    only fusions (no bias gradient after the ReLU, no cross-entropy), the fused and unfused compiled
    steps agree to the bit, step after step."""
    def build():
        model = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
                              nn.Linear(3 * 8 * 8, 5, bias=False), nn.ReLU(), nn.Linear(5, 2))
        optimizer = optim.SGD(model.parameters(), lr=0.05)

        def step(inputs):
            optimizer.zero_grad()
            loss = (model(inputs) ** 2).mean()
            loss.backward()
            optimizer.step()
            return loss
        return Setup(step, model, optimizer)
    batches = [(_rng().standard_normal((2, 1, 8, 8)).astype(np.float32),) for _ in range(STEPS)]
    assert [i.fused_from for i in _fused(_program(build, batches))] == [("Mul", "Add", "Relu"),
                                                                         ("Linear", "Relu")]
    parameters = {}
    for passes in (True, False):
        ag.manual_seed(3)
        setup = build()
        compiled = ag.compile(setup.step, passes=passes)
        for batch in batches:
            compiled(*as_arguments(batch))
        parameters[passes] = [p.detach().numpy().copy() for p in setup.model.parameters()]
    for fused_value, unfused_value in zip(parameters[True], parameters[False]):
        np.testing.assert_array_equal(fused_value, unfused_value)


# ---------------------------------------------------------------------------- where it must not fire
def test_no_fusion_where_the_linear_output_is_read_elsewhere():
    def build():
        model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
        optimizer = optim.SGD(model.parameters(), lr=0.1)
        loss_fn = nn.CrossEntropyLoss()

        def step(inputs, targets):
            optimizer.zero_grad()
            hidden = model[0](inputs)
            loss = loss_fn(model[2](model[1](hidden)), targets) + 0.01 * (hidden * hidden).mean()
            loss.backward()
            optimizer.step()
            return loss
        return Setup(step, model, optimizer)
    program = _program(build, _mlp_batches(np.float32))
    assert ("Linear", "Relu") not in [i.fused_from for i in _fused(program)]
    assert [i.label for i in program.instructions].count("Relu") == 1
    _matches_eager_and_unfused(build, _mlp_batches(np.float32), np.float32)


def test_no_fusion_where_the_step_returns_the_pre_activation():
    def build():
        model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
        optimizer = optim.SGD(model.parameters(), lr=0.1)
        loss_fn = nn.CrossEntropyLoss()

        def step(inputs, targets):
            optimizer.zero_grad()
            hidden = model[0](inputs)
            loss = loss_fn(model[2](model[1](hidden)), targets)
            loss.backward()
            optimizer.step()
            return loss, hidden
        return Setup(step, model, optimizer)
    program = _program(build, _mlp_batches(np.float32))
    assert ("Linear", "Relu") not in [i.fused_from for i in _fused(program)]
    _matches_eager_and_unfused(build, _mlp_batches(np.float32), np.float32)


def test_no_fusion_where_batch_norms_output_is_read_before_the_relu():
    def build():
        model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(4 * 4 * 4, 3))
        optimizer = optim.SGD(model.parameters(), lr=0.05)
        loss_fn = nn.CrossEntropyLoss()

        def step(inputs, targets):
            optimizer.zero_grad()
            normalised = model[1](model[0](inputs))
            logits = model[5](model[4](model[3](model[2](normalised))))
            loss = loss_fn(logits, targets) + 0.01 * normalised.mean()
            loss.backward()
            optimizer.step()
            return loss
        return Setup(step, model, optimizer)
    program = _program(build, _cnn_batches(np.float32))
    assert ("Mul", "Add", "Relu") not in [i.fused_from for i in _fused(program)]
    _matches_eager_and_unfused(build, _cnn_batches(np.float32), np.float32)


def _relu_grad_then_sum(write_between):
    """A hand-made program: z = ReluGrad(g, y), optionally z *= 2 in place, s = Sum(z, (0,), False)."""
    arrays = [np.ones((4, 3), np.float32) for _ in range(4)]
    g, y, z, s = (Buffer(i, a) for i, a in enumerate(arrays[:3] + [np.ones(3, np.float32)]))
    relu_grad = Call("ReluGrad", OpForward(ReluGrad, (), (True, False), []), [g, y], [z])
    column_sum = Call("Sum", OpForward(Sum, (), (True, False, False), []), [z, Const((0,)), Const(False)], [s])
    scale = Write("multiply_", np.multiply, [z, Const(2.0)])
    instructions = [relu_grad] + ([scale] if write_between else []) + [column_sum]
    return Program(instructions, [g, y, z, s], (ReplayTensor(s), ReplayTensor(z)), [], [])


def test_no_fusion_where_a_write_changes_the_gradient_before_its_sum():
    program = _relu_grad_then_sum(write_between=True)
    fuse_elementwise(program)
    assert not _fused(program) and _summary(program) == "nothing to fuse"
    control = _relu_grad_then_sum(write_between=False)
    fuse_elementwise(control)
    assert [i.fused_from for i in control.instructions] == [("ReluGrad", "Sum")]


# ---------------------------------------------------------------------------- the kernels
def _rng_array(shape, dtype, rng):
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("layout", ["2-d", "3-d", "transposed"])
def test_relu_backward_column_sums(dtype, layout):
    rng = np.random.default_rng(0)
    shape = {"2-d": (37, 19), "3-d": (4, 9, 19), "transposed": (19, 37)}[layout]
    grad, out = _rng_array(shape, dtype, rng), np.maximum(_rng_array(shape, dtype, rng), 0)
    if layout == "transposed":
        grad, out = grad.T, out.T
    out.flat[::7] = np.nan  # NaN masks to 0, as in the eager kernel
    masked, sums = fused_steps.relu_backward_column_sums(grad, out)
    np.testing.assert_array_equal(masked, elementwise.relu_backward(grad, out))
    rows_of = masked.reshape(-1, masked.shape[-1]).astype(np.float64)
    assert sums.dtype == dtype and sums.shape == (masked.shape[-1],)
    np.testing.assert_allclose(sums, rows_of.sum(axis=0), rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("per_row", [False, True])
def test_cross_entropy_grad_column_sums(dtype, per_row):
    rng = np.random.default_rng(1)
    logits = _rng_array((23, 7), dtype, rng)
    target = rng.integers(0, 7, 23)
    target[3] = -100  # an ignored row counts for nothing
    logp = rows.log_softmax_forward(logits)
    loss_rows, row_weights, _, weight_sum = losses.cross_entropy_rows(logp, target, None, -100)
    g = _rng_array(23, dtype, rng) if per_row else np.ones((), dtype)
    grad, sums = fused_steps.cross_entropy_grad_column_sums(logp, target, row_weights, 1.0 / weight_sum, g)
    np.testing.assert_array_equal(grad, losses.cross_entropy_grad(logp, target, row_weights, 1.0 / weight_sum, g))
    assert sums.dtype == dtype and np.all(grad[3] == 0)
    np.testing.assert_allclose(sums, grad.astype(np.float64).sum(axis=0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("shape", [(3, 4, 5, 6), (7, 5), (2, 3, 4)])
def test_scale_shift_relu_gives_numpys_bits(dtype, shape):
    rng = np.random.default_rng(2)
    x = _rng_array(shape, dtype, rng)
    channel = (1, shape[1]) + (1,) * (len(shape) - 2)
    scale, shift = _rng_array(channel, dtype, rng), _rng_array(channel, dtype, rng)
    expected = elementwise.relu_forward(x * scale + shift)
    np.testing.assert_array_equal(fused_steps.scale_shift_relu(x, scale, shift), expected)
    swapped = np.ascontiguousarray(np.swapaxes(x, 0, 1)).swapaxes(0, 1)  # the same values, not C-ordered
    assert not swapped.flags.c_contiguous
    np.testing.assert_array_equal(fused_steps.scale_shift_relu(swapped, scale, shift), expected)


def test_scale_shift_relu_of_an_empty_batch():
    x = np.zeros((0, 3, 2, 2), np.float32)
    assert fused_steps.scale_shift_relu(x, np.ones(3, np.float32), np.ones(3, np.float32)).shape == x.shape
