"""``Tensor``: a numpy array plus the autograd bookkeeping (requires_grad, grad, grad_fn, version).

The operators and math methods (``x + y``, ``x.exp()``, ``x.sum(dim=1)``) are the op functions of
``autograd.ops``, attached to the class in ``autograd/tensor_methods.py``; this file holds only what
is the Tensor's own: construction, attributes, conversion and ``backward``.
"""

import numpy as np

from . import dtypes, tracing


_ESCAPES = ("the step reads a tensor's array with {} and computes with it outside the engine, which a "
            "replay cannot repeat: compute with tensors, or call the step without autograd.compile")


def make_tensor(data, requires_grad=False, grad_fn=None, version=None, name=None, into=None):
    """The one constructor of Tensors: wrap an array (no copy, no checks) as a new Tensor, or as the
    object ``into`` (``Tensor.__init__`` and ``as_subclass`` pass it). ``version`` is the version
    counter to share (a view's is its base's), or None for a new one."""
    tensor = into if into is not None else object.__new__(Tensor)
    tensor._data = data
    tensor.requires_grad = requires_grad
    tensor.grad = None
    tensor.grad_fn = grad_fn  # the Node that made this tensor; None for a leaf
    tensor._version = version if version is not None else [0]  # shared with views: in-place writes count
    tensor._hooks = None  # a leaf's gradient hooks, once it has some (a non-leaf's live on its grad_fn)
    tensor.name = name
    tensor._fw_tangents = None  # forward mode: this tensor's tangent at each dual level (forward_ad)
    if tracing.recorder is not None:  # (autograd.compile checks where the arrays of a step come from)
        tracing.made(tensor)
    return tensor


def as_array(data, dtype=None):
    """Convert user data (scalars, nested lists, arrays, Tensors) to an array of a supported dtype."""
    dtype = dtypes.as_dtype(dtype)
    if isinstance(data, Tensor):
        array = data._data
    elif isinstance(data, (np.ndarray, np.generic)):  # numpy arrays and scalars keep their dtype
        array = np.asarray(data)
    else:
        array = np.asarray(data)
        if dtype is None and array.dtype.kind == "f":
            array = array.astype(dtypes.default_float)  # Python floats are float32, as in PyTorch
        elif array.dtype.kind == "O":
            raise TypeError(f"cannot make a tensor from {type(data).__name__} holding non-numbers "
                            f"(ragged nested lists are not supported)")
    target = dtype if dtype is not None else dtypes.storage_dtype(array.dtype)
    return array.astype(target, copy=array.dtype != target)


