"""``nn.functional``: stateless neural-network functions, as ``torch.nn.functional``.

Each is an op of the engine (with its fused kernel and backward), re-exported here under PyTorch's name.
"""
from autograd.ops.activations import gelu, log_softmax, relu, sigmoid, softmax, tanh  # noqa: F401
from autograd.ops.join import pad  # noqa: F401
