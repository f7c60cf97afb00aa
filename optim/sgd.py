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

``foreach`` (PyTorch's switch): the rule runs over the whole group with ``autograd.foreach_*`` ops,
one kernel per tensor (the default, ``None``), or per parameter with ordinary Tensor ops (``False``);
both compute the same operations in the same order, so they give the same bits. ``fused=True`` runs
the whole rule as one kernel pass per tensor (``autograd.fused_sgd_``, PyTorch's ``fused``), again the
same operations in the same order; a compiled training step (``autograd.compile``) replays that form
when ``fused`` and ``foreach`` are left unset.
"""
import autograd as ag

from .optimizer import (Optimizer, check_foreach, check_fused, check_lr, check_nonnegative, check_unit_interval,
                        _number)


class SGD(Optimizer):
    has_fused_form = True

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, *,
                 maximize=False, foreach=None, ema_momentum=False, fused=None):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach, ema_momentum=ema_momentum,
                        fused=fused)
        super().__init__(params, defaults)

    def _check_group(self, group):
        check_lr(group["lr"])
        check_nonnegative(group["momentum"], "momentum")
        check_nonnegative(group["weight_decay"], "weight_decay")
        _number(group["dampening"], "dampening")
        check_foreach(group)
        check_fused(group)
        if group["ema_momentum"]:
            check_unit_interval(group["momentum"], "momentum (ema_momentum=True: the moving-average β)")
            if group["dampening"] != 0:
                raise ValueError("SGD: ema_momentum=True already damps by (1 - momentum); leave dampening=0")
            if group["nesterov"]:
                raise ValueError("SGD: nesterov=True is PyTorch's momentum form; use it with "
                                 "ema_momentum=False")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _update(self, param, grad, state, group):
        """The rule for one parameter (``foreach=False``)."""
        momentum = group["momentum"]
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad.add(param, alpha=group["weight_decay"])
        if momentum != 0:
            buf, first = _momentum_buffer(state, param, grad, group)
            if not first:
                buf.mul_(momentum).add_(grad, alpha=1 - _dampening(group))
            grad = grad.add(buf, alpha=momentum) if group["nesterov"] else buf
        param.add_(grad, alpha=-group["lr"])

    def _update_group(self, group, params, grads, states):
        """The same rule over the whole group, one foreach op per line."""
        if self._fused(group) and ag.fused_update_possible(params, grads, group.get("fused")):
            return self._fused_update_group(group, params, grads, states)
        if group.get("foreach") is False:
            return super()._update_group(group, params, grads, states)
        momentum = group["momentum"]
        if group["maximize"]:
            grads = ag.foreach_neg(grads)
        if group["weight_decay"] != 0:
            grads = ag.foreach_add(grads, params, alpha=group["weight_decay"])
        if momentum != 0:
            bufs, later_bufs, later_grads = [], [], []
            for param, grad, state in zip(params, grads, states):
                buf, first = _momentum_buffer(state, param, grad, group)
                bufs.append(buf)
                if not first:
                    later_bufs.append(buf)
                    later_grads.append(grad)
            ag.foreach_mul_(later_bufs, momentum)
            ag.foreach_add_(later_bufs, later_grads, alpha=1 - _dampening(group))
            grads = ag.foreach_add(grads, bufs, alpha=momentum) if group["nesterov"] else bufs
        ag.foreach_add_(params, grads, alpha=-group["lr"])


    def _fused_update_group(self, group, params, grads, states):
        """The same rule over the whole group, one kernel pass per parameter (``fused=True``)."""
        bufs = firsts = None
        if group["momentum"] != 0:
            bufs, firsts = [], []
            for param, state in zip(params, states):
                buf = state.get("momentum_buffer")
                firsts.append(buf is None and not group["ema_momentum"])  # PyTorch's v starts at g
                if buf is None:
                    state["momentum_buffer"] = buf = ag.zeros_like(param)
                bufs.append(buf)
        ag.fused_sgd_(params, grads, bufs, lr=group["lr"], weight_decay=group["weight_decay"],
                      momentum=group["momentum"], dampening=_dampening(group), nesterov=group["nesterov"],
                      maximize=group["maximize"], first_steps=firsts)


def _dampening(group):
    return group["momentum"] if group["ema_momentum"] else group["dampening"]


def _momentum_buffer(state, param, grad, group):
    """(v, whether it was made now from g): PyTorch's v starts at the first g, the course's at 0."""
    buf = state.get("momentum_buffer")
    if buf is not None:
        return buf, False
    if group["ema_momentum"]:
        state["momentum_buffer"] = buf = ag.zeros_like(param)
        return buf, False
    state["momentum_buffer"] = buf = grad.clone()
    return buf, True
