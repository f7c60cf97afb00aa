"""Reductions: sum mean amax amin max min argmax argmin prod var std logsumexp norm.

Every reduction takes ``dim`` (None for all, an int, or a tuple; negative counts from the end) and
``keepdim``; numpy's ``axis``/``keepdims`` are accepted as aliases. Backward formulas broadcast the
gradient back over the reduced axes by reshaping it to the keepdim shape first.
"""
import math
from collections import namedtuple

import numpy as np

from .. import dtypes, dual, fp_errors
from ..blas import column_sums
from ..function import Function
from ..tensor import Tensor, normalize_dim, normalize_dims
from ._args import computed, constant, dim_alias, floating
from .shape import broadcast_to, reshape

MaxMin = namedtuple("MaxMin", ["values", "indices"])
_add_reduce = np.add.reduce
_ALL_AXES = [tuple(range(n)) for n in range(65)]  # numpy allows at most 64 dimensions


def _axes(dim, ndim, op):
    """The reduced axes of ``dim``; for a 0-d tensor dim 0 or -1 is accepted and reduces nothing
    (torch returns the 0-d tensor itself)."""
    axes = normalize_dims(dim, ndim, op)
    return axes if ndim else ()


def _keep_shape(shape, axes):
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _expand_back(grad_output, input_shape, axes):
    """The gradient of a reduced result broadcast back to the input's shape."""
    return ExpandReduced.apply(grad_output, input_shape, axes)


class ExpandReduced(Function):
    """y = x (reduced over ``axes``, with or without keepdim) broadcast back to ``shape``;
    dx = dy summed over ``axes``. The backward of every reduction, as one op."""

    @staticmethod
    def forward(ctx, x, shape, axes):
        ctx.axes, ctx.keepdim = axes, x.ndim == len(shape)
        return _broadcast(x if x.ndim == 0 else x.reshape(_keep_shape(shape, axes)), shape)

    @staticmethod
    def backward(ctx, grad_output):
        return Sum.apply(grad_output, ctx.axes, ctx.keepdim), None, None

    @staticmethod
    def jvp(ctx, tx, _shape, _axes):
        """ẏ = ẋ broadcast back (linear)."""
        _, shape, axes = ctx.primal_inputs
        return ExpandReduced.apply(tx, shape, axes)


class ExpandAll(Function):
    """y = x (0-d) repeated over ``shape``;  dx = Σ dy. The backward of :class:`SumAll`: no axes to
    remember, two arguments."""

    @staticmethod
    def forward(ctx, x, shape):
        return _broadcast(x, shape)

    @staticmethod
    def backward(ctx, grad_output):
        return SumAll.apply(grad_output), None

    @staticmethod
    def jvp(ctx, tx, _shape):
        """ẏ = ẋ repeated (linear)."""
        return ExpandAll.apply(tx, ctx.primal_inputs[1])


def _reduced_shape(shape, axes):
    return tuple(s for i, s in enumerate(shape) if i not in axes)


def _broadcast(x, shape):
    """``x`` broadcast to ``shape`` as an array of its own, or as a read-only view when large."""
    if math.prod(shape) > 65536:  # large: a view saves a pass over memory
        return np.broadcast_to(x, shape)
    out = np.empty(shape, x.dtype)  # small: filling costs less than np.broadcast_to's setup
    out[...] = x
    return out


class Sum(Function):
    """y = Σ x over ``axes``;  dx = dy broadcast back."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.input_shape, ctx.axes = x.shape, axes
        if x.dtype.kind == "f":
            if axes == (0,) and x.ndim == 2:  # a bias gradient: Σ of a batch's rows
                sums = column_sums(x)
                if sums is not None:
                    return sums.reshape(1, -1) if keepdim else sums
            return _add_reduce(x, axes, None, None, keepdim)  # the ufunc: ndarray.sum goes through Python
        return x.sum(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad_output):
        return _expand_back(grad_output, ctx.input_shape, ctx.axes), None, None

    @staticmethod
    def jvp(ctx, tx, _axes, _keepdim):
        """ẏ = Σ ẋ over the axes (linear)."""
        _, axes, keepdim = ctx.primal_inputs
        return Sum.apply(tx, axes, keepdim)


class SumAll(Function):
    """y = Σ x over every axis (``x.sum()``, the usual last op of a loss);  dx = dy broadcast back.

    :class:`Sum` over all axes as an op of its own (PyTorch has SumBackward0 beside SumBackward1 too):
    one argument to record and one gradient to return instead of three, on every loss's backward."""

    @staticmethod
    def forward(ctx, x):
        ctx.input_shape = x.shape
        return _add_reduce(x, None)

    @staticmethod
    def backward(ctx, grad_output):
        return ExpandAll.apply(grad_output, ctx.input_shape)

    @staticmethod
    def jvp(ctx, tx):
        """ẏ = Σ ẋ (linear)."""
        return SumAll.apply(tx)


