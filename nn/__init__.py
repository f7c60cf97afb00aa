"""numbagrad's neural-network package: modules, layers, losses, initialisation and regularisers,
written on autograd Tensors (see DEVELOPERS.md: no arrays or kernels here except in data/metrics/training).

Count a model's parameters with ``model.num_parameters()`` (or ``sum(p.numel() for p in model.parameters())``).
"""
from . import functional, init, regularizers, utils  # noqa: F401
from . import data, metrics, training  # noqa: F401  (numpy-based helpers; plots load matplotlib lazily)
from .activation import (CELU, ELU, GELU, SELU, Hardtanh, LeakyReLU, LogSigmoid, LogSoftmax, PReLU,  # noqa: F401
                         ReLU, ReLU6, Sigmoid, SiLU, Softmax, Softplus, Softsign, Tanh)
from .containers import ModuleDict, ModuleList, Sequential  # noqa: F401
from .conv import Conv2d  # noqa: F401
from .batchnorm import BatchNorm1d, BatchNorm2d  # noqa: F401
from .mlp import MLP, Residual, SkipConnection  # noqa: F401
from .pooling import AvgPool2d, MaxPool2d  # noqa: F401
from .dropout import Dropout  # noqa: F401
from .linear import Flatten, Identity, Linear, Unflatten  # noqa: F401
from .losses import (BCELoss, BCEWithLogitsLoss, CosineEmbeddingLoss, CosineSimilarity,  # noqa: F401
                     CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss, MSELoss, NLLLoss, SmoothL1Loss)
from .module import Module  # noqa: F401
from .parameter import Parameter  # noqa: F401
from .serialization import SerializationError, load, save  # noqa: F401
from .attention import MultiheadAttention  # noqa: F401
from .embedding import Embedding  # noqa: F401
from .normalization import LayerNorm, RMSNorm  # noqa: F401
from .parameter_containers import ParameterDict, ParameterList  # noqa: F401
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell  # noqa: F401
from .transformer import TransformerEncoder, TransformerEncoderLayer  # noqa: F401
