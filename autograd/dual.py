"""The tangents of dual tensors and the rule that carries them through every op (forward mode).

``Function.apply`` calls :func:`propagate` after each op while a forward-AD level is active
(``active_levels`` not empty): it gives the result the tangent that the op's ``jvp`` rule computes from
its inputs' tangents. The user's side of forward mode (``dual_level``, ``make_dual``, ``unpack_dual``)
is ``autograd/forward_ad.py``; this module is what the engine and the ops need of it, and imports
neither.
"""
import weakref

import numpy as np

from .tensor import Tensor, make_tensor

#: The forward-AD levels currently entered (innermost last); empty outside ``dual_level``.
#: ``Function.apply`` reads this module attribute after every op; it is rebound, never mutated, so a
#: rule can run with a shorter list (the outer levels only) and the full one comes back afterwards.
active_levels = []

next_level = [0]
#: Per entered level, the tensors that received a tangent at it (cleared when the level exits).
holders = {}


def set_tangent(tensor, level, tangent):
    tangents = tensor._fw_tangents
    if tangents is None:
        tensor._fw_tangents = tangents = {}
    tangents[level] = tangent
    holders[level][id(tensor)] = weakref.ref(tensor)


def get_tangent(tensor, level=None):
    """The tangent of ``tensor`` at ``level`` (the innermost active level by default), or None."""
    tangents = tensor._fw_tangents
    if tangents is None or not active_levels:
        return None
    return tangents.get(active_levels[-1] if level is None else level)


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
                    active_levels = levels[:position - 1]
                    try:
                        tangent = tangent.broadcast_to(result.shape)
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
            holders[level][id(result)] = weakref.ref(result)
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
                    live = {level: t for level, t in tangents.items() if level in holders}
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
        if level in holders:
            set_tangent(target, level, tangent)
