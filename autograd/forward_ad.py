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
calls :func:`propagate` after each op while a ``dual_level`` is active, so a Jacobian-vector product
costs one forward pass. Tangents are ordinary Tensors and rules are written with Tensor ops, so
reverse mode can differentiate through a tangent (reverse-over-forward) and forward mode through a
backward pass (forward-over-reverse).

Levels nest (``torch.func.jvp`` of a ``jvp``): a rule at level L runs with only the levels entered
before L active, so the tangent it computes carries its own tangents at those outer levels. The
tangent at an inner level can therefore be differentiated by an outer one (forward-over-forward).
Exiting a level removes its tangents from every tensor, as in PyTorch.
"""
import weakref
from collections import namedtuple

import numpy as np

from .tensor import Tensor, make_tensor

__all__ = ["dual_level", "enter_dual_level", "exit_dual_level", "make_dual", "unpack_dual",
           "UnpackedDualTensor"]

#: The forward-AD levels currently entered (innermost last); empty outside ``dual_level``.
#: ``Function.apply`` reads this module attribute after every op; it is rebound, never mutated, so a
#: rule can run with a shorter list (the outer levels only) and the full one comes back afterwards.
active_levels = []

_next_level = [0]
#: Per entered level, the tensors that received a tangent at it (cleared when the level exits).
_holders = {}


class UnpackedDualTensor(namedtuple("UnpackedDualTensor", ["primal", "tangent"])):
    """What :func:`unpack_dual` returns: the primal (a view without the tangent) and the tangent."""
    __slots__ = ()


def enter_dual_level():
    """Open a new forward-AD level and return it (an int); prefer the ``dual_level`` context."""
    global active_levels
    level = _next_level[0]
    _next_level[0] += 1
    _holders[level] = {}  # id -> weak reference (Tensor's == is elementwise: no WeakSet)
    active_levels = active_levels + [level]
    return level


def exit_dual_level(*, level=None):
    """Close ``level`` (the innermost by default): every tangent at it is dropped from its tensor."""
    global active_levels
    if not active_levels:
        raise RuntimeError("exit_dual_level: no forward-AD level is active")
    level = active_levels[-1] if level is None else level
    if level != active_levels[-1]:
        raise RuntimeError(f"exit_dual_level: level {level} is not the innermost active level "
                           f"{active_levels[-1]}; levels exit in the reverse order they were entered")
    active_levels = active_levels[:-1]
    for ref in _holders.pop(level, {}).values():
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
    if level is None:
        if not active_levels:
            raise RuntimeError(f"{op}: must be called inside a forward AD level context; enter one with "
                               f"`with autograd.forward_ad.dual_level():`")
        return active_levels[-1]
    if level not in active_levels:
        raise RuntimeError(f"{op}: level {level!r} is not an active forward-AD level (active: "
                           f"{active_levels})")
    return level


def _set_tangent(tensor, level, tangent):
    tangents = tensor._fw_tangents
    if tangents is None:
        tensor._fw_tangents = tangents = {}
    tangents[level] = tangent
    _holders[level][id(tensor)] = weakref.ref(tensor)


def get_tangent(tensor, level=None):
    """The tangent of ``tensor`` at ``level`` (the innermost active level by default), or None."""
    tangents = tensor._fw_tangents
    if tangents is None or not active_levels:
        return None
    return tangents.get(active_levels[-1] if level is None else level)


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
    from .ops.shape import Alias
    dual = Alias.apply(tensor)  # tangents at other levels go through Alias's own jvp
    _set_tangent(dual, level, tangent)
    return dual


def unpack_dual(tensor, *, level=None):
    """``(primal, tangent)`` of ``tensor`` at ``level`` (the innermost by default): the primal is a view
    of ``tensor`` without that tangent (reverse-mode gradients flow through it), the tangent is a
    Tensor or None. Outside every level: ``(tensor, None)``."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"unpack_dual: expected a Tensor, got {type(tensor).__name__}")
    if level is None and not active_levels:
        return UnpackedDualTensor(tensor, None)
    level = _current_level(level, "unpack_dual")
    tangents = tensor._fw_tangents
    tangent = None if tangents is None else tangents.get(level)
    if tangent is None:
        return UnpackedDualTensor(tensor, None)
    from .ops.shape import Alias
    primal = Alias.apply(tensor)
    primal._fw_tangents.pop(level, None)
    if not primal._fw_tangents:
        primal._fw_tangents = None
    return UnpackedDualTensor(primal, tangent)


# ------------------------------------------------------------------------ propagation (every op)
_dual_ctx_classes = {}


