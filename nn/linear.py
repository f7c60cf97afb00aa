"""``Linear``, ``Identity``, ``Flatten`` and ``Unflatten``."""

import autograd as ag

from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter


class Identity(Module):
    """Returns its input unchanged (a placeholder; accepts and ignores any constructor arguments)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


def _feature_count(value, name):
    """An int ≥ 0 (3.7 would silently become 3 features through int())."""
    if isinstance(value, bool) or not isinstance(value, int) and not (hasattr(value, "__index__")):
        raise TypeError(f"Linear: {name} must be an int, got {value!r}")
    value = value.__index__()
    if value < 0:
        raise ValueError(f"Linear: {name} must be non-negative, got {value}")
    return value


class Linear(Module):
    """y = x Wᵀ + b with W of shape (out_features, in_features).

    Initialised like PyTorch: W ~ kaiming_uniform(a=√5), i.e. U(−1/√in, 1/√in), and b ~ U(−1/√in, 1/√in).
    """

    def __init__(self, in_features, out_features, bias=True, dtype=None):
        super().__init__()
        self.in_features = _feature_count(in_features, "in_features")
        self.out_features = _feature_count(out_features, "out_features")
        self.weight = Parameter(ag.empty(self.out_features, self.in_features, dtype=dtype))
        if bias:
            self.bias = Parameter(ag.empty(self.out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.default_layer_init_(self.weight, self.bias)

    def forward(self, input):
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Flatten(Module):
    """Flatten dims ``start_dim``..``end_dim`` into one (by default all but the batch dim)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input):
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Expand dim ``dim`` into ``unflattened_size``."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim = dim
        self.unflattened_size = tuple(unflattened_size)

    def forward(self, input):
        dim = self.dim % input.ndim
        return input.reshape(tuple(input.shape[:dim]) + self.unflattened_size + tuple(input.shape[dim + 1:]))

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
