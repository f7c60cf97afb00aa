"""Capture: run a step eagerly once and write down, as a :class:`~.program.Program`, every array it
computes and every array it writes.

The recorder keeps a map from each array the step has produced so far (by identity) to its
:class:`~.program.Buffer`. When an op's forward, a kernel or an in-place write reports itself
(``autograd.tracing``), each array among its arguments is looked up: a buffer the step computed, a
tensor from outside (an argument, a parameter, a leaf's gradient: a ``Read`` is added the first time
it is met) or a constant. Nothing else is needed to replay the step: the same calls on the replayed
step's arrays, in the same order.

An array that is a view of a buffer but was made outside the reported calls would replay stale
memory; the recorder refuses such a step (``CaptureError``) and the compiled function runs it eagerly.
"""
import types

import numpy as np

from .. import tracing
from ..function import Context
from ..tensor import Tensor
from .program import (Buffer, Call, Check, Const, Fresh, Guard, Host, LeafArg, Pack, Program, Read, ReplayTensor,
                      ResultValue, Write)


class CaptureError(RuntimeError):
    """The step does something a replay could not repeat; it is run eagerly instead."""


def _stops_on_failure(method):
    """A recorder entry point: a step it cannot follow stops the capture (the step goes on eagerly)."""
    def entry(self, *args):
        try:
            return method(self, *args)
        except CaptureError as error:
            self.stop(error)
    entry.__name__ = method.__name__
    return entry


class ReplayContext(Context):
    """The ``ctx`` an op's forward gets at replay: it records nothing, as under ``no_grad``."""

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad


_FORWARDS = {}  # Function class -> its forward, as OpForward calls it


class OpForward:
    """An op's forward as a replay calls it: arrays in, its output and the arrays its ``ctx`` kept
    for backward (``extras``: where to find each) out."""

    returns_tuple = True

    def __init__(self, function, keywords, needs_input_grad, extras):
        self.function = function
        self.keywords = keywords  # the names of the keyword arguments, which follow the positional ones
        self.needs_input_grad = needs_input_grad
        self.extras = extras  # ("saved", i) or ("attr", name) or ("attr", name, i)
        # one object per op (a classmethod forward is a new bound method at each access), so that the
        # replay's source names it once
        self.forward = _FORWARDS.setdefault(function, function.forward)

    def __call__(self, *arrays):
        ctx = ReplayContext(self.needs_input_grad)
        if self.keywords:
            count = len(arrays) - len(self.keywords)
            out = self.forward(ctx, *arrays[:count], **dict(zip(self.keywords, arrays[count:])))
        else:
            out = self.forward(ctx, *arrays)
        out = np.asarray(out)
        if not self.extras:
            return (out,)
        return (out, *[_extra(ctx, where) for where in self.extras])

    def __repr__(self):
        return f"{self.function.__name__}.forward"

    def source_lines(self, arguments, outputs, names, label):
        """The call written out in the replay's source: a fresh ctx, the op's forward, the arrays it
        kept (what ``__call__`` does, without a call of its own)."""
        count = len(arguments) - len(self.keywords)
        passed = arguments[:count] + [f"{k}={a}" for k, a in zip(self.keywords, arguments[count:])]
        context = f"{names.named(ReplayContext, 'Context')}({names.of(self.needs_input_grad, 'k')})"
        forward = names.named(self.forward, f"{self.function.__name__}_forward")
        call = f"{names.named(np.asarray, 'asarray')}({forward}(_ctx, {', '.join(passed)}))"
        lines = [f"_ctx = {context}", f"{outputs[0]} = {call}  # {label}"]
        for out, where in zip(outputs[1:], self.extras):
            kept = f"_ctx._saved[{where[1]}]" if where[0] == "saved" else f"_ctx.{where[1]}"
            lines.append(f"{out} = {kept}{'' if len(where) < 3 else f'[{where[2]}]'}")
        return lines


def _extra(ctx, where):
    if where[0] == "saved":
        return ctx._saved[where[1]]
    value = getattr(ctx, where[1])
    return value if len(where) == 2 else value[where[2]]


def _ctx_arrays(ctx, known):
    """The arrays ``ctx`` holds that are neither inputs nor the output: ``[(where, array)]``."""
    found = []
    for i, item in enumerate(ctx._saved):
        if isinstance(item, np.ndarray) and id(item) not in known:
            found.append((("saved", i), item))
    for name, value in vars(ctx).items():
        if name == "_saved":
            continue
        if isinstance(value, np.ndarray) and id(value) not in known:
            found.append((("attr", name), value))
        elif isinstance(value, (tuple, list)):
            for i, item in enumerate(value):
                if isinstance(item, np.ndarray) and id(item) not in known:
                    found.append((("attr", name, i), item))
    seen, unique = set(), []
    for where, array in found:
        if id(array) not in seen:
            seen.add(id(array))
            unique.append((where, array))
    return unique


