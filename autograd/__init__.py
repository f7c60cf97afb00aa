"""numbagrad's engine: Tensors that record the ops applied to them, and reverse-mode autodiff.

    >>> import autograd as ag
    >>> x = ag.tensor([1.0, 2.0], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    tensor([2., 4.])

Every op is both a function here (``ag.exp(x)``) and a Tensor method (``x.exp()``). The Numba kernels
(``autograd.kernels``) are imported and compiled on first use, so this import stays fast.
"""
from . import allocator as _allocator
from . import name_clash as _name_clash
from . import linalg
from .creation import (Generator, arange, as_tensor, bernoulli, default_generator, empty, empty_like, eye,
                       from_numpy, full, full_like, linspace, manual_seed, normal, ones, ones_like, rand,
                       rand_like, randint, randn, randn_like, randperm, tensor, zeros, zeros_like)
from .dtypes import bool_ as bool  # noqa: A001  (autograd.bool, like torch.bool)
from .dtypes import float16, float32, float64, half, int8, int16, int32, int64, short, uint8
from .engine import grad
from .function import Function
from .grad_mode import detect_anomaly, enable_grad, is_anomaly_enabled, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import (GradcheckError, check_grad, check_hessian, check_jacobian, gradcheck, gradgradcheck,
                        numerical_grad)
from .ops.activations import gelu, log_softmax, relu, sigmoid, softmax, tanh
from .ops.arithmetic import (add, clamp, clip, div, divide, maximum, minimum, mul, multiply, neg, negative, pow,
                             square, sub, subtract, true_divide, where)
from .ops.conv import avg_pool2d, conv2d, max_pool2d
from .ops.conversion import (allclose, clone, eq, equal, ge, gt, isclose, isfinite, isinf, isnan, le,
                             logical_and, logical_not, logical_or, logical_xor, lt, ne)
from .ops.indexing import index_put
from .ops.foreach import (foreach_add, foreach_add_, foreach_addcdiv_, foreach_addcmul_, foreach_div,
                          foreach_div_, foreach_lerp_, foreach_maximum_, foreach_mul, foreach_mul_, foreach_neg,
                          foreach_sqrt, foreach_sqrt_)
from .ops.fused_updates import fused_adam_, fused_sgd_, fused_update_possible
from .ops.join import cat, chunk, concat, concatenate, repeat, split, stack
from .ops.join import pad as _pad
from .ops.linalg import dot, inner, matmul, mm, outer
from .ops.reduction import (amax, amin, argmax, argmin, gather, logsumexp, max, mean, min, norm, prod,
                            scatter_add, std, sum, var)
from .ops.shape import (broadcast_tensors, broadcast_to, expand, flatten, permute, reshape, squeeze, t,
                        transpose, unsqueeze, view)
from .ops.unary import abs, absolute, cos, exp, expm1, log, log1p, reciprocal, rsqrt, sign, sin, sqrt
from .creation import multinomial
from .ops.batched import baddbmm, bmm
from .ops.cumulative import cumsum
from .ops.einsum import einsum
from .ops.masking import masked_fill, tril, triu
from .ops.sorting import argsort, sort, topk
from . import forward_ad, functional  # (torch.autograd.forward_ad and torch.autograd.functional)
from . import tracing
from .compiler import compile  # noqa: A001  (autograd.compile, like torch.compile)
from .scalar import Scalar
from .tensor import Tensor
from .tensor_methods import attach as _attach

_attach()
_allocator.tune_malloc()
_name_clash.warn_if_clashing()  # HIPS autograd installed beside numbagrad: same import name
float = float32  # noqa: A001  (torch.float)
double = float64
long = int64
int = int64  # noqa: A001

__version__ = "0.1.0"


def __getattr__(name):
    # Drawing imports graphviz, so it loads on first use and `import autograd` stays fast.
    if name in ("draw_graph", "GraphvizNotInstalledError"):
        from . import draw
        return getattr(draw, name)
    if name in ("backward_steps", "BackwardSteps"):
        from . import backprop_steps
        return getattr(backprop_steps, name)
    raise AttributeError(f"module 'autograd' has no attribute {name!r}")
