"""Adam and AdamW: moving averages of the gradient and of its square, with bias correction.

With ``g`` the gradient (plus ``weight_decay·w`` for Adam; AdamW instead shrinks ``w ← w·(1 − lr·wd)``)::

    m ← β1·m + (1 − β1)·g ,   v ← β2·v + (1 − β2)·g²          (both start at 0)
    m̂ = m / (1 − β1^t) ,      v̂ = v / (1 − β2^t)              (bias correction, t = 1, 2, ...)
    w ← w − lr·m̂ / (sqrt(v̂) + eps)                            (PyTorch's)
    w ← w − lr·m̂ / sqrt(v̂ + eps)                              (the course's, eps_inside_sqrt=True)

Bias correction: m and v start at 0, so early averages are biased toward 0 (m_1 = (1 − β1)·g_1);
dividing by (1 − β^t) makes them unbiased when g is stationary, and the factor tends to 1 as t grows.
``amsgrad`` uses the running maximum of v in the denominator. The whole update is one fused pass
(``autograd.adam_step_``).
"""
import autograd as ag

from .optimizer import Optimizer, check_betas, check_lr, check_nonnegative, new_step_counter


class Adam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, *,
                 maximize=False, decoupled_weight_decay=False, eps_inside_sqrt=False):
        defaults = dict(lr=lr, betas=tuple(betas) if isinstance(betas, list) else betas, eps=eps,
                        weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                        decoupled_weight_decay=decoupled_weight_decay, eps_inside_sqrt=eps_inside_sqrt)
        super().__init__(params, defaults)

    def _check_group(self, group):
        check_lr(group["lr"])
        check_betas(group["betas"])
        check_nonnegative(group["eps"], "epsilon")
        check_nonnegative(group["weight_decay"], "weight_decay")

    def _update_group(self, group, params, grads, states):
        # One foreach call for the group (autograd.adam_steps_), as SGD: see SGD._update_group.
        amsgrad = group["amsgrad"]
        steps = []
        for param, state in zip(params, states):
            if not state:
                state["step"] = new_step_counter()
                state["exp_avg"] = ag.zeros_like(param)
                state["exp_avg_sq"] = ag.zeros_like(param)
                if amsgrad:
                    state["max_exp_avg_sq"] = ag.zeros_like(param)
            if amsgrad and "max_exp_avg_sq" not in state:  # amsgrad switched on mid-run
                state["max_exp_avg_sq"] = state["exp_avg_sq"].clone()
            step_t = state["step"]
            step_t.add_(1)
            steps.append(step_t.item())
        beta1, beta2 = group["betas"]
        ag.adam_steps_(params, grads, [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states],
                       [s["max_exp_avg_sq"] for s in states] if amsgrad else None, steps=steps, lr=group["lr"],
                       beta1=beta1, beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
                       decoupled_weight_decay=group["decoupled_weight_decay"], amsgrad=amsgrad,
                       maximize=group["maximize"], eps_inside_sqrt=group["eps_inside_sqrt"])


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): ``w ← w·(1 − lr·wd)`` before the step."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, eps_inside_sqrt=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize, decoupled_weight_decay=True, eps_inside_sqrt=eps_inside_sqrt)
