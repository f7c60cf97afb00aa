"""Foreach ops: one op over a list of tensors, with PyTorch's ``torch._foreach_*`` semantics.

In place (each returns None, like PyTorch's)::

    foreach_add_(tensors, others, alpha=1)        t ← t + alpha·o
    foreach_mul_(tensors, others)                 t ← t·o
    foreach_div_(tensors, others)                 t ← t / o
    foreach_lerp_(tensors, ends, weight)          t ← t + weight·(e − t)
    foreach_addcmul_(tensors, t1, t2, value=1)    t ← t + value·a·b
    foreach_addcdiv_(tensors, t1, t2, value=1)    t ← t + value·a / b
    foreach_maximum_(tensors, others)             t ← max(t, o)
    foreach_sqrt_(tensors)                        t ← √t

and out of place (each returns a new list): ``foreach_add``, ``foreach_mul``, ``foreach_div``,
``foreach_neg``, ``foreach_sqrt``. ``others`` is a list of tensors (one per tensor), a number, or a
list of numbers (one per tensor); so are ``weight`` and ``value``, which are numbers or lists of
numbers.

Design notes:

* The optimizers (``optim/``) write their update rules with these, so that a rule reads as its
  formula over a whole parameter group, while a step over many parameters costs one kernel call per
  tensor and little Python around it.
* Element i gives exactly what the single-tensor op gives (``t.add_(o, alpha=alpha)``, ``t.lerp_(e,
  w)``, ...): the same kernel (``autograd.kernels.updates``: BLAS axpy for large tensors, fused
  addcmul/addcdiv/lerp loops) or the same numpy ufunc, with the scalar cast to the tensor's dtype.
  The per-parameter form of a rule and its foreach form are therefore equal to the bit (tested).
* An ordinary tensor (C-contiguous, writeable, operands of its shape and dtype) outside recording
  takes that kernel on flat views directly, and its version counter goes up. Anything else (a view,
  broadcasting, mixed dtypes, a tensor that records, forward-AD tangents) goes through the
  single-tensor op, which handles it and raises its clear errors.
"""
import itertools

import numpy as np

from .. import dual, fp_errors, grad_mode, kernels, tracing
from ..tensor import Tensor, make_tensor
from . import arithmetic, inplace, unary


def _length(op, tensors):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: expected a list of tensors, got {type(tensors).__name__}")
    return len(tensors)


def _tensor_list(op, values, count, name):
    """``values`` if it is a list of ``count`` tensors (or empty); None if it holds numbers (or is one)."""
    if not isinstance(values, (list, tuple)):
        return None
    if len(values) != count:
        raise ValueError(f"{op}: expected one {name} per tensor, got {count} tensors and {len(values)} {name}")
    if not values or isinstance(values[0], Tensor):
        return values
    return None


def _scalar_args(op, values, count, name):
    """The kernel's scalar argument as :func:`_each` takes it: ``(x,)`` for one number ``x`` given for
    every tensor, or a list of ``count`` such tuples for a list of numbers."""
    if isinstance(values, (list, tuple)):
        return [(v,) for v in _scalar_list(op, values, count, name)]
    return (_scalar_list(op, values, 1, name)[0],)


def _scalar_list(op, values, count, name):
    """One number per tensor, from a number or a list of ``count`` numbers."""
    if isinstance(values, Tensor):
        raise TypeError(f"{op}: {name} must be a number or a list of numbers, got a Tensor")
    if isinstance(values, (list, tuple)):
        if len(values) != count:
            raise ValueError(f"{op}: expected one {name} per tensor, got {count} tensors and {len(values)} "
                             f"{name}")
        for v in values:
            if isinstance(v, Tensor) or not np.isscalar(v):
                raise TypeError(f"{op}: {name} must be numbers, got a {type(v).__name__}")
        return [float(v) for v in values]
    if not np.isscalar(values) or isinstance(values, (str, bytes)):
        raise TypeError(f"{op}: {name} must be a number or a list of numbers, got {type(values).__name__}")
    return [float(values)] * count


