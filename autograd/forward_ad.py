"""Forward-mode automatic differentiation, as ``torch.autograd.forward_ad``: dual tensors and their tangents.

    >>> import autograd as ag
    >>> import autograd.forward_ad as fwAD
    >>> x, v = ag.tensor([1.0, 2.0]), ag.tensor([1.0, 0.0])
    >>> with fwAD.dual_level():
    ...     y = (fwAD.make_dual(x, v) ** 2).sum()
    ...     fwAD.unpack_dual(y).tangent          # d/dε Σ(x + εv)² = 2 x·v
    tensor(2.)

A dual tensor is a primal plus a tangent per *level*. Every op pushes tangents forward with its
``jvp(ctx, *tangents)`` rule (beside its forward and backward in ``autograd/ops``): ``Function.apply``
calls ``autograd.dual.propagate`` after each op while a ``dual_level`` is active, so a Jacobian-vector product
costs one forward pass. Tangents are ordinary Tensors and rules are written with Tensor ops, so
reverse mode can differentiate through a tangent (reverse-over-forward) and forward mode through a
backward pass (forward-over-reverse).

Levels nest (``torch.func.jvp`` of a ``jvp``): a rule at level L runs with only the levels entered
before L active, so the tangent it computes carries its own tangents at those outer levels. The
tangent at an inner level can therefore be differentiated by an outer one (forward-over-forward).
Exiting a level removes its tangents from every tensor, as in PyTorch.
"""
from collections import namedtuple

from . import dual
from .dual import get_tangent  # noqa: F401  (part of this module's surface)
from .ops.shape import Alias
from .tensor import Tensor

__all__ = ["dual_level", "enter_dual_level", "exit_dual_level", "make_dual", "unpack_dual",
           "UnpackedDualTensor"]

class UnpackedDualTensor(namedtuple("UnpackedDualTensor", ["primal", "tangent"])):
    """What :func:`unpack_dual` returns: the primal (a view without the tangent) and the tangent."""
    __slots__ = ()


def enter_dual_level():
    """Open a new forward-AD level and return it (an int); prefer the ``dual_level`` context."""
    level = dual.next_level[0]
    dual.next_level[0] += 1
    dual.holders[level] = {}  # id -> weak reference (Tensor's == is elementwise: no WeakSet)
    dual.active_levels = dual.active_levels + [level]
    return level


def exit_dual_level(*, level=None):
    """Close ``level`` (the innermost by default): every tangent at it is dropped from its tensor."""
    active_levels = dual.active_levels
    if not active_levels:
        raise RuntimeError("exit_dual_level: no forward-AD level is active")
    level = active_levels[-1] if level is None else level
    if level != active_levels[-1]:
        raise RuntimeError(f"exit_dual_level: level {level} is not the innermost active level "
                           f"{active_levels[-1]}; levels exit in the reverse order they were entered")
    dual.active_levels = active_levels[:-1]
    for ref in dual.holders.pop(level, {}).values():
        tensor = ref()
        if tensor is None:
            continue
        tangents = tensor._fw_tangents
        if tangents is not None:
            tangents.pop(level, None)
            if not tangents:
                tensor._fw_tangents = None


class dual_level:
    """Context manager of a forward-AD level (``torch.autograd.forward_ad.dual_level``): tangents made
    inside it with :func:`make_dual` are pushed through every op and dropped when it exits.

    ``with dual_level() as level:`` gives the level (an int), which ``make_dual``/``unpack_dual`` take
    as ``level=``; by default they use the innermost level."""

    def __enter__(self):
        self.level = enter_dual_level()
        return self.level

    def __exit__(self, *exc):
        exit_dual_level(level=self.level)
        return False


def _current_level(level, op):
    active_levels = dual.active_levels
    if level is None:
        if not active_levels:
            raise RuntimeError(f"{op}: must be called inside a forward AD level context; enter one with "
                               f"`with autograd.forward_ad.dual_level():`")
        return active_levels[-1]
    if level not in active_levels:
        raise RuntimeError(f"{op}: level {level!r} is not an active forward-AD level (active: "
                           f"{active_levels})")
    return level


def make_dual(tensor, tangent, *, level=None):
    """A view of ``tensor`` whose tangent at ``level`` is ``tangent`` (same shape, floating dtype).

    The result is differentiable in reverse mode like ``tensor`` (its gradient flows back to
    ``tensor``); ops on it compute their outputs' tangents. Raises outside a ``dual_level``."""
    level = _current_level(level, "make_dual")
    if not isinstance(tensor, Tensor):
        raise TypeError(f"make_dual: expected a Tensor as primal, got {type(tensor).__name__}")
    if not isinstance(tangent, Tensor):
        raise TypeError(f"make_dual: expected a Tensor as tangent, got {type(tangent).__name__}")
    if tensor.dtype.kind != "f":
        raise ValueError(f"make_dual: expected the primal to have a floating dtype, got {tensor.dtype}")
    if tangent.shape != tensor.shape:
        raise ValueError(f"make_dual: the tangent of shape {tuple(tangent.shape)} must have the primal's "
                         f"shape {tuple(tensor.shape)}")
    if tangent.dtype != tensor.dtype:
        raise ValueError(f"make_dual: the tangent's dtype {tangent.dtype} must equal the primal's "
                         f"{tensor.dtype}")
    existing = tensor._fw_tangents
    if existing is not None and existing.get(level) is not None:
        raise RuntimeError("make_dual: the primal already has a tangent at this level; unpack_dual it "
                           "first and make_dual its primal")
    view = Alias.apply(tensor)  # tangents at other levels go through Alias's own jvp
    dual.set_tangent(view, level, tangent)
    return view


def unpack_dual(tensor, *, level=None):
    """``(primal, tangent)`` of ``tensor`` at ``level`` (the innermost by default): the primal is a view
    of ``tensor`` without that tangent (reverse-mode gradients flow through it), the tangent is a
    Tensor or None. Outside every level: ``(tensor, None)``."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"unpack_dual: expected a Tensor, got {type(tensor).__name__}")
    if level is None and not dual.active_levels:
        return UnpackedDualTensor(tensor, None)
    level = _current_level(level, "unpack_dual")
    tangents = tensor._fw_tangents
    tangent = None if tangents is None else tangents.get(level)
    if tangent is None:
        return UnpackedDualTensor(tensor, None)
    primal = Alias.apply(tensor)
    primal._fw_tangents.pop(level, None)
    if not primal._fw_tangents:
        primal._fw_tangents = None
    return UnpackedDualTensor(primal, tangent)
