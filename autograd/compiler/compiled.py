"""``autograd.compile(fn)``: run a step eagerly once, capture it, and replay it on later calls.

A call first looks for a program captured under the same guards:

* the arguments: each tensor's shape, dtype and ``requires_grad`` and which are the same tensor,
  every other argument's value; grad mode;
* each module the step called: its ``training`` flag, its plain settings and which parameters and
  buffers it holds; the shape, dtype and ``requires_grad`` of every tensor the step read from outside
  (parameters, buffers, optimizer state).

Found: the program replays (``Program.run``), which runs none of ``fn``'s Python. Not found: ``fn``
runs eagerly under a new capture, its program is kept for the next calls, and its result returned.
A step the recorder cannot follow (``CaptureError``) runs eagerly, then and at every later call with
those guards, and says why once (``warnings``). Calls under forward-mode AD or ``detect_anomaly``
run eagerly (a replay would carry no tangents and check no gradient), and so does every call with new
guards once ``max_programs`` programs were captured (a step whose guards change at every call, such
as one taking the step number as an argument, would otherwise capture forever).
"""
import functools
import warnings

from .. import dual, grad_mode, tracing
from ..tensor import Tensor, make_tensor
from .capture import CaptureError, Recorder
from .passes import optimize
from .program import Read


class CompiledFunction:
    """What ``autograd.compile(fn)`` returns: call it as ``fn``; ``.program`` is the last program."""

    def __init__(self, fn, passes=True, max_programs=16):
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.passes = passes
        self.max_programs = max_programs
        self.programs = {}  # key of the arguments and grad mode -> [program or eager marker]
        self.program = None  # the program of the latest call (replayed or just captured)
        self.captures = 0
        self.replays = 0
        self.eager_calls = 0

    def __call__(self, *args, **kwargs):
        if tracing.recorder is not None:  # inside another capture: be part of it
            return self.fn(*args, **kwargs)
        leaves, key = _signature((args, kwargs))
        key = (grad_mode.is_grad_enabled(), key)
        if dual.active_levels or grad_mode.is_anomaly_enabled():
            self.eager_calls += 1
            return self.fn(*args, **kwargs)
        for program in self.programs.get(key, ()):
            if program.guards_hold():
                if isinstance(program, _Eager):
                    self.eager_calls += 1
                    return self.fn(*args, **kwargs)
                self.program = program
                self.replays += 1
                return program.run(leaves)
        if self.captures >= self.max_programs:
            if self.captures == self.max_programs:
                warnings.warn(f"autograd.compile: {self.captures} programs captured for "
                              f"{getattr(self.fn, '__qualname__', 'this step')}, whose guards keep changing "
                              f"(a new shape or argument value at each call?); calls with new guards run "
                              f"eagerly from now on (max_programs={self.max_programs})", RuntimeWarning,
                              stacklevel=2)
                self.captures += 1  # (warned once)
            self.eager_calls += 1
            return self.fn(*args, **kwargs)
        return self._capture(key, leaves, args, kwargs)

    def _capture(self, key, leaves, args, kwargs):
        recorder = Recorder()
        recorder.leaves = leaves
        arguments = []
        for index, leaf in enumerate(leaves):
            if isinstance(leaf, Tensor):
                recorder.keep.append(leaf)
                buffer = recorder.new_buffer(leaf._data, "argument")
                recorder.emit(Read(buffer, f"argument {index}", index, "leaf"))
                recorder.external.add(id(leaf._data))
                arguments.append(buffer)
        self.captures += 1
        tracing.recorder = recorder
        try:
            result = self.fn(*args, **kwargs)
        finally:
            tracing.recorder = None
        try:
            if recorder.failure is not None:
                raise recorder.failure
            program = recorder.program(result, arguments)
            if self.passes:
                optimize(program)
            program.compiled()
        except CaptureError as error:
            warnings.warn(f"{error}; this step runs eagerly", RuntimeWarning, stacklevel=3)
            self.programs.setdefault(key, []).append(_Eager([g for g in recorder.guards.values() if g]))
            return result
        self.programs.setdefault(key, []).append(program)
        self.program = program
        return _detached(result)


class _Eager:
    """Marks guards under which the step runs eagerly (the recorder could not follow it)."""

    def __init__(self, guards):
        self.guards = guards

    def guards_hold(self):
        return all(guard.holds() for guard in self.guards)


def _detached(value):
    """The capture's result as a replay returns it: tensors of the step detached (parameters as they are)."""
    if isinstance(value, Tensor):
        return make_tensor(value._data) if value.grad_fn is not None else value
    if isinstance(value, (list, tuple)):
        items = [_detached(v) for v in value]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        return {k: _detached(v) for k, v in value.items()}
    return value


def _signature(value):
    """The tensors of ``value`` (args and kwargs, nested) in order, and a hashable key: each tensor's
    shape, dtype and requires_grad, each other value itself."""
    leaves, key = [], []
    _flatten(value, leaves, key)
    return leaves, tuple(key)


def _flatten(value, leaves, key):
    if isinstance(value, Tensor):
        same = next((i for i, seen in enumerate(leaves) if seen._data is value._data), None)
        leaves.append(value)
        key.append(("T", value.shape, value.dtype, value.requires_grad, same))  # (same: aliasing)
    elif isinstance(value, (list, tuple)):
        key.append((type(value).__name__, len(value)))
        for item in value:
            _flatten(item, leaves, key)
    elif isinstance(value, dict):
        key.append(("dict", tuple(value)))
        for item in value.values():
            _flatten(item, leaves, key)
    else:
        try:
            hash(value)
            key.append(value)
        except TypeError:
            key.append(("id", id(value)))


def compile(fn=None, *, passes=True, max_programs=16):
    """Compile a step: ``step = autograd.compile(step)`` or ``@autograd.compile``.

    The first call (and each call whose guards differ) runs ``fn`` eagerly and captures everything it
    computes: forward, backward, gradient accumulation and the optimizer's update. Later calls replay
    the captured program without running ``fn``'s Python. Returned tensors are detached values.
    ``passes=False`` keeps the program as captured (no fusion, no buffer planning); ``max_programs``:
    how many programs (one per set of guards) it keeps before running new ones eagerly.

    Python side effects of ``fn`` (printing, appending to a list, reading ``.item()`` for a branch)
    happen at capture only, as with ``jax.jit``; values read with ``item()`` and returned are read
    again at each replay, and a value read for a branch that changes raises at replay.
    """
    if fn is None:
        return lambda f: CompiledFunction(f, passes, max_programs)
    return CompiledFunction(fn, passes, max_programs)