def _flat_views(target, operands):
    """Flat views of ``target``'s array (C-contiguous, aligned, writeable, floating) and of the
    ``operands``' (Tensors, C-contiguous, the target's shape and dtype), or None when any is not so."""
    if not isinstance(target, Tensor):
        return None
    data = target._data
    if not data.flags.carray or data.dtype.kind != "f":
        return None
    flats = [data if data.ndim == 1 else data.ravel()]  # ravel: a view here, cheaper than reshape
    for operand in operands:
        if not isinstance(operand, Tensor):
            return None
        other = operand._data
        if (other.dtype is not data.dtype and other.dtype != data.dtype) or other.shape != data.shape \
                or not other.flags.c_contiguous:
            return None
        flats.append(other if other.ndim == 1 else other.ravel())
    return flats


def _each(tensors, operand_lists, scalars, direct, single):
    """For each i: ``direct(*flat arrays, *scalars as the dtype)`` on tensors[i] and its operands
    where :func:`_flat_views` allows it outside recording, else ``single(tensors[i], *operands,
    *scalars)``. ``scalars`` is one tuple of floats for every tensor, or a list of one per tensor."""
    grad_enabled = grad_mode.is_grad_enabled()
    plain = not dual.active_levels
    shared = isinstance(scalars, tuple)
    cast_for = {}  # dtype -> the shared scalars cast to it (a list holds one or two dtypes)
    token = fp_errors.enter(fp_errors.IGNORE_ALL)  # numpy's warnings: in-place ops never raise them
    try:
        rows = zip(*operand_lists) if operand_lists else itertools.repeat(())
        for i, (target, operands) in enumerate(zip(tensors, rows)):
            args = scalars if shared else scalars[i]
            flats = _flat_views(target, operands) if plain and not (
                grad_enabled and _requires_grad(target, operands)) else None
            if flats is None:
                single(target, *operands, *args)
                continue
            dtype = flats[0].dtype
            cast = cast_for.get(dtype) if shared else None
            if cast is None:
                cast = inplace.kernel_scalars(dtype.type, args)
                if shared:
                    cast_for[dtype] = cast
            direct(*flats, *cast)
            if tracing.recorder is not None:
                tracing.record(inplace.OnFlatViews(direct, cast), (target, *operands))
            target._version[0] += 1
    finally:
        fp_errors.leave(token)


def _requires_grad(target, operands):
    return getattr(target, "requires_grad", False) or any(getattr(o, "requires_grad", False) for o in operands)


def _ufunc(ufunc):
    """``x ← ufunc(x, *rest)`` on flat arrays (a tensor operand or a dtype scalar)."""
    def direct(x, *rest):
        ufunc(x, *rest, out=x)
    direct.__name__ = f"{ufunc.__name__}_"
    return direct


def _binary_(op, tensors, others, ufunc, single):
    """An in-place binary foreach op whose ``others`` are tensors, a number or numbers."""
    count = _length(op, tensors)
    operands = _tensor_list(op, others, count, "operand")
    if operands is not None:
        _each(tensors, [operands], (), _ufunc(ufunc), single)
    else:
        _each(tensors, [], _scalar_args(op, others, count, "scalar"), _ufunc(ufunc), single)


# --------------------------------------------------------------------------------------- in place
def foreach_add_(tensors, others, alpha=1):
    """``t ← t + alpha·o`` for each tensor (``others``: tensors, a number or numbers; ``alpha`` only with
    tensors). With tensors it is an axpy: numpy's BLAS for large ones, one Numba loop for small."""
    op = "foreach_add_"
    count = _length(op, tensors)
    operands = _tensor_list(op, others, count, "operand")
    if operands is None:
        if alpha != 1:
            raise TypeError(f"{op}: alpha goes with a list of tensors, not with scalars")
        _binary_(op, tensors, others, np.add, inplace.add_)
        return
    _each(tensors, [operands], _scalar_args(op, alpha, count, "alpha"), kernels.updates.axpy_,
          lambda t, o, a: inplace.add_(t, o, alpha=a))


def foreach_mul_(tensors, others):
    """``t ← t·o`` for each tensor (``others``: tensors, a number or numbers)."""
    _binary_("foreach_mul_", tensors, others, np.multiply, inplace.mul_)


def foreach_div_(tensors, others):
    """``t ← t / o`` for each tensor (``others``: tensors, a number or numbers)."""
    _binary_("foreach_div_", tensors, others, np.true_divide, inplace.div_)


def foreach_maximum_(tensors, others):
    """``t ← max(t, o)`` elementwise for each tensor (``others``: tensors); NaN propagates."""
    op = "foreach_maximum_"
    count = _length(op, tensors)
    operands = _tensor_list(op, others, count, "operand")
    if operands is None:
        raise TypeError(f"{op}: others must be a list of tensors, one per tensor")
    _each(tensors, [operands], (), _ufunc(np.maximum),
          lambda t, o: inplace.apply_inplace(t, op, arithmetic.maximum, o))


