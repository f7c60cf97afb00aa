"""``compiled.program``: the listing a learner reads (ops, shapes, passes), the replay source (valid
Python, one ``def replay``), dead work removal and buffer planning."""
import ast

import numpy as np
import pytest

import autograd as ag
import nn
import optim
from compile_helpers import Setup, as_arguments, check_compiled_matches_eager, classification_batches
from autograd.compiler.program import Buffer, Read


def _rng():
    return np.random.default_rng(5)


def _setup(waste=False):
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def step(inputs, targets):
        optimizer.zero_grad()
        hidden = model[1](model[0](inputs))
        if waste:  # computed and thrown away: nothing the caller sees depends on it
            unused = ag.exp(hidden * 3.0).sum(dim=0)
            del unused
        loss = loss_fn(model[2](hidden), targets)
        loss.backward()
        optimizer.step()
        return loss
    return Setup(step, model, optimizer)


BATCHES = classification_batches(_rng(), 3, 4, 6, 3)


def _compiled(waste=False, passes=True):
    setup = _setup(waste)
    compiled = ag.compile(setup.step, passes=passes)
    compiled(*as_arguments(BATCHES[0]))
    return compiled


def test_the_listing_names_the_ops_the_shapes_and_the_passes():
    program = _compiled().program
    text = str(program)
    for op in ("Linear", "Relu", "CrossEntropy", "MatMul", "Optimizer.zero_grad", "Optimizer.step",
               "Tensor.accumulate_grad"):
        assert op in text, f"{op} missing from the listing:\n{text}"
    for shape in ("float32[4, 6]", "float32[8, 6]", "float32[4, 8]", "float32[4, 3]", "int64[4]"):
        assert shape in text, f"{shape} missing from the listing:\n{text}"
    names = [name for name, _ in program.passes]
    assert names[0] == "dead_work" and names[-1] == "buffers"  # buffer planning sees the final program
    for name, summary in program.passes:
        assert f"pass {name}: {summary}" in text
    head = text.splitlines()[0]
    assert head.startswith(f"program: {len(program.instructions)} instructions, {len(program.buffers)} buffers")
    assert "flop" in head and "B moved" in head


def _row(program, instruction):
    """The listing's line for ``instruction``."""
    index = program.instructions.index(instruction)
    return next(line for line in str(program).splitlines() if line.startswith(f"{index:4d}  "))


def test_the_listing_counts_the_flops_of_the_first_product():
    program = _compiled().program
    first = next(i for i in program.instructions if i.kind == "call" and program.arguments[0] in i.inputs)
    assert first.flops() >= 2 * 4 * 8 * 6  # (4, 6) @ (6, 8), and a fused activation may add its own
    assert f"{first.flops()} flop" in _row(program, first)


def test_the_listing_counts_the_weight_gradient_product_as_a_product():
    model = nn.Linear(8, 3)

    def step(x):
        model(x).sum().backward()
    compiled = ag.compile(step, passes=False)
    compiled(ag.ones(4, 8))
    product = next(i for i in compiled.program.instructions if i.label == "MatMulAT")
    assert product.flops() == 2 * 3 * 8 * 4  # (3, 4) @ (4, 8)


def test_without_passes_the_listing_says_none_ran():
    program = _compiled(passes=False).program
    assert program.passes == [] and program.peak_bytes is None
    assert "pass " not in str(program)


def test_the_source_is_python_with_one_replay_function():
    program = _compiled().program
    source = program.source()
    tree = ast.parse(source)
    functions = [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)]
    assert [f.name for f in functions] == ["replay"]
    assert len(tree.body) == 1
    assert [a.arg for a in functions[0].args.args] == ["leaves"]
    assert isinstance(functions[0].body[-1], ast.Return)
    # each buffer is assigned before it is read
    assigned = set()
    for node in functions[0].body:
        for name in ast.walk(node):
            if isinstance(name, ast.Name) and name.id.startswith("b") and name.id[1:].isdigit():
                if isinstance(name.ctx, ast.Store):
                    assigned.add(name.id)
                else:
                    assert name.id in assigned, f"{name.id} read before it is assigned"


def test_the_source_frees_buffers_after_their_last_use():
    program = _compiled().program
    source = program.source()
    freed = [line for line in source.splitlines() if line.strip().startswith("del ")]
    assert freed, source
    assert sum(len(line.split(",")) for line in freed) == sum(len(v) for v in program.frees.values())


def test_dead_work_removal_drops_a_computation_nobody_reads():
    wasteful, plain = _compiled(waste=True).program, _compiled(waste=False).program
    unpassed = _compiled(waste=True, passes=False).program
    labels = [i.label for i in wasteful.instructions]
    assert "Exp" in [i.label for i in unpassed.instructions]
    assert "Exp" not in labels and "Exp(" not in str(wasteful)
    assert [i.label for i in plain.instructions] == labels
    assert len(unpassed.instructions) > len(wasteful.instructions)
    dropped = dict(wasteful.passes)["dead_work"]
    assert dropped.startswith("dropped ") and int(dropped.split()[1]) >= 3  # multiply, exp and sum


def test_dead_work_removal_keeps_what_eager_would_compute():
    compiled = check_compiled_matches_eager(lambda: _setup(waste=True), BATCHES)
    assert "Exp" not in [i.label for i in compiled.program.instructions]


def test_a_replay_without_passes_equals_eager():
    check_compiled_matches_eager(_setup, BATCHES, compile=lambda fn: ag.compile(fn, passes=False))


def test_dead_work_removal_keeps_random_draws():
    # a dropout mask that nothing reads still advances the generator, as eager does
    def build():
        x_scale = ag.ones(3)

        def step(x):
            ag.rand(5)  # drawn and dropped
            return x * x_scale
        return Setup(step, tensors=[x_scale])
    compiled = check_compiled_matches_eager(build, [(np.ones(3, np.float32),)] * 3)
    assert any(i.has_effect and i.kind == "call" for i in compiled.program.instructions)


def test_peak_bytes_is_positive_and_at_most_all_the_buffers():
    program = _compiled().program
    allocated = sum(b.nbytes for b in program.buffers if b.owns_memory and not isinstance(b.producer, Read))
    assert 0 < program.peak_bytes <= allocated <= sum(b.nbytes for b in program.buffers)
    assert f"{program.peak_bytes} bytes" in dict(program.passes)["buffers"]


def test_peak_bytes_grows_with_the_batch():
    small = _compiled().program.peak_bytes
    setup = _setup()
    compiled = ag.compile(setup.step)
    compiled(*as_arguments(classification_batches(_rng(), 1, 64, 6, 3)[0]))
    assert compiled.program.peak_bytes > small


def test_every_buffer_in_the_listing_has_a_shape_and_dtype():
    program = _compiled().program
    for buffer in program.buffers:
        assert isinstance(buffer, Buffer)
        assert buffer.describe() == f"{buffer.dtype.name}{list(buffer.shape)}"
        assert buffer.nbytes == int(np.prod(buffer.shape)) * buffer.dtype.itemsize
    text = str(program)
    for instruction in program.instructions:
        for b in instruction.outputs:
            assert f"{b.name} {b.describe()}" in text


@pytest.mark.parametrize("passes", [True, False])
def test_the_program_is_replayed_the_same_each_call(passes):
    setup = _setup()
    compiled = ag.compile(setup.step, passes=passes)
    compiled(*as_arguments(BATCHES[0]))
    first = compiled.program
    for batch in BATCHES[1:]:
        compiled(*as_arguments(batch))
        assert compiled.program is first
    assert compiled.replays == len(BATCHES) - 1

