"""Fusion: where the step runs a cheap elementwise call (or a column sum) right on the output of the
call before it, and nothing else reads what passes between them, one call does both: one pass over
memory instead of two, and one call from Python instead of two.

Each rule names the chain of calls it merges. The fused call takes the place of the chain's first
call (of its last where an input of the chain is made in between), keeps the outputs that the rest
of the program reads, and lists in ``fused_from`` what it replaced (the listing prints
``[fused: Linear + Relu]``). A rule fires only where

* each output it stops making is read by the chain alone (no other instruction, not the result);
* the arrays have the dtypes and shapes its kernel takes, and are small enough that the eager
  kernels it replaces ran on one thread (``kernels.elementwise.PARALLEL_MIN_MEMORY``);
* nothing between the chain's calls writes into (or is handed by a host call) an array that the
  fused call now reads or makes earlier than the step did.

The rules, each kept because it made the compiled steps faster (the commit messages carry the
measurements):

1. ``Linear → Relu``: ``LinearRelu``'s forward: the product, then bias and ReLU in one pass over it
   (the same kernels as the eager op, bit-equal);
2. ``ReluGrad → Sum over rows`` (through reshapes that only merge leading axes): ReLU's backward and
   the bias gradient from one pass (``kernels.fused_steps.relu_backward_column_sums``);
3. ``CrossEntropyGrad → Sum over rows``: the softmax − one-hot gradient and the last bias's gradient
   (``kernels.fused_steps.cross_entropy_grad_column_sums``);
4. ``Mul(x, scale) → Add(·, shift) → Relu`` with one scale and one shift per channel (BatchNorm's
   affine output then a ReLU): ``kernels.fused_steps.scale_shift_relu``, bit-equal.

The column sums of rules 2 and 3 come out summed row after row, where the eager step asks BLAS:
equal to the eager step's to rounding. BatchNorm's own channel sums are its op's (``BatchNorm``,
``autograd/ops/batch_norm.py``): no rule here changes their rounding, which matters because the
gradient of a bias feeding a BatchNorm is exactly 0, computed as rounding noise, that Adam would scale
up to full steps if it came out as other noise. Around the loss, the
softmax and the cross-entropy are one op already, and the seed of backward (a fresh 0-d array of
ones) costs one copy of a fraction of a microsecond: both are left as they are.
"""
import numpy as np

from ...ops.activations import Relu, ReluGrad
from ...ops.arithmetic import Add, Mul
from ...ops.linalg import Linear, LinearRelu
from ...ops.losses import CrossEntropyGrad
from ...ops.reduction import Sum
from ...ops.shape import Reshape
from ..capture import OpForward
from ..program import Buffer, Call, Const, Host, Write, template_buffers


def fuse_elementwise(program):
    fused = {}
    for rule in RULES:
        view = _View(program)
        for instruction in list(program.instructions):
            if view.removed(instruction):
                continue
            rewrite = rule(view, instruction)
            if rewrite is not None:
                view.apply(*rewrite)
                label = " + ".join(rewrite[0].fused_from)
                fused[label] = fused.get(label, 0) + 1
        program.instructions = view.instructions()
    summary = ", ".join(f"{count} {name}" for name, count in fused.items()) or "nothing to fuse"
    program.passes.append(("fusion", summary))


# ---------------------------------------------------------------------------------------- the rules
def _linear_relu(view, linear):
    """Linear(x, W, b) -> h; Relu(h) -> y   becomes   LinearRelu(x, W, b) -> y."""
    if not _is_op(linear, Linear) or linear.function.keywords or len(linear.outputs) != 1:
        return None
    (h,) = linear.outputs
    relu = view.sole_reader(h)
    if not _is_op(relu, Relu) or len(relu.outputs) != 1 or relu.inputs[0] is not h:
        return None
    x, weight, bias = linear.inputs
    if not (isinstance(x, Buffer) and isinstance(weight, Buffer) and _same_float_dtype(x, weight, bias)):
        return None
    if not (isinstance(bias, Buffer) or isinstance(bias, Const) and bias.value is None):
        return None
    forward = OpForward(LinearRelu, (), linear.function.needs_input_grad, [])
    call = Call("LinearRelu", forward, linear.inputs, relu.outputs, flops=linear.flops() + relu.flops())
    return call, (linear, relu)


