"""Layer normalisation as one op: y = (x − mean)/√(var + eps)·w + b over the last dims of each sample.

Written op by op it records nine nodes (two means, a difference, a square, a sum, a square root, three
products and sums); a transformer runs it twice per block. One node here, with the gradient of the
normalisation in its closed form; forward and the plain backward are row kernels
(``kernels.normalization_rows``), which keep each row's mean and 1/σ instead of x̂.
"""
from .. import kernels, tracing
from ..function import Function
from ..grad_mode import is_grad_enabled
from ..tensor import make_tensor


def _normalize_tensors(x, axes, eps):
    centred = x - x.mean(axes, keepdim=True)
    rstd = ((centred * centred).mean(axes, keepdim=True) + eps).rsqrt()
    return centred * rstd, rstd


def _through_normalize(d, xhat, rstd, axes):
    """The gradient (or tangent) d pulled through x ↦ x̂: rstd·(d − mean(d) − x̂·mean(d·x̂)) (the map is
    symmetric, so the same formula serves backward and forward)."""
    return rstd * (d - d.mean(axes, keepdim=True) - xhat * (d * xhat).mean(axes, keepdim=True))


class _PlainBackward:
    """The gradients (those asked for, in the order x, weight, bias) on the arrays forward kept:
    dx = (1/σ)·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) with ĝ = g·w, dw = Σ g·x̂, db = Σ g (one row kernel)."""

    def __init__(self, dims, need_x, need_w, need_b):
        self.dims, self.needs = dims, (need_x, need_w, need_b)

    def __call__(self, g, x, weight, mean, rstd):
        grads = kernels.normalization_rows.layer_norm_backward(g, x, weight, mean, rstd, self.dims, *self.needs)
        return tuple(grad for grad in grads if grad is not None)


class LayerNorm(Function):
    """y = x̂·w + b with x̂ = (x − μ)/σ, μ and σ² = mean((x − μ)²) + eps over ``axes`` (the last dims);
    w and b (shaped as those dims) optional.

    dx = (1/σ)·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·w;  dw = Σ dy·x̂ and db = Σ dy over the leading
    dims. Tangent: ẏ = x̂̇·w + x̂·ẇ + ḃ with x̂̇ the same closed form applied to ẋ. A recorded backward
    (create_graph) recomputes x̂ and 1/σ as Tensor ops from the saved input, so higher derivatives
    follow; a plain one uses the arrays kept from forward.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, axes, eps):
        y, mean, rstd = kernels.normalization_rows.layer_norm_forward(x, weight, bias, len(axes), eps)
        ctx.axes, ctx.eps = axes, eps
        ctx.mean, ctx.rstd = mean, rstd
        ctx.save_for_backward(x, weight)
        return y

    @staticmethod
    def backward(ctx, grad_output):
        x, weight = ctx.saved_tensors
        axes = ctx.axes
        lead = tuple(range(x.ndim - len(axes)))
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        if not is_grad_enabled():  # a plain backward: on the arrays kept from forward
            w = weight._data if weight is not None else None
            grads = iter(tracing.computed(_PlainBackward(len(axes), need_x, need_w, need_b), grad_output._data,
                                          x._data, w, ctx.mean, ctx.rstd))
            wrap = lambda need: make_tensor(next(grads), False, None, None) if need else None  # noqa: E731
            return wrap(need_x), wrap(need_w), wrap(need_b), None, None
        xhat, rstd = _normalize_tensors(x, axes, ctx.eps)
        gw = grad_output * weight if weight is not None else grad_output
        dx = _through_normalize(gw, xhat, rstd, axes) if need_x else None
        dw = db = None
        if need_w:
            dw = grad_output * xhat
            dw = dw.sum(lead) if lead else dw
        if need_b:
            db = grad_output.sum(lead) if lead else grad_output * 1.0
        return dx, dw, db, None, None

    @staticmethod
    def jvp(ctx, x_tangent, weight_tangent, bias_tangent, _axes, _eps):
        x, weight = ctx.saved_tensors
        xhat, rstd = _normalize_tensors(x, ctx.axes, ctx.eps)
        total = None
        if x_tangent is not None:
            total = _through_normalize(x_tangent, xhat, rstd, ctx.axes)
            if weight is not None:
                total = total * weight
        if weight_tangent is not None:
            term = xhat * weight_tangent
            total = term if total is None else total + term
        if bias_tangent is not None:
            total = bias_tangent if total is None else total + bias_tangent
        return total


def layer_norm(input, axes, weight=None, bias=None, eps=1e-5):
    """The normalisation of ``F.layer_norm`` over ``axes`` (a tuple of the last dims, checked by the
    caller), as one recorded op."""
    if weight is not None and weight.dtype != input.dtype:
        weight = weight.to(input.dtype)
    if bias is not None and bias.dtype != input.dtype:
        bias = bias.to(input.dtype)
    return LayerNorm.apply(input, weight, bias, tuple(axes), float(eps))
