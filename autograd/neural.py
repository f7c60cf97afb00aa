"""The engine's neural-network primitives: the public surface that ``nn.functional`` builds on.

These are engine ops (a ``Function`` each, with forward and backward side by side in
``autograd/ops/``) that a neural-network library needs but that are not Tensor methods in PyTorch:
fused linear layers, the stable losses, convolution and pooling, batch normalisation. ``nn`` imports
them from here, never from ``autograd.ops``, so the engine's file layout can change without touching
``nn``.
"""
from .ops.activations import gelu, log_softmax, relu, sigmoid, softmax, tanh
from .ops.conv import avg_pool2d, conv2d, max_pool2d
from .ops.join import pad
from .ops.linalg import linear, linear_relu
from .ops.losses import cross_entropy
from .ops.nn_ops import binary_cross_entropy, elu, log_sigmoid, silu, softplus
from .ops.batch_norm import batch_norm
from .ops.layer_norm import layer_norm
from .ops.recurrent import lstm_gates

__all__ = ["avg_pool2d", "batch_norm", "binary_cross_entropy", "conv2d", "cross_entropy", "elu", "gelu",
           "layer_norm", "linear", "linear_relu", "lstm_gates", "log_sigmoid", "log_softmax", "max_pool2d", "pad",
           "relu", "sigmoid",
           "silu", "softmax", "softplus", "tanh"]
