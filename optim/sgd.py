"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay.

PyTorch's rule (``ema_momentum=False``), with ``g`` the gradient (plus ``weight_decay·w``)::

    v ← g                         on the first step
    v ← μ·v + (1 − dampening)·g    afterwards
    w ← w − lr·(g + μ·v)           (nesterov)   or   w ← w − lr·v

The course's momentum (revision notes, ``ema_momentum=True``) is the moving average started from 0::

    v ← β·v + (1 − β)·g ,   w ← w − lr·v       (so Δw = β·Δw_prev − (1 − β)·lr·g)

Both are sums of past gradients discounted by powers of μ (β): PyTorch's v_t = Σ μ^{t−i} g_i, the
course's v_t = (1 − β) Σ β^{t−i} g_i, which is PyTorch's scaled by (1 − β).

Nesterov: with velocity u = −lr·v this is the course's reformulated update (notes 002)
``u ← μ·u − lr·g(θ̃),  θ̃ ← θ̃ + u + μ·(u − u_prev)``, where θ̃ = θ + μ·u is the look-ahead point at
which the gradient is taken; it equals Nesterov's look-ahead form without a second gradient evaluation.
"""
import autograd as ag

from .optimizer import Optimizer, check_lr, check_nonnegative, check_unit_interval, _number


class SGD(Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, *,
                 maximize=False, ema_momentum=False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, ema_momentum=ema_momentum)
        super().__init__(params, defaults)

    def _check_group(self, group):
        check_lr(group["lr"])
        check_nonnegative(group["momentum"], "momentum")
        check_nonnegative(group["weight_decay"], "weight_decay")
        _number(group["dampening"], "dampening")
        if group["ema_momentum"]:
            check_unit_interval(group["momentum"], "momentum (ema_momentum=True: the moving-average β)")
            if group["dampening"] != 0:
                raise ValueError("SGD: ema_momentum=True already damps by (1 - momentum); leave dampening=0")
            if group["nesterov"]:
                raise ValueError("SGD: nesterov=True is PyTorch's momentum form; use it with "
                                 "ema_momentum=False")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _update_group(self, group, params, grads, states):
        # One foreach call for the whole group (autograd.sgd_steps_): the per-tensor Python cost of a
        # step over many small parameters would otherwise rival the update itself.
        momentum = group["momentum"]
        buffers = first_steps = None
        if momentum != 0:
            buffers, first_steps = [], []
            for param, state in zip(params, states):
                buf = state.get("momentum_buffer")
                first_steps.append(buf is None and not group["ema_momentum"])  # PyTorch starts at g, the course at 0
                if buf is None:
                    buf = state["momentum_buffer"] = ag.zeros_like(param)
                buffers.append(buf)
        dampening = momentum if group["ema_momentum"] else group["dampening"]
        ag.sgd_steps_(params, grads, buffers, lr=group["lr"], momentum=momentum, dampening=dampening,
                      nesterov=group["nesterov"], weight_decay=group["weight_decay"],
                      maximize=group["maximize"], first_steps=first_steps)