class Mean(Function):
    """y = (1/n) Σ x over ``axes``;  dx = dy/n broadcast back."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.input_shape, ctx.axes = x.shape, axes
        ctx.count = int(np.prod([x.shape[a] for a in axes])) if axes else 1
        with fp_errors.ignored():
            return x.mean(axis=axes, keepdims=keepdim) if x.size else np.full(
                np.sum(x, axis=axes, keepdims=keepdim).shape, np.nan, x.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        return _expand_back(grad_output / float(ctx.count), ctx.input_shape, ctx.axes), None, None

    @staticmethod
    def jvp(ctx, tx, _axes, _keepdim):
        """ẏ = mean ẋ over the axes (linear)."""
        _, axes, keepdim = ctx.primal_inputs
        return Mean.apply(tx, axes, keepdim)


class Amax(Function):
    """y = max x over ``axes``;  dx = dy at the maximal elements, split evenly between ties."""

    reduce = staticmethod(np.max)

    @classmethod
    def forward(cls, ctx, x, axes, keepdim):
        empty = [a for a in axes if x.shape[a] == 0] if x.size == 0 else ()
        if empty:  # other dims may be empty: the result is then empty too
            raise IndexError(f"{cls.__name__.lower()}(): expected reduction dim {empty[0]} to have "
                             f"non-zero size (input of shape {x.shape})")
        out = cls.reduce(x, axis=axes, keepdims=True)
        if ctx.needs_input_grad or dual.active_levels:  # the share is only for gradients: not
            # built when nothing records (it costs a pass and an input-sized array)
            is_extreme = x == out
            share = is_extreme.astype(x.dtype)
            with fp_errors.ignored():  # a NaN maximum matches nothing: 0/0, NaN gradients, as in torch
                share /= is_extreme.sum(axis=axes, keepdims=True)
            ctx.save_for_backward(share)
            ctx.input_shape, ctx.axes = x.shape, axes
        return out if keepdim else out.reshape(_reduced_shape(x.shape, axes))

    @staticmethod
    def backward(ctx, grad_output):
        (share,) = ctx.saved_tensors
        return _expand_back(grad_output, ctx.input_shape, ctx.axes) * share, None, None

    @staticmethod
    def jvp(ctx, tx, _axes, _keepdim):
        """ẏ = Σ ẋ·s over the axes, s the share of each extreme element (as in backward)."""
        (share,) = ctx.saved_tensors
        _, axes, keepdim = ctx.primal_inputs
        return Sum.apply(tx * share, axes, keepdim)


class Amin(Amax):
    """y = min x over ``axes``;  dx = dy at the minimal elements, split evenly between ties."""

    reduce = staticmethod(np.min)


class Gather(Function):
    """y[i][j] = x[i][index[i][j]] along ``dim`` (torch.gather; y has index's shape, which may be
    smaller than x's in every dim);  dx = dy scattered and summed back."""

    @staticmethod
    def forward(ctx, x, dim, index):
        ctx.dim, ctx.index, ctx.input_shape = dim, index, x.shape
        return x[_scatter_key(index, dim)]

    @staticmethod
    def backward(ctx, grad_output):
        return ScatterAdd.apply(grad_output, ctx.dim, ctx.index, ctx.input_shape), None, None

    @staticmethod
    def jvp(ctx, tx, _dim, _index):
        """ẏ = ẋ gathered at the same index (linear)."""
        return Gather.apply(tx, ctx.dim, ctx.index)


class ScatterAdd(Function):
    """y = zeros(shape) with src added at ``index`` along ``dim``;  dsrc = dy gathered at ``index``."""

    @staticmethod
    def forward(ctx, src, dim, index, shape):
        ctx.dim, ctx.index = dim, index
        out = np.zeros(shape, dtype=src.dtype)
        np.add.at(out, _scatter_key(index, dim), src)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        return Gather.apply(grad_output, ctx.dim, ctx.index), None, None, None

    @staticmethod
    def jvp(ctx, tsrc, _dim, _index, _shape):
        """ẏ = ṡrc scattered at the same index (linear)."""
        return ScatterAdd.apply(tsrc, ctx.dim, ctx.index, ctx.primal_inputs[3])


def _scatter_key(index, dim):
    """The advanced-indexing key that pairs every position of ``index`` with its own coordinates,
    except along ``dim``, where ``index`` itself is the coordinate."""
    key = list(np.indices(index.shape, sparse=True))
    key[dim] = index
    return tuple(key)


def _index_array(index, op):
    idx = index._data if isinstance(index, Tensor) else np.asarray(index)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}(): expected an integer (int64) index, got {idx.dtype}")
    return idx