class Recorder:
    """Collects the instructions of one step while it runs eagerly (``tracing.recorder`` is this)."""

    def __init__(self):
        self.instructions = []
        self.buffers = []
        self.buffer_of = {}  # id(array) -> Buffer
        self.external = set()  # ids of the arrays read from outside the step
        self.keep = []  # every array met, so that no id is reused while capturing
        self.grad_owner = {}  # id(gradient Tensor) -> the leaf whose .grad it is
        self.guards = {}  # (id(obj), key) -> Guard
        self.unguarded = set()  # (id(obj), attribute): set by the step itself (a host call), not guarded
        self.reads = {}  # id(Python value read) -> its Check (item() results the step may hand on)
        self.made_here = {}  # id(Tensor) -> Tensor, for every tensor made while capturing
        self.literals = {}  # id(array) -> Const, the constants the engine made (``constant(0, dtype)``)
        self.failure = None
        self.leaves = []  # the step's arguments (tensors), in order

    def stop(self, error):
        """Give up on this capture (the step goes on eagerly; the compiled function says why)."""
        self.failure = error
        tracing.recorder = None

    # ------------------------------------------------------------------ buffers
    def new_buffer(self, array, note=""):
        buffer = Buffer(len(self.buffers), array, note)
        self.buffers.append(buffer)
        self.buffer_of[id(array)] = buffer
        self.keep.append(array)
        return buffer

    def emit(self, instruction):
        self.instructions.append(instruction)
        return instruction

    def operand(self, value):
        """The Buffer or Const that ``value`` (a Tensor, an array or a plain value) is in the program."""
        if isinstance(value, Tensor):
            array = value._data
            buffer = self.buffer_of.get(id(array))
            if buffer is None:
                buffer = self.literals.get(id(array)) or self.read_tensor(value)
            return buffer
        if isinstance(value, np.ndarray):
            buffer = self.buffer_of.get(id(value)) or self.literals.get(id(value))
            if buffer is None:
                self.refuse_views(value)
                self.keep.append(value)
                return Const(value)
            return buffer
        if isinstance(value, (list, tuple)) and any(isinstance(v, (Tensor, np.ndarray)) for v in value):
            return Pack([self.operand(v) for v in value], type(value))
        return Const(value)

    def read_tensor(self, tensor):
        """A tensor from outside the step: a leaf's ``.grad`` (after a host call set it) or the data of
        a tensor that lives across steps (parameter, buffer, optimizer state)."""
        array = tensor._data
        self.refuse_views(array)
        if id(tensor) in self.made_here and id(tensor) not in self.grad_owner:
            raise CaptureError(f"autograd.compile: a tensor of shape {tuple(array.shape)} made during the step "
                               f"holds an array that no recorded call computed (code that works on arrays "
                               f"without reporting to autograd.tracing)")
        owner = self.grad_owner.get(id(tensor))
        if owner is not None:
            buffer = self.new_buffer(array, "grad")
            self.emit(Read(buffer, f"{_name(owner)}.grad", owner, "grad"))
        else:
            buffer = self.new_buffer(array, "data")
            self.emit(Read(buffer, _name(tensor), tensor, "data"))
            self.guard_tensor(tensor)
        self.external.add(id(array))
        return buffer

    def refuse_views(self, array):
        base = array.base
        while base is not None:
            if id(base) in self.buffer_of and id(base) not in self.external:
                raise CaptureError(f"autograd.compile: an array of shape {array.shape} is a view of a buffer "
                                   f"of the step made outside the recorded ops; a replay would read stale "
                                   f"memory")
            base = getattr(base, "base", None)

    def literal(self, array):
        """``array`` is a constant of the step (a literal the engine made), unless the step computed it."""
        if id(array) not in self.buffer_of:
            self.literals[id(array)] = Const(array)
            self.keep.append(array)

    def made(self, tensor):
        self.made_here[id(tensor)] = tensor

    @_stops_on_failure
    def constructed(self, data, array):
        """``Tensor(data)`` inside the step: a recorded copy of a step's tensor, else a constant that a
        replay makes afresh (the data was Python's at capture, as ``jax.jit`` bakes it)."""
        if isinstance(data, Tensor) and id(data._data) in self.buffer_of:
            self.record(_copy_as, (data, array.dtype), array)
        else:
            self.fresh(array, "tensor")

    def guard_tensor(self, tensor):
        for attribute in ("shape", "dtype", "requires_grad"):
            self.guard_attribute(tensor, attribute)

    def guard_attribute(self, obj, attribute):
        key = (id(obj), attribute)
        if key not in self.guards and key not in self.unguarded:
            self.guards[key] = Guard(obj, attribute, getattr(obj, attribute))

    @_stops_on_failure
    def guard_object(self, obj, attributes, tables):
        """``obj`` (a module the step calls) depends on ``attributes`` (compared by value) and on the
        entries of the dicts ``tables`` (compared by identity: which parameters it holds)."""
        if (id(obj), "object") in self.guards:
            return
        self.guards[(id(obj), "object")] = None
        for name in attributes:
            self.guard_attribute(obj, name)
        for table in tables:
            for name, value in table.items():
                self.guards[(id(table), name)] = Guard(table, name, value, item=True)

    # ------------------------------------------------------------------ what the engine reports
    @_stops_on_failure
    def forward(self, function, ctx, args, kwargs, out):
        """``Function.apply`` ran ``function.forward``; ``out`` is its output array."""
        inputs = [self.operand(a) for a in (*args, *kwargs.values())]
        known = set()
        for a in (*args, *kwargs.values()):
            for item in (a if isinstance(a, (list, tuple)) else (a,)):
                known.add(id(item._data) if isinstance(item, Tensor) else id(item))
        known.add(id(out))
        extras = _ctx_arrays(ctx, known)
        outputs = [self.new_buffer(out)] + [self.new_buffer(array, "saved") for _, array in extras]
        call = OpForward(function, tuple(kwargs), tuple(ctx.needs_input_grad), [w for w, _ in extras])
        self.emit(Call(function.__name__, call, inputs, outputs, flops=_flops(function, args, out)))

    @_stops_on_failure
    def record(self, function, args, result):
        inputs = [self.operand(a) for a in args]
        label = getattr(function, "label", None) or getattr(function, "__name__", type(function).__name__)
        draws = getattr(function, "draws", False)
        if result is None:
            if not isinstance(inputs[0], Buffer):
                raise CaptureError(f"autograd.compile: {label} writes into an array made outside the step")
            self.emit(Write(label, function, inputs, draws))
            return
        outputs = [self.new_buffer(r) for r in (result if isinstance(result, tuple) else (result,))]
        self.emit(Call(label, function, inputs, outputs, draws))

    @_stops_on_failure
    def fresh(self, array, label):
        """A factory made ``array`` from nothing (zeros, ones, a literal): a replay copies it."""
        constant = array.copy()
        self.keep.append(constant)
        self.emit(Fresh(self.new_buffer(array), constant, label))

    @_stops_on_failure
    def refuse(self, reason):
        raise CaptureError(f"autograd.compile: {reason}")

    @_stops_on_failure
    def read_value(self, tensor, value):
        buffer = self.operand(tensor)
        if not isinstance(buffer, Buffer):  # a constant: the same at every replay
            return
        reader = "bool" if isinstance(value, bool) else "tolist" if isinstance(value, list) else "item"
        check = self.emit(Check(buffer, reader, value, _caller()))
        self.reads[id(value)] = check
        self.keep.append(value)

    def value_arg(self, value):
        """A value read with item() that the step hands on (returns it, passes it to a host call): a
        replay reads it again instead of checking it."""
        check = self.reads[id(value)]
        check.handed_on = True
        return ResultValue(check.inputs[0], check.reader)

    def host_call(self, function, args, kwargs):
        try:
            template = self.host_template(args)
            kwargs_template = {k: self.host_template(v) for k, v in kwargs.items()}
        except CaptureError as error:
            self.stop(error)
            return function(*args, **kwargs)
        with tracing.paused():
            result = function(*args, **kwargs)
        outputs = []
        if isinstance(result, Tensor):
            outputs = [self.new_buffer(result._data)]
        label = getattr(function, "__qualname__", repr(function))
        self.emit(Host(label, function, template, kwargs_template, outputs))
        sets = getattr(function, "sets", None)
        if sets is not None:  # what the call sets is the step's doing, not something to guard
            self.unguarded.update((id(obj), attribute) for obj, attribute in sets(*args, **kwargs))
        for a, t in zip(args, template):  # a host call may have set .grad of a tensor it was given
            if not isinstance(a, Tensor) or a.grad is None:
                continue
            if isinstance(t, ReplayTensor):
                self.stop(CaptureError("autograd.compile: the .grad of a tensor made by the step is kept "
                                       "(retain_grad); a replay makes new tensors"))
                return result
            self.grad_owner[id(a.grad)] = a
            self.keep.append(a.grad)
            self.buffer_of.pop(id(a.grad._data), None)  # (the same array may be another leaf's at a replay)
            if isinstance(t, LeafArg):  # an argument's: that call's argument's
                buffer = self.new_buffer(a.grad._data, "grad")
                self.emit(Read(buffer, f"argument {t.index}.grad", t.index, "leaf grad"))
                self.external.add(id(a.grad._data))
            else:
                self.read_tensor(a.grad)
        return result

    def host_template(self, value):
        if isinstance(value, Tensor):
            buffer = self.buffer_of.get(id(value._data))
            if buffer is None and id(value) in self.made_here:
                self.read_tensor(value)  # (raises: made during the step from an unrecorded array)
            producer = buffer.producer if buffer is not None else None
            if buffer is None or isinstance(producer, Read) and producer.obj is value:
                return value  # a tensor that lives across steps: the same object
            if isinstance(producer, Read) and producer.attribute == "leaf" and self.leaves[producer.obj] is value:
                return LeafArg(producer.obj)  # an argument of the step: that call's argument
            return ReplayTensor(buffer)
        if id(value) in self.reads:  # a value read with item(): read again at each replay
            return self.value_arg(value)
        if isinstance(value, types.FunctionType):
            raise CaptureError(f"autograd.compile: {getattr(value, '__qualname__', 'a function')} is passed to "
                               f"a call that runs at every replay, but it is the capture's function (a closure "
                               f"over the first call's values)")
        if isinstance(value, list):
            return [self.host_template(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.host_template(v) for v in value)
        if isinstance(value, np.ndarray):
            raise CaptureError("autograd.compile: a host call took a numpy array")
        return value

    # ------------------------------------------------------------------ the end
    def result_template(self, value):
        if isinstance(value, Tensor):
            buffer = self.buffer_of.get(id(value._data))
            if buffer is None or id(value._data) in self.external and buffer.producer.kind == "read" \
                    and buffer.producer.attribute == "data" and buffer.producer.obj is value:
                return value  # a tensor from outside (a parameter): returned as itself
            return ReplayTensor(buffer)
        if isinstance(value, (list, tuple)):
            items = [self.result_template(v) for v in value]
            return items if isinstance(value, list) else tuple(items)
        if isinstance(value, dict):
            return {k: self.result_template(v) for k, v in value.items()}
        if id(value) in self.reads:
            return self.value_arg(value)
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        raise CaptureError(f"autograd.compile: the step returned a {type(value).__name__}; return tensors, "
                           f"numbers or containers of them")

    def program(self, result, arguments):
        template = self.result_template(result)
        instructions = [i for i in self.instructions if not getattr(i, "handed_on", False)]
        return Program(instructions, self.buffers, template, [g for g in self.guards.values() if g is not None],
                       arguments)


def _copy_as(array, dtype):
    return np.array(array, dtype=dtype)


def _name(tensor):
    name = getattr(tensor, "name", None)
    return f"{type(tensor).__name__}{' ' + name if name else ''}{list(tensor.shape)}"


def _caller():
    """Where the step's Python read a value: the innermost frame outside the engine."""
    import traceback
    for frame in reversed(traceback.extract_stack(limit=12)[:-3]):
        if "/autograd/" not in frame.filename.replace("\\", "/"):
            return f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}"
    return "the step"


def _flops(function, args, out):
    """2·m·n·k for a matrix product (any op named for one: MatMul, MatMulAT, Linear, Bmm...), 2·k per
    output element for a convolution (k = the weight's size per output channel), else one per element."""
    name = function.__name__
    arrays = [a._data if isinstance(a, Tensor) else a for a in args[:2]]
    if len(arrays) == 2 and all(isinstance(a, np.ndarray) and a.ndim >= 1 for a in arrays) and out.ndim >= 1:
        a, b = arrays
        if name.startswith("Conv") and b.ndim == 4:
            return 2 * out.size * (b.size // b.shape[0])
        if any(word in name for word in ("MatMul", "Mm", "Linear", "Bmm", "bmm", "Addmm")):
            batch = int(np.prod(out.shape[:-2])) if out.ndim > 2 else 1
            return int(2 * np.sqrt(float(a.size) * b.size * out.size / batch))
    return int(out.size)
