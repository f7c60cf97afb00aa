"""Neural-net ops whose composition from other ops would overflow or warn: ``softplus``,
``log_sigmoid``, ``elu``, ``silu`` and ``binary_cross_entropy`` (BCE with its log clamped at −100).

Forwards are numpy passes in their stable form; backwards are Tensor computations, so second
derivatives come from the same mechanism as any other op.
"""
import numpy as np

from .. import fp_errors
from ..function import Function
from ._args import floating


def _stable_softplus(z):
    """log(1 + eᶻ) = max(z, 0) + log1p(e^−|z|): no overflow for any z."""
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


class Softplus(Function):
    """y = (1/β)·log(1 + e^(βx)), and y = x where βx > threshold (PyTorch's linear region);
    dx = dy·σ(βx) (1 in the linear region)."""

    @staticmethod
    def forward(ctx, x, beta, threshold):
        ctx.save_for_backward(x)
        ctx.beta, ctx.threshold = beta, threshold
        z = x * beta
        y = _stable_softplus(z) / beta
        return np.where(z > threshold, x, y).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad_output):
        from .activations import sigmoid
        from .arithmetic import where
        (x,) = ctx.saved_tensors
        z = x * ctx.beta
        slope = where(z > ctx.threshold, 1.0, sigmoid(z))
        return grad_output * slope, None, None

    @staticmethod
    def jvp(ctx, tx, _beta, _threshold):
        """ẏ = ẋ·σ(βx) (ẋ in the linear region)."""
        from .activations import sigmoid
        from .arithmetic import where
        (x,) = ctx.saved_tensors
        z = x * ctx.beta
        return tx * where(z > ctx.threshold, 1.0, sigmoid(z))


class Elu(Function):
    """y = x (x > 0), α(eˣ − 1) (x ≤ 0), scaled by ``scale`` (SELU);  dx = dy·scale·(1 or αeˣ)."""

    @staticmethod
    def forward(ctx, x, alpha, scale):
        ctx.save_for_backward(x)
        ctx.alpha, ctx.scale = alpha, scale
        negative = alpha * np.expm1(np.minimum(x, 0))
        return (scale * np.where(x > 0, x, negative)).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad_output):
        from .arithmetic import clamp, where
        from .unary import exp
        (x,) = ctx.saved_tensors
        slope = where(x > 0, ctx.scale, exp(clamp(x, max=0.0)) * (ctx.alpha * ctx.scale))
        return grad_output * slope, None, None

    @staticmethod
    def jvp(ctx, tx, _alpha, _scale):
        """ẏ = ẋ·scale·(1 where x > 0, else αeˣ)."""
        from .arithmetic import clamp, where
        from .unary import exp
        (x,) = ctx.saved_tensors
        return tx * where(x > 0, ctx.scale, exp(clamp(x, max=0.0)) * (ctx.alpha * ctx.scale))


class BinaryCrossEntropy(Function):
    """ℓ = −(y·max(log p, −100) + (1−y)·max(log(1−p), −100)), elementwise (PyTorch's clamp keeps
    ℓ finite at p ∈ {0, 1});  dp = dℓ·(p − y)/max(p(1−p), 1e−12),  dy = dℓ·(log(1−p) − log p)."""

    @staticmethod
    def forward(ctx, p, y):
        ctx.save_for_backward(p, y)
        with fp_errors.ignored():
            log_p = np.maximum(np.log(p), -100.0)
            log_q = np.maximum(np.log1p(-p), -100.0)
        return -(y * log_p + (1 - y) * log_q)

    @staticmethod
    def backward(ctx, grad_output):
        from .arithmetic import clamp
        p, y = ctx.saved_tensors
        dp = dy = None
        if ctx.needs_input_grad[0]:
            dp = grad_output * (p - y) / clamp(p * (1.0 - p), min=1e-12)
        if ctx.needs_input_grad[1]:
            dy = grad_output * (_clamped_log(1.0 - p) - _clamped_log(p))
        return dp, dy

    @staticmethod
    def jvp(ctx, tp, ty):
        """ℓ̇ = ṗ·(p − y)/max(p(1−p), 1e−12) + ẏ·(log(1−p) − log p) (logs clamped at −100)."""
        from .arithmetic import clamp
        p, y = ctx.saved_tensors
        dp = None if tp is None else tp * (p - y) / clamp(p * (1.0 - p), min=1e-12)
        dy = None if ty is None else ty * (_clamped_log(1.0 - p) - _clamped_log(p))
        return dp if dy is None else dy if dp is None else dp + dy


class Silu(Function):
    """y = x·σ(x);  dx = dy·s with the slope s = σ(x)(1 + x(1 − σ(x))) formed first: composed as
    x·σ(x), the gradient held dy·x, which overflows to inf for large dy and then meets σ'(x) = 0
    (inf·0 = NaN). The slope is a Tensor expression of x, so second derivatives follow."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with fp_errors.ignored():  # e^−x overflows for x ≪ 0: σ = 0 there, exactly
            return x / (1 + np.exp(-x))

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * _silu_slope(x)

    @staticmethod
    def jvp(ctx, tx):
        """ẏ = ẋ·σ(x)(1 + x(1 − σ(x)))."""
        (x,) = ctx.saved_tensors
        return tx * _silu_slope(x)


def _silu_slope(x):
    from .activations import sigmoid
    s = sigmoid(x)
    return s * (x * (1.0 - s) + 1.0)


def _clamped_log(x):
    from .arithmetic import clamp
    from .unary import log
    return clamp(log(clamp(x, min=1e-300)), min=-100.0)


def softplus(input, beta=1.0, threshold=20.0):
    """(1/β)·log(1 + e^(βx)), linear above ``threshold``; finite for any x, with no warnings."""
    if beta == 0:
        raise ValueError("softplus: beta must be nonzero")
    return Softplus.apply(floating(input), float(beta), float(threshold))


def log_sigmoid(input):
    """log σ(x) = −softplus(−x), stable for any x."""
    return -Softplus.apply(-floating(input), 1.0, float("inf"))


def elu(input, alpha=1.0, scale=1.0):
    """ELU: x for x > 0, α(eˣ − 1) otherwise (times ``scale``; SELU is scale·ELU with fixed α)."""
    return Elu.apply(floating(input), float(alpha), float(scale))


def silu(input):
    """x·σ(x) (SiLU, swish), with a gradient that stays finite wherever dy and x are."""
    return Silu.apply(floating(input))


def binary_cross_entropy(input, target):
    """Elementwise −(y log p + (1−y) log(1−p)) with both logs clamped at −100 (no reduction).

    Probabilities outside [0, 1] (or NaN), in the input or the target, raise as in torch: the
    formula would return NaN or a finite, wrong loss."""
    from ._args import binary_operands
    p, y = binary_operands(floating(input), target, "binary_cross_entropy", floating=True)
    if p.shape != y.shape:
        raise ValueError(f"binary_cross_entropy: target shape {tuple(y.shape)} must equal input shape "
                         f"{tuple(p.shape)}")
    for name, t in (("input", p), ("target", y)):
        data = t._data
        if data.size and not (np.all(data >= 0) and np.all(data <= 1)):
            raise RuntimeError(f"binary_cross_entropy: all elements of {name} should be between 0 and 1")
    return BinaryCrossEntropy.apply(p, y)
