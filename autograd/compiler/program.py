"""The captured program: buffers, instructions, the listing a learner reads and the replay function.

A program is a straight list of instructions over *buffers* (the arrays of one step). Each
instruction is one of:

====================  ===========================================================================
``Read``              take an array the step does not compute: an argument's, a parameter's or
                      buffer's ``.data``, a leaf's ``.grad`` after it was accumulated
``Fresh``             a new copy of an array the step made from nothing (``zeros``, the seed 1 of
                      backward): a replay makes its own, as the eager step does
``Call``              ``outputs = function(*inputs)``: an op's forward, a kernel, a random draw
``Write``             ``function(target, *inputs)`` writes into ``target`` (an in-place op)
``Host``              a call whose Python runs at every replay (``optimizer.step``,
                      ``Tensor.accumulate_grad``), given the replayed step's tensors
``Check``             a value the step's Python read (``item()``, ``bool()``): the replay checks
                      it is unchanged, or hands it back when the step returned it
====================  ===========================================================================

:meth:`Program.source` is the program as a Python function, one line per instruction, which is
what a replay runs (``exec`` of that text); :meth:`Program.listing` (``str(program)``) is the table
with shapes, bytes and flops.
"""
import keyword
import re

import numpy as np

from ..tensor import make_tensor


class Buffer:
    """One array of the program, named ``b<index>`` in the listing and in the replay source."""

    __slots__ = ("index", "shape", "dtype", "producer", "note", "owns_memory")

    def __init__(self, index, array, note=""):
        self.index = index
        #: Whether the array had memory of its own at capture (not a view of another buffer).
        self.owns_memory = isinstance(array, np.ndarray) and array.flags.owndata
        self.shape = tuple(np.shape(array))
        self.dtype = np.asarray(array).dtype if not isinstance(array, np.ndarray) else array.dtype
        self.producer = None  # the instruction that makes it (set when it is appended)
        self.note = note

    @property
    def name(self):
        return f"b{self.index}"

    @property
    def nbytes(self):
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize

    def describe(self):
        return f"{self.dtype.name}{list(self.shape)}"


class Const:
    """A value that is the same at every replay: a number, a shape, an array made outside the step."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def describe(self):
        v = self.value
        if isinstance(v, np.ndarray):
            return f"const {v.dtype.name}{list(v.shape)}" if v.size > 1 else f"const {v.item()!r}"
        text = repr(v)
        return text if len(text) <= 24 else text[:21] + "..."


class Pack:
    """A list (or tuple) of operands that an op takes as one argument (``cat``, ``stack``)."""

    __slots__ = ("items", "kind")

    def __init__(self, items, kind=list):
        self.items, self.kind = items, kind

    def buffers(self):
        return [b for b in self.items if isinstance(b, Buffer)]

    def describe(self):
        return "[" + ", ".join(b.name if isinstance(b, Buffer) else b.describe() for b in self.items) + "]"


class Instruction:
    """Base of the instruction kinds. ``inputs`` are Buffers and Consts, ``outputs`` Buffers."""

    kind = "?"
    #: Whether removing it would change something a caller can see, even when nothing reads its
    #: outputs: a write, a host call, a random draw (it advances the generator), a check.
    has_effect = False
    fused_from = ()  # the names of the instructions a fusion pass merged into this one
    into = None  # the dead input whose memory the result takes (buffer planning)

    def __init__(self, label, inputs=(), outputs=()):
        self.label = label
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        for b in self.outputs:
            b.producer = self

    def buffers_read(self):
        found = []
        for item in self.inputs:
            if isinstance(item, Buffer):
                found.append(item)
            elif isinstance(item, Pack):
                found.extend(item.buffers())
        return found

    def flops(self):
        return 0

    def bytes_moved(self):
        return sum(b.nbytes for b in self.buffers_read()) + sum(b.nbytes for b in self.outputs)


class Read(Instruction):
    """``b = <where>``: an array the step reads from outside (argument, parameter, gradient)."""

    kind = "read"

    def __init__(self, output, where, obj, attribute):
        super().__init__(where, (), (output,))
        self.obj, self.attribute = obj, attribute

    def bytes_moved(self):
        return 0


class Fresh(Instruction):
    """``b = <constant>.copy()``: a new array with the contents the step gave it from nothing."""

    kind = "fresh"

    def __init__(self, output, constant, label):
        super().__init__(label, (), (output,))
        self.constant = constant


class Call(Instruction):
    """``outputs = function(*inputs)``."""

    kind = "call"

    def __init__(self, label, function, inputs, outputs, draws=False, flops=0):
        super().__init__(label, inputs, outputs)
        self.function = function
        self.has_effect = draws
        self._flops = flops

    def flops(self):
        return self._flops


class Write(Instruction):
    """``function(target, *inputs)``, which writes into the memory of ``target`` (``inputs[0]``)."""

    kind = "write"
    has_effect = True

    def __init__(self, label, function, inputs, draws=False):
        super().__init__(label, inputs, ())
        self.function = function

    @property
    def target(self):
        return self.inputs[0]

    def bytes_moved(self):
        return sum(b.nbytes for b in self.buffers_read()) + self.target.nbytes


class Host(Instruction):
    """``function(*args, **kwargs)`` with the replayed step's tensors in ``args``: its Python runs."""

    kind = "host"
    has_effect = True

    def __init__(self, label, function, args, kwargs, outputs):
        buffers = list(template_buffers((args, kwargs)))
        super().__init__(label, buffers, outputs)
        self.function, self.args, self.kwargs = function, args, kwargs


