"""RMSprop: divide the gradient by a moving root-mean-square of recent gradients.

With ``g`` the gradient (plus ``weight_decay·w``)::

    s ← α·s + (1 − α)·g²                        (s starts at 0)
    centered: ḡ ← α·ḡ + (1 − α)·g ,  s̃ = s − ḡ²  (a variance instead of a second moment)
    d = sqrt(s̃) + eps   (PyTorch's)   or   sqrt(s̃ + eps)   (the course's, eps_inside_sqrt=True)
    momentum: b ← μ·b + g/d ,  w ← w − lr·b       else: w ← w − lr·g/d
"""
import autograd as ag

from .optimizer import (Optimizer, check_lr, check_nonnegative, check_unit_interval,
                        new_step_counter)


class RMSprop(Optimizer):
    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                 *, maximize=False, eps_inside_sqrt=False):
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered, maximize=maximize, eps_inside_sqrt=eps_inside_sqrt)
        super().__init__(params, defaults)

    def _check_group(self, group):
        check_lr(group["lr"])
        check_unit_interval(group["alpha"], "alpha", closed_right=True)
        check_nonnegative(group["eps"], "epsilon")
        check_nonnegative(group["weight_decay"], "weight_decay")
        check_nonnegative(group["momentum"], "momentum")

    def _update(self, param, grad, state, group):
        if not state:
            state["step"] = new_step_counter()
            state["square_avg"] = ag.zeros_like(param)
        if group["momentum"] > 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = ag.zeros_like(param)
        if group["centered"] and "grad_avg" not in state:
            state["grad_avg"] = ag.zeros_like(param)
        state["step"].add_(1)
        alpha = group["alpha"]
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        square_avg = state["square_avg"]
        square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)
        if group["centered"]:
            grad_avg = state["grad_avg"].lerp_(grad, 1 - alpha)
            variance = square_avg - grad_avg * grad_avg
        else:
            variance = square_avg
        if group["eps_inside_sqrt"]:
            avg = (variance + group["eps"]).sqrt()
        else:
            avg = variance.sqrt().add_(group["eps"])
        if group["momentum"] > 0:
            buf = state["momentum_buffer"]
            buf.mul_(group["momentum"]).addcdiv_(grad, avg)
            param.add_(buf, alpha=-group["lr"])
        else:
            param.addcdiv_(grad, avg, value=-group["lr"])
