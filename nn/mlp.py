"""``MLP``: a multilayer perceptron from a list of sizes, and ``Residual``/``SkipConnection``.

``MLP([784, 128, 64, 10])`` is Linear(784, 128) → ReLU → Linear(128, 64) → ReLU → Linear(64, 10); each
hidden layer is Linear → BatchNorm1d (if ``batch_norm``) → activation → Dropout (if ``dropout`` > 0),
and the last layer is linear unless ``output_activation`` is given.
"""
from . import activation as _activation
from . import init as _init
from .batchnorm import BatchNorm1d
from .containers import Sequential
from .dropout import Dropout
from .linear import Identity, Linear
from .module import Module

_ACTIVATIONS = {
    "relu": "ReLU", "leaky_relu": "LeakyReLU", "leakyrelu": "LeakyReLU", "prelu": "PReLU", "elu": "ELU",
    "selu": "SELU", "celu": "CELU", "gelu": "GELU", "silu": "SiLU", "swish": "SiLU", "sigmoid": "Sigmoid",
    "logsigmoid": "LogSigmoid", "log_sigmoid": "LogSigmoid", "tanh": "Tanh", "softplus": "Softplus",
    "softmax": "Softmax", "log_softmax": "LogSoftmax", "logsoftmax": "LogSoftmax", "hardtanh": "Hardtanh",
    "relu6": "ReLU6", "softsign": "Softsign", "identity": "Identity", "linear": "Identity",
}


def _make_activation(spec, what):
    """A new activation Module from a name ('relu', 'tanh', ...), a Module class, or a zero-argument
    callable returning a Module."""
    if isinstance(spec, str):
        key = spec.lower()
        if key not in _ACTIVATIONS:
            raise ValueError(f"MLP: unknown {what} {spec!r}; expected one of {sorted(_ACTIVATIONS)} or a Module class")
        name = _ACTIVATIONS[key]
        if name == "Identity":
            return Identity()
        if name in ("Softmax", "LogSoftmax"):
            return getattr(_activation, name)(dim=-1)  # over the features of each sample
        return getattr(_activation, name)()
    if isinstance(spec, Module):
        raise TypeError(f"MLP: pass the {what} as a class or a name (each layer needs its own instance), "
                        f"got the instance {spec!r}")
    if callable(spec):
        module = spec()
        if not isinstance(module, Module):
            raise TypeError(f"MLP: {what} {spec!r} did not make a Module (got {type(module).__name__})")
        return module
    raise TypeError(f"MLP: {what} must be a name or a Module class, got {type(spec).__name__}")


def _initialiser(init):
    """``init`` as a function of a weight: None (PyTorch's default), the name of an ``nn.init``
    function ('xavier_uniform', 'kaiming_normal_', ...) or a callable filling the weight in place."""
    if init is None or callable(init):
        return init
    if isinstance(init, str):
        name = init if init.endswith("_") else init + "_"
        fn = getattr(_init, name, None)
        if fn is None or name.startswith("_"):
            raise ValueError(f"MLP: unknown init {init!r}; expected the name of an nn.init function such as "
                             f"'xavier_uniform' or 'kaiming_normal', or a callable")
        return fn
    raise TypeError(f"MLP: init must be None, a name or a callable, got {type(init).__name__}")


class MLP(Sequential):
    """A multilayer perceptron: ``sizes = [in, hidden..., out]``.

    ``activation``: a name ('relu', 'tanh', 'gelu', ...) or a Module class, used after every hidden
    layer. ``dropout``: probability of the Dropout after each hidden activation (none when 0).
    ``batch_norm``: a BatchNorm1d between each hidden Linear and its activation.
    ``output_activation``: None (a linear last layer) or a name/class as ``activation``.
    ``init``: None (PyTorch's Linear initialisation), the name of an ``nn.init`` function or a
    callable, applied to every Linear weight (the biases are then zeroed).
    """

    def __init__(self, sizes, activation="relu", dropout=0.0, batch_norm=False, output_activation=None,
                 init=None):
        try:
            sizes = [int(s) for s in sizes]
        except TypeError:
            raise TypeError(f"MLP: sizes must be a list of ints [in, hidden..., out], got {sizes!r}") from None
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"MLP: sizes must list at least the input and output sizes, all positive, got {sizes}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MLP: dropout must be in [0, 1), got {dropout}")
        initialise = _initialiser(init)
        layers = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            linear = Linear(n_in, n_out)
            if initialise is not None:
                initialise(linear.weight)
                _init.zeros_(linear.bias)
            layers.append(linear)
            if i < len(sizes) - 2:
                if batch_norm:
                    layers.append(BatchNorm1d(n_out))
                layers.append(_make_activation(activation, "activation"))
                if dropout > 0:
                    layers.append(Dropout(dropout))
        if output_activation is not None:
            layers.append(_make_activation(output_activation, "output_activation"))
        super().__init__(*layers)
        self.sizes = sizes


class Residual(Module):
    """y = body(x) + shortcut(x): a skip connection around ``body`` (``shortcut`` defaults to the
    identity; give a Linear when the sizes differ). The gradient reaches x along both paths."""

    def __init__(self, body, shortcut=None):
        super().__init__()
        self.body = body
        self.shortcut = shortcut if shortcut is not None else Identity()

    def forward(self, input):
        return self.body(input) + self.shortcut(input)


class SkipConnection(Residual):
    """The course's skip-connection network z = W₃·relu(W₁x) + W₂x (no biases by default):
    ``body`` is Linear W₁ → ReLU → Linear W₃ and ``shortcut`` is Linear W₂."""

    def __init__(self, in_features, hidden_features, out_features, bias=False):
        super().__init__(Sequential(Linear(in_features, hidden_features, bias=bias), _activation.ReLU(),
                                    Linear(hidden_features, out_features, bias=bias)),
                         Linear(in_features, out_features, bias=bias))

    @property
    def W1(self):
        return self.body[0].weight

    @property
    def W2(self):
        return self.shortcut.weight

    @property
    def W3(self):
        return self.body[2].weight
