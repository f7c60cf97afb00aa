"""The hooks through which ``autograd.compile`` watches a step while it captures it.

While a step is being captured, :data:`recorder` is the capture's recorder
(:class:`autograd.compiler.capture.Recorder`); at every other time it is None and each hook below
costs one comparison. The engine calls the hooks at the few places where arrays are computed or
written:

* ``Function.apply`` after an op's forward (:func:`record` with the op's array function);
* the in-place ops, the foreach ops and the random factories, with the array function that
  reproduces what they just did (:func:`record`);
* ``Tensor.item`` and ``bool(tensor)``, whose value the step's Python reads (:func:`read_value`);
* ``nn.Module.__call__``, whose ``training`` flag is a guard of the program (:func:`guard`).

Code whose Python must run again at every replay (an optimizer's ``step``, ``zero_grad``, a
scheduler's ``step``, a leaf's gradient accumulation) is marked with :func:`host_call`: the capture
records the call as a whole instead of what happens inside it.
"""
import functools

#: The active capture's recorder, or None outside a capture.
recorder = None


def record(function, args, result=None):
    """Say that ``function(*arrays of args)`` just computed ``result`` (an array, or None when it
    wrote into its first argument's memory instead). ``args`` may hold Tensors, arrays and plain
    values; a replay calls ``function`` with the arrays of the replayed step in their place."""
    if recorder is not None:
        recorder.record(function, args, result)


def computed(function, *args):
    """``function(*args)`` on arrays, reported with :func:`record`: for the engine's array arithmetic
    outside an op's forward (a plain backward on the arrays forward kept, a product outside the graph).
    ``function`` returns an array or a tuple of arrays."""
    result = function(*args)
    if recorder is not None:
        recorder.record(function, args, result)
    return result


def made(tensor):
    """Say that ``tensor`` was just made (``make_tensor``): a tensor made during the capture around an
    array no recorded call produced is refused, since a replay could not compute it."""
    recorder.made(tensor)


def read_value(tensor, value):
    """Say that the step's Python read ``value`` out of ``tensor`` (``item()``, ``bool()``)."""
    if recorder is not None:
        recorder.read_value(tensor, value)


def guard(obj, attributes=(), tables=()):
    """Say that the step's result depends on ``obj``'s ``attributes`` (a module's ``training`` flag
    and settings) and on which objects the dicts ``tables`` hold (its parameters): a later call where
    one differs is captured again."""
    if recorder is not None:
        recorder.guard_object(obj, attributes, tables)


def host_call(function=None, *, replay=None, sets=None):
    """Mark ``function`` as one call of the compiled program: under capture it runs as usual and is
    recorded whole (nothing inside it is), and every replay calls it again with the replayed step's
    tensors, so its Python (reading hyper-parameters, counting steps) runs each time.

    ``replay``: a function of the same arguments and effect that a compiled program may call instead
    (the optimizers' step with its fused kernels); the ``host_calls`` pass makes that choice.
    ``sets(*args, **kwargs)``: the ``(obj, attribute)`` pairs the call sets (``Module.train`` sets
    ``training``), which are then the step's own doing and not guards."""
    if function is None:
        return lambda f: host_call(f, replay=replay, sets=sets)

    @functools.wraps(function)
    def call(*args, **kwargs):
        if recorder is None:
            return function(*args, **kwargs)
        return recorder.host_call(function, args, kwargs)
    call.host_function = function
    function.replay_form, function.sets = replay, sets
    return call


class paused:
    """``with paused():`` nothing inside is recorded (a host call's body, a replay)."""

    def __enter__(self):
        global recorder
        self.saved, recorder = recorder, None

    def __exit__(self, *exc):
        global recorder
        recorder = self.saved
