"""``Tensor``: a numpy array plus the autograd bookkeeping (requires_grad, grad, grad_fn, version).

The operators and math methods (``x + y``, ``x.exp()``, ``x.sum(dim=1)``) are the op functions of
``autograd.ops``, attached to the class in ``autograd/tensor_methods.py``; this file holds only what
is the Tensor's own: construction, attributes, conversion and ``backward``.
"""
import weakref

import numpy as np

from . import dtypes, grad_mode


_ONE = {np.dtype(t): np.ones((), t) for t in (np.float16, np.float32, np.float64)}  # backward's seeds, copied
_new_object = object.__new__  # one global lookup instead of a lookup and an attribute per tensor


def make_tensor(data, requires_grad, grad_fn, version):
    """Wrap an array the engine made (no copy, no checks). ``version`` is a shared counter or None.

    ``Function.apply`` writes these lines out for the results of ops (a call less per op): a slot
    added to Tensor is set there too (tests/test_engine.py checks that every slot is)."""
    t = _new_object(Tensor)
    t._data = data
    t.requires_grad = requires_grad
    t.grad_fn = grad_fn
    t.grad = None
    t._version = version if version is not None else [0]
    t._hooks = None
    t.name = None
    t._fw_tangents = None
    return t


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
    #: As a vertex of the backward walk a leaf has no edges (a non-leaf's vertex is its ``grad_fn``).
    next_edges = ()

    def __init__(self, data, requires_grad=False, dtype=None, name=None):
        array = as_array(data, dtype)
        if isinstance(data, Tensor) or (isinstance(data, np.ndarray) and array is data):
            array = array.copy()  # like torch.tensor: the new tensor owns its memory
        self._data = array
        self.grad = None
        self.grad_fn = None
        self._version = [0]
        self._hooks = None
        self.name = name
        self._fw_tangents = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

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
        return make_tensor(self._data, False, None, None)

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
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on a Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        return self._data

    def __array__(self, dtype=None, copy=None):
        return self._data if dtype is None else self._data.astype(dtype)

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to a "
                               f"Python scalar")
        return self._data.reshape(()).item()

    def tolist(self):
        return self._data.tolist()

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
        return bool(self._data)

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    __hash__ = object.__hash__

    def detach(self):
        """The same memory and version counter, outside the graph."""
        return make_tensor(self._data, False, None, self._version)

    def detach_(self):
        self.grad_fn = None
        self.requires_grad = False
        return self

    def to(self, dtype=None, copy=False):
        """Convert to ``dtype`` (differentiable between float dtypes). Devices are not modelled: CPU only."""
        if isinstance(dtype, str) and dtype == "cpu":
            return self
        from .ops.conversion import Cast
        target = dtypes.as_dtype(dtype)
        if target is None or (target == self.dtype and not copy):
            return self
        return Cast.apply(self, dtype=target)

    def type(self, dtype):
        return self.to(dtype)

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
    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        """Accumulate d(self)/d(leaf) into the ``.grad`` of every leaf that requires grad.

        ``gradient`` is the vector of the vector-Jacobian product and is required when ``self`` has
        more than one element (PyTorch's rule), as is ``retain_graph=True`` to backward twice.
        """
        if not self.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn: "
                               "nothing in this computation requires grad (create the inputs with "
                               "requires_grad=True)")
        data = self._data
        if gradient is None and data.ndim == 0 and data.dtype in _ONE:  # loss.backward(): the seed 1
            gradient = make_tensor(_ONE[data.dtype].copy(), False, None, None)  # one C call, not two
        else:
            gradient = _initial_gradient(self, gradient, "backward")
        if retain_graph is None:
            retain_graph = create_graph
        (_run_backward or _load_run_backward())([self], [gradient], retain_graph, create_graph)

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned Tensor replaces it."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            return self.grad_fn.register_hook(hook)
        from .function import _RemovableHandle
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return _RemovableHandle(self._hooks, hook)

    def retain_grad(self):
        """Keep ``.grad`` for this non-leaf tensor too (leaves always keep theirs)."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on a Tensor that has requires_grad=False")
        if self.grad_fn is not None:
            self.grad_fn.retained = weakref.ref(self)

    @property
    def retains_grad(self):
        return self.grad_fn is not None and self.grad_fn.retained is not None

    def zero_(self):
        from .ops.inplace import fill_
        return fill_(self, 0)

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


_run_backward = None


def _load_run_backward():
    # The engine imports this module, so it is looked up on the first backward, then kept.
    global _run_backward
    from .engine import run_backward
    _run_backward = run_backward
    return run_backward


def _initial_gradient(output, gradient, op):
    if gradient is None:
        data = output._data
        if data.size != 1:
            raise RuntimeError(f"{op}: grad can be implicitly created only for scalar outputs, but the "
                               f"output has shape {output.shape}; pass gradient= (a tensor of that shape)")
        seed = np.empty(data.shape, data.dtype)  # np.ones is a Python function: 3x slower on a scalar
        seed.fill(1)
        return make_tensor(seed, False, None, None)
    if not isinstance(gradient, Tensor):
        gradient = Tensor(np.asarray(gradient, dtype=output.dtype))
    if gradient.shape != output.shape:
        raise RuntimeError(f"{op}: gradient has shape {gradient.shape} but the output has shape "
                           f"{output.shape}")
    return gradient


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
