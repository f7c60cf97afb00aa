"""In-place ops: ``add_ sub_ mul_ div_ pow_ clamp_ fill_ zero_ copy_``, ``x[key] = v`` and ``+= -= *= /=``.

Outside the graph (``no_grad``, or nothing requires grad: an optimizer step) they write straight into
the tensor's memory. While recording, the out-of-place op is recorded on a snapshot of the old value
and the tensor takes over its result and ``grad_fn``, as PyTorch rebases history. Either way the
tensor's version counter goes up, which is how backward detects that a saved tensor was modified.
"""
import numpy as np

from .. import forward_ad, fp_errors, grad_mode
from .. import kernels
from ..tensor import Tensor, make_tensor
from . import arithmetic
from .arithmetic import add, clamp, div, mul, pow, sub


def _recording(target, others):
    """Whether the op must go through its out-of-place form: it records, or (forward AD) it moves a
    tangent, which the out-of-place ops compute."""
    return grad_mode.is_grad_enabled() and (
        target.requires_grad or any(isinstance(o, Tensor) and o.requires_grad for o in others)) or (
        forward_ad.active_levels and _has_tangents(target, others))


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
        grad_enabled = grad_mode.is_grad_enabled()  # (False: here only for forward-AD tangents)
        if grad_enabled:
            _check_target(target, op)
        snapshot = make_tensor(target._data.copy(), target.requires_grad, target.grad_fn, None)
        snapshot._fw_tangents = target._fw_tangents
        result = compute(snapshot, *others)
        _store(target, result._data, op)
        if grad_enabled:
            target.grad_fn = result.grad_fn
            target.requires_grad = result.requires_grad
        forward_ad.take_tangents(target, result)
        return target
    with grad_mode.no_grad():
        result = compute(target, *others)
    _store(target, result._data, op)
    forward_ad.take_tangents(target, result)
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
    self._version[0] += 1
    return self


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


# ---------------------------------------------------------------------------------------------------
# Fused in-place updates (the optimizers' building blocks). Outside the graph each is one Numba pass
# over memory (autograd/kernels/updates.py) where the operands are same-shape, same-dtype float arrays; other
# cases, and recording, go through the out-of-place ops like the ops above.
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


def _cast(dtype, scalars):
    """``scalars`` with the floats as ``dtype`` scalars (the kernels' argument types), cached: numpy
    scalars cost ~0.3 us each to make, and an optimizer passes the same few values every step."""
    key = (dtype, *scalars)
    cast = _cast_scalars.get(key)
    if cast is None:
        if len(_cast_scalars) > 1024:
            _cast_scalars.clear()
        cast = _cast_scalars[key] = [dtype(s) if isinstance(s, float) else s for s in scalars]
    return cast


def _run_fused(kernel, arrays, written, scalars):
    """``kernel(*flat arrays, *scalars)``, scalars cast to the arrays' dtype; bump written versions.

    ``arrays`` are Tensors in the kernel's order (one may appear twice); ``written`` those it modifies.
    """
    scalars = _cast(arrays[0]._data.dtype.type, scalars)
    datas = [t._data for t in arrays]
    if all([d.flags.c_contiguous for d in datas]):  # the optimizers' case: flat views, nothing to copy back
        kernel(*[d.reshape(-1) for d in datas], *scalars)
        copies = None
    else:
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


def _check_update(op, tensors, names):
    shape = tensors[0].shape if isinstance(tensors[0], Tensor) else None
    for tensor, name in zip(tensors, names):
        if not isinstance(tensor, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(tensor).__name__}")
        data = tensor._data
        if data.shape != shape:
            raise ValueError(f"{op}: {name} has shape {tensor.shape}, but param has shape {tensors[0].shape}")
        if data.dtype.kind != "f":
            raise TypeError(f"{op}: {name} must be a floating-point tensor, got {tensor.dtype}")
        if tensor.requires_grad and grad_mode.is_grad_enabled():
            raise RuntimeError(f"{op}: an optimizer update is not differentiable; run it under "
                               f"autograd.no_grad() (Optimizer.step does)")


def _as_dtype_of(tensor, like):
    return tensor if tensor.dtype == like.dtype else make_tensor(tensor._data.astype(like.dtype), False, None, None)


def sgd_step_(param, grad, momentum_buffer=None, *, lr, momentum=0.0, dampening=0.0, nesterov=False,
              weight_decay=0.0, maximize=False, first_step=False):
    """One SGD update of ``param`` in place, in one pass, exactly PyTorch's single-tensor SGD:

    ``g = ±grad + weight_decay·param``; with momentum ``buf = g`` on the first step (``first_step``),
    else ``buf = momentum·buf + (1 − dampening)·g``; ``d = g + momentum·buf`` (nesterov) or ``buf``;
    ``param -= lr·d``. ``momentum_buffer`` is updated in place (needed when ``momentum != 0``).
    """
    use_momentum = momentum != 0
    if use_momentum and momentum_buffer is None:
        raise ValueError("sgd_step_: momentum != 0 needs a momentum_buffer tensor")
    tensors = [param, grad] + ([momentum_buffer] if use_momentum else [])
    _check_update("sgd_step_", tensors, ["param", "grad", "momentum_buffer"])
    if not param._data.flags.writeable:
        _store(param, param._data, "sgd_step_")
    grad = _as_dtype_of(grad, param)
    buf = momentum_buffer if use_momentum else param  # not touched by the kernel without momentum
    _run_fused(kernels.updates.sgd_step_, [param, grad, buf], [param, buf],
               [-float(lr), float(momentum), 1.0 - float(dampening), float(weight_decay),
                -1.0 if maximize else 1.0, bool(use_momentum), bool(first_step), bool(nesterov)])
    return param


