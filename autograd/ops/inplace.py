"""In-place ops: ``add_ sub_ mul_ div_ pow_ clamp_ fill_ zero_ copy_``, ``x[key] = v`` and ``+= -= *= /=``.

Outside the graph (``no_grad``, or nothing requires grad: an optimizer step) they write straight into
the tensor's memory. While recording, the out-of-place op is recorded on a snapshot of the old value
and the tensor takes over its result and ``grad_fn``, as PyTorch rebases history. Either way the
tensor's version counter goes up, which is how backward detects that a saved tensor was modified.
"""
import numpy as np

from .. import dual, fp_errors, grad_mode, tracing
from .. import kernels
from ..tensor import Tensor, make_tensor
from . import arithmetic
from .arithmetic import add, clamp, div, mul, pow, sub


def _recording(target, others):
    """Whether the op must go through its out-of-place form: it records, or (forward AD) it moves a
    tangent, which the out-of-place ops compute."""
    return grad_mode.is_grad_enabled() and (
        target.requires_grad or any(isinstance(o, Tensor) and o.requires_grad for o in others)) or (
        dual.active_levels and _has_tangents(target, others))


def _has_tangents(target, others):
    return target._fw_tangents is not None or any(
        isinstance(o, Tensor) and o._fw_tangents is not None for o in others)


def _check_target(target, op):
    if target.is_leaf and target.requires_grad:
        raise RuntimeError(f"{op}: a leaf Variable that requires grad is being used in an in-place "
                           f"operation. Do it under autograd.no_grad(), or on x.detach()")
    if target.grad_fn is not None and target.grad_fn.function.is_view:
        raise RuntimeError(f"{op}: in-place modification of a view ({target.grad_fn.name()}) of a tensor "
                           f"that requires grad is not supported: its base would get a wrong gradient. "
                           f"Use an out-of-place op instead (x = x + y)")


def _read_only_reason(array):
    """Why an array cannot be written: an expanded view (elements sharing memory), or memory that is
    read-only itself (a buffer numpy may not write, e.g. from np.frombuffer or a read-only file)."""
    if any(stride == 0 and size > 1 for stride, size in zip(array.strides, array.shape)):
        return "the tensor is a read-only expanded view (more than one element refers to the same memory)"
    return "the tensor's memory is read-only"


def _store(target, data, op):
    if data.shape != target.shape:
        raise RuntimeError(f"{op}: output with shape {target.shape} doesn't match the broadcast shape "
                           f"{data.shape}")
    if data.dtype != target.dtype and not np.can_cast(data.dtype, target.dtype, casting="same_kind"):
        raise RuntimeError(f"{op}: result type {data.dtype} can't be cast to the desired output type "
                           f"{target.dtype}")
    if not target._data.flags.writeable:
        raise RuntimeError(f"{op}: {_read_only_reason(target._data)}; clone() it first")
    np.copyto(target._data, data, casting="unsafe")
    tracing.record(copy_into, (target, data))
    target._version[0] += 1


def copy_into(target, source):
    """``target[...] = source`` (broadcast, cast as needed): what a replay does for a recorded copy."""
    np.copyto(target, source, casting="unsafe")


class _UfuncInto:
    """``ufunc(target, value, out=target)``: an in-place arithmetic op on arrays."""

    def __init__(self, ufunc):
        self.ufunc, self.label = ufunc, f"{ufunc.__name__}_"

    def __call__(self, target, value):
        self.ufunc(target, value, out=target, casting="same_kind")


def apply_inplace(target, op, compute, *others):
    """Run the out-of-place ``compute(target, *others)`` and make ``target`` hold its result."""
    if _recording(target, others):
        grad_enabled = grad_mode.is_grad_enabled()  # (False: here only for forward-AD tangents)
        if grad_enabled:
            _check_target(target, op)
        snapshot = make_tensor(tracing.computed(np.copy, target._data), target.requires_grad, target.grad_fn, None)
        snapshot._fw_tangents = target._fw_tangents
        result = compute(snapshot, *others)
        _store(target, result._data, op)
        if grad_enabled:
            target.grad_fn = result.grad_fn
            target.requires_grad = result.requires_grad
        dual.take_tangents(target, result)
        return target
    with grad_mode.no_grad():
        result = compute(target, *others)
    _store(target, result._data, op)
    dual.take_tangents(target, result)
    return target


