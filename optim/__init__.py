"""numbagrad's optimizers and learning-rate schedules, written on autograd Tensors.

    >>> import autograd as ag, optim
    >>> w = ag.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = optim.SGD([w], lr=0.1, momentum=0.9)
    >>> (w * w).sum().backward(); opt.step(); opt.zero_grad()

PyTorch's names, arguments, defaults and update rules; the course's variants are arguments:
``SGD(..., ema_momentum=True)`` (momentum as the (1 − β)-damped moving average) and
``Adagrad/RMSprop/Adam(..., eps_inside_sqrt=True)`` (epsilon inside the square root). Each module's
docstring writes both rules side by side.
"""
from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .lbfgs import LBFGS
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "LBFGS", "lr_scheduler"]