class Check(Instruction):
    """The step's Python read a value (``reader`` is ``"item"`` or ``"bool"``): a replay reads it
    again and raises if it differs (the Python that used it does not run again)."""

    kind = "check"
    has_effect = True
    handed_on = False  # the value is returned or passed on: the replay reads it instead of checking it

    def __init__(self, buffer, reader, expected, where):
        super().__init__(f"{reader}() read by {where}", (buffer,), ())
        self.reader, self.expected = reader, expected

    def bytes_moved(self):
        return 0


class Guard:
    """``obj.attribute == value`` (or ``obj[attribute] is value`` with ``item``), checked before a replay."""

    __slots__ = ("obj", "attribute", "value", "item")

    def __init__(self, obj, attribute, value, item=False):
        self.obj, self.attribute, self.value, self.item = obj, attribute, value, item

    def holds(self):
        if self.item:
            return self.obj.get(self.attribute) is self.value
        return getattr(self.obj, self.attribute) == self.value

    def __iter__(self):  # (obj, attribute, value), as a tuple unpacks
        return iter((self.obj, self.attribute, self.value))

    def describe(self):
        if self.item:
            return f"{self.attribute} is the same {type(self.value).__name__}"
        return f"{type(self.obj).__name__}.{self.attribute} == {self.value!r}"


