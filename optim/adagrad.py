"""AdaGrad: a per-coordinate learning rate that shrinks with the sum of squared gradients.

With ``g`` the gradient (plus ``weight_decay·w``) and t the step count::

    s ← s + g²                           (s starts at initial_accumulator_value)
    lr_t = lr / (1 + (t − 1)·lr_decay)
    w ← w − lr_t·g / (sqrt(s) + eps)     (PyTorch's)
    w ← w − lr_t·g / sqrt(s + eps)       (the course's, eps_inside_sqrt=True)

The effective learning rate lr_t / sqrt(s) never increases, since s only grows.
"""
import autograd as ag

from .optimizer import Optimizer, check_lr, check_nonnegative, new_step_counter


class Adagrad(Optimizer):
    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                 eps=1e-10, *, maximize=False, eps_inside_sqrt=False):
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps, maximize=maximize,
                        eps_inside_sqrt=eps_inside_sqrt)
        super().__init__(params, defaults)

    def _check_group(self, group):
        check_lr(group["lr"])
        check_nonnegative(group["lr_decay"], "lr_decay")
        check_nonnegative(group["weight_decay"], "weight_decay")
        check_nonnegative(group["initial_accumulator_value"], "initial_accumulator_value")
        check_nonnegative(group["eps"], "epsilon")

    def _init_group_state(self, group):
        for p in group["params"]:  # eagerly, as PyTorch does
            self.state[p] = {"step": new_step_counter(),
                             "sum": ag.full_like(p, group["initial_accumulator_value"])}

    def _update(self, param, grad, state, group):
        if not state:
            state.update(step=new_step_counter(),
                         sum=ag.full_like(param, group["initial_accumulator_value"]))
        state["step"].add_(1)
        step = state["step"].item()
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        state_sum = state["sum"]
        state_sum.addcmul_(grad, grad, value=1)
        if group["eps_inside_sqrt"]:
            std = (state_sum + group["eps"]).sqrt()
        else:
            std = state_sum.sqrt().add_(group["eps"])
        param.addcdiv_(grad, std, value=-clr)