def _ufunc_inplace(target, other, ufunc, compute, op):
    if _recording(target, (other,)):
        return apply_inplace(target, op, compute, other)
    if not target._data.flags.writeable:
        _store(target, target._data, op)
    value = other._data if isinstance(other, Tensor) else other
    try:
        with fp_errors.ignored():
            ufunc(target._data, value, out=target._data, casting="same_kind")
            if tracing.recorder is not None:  # (no wrapper to make on the eager path)
                tracing.record(_UfuncInto(ufunc), (target, other))
    except (TypeError, ValueError) as error:  # wrong dtype or shape: say it in PyTorch's terms
        result = np.result_type(target._data, value)
        if not np.can_cast(result, target.dtype, casting="same_kind"):
            raise RuntimeError(f"{op}: result type {result} can't be cast to the desired output type "
                               f"{target.dtype}") from None
        raise RuntimeError(f"{op}: output with shape {target.shape} doesn't match the broadcast shape "
                           f"{np.broadcast_shapes(target.shape, np.shape(value))}: {error}") from None
    target._version[0] += 1
    return target


def add_(self, other, alpha=1):
    if alpha != 1 and not isinstance(alpha, Tensor) and not _recording(self, (other,)) \
            and _fusable(self, other):  # one pass, no temporary for alpha·other
        _run_fused(kernels.updates.axpy_, [self, other], [self], [float(alpha)])
        return self
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    return _ufunc_inplace(self, other, np.add, add, "add_")


def sub_(self, other, alpha=1):
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    return _ufunc_inplace(self, other, np.subtract, sub, "sub_")


def mul_(self, other):
    return _ufunc_inplace(self, other, np.multiply, mul, "mul_")


def div_(self, other):
    if self.dtype.kind != "f":
        raise RuntimeError(f"div_: result type float can't be cast to the desired output type {self.dtype}")
    return _ufunc_inplace(self, other, np.true_divide, div, "div_")


def pow_(self, exponent):
    return apply_inplace(self, "pow_", pow, exponent)


def clamp_(self, min=None, max=None):
    return apply_inplace(self, "clamp_", lambda x: clamp(x, min, max))


clip_ = clamp_


def fill_(self, value):
    """Set every element to ``value`` (a number or a 0-d tensor); differentiable in a tensor ``value``."""
    return copy_(self, value)


def zero_(self):
    return fill_(self, 0)


def _overwrite(x, src):
    """The value of ``x`` after ``x.copy_(src)``: src broadcast to x's shape, as a new node whose gradient
    goes to ``src`` only (the old value of ``x`` is gone, so it gets none)."""
    from .conversion import clone
    from .shape import broadcast_to
    return clone(broadcast_to(src.to(x.dtype), x.shape))


def copy_(self, src):
    """Copy ``src`` (broadcast to this shape) into this tensor's memory; differentiable in ``src``."""
    from ._args import as_tensor
    src = as_tensor(src, self.dtype if not isinstance(src, Tensor) else None)
    if _recording(self, (src,)):
        return apply_inplace(self, "copy_", _overwrite, src)
    if not self._data.flags.writeable:
        _store(self, self._data, "copy_")
    try:
        np.copyto(self._data, np.broadcast_to(src._data, self.shape), casting="unsafe")
    except ValueError:
        raise RuntimeError(f"copy_: the source of shape {src.shape} cannot be broadcast to the tensor's "
                           f"shape {self.shape}") from None
    tracing.record(copy_into, (self, src))
    self._version[0] += 1
    return self


class _SetItem:
    """``target[key] = value`` on arrays."""

    label = "setitem"

    def __init__(self, key):
        self.key = key

    def __call__(self, target, value):
        target[self.key] = value


def setitem(self, key, value):
    """``self[key] = value``: in place; differentiable in ``value`` and in the rest of ``self``."""
    from .indexing import index_put, normalize_key
    key = normalize_key(key, self.shape)
    if _recording(self, (value,)):
        return apply_inplace(self, "__setitem__", lambda x, v: index_put(x, key, v), value)
    if not self._data.flags.writeable:
        _store(self, self._data, "__setitem__")
    self._data[key] = value._data if isinstance(value, Tensor) else value
    if tracing.recorder is not None:
        tracing.record(_SetItem(key), (self, value))
    self._version[0] += 1
    return self


# ---------------------------------------------------------------------------------------------------
# Fused in-place updates (the optimizers' building blocks, over lists in autograd/ops/foreach.py).
# Outside the graph each is one Numba pass over memory (autograd/kernels/updates.py) where the
# operands are same-shape, same-dtype float arrays; other cases, and recording, go through the
# out-of-place ops like the ops above.
# ---------------------------------------------------------------------------------------------------
def _flat(array):
    """A 1-D view of ``array``'s memory, or a contiguous copy (then write it back with ``copyto``)."""
    if array.flags.c_contiguous:
        return array.reshape(-1), False
    return np.ascontiguousarray(array).reshape(-1), True