class Program:
    """The instructions of one captured step, with its guards and how its result is rebuilt."""

    def __init__(self, instructions, buffers, result, guards, arguments):
        self.instructions = instructions
        self.buffers = buffers
        self.result = result  # the template of fn's return value (Buffers, objects, read values)
        self.guards = guards  # [(obj, attribute, value)]
        self.arguments = arguments  # [(path, Buffer or None, (shape, dtype, requires_grad) or value)]
        self.passes = []  # (pass name, what it did), in order
        self.peak_bytes = None
        self.frees = {}  # instruction index -> buffers no longer needed after it (buffer planning)
        self._replay = None
        self._guards_hold = None

    # ------------------------------------------------------------------ running
    def compiled(self):
        """The replay function: the program's source, executed once."""
        if self._replay is None:
            namespace = {"make_tensor": make_tensor, "CheckFailed": CheckFailed, "_same": _same}
            text = self.source(namespace)
            exec(compile(text, "<autograd.compile program>", "exec"), namespace)
            self._replay = namespace["replay"]
        return self._replay

    def run(self, leaves):
        return self.compiled()(leaves)

    def guards_hold(self):
        """Whether every guard holds now: one generated expression (``guard_source``)."""
        if self._guards_hold is None:
            namespace = {}
            exec(compile(self.guard_source(namespace), "<autograd.compile guards>", "exec"), namespace)
            self._guards_hold = namespace["guards_hold"]
        return self._guards_hold()

    def guard_source(self, namespace=None):
        """The guards as Python: ``def guards_hold(): return <every guard> and ...``."""
        names = _Names(namespace if namespace is not None else {})
        terms = []
        for guard in self.guards:
            obj, value = names.of(guard.obj, "o"), names.of(guard.value, "k")
            if guard.item:
                terms.append(f"{obj}.get({guard.attribute!r}) is {value}")
            elif isinstance(guard.value, bool) or guard.value is None:
                terms.append(f"{obj}.{guard.attribute} is {guard.value!r}")
            else:
                terms.append(f"{obj}.{guard.attribute} == {value}")
        body = " and\n            ".join(terms) if terms else "True"
        return f"def guards_hold():\n    return ({body})\n"

    # ------------------------------------------------------------------ the source a replay runs
    def source(self, namespace=None):
        """The program as Python: ``def replay(leaves): ...`` with one line per instruction.

        ``namespace`` receives the objects the lines refer to (functions ``f``, constants ``k``,
        objects ``o``); without it the text is only for reading."""
        names = _Names(namespace if namespace is not None else {})
        lines = ["def replay(leaves):"]
        for position, instruction in enumerate(self.instructions):
            lines.extend("    " + line for line in _lines(instruction, names))
            freed = self.frees.get(position)
            if freed:
                lines.append("    del " + ", ".join(b.name for b in freed))
        lines.append("    return " + _template_source(self.result, names))
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------------ the listing
    def listing(self):
        rows = []
        total_flops = total_bytes = 0
        for i, instruction in enumerate(self.instructions):
            outs = ", ".join(f"{b.name} {b.describe()}" for b in instruction.outputs)
            ins = ", ".join(b.name if isinstance(b, Buffer) else b.describe() for b in instruction.inputs)
            flops, moved = instruction.flops(), instruction.bytes_moved()
            total_flops += flops
            total_bytes += moved
            call = f"({ins})" if instruction.kind not in ("read", "fresh", "check") else ""
            text = f"{i:4d}  {instruction.kind:<5} {instruction.label}{call}"
            if outs:
                text += f" -> {outs}"
            if instruction.fused_from:
                text += f"   [fused: {' + '.join(instruction.fused_from)}]"
            if instruction.into is not None:
                text += f"   [into {instruction.into.name}'s memory]"
            if flops:
                text += f"   {_si(flops)}flop"
            if moved:
                text += f"   {_si(moved)}B"
            rows.append(text)
        head = [f"program: {len(self.instructions)} instructions, {len(self.buffers)} buffers, "
                f"{_si(total_flops)}flop, {_si(total_bytes)}B moved (estimated)"]
        if self.peak_bytes is not None:
            head.append(f"peak memory of the step's buffers: {_si(self.peak_bytes)}B (buffer planning)")
        for name, summary in self.passes:
            head.append(f"pass {name}: {summary}")
        if self.guards:
            head.append("guards: " + ", ".join(g.describe() for g in self.guards[:8])
                        + (f", ... ({len(self.guards)} in all)" if len(self.guards) > 8 else ""))
        return "\n".join(head + rows)

    __str__ = listing

    def __repr__(self):
        return f"<Program: {len(self.instructions)} instructions>"


class CheckFailed(RuntimeError):
    pass


def _same(a, b):
    return a == b or (a != a and b != b)  # NaN read at capture and again is the same value


class _Names:
    """Gives the objects a line refers to names in the replay's namespace."""

    def __init__(self, namespace):
        self.namespace = namespace
        self.ids = {}

    def of(self, obj, prefix):
        key = (prefix, id(obj))
        name = self.ids.get(key)
        if name is None:
            name = self.ids[key] = f"{prefix}{len(self.ids)}"
            self.namespace[name] = obj
        return name

    def named(self, obj, name):
        """``obj`` under a readable ``name`` (``Linear_forward``, ``asarray``), made unique if taken."""
        key = ("named", id(obj))
        found = self.ids.get(key)
        if found is not None:
            return found
        unique, n = name, 1
        while unique in self.namespace and self.namespace[unique] is not obj:
            n += 1
            unique = f"{name}_{n}"
        self.ids[key] = unique
        self.namespace[unique] = obj
        return unique

    def operand(self, item):
        if isinstance(item, Buffer):
            return item.name
        if isinstance(item, Pack):
            inside = ", ".join(self.operand(i) for i in item.items)
            return f"[{inside}]" if item.kind is list else f"({inside}{',' if len(item.items) == 1 else ''})"
        return self.of(item.value, "k")