def _relu_grad_sums(view, relu_grad):
    """ReluGrad(g, y) -> z; [Reshape(z) -> ...] Sum(z, (0,), False) -> s   becomes   one call -> z, s."""
    if not _is_op(relu_grad, ReluGrad) or len(relu_grad.outputs) != 1:
        return None
    (z,) = relu_grad.outputs
    sum_call = _row_sum_of(view, z)
    g, y = relu_grad.inputs
    if sum_call is None or not (isinstance(g, Buffer) and isinstance(y, Buffer)) or g.shape != y.shape:
        return None
    if not _same_float_dtype(g, y) or not _serial_size(z):
        return None
    from ...kernels import fused_steps
    call = Call("relu_backward_column_sums", fused_steps.relu_backward_column_sums, [g, y],
                [z, sum_call.outputs[0]], flops=relu_grad.flops() + sum_call.flops())
    return call, (relu_grad, sum_call)


def _cross_entropy_grad_sums(view, ce_grad):
    """CrossEntropyGrad(g, x, logp, t, w, coef) -> z; Sum(z, (0,), False) -> s   becomes   one call."""
    if not _is_op(ce_grad, CrossEntropyGrad) or len(ce_grad.outputs) != 1 or ce_grad.function.keywords:
        return None
    (z,) = ce_grad.outputs
    sum_call = _row_sum_of(view, z)
    g, _x, logp, target, row_weights, coef = ce_grad.inputs
    if sum_call is None or len(z.shape) != 2 or not _same_float_dtype(logp, g) or not _serial_size(z):
        return None
    from ...kernels import fused_steps
    call = Call("cross_entropy_grad_column_sums", fused_steps.cross_entropy_grad_column_sums,
                [logp, target, row_weights, coef, g], [z, sum_call.outputs[0]],
                flops=ce_grad.flops() + sum_call.flops())
    return call, (ce_grad, sum_call)


def _scale_shift_relu(view, mul):
    """Mul(x, s) -> a; Add(a, c) -> b; Relu(b) -> y, s and c one value per channel   becomes   one call."""
    if not _is_op(mul, Mul) or len(mul.outputs) != 1:
        return None
    (a,) = mul.outputs
    add = view.sole_reader(a)
    if not _is_op(add, Add) or len(add.outputs) != 1:
        return None
    (b,) = add.outputs
    relu = view.sole_reader(b)
    if not _is_op(relu, Relu) or len(relu.outputs) != 1:
        return None
    x, scale = _split_channel_operand(mul.inputs, a.shape)
    shift = _other_operand(add.inputs, a)
    if x is None or shift is None or not _per_channel(shift, a.shape) or x.shape != a.shape:
        return None
    if not _same_float_dtype(x, scale, shift) or not _serial_size(a):
        return None
    # shift may be made after the Mul (a reshape of the bias): the fused call takes the Relu's place
    if not all(view.unchanged_between(operand, mul, relu) for operand in (x, scale, shift)):
        return None
    from ...kernels import fused_steps
    call = Call("scale_shift_relu", fused_steps.scale_shift_relu, [x, scale, shift], relu.outputs,
                flops=mul.flops() + add.flops() + relu.flops())
    return call, (mul, add, relu), relu


RULES = (_linear_relu, _relu_grad_sums, _cross_entropy_grad_sums, _scale_shift_relu)


