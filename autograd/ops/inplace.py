"""In-place ops: ``add_ sub_ mul_ div_ pow_ clamp_ fill_ zero_ copy_``, ``x[key] = v`` and ``+= -= *= /=``.

Outside the graph (``no_grad``, or nothing requires grad: an optimizer step) they write straight into
the tensor's memory. While recording, the out-of-place op is recorded on a snapshot of the old value
and the tensor takes over its result and ``grad_fn``, as PyTorch rebases history. Either way the
tensor's version counter goes up, which is how backward detects that a saved tensor was modified.
"""
import numpy as np

from .. import grad_mode
from ..tensor import Tensor, make_tensor


def _recording(target, others):
    return grad_mode._state.grad_enabled and (
        target.requires_grad or any(isinstance(o, Tensor) and o.requires_grad for o in others))


def _check_target(target, op):
    if target.is_leaf and target.requires_grad:
        raise RuntimeError(f"{op}: a leaf Variable that requires grad is being used in an in-place "
                           f"operation. Do it under autograd.no_grad(), or on x.detach()")
    if target.grad_fn is not None and target.grad_fn.function.is_view:
        raise RuntimeError(f"{op}: in-place modification of a view ({target.grad_fn.name()}) of a tensor "
                           f"that requires grad is not supported: its base would get a wrong gradient. "
                           f"Use an out-of-place op instead (x = x + y)")


def _store(target, data, op):
    if data.shape != target.shape:
        raise RuntimeError(f"{op}: output with shape {target.shape} doesn't match the broadcast shape "
                           f"{data.shape}")
    if data.dtype != target.dtype and not np.can_cast(data.dtype, target.dtype, casting="same_kind"):
        raise RuntimeError(f"{op}: result type {data.dtype} can't be cast to the desired output type "
                           f"{target.dtype}")
    if not target._data.flags.writeable:
        raise RuntimeError(f"{op}: the tensor is a read-only expanded view (more than one element refers "
                           f"to the same memory); clone() it first")
    np.copyto(target._data, data, casting="unsafe")
    target._version[0] += 1


def apply_inplace(target, op, compute, *others):
    """Run the out-of-place ``compute(target, *others)`` and make ``target`` hold its result."""
    if _recording(target, others):
        _check_target(target, op)
        snapshot = make_tensor(target._data.copy(), target.requires_grad, target.grad_fn, None)
        result = compute(snapshot, *others)
        _store(target, result._data, op)
        target.grad_fn = result.grad_fn
        target.requires_grad = result.requires_grad
        return target
    with grad_mode.no_grad():
        result = compute(target, *others)
    _store(target, result._data, op)
    return target


def _ufunc_inplace(target, other, ufunc, compute, op):
    if _recording(target, (other,)):
        return apply_inplace(target, op, compute, other)
    if not target._data.flags.writeable:
        _store(target, target._data, op)
    value = other._data if isinstance(other, Tensor) else other
    try:
        with np.errstate(divide="ignore", invalid="ignore"):
            ufunc(target._data, value, out=target._data, casting="same_kind")
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
    from .arithmetic import add, mul
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    return _ufunc_inplace(self, other, np.add, add, "add_")


def sub_(self, other, alpha=1):
    from .arithmetic import mul, sub
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    return _ufunc_inplace(self, other, np.subtract, sub, "sub_")


def mul_(self, other):
    from .arithmetic import mul
    return _ufunc_inplace(self, other, np.multiply, mul, "mul_")


def div_(self, other):
    from .arithmetic import div
    if self.dtype.kind != "f":
        raise RuntimeError(f"div_: result type float can't be cast to the desired output type {self.dtype}")
    return _ufunc_inplace(self, other, np.true_divide, div, "div_")


def pow_(self, exponent):
    from .arithmetic import pow
    return apply_inplace(self, "pow_", pow, exponent)


def clamp_(self, min=None, max=None):
    from .arithmetic import clamp
    return apply_inplace(self, "clamp_", lambda x: clamp(x, min, max))


clip_ = clamp_


def fill_(self, value):
    """Set every element to ``value`` (a number or a 0-d tensor)."""
    from .arithmetic import where
    from ._args import constant
    if _recording(self, (value,)):
        full = lambda x, v: where(constant(np.ones(self.shape, bool), np.bool_), v, x * 0.0)  # noqa: E731
        return apply_inplace(self, "fill_", full, value)
    if not self._data.flags.writeable:
        _store(self, self._data, "fill_")
    self._data[...] = value._data if isinstance(value, Tensor) else value
    self._version[0] += 1
    return self


def zero_(self):
    return fill_(self, 0)


def copy_(self, src):
    """Copy ``src`` (broadcast to this shape) into this tensor's memory; differentiable in ``src``."""
    from ._args import as_tensor
    from .shape import broadcast_to
    src = as_tensor(src)
    return apply_inplace(self, "copy_", lambda x, s: broadcast_to(s.to(x.dtype), x.shape) + x * 0.0
                         if x.dtype.kind == "f" else broadcast_to(s.to(x.dtype), x.shape), src)


def setitem(self, key, value):
    """``self[key] = value``: in place; differentiable in ``value`` and in the rest of ``self``."""
    from .indexing import index_put, normalize_key
    key = normalize_key(key, self.shape)
    if _recording(self, (value,)):
        return apply_inplace(self, "__setitem__", lambda x, v: index_put(x, key, v), value)
    if not self._data.flags.writeable:
        _store(self, self._data, "__setitem__")
    self._data[key] = value._data if isinstance(value, Tensor) else value
    self._version[0] += 1
    return self
