"""``Optimizer``: parameter groups, per-parameter state, ``zero_grad``, ``step`` and state_dicts.

PyTorch's contract: ``param_groups`` is a list of dicts, each with its ``params`` and its own
hyper-parameters (the defaults fill in what a group leaves out); ``state`` maps each parameter to a
dict of tensors (momentum buffers, moment estimates, ``step``). Updates are written with autograd
Tensor operations under ``no_grad``, in place on the parameters.
"""
import math
from numbers import Real

import autograd as ag
from autograd import Tensor

_REQUIRED = object()  # a hyper-parameter without a default (every group must then give it)


def _groups_from(params):
    """The user's ``params`` (tensors, (name, tensor) pairs, or dicts of groups) as a list of groups."""
    if isinstance(params, Tensor):
        raise TypeError("params argument given to the optimizer should be an iterable of Tensors or "
                        "dicts, but got a Tensor (wrap it in a list: [x])")
    if isinstance(params, dict):
        raise TypeError("params argument given to the optimizer should be an iterable of Tensors or "
                        "dicts, but got a dict (wrap a parameter group in a list: [group])")
    if isinstance(params, (set, frozenset)):
        raise TypeError("optimizer parameters need to be organized in ordered collections, but the "
                        "ordering of tensors in sets changes between runs; use a list")
    params = list(params)
    if len(params) == 0:
        raise ValueError("optimizer got an empty parameter list")
    if all(isinstance(p, dict) for p in params):
        return params
    if any(isinstance(p, dict) for p in params):
        raise TypeError("params mixes parameter-group dicts with plain tensors; give one or the other")
    return [{"params": params}]


def _param_list(params):
    if isinstance(params, Tensor):
        return [params]
    if isinstance(params, (set, frozenset)):
        raise TypeError("optimizer parameters need to be organized in ordered collections, but the "
                        "ordering of tensors in sets changes between runs; use a list")
    out = []
    for p in params:
        if isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str):  # named_parameters()
            p = p[1]
        out.append(p)
    return out


