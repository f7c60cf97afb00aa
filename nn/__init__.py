"""numbagrad's neural-network package: layers, losses and training, written on autograd Tensors.

It holds the functional activations for now; modules, layers and losses arrive with their issue.
"""
from . import functional  # noqa: F401