def _dual_ctx_class(base):
    """A subclass of the ctx's class (same layout, so ``ctx.__class__`` can be switched to it) whose
    ``saved_tensors`` returns the op's own arguments and result wherever forward saved their arrays,
    so the primal values a rule reads keep their tangents at the outer levels (forward-over-forward)
    and their graph (reverse-over-forward); ``primal_inputs`` gives the forward's arguments and
    ``primal_output`` its result (for the rules of ops that save nothing, like ``Gelu`` outside
    recording)."""
    cls = _dual_ctx_classes.get(base)
    if cls is not None:
        return cls
    base_saved = base.__dict__.get("saved_tensors") or getattr(base, "saved_tensors")

    def saved_tensors(self):
        args, result = self.__dict__["_fw_io"]
        raw = self.__dict__.get("_saved")
        # an unrecorded forward keeps the arrays it saved: map them straight to the arguments and result
        # (no constant Tensor made for each first); a Node's packed entries go through its own reading
        saved = raw if type(raw) is tuple and all(type(a) is np.ndarray or a is None for a in raw) \
            else base_saved.__get__(self, base)
        out = []
        output = result._data
        for t in saved:
            data = t if type(t) is np.ndarray else t._data if isinstance(t, Tensor) else None
            if data is not None:
                if data is output:
                    t = result
                else:
                    for a in args:
                        if isinstance(a, Tensor) and a._data is data:
                            t = a
                            break
                    else:
                        if type(t) is np.ndarray:
                            t = make_tensor(t)
            out.append(t)
        return tuple(out)

    def primal_inputs(self):
        return self.__dict__["_fw_io"][0]

    def primal_output(self):
        return self.__dict__["_fw_io"][1]

    cls = type("Dual" + base.__name__, (base,), {"__slots__": (), "saved_tensors": property(saved_tensors),
                                                 "primal_inputs": property(primal_inputs),
                                                 "primal_output": property(primal_output)})
    _dual_ctx_classes[base] = cls
    return cls


def propagate(function, ctx, args, result):
    """Give ``result`` the tangent ``function.jvp(ctx, *input tangents)`` at every active level."""
    global active_levels
    levels = active_levels
    position = 0
    for level in levels:
        tangents = None
        i = 0
        for a in args:
            if isinstance(a, Tensor):
                found = a._fw_tangents
                if found is not None:
                    t = found.get(level)
                    if t is not None:
                        if tangents is None:
                            tangents = [None] * len(args)
                        tangents[i] = t
            i += 1
        if tangents is None:
            position += 1
            continue
        if not function.differentiable or result._data.dtype.kind != "f":
            return
        jvp = getattr(function, "jvp", None)
        if jvp is None:
            raise NotImplementedError(f"{function.__name__} has no forward-mode rule (jvp): forward-mode "
                                      f"AD cannot go through it")
        base = type(ctx)
        dual_class = _dual_ctx_classes.get(base) or _dual_ctx_class(base)
        ctx.__dict__["_fw_io"] = (args, result)
        ctx.__class__ = dual_class
        active_levels = levels[:position]  # the rule's own ops carry only the outer levels' tangents
        try:
            tangent = jvp(ctx, *tangents)
        finally:
            active_levels = levels
            ctx.__class__ = base
            del ctx.__dict__["_fw_io"]
        position += 1
        if tangent is not None:
            if tangent._data.shape != result._data.shape:
                if tangent.ndim <= result.ndim:  # a rule that returned a broadcastable tangent
                    from .ops.shape import broadcast_to
                    active_levels = levels[:position - 1]
                    try:
                        tangent = broadcast_to(tangent, result.shape)
                    finally:
                        active_levels = levels
                if tangent.shape != result.shape:
                    raise RuntimeError(f"{function.__name__}.jvp returned a tangent of shape "
                                       f"{tuple(tangent.shape)} for an output of shape {tuple(result.shape)}")
            if tangent._data.dtype != result._data.dtype:
                active_levels = levels[:position - 1]
                try:
                    tangent = tangent.to(result.dtype)
                finally:
                    active_levels = levels
            tangents_of_result = result._fw_tangents  # (_set_tangent, written out: it runs for every op)
            if tangents_of_result is None:
                result._fw_tangents = tangents_of_result = {}
            tangents_of_result[level] = tangent
            _holders[level][id(result)] = weakref.ref(result)
            if result.grad_fn is ctx:
                _saved_output_keeps_tangents(ctx, result)


_dual_saved_classes = {}


def _saved_output_keeps_tangents(node, result):
    """A recorded op that saved its output gives backward a new Tensor of that output's array: let
    that Tensor carry the output's tangents too, so a backward pass run inside the level (forward over
    reverse: the tangent of a gradient is a Hessian-vector product) sees how the saved output moves."""
    for item in getattr(node, "_saved", None) or ():
        if getattr(item, "kind", None) != "output" or getattr(item, "data", None) is not result._data:
            continue
        base = type(item)
        if "fw_tangents" in base.__dict__:
            continue
        cls = _dual_saved_classes.get(base)
        if cls is None:
            def unpack(self, node, _base_unpack=base.unpack):
                tensor = _base_unpack(self, node)
                tangents = self.__dict__.get("fw_tangents")
                if tangents:
                    live = {level: t for level, t in tangents.items() if level in _holders}
                    if live:
                        tensor._fw_tangents = live
                return tensor
            cls = type("Dual" + base.__name__, (base,), {"unpack": unpack, "fw_tangents": None})
            _dual_saved_classes[base] = cls
        item.__class__ = cls
        item.fw_tangents = result._fw_tangents  # the same dict: tangents of later levels show too


def add_tangents(a, b):
    """``a + b`` where None is a zero tangent (for the rules of ops with several inputs)."""
    return a if b is None else b if a is None else a + b


def take_tangents(target, source):
    """``target`` now holds ``source``'s value (an in-place op wrote it): it takes ``source``'s tangents."""
    if target._fw_tangents is None and source._fw_tangents is None:
        return
    target._fw_tangents = None
    for level, tangent in (source._fw_tangents or {}).items():
        if level in _holders:
            _set_tangent(target, level, tangent)
