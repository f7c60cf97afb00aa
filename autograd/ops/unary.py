"""Elementwise math: exp log log1p expm1 sqrt rsqrt sin cos abs sign reciprocal.

Integer inputs are converted to float32 first (``exp`` of an int64 tensor is a float32 tensor, as in
PyTorch). Out-of-domain inputs give NaN/Inf silently, as in PyTorch, without numpy warnings.
"""
import numpy as np

from .. import fp_errors
from ..function import Function
from ._args import floating


class Exp(Function):
    """y = eˣ;  dx = dy·y."""

    @staticmethod
    def forward(ctx, x):
        with fp_errors.ignored():
            y = np.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        return grad_output * y

    @staticmethod
    def jvp(ctx, tx):
        """ẏ = ẋ·y."""
        (y,) = ctx.saved_tensors
        return tx * y


class Log(Function):
    """y = ln x;  dx = dy / x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with fp_errors.ignored():
            return np.log(x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output / x

    @staticmethod
    def jvp(ctx, tx):
        """ẏ = ẋ / x."""
        (x,) = ctx.saved_tensors
        return tx / x


class Log1p(Function):
    """y = ln(1 + x), accurate for small x;  dx = dy / (1 + x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with fp_errors.ignored():
            return np.log1p(x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output / (x + 1.0)

    @staticmethod
    def jvp(ctx, tx):
        """ẏ = ẋ / (1 + x)."""
        (x,) = ctx.saved_tensors
        return tx / (x + 1.0)


class Expm1(Function):
    """y = eˣ − 1, accurate for small x;  dx = dy·(y + 1)."""

    @staticmethod
    def forward(ctx, x):
        with fp_errors.ignored():
            y = np.expm1(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        return grad_output * (y + 1.0)

    @staticmethod
    def jvp(ctx, tx):
        """ẏ = ẋ·(y + 1)."""
        (y,) = ctx.saved_tensors
        return tx * (y + 1.0)


class Sqrt(Function):
    """y = √x;  dx = dy / (2y)."""

    @staticmethod
    def forward(ctx, x):
        with fp_errors.ignored():
            y = np.sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        return grad_output / (y * 2.0)

    @staticmethod
    def jvp(ctx, tx):
        """ẏ = ẋ / (2y)."""
        (y,) = ctx.saved_tensors
        return tx / (y * 2.0)


class Rsqrt(Function):
    """y = 1/√x;  dx = −dy·y³/2."""

    @staticmethod
    def forward(ctx, x):
        with fp_errors.ignored():
            y = 1.0 / np.sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        return grad_output * (y * y * y) * -0.5

    @staticmethod
    def jvp(ctx, tx):
        """ẏ = −ẋ·y³/2."""
        (y,) = ctx.saved_tensors
        return tx * (y * y * y) * -0.5


class Reciprocal(Function):
    """y = 1/x;  dx = −dy·y²."""

    @staticmethod
    def forward(ctx, x):
        with fp_errors.ignored():
            y = 1.0 / x
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        return -grad_output * (y * y)

    @staticmethod
    def jvp(ctx, tx):
        """ẏ = −ẋ·y²."""
        (y,) = ctx.saved_tensors
        return -tx * (y * y)


class Sin(Function):
    """y = sin x;  dx = dy·cos x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.sin(x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * cos(x)

    @staticmethod
    def jvp(ctx, tx):
        """ẏ = ẋ·cos x."""
        (x,) = ctx.saved_tensors
        return tx * cos(x)


class Cos(Function):
    """y = cos x;  dx = −dy·sin x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.cos(x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return -grad_output * sin(x)

    @staticmethod
    def jvp(ctx, tx):
        """ẏ = −ẋ·sin x."""
        (x,) = ctx.saved_tensors
        return -tx * sin(x)


class Abs(Function):
    """y = |x|;  dx = dy·sign(x) (0 at x = 0, PyTorch's subgradient)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(np.sign(x))
        return np.abs(x)

    @staticmethod
    def backward(ctx, grad_output):
        (sign_x,) = ctx.saved_tensors
        return grad_output * sign_x

    @staticmethod
    def jvp(ctx, tx):
        """ẏ = ẋ·sign(x)."""
        (sign_x,) = ctx.saved_tensors
        return tx * sign_x


class Sign(Function):
    """y = sign(x);  dx = 0 everywhere it is defined."""

    @staticmethod
    def forward(ctx, x):
        return np.sign(x)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output * 0.0

    @staticmethod
    def jvp(ctx, tx):
        """ẏ = 0."""
        return tx * 0.0


def exp(input):
    return Exp.apply(floating(input))


def log(input):
    return Log.apply(floating(input))


def log1p(input):
    return Log1p.apply(floating(input))


def expm1(input):
    return Expm1.apply(floating(input))


def sqrt(input):
    return Sqrt.apply(floating(input))


def rsqrt(input):
    return Rsqrt.apply(floating(input))


def reciprocal(input):
    return Reciprocal.apply(floating(input))


def sin(input):
    return Sin.apply(floating(input))


def cos(input):
    return Cos.apply(floating(input))


def abs(input):
    if input.dtype.kind != "f":
        from ._args import computed
        return computed(np.abs, input._data, dtype=input.dtype)
    return Abs.apply(input)


def sign(input):
    if input.dtype.kind != "f":
        from ._args import computed
        return computed(np.sign, input._data, dtype=input.dtype)
    return Sign.apply(input)


absolute = abs