def _plain_flats(tensors, recording):
    """Flat views of ``tensors``' arrays when a foreach update can run its kernel on them directly:
    Tensors of one float dtype and shape, C-contiguous and writeable, none requiring grad while
    recording. None otherwise (the single-tensor op then checks them and says what is wrong)."""
    first = tensors[0]
    if not isinstance(first, Tensor) or first._data.dtype.kind != "f":
        return None
    dtype, shape = first._data.dtype, first._data.shape
    flats = []
    for tensor in tensors:
        if not isinstance(tensor, Tensor) or (recording and tensor.requires_grad):
            return None
        data = tensor._data
        flags = data.flags
        if data.dtype != dtype or data.shape != shape or not (flags.c_contiguous and flags.writeable):
            return None
        flats.append(data if data.ndim == 1 else data.reshape(-1))
    return flats


def _plain_pair(param, grad):
    """:func:`_plain_flats` for a parameter and its gradient outside recording (plain SGD's usual
    case), written for two: (param's flat view, grad's flat view) or None."""
    if not isinstance(param, Tensor) or not isinstance(grad, Tensor):
        return None
    p, g = param._data, grad._data
    if (p.dtype is not g.dtype or p.dtype.kind != "f" or p.shape != g.shape or not p.flags.carray
            or not g.flags.carray):  # carray: C-contiguous, aligned and writeable
        return None
    return (p, g) if p.ndim == 1 else (p.reshape(-1), g.reshape(-1))


def sgd_steps_(params, grads, momentum_buffers=None, *, lr, momentum=0.0, dampening=0.0, nesterov=False,
               weight_decay=0.0, maximize=False, first_steps=None):
    """:func:`sgd_step_` over lists of tensors (PyTorch's ``foreach`` form), with the same arguments;
    ``first_steps[i]`` is ``first_step`` for ``params[i]`` (all False when None).

    The hyperparameters are converted once per dtype and each ordinary tensor (contiguous, writeable,
    same dtype and shape as its gradient) costs one kernel call: an optimizer step over many small
    tensors spends its time updating them rather than checking arguments. Other tensors go through
    :func:`sgd_step_` and get its checks and messages.
    """
    count = len(params)
    use_momentum = momentum != 0
    if len(grads) != count or (use_momentum and (momentum_buffers is None or len(momentum_buffers) != count)):
        raise ValueError(f"sgd_steps_: expected one gradient{' and one momentum buffer' if use_momentum else ''} "
                         f"per parameter, got {count} parameters, {len(grads)} gradients"
                         + (f" and {len(momentum_buffers or ())} momentum buffers" if use_momentum else ""))
    if first_steps is None:
        first_steps = [False] * count
    # Plain SGD (p += -lr·g) is an axpy: 3 arguments to dispatch instead of 11 (0.65 -> 0.23 us a call),
    # a loop without branches, and numpy's multithreaded BLAS for large tensors. The sign is ±1, so
    # (−lr·sign)·g = −lr·(sign·g); BLAS may fuse the multiply-add (one rounding instead of two).
    plain = not use_momentum and weight_decay == 0
    kernel = kernels.updates.axpy_ if plain else kernels.updates.sgd_step_
    settings = ((-float(lr) * (-1.0 if maximize else 1.0),) if plain else
                (-float(lr), float(momentum), 1.0 - float(dampening), float(weight_decay), -1.0 if maximize else 1.0))
    recording = grad_mode.is_grad_enabled()
    dtype = scalars = None
    for i in range(count):
        param, grad = params[i], grads[i]
        buf = momentum_buffers[i] if use_momentum else None
        if plain and not recording:
            flats = _plain_pair(param, grad)
        else:
            flats = _plain_flats((param, grad, buf) if use_momentum else (param, grad), recording)
        if flats is None:
            sgd_step_(param, grad, buf, lr=lr, momentum=momentum,
                      dampening=dampening, nesterov=nesterov, weight_decay=weight_decay, maximize=maximize,
                      first_step=first_steps[i])
            continue
        if flats[0].dtype is not dtype:  # the scalars' type follows the tensors' (one lookup per dtype run)
            dtype = flats[0].dtype
            scalars = _cast(dtype.type, settings)
        if plain:
            kernel(flats[0], flats[1], scalars[0])
        else:  # without momentum the kernel's buffer argument is the parameter (it does not touch it)
            kernel(flats[0], flats[1], flats[2] if use_momentum else flats[0], *scalars, use_momentum,
                   bool(first_steps[i]), bool(nesterov))
        param._version[0] += 1
        if use_momentum:
            buf._version[0] += 1