def _sqrt_in_place(x):
    kernels.updates.sqrt(x, x)


def foreach_sqrt_(tensors):
    """``t ← √t`` for each tensor (one Numba pass: numpy's float32 square root is slower)."""
    op = "foreach_sqrt_"
    _length(op, tensors)
    _each(tensors, [], (), _sqrt_in_place, lambda t: inplace.apply_inplace(t, op, unary.sqrt))


def foreach_lerp_(tensors, ends, weight):
    """``t ← t + weight·(e − t)`` for each tensor (``weight`` a number or one per tensor), in PyTorch's
    two-sided form, exact at weights 0 and 1."""
    op = "foreach_lerp_"
    count = _length(op, tensors)
    ends = _tensor_list(op, ends, count, "end")
    if ends is None:
        raise TypeError(f"{op}: ends must be a list of tensors, one per tensor")
    _each(tensors, [ends], _scalar_args(op, weight, count, "weight"), kernels.updates.lerp_, inplace.lerp_)


def _pointwise_(op, tensors, tensors1, tensors2, value, kernel, single):
    count = _length(op, tensors)
    first = _tensor_list(op, tensors1, count, "tensor1")
    second = _tensor_list(op, tensors2, count, "tensor2")
    if first is None or second is None:
        raise TypeError(f"{op}: tensors1 and tensors2 must be lists of tensors, one per tensor")
    _each(tensors, [first, second], _scalar_args(op, value, count, "value"), kernel,
          lambda t, a, b, v: single(t, a, b, value=v))


def foreach_addcmul_(tensors, tensors1, tensors2, value=1):
    """``t ← t + value·a·b`` for each tensor (``value`` a number or one per tensor), in one pass."""
    _pointwise_("foreach_addcmul_", tensors, tensors1, tensors2, value, kernels.updates.addcmul_,
                inplace.addcmul_)


def foreach_addcdiv_(tensors, tensors1, tensors2, value=1):
    """``t ← t + value·a / b`` for each tensor (``value`` a number or one per tensor), in one pass."""
    _pointwise_("foreach_addcdiv_", tensors, tensors1, tensors2, value, kernels.updates.addcdiv_,
                inplace.addcdiv_)


# ----------------------------------------------------------------------------------- out of place
def _map(op, tensors, function, others=None, name="operand"):
    count = _length(op, tensors)
    if others is None:
        return [function(t) for t in tensors]
    operands = _tensor_list(op, others, count, name)
    if operands is None:
        operands = _scalar_list(op, others, count, "scalar")
    return [function(t, o) for t, o in zip(tensors, operands)]


def foreach_add(tensors, others, alpha=1):
    """``[t + alpha·o]`` (``others``: tensors, a number or numbers), as ``autograd.add`` computes each."""
    return _map("foreach_add", tensors, lambda t, o: arithmetic.add(t, o, alpha=alpha), others)


def foreach_mul(tensors, others):
    """``[t·o]`` (``others``: tensors, a number or numbers)."""
    return _map("foreach_mul", tensors, arithmetic.mul, others)


def foreach_div(tensors, others):
    """``[t / o]`` (``others``: tensors, a number or numbers)."""
    return _map("foreach_div", tensors, arithmetic.div, others)


def foreach_neg(tensors):
    """``[−t]``."""
    return _map("foreach_neg", tensors, arithmetic.neg)


def _sqrt_of(x):
    out = np.empty_like(x)
    kernels.updates.sqrt(x.reshape(-1), out.reshape(-1))
    return out


def foreach_sqrt(tensors):
    """``[√t]``, through the kernel of :func:`foreach_sqrt_` outside recording."""
    _length("foreach_sqrt", tensors)
    grad_enabled = grad_mode.is_grad_enabled()
    results = []
    for t in tensors:
        if dual.active_levels or (grad_enabled and getattr(t, "requires_grad", False)) \
                or _flat_views(t, ()) is None:
            results.append(unary.sqrt(t))
            continue
        out = np.empty_like(t._data)
        kernels.updates.sqrt(t._data.reshape(-1), out.reshape(-1))
        tracing.record(_sqrt_of, (t,), out)
        results.append(make_tensor(out, False, None, None))
    return results