# ---------------------------------------------------------------------------------------- helpers
class _View:
    """The program's instructions with who reads each buffer, and the rewrites made so far."""

    def __init__(self, program):
        self._instructions = list(program.instructions)
        self.position = {id(i): p for p, i in enumerate(self._instructions)}
        self.readers = {}
        for instruction in self._instructions:
            for b in instruction.buffers_read():
                self.readers.setdefault(id(b), []).append(instruction)
        self.results = {id(b) for b in template_buffers(program.result)}
        self.replacement = {}  # id(instruction) -> the fused call in its place, or None (dropped)

    def sole_reader(self, buffer):
        """The one instruction that reads ``buffer``, if it is neither read elsewhere nor a result."""
        readers = self.readers.get(id(buffer), ())
        if len(readers) != 1 or id(buffer) in self.results or self.removed(readers[0]):
            return None
        return readers[0]

    def removed(self, instruction):
        return id(instruction) in self.replacement

    def unchanged_between(self, buffer, first, last):
        """Whether no write or host call between instructions ``first`` and ``last`` can change
        ``buffer``: none reads it or an array a call made from it in between (which may be a view)."""
        start, end = self.position[id(first)], self.position[id(last)]
        reached = {id(buffer)}
        for instruction in self._instructions[start + 1:end]:
            if not any(id(b) in reached for b in instruction.buffers_read()):
                continue
            if isinstance(instruction, (Write, Host)) or instruction.has_effect:
                return False
            reached.update(id(b) for b in instruction.outputs)
        return True

    def apply(self, call, chain, where=None):
        """``call`` replaces the instructions of ``chain``, in the place of ``where`` (the first)."""
        where = chain[0] if where is None else where
        for instruction in chain:
            self.replacement[id(instruction)] = call if instruction is where else None
        call.fused_from = tuple(i.label for i in chain)

    def instructions(self):
        kept = []
        for instruction in self._instructions:
            replaced = self.replacement.get(id(instruction), instruction)
            if replaced is not None:
                kept.append(replaced)
        return kept


def _is_op(instruction, function):
    return isinstance(instruction, Call) and isinstance(instruction.function, OpForward) \
        and instruction.function.function is function


def _row_sum_of(view, z):
    """The ``Sum(·, (0,), False)`` over the rows of ``z`` (2-D), or of reshapes of ``z`` that only merge
    its leading axes, when that is all that reads the reshapes and ``z`` is unchanged until then."""
    if not z.shape:
        return None
    current = z
    while True:
        readers = [r for r in view.readers.get(id(current), ()) if not view.removed(r)]
        sums = [r for r in readers if _is_row_sum(r, current)]
        if len(sums) == 1 and len(current.shape) == 2 and current.shape[1] == z.shape[-1]:
            return sums[0] if view.unchanged_between(z, z.producer, sums[0]) else None
        reshapes = [r for r in readers if _is_op(r, Reshape) and r.inputs[0] is current
                    and len(r.outputs[0].shape) == 2 and r.outputs[0].shape[-1] == z.shape[-1]]
        if len(reshapes) != 1 or reshapes[0].outputs[0] is current:
            return None
        current = reshapes[0].outputs[0]


def _is_row_sum(instruction, x):
    if not _is_op(instruction, Sum) or instruction.function.keywords or len(instruction.inputs) != 3:
        return False
    source, axes, keepdim = instruction.inputs
    return source is x and isinstance(axes, Const) and axes.value == (0,) \
        and isinstance(keepdim, Const) and keepdim.value is False


def _split_channel_operand(inputs, shape):
    """(x, scale) of ``Mul(x, scale)`` or ``Mul(scale, x)`` where ``scale`` has one value per channel."""
    if len(inputs) != 2 or not all(isinstance(i, Buffer) for i in inputs):
        return None, None
    first, second = inputs
    if _per_channel(second, shape):
        return first, second
    if _per_channel(first, shape):
        return second, first
    return None, None


def _other_operand(inputs, known):
    if len(inputs) != 2 or not all(isinstance(i, Buffer) for i in inputs):
        return None
    if inputs[0] is known and inputs[1] is not known:
        return inputs[1]
    if inputs[1] is known and inputs[0] is not known:
        return inputs[0]
    return None


def _per_channel(buffer, shape):
    """``buffer`` broadcasts along axis 1 of ``shape`` (N, C, ...) only: its shape is (1, C, 1, ...)."""
    if not isinstance(buffer, Buffer) or len(shape) < 2 or len(buffer.shape) != len(shape):
        return False
    return buffer.shape[1] == shape[1] and all(s == 1 for i, s in enumerate(buffer.shape) if i != 1)


def _same_float_dtype(*operands):
    dtypes = {b.dtype for b in operands if isinstance(b, Buffer)}
    return len(dtypes) == 1 and next(iter(dtypes)) in (np.dtype(np.float32), np.dtype(np.float64))


def _serial_size(buffer):
    from ...kernels import elementwise
    return int(np.prod(buffer.shape, dtype=np.int64)) < elementwise.PARALLEL_MIN_MEMORY