class Optimizer:
    """Base class of the optimizers: subclasses give ``defaults``, ``_check_group`` and ``_update``."""

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.state = {}
        self.param_groups = []
        for group in _groups_from(params):
            self.add_param_group(group)

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group):
        """Add a group of parameters (a dict with ``params`` and optional hyper-parameters)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError("param_group has no 'params' entry")
        group = dict(param_group)
        params = _param_list(group["params"])
        if len(params) == 0:
            raise ValueError("optimizer got a parameter group with an empty parameter list")
        seen = set()
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but parameter {i} of the group is "
                                f"a {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"can't optimize a non-leaf Tensor (parameter {i} of the group was made "
                                 f"by {p.grad_fn.name()}); optimize the leaf it was computed from, or "
                                 f"detach().requires_grad_() it")
            if p.dtype.kind != "f":
                raise TypeError(f"optimizer can only optimize floating-point Tensors, but parameter {i} "
                                f"has dtype {p.dtype}")
            if id(p) in seen:
                raise ValueError(f"parameter {i} appears twice in the same parameter group")
            seen.add(id(p))
        for other in self.param_groups:
            if any(id(p) in seen for p in other["params"]):
                raise ValueError("some parameters appear in more than one parameter group")
        group["params"] = params
        for name, default in self.defaults.items():
            if default is _REQUIRED and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required optimization "
                                 f"parameter {name}")
            group.setdefault(name, default)
        unknown = set(group) - set(self.defaults) - {"params", "initial_lr"}
        if unknown:
            raise TypeError(f"{type(self).__name__}: unknown hyper-parameter(s) {sorted(unknown)} in a "
                            f"parameter group; known: {sorted(self.defaults)}")
        self._check_group(group)
        self.param_groups.append(group)
        self._init_group_state(group)

    def _check_group(self, group):
        """Raise ValueError for out-of-range hyper-parameters (subclasses extend)."""
        check_lr(group["lr"])

    def _init_group_state(self, group):
        """Create state eagerly where PyTorch does (Adagrad); most optimizers create it on first step."""

    # ------------------------------------------------------------------ stepping
    @ag.tracing.host_call  # (a compiled step calls it again at every replay)
    def zero_grad(self, set_to_none=True):
        """Reset the gradients: to None (the default; frees memory), or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if p.grad.grad_fn is not None:
                        p.grad = p.grad.detach()
                    with ag.no_grad():
                        p.grad.zero_()

    @ag.tracing.host_call(replay=lambda self, closure=None: self._step(closure, fuse=True))
    def step(self, closure=None):
        """Update every parameter that has a gradient; ``closure`` re-evaluates the loss and returns it.

        A compiled training step (``autograd.compile``) calls it at every replay, so hyper-parameters are
        read then; it runs the fused form of the rule (one kernel per parameter) where the optimizer has
        one and ``fused`` and ``foreach`` were left unset."""
        return self._step(closure, fuse=False)

    #: Whether the rule has a fused form (``fused=True``; SGD, Adam and AdamW, as in PyTorch).
    has_fused_form = False

    def _fused(self, group):
        """Whether this group's update runs the fused form: asked for, or chosen for a compiled step."""
        fused = group.get("fused")
        if fused is not None:
            return bool(fused)
        return self._fusing and group.get("foreach") is not False

    def _step(self, closure, fuse):
        loss = None
        if closure is not None:
            with ag.enable_grad():
                loss = closure()
        with ag.no_grad():
            for group in self.param_groups:
                params, grads, states = [], [], []
                for p in group["params"]:
                    grad = p.grad
                    if grad is None:
                        continue
                    if grad.shape != p.shape:
                        raise RuntimeError(f"{type(self).__name__}.step: a parameter of shape {p.shape} has "
                                           f"a gradient of shape {grad.shape}")
                    state = self.state.get(p)
                    if state is None:
                        state = self.state[p] = {}
                    params.append(p)
                    # a gradient recorded with create_graph=True is detached: the update is no graph's part
                    grads.append(grad.detach() if grad.requires_grad else grad)
                    states.append(state)
                self._fusing = fuse and self.has_fused_form
                try:
                    self._update_group(group, params, grads, states)
                finally:
                    self._fusing = False
        return loss

    _fusing = False

    def _update_group(self, group, params, grads, states):
        """Update a group's parameters that have gradients, one ``_update`` each; optimizers with a
        foreach form of their rule override it (and come back here for ``foreach=False``)."""
        for param, grad, state in zip(params, grads, states):
            self._update(param, grad, state, group)

    def _update(self, param, grad, state, group):
        raise NotImplementedError

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self):
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}]}``, as in PyTorch.

        Parameters are numbered in order through the groups; state tensors are the optimizer's own
        (not copies), like PyTorch's.
        """
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: dict(s) for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore hyper-parameters and state from ``state_dict()`` (tensors are copied in)."""
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError("load_state_dict expects a dict with 'state' and 'param_groups', as returned "
                             "by Optimizer.state_dict()")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has {len(saved_groups)} parameter groups, but the "
                             f"optimizer has {len(self.param_groups)}")
        params = {}
        for g, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"loaded state dict's parameter group {g} has {len(saved['params'])} "
                                 f"parameters, but the optimizer's has {len(group['params'])}")
            params.update(zip(saved["params"], group["params"]))
        new_state = {}
        for key, saved in state_dict["state"].items():
            key = int(key)
            if key not in params:
                raise ValueError(f"loaded state dict has state for parameter {key}, which no group holds")
            p = params[key]
            new_state[p] = {name: self._load_value(name, value, p) for name, value in saved.items()}
        new_groups = []
        for saved, group in zip(saved_groups, self.param_groups):
            restored = {k: v for k, v in saved.items() if k != "params"}
            restored["params"] = group["params"]
            new_groups.append(restored)
        for group in new_groups:
            self._check_group(group)
        self.state = new_state
        self.param_groups = new_groups

    @staticmethod
    def _load_value(name, value, param):
        if value is None or isinstance(value, (bool, int, float)):
            return value
        tensor = value if isinstance(value, Tensor) else ag.tensor(value)
        if name == "step":  # a counter: keep its dtype (float32, like PyTorch's)
            return tensor.detach().clone()
        if tensor.shape != param.shape:
            raise ValueError(f"loaded state {name!r} has shape {tuple(tensor.shape)}, but its parameter "
                             f"has shape {param.shape}")
        return tensor.detach().to(param.dtype).clone()

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


# ---------------------------------------------------------------------- argument checks
def _number(value, name):
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"Invalid {name}: {value} (must be finite)")
    return value


def check_lr(lr):
    if _number(lr, "learning rate") < 0:
        raise ValueError(f"Invalid learning rate: {lr} (must be >= 0)")


def check_nonnegative(value, name):
    if _number(value, name) < 0:
        raise ValueError(f"Invalid {name} value: {value} (must be >= 0)")


def check_unit_interval(value, name, closed_right=False):
    v = _number(value, name)
    if not (0.0 <= v < 1.0 or (closed_right and v == 1.0)):
        interval = "[0, 1]" if closed_right else "[0, 1)"
        raise ValueError(f"Invalid {name}: {value} (must be in {interval})")


def check_foreach(group):
    """``foreach`` is None (the default: the foreach form), True or False (the per-parameter form)."""
    foreach = group.get("foreach")
    if foreach is not None and not isinstance(foreach, bool):
        raise TypeError(f"foreach must be None, True or False, got {foreach!r}")


def check_fused(group):
    """``fused`` is None (the default), True or False; True cannot go with ``foreach=True`` (PyTorch's rule)."""
    fused = group.get("fused")
    if fused is not None and not isinstance(fused, bool):
        raise TypeError(f"fused must be None, True or False, got {fused!r}")
    if fused and group.get("foreach"):
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


def check_betas(betas):
    try:
        beta1, beta2 = betas
    except (TypeError, ValueError):
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}") from None
    check_unit_interval(beta1, "beta parameter at index 0")
    check_unit_interval(beta2, "beta parameter at index 1")


def new_step_counter():
    """The per-parameter step count, a float32 0-d tensor as in PyTorch's state_dicts."""
    return ag.zeros((), dtype=ag.float32)