def _fusable(target, *operands):
    data = target._data
    if data.dtype.kind != "f" or not data.flags.writeable:
        return False
    return all(isinstance(o, Tensor) and o._data.shape == data.shape and o._data.dtype == data.dtype
               for o in operands)


_cast_scalars = {}


def kernel_scalars(dtype, scalars):
    """``scalars`` with the floats as ``dtype`` scalars (the kernels' argument types), cached: making a
    numpy scalar costs about as much as a small kernel call, and an optimizer passes the same few
    values every step."""
    key = (dtype, *scalars)
    cast = _cast_scalars.get(key)
    if cast is None:
        if len(_cast_scalars) > 1024:
            _cast_scalars.clear()
        cast = _cast_scalars[key] = [dtype(s) if isinstance(s, float) else s for s in scalars]
    return cast


class OnFlatViews:
    """``kernel(*flat views of the arrays, *scalars)``: an update kernel on C-contiguous arrays, the
    first of which it writes (what a replay does for a recorded fused update)."""

    def __init__(self, kernel, scalars):
        self.kernel, self.scalars = kernel, list(scalars)
        self.label = getattr(kernel, "__name__", "kernel")

    def __call__(self, *arrays):
        self.kernel(*[a.reshape(-1) for a in arrays], *self.scalars)


def _run_fused(kernel, arrays, written, scalars):
    """``kernel(*flat arrays, *scalars)``, scalars cast to the arrays' dtype; bump written versions.

    ``arrays`` are Tensors in the kernel's order (one may appear twice); ``written`` those it modifies.
    """
    scalars = kernel_scalars(arrays[0]._data.dtype.type, scalars)
    datas = [t._data for t in arrays]
    if all([d.flags.c_contiguous for d in datas]):  # the optimizers' case: flat views, nothing to copy back
        kernel(*[d.reshape(-1) for d in datas], *scalars)
        if tracing.recorder is not None:
            tracing.record(OnFlatViews(kernel, scalars), arrays)
        copies = None
    else:
        if tracing.recorder is not None:
            tracing.recorder.refuse(f"{kernel.__name__} on a non-contiguous tensor")
        copies = {}
        for tensor in arrays:
            if id(tensor) not in copies:
                copies[id(tensor)] = _flat(tensor._data)
        kernel(*[copies[id(t)][0] for t in arrays], *scalars)
    for tensor in {id(t): t for t in written}.values():
        if copies is not None:
            flat, copied = copies[id(tensor)]
            if copied:
                np.copyto(tensor._data, flat.reshape(tensor.shape))
        tensor._version[0] += 1


def addcmul_(self, tensor1, tensor2, value=1):
    """``self += value * tensor1 * tensor2`` in place (PyTorch's ``addcmul_``)."""
    if not _recording(self, (tensor1, tensor2)) and _fusable(self, tensor1, tensor2) \
            and not isinstance(value, Tensor):
        _run_fused(kernels.updates.addcmul_, [self, tensor1, tensor2], [self], [float(value)])
        return self
    return apply_inplace(self, "addcmul_",
                         lambda x, a, b: arithmetic.add(x, arithmetic.mul(arithmetic.mul(a, value), b)),
                         tensor1, tensor2)


def addcdiv_(self, tensor1, tensor2, value=1):
    """``self += value * tensor1 / tensor2`` in place (PyTorch's ``addcdiv_``)."""
    if not _recording(self, (tensor1, tensor2)) and _fusable(self, tensor1, tensor2) \
            and not isinstance(value, Tensor):
        _run_fused(kernels.updates.addcdiv_, [self, tensor1, tensor2], [self], [float(value)])
        return self
    return apply_inplace(self, "addcdiv_",
                         lambda x, a, b: arithmetic.add(x, arithmetic.div(arithmetic.mul(a, value), b)),
                         tensor1, tensor2)


def lerp_(self, end, weight):
    """``self += weight * (end - self)`` in place (PyTorch's ``lerp_``; ``weight`` a number or tensor).

    Evaluated as ``end - (end - self)(1 - weight)`` when ``weight >= 0.5``, so weight 1 gives ``end``
    exactly, as in PyTorch.
    """
    if not _recording(self, (end, weight)) and _fusable(self, end) and not isinstance(weight, Tensor):
        _run_fused(kernels.updates.lerp_, [self, end], [self], [float(weight)])
        return self

    def lerp(x, e, w):
        if not isinstance(w, Tensor) and w >= 0.5:
            return arithmetic.sub(e, arithmetic.mul(arithmetic.sub(e, x), 1 - w))
        return arithmetic.add(x, arithmetic.mul(arithmetic.sub(e, x), w))
    return apply_inplace(self, "lerp_", lerp, end, weight)
