"""Adam and AdamW: moving averages of the gradient and of its square, with bias correction.

With ``g`` the gradient (plus ``weight_decay·w`` for Adam; AdamW instead shrinks ``w ← w·(1 − lr·wd)``)::

    m ← β1·m + (1 − β1)·g ,   v ← β2·v + (1 − β2)·g²          (both start at 0)
    m̂ = m / (1 − β1^t) ,      v̂ = v / (1 − β2^t)              (bias correction, t = 1, 2, ...)
    w ← w − lr·m̂ / (sqrt(v̂) + eps)                            (PyTorch's)
    w ← w − lr·m̂ / sqrt(v̂ + eps)                              (the course's, eps_inside_sqrt=True)

Bias correction: m and v start at 0, so early averages are biased toward 0 (m_1 = (1 − β1)·g_1);
dividing by (1 − β^t) makes them unbiased when g is stationary, and the factor tends to 1 as t grows.
``amsgrad`` uses the running maximum of v in the denominator (v̂max ← max(v̂max, v)).

``foreach`` (PyTorch's switch): the rule runs over the whole group with ``autograd.foreach_*`` ops,
one kernel per tensor (the default, ``None``), or per parameter with ordinary Tensor ops (``False``);
both compute the same operations in the same order, so they give the same bits. Like PyTorch, the
update is written as ``m ← lerp(m, g, 1 − β1)`` and ``w ← w − (lr / (1 − β1^t))·m / denominator``.
``fused=True`` runs the whole rule as one kernel pass per tensor (``autograd.fused_adam_``, PyTorch's
``fused``), the same operations in the same order; a compiled training step (``autograd.compile``)
replays that form when ``fused`` and ``foreach`` are left unset.
"""
import autograd as ag

from .optimizer import (Optimizer, check_betas, check_foreach, check_fused, check_lr, check_nonnegative,
                        new_step_counter)


class Adam(Optimizer):
    has_fused_form = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, *,
                 foreach=None, maximize=False, decoupled_weight_decay=False, eps_inside_sqrt=False, fused=None):
        defaults = dict(lr=lr, betas=tuple(betas) if isinstance(betas, list) else betas, eps=eps,
                        weight_decay=weight_decay, amsgrad=amsgrad, foreach=foreach, maximize=maximize,
                        decoupled_weight_decay=decoupled_weight_decay, eps_inside_sqrt=eps_inside_sqrt,
                        fused=fused)
        super().__init__(params, defaults)

    def _check_group(self, group):
        check_lr(group["lr"])
        check_betas(group["betas"])
        check_nonnegative(group["eps"], "epsilon")
        check_nonnegative(group["weight_decay"], "weight_decay")
        check_foreach(group)
        check_fused(group)

    def _update(self, param, grad, state, group):
        """The rule for one parameter (``foreach=False``)."""
        lr, (beta1, beta2), eps, weight_decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        step = _count_step(state, param, group)
        if group["maximize"]:
            grad = -grad
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                param.mul_(1 - lr * weight_decay)
            else:
                grad = grad.add(param, alpha=weight_decay)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        second = exp_avg_sq
        if group["amsgrad"]:
            second = state["max_exp_avg_sq"].copy_(ag.maximum(state["max_exp_avg_sq"], exp_avg_sq))
        bias_correction2 = 1 - beta2 ** step
        if group["eps_inside_sqrt"]:
            denom = (second / bias_correction2 + eps).sqrt()
        else:
            denom = (second.sqrt() / bias_correction2 ** 0.5).add_(eps)
        param.addcdiv_(exp_avg, denom, value=-lr / (1 - beta1 ** step))

    def _update_group(self, group, params, grads, states):
        """The same rule over the whole group, one foreach op per line."""
        if self._fused(group) and ag.fused_update_possible(params, grads, group.get("fused")):
            return self._fused_update_group(group, params, grads, states)
        if group.get("foreach") is False:
            return super()._update_group(group, params, grads, states)
        lr, (beta1, beta2), eps, weight_decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        steps = [_count_step(state, param, group) for param, state in zip(params, states)]
        if group["maximize"]:
            grads = ag.foreach_neg(grads)
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                ag.foreach_mul_(params, 1 - lr * weight_decay)
            else:
                grads = ag.foreach_add(grads, params, alpha=weight_decay)
        exp_avgs, exp_avg_sqs = [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states]
        ag.foreach_lerp_(exp_avgs, grads, 1 - beta1)
        ag.foreach_mul_(exp_avg_sqs, beta2)
        ag.foreach_addcmul_(exp_avg_sqs, grads, grads, value=1 - beta2)
        second = exp_avg_sqs
        if group["amsgrad"]:
            second = [s["max_exp_avg_sq"] for s in states]
            ag.foreach_maximum_(second, exp_avg_sqs)
        bias_corrections2 = [1 - beta2 ** step for step in steps]
        if group["eps_inside_sqrt"]:
            denom = ag.foreach_div(second, bias_corrections2)
            ag.foreach_add_(denom, eps)
            ag.foreach_sqrt_(denom)
        else:
            denom = ag.foreach_sqrt(second)
            ag.foreach_div_(denom, [bc ** 0.5 for bc in bias_corrections2])
            ag.foreach_add_(denom, eps)
        ag.foreach_addcdiv_(params, exp_avgs, denom, [-lr / (1 - beta1 ** step) for step in steps])


    def _fused_update_group(self, group, params, grads, states):
        """The same rule over the whole group, one kernel pass per parameter (``fused=True``)."""
        for param, state in zip(params, states):
            _create_state(state, param, group)
        counters = [state["step"] for state in states]
        ag.foreach_add_(counters, 1)  # (one call counts every parameter's step)
        steps = [counter.item() for counter in counters]
        beta1, beta2 = group["betas"]
        ag.fused_adam_(params, grads, [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states],
                       [s["max_exp_avg_sq"] for s in states] if group["amsgrad"] else None, steps,
                       lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
                       weight_decay=group["weight_decay"], decoupled_weight_decay=group["decoupled_weight_decay"],
                       maximize=group["maximize"], eps_inside_sqrt=group["eps_inside_sqrt"])


def _count_step(state, param, group):
    """Create the state on the first step, count this step and return its number t (from 1)."""
    _create_state(state, param, group)
    state["step"].add_(1)
    return state["step"].item()


def _create_state(state, param, group):
    """The moving averages (and the step counter) at 0, on the first step."""
    if not state:
        state["step"] = new_step_counter()
        state["exp_avg"] = ag.zeros_like(param)
        state["exp_avg_sq"] = ag.zeros_like(param)
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = ag.zeros_like(param)
    if group["amsgrad"] and "max_exp_avg_sq" not in state:  # amsgrad switched on mid-run
        state["max_exp_avg_sq"] = state["exp_avg_sq"].clone()


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): ``w ← w·(1 − lr·wd)`` before the step."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 foreach=None, maximize=False, eps_inside_sqrt=False, fused=None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         foreach=foreach, maximize=maximize, decoupled_weight_decay=True,
                         eps_inside_sqrt=eps_inside_sqrt, fused=fused)