def _lines(instruction, names):
    if isinstance(instruction, Read):
        (out,) = instruction.outputs
        if instruction.attribute == "leaf":
            return [f"{out.name} = leaves[{instruction.obj}]._data"]
        if instruction.attribute == "array":
            return [f"{out.name} = leaves[{instruction.obj}]"]
        if instruction.attribute == "leaf grad":
            return [f"{out.name} = leaves[{instruction.obj}].grad._data"]
        owner = names.of(instruction.obj, "o")
        if instruction.attribute == "grad":
            return [f"{out.name} = {owner}.grad._data  # {instruction.label}"]
        return [f"{out.name} = {owner}._data  # {instruction.label}"]
    if isinstance(instruction, Fresh):
        return [f"{instruction.outputs[0].name} = {names.of(instruction.constant, 'k')}.copy()"]
    if isinstance(instruction, Call):
        if hasattr(instruction.function, "source_lines"):  # an op's forward, written out inline
            return instruction.function.source_lines([names.operand(i) for i in instruction.inputs],
                                                     [b.name for b in instruction.outputs], names,
                                                     instruction.label)
        args = ", ".join(names.operand(i) for i in instruction.inputs)
        outs = ", ".join(b.name for b in instruction.outputs)
        call = f"{names.named(instruction.function, _identifier(instruction.label))}({args})"
        if len(instruction.outputs) == 1 and not getattr(instruction.function, "returns_tuple", False):
            return [f"{outs} = {call}  # {instruction.label}"]
        return [f"{outs}{',' if len(instruction.outputs) == 1 else ''} = {call}  # {instruction.label}"]
    if isinstance(instruction, Write):
        args = ", ".join(names.operand(i) for i in instruction.inputs)
        return [f"{names.named(instruction.function, _identifier(instruction.label))}({args})  # {instruction.label}"]
    if isinstance(instruction, Host):
        args = ", ".join(_template_source(a, names) for a in instruction.args)
        kwargs = "".join(f", {k}={_template_source(v, names)}" for k, v in instruction.kwargs.items())
        call = f"{names.named(instruction.function, _identifier(instruction.label))}({args}{kwargs if args else kwargs[2:]})"
        if instruction.outputs:
            return [f"_r = {call}  # {instruction.label}", f"{instruction.outputs[0].name} = _r._data"]
        return [f"{call}  # {instruction.label}"]
    if isinstance(instruction, Check):
        (buffer,) = instruction.inputs
        read = f"bool({buffer.name})" if instruction.reader == "bool" else f"{buffer.name}.{instruction.reader}()"
        expected = names.of(instruction.expected, "k")
        message = names.of(f"autograd.compile: the step's Python read a tensor's value ({instruction.label}) "
                           f"that is different at this call; a replay does not run the step's Python "
                           f"again, so compute with the tensor instead of its value, or call the step "
                           f"without autograd.compile", "k")
        return [f"if not _same({read}, {expected}):", f"    raise CheckFailed({message})"]
    raise TypeError(f"unknown instruction {instruction!r}")


def _identifier(label):
    """A Python name for the function of an instruction labelled ``label`` (``Optimizer.step`` →
    ``Optimizer_step``), so that the replay's source reads as what it calls."""
    name = re.sub(r"\W+", "_", label.split(" (")[0]).strip("_") or "call"
    if name[0].isdigit() or keyword.iskeyword(name):
        name = "_" + name
    return name


class ReplayTensor:
    """In a template (the step's result, a host call's arguments): a Tensor made at replay around a
    buffer, detached (its graph was the step's)."""

    __slots__ = ("buffer",)

    def __init__(self, buffer):
        self.buffer = buffer


class LeafArg:
    """In a host call's arguments: the replayed call's argument tensor ``index``."""

    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index


class ResultValue:
    """In a template: a value the step read with ``item()`` (``tolist()``, ``bool()``), read again by
    the replay."""

    __slots__ = ("buffer", "reader")

    def __init__(self, buffer, reader="item"):
        self.buffer, self.reader = buffer, reader


def _template_source(template, names):
    """A template (the result, a host call's arguments) as the Python that rebuilds it at replay."""
    if isinstance(template, ReplayTensor):
        return f"make_tensor({template.buffer.name})"
    if isinstance(template, LeafArg):
        return f"leaves[{template.index}]"
    if isinstance(template, ResultValue):
        if template.reader == "bool":
            return f"bool({template.buffer.name})"
        return f"{template.buffer.name}.{template.reader}()"
    if isinstance(template, list):
        return "[" + ", ".join(_template_source(t, names) for t in template) + "]"
    if isinstance(template, tuple):
        return "(" + "".join(_template_source(t, names) + ", " for t in template) + ")"
    if isinstance(template, dict):
        return "{" + ", ".join(f"{k!r}: {_template_source(v, names)}" for k, v in template.items()) + "}"
    if template is None or isinstance(template, (bool, int, float, str)):
        return repr(template)
    return names.of(template, "o")


def template_buffers(template):
    """The buffers a template refers to."""
    if isinstance(template, (ReplayTensor, ResultValue)):
        yield template.buffer
    elif isinstance(template, (list, tuple)):
        for item in template:
            yield from template_buffers(item)
    elif isinstance(template, dict):
        for item in template.values():
            yield from template_buffers(item)


def _si(n):
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} "
