"""The op contract: ``Function`` (forward on arrays, backward with Tensor ops) and its graph ``Node``.

An op is a subclass of :class:`Function` with two static methods side by side::

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
from types import MethodType

import numpy as np

from . import forward_ad
from .grad_mode import is_anomaly_enabled, is_grad_enabled
from .tensor import Tensor, _new_object, make_tensor


class Function:
    """Base class of every differentiable op. Subclasses define ``forward`` and ``backward``."""

    #: True when forward returns a view of its first input (reshape, transpose, basic indexing):
    #: the output then shares that input's version counter, so in-place writes through either are seen.
    is_view = False
    #: True when the output never requires grad (comparisons, argmax).
    differentiable = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Each op gets ``apply`` already bound to it: a classmethod makes a new bound method on every
        # call (25 ns per op). An op that defines its own ``apply`` (and its subclasses) keeps it.
        for klass in cls.__mro__:
            own = klass.__dict__.get("apply")
            if own is not None:
                break
        if klass is Function or type(own) is MethodType and own.__func__ is _apply:
            cls.apply = MethodType(_apply, cls)

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad_output):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        # The hottest function of the library (every op, forward and backward). Unrecorded calls (the
        # backward formulas, inference) take the short path: unwrap, compute, wrap. The recording path
        # and the result's construction are written out here too rather than in helpers (make_tensor):
        # one Python call less per op.
        record = False
        if is_grad_enabled() and cls.differentiable:
            for a in args:
                if isinstance(a, Tensor) and a.requires_grad:
                    record = True
                    break
        # (Calls pass **kwargs only when there are some: forwarding an empty dict costs 40 ns.)
        if not record:
            if len(args) == 2:  # binary ops and most backward formulas: unpacking beats a comprehension
                a, b = args
                a = a._data if isinstance(a, Tensor) else a
                b = b._data if isinstance(b, Tensor) else b
                out = cls.forward(_Scratch(), a, b, **kwargs) if kwargs else cls.forward(_Scratch(), a, b)
            elif len(args) == 1:  # unary ops
                a = args[0]
                a = a._data if isinstance(a, Tensor) else a
                out = cls.forward(_Scratch(), a, **kwargs) if kwargs else cls.forward(_Scratch(), a)
            else:
                arrays = []
                for a in args:  # a plain loop: on Python 3.11 a comprehension builds a function per call
                    arrays.append(a._data if isinstance(a, Tensor) else a)
                ctx = _Scratch()
                out = cls.forward(ctx, *arrays, **kwargs) if kwargs else cls.forward(ctx, *arrays)
        else:  # recording: forward runs with a new Node as ctx, which becomes the result's ``grad_fn``
            if len(args) == 1:  # unary: the argument is a tensor that requires grad, or nothing would record
                (a,) = args
                data = a._data
                arrays = [data]
                ctx = Node(cls, [a.grad_fn or a], [(data.shape, data.dtype)])
                out = cls.forward(ctx, data, **kwargs) if kwargs else cls.forward(ctx, data)
            elif len(args) == 2 and isinstance(args[0], Tensor) and isinstance(args[1], Tensor):
                # binary ops between two tensors: the loop below, unrolled (no appends, no loop)
                a, b = args
                a_data, b_data = a._data, b._data
                arrays = [a_data, b_data]
                a_grad, b_grad = a.requires_grad, b.requires_grad
                ctx = Node(cls, [(a.grad_fn or a) if a_grad else None, (b.grad_fn or b) if b_grad else None],
                           [(a_data.shape, a_data.dtype) if a_grad else None,
                            (b_data.shape, b_data.dtype) if b_grad else None])
                out = cls.forward(ctx, a_data, b_data, **kwargs) if kwargs else cls.forward(ctx, a_data, b_data)
            else:
                arrays = []
                edges = []
                shapes = []
                for a in args:  # one pass: the arrays for forward, the edges and input shapes for backward
                    if isinstance(a, Tensor):
                        data = a._data
                        arrays.append(data)
                        if a.requires_grad:
                            edges.append(a.grad_fn or a)
                            shapes.append((data.shape, data.dtype))
                            continue
                    else:
                        arrays.append(a)
                    edges.append(None)
                    shapes.append(None)
                ctx = Node(cls, edges, shapes)
                out = cls.forward(ctx, *arrays, **kwargs) if kwargs else cls.forward(ctx, *arrays)
        returned = out
        if type(out) is not np.ndarray:
            out = np.asarray(out)
        if record and out.dtype.kind != "f":
            raise TypeError(f"{cls.__name__} produced a {out.dtype} result, which cannot carry a gradient")
        result = _new_object(Tensor)  # make_tensor(out, record, grad_fn, version), written out
        result._data = out
        result.requires_grad = record
        result.grad_fn = ctx if record else None
        result.grad = None
        result._version = args[0]._version if cls.is_view else [0]
        result._hooks = None
        result.name = None
        result._fw_tangents = None
        if record and ctx._saved:  # forward called save_for_backward: its arrays become saved tensors
            ctx._pack(args, arrays, returned, result)
        if forward_ad.active_levels:  # inside a dual_level: the output's tangent from the op's jvp rule
            forward_ad.propagate(cls, ctx, args, result)
        return result


#: The ctx attributes that the hottest ops set in forward (Sum, Mean and ExpandReduced, the reductions'
#: backward): as slots of the ctx classes they cost no instance dict per call (70 ns).
_COMMON_CTX_FIELDS = ("input_shape", "axes", "keepdim")


_apply = Function.__dict__["apply"].__func__  # the function under the classmethod, bound per op above


class _Scratch:
    """The ctx of a forward that records nothing: it takes attributes (dropped with it) and ignores
    saves. A fresh plain object per call costs less than intercepting every attribute assignment."""

    __slots__ = _COMMON_CTX_FIELDS + ("__dict__", "_saved")
    needs_input_grad = ()

    def save_for_backward(self, *arrays):
        self._saved = arrays  # read only by forward-mode rules (jvp), as constants

    @property
    def saved_tensors(self):
        return tuple(None if a is None else make_tensor(np.asarray(a), False, None, None) for a in self._saved)


class _SavedOutput:
    """The saved output of a node, kept as data (not as the Tensor) so the node holds no cycle."""

    __slots__ = ("data", "version_counter", "version")

    def __init__(self, tensor):
        self.data = tensor._data
        self.version_counter = tensor._version
        self.version = tensor._version[0]


_next_sequence_nr = itertools.count().__next__  # called directly: no next() lookup


class Node:
    """A recorded op application: the ``ctx`` of forward/backward and the ``grad_fn`` of its output.

    ``next_edges[i]`` is where the gradient of forward argument ``i`` goes: the producing Node for a
    non-leaf tensor, the Tensor itself for a leaf that requires grad, or None. ``sequence_nr`` counts
    the Nodes in the order they were recorded (PyTorch's name): a Node's is larger than that of every
    Node it consumes, which is the order the backward walk relies on.
    """

    # _saved: () until forward saves; the arrays given to save_for_backward until apply packs them
    # (_pack); then the saved entries; None once released (one slot for all four states: each slot
    # set in __init__ costs every op).
    __slots__ = ("function", "next_edges", "input_meta", "sequence_nr", "_saved",
                 "tensor_hooks", "retained", "forward_stack", "__dict__", "__weakref__") + _COMMON_CTX_FIELDS

    def __init__(self, function, next_edges, input_meta):
        """``next_edges[i]``/``input_meta[i]``: where argument i's gradient goes and its (shape, dtype),
        or None for an argument that does not require grad."""
        self.function = function
        self.next_edges = next_edges
        self.input_meta = input_meta
        self.sequence_nr = _next_sequence_nr()
        self._saved = ()
        self.tensor_hooks = None
        self.retained = None
        self.forward_stack = traceback.format_stack(limit=12)[:-2] if is_anomaly_enabled() else None

    @property
    def needs_input_grad(self):
        """``needs_input_grad[i]``: whether forward argument ``i`` requires grad (PyTorch's ctx field)."""
        edges = self.next_edges
        count = len(edges)
        # binary and ternary ops (linear layers) ask on every backward: no comprehension to build and call
        if count == 2:
            return edges[0] is not None, edges[1] is not None
        if count == 3:
            return edges[0] is not None, edges[1] is not None, edges[2] is not None
        return tuple([edge is not None for edge in edges])

    def name(self):
        return self.function.__name__ + "Backward"

    def __repr__(self):
        return f"<{self.name()}>"

    @property
    def next_functions(self):
        """PyTorch-style view of the edges: the producing node, ``AccumulateGrad`` for leaves, or None."""
        return tuple((e if not isinstance(e, Tensor) else _AccumulateGrad(e), 0) if e is not None
                     else (None, 0) for e in self.next_edges)

    def save_for_backward(self, *arrays):
        self._saved = arrays

    def _pack(self, args, arrays, returned, result):
        to_save = self._saved
        if (len(to_save) == 2 == len(arrays) and to_save[0] is arrays[0] and to_save[1] is arrays[1]
                and type(args[0]) is type(args[1]) is Tensor):
            # a binary op saving its two inputs (mul, matmul, ...): no search for their arguments
            a, b = args
            self._saved = ((a, a._version[0]), (b, b._version[0]))
            return
        if len(to_save) == 2 and to_save[1] is returned and len(arrays) <= 2:
            # an input and the output (div saves b and z; others x and y): the search for the input's
            # argument written out for two arguments
            first = to_save[0]
            arg = args[0] if first is arrays[0] else args[1] if len(arrays) == 2 and first is arrays[1] else None
            if isinstance(arg, Tensor):
                self._saved = ((arg, arg._version[0]), _SavedOutput(result))
                return
        saved = []
        for item in to_save:
            if item is returned:
                saved.append(_SavedOutput(result))
            elif item is None:
                saved.append(None)
            else:
                i = 0
                for array in arrays:  # which argument's array it is: compared by identity
                    if item is array:
                        arg = args[i]
                        if isinstance(arg, Tensor):
                            saved.append((arg, arg._version[0]))
                            break
                    i += 1
                else:
                    saved.append(make_tensor(np.asarray(item), False, None, None))
        self._saved = tuple(saved)

    @property
    def saved_tensors(self):
        """The saved Tensors, checked against in-place modification since they were saved."""
        saved = self._saved
        if saved is None:
            raise RuntimeError(
                f"Trying to backward through the graph a second time (or to read the saved tensors of "
                f"{self.name()} after they were freed). Saved tensors are freed after backward; "
                f"call backward(retain_graph=True) the first time if you need to backward twice.")
        if len(saved) == 2 and type(saved[0]) is type(saved[1]) is tuple:  # a binary op's two inputs
            (a, a_version), (b, b_version) = saved
            if a._version[0] == a_version and b._version[0] == b_version:
                return a, b
        if len(saved) == 2 and type(saved[0]) is tuple and type(saved[1]) is _SavedOutput:  # (input, output)
            (a, a_version), output = saved
            counter = output.version_counter
            if a._version[0] == a_version and counter[0] == output.version:
                return a, make_tensor(output.data, True, self, counter)
        out = []
        for item in saved:
            if type(item) is tuple:  # an input: (tensor, its version when saved)
                tensor, version = item
                if tensor._version[0] != version:
                    raise self._modified_error(tensor.dtype, tensor.shape, tensor._version[0], version)
                out.append(tensor)
            elif type(item) is _SavedOutput:
                if item.version_counter[0] != item.version:
                    raise self._modified_error(item.data.dtype, item.data.shape,
                                               item.version_counter[0], item.version)
                out.append(make_tensor(item.data, True, self, item.version_counter))
            else:
                out.append(item)
        return tuple(out)

    def _modified_error(self, dtype, shape, now, expected):
        return RuntimeError(
            f"one of the variables needed for gradient computation has been modified by an inplace "
            f"operation: [{dtype} {tuple(shape)}], which is input or output of {self.name()}, is at "
            f"version {now}; expected version {expected} instead. Use an out-of-place operation "
            f"(x = x + y instead of x += y) or clone the tensor before modifying it.")

    def release(self):
        """Free the saved tensors (done after backward unless ``retain_graph=True``)."""
        self._saved = None

    @property
    def _freed(self):
        return self._saved is None

    def register_hook(self, hook):
        """Hook on the gradient flowing into this node's output (used by ``Tensor.register_hook``)."""
        if self.tensor_hooks is None:
            self.tensor_hooks = []
        self.tensor_hooks.append(hook)
        return _RemovableHandle(self.tensor_hooks, hook)


class _AccumulateGrad:
    """What ``next_functions`` shows for a leaf: the node that accumulates into ``variable.grad``."""

    def __init__(self, variable):
        self.variable = variable

    def name(self):
        return "AccumulateGrad"

    def __repr__(self):
        return "<AccumulateGrad>"


class _RemovableHandle:
    """Returned by ``register_hook``; ``handle.remove()`` unregisters the hook."""

    def __init__(self, hooks, hook):
        self._hooks = hooks
        self._hook = hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)
