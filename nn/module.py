"""``Module``: the base class of layers and models, as ``torch.nn.Module``.

Assigning a ``Parameter`` or a ``Module`` as an attribute registers it; ``register_buffer`` registers
state that is saved but not learned (BatchNorm's running statistics). Everything here works on
autograd Tensors only: no arrays are touched directly.
"""
from collections import OrderedDict

import autograd as ag
from autograd import Tensor

from .parameter import Parameter


class _IncompatibleKeys(tuple):
    """``(missing_keys, unexpected_keys)`` as returned by ``load_state_dict``."""

    def __new__(cls, missing_keys, unexpected_keys):
        self = super().__new__(cls, (missing_keys, unexpected_keys))
        return self

    @property
    def missing_keys(self):
        return self[0]

    @property
    def unexpected_keys(self):
        return self[1]

    def __repr__(self):
        return f"<All keys matched successfully>" if not self[0] and not self[1] else \
            f"_IncompatibleKeys(missing_keys={self[0]}, unexpected_keys={self[1]})"


def _auto_name(param, name):
    """Name ``param`` by its path in the module it was last registered into, re-done as a model is
    assembled (``weight`` -> ``fc1.weight`` -> ``body.fc1.weight``); a name the user set stays."""
    if param.name is None or param.name == param.__dict__.get("_auto_name"):
        param.name = name
        param.__dict__["_auto_name"] = name