def _check_index(idx, shape, dim, op, others):
    """torch's rules for gather/scatter: the same number of dims (a 0-d tensor counting as 1-d), index
    no larger than ``others`` (input, and src for scatter) apart from ``dim``, values in [0, size)."""
    if idx.ndim != len(shape):
        raise RuntimeError(f"{op}(): index of shape {tuple(idx.shape)} must have the same number of "
                           f"dimensions as input of shape {tuple(shape)}")
    for name, other, skip in others:
        for d, (i, s) in enumerate(zip(idx.shape, other)):
            if i > s and d != skip:
                apart = "" if skip is None else f" apart from dimension {dim}"
                raise RuntimeError(f"{op}(): size does not match at dimension {d}: expected index "
                                   f"{list(idx.shape)} to be no larger than {name} {list(other)}{apart}")
    if idx.size:
        low, high = int(idx.min()), int(idx.max())
        if low < 0 or high >= shape[dim]:
            bad = low if low < 0 else high
            raise RuntimeError(f"{op}(): index {bad} is out of bounds for dimension {dim} with size "
                               f"{shape[dim]}")


def gather(input, dim, index):
    """Values of ``input`` at ``index`` along ``dim``, as torch.gather: the result has index's shape;
    index (int64, values in [0, input.shape[dim])) has input's number of dims and is no larger than
    input in the others. No broadcasting."""
    idx = _index_array(index, "gather")
    d = normalize_dim(dim, input.ndim, "gather")
    source = input if input.ndim else reshape(input, (1,))  # torch treats a 0-d tensor as 1-d here
    idx_1d = idx if idx.ndim else idx.reshape(1)
    _check_index(idx_1d, source.shape, d, "gather", (("input", source.shape, d),))
    out = Gather.apply(source, d, idx_1d.astype(np.int64, copy=False))
    return out if idx.ndim else reshape(out, ())


def scatter_add(input, dim, index, src):
    """``input`` plus ``src`` added at ``index`` along ``dim`` (torch.scatter_add; differentiable in input
    and src): index has input's number of dims, no larger than src, nor than input apart from ``dim``."""
    idx = _index_array(index, "scatter_add")
    d = normalize_dim(dim, input.ndim, "scatter_add")
    if input.ndim == 0:
        return reshape(scatter_add(reshape(input, (1,)), 0, idx.reshape(-1), reshape(src, (-1,))), ())
    _check_index(idx, input.shape, d, "scatter_add", (("input", input.shape, d), ("src", src.shape, None)))
    if src.ndim != idx.ndim:
        raise RuntimeError(f"scatter_add(): src of shape {tuple(src.shape)} must have the same number of "
                           f"dimensions as index of shape {tuple(idx.shape)}")
    if src.shape != idx.shape:
        src = src[tuple(slice(0, s) for s in idx.shape)]
    return input + ScatterAdd.apply(src, d, idx.astype(np.int64, copy=False), input.shape)