class Tensor:
    """An n-dimensional array that records the operations applied to it.

    >>> x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    tensor([2., 4., 6.])
    """

    __slots__ = ("_data", "requires_grad", "grad", "grad_fn", "_version", "_hooks", "name", "_fw_tangents",
                 "__weakref__")
    __array_priority__ = 1000  # numpy defers to Tensor's reflected operators: ndarray * Tensor -> Tensor
    #: As a vertex of the backward walk a leaf has no edges and no place in the recording order (a
    #: non-leaf's vertex is its ``grad_fn``).
    next_edges = ()
    sequence_nr = None

    def __init__(self, data, requires_grad=False, dtype=None, name=None):
        array = as_array(data, dtype)
        if isinstance(data, Tensor) or (isinstance(data, np.ndarray) and array is data):
            array = array.copy()  # like torch.tensor: the new tensor owns its memory
        if tracing.recorder is not None:  # in a compiled step: a copy of a step's tensor, or a constant
            tracing.recorder.constructed(data, array)
        make_tensor(array, name=name, into=self)
        if requires_grad:
            self.requires_grad_(True)

    def as_subclass(self, cls):
        """A ``cls`` instance sharing this tensor's memory, version counter and place in the graph
        (``torch.Tensor.as_subclass``; ``nn.Parameter`` is made this way)."""
        # object.__new__, not cls.__new__: a subclass's __new__ may itself call as_subclass
        return make_tensor(self._data, self.requires_grad, self.grad_fn, self._version, self.name,
                           into=object.__new__(cls))

    # ------------------------------------------------------------------ attributes
    @property
    def shape(self):
        return self._data.shape

    @property
    def ndim(self):
        return self._data.ndim

    @property
    def dtype(self):
        return self._data.dtype

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def data(self):
        """A tensor sharing this one's memory but outside the graph (PyTorch's ``.data``)."""
        return make_tensor(self._data)

    @data.setter
    def data(self, value):
        self._data = as_array(value)

    @property
    def version(self):
        """How many times this tensor's memory was modified in place."""
        return self._version[0]

    def size(self, dim=None):
        if dim is None:
            return self._data.shape
        return self._data.shape[_check_dim(dim, self.ndim, "size")]

    def numel(self):
        return self._data.size

    def dim(self):
        return self._data.ndim

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def requires_grad_(self, requires_grad=True):
        if requires_grad and self._data.dtype.kind != "f":
            raise RuntimeError(f"only floating-point tensors can require gradients, but this tensor has "
                               f"dtype {self.dtype}; convert it first, e.g. x.float().requires_grad_()")
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor; use detach() to take it "
                               "out of the graph")
        self.requires_grad = bool(requires_grad)
        return self

    # ------------------------------------------------------------------ conversion
    def numpy(self):
        if tracing.recorder is not None:
            tracing.recorder.refuse(_ESCAPES.format("numpy()"))
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on a Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        return self._data

    def __array__(self, dtype=None, copy=None):
        if tracing.recorder is not None:
            tracing.recorder.refuse(_ESCAPES.format("numpy.asarray(tensor)"))
        return self._data if dtype is None else self._data.astype(dtype)

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to a "
                               f"Python scalar")
        value = self._data.reshape(()).item()
        tracing.read_value(self, value)
        return value

    def tolist(self):
        value = self._data.tolist()
        tracing.read_value(self, value)
        return value

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.dtype.kind not in "ib" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self._data.size} elements is ambiguous")
        value = bool(self._data)
        tracing.read_value(self, value)
        return value

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    __hash__ = object.__hash__

    def detach(self):
        """The same memory and version counter, outside the graph."""
        return make_tensor(self._data, version=self._version)

    def detach_(self):
        self.grad_fn = None
        self.requires_grad = False
        return self

    def float(self):
        return self.to(dtypes.float32)

    def double(self):
        return self.to(dtypes.float64)

    def long(self):
        return self.to(dtypes.int64)

    def bool(self):
        return self.to(dtypes.bool_)

    def cpu(self):
        return self

    # ------------------------------------------------------------------ autograd
    # ``backward`` (autograd/engine.py, beside the walk it runs) and ``to`` (a Cast op) are attached to
    # the class with the ops (autograd/tensor_methods.py), so this module imports neither.
    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned Tensor replaces it."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            return self.grad_fn.register_hook(hook)
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return RemovableHandle(self._hooks, hook)

    # The backward walk's protocol at a leaf (autograd/engine.py): the total gradient arrives once.
    @property
    def has_hooks(self):
        return self._hooks is not None

    def receive_grad(self, grad, owned, create_graph, retains):
        if self._hooks:
            return run_hooks(self._hooks, grad), False
        return grad, owned

    @tracing.host_call  # (a compiled step replays it as a call: it depends on .grad at that time)
    def accumulate_grad(self, grad, owned, create_graph):
        """``self.grad += grad``. An array the walk ``owned`` (made for this leaf alone) becomes
        ``.grad`` as it is; any other is copied, so that changing ``.grad`` in place (accumulation,
        clipping) never reaches another tensor. With ``create_graph`` the sum is recorded instead."""
        if self.grad is None:
            data = grad._data
            if create_graph or (owned and data.dtype == self._data.dtype and data.flags.c_contiguous
                                and data.flags.writeable):
                self.grad = grad
            else:
                self.grad = make_tensor(np.array(data, dtype=self._data.dtype, order="C"))
        elif create_graph or self.grad.requires_grad:
            self.grad = self.grad + grad
        else:
            data = self.grad._data
            data += grad._data
            self.grad._version[0] += 1

    def retain_grad(self):
        """Keep ``.grad`` for this non-leaf tensor too (leaves always keep theirs)."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on a Tensor that has requires_grad=False")
        if self.grad_fn is not None:
            self.grad_fn.retain(self)

    @property
    def retains_grad(self):
        return self.grad_fn is not None and self.grad_fn.retained is not None

    # ------------------------------------------------------------------ display
    def __repr__(self):
        body = np.array2string(self._data, separator=", ", prefix="tensor(", precision=4,
                               floatmode="maxprec_equal", threshold=200, edgeitems=3)
        extras = []
        if self.dtype not in (dtypes.float32, dtypes.int64, dtypes.bool_) or self._data.size == 0:
            extras.append(f"dtype={self.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn={self.grad_fn!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        if self.name:
            extras.append(f"name={self.name!r}")
        return "tensor(" + ", ".join([body] + extras) + ")"

    __str__ = __repr__


def run_hooks(hooks, grad):
    """Call each gradient hook in turn; a hook that returns a Tensor replaces the gradient."""
    for hook in list(hooks):
        result = hook(grad)
        if result is not None:
            grad = result
    return grad


class RemovableHandle:
    """Returned by ``register_hook``; ``handle.remove()`` unregisters the hook."""

    def __init__(self, hooks, hook):
        self._hooks = hooks
        self._hook = hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def _check_dim(dim, ndim, op):
    return normalize_dim(dim, ndim, op)


def normalize_dim(dim, ndim, op):
    """A dim in [-ndim, ndim) as a non-negative int, or IndexError naming ``op``."""
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    low, high = (-ndim, ndim - 1) if ndim > 0 else (-1, 0)
    if not low <= dim <= high:
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of [{low}, {high}], "
                         f"but got {dim})")
    return int(dim) % max(ndim, 1)


def normalize_dims(dim, ndim, op):
    """``dim`` (None, int, or tuple/list of ints) as a sorted tuple of distinct non-negative axes."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (tuple, list)):
        axes = tuple(normalize_dim(d, ndim, op) for d in dim)
        if len(set(axes)) != len(axes):
            raise RuntimeError(f"{op}: dim {tuple(dim)} appears multiple times in the list of dims")
        return tuple(sorted(axes))
    return (normalize_dim(dim, ndim, op),)
