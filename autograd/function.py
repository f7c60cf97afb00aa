"""The op contract: ``Function`` (forward on arrays, backward with Tensor ops) and its graph ``Node``.

An op is a subclass of :class:`Function` with its rules side by side::

    class Exp(Function):
        '''y = eˣ,  dy/dx = eˣ = y'''
        @staticmethod
        def forward(ctx, x):               # numpy arrays in, numpy array out
            y = np.exp(x)
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad_output):    # Tensors in, one Tensor (or None) per forward argument out
            (y,) = ctx.saved_tensors
            return grad_output * y

        @staticmethod
        def jvp(ctx, x_tangent):           # forward mode: the output's tangent from the inputs' tangents
            (y,) = ctx.saved_tensors
            return x_tangent * y

``Exp.apply(tensor)`` runs forward on the tensors' arrays and, when gradients are being recorded,
attaches a :class:`Node` (the ``ctx``, PyTorch's ``grad_fn``) to the result. Because backward is written
with Tensor operations, running it while recording (``create_graph=True``) records the gradient's
own graph: higher-order gradients need no second code path.

``save_for_backward`` takes arrays. An array that *is* one of the forward's input arrays is saved as
that input Tensor, and the returned array as the output Tensor, so a double backward sees the graph;
any other array is saved as a constant. Saved tensors carry the version they had when saved, and
reading them after an in-place change raises instead of giving a wrong gradient.
"""
import itertools
import traceback
import weakref

import numpy as np

from . import dual, tracing
from .grad_mode import is_anomaly_enabled, is_grad_enabled
from .tensor import RemovableHandle, Tensor, make_tensor, run_hooks