def adam_step_(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq=None, *, step, lr, beta1, beta2, eps,
               weight_decay=0.0, decoupled_weight_decay=False, amsgrad=False, maximize=False,
               eps_inside_sqrt=False):
    """One Adam/AdamW update of ``param`` in place, in one pass over memory (``step`` counts from 1).

    PyTorch's single-tensor Adam: ``param *= 1 − lr·wd`` (decoupled, AdamW) or ``g += wd·param``;
    ``m = lerp(m, g, 1 − β1)``; ``v = β2·v + (1 − β2)·g²``; ``v̂max = max(v̂max, v)`` (amsgrad);
    ``param -= lr/(1 − β1^t) · m / (sqrt(v)/sqrt(1 − β2^t) + eps)``. With ``eps_inside_sqrt`` the
    denominator is the course's ``sqrt(v/(1 − β2^t) + eps)``.
    """
    if amsgrad and max_exp_avg_sq is None:
        raise ValueError("adam_step_: amsgrad=True needs a max_exp_avg_sq tensor")
    if step < 1:
        raise ValueError(f"adam_step_: step counts from 1, got {step}")
    tensors = [param, grad, exp_avg, exp_avg_sq] + ([max_exp_avg_sq] if amsgrad else [])
    _check_update("adam_step_", tensors, ["param", "grad", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"])
    if not param._data.flags.writeable:
        _store(param, param._data, "adam_step_")
    grad = _as_dtype_of(grad, param)
    vmax = max_exp_avg_sq if amsgrad else exp_avg_sq  # not touched by the kernel without amsgrad
    _run_fused(kernels.updates.adam_step_, [param, grad, exp_avg, exp_avg_sq, vmax],
               [param, exp_avg, exp_avg_sq, vmax],
               _adam_scalars(step, lr, beta1, beta2, eps, weight_decay, decoupled_weight_decay, amsgrad,
                             maximize, eps_inside_sqrt))
    return param


def _adam_scalars(step, lr, beta1, beta2, eps, weight_decay, decoupled_weight_decay, amsgrad, maximize,
                  eps_inside_sqrt):
    """The Adam kernel's scalar arguments for one step count."""
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    decay = 1.0 - lr * weight_decay if decoupled_weight_decay else 1.0
    coupled_decay = 0.0 if decoupled_weight_decay else float(weight_decay)
    return [float(decay), coupled_decay, float(1 - beta1), float(beta2), float(1 - beta2),
            -float(lr / bias_correction1), float(bias_correction2 ** 0.5), float(bias_correction2),
            float(eps), -1.0 if maximize else 1.0, bool(amsgrad), bool(eps_inside_sqrt)]


def adam_steps_(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs=None, *, steps, lr, beta1, beta2, eps,
                weight_decay=0.0, decoupled_weight_decay=False, amsgrad=False, maximize=False,
                eps_inside_sqrt=False):
    """:func:`adam_step_` over lists of tensors (PyTorch's ``foreach`` form), with the same arguments;
    ``steps[i]`` is the step count of ``params[i]``. The scalars are computed once per step count and
    dtype, and each ordinary tensor costs one kernel call; other tensors go through :func:`adam_step_`
    and get its checks and messages."""
    count = len(params)
    lists = [grads, exp_avgs, exp_avg_sqs, steps] + ([max_exp_avg_sqs] if amsgrad else [])
    if max_exp_avg_sqs is None and amsgrad or any(len(x) != count for x in lists):
        raise ValueError(f"adam_steps_: expected one gradient, exp_avg, exp_avg_sq, step"
                         f"{' and max_exp_avg_sq' if amsgrad else ''} per parameter, got {count} parameters "
                         f"and lists of {', '.join(str(len(x)) for x in lists if x is not None)}")
    kernel = kernels.updates.adam_step_
    recording = grad_mode.is_grad_enabled()
    scalars_of_step = {}
    for i in range(count):
        param, grad, m, v, step = params[i], grads[i], exp_avgs[i], exp_avg_sqs[i], steps[i]
        vmax = max_exp_avg_sqs[i] if amsgrad else v  # not touched by the kernel without amsgrad
        flats = _plain_flats((param, grad, m, v, vmax), recording) if step >= 1 else None
        if flats is None:
            adam_step_(param, grad, m, v, max_exp_avg_sqs[i] if amsgrad else None, step=step, lr=lr, beta1=beta1,
                       beta2=beta2, eps=eps, weight_decay=weight_decay,
                       decoupled_weight_decay=decoupled_weight_decay, amsgrad=amsgrad, maximize=maximize,
                       eps_inside_sqrt=eps_inside_sqrt)
            continue
        scalars = scalars_of_step.get(step)
        if scalars is None:
            scalars = scalars_of_step[step] = _adam_scalars(step, lr, beta1, beta2, eps, weight_decay,
                                                            decoupled_weight_decay, amsgrad, maximize,
                                                            eps_inside_sqrt)
        kernel(*flats, *_cast(flats[0].dtype.type, scalars))
        for t in (param, m, v) if not amsgrad else (param, m, v, vmax):
            t._version[0] += 1
