"""Indexing: ``x[key]`` for ints, slices, None, Ellipsis, int arrays/tensors and bool masks.

Basic indexing returns a view; advanced indexing a copy. The gradient is scattered back (an index that
appears several times receives the sum of its gradients): by one int array along the first axis (an
embedding's rows) with the ``kernels.scatter`` row kernel, by any other advanced key with ``np.add.at``.
"""
import numpy as np

from .. import kernels
from ..function import Function
from ..tensor import Tensor


def normalize_key(key, shape):
    """Tensors in a key become arrays; bool lists become bool arrays; the result is a tuple."""
    if not isinstance(key, tuple):
        key = (key,)
    out = []
    for k in key:
        if isinstance(k, Tensor):
            k = k._data
        elif isinstance(k, list):
            k = np.asarray(k)
            if k.dtype.kind == "f":
                raise IndexError("tensors used as indices must be long, int or bool")
        if isinstance(k, np.ndarray) and k.dtype.kind not in "iub":
            raise IndexError(f"tensors used as indices must be long, int or bool, got {k.dtype}")
        out.append(k)
    return tuple(out)


def is_basic(key):
    return all(k is None or k is Ellipsis or isinstance(k, (int, np.integer, slice)) and not isinstance(k, bool)
               for k in key)


class GetItem(Function):
    """y = x[key];  dx = zeros with dy added at key (repeated indices accumulate)."""

    @staticmethod
    def forward(ctx, x, key):
        ctx.key, ctx.input_shape = key, x.shape
        try:
            return x[key]
        except IndexError as error:
            raise IndexError(f"index {_show(key)} is invalid for a tensor of shape {x.shape}: {error}") from None

    @staticmethod
    def backward(ctx, grad_output):
        return IndexAdd.apply(grad_output, ctx.key, ctx.input_shape), None

    @staticmethod
    def jvp(ctx, tx, _key):
        """ẏ = ẋ[key] (linear)."""
        return getitem(tx, ctx.key)


class GetItemView(GetItem):
    """Basic indexing: a view sharing memory (and the version counter) with its input."""
    is_view = True


class IndexAdd(Function):
    """y = zeros(shape) with x added at key (the backward of indexing);  dx = dy[key]."""

    @staticmethod
    def forward(ctx, x, key, shape):
        ctx.key = key
        if _rows_of_first_axis(key, x, shape):
            return kernels.scatter.index_add_rows(x, key[0], shape)
        out = np.zeros(shape, dtype=x.dtype)
        if is_basic(key):
            out[key] = x
        else:
            np.add.at(out, key, x)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        return getitem(grad_output, ctx.key), None, None

    @staticmethod
    def jvp(ctx, tx, _key, _shape):
        """ẏ = zeros with ẋ added at key (linear)."""
        return IndexAdd.apply(tx, ctx.key, ctx.primal_inputs[2])


class IndexPut(Function):
    """y = x with y[key] = v;  dx = dy with zeros at key, dv = dy[key] (summed to v's shape)."""

    @staticmethod
    def forward(ctx, x, v, key):
        ctx.key = key
        out = x.copy()
        out[key] = v
        return out

    @staticmethod
    def backward(ctx, grad_output):
        dx = IndexPut.apply(grad_output, _zero(grad_output), ctx.key) if ctx.needs_input_grad[0] else None
        dv = getitem(grad_output, ctx.key) if ctx.needs_input_grad[1] else None
        return dx, dv, None

    @staticmethod
    def jvp(ctx, tx, tv, _key):
        """ẏ = ẋ with ẏ[key] = v̇ (missing tangents are zeros)."""
        x, v = ctx.primal_inputs[:2]
        if tx is None:
            from ..creation import zeros
            tx = zeros(x.shape, dtype=x.dtype)
        return IndexPut.apply(tx, _zero(tx) if tv is None else tv, ctx.key)


def _rows_of_first_axis(key, x, shape):
    """Whether ``key`` is one int array picking rows of the first axis of a float ``shape``: the case
    ``kernels.scatter.index_add_rows`` takes."""
    if len(key) != 1 or not shape or x.dtype.kind != "f" or x.dtype.itemsize not in (4, 8):
        return False
    index = key[0]
    return (isinstance(index, np.ndarray) and (index.dtype.kind == "i" or index.dtype.kind == "u"
                                               and index.dtype.itemsize < 8)
            and x.shape == index.shape + tuple(shape[1:]))


def _zero(like):
    from ._args import constant
    return constant(0, like.dtype)


def _show(key):
    return key[0] if len(key) == 1 else key


def getitem(input, key):
    key = normalize_key(key, input.shape)
    if is_basic(key):
        return GetItemView.apply(input, key)
    return GetItem.apply(input, key)


def index_put(input, key, value):
    """Out-of-place ``input[key] = value`` (differentiable in both)."""
    from ._args import as_tensor
    key = normalize_key(key, input.shape)
    value = as_tensor(value, input.dtype)
    return IndexPut.apply(input, value, key)