class Module:
    """Base class of every layer and model: subclass it, assign layers and Parameters in ``__init__``
    and write ``forward``; call the module (``model(x)``) to run it.

    >>> class Net(Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc = Linear(3, 2)
    ...     def forward(self, x):
    ...         return self.fc(x).relu()

    Count parameters with ``model.num_parameters()`` (or ``sum(p.numel() for p in model.parameters())``).
    """

    training: bool

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ------------------------------------------------------------------ forward
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward(); define forward(self, ...) "
                                  f"in the subclass")

    def __call__(self, *args, **kwargs):
        if ag.tracing.recorder is not None:  # a compiled step depends on its mode, settings, parameters
            ag.tracing.guard(self, _settings(self), (self._parameters, self._buffers))
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------------ registration
    def _check_initialised(self, what):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {what} before Module.__init__() call "
                                 f"(call super().__init__() first in {type(self).__name__}.__init__)")

    def __setattr__(self, name, value):
        params = self.__dict__.get("_parameters")
        if isinstance(value, Parameter):
            self._check_initialised("parameter")
            self._remove_from(name, keep="_parameters")
            self._parameters[name] = value
            _auto_name(value, name)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' of "
                                f"{type(self).__name__} (nn.Parameter or None expected)")
            params[name] = None
        elif isinstance(value, Module):
            self._check_initialised("module")
            self._remove_from(name, keep="_modules")
            self._modules[name] = value
            value._name_parameters(name)
        elif self.__dict__.get("_modules") is not None and name in self._modules:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module '{name}' of "
                                f"{type(self).__name__} (nn.Module or None expected)")
            self._modules[name] = None
        elif self.__dict__.get("_buffers") is not None and name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' of "
                                f"{type(self).__name__} (Tensor or None expected)")
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _remove_from(self, name, keep):
        for store in ("_parameters", "_modules", "_buffers"):
            if store != keep:
                self.__dict__[store].pop(name, None)
        self.__dict__.pop(name, None)
        self._non_persistent_buffers.discard(name)

    def __getattr__(self, name):
        # Only called when normal lookup fails: look in the registries, else a real AttributeError.
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for store in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__.get(store, {}):
                del self.__dict__[store][name]
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))

    def _check_name(self, name, kind):
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
        if name == "" or "." in name:
            raise KeyError(f"{kind} name can't be empty or contain '.', got {name!r}")
        if hasattr(type(self), name) or (name in self.__dict__ and name not in self._parameters
                                         and name not in self._buffers and name not in self._modules):
            raise KeyError(f"attribute '{name}' already exists on {type(self).__name__}")

    def register_parameter(self, name, param):
        """Register ``param`` (a Parameter, or None for an absent one such as a disabled bias)."""
        self._check_initialised("parameter")
        self._check_name(name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' as parameter '{name}' "
                            f"(nn.Parameter or None expected)")
        self._remove_from(name, keep="_parameters")
        self._parameters[name] = param
        if param is not None:
            _auto_name(param, name)

    def register_buffer(self, name, tensor, persistent=True):
        """Register non-learned state (a Tensor or None); persistent buffers appear in ``state_dict``."""
        self._check_initialised("buffer")
        self._check_name(name, "buffer")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' as buffer '{name}' "
                            f"(Tensor or None expected)")
        self._remove_from(name, keep="_buffers")
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent_buffers.add(name)

    def add_module(self, name, module):
        """Register ``module`` as the child called ``name`` (what attribute assignment does)."""
        self._check_initialised("module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if not isinstance(name, str) or "." in name or name == "":
            raise KeyError(f"module name can't be empty or contain '.', got {name!r}")
        self._remove_from(name, keep="_modules")
        self._modules[name] = module
        if module is not None:
            module._name_parameters(name)

    register_module = add_module

    def _name_parameters(self, prefix):
        """Name this module's parameters by their dotted path under ``prefix`` (``fc1.weight``), so that
        draw_graph and error messages can say which parameter a value is."""
        for name, param in self.named_parameters():
            _auto_name(param, f"{prefix}.{name}")

    def get_submodule(self, target):
        """The submodule at dotted path ``target`` ('' is this module)."""
        module = self
        for part in target.split(".") if target else ():
            if part not in module._modules or module._modules[part] is None:
                raise AttributeError(f"{type(module).__name__} has no submodule '{part}' (looking for "
                                     f"'{target}')")
            module = module._modules[part]
        return module

    def get_parameter(self, target):
        prefix, _, name = target.rpartition(".")
        module = self.get_submodule(prefix)
        if name not in module._parameters:
            raise AttributeError(f"{type(module).__name__} has no parameter '{name}'")
        return module._parameters[name]

    # ------------------------------------------------------------------ traversal
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """(dotted name, module) for this module and every submodule, each once."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            sub = prefix + ("." if prefix else "") + name
            yield from module.named_modules(memo, sub, remove_duplicate)

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self):
        for _, module in self.named_children():
            yield module

    def _named_members(self, store, prefix, recurse, remove_duplicate=True):
        seen = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in getattr(module, store).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield module_prefix + ("." if module_prefix else "") + name, value

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """(dotted name, Parameter) pairs with PyTorch's names ('0.weight', 'fc.bias'); a shared
        Parameter appears once, under its first name."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    def num_parameters(self, trainable_only=False):
        """The number of scalar parameters (each shared Parameter counted once)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def apply(self, fn):
        """Call ``fn(module)`` on every submodule (children first) and on this module; returns self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ modes and gradients
    @ag.tracing.host_call(sets=lambda self, mode=True: [(m, "training") for m in self.modules()])
    def train(self, mode=True):
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be a boolean")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    @ag.tracing.host_call  # (a compiled step calls it again at every replay)
    def zero_grad(self, set_to_none=True):
        """Reset the gradients of every parameter: to None (default) or to zeros."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad = ag.zeros_like(p.grad)

    # ------------------------------------------------------------------ dtype conversion
    def _apply_to_tensors(self, convert_param, convert_buffer):
        for module in self.modules():
            for name, p in module._parameters.items():
                if p is not None:
                    convert_param(p)
            for name, b in module._buffers.items():
                if b is not None:
                    module._buffers[name] = convert_buffer(b)
        return self

    def to(self, dtype=None, *args, **kwargs):
        """Convert floating parameters and buffers to ``dtype`` in place (devices: CPU only)."""
        if dtype is None:
            dtype = kwargs.get("dtype")
        if isinstance(dtype, str) and dtype == "cpu" or dtype is None:
            return self
        from autograd.dtypes import as_dtype
        target = as_dtype(dtype)
        if target.kind != "f":
            raise TypeError(f"Module.to only accepts floating dtypes, but got {target}")

        def convert_param(p):
            if p.dtype.kind == "f" and p.dtype != target:
                with ag.no_grad():
                    p.data = p.detach().to(target)
                    if p.grad is not None:
                        p.grad = p.grad.detach().to(target)

        def convert_buffer(b):
            return b.detach().to(target) if b.dtype.kind == "f" and b.dtype != target else b

        return self._apply_to_tensors(convert_param, convert_buffer)

    def float(self):
        return self.to(ag.float32)

    def double(self):
        return self.to(ag.float64)

    def type(self, dtype):
        return self.to(dtype)

    def cpu(self):
        return self

    # ------------------------------------------------------------------ state dict
    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """An ordered dict from dotted names to the parameters and persistent buffers (detached
        Tensors sharing memory; ``keep_vars=True`` gives the Parameters themselves)."""
        if destination is None:
            destination = OrderedDict()
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                destination[prefix + name] = b if keep_vars else b.detach()
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination, prefix + name + ".", keep_vars)
        return destination

    def load_state_dict(self, state_dict, strict=True):
        """Copy ``state_dict`` values (Tensors or numpy arrays) into the parameters and buffers.

        With ``strict`` (the default) a missing or unexpected key raises; a shape mismatch always
        raises. Returns ``(missing_keys, unexpected_keys)``.
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"load_state_dict expects a dict (name -> Tensor or array), got "
                            f"{type(state_dict).__name__}")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        if strict and (missing or unexpected):
            if missing:
                errors.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
            if unexpected:
                errors.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected)
                              + ".")
        converted = {}
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            try:
                value = value.detach() if isinstance(value, Tensor) else ag.as_tensor(value)
            except TypeError as error:
                errors.append(f"value for {key} can't be converted to a tensor: {error}")
                continue
            if tuple(value.shape) != tuple(target.shape):
                errors.append(f"size mismatch for {key}: copying a param with shape {tuple(value.shape)} "
                              f"from checkpoint, the shape in current model is {tuple(target.shape)}.")
                continue
            converted[key] = value
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(errors))
        with ag.no_grad():
            for key, value in converted.items():
                own[key][...] = value  # a plain write: copy_ would propagate NaN/inf of the old value
        return _IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ display
    def extra_repr(self):
        """The text inside this module's parentheses in ``repr`` (override in layers)."""
        return ""

    def _get_name(self):
        return type(self).__name__

    def __repr__(self):
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        for name, module in self._modules.items():
            text = repr(module).replace("\n", "\n  ")
            lines.append(f"({name}): {text}")
        main = self._get_name() + "("
        if lines:
            if len(lines) == 1 and not self._modules:
                main += lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"


def _settings(module):
    """The names of a module's plain settings (``training``, ``p``, ``eps``, ``momentum``...)."""
    return [name for name, value in vars(module).items()
            if isinstance(value, (bool, int, float, str, type(None)))
            or isinstance(value, tuple) and all(isinstance(v, (bool, int, float, str)) for v in value)]