class Function:
    """Base class of every differentiable op. Subclasses define ``forward`` and ``backward`` (and ``jvp``)."""

    #: True when forward returns a view of its first input (reshape, transpose, basic indexing):
    #: the output then shares that input's version counter, so in-place writes through either are seen.
    is_view = False
    #: False when the output never requires grad (comparisons, argmax).
    differentiable = True

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad_output):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run the op on ``args`` (Tensors and plain values) and return the result as a Tensor.

        Four steps: unwrap the Tensors' arrays; decide whether to record (grad mode is on and some
        input requires grad), making the Node that will be the result's ``grad_fn``; compute; wrap.
        """
        arrays, record = [], False
        for a in args:
            if isinstance(a, Tensor):
                arrays.append(a._data)
                record = record or a.requires_grad
            else:
                arrays.append(a)
        record = record and cls.differentiable and is_grad_enabled()
        ctx = Node(cls, args) if record else Context()
        try:
            returned = cls.forward(ctx, *arrays, **kwargs)
        except ValueError as error:
            if "broadcast" not in str(error):
                raise
            raise _broadcast_error(cls, arrays) from error
        out = np.asarray(returned)  # (a ufunc on 0-d arrays returns a numpy scalar)
        if record and out.dtype.kind != "f":
            raise TypeError(f"{cls.__name__} produced a {out.dtype} result, which cannot carry a gradient")
        result = make_tensor(out, record, ctx if record else None, args[0]._version if cls.is_view else None)
        if tracing.recorder is not None:  # inside autograd.compile's capture: write the call down
            tracing.recorder.forward(cls, ctx, args, kwargs, out)
        if record:
            ctx.pack_saved(args, arrays, returned, result)
        if dual.active_levels:  # inside a dual_level: the output's tangent from the op's jvp rule
            dual.propagate(cls, ctx, args, result)
        return result


def _broadcast_error(function, arrays):
    """numpy's broadcasting error, said in terms of the op and its operands' shapes."""
    shapes = ", ".join(str(tuple(np.shape(a))) for a in arrays if isinstance(a, np.ndarray))
    return ValueError(f"{function.__name__}: the shapes {shapes} cannot be broadcast together "
                      f"(each dimension must match or be 1, counting from the last)")


class Context:
    """The ``ctx`` of a forward that records nothing: forward may set attributes on it and save arrays,
    which only a forward-mode rule (``jvp``) reads back, as constants."""

    needs_input_grad = ()
    _saved = ()
    saved_arrays = ()

    def save_for_backward(self, *arrays):
        self._saved = arrays

    @property
    def saved_tensors(self):
        return tuple(None if a is None else make_tensor(np.asarray(a)) for a in self._saved)


_next_sequence_nr = itertools.count().__next__


class Node(Context):
    """A recorded op application: the ``ctx`` of forward/backward and the ``grad_fn`` of its output.

    ``next_edges[i]`` is where the gradient of forward argument ``i`` goes: the producing Node for a
    non-leaf tensor, the Tensor itself for a leaf that requires grad, or None. ``sequence_nr`` counts
    the Nodes in the order they were recorded (PyTorch's name): a Node's is larger than that of every
    Node it consumes, which is the order the backward walk relies on.
    """

    def __init__(self, function, args):
        self.function = function
        self.next_edges = []
        self.input_meta = []  # (shape, dtype) of each input that requires grad, which its gradient gets
        #: ``needs_input_grad[i]``: whether forward argument ``i`` requires grad (PyTorch's ctx field).
        self.needs_input_grad = []
        for a in args:
            needs_grad = isinstance(a, Tensor) and a.requires_grad
            self.next_edges.append((a.grad_fn or a) if needs_grad else None)
            self.input_meta.append((a._data.shape, a._data.dtype) if needs_grad else None)
            self.needs_input_grad.append(needs_grad)
        self.sequence_nr = _next_sequence_nr()
        self.tensor_hooks = None  # hooks on the gradient of this node's output (Tensor.register_hook)
        self.retained = None  # a weak reference to the output when it keeps its .grad (retain_grad)
        self.forward_stack = traceback.format_stack(limit=12)[:-2] if is_anomaly_enabled() else None

    def name(self):
        return self.function.__name__ + "Backward"

    def __repr__(self):
        return f"<{self.name()}>"

    @property
    def next_functions(self):
        """PyTorch-style view of the edges: the producing node, ``AccumulateGrad`` for leaves, or None."""
        return tuple((AccumulateGrad(e) if isinstance(e, Tensor) else e, 0) for e in self.next_edges)

    # ------------------------------------------------------------------ saved tensors
    def pack_saved(self, args, arrays, returned, result):
        """Turn the arrays forward saved into what backward reads: an input's array becomes that input
        (with its version now), the output's array the output, anything else a constant."""
        self.saved_arrays = self._saved  # the arrays themselves, which no gradient may take over
        packed = []
        for item in self._saved:
            if item is None or item is returned:  # (what forward returned, before it became an array)
                packed.append(None if item is None else _SavedOutput(result))
                continue
            for arg, array in zip(args, arrays):
                if item is array and isinstance(arg, Tensor):
                    packed.append(_SavedInput(arg))
                    break
            else:
                packed.append(make_tensor(np.asarray(item)))
        self._saved = tuple(packed)

    @property
    def saved_tensors(self):
        """The saved Tensors, checked against in-place modification since they were saved."""
        if self._saved is None:
            raise RuntimeError(
                f"Trying to backward through the graph a second time (or to read the saved tensors of "
                f"{self.name()} after they were freed). Saved tensors are freed after backward; "
                f"call backward(retain_graph=True) the first time if you need to backward twice.")
        tensors = []
        for item in self._saved:
            tensors.append(item.unpack(self) if isinstance(item, (_SavedInput, _SavedOutput)) else item)
        return tuple(tensors)

    def release(self):
        """Free the saved tensors (done after backward unless ``retain_graph=True``)."""
        self._saved = None
        self.saved_arrays = ()

    @property
    def is_released(self):
        return self._saved is None

    # ------------------------------------------------------------------ the walk's protocol
    def input_gradients(self, grad_output):
        """Run the op's backward for the gradient of its output: one gradient (or None) per forward
        argument, each summed to that argument's shape (undoing broadcasting) and cast to its dtype."""
        grads = self.function.backward(self, grad_output)
        if not isinstance(grads, tuple):
            grads = (grads,)
        if len(grads) != len(self.next_edges):
            raise RuntimeError(f"{self.name()} returned {len(grads)} gradients but its forward "
                               f"took {len(self.next_edges)} arguments")
        conformed = []
        for g, meta in zip(grads, self.input_meta):
            needs_conforming = type(g) is not Tensor or (g._data.shape, g._data.dtype) != meta
            if g is not None and meta is not None and needs_conforming:
                g = _conform(g, meta, self)
            conformed.append(None if meta is None else g)
        return conformed

    #: Whether the gradient of this node's output has hooks or is kept (``retain_grad``): then the
    #: walk hands it to :meth:`receive_grad` first.
    has_hooks = False

    def receive_grad(self, grad, owned, create_graph, retains):
        """The walk hands this node its output's complete gradient: run the output's hooks, and keep
        the gradient as the output's ``.grad`` if it asked to (``retain_grad``, when ``retains``)."""
        if self.tensor_hooks:
            grad, owned = run_hooks(self.tensor_hooks, grad), False
        output = self.retained() if self.retained is not None and retains else None
        if output is not None:
            output.accumulate_grad(grad, False, create_graph)
            owned = False
        return grad, owned

    def register_hook(self, hook):
        """Hook on the gradient flowing into this node's output (used by ``Tensor.register_hook``)."""
        if self.tensor_hooks is None:
            self.tensor_hooks = []
        self.tensor_hooks.append(hook)
        self.has_hooks = True
        return RemovableHandle(self.tensor_hooks, hook)

    def retain(self, output):
        """Keep the gradient of ``output`` (this node's result) as its ``.grad`` (``retain_grad``)."""
        self.retained = weakref.ref(output)
        self.has_hooks = True


def _conform(grad, meta, node):
    """``grad`` as the gradient of an input with ``meta`` = (shape, dtype)."""
    if not isinstance(grad, Tensor):
        grad = make_tensor(np.asarray(grad))
    shape, dtype = meta
    if grad.shape != shape:
        if not _broadcasts_to(shape, grad.shape):
            raise RuntimeError(f"{node.name()}: gradient of shape {grad.shape} cannot be reduced to the "
                               f"input's shape {shape}")
        grad = grad.sum_to_size(shape)
    if grad.dtype != dtype:
        grad = grad.to(dtype)
    return grad


def _broadcasts_to(shape, target):
    """Whether an array of ``shape`` broadcasts to ``target`` (so a gradient of ``target`` sums back)."""
    if len(shape) > len(target):
        return False
    return all(s == t or s == 1 for s, t in zip(shape, target[len(target) - len(shape):]))


class _SavedInput:
    """A saved input Tensor and its version at save time."""

    kind = "input"

    def __init__(self, tensor):
        self.tensor = tensor
        self.version = tensor._version[0]

    def unpack(self, node):
        if self.tensor._version[0] != self.version:
            raise _modified_error(node, self.tensor._data, self.tensor._version, self.version)
        return self.tensor


class _SavedOutput:
    """The saved output of a node, kept as its array (not as the Tensor, which would be a reference
    cycle node -> output -> node) and made a Tensor again, with this node as grad_fn, when read."""

    kind = "output"

    def __init__(self, tensor):
        self.data = tensor._data
        self.version_counter = tensor._version
        self.version = tensor._version[0]

    def unpack(self, node):
        if self.version_counter[0] != self.version:
            raise _modified_error(node, self.data, self.version_counter, self.version)
        return make_tensor(self.data, True, node, self.version_counter)


def _modified_error(node, data, counter, expected):
    return RuntimeError(
        f"one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: [{data.dtype} {tuple(data.shape)}], which is input or output of {node.name()}, "
        f"is at version {counter[0]}; expected version {expected} instead. Use an out-of-place "
        f"operation (x = x + y instead of x += y) or clone the tensor before modifying it.")


class AccumulateGrad:
    """What ``next_functions`` shows for a leaf: the node that accumulates into ``variable.grad``."""

    def __init__(self, variable):
        self.variable = variable

    def name(self):
        return "AccumulateGrad"

    def __repr__(self):
        return "<AccumulateGrad>"
