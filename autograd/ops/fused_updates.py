"""Fused optimizer steps: ``fused_sgd_`` and ``fused_adam_``, one kernel pass per parameter tensor.

PyTorch's ``fused=True`` (``torch._fused_sgd_``, ``torch._fused_adam_``): the whole update rule of an
optimizer over a list of parameters, where the foreach form (``autograd.foreach_*``, one kernel per
operation) reads and writes each tensor several times. The kernels (``autograd.kernels.updates``)
compute the same operations in the same order as the foreach form of ``optim.SGD`` and ``optim.Adam``,
with every scalar cast to the tensors' dtype, so the two forms agree to rounding (to the bit where the
foreach form's axpy does not go through BLAS). Every tensor must be a C-contiguous floating array of
its parameter's shape and dtype (:func:`fusable` says whether a group qualifies); the update happens
outside the graph and bumps each parameter's version.
"""
import numpy as np

from .. import kernels
from ..tensor import Tensor

_EMPTY = {}  # dtype -> a 0-element array: "no momentum buffer" / "no amsgrad maximum" for the kernels


def _empty(dtype):
    array = _EMPTY.get(dtype)
    if array is None:
        array = _EMPTY[dtype] = np.empty(0, dtype)
    return array


def fusable(*tensor_lists):
    """Whether every tensor of the lists (one list per role, aligned) can be updated by the fused
    kernels: floating, C-contiguous, writeable, of the first list's shapes and dtypes."""
    for row in zip(*tensor_lists):
        first = row[0]._data
        if first.dtype.kind != "f" or not first.flags.carray:
            return False
        for t in row[1:]:
            data = t._data
            if data.shape != first.shape or data.dtype != first.dtype or not data.flags.carray:
                return False
    return True


def fused_update_possible(params, grads, required=None):
    """Whether the fused kernels can update ``params`` with ``grads``; with ``required=True`` (the user
    asked for ``fused=True``) a group they cannot update raises instead, naming why."""
    if fusable(params, grads):
        return True
    if required:
        raise RuntimeError("fused=True: every parameter and gradient must be a C-contiguous floating tensor "
                           "of one shape and dtype (use fused=None for the foreach form)")
    return False


def _flat(tensor):
    data = tensor._data
    return data if data.ndim == 1 else data.reshape(-1)


def fused_sgd_(params, grads, momentum_buffers, *, lr, weight_decay=0.0, momentum=0.0, dampening=0.0,
               nesterov=False, maximize=False, first_steps=None):
    """SGD's step over ``params`` in place (``optim.SGD``'s rule): ``momentum_buffers`` is a list of
    buffers (or None without momentum); ``first_steps[i]`` says buffer i was just made from nothing
    (PyTorch starts it at the first gradient: v ← g)."""
    _check_lists("fused_sgd_", params, grads, momentum_buffers)
    scalars = _Scalars((-lr, weight_decay, momentum, 1 - dampening))
    nesterov, maximize = bool(nesterov), bool(maximize)
    plain = momentum_buffers is None and weight_decay == 0 and not maximize
    for i, (p, g) in enumerate(zip(params, grads)):
        data = p._data
        if plain:  # p ← p − lr·g is an axpy: the foreach form's own kernel (BLAS for large tensors)
            kernels.updates.axpy_(_flat(p), _flat(g), scalars.of(data.dtype)[0])
            p._version[0] += 1
            continue
        buf = _flat(momentum_buffers[i]) if momentum_buffers is not None else _empty(data.dtype)
        first = bool(first_steps[i]) if first_steps is not None else False
        cast = scalars.of(data.dtype)
        _run(kernels.updates.sgd_step_, (_flat(p), _flat(g), buf), (*cast, nesterov, maximize, first),
             kernels.elementwise.PARALLEL_MIN_MEMORY)
        p._version[0] += 1
        if momentum_buffers is not None:
            momentum_buffers[i]._version[0] += 1


class _Scalars:
    """Python numbers cast to each dtype met (the kernels' argument types), once per call."""

    def __init__(self, values):
        self.values, self.cast = values, {}

    def of(self, dtype):
        cast = self.cast.get(dtype)
        if cast is None:
            cast = self.cast[dtype] = [dtype.type(v) for v in self.values]
        return cast


def fused_adam_(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, *, lr, beta1, beta2, eps,
                weight_decay=0.0, decoupled_weight_decay=False, maximize=False, eps_inside_sqrt=False):
    """Adam's (or AdamW's) step over ``params`` in place (``optim.Adam``'s rule); ``steps[i]`` is the
    number t of this step for parameter i (from 1), ``max_exp_avg_sqs`` the amsgrad maxima or None."""
    _check_lists("fused_adam_", params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs)
    decay = 1 - lr * weight_decay if decoupled_weight_decay else weight_decay
    flags = (weight_decay != 0, bool(decoupled_weight_decay), bool(maximize), bool(eps_inside_sqrt))
    scalars = {}  # (dtype, t) -> the kernel's scalar arguments (parameters mostly share both)
    for i, (p, g, m, v) in enumerate(zip(params, grads, exp_avgs, exp_avg_sqs)):
        dtype = p._data.dtype.type
        cast = scalars.get((dtype, steps[i]))
        if cast is None:
            correction1, correction2 = 1 - beta1 ** steps[i], 1 - beta2 ** steps[i]
            cast = scalars[dtype, steps[i]] = (
                dtype(-lr / correction1), dtype(1 - beta1), dtype(beta2), dtype(1 - beta2), dtype(eps),
                dtype(correction2 ** 0.5), dtype(correction2), dtype(decay), *flags)
        v_max = _flat(max_exp_avg_sqs[i]) if max_exp_avg_sqs is not None else _empty(p._data.dtype)
        _run(kernels.updates.adam_step_, (_flat(p), _flat(g), _flat(m), _flat(v), v_max), cast,
             kernels.elementwise.PARALLEL_MIN_MATH)
        for t in (p, m, v):
            t._version[0] += 1


def _run(kernel, arrays, scalars, parallel_min):
    """``kernel(*arrays, *scalars)``; from ``parallel_min`` elements over two threads (``kernels.threads``:
    each element is updated on its own, so any split gives the same bits). An empty last array (no
    buffer) is passed whole to every chunk."""
    if arrays[0].size < parallel_min:
        kernel(*arrays, *scalars)
    elif arrays[-1].size == 0:
        kernels.threads.run_elementwise(lambda *chunks: kernel(*chunks, arrays[-1], *scalars), arrays[:-1],
                                        parallel_min)
    else:
        kernels.threads.run_elementwise(lambda *chunks: kernel(*chunks, *scalars), arrays, parallel_min)


def _check_lists(op, params, *others):
    lists = [params]
    for values in others:
        if values is None:
            continue
        if not isinstance(values, (list, tuple)) or len(values) != len(params):
            raise ValueError(f"{op}: expected one tensor per parameter ({len(params)}), got "
                             f"{len(values) if isinstance(values, (list, tuple)) else type(values).__name__}")
        lists.append(values)
    for row in zip(*lists):
        if not all(isinstance(t, Tensor) for t in row):
            raise TypeError(f"{op}: expected Tensors, got {[type(t).__name__ for t in row]}")
    if not fusable(*lists):
        raise ValueError(f"{op}: every tensor must be a C-contiguous floating tensor of its parameter's "
                         f"shape and dtype")
