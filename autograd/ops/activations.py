"""Activations with fused Numba kernels: sigmoid tanh relu gelu softmax log_softmax.

Each forward is one kernel pass. Each backward is itself a Function (``SigmoidGrad``...) whose
forward is one fused kernel pass over (grad, saved value), and whose own backward is written with
Tensor ops, so second derivatives come from the same mechanism as any other op. The gradient ops are
named ``...Grad``, so a second-order graph reads ``SigmoidGradBackward``, the node that differentiates
the gradient of sigmoid.
"""
import math

import numpy as np

from ..dual import add_tangents
from ..function import Function
from .. import kernels
from ..tensor import normalize_dim
from ._args import floating


def _along_last(kernel, dim, *arrays):
    """Run a last-axis kernel along ``dim`` by moving that axis last and back."""
    if dim == arrays[0].ndim - 1:
        return kernel(*arrays)
    moved = [np.moveaxis(a, dim, -1) for a in arrays]
    return np.moveaxis(kernel(*moved), -1, dim)


class Sigmoid(Function):
    """y = σ(x) = 1/(1+e⁻ˣ) (stable for any x);  dx = dy·y(1−y)."""

    @staticmethod
    def forward(ctx, x):
        y = kernels.elementwise.sigmoid_forward(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        return SigmoidGrad.apply(grad_output, y)

    @staticmethod
    def jvp(ctx, tx):
        """ẏ = ẋ·y(1−y)."""
        (y,) = ctx.saved_tensors
        return SigmoidGrad.apply(tx, y)


class SigmoidGrad(Function):
    """z = g·y(1−y) in one pass;  dg = dz·y(1−y),  dy = dz·g(1−2y)."""

    @staticmethod
    def forward(ctx, g, y):
        ctx.save_for_backward(g, y)
        return kernels.elementwise.sigmoid_backward(g, y)

    @staticmethod
    def backward(ctx, grad_output):
        g, y = ctx.saved_tensors
        dg = SigmoidGrad.apply(grad_output, y) if ctx.needs_input_grad[0] else None
        dy = grad_output * g * (1.0 - y * 2.0) if ctx.needs_input_grad[1] else None
        return dg, dy

    @staticmethod
    def jvp(ctx, tg, ty):
        """ż = ġ·y(1−y) + ẏ·g(1−2y)."""
        g, y = ctx.saved_tensors
        dg = None if tg is None else SigmoidGrad.apply(tg, y)
        dy = None if ty is None else ty * g * (1.0 - y * 2.0)
        return add_tangents(dg, dy)


class Tanh(Function):
    """y = tanh x;  dx = dy·(1−y²)."""

    @staticmethod
    def forward(ctx, x):
        y = kernels.elementwise.tanh_forward(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        return TanhGrad.apply(grad_output, y)

    @staticmethod
    def jvp(ctx, tx):
        """ẏ = ẋ·(1−y²)."""
        (y,) = ctx.saved_tensors
        return TanhGrad.apply(tx, y)


class TanhGrad(Function):
    """z = g·(1−y²) in one pass;  dg = dz·(1−y²),  dy = −2·dz·g·y."""

    @staticmethod
    def forward(ctx, g, y):
        ctx.save_for_backward(g, y)
        return kernels.elementwise.tanh_backward(g, y)

    @staticmethod
    def backward(ctx, grad_output):
        g, y = ctx.saved_tensors
        dg = TanhGrad.apply(grad_output, y) if ctx.needs_input_grad[0] else None
        dy = grad_output * g * y * -2.0 if ctx.needs_input_grad[1] else None
        return dg, dy

    @staticmethod
    def jvp(ctx, tg, ty):
        """ż = ġ·(1−y²) − 2ẏ·g·y."""
        g, y = ctx.saved_tensors
        dg = None if tg is None else TanhGrad.apply(tg, y)
        dy = None if ty is None else ty * g * y * -2.0
        return add_tangents(dg, dy)


class Relu(Function):
    """y = max(x, 0);  dx = dy where y > 0 (0 at x = 0, as PyTorch)."""

    @staticmethod
    def forward(ctx, x):
        y = kernels.elementwise.relu_forward(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        return ReluGrad.apply(grad_output, y)

    @staticmethod
    def jvp(ctx, tx):
        """ẏ = ẋ where y > 0."""
        (y,) = ctx.saved_tensors
        return ReluGrad.apply(tx, y)


class ReluGrad(Function):
    """z = g where y > 0 in one pass;  dg = dz where y > 0,  dy = 0."""

    @staticmethod
    def forward(ctx, g, y):
        ctx.save_for_backward(y)
        return kernels.elementwise.relu_backward(g, y)

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        return ReluGrad.apply(grad_output, y), None

    @staticmethod
    def jvp(ctx, tg, ty):
        """ż = ġ where y > 0 (y's tangent does not move the mask)."""
        if tg is None:
            return None
        (y,) = ctx.saved_tensors
        return ReluGrad.apply(tg, y)


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715


class Gelu(Function):
    """y = x·Φ(x) (exact, Φ the normal CDF) or 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))) ('tanh');
    dx = dy·GELU'(x).  When recording, the forward pass also computes GELU'(x) (it shares all the
    work with GELU(x)) and saves it, so the backward is one multiplication."""

    @staticmethod
    def forward(ctx, x, approximate):
        ctx.approximate = approximate
        if not ctx.needs_input_grad:  # nothing recorded: no derivative to keep
            return kernels.elementwise.gelu_forward(x, approximate)
        y, derivative = kernels.elementwise.gelu_forward(x, approximate, with_derivative=True)
        ctx.save_for_backward(x, derivative)
        return y

    @staticmethod
    def backward(ctx, grad_output):
        x, derivative = ctx.saved_tensors
        return GeluGrad.apply(grad_output, x, derivative, ctx.approximate), None

    @staticmethod
    def jvp(ctx, tx, _):
        """ẏ = ẋ·GELU'(x) (GELU'(x) from the forward kernel when it was not saved)."""
        (x,) = ctx.primal_inputs[:1]
        if ctx.needs_input_grad:  # recorded: forward saved (x, GELU'(x))
            derivative = ctx.saved_tensors[1]
        else:  # forward computed GELU'(x) only when recording: run it again as a recording forward would
            from ._args import constant
            keep = _KeepSaved()
            Gelu.forward(keep, x._data, ctx.approximate)
            derivative = constant(keep.saved[1], x.dtype)
        return GeluGrad.apply(tx, x, derivative, ctx.approximate)


class GeluGrad(Function):
    """z = g·GELU'(x) in one pass (GELU'(x) as saved by the forward);  dg = dz·GELU'(x),
    dx = dz·g·GELU''(x)."""

    @staticmethod
    def forward(ctx, g, x, derivative, approximate):
        ctx.save_for_backward(g, x, derivative)
        ctx.approximate = approximate
        return kernels.elementwise.gelu_backward_from_derivative(g, derivative)

    @staticmethod
    def backward(ctx, grad_output):
        g, x, derivative = ctx.saved_tensors
        dg = GeluGrad.apply(grad_output, x, derivative, ctx.approximate) if ctx.needs_input_grad[0] else None
        dx = grad_output * g * _gelu_second_derivative(x, ctx.approximate) if ctx.needs_input_grad[1] else None
        return dg, dx, None, None

    @staticmethod
    def jvp(ctx, tg, tx, _derivative, _approximate):
        """ż = ġ·GELU'(x) + ẋ·g·GELU''(x) (the derivative argument is GELU'(x), moved by ẋ)."""
        g, x, derivative = ctx.saved_tensors
        dg = None if tg is None else GeluGrad.apply(tg, x, derivative, ctx.approximate)
        dx = None if tx is None else tx * g * _gelu_second_derivative(x, ctx.approximate)
        return add_tangents(dg, dx)


class _KeepSaved:
    """A stand-in ctx for running a forward as if recording, to read what it saves."""
    needs_input_grad = (True,)

    def save_for_backward(self, *arrays):
        self.saved = arrays


def _gelu_second_derivative(x, approximate):
    from .unary import exp
    if approximate == "none":
        # GELU'' = φ(x)(2 − x²), φ the normal density
        return exp(x * x * -0.5) * (1.0 / math.sqrt(2.0 * math.pi)) * (2.0 - x * x)
    u_prime = (1.0 + x * x * (3.0 * _GELU_CUBIC)) * _SQRT_2_OVER_PI
    t = tanh(x * _SQRT_2_OVER_PI + x * x * x * (_GELU_CUBIC * _SQRT_2_OVER_PI))
    sech2 = 1.0 - t * t
    u_second = x * (6.0 * _GELU_CUBIC * _SQRT_2_OVER_PI)
    return sech2 * u_prime + x * 0.5 * (sech2 * u_second - t * sech2 * u_prime * u_prime * 2.0)


class Softmax(Function):
    """yᵢ = e^(xᵢ−m) / Σⱼ e^(xⱼ−m) along ``dim`` (m the max, so nothing overflows);
    dx = y ⊙ (dy − Σ dy ⊙ y)."""

    @staticmethod
    def forward(ctx, x, dim):
        y = _along_last(kernels.rows.softmax_forward, dim, x)
        ctx.save_for_backward(y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        return SoftmaxGrad.apply(grad_output, y, ctx.dim), None

    @staticmethod
    def jvp(ctx, tx, _):
        """ẏ = y ⊙ (ẋ − Σ ẋ⊙y) = J ẋ, J = diag(y) − yyᵀ."""
        (y,) = ctx.saved_tensors
        return SoftmaxGrad.apply(tx, y, ctx.dim)


class SoftmaxGrad(Function):
    """z = y ⊙ (g − Σ g⊙y) in one pass (J = diag(y) − yyᵀ is symmetric, so dg = J dz);
    dy = dz ⊙ (g − Σ g⊙y) − g · Σ dz⊙y."""

    @staticmethod
    def forward(ctx, g, y, dim):
        ctx.save_for_backward(g, y)
        ctx.dim = dim
        return _along_last(kernels.rows.softmax_backward, dim, g, y)

    @staticmethod
    def backward(ctx, grad_output):
        from .reduction import sum as sum_
        g, y = ctx.saved_tensors
        dim = ctx.dim
        dg = SoftmaxGrad.apply(grad_output, y, dim) if ctx.needs_input_grad[0] else None
        dy = None
        if ctx.needs_input_grad[1]:
            dy = (grad_output * (g - sum_(g * y, dim, keepdim=True))
                  - g * sum_(grad_output * y, dim, keepdim=True))
        return dg, dy, None

    @staticmethod
    def jvp(ctx, tg, ty, _):
        """ż = y⊙(ġ − Σ ġ⊙y) + ẏ⊙(g − Σ g⊙y) − y·Σ g⊙ẏ."""
        from .reduction import sum as sum_
        g, y = ctx.saved_tensors
        dim = ctx.dim
        dg = None if tg is None else SoftmaxGrad.apply(tg, y, dim)
        dy = None if ty is None else (ty * (g - sum_(g * y, dim, keepdim=True))
                                      - y * sum_(g * ty, dim, keepdim=True))
        return add_tangents(dg, dy)


class LogSoftmax(Function):
    """yᵢ = xᵢ − logΣⱼ eˣʲ along ``dim`` (stable);  dx = dy − eʸ Σ dy."""

    @staticmethod
    def forward(ctx, x, dim):
        y = _along_last(kernels.rows.log_softmax_forward, dim, x)
        ctx.save_for_backward(y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        return LogSoftmaxGrad.apply(grad_output, y, ctx.dim), None

    @staticmethod
    def jvp(ctx, tx, _):
        """ẏ = ẋ − Σ ẋ⊙eʸ."""
        from .reduction import sum as sum_
        from .unary import exp
        (y,) = ctx.saved_tensors
        return tx - sum_(tx * exp(y), ctx.dim, keepdim=True)


class LogSoftmaxGrad(Function):
    """z = g − eʸ Σ g in one pass;  dg = dz − Σ dz⊙eʸ,  dy = −dz ⊙ eʸ Σ g."""

    @staticmethod
    def forward(ctx, g, y, dim):
        ctx.save_for_backward(g, y)
        ctx.dim = dim
        return _along_last(kernels.rows.log_softmax_backward, dim, g, y)

    @staticmethod
    def backward(ctx, grad_output):
        from .reduction import sum as sum_
        from .unary import exp
        g, y = ctx.saved_tensors
        dim = ctx.dim
        p = exp(y)
        dg = grad_output - sum_(grad_output * p, dim, keepdim=True) if ctx.needs_input_grad[0] else None
        dy = -grad_output * p * sum_(g, dim, keepdim=True) if ctx.needs_input_grad[1] else None
        return dg, dy, None

    @staticmethod
    def jvp(ctx, tg, ty, _):
        """ż = ġ − eʸ Σ ġ − (ẏ⊙eʸ) Σ g."""
        from .reduction import sum as sum_
        from .unary import exp
        g, y = ctx.saved_tensors
        dim = ctx.dim
        p = exp(y)
        dg = None if tg is None else tg - p * sum_(tg, dim, keepdim=True)
        dy = None if ty is None else -(ty * p) * sum_(g, dim, keepdim=True)
        return add_tangents(dg, dy)


def sigmoid(input):
    return Sigmoid.apply(floating(input))


def tanh(input):
    return Tanh.apply(floating(input))


def relu(input):
    if input.dtype.kind != "f":
        from ._args import computed
        return computed(np.maximum, input._data, 0, dtype=input.dtype)
    return Relu.apply(input)


def gelu(input, approximate="none"):
    """GELU: exact (``approximate='none'``, x·Φ(x)) or the tanh approximation (``'tanh'``)."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return Gelu.apply(floating(input), approximate)


def _dim_or_last(input, dim, op):
    if dim is None:
        dim = -1 if input.ndim != 0 else 0
    return normalize_dim(dim, max(input.ndim, 1), op)


def softmax(input, dim=None, *, dtype=None):
    """Softmax along ``dim`` (the last dim when None), computed stably."""
    input = floating(input if dtype is None else input.to(dtype))
    if input.ndim == 0:
        return input * 0.0 + 1.0
    return Softmax.apply(input, _dim_or_last(input, dim, "softmax"))


def log_softmax(input, dim=None, *, dtype=None):
    """log(softmax(x)) along ``dim``, computed as x − logsumexp(x) without overflow or log(0)."""
    input = floating(input if dtype is None else input.to(dtype))
    if input.ndim == 0:
        return input * 0.0
    return LogSoftmax.apply(input, _dim_or_last(input, dim, "log_softmax"))