# ---------------------------------------------------------------------- functions
def sum(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    if dim is None and axis is None and dtype is None and keepdims is None and input._data.dtype.kind == "f":
        if not keepdim:
            return SumAll.apply(input)  # x.sum(): the loss's usual last op
        return Sum.apply(input, _ALL_AXES[input._data.ndim], True)
    dim, keepdim = dim_alias(dim, keepdim, axis, keepdims)
    if dtype is not None:
        input = input.to(dtype)
    elif input.dtype == dtypes.bool_:
        input = input.to(dtypes.int64)
    axes = _axes(dim, input.ndim, "sum")
    return Sum.apply(input, axes, keepdim)


def mean(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    dim, keepdim = dim_alias(dim, keepdim, axis, keepdims)
    if dtype is not None:
        input = input.to(dtype)
    if input.dtype.kind != "f":
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be floating point, "
                           f"but got {input.dtype}; use x.float().mean() or mean(dtype=float32)")
    axes = _axes(dim, input.ndim, "mean")
    return Mean.apply(input, axes, keepdim)


def amax(input, dim=(), keepdim=False, *, axis=None, keepdims=None):
    dim, keepdim = dim_alias(None if dim == () else dim, keepdim, axis, keepdims)  # () = not given
    axes = _axes(dim, input.ndim, "amax")
    if input.dtype.kind != "f":
        return computed(lambda a: np.max(a, axis=axes, keepdims=keepdim), input._data, dtype=input.dtype)
    return Amax.apply(input, axes, keepdim)


def amin(input, dim=(), keepdim=False, *, axis=None, keepdims=None):
    dim, keepdim = dim_alias(None if dim == () else dim, keepdim, axis, keepdims)  # () = not given
    axes = _axes(dim, input.ndim, "amin")
    if input.dtype.kind != "f":
        return computed(lambda a: np.min(a, axis=axes, keepdims=keepdim), input._data, dtype=input.dtype)
    return Amin.apply(input, axes, keepdim)


def _arg_extreme(input, dim, keepdim, find, op):
    if input.numel() == 0:
        raise RuntimeError(f"{op}(): expected a non-empty tensor")
    if dim is None:
        shape = (1,) * input.ndim if keepdim else ()
        return computed(lambda a: np.reshape(find(a.reshape(-1)), shape), input._data, dtype=np.int64)
    d = normalize_dim(dim, input.ndim, op) if input.ndim else 0
    keep = keepdim and input.ndim > 0
    return computed(lambda a: find(a if a.ndim else a.reshape(1), axis=d, keepdims=keep), input._data,
                    dtype=np.int64)


def argmax(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    dim, keepdim = dim_alias(dim, keepdim, axis, keepdims)
    return _arg_extreme(input, dim, keepdim, np.argmax, "argmax")


def argmin(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    dim, keepdim = dim_alias(dim, keepdim, axis, keepdims)
    return _arg_extreme(input, dim, keepdim, np.argmin, "argmin")


def _max_min(input, dim, keepdim, axis, keepdims, reduce_all, find, op):
    if isinstance(dim, Tensor):  # torch.max(a, b) is the elementwise maximum
        from .arithmetic import maximum, minimum
        return (maximum if op == "max" else minimum)(input, dim)
    dim, keepdim = dim_alias(dim, keepdim, axis, keepdims)
    if dim is None:
        return reduce_all(input)
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"{op}: dim must be an int (use amax/amin to reduce several dims)")
    d = normalize_dim(dim, input.ndim, op) if input.ndim else 0
    source = input if input.ndim else reshape(input, (1,))
    if source.shape[d] == 0:
        raise IndexError(f"{op}(): cannot reduce over a zero-size dimension {dim}")
    index = computed(lambda a: find(a, axis=d, keepdims=True), source._data, dtype=np.int64)
    values = gather(source, d, index) if source.dtype.kind == "f" else computed(
        lambda a, i: np.take_along_axis(a, i, axis=d), source._data, index._data, dtype=source.dtype)
    if not keepdim or not input.ndim:
        values = reshape(values, values.shape[:d] + values.shape[d + 1:])
        index = reshape(index, index.shape[:d] + index.shape[d + 1:])
    return MaxMin(values, index)


def max(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Without ``dim``: the largest value. With ``dim``: a named tuple ``(values, indices)``."""
    return _max_min(input, dim, keepdim, axis, keepdims, amax, np.argmax, "max")


def min(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Without ``dim``: the smallest value. With ``dim``: a named tuple ``(values, indices)``."""
    return _max_min(input, dim, keepdim, axis, keepdims, amin, np.argmin, "min")


class Prod(Function):
    """y = Π x over ``axes``;  dx_i = dy·Π_{j≠i} x_j (computed without dividing, so zeros are fine)."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.save_for_backward(x)
        ctx.axes, ctx.keepdim = axes, keepdim
        with fp_errors.ignored():  # beyond the float range: inf, silently, as in torch
            return x.prod(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        axes = ctx.axes
        g = _expand_back(grad_output, x.shape, axes)
        if not (x._data == 0).any():
            return g * _expand_back(prod(x, axes, ctx.keepdim), x.shape, axes) / x, None, None
        # With zeros, product of the others = prod of a copy where element i is replaced by 1, done by
        # moving the reduced axes last and building an (n, n) matrix per row: O(n²), exact at any order.
        return g * _product_of_others(x, axes), None, None

    @staticmethod
    def jvp(ctx, tx, _axes, _keepdim):
        """ẏ = Σ ẋᵢ·Π_{j≠i} xⱼ over the axes."""
        (x,) = ctx.saved_tensors
        axes = ctx.axes
        if not (x._data == 0).any():
            others = _expand_back(ctx.primal_output, x.shape, axes) / x
        else:
            others = _product_of_others(x, axes)
        return sum(tx * others, axes, ctx.keepdim)


def _product_of_others(x, axes):
    """For each element, the product of the other elements of its reduction group, as Tensor ops."""
    from .arithmetic import where
    from .shape import permute
    kept = tuple(a for a in range(x.ndim) if a not in axes)
    order = kept + axes
    moved = permute(x, order)
    rows, n = moved.shape[:len(kept)], int(np.prod([x.shape[a] for a in axes]))
    flat = reshape(moved, rows + (1, n))
    square = broadcast_to(flat, rows + (n, n))
    others = prod(where(constant(np.eye(n, dtype=bool), np.bool_), 1.0, square), -1)
    return permute(reshape(others, moved.shape), tuple(np.argsort(order)))


def prod(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    dim, keepdim = dim_alias(dim, keepdim, axis, keepdims)
    if dtype is not None:
        input = input.to(dtype)
    axes = _axes(dim, input.ndim, "prod")
    if input.dtype.kind != "f":
        return computed(lambda a: a.prod(axis=axes, keepdims=keepdim), input._data, dtype=np.int64)
    return Prod.apply(input, axes, keepdim)


class Var(Function):
    """y = Σ(x − x̄)² / max(N − correction, 0) over ``axes``;  dx = dy·2(x − x̄)/(N − correction).

    float32 input is reduced in float64 (then rounded), so squares above float32's range do not
    turn a finite spread into inf (torch's std of [1e20, -1e20] in float32 is 1.414e20)."""

    @staticmethod
    def forward(ctx, x, axes, correction, keepdim):
        ctx.save_for_backward(x)
        ctx.axes, ctx.correction, ctx.keepdim = axes, correction, keepdim
        with fp_errors.ignored():  # float32's range exceeded: inf, as in torch
            return _variance(x, axes, correction, keepdim).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return _var_backward(grad_output, x, ctx.axes, ctx.correction), None, None, None

    @staticmethod
    def jvp(ctx, tangent, *_constants):
        (x,) = ctx.saved_tensors
        return _var_jvp(x, tangent, ctx.axes, ctx.correction, ctx.keepdim)


class Std(Function):
    """y = √var x;  dx = dy/(2y) · dvar/dx, taken as 0 where y = 0 (constant input: torch's value, where
    the composed √ would give ∞·0 = NaN)."""

    @staticmethod
    def forward(ctx, x, axes, correction, keepdim):
        with fp_errors.ignored():
            out = np.asarray(np.sqrt(_variance(x, axes, correction, keepdim)), dtype=x.dtype)
        ctx.save_for_backward(x, out)  # the returned array itself, so double backward sees its graph
        ctx.axes, ctx.correction, ctx.keepdim = axes, correction, keepdim
        return out

    @staticmethod
    def backward(ctx, grad_output):
        from .arithmetic import where
        x, out = ctx.saved_tensors
        shape = _keep_shape(x.shape, ctx.axes)
        out = reshape(out, shape)
        zero = out == 0
        half = reshape(grad_output, shape) / (where(zero, 1.0, out) * 2.0)
        return where(zero, 0.0, _var_backward(half, x, ctx.axes, ctx.correction)), None, None, None

    @staticmethod
    def jvp(ctx, tangent, *_constants):
        from .arithmetic import where
        x, out = ctx.saved_tensors
        zero = out == 0
        var_tangent = _var_jvp(x, tangent, ctx.axes, ctx.correction, ctx.keepdim)
        return where(zero, 0.0, var_tangent / (where(zero, 1.0, out) * 2.0))


def _variance(x, axes, correction, keepdim):
    wide = x.astype(np.float64) if x.dtype == np.float32 else x
    centered = wide - (wide.mean(axis=axes, keepdims=True) if wide.size else 0)
    total = np.add.reduce(centered * centered, axes, None, None, keepdim)
    return total / np.float64(_degrees_of_freedom(x.shape, axes, correction))  # 0: inf or NaN, as torch


def _count(shape, axes):
    return int(np.prod([shape[a] for a in axes])) if axes else 1


def _degrees_of_freedom(shape, axes, correction):
    """max(N − correction, 0) (the builtin max is shadowed in this module)."""
    return np.maximum(_count(shape, axes) - correction, 0)


def _var_scale(shape, axes, correction):
    denominator = _degrees_of_freedom(shape, axes, correction)
    return 2.0 / denominator if denominator else math.inf  # torch: 2/0 = inf, so ∞·0 = NaN as it gives


def _var_jvp(x, tangent, axes, correction, keepdim):
    centered = x - mean(x, axes, keepdim=True)
    return sum(centered * tangent, axes, keepdim) * _var_scale(x.shape, axes, correction)


def _var_backward(grad_output, x, axes, correction):
    centered = x - mean(x, axes, keepdim=True)
    return _expand_back(grad_output, x.shape, axes) * centered * _var_scale(x.shape, axes, correction)


def _correction(unbiased, correction, op):
    if correction is None:
        return 1 if unbiased is None or unbiased else 0
    if unbiased is not None:
        raise TypeError(f"{op}: pass either unbiased or correction, not both")
    return correction


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None):
    """Σ(x − mean)² / (N − correction); ``correction=1`` (default) is the unbiased estimator."""
    dim, keepdim = dim_alias(dim, keepdim, axis, keepdims)
    correction = _correction(unbiased, correction, "var")
    input = floating(input)
    return Var.apply(input, _axes(dim, input.ndim, "var"), correction, keepdim)


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None):
    """√var: see ``var``."""
    dim, keepdim = dim_alias(dim, keepdim, axis, keepdims)
    correction = _correction(unbiased, correction, "std")
    input = floating(input)
    return Std.apply(input, _axes(dim, input.ndim, "std"), correction, keepdim)


class LogSumExp(Function):
    """y = log Σ eˣ, computed as m + log Σ e^(x−m) with m = max x so nothing overflows;
    dx = dy·e^(x−y) (the softmax)."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        m = np.max(x, axis=axes, keepdims=True) if x.size else np.zeros(_keep_shape(x.shape, axes), x.dtype)
        m = np.where(np.isfinite(m), m, 0).astype(x.dtype, copy=False)
        with fp_errors.ignored():
            out = np.log(np.exp(x - m).sum(axis=axes, keepdims=True)) + m
        out = np.asarray(out if keepdim else out.reshape(_reduced_shape(x.shape, axes)))  # (not a numpy scalar:
        # the saved output must be the very array returned, or double backward loses its graph)
        ctx.save_for_backward(x, out)
        ctx.axes = axes
        return out

    @staticmethod
    def backward(ctx, grad_output):
        from .unary import exp
        x, out = ctx.saved_tensors
        shape = _keep_shape(x.shape, ctx.axes)
        return reshape(grad_output, shape) * exp(x - reshape(out, shape)), None, None

    @staticmethod
    def jvp(ctx, tx, _axes, _keepdim):
        """ẏ = Σ ẋ·e^(x−y) over the axes (ẋ weighted by the softmax)."""
        from .unary import exp
        x, out = ctx.saved_tensors
        shape = _keep_shape(x.shape, ctx.axes)
        return Sum.apply(tx * exp(x - reshape(out, shape)), ctx.axes, ctx.primal_inputs[2])


def logsumexp(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    dim, keepdim = dim_alias(dim, keepdim, axis, keepdims)
    input = floating(input)
    return LogSumExp.apply(input, _axes(dim, input.ndim, "logsumexp"), keepdim)


class Norm2(Function):
    """y = √(Σ x²);  dx = dy·x / y, taken as 0 where y = 0 (PyTorch's subgradient at the origin)."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        with fp_errors.ignored():  # squares beyond the float range: inf, silently, as in torch
            out = np.asarray(np.sqrt(np.sum(x * x, axis=axes, keepdims=keepdim)))
        # (an array, never a numpy scalar: the one saved is the one returned, so double backward sees
        # its graph)
        ctx.save_for_backward(x, out)
        ctx.axes = axes
        return out

    @staticmethod
    def backward(ctx, grad_output):
        from .arithmetic import where
        x, out = ctx.saved_tensors
        shape = _keep_shape(x.shape, ctx.axes)
        out = reshape(out, shape)
        safe = where(out == 0, 1.0, out)
        return where(out == 0, 0.0, reshape(grad_output, shape) * x / safe), None, None

    @staticmethod
    def jvp(ctx, tx, _axes, _keepdim):
        """ẏ = Σ x·ẋ / y, 0 where y = 0."""
        from .arithmetic import where
        x, out = ctx.saved_tensors
        dot = Sum.apply(x * tx, ctx.axes, ctx.primal_inputs[2])
        zero = out == 0
        return where(zero, 0.0, dot / where(zero, 1.0, out))


def norm(input, p=2, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Vector p-norm over ``dim`` (all elements when None): (Σ|x|ᵖ)^(1/p); p may be inf, -inf or 0."""
    from .unary import abs as abs_
    dim, keepdim = dim_alias(dim, keepdim, axis, keepdims)
    if p == "fro":
        p = 2
    input = floating(input)
    axes = _axes(dim, input.ndim, "norm")
    if p == 2:
        return Norm2.apply(input, axes, keepdim)
    if p == float("inf"):
        return amax(abs_(input), axes, keepdim)
    if p == float("-inf"):
        return amin(abs_(input), axes, keepdim)
    if p == 0:
        return sum((input != 0).to(input.dtype), axes, keepdim)
    if p == 1:
        return sum(abs_(input), axes, keepdim)
    if not isinstance(p, (int, float)):
        raise TypeError(f"norm: p must be a number, inf, -inf or 'fro', got {p!r}")
    return NormP.apply(input, float(p), axes, keepdim)


class NormP(Function):
    """y = (Σ|x|ᵖ)^(1/p) for p ∉ {0, 1, 2, ±inf};  dx = dy·sgn(x)|x|^(p−1) / y^(p−1), taken as 0 where
    y = 0 (and, for p < 1, where x = 0): torch's values where the composed power gives ∞·0 = NaN."""

    @staticmethod
    def forward(ctx, x, p, axes, keepdim):
        with fp_errors.ignored():
            out = np.asarray(np.add.reduce(np.abs(x) ** p, axes, None, None, keepdim) ** (1.0 / p))
        ctx.save_for_backward(x, out)  # the returned array itself, so double backward sees its graph
        ctx.p, ctx.axes, ctx.keepdim = p, axes, keepdim
        return out

    @staticmethod
    def backward(ctx, grad_output):
        x, out = ctx.saved_tensors
        return _norm_p_backward(reshape(grad_output, _keep_shape(x.shape, ctx.axes)), x, out, ctx.p, ctx.axes), \
            None, None, None

    @staticmethod
    def jvp(ctx, tangent, *_constants):
        x, out = ctx.saved_tensors
        ones = constant(np.ones(_keep_shape(x.shape, ctx.axes), x.dtype), x.dtype)
        return sum(_norm_p_backward(ones, x, out, ctx.p, ctx.axes) * tangent, ctx.axes, ctx.keepdim)


def _norm_p_backward(grad, x, out, p, axes):
    """grad (keepdim shape) · ∂‖x‖ₚ/∂x, with the zero cases masked after safe substitutions, so no
    ∞ enters the graph (second derivatives stay finite too)."""
    from .arithmetic import where
    from .unary import abs as abs_
    from .unary import sign
    out = reshape(out, _keep_shape(x.shape, axes))
    magnitude = abs_(x)
    x_zero = magnitude == 0
    scaled = sign(x) * where(x_zero, 1.0, magnitude) ** (p - 1.0)  # sgn(x)|x|^(p−1), 0 at x = 0
    if p < 1:
        return where(x_zero, 0.0, scaled * grad * out ** (1.0 - p))
    out_zero = out == 0
    scale = grad / where(out_zero, 1.0, out) ** (p - 1.0)
    return scaled * where(out_zero, 0.0, scale)  # (keepdim shape: broadcasts over the reduced axes)
