"""Batch normalisation as two ops: the batch's statistics, then the normalisation with its affine map.

Training (the course's Batch Normalising Transform, per channel c over the batch and spatial dims):
    μ = mean x,  σ² = mean (x − μ)² (biased),  x̂ = (x − μ)/√(σ² + ε),  y = γ x̂ + β
and, when running statistics are given, they are updated in place as PyTorch does:
    running_mean ← (1 − momentum)·running_mean + momentum·μ
    running_var  ← (1 − momentum)·running_var  + momentum·σ²·n/(n − 1)   (unbiased)
The course writes the same moving average with the complementary factor,
μ̄ ← μ̄·m + (1 − m)·μ, i.e. its m is ``1 − momentum``. Evaluation normalises with the running
statistics instead of the batch's.

Written with Tensor ops, training records about thirty nodes, and as many passes over the
activation in forward and backward. Here:

* ``BatchStatistics``: x ↦ the (2, C) float64 array of each channel's mean and biased variance (two
  passes over x). It records no gradient: ``BatchNorm``'s backward accounts for the statistics'
  dependence on x itself. Its output is a tensor, so the running statistics are updated with Tensor
  ops (which a compiled step replays) from what the normalisation used.
* ``BatchNorm``: y = (x − μ)·(γ/σ) + β in one pass; backward in two (the channel sums Σg and Σg·x̂,
  then dx), the closed form of the gradient instead of the graph of the composed ops.

``batch_norm`` gives ``BatchNorm`` no γ and β and applies them as two Tensor ops on x̂ (see the note
there); the op takes them too, and is tested with them.
"""
import numpy as np

from .. import fp_errors, grad_mode, kernels, tracing
from ..function import Function
from ..tensor import Tensor, make_tensor


def _stat_shape(ndim, channels):
    return (1, channels) + (1,) * (ndim - 2)


def _dims(ndim):
    return (0,) + tuple(range(2, ndim))


def _rstd(var, eps):
    """1/√(var + eps) in float64 (var a (C,) array of any float dtype)."""
    return 1.0 / np.sqrt(np.asarray(var, np.float64) + eps)


class BatchStatistics(Function):
    """s = [mean x; mean (x − mean x)²] per channel (axis 1) of x (N, C, *): a (2, C) float64 array.

    No gradient is recorded: its only use is ``BatchNorm``'s ``stats`` argument in training, whose
    backward differentiates through the statistics (and the running-statistics update, under no_grad)."""

    differentiable = False

    @staticmethod
    def forward(ctx, x):
        with fp_errors.ignored():
            mean, var = kernels.normalization_channels.channel_moments(x)
        return np.stack([mean, var])


class _PlainBackward:
    """BatchNorm's gradients (those asked for, in the order x, stats, weight, bias) on the arrays:

    training: dx = (γ/σ)·(g − mean(g) − x̂·mean(g·x̂)),  dγ = Σ g·x̂,  dβ = Σ g;
    evaluation (fixed μ, σ² = s): dx = (γ/σ)·g,  dμ = −(γ/σ)·Σ g,  dσ² = −½·(γ/σ²)·Σ g·x̂ (that is,
    −½·γ·σ⁻³·Σ g·(x − μ)), dγ and dβ as in training."""

    returns_tuple = True  # a replay unpacks the result as a tuple even when one gradient is asked for

    def __init__(self, batch_stats, eps, needs):
        self.batch_stats, self.eps, self.needs = batch_stats, eps, needs

    def __call__(self, g, x, stats, weight):
        need_x, need_s, need_w, need_b = self.needs
        k = kernels.normalization_channels
        mean, rstd = stats[0], _rstd(stats[1], self.eps)
        w = np.ones_like(rstd) if weight is None else weight.astype(np.float64)
        out = []
        with fp_errors.ignored():
            sums = None
            if self.batch_stats or need_s or need_w or need_b:
                sums = k.normalize_backward_sums(g, x, mean, rstd)
            if need_x:
                if self.batch_stats:
                    count = x.size // x.shape[1]
                    out.append(k.normalize_backward_input(g, x, mean, rstd, w * rstd, sums[0] / count,
                                                          sums[1] / count))
                else:
                    out.append(k.channel_scale(g, w * rstd))
            if need_s:
                out.append(np.stack([-w * rstd * sums[0], -0.5 * w * rstd * rstd * sums[1]]).astype(stats.dtype))
            if need_w:
                out.append(sums[1].astype(weight.dtype))
            if need_b:
                out.append(sums[0].astype(g.dtype))
        return tuple(out)


class BatchNorm(Function):
    """y = x̂·γ + β with x̂ = (x − μ)/σ per channel (axis 1) of x (N, C, *), μ = s[0] and σ = √(s[1] + ε);
    γ (``weight``) and β (``bias``) of shape (C,), optional.

    ``batch_stats=True``: s is ``BatchStatistics(x)`` (the same x), and the gradient goes through the
    statistics: dx = (γ/σ)·(g − mean(g) − x̂·mean(g·x̂)), dγ = Σ g·x̂, dβ = Σ g over all axes but 1.
    ``batch_stats=False``: s is fixed statistics (the running ones): dx = (γ/σ)·g, with gradients for
    s as well (dμ = −Σ g·γ/σ, dσ² = −½ Σ g·γ·x̂/σ²).

    A recorded backward (create_graph) recomputes μ, σ and x̂ as Tensor ops from x (training) or from
    s (evaluation), so higher derivatives follow; a plain one runs the kernels on the arrays.
    """

    @staticmethod
    def forward(ctx, x, stats, weight, bias, eps, batch_stats):
        mean, rstd = stats[0], _rstd(stats[1], eps)
        scale = rstd if weight is None else rstd * weight
        shift = np.zeros_like(rstd) if bias is None else bias
        with fp_errors.ignored():
            out = kernels.normalization_channels.normalize(x, mean, scale, shift)
        ctx.eps, ctx.batch_stats = eps, batch_stats
        ctx.save_for_backward(x, stats, weight)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        x, stats, weight = ctx.saved_tensors
        needs = tuple(ctx.needs_input_grad[:4])
        if ctx.batch_stats:
            needs = (needs[0], False) + needs[2:]  # the statistics are BatchStatistics(x): through x
        if not grad_mode.is_grad_enabled():  # a plain backward: the kernels on the arrays
            w = weight._data if weight is not None else None
            grads = iter(tracing.computed(_PlainBackward(ctx.batch_stats, ctx.eps, needs), grad_output._data,
                                          x._data, stats._data, w))
            return tuple(make_tensor(next(grads), False, None, None) if need else None for need in needs) + (None, None)
        return _recorded_backward(grad_output, x, stats, weight, ctx.eps, ctx.batch_stats, needs) + (None, None)

    @staticmethod
    def jvp(ctx, x_tangent, stats_tangent, weight_tangent, bias_tangent, _eps, _batch_stats):
        x, stats, weight = ctx.saved_tensors
        shape = _stat_shape(x.ndim, x.shape[1])
        dims = _dims(x.ndim)
        xhat, rstd, mean = _normalized_tensors(x, stats, ctx.eps, ctx.batch_stats)
        total = None
        if x_tangent is not None:
            if ctx.batch_stats:
                total = rstd * (x_tangent - x_tangent.mean(dims, keepdim=True)
                                - xhat * (x_tangent * xhat).mean(dims, keepdim=True))
            else:
                total = rstd * x_tangent
        if stats_tangent is not None and not ctx.batch_stats:
            d_mean = stats_tangent[0].reshape(shape).to(x.dtype)
            d_var = stats_tangent[1].reshape(shape).to(x.dtype)
            term = -rstd * d_mean - 0.5 * xhat * rstd * rstd * d_var
            total = term if total is None else total + term
        if total is not None and weight is not None:
            total = total * weight.reshape(shape)
        if weight_tangent is not None:
            term = xhat * weight_tangent.reshape(shape)
            total = term if total is None else total + term
        if bias_tangent is not None:
            term = bias_tangent.reshape(shape)  # broadcast to the output by the forward-mode machinery
            total = term if total is None else total + term
        return total


def _normalized_tensors(x, stats, eps, batch_stats):
    """(x̂, 1/σ, μ) as Tensor ops: from x itself in training, from the given statistics otherwise."""
    shape = _stat_shape(x.ndim, x.shape[1])
    if batch_stats:
        dims = _dims(x.ndim)
        mean = x.mean(dims, keepdim=True)
        centred = x - mean
        rstd = ((centred * centred).mean(dims, keepdim=True) + eps).rsqrt()
        return centred * rstd, rstd, mean
    mean = stats[0].reshape(shape).to(x.dtype)
    rstd = (stats[1].reshape(shape).to(x.dtype) + eps).rsqrt()
    return (x - mean) * rstd, rstd, mean


def _recorded_backward(g, x, stats, weight, eps, batch_stats, needs):
    """BatchNorm's gradients as Tensor ops (differentiable again)."""
    need_x, need_s, need_w, need_b = needs
    shape = _stat_shape(x.ndim, x.shape[1])
    dims = _dims(x.ndim)
    xhat, rstd, _mean = _normalized_tensors(x, stats, eps, batch_stats)
    gw = g * weight.reshape(shape) if weight is not None else g
    dx = ds = dw = db = None
    if need_x:
        if batch_stats:
            dx = rstd * (gw - gw.mean(dims, keepdim=True) - xhat * (gw * xhat).mean(dims, keepdim=True))
        else:
            dx = gw * rstd
    if need_s:
        from .join import stack
        d_mean = -(gw * rstd).sum(dims)
        d_var = (gw * xhat).sum(dims) * (rstd * rstd).reshape(-1) * -0.5
        ds = stack([d_mean, d_var]).to(stats.dtype)
    if need_w:
        dw = (g * xhat).sum(dims).to(weight.dtype)
    if need_b:
        db = g.sum(dims)
    return dx, ds, dw, db


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5):
    """Normalise ``input`` (N, C) or (N, C, *) per channel C (as ``torch.nn.functional.batch_norm``).

    With ``training=True`` (or no running statistics) the batch's statistics are used and, if given,
    ``running_mean``/``running_var`` (shape (C,)) are updated in place with ``momentum``; otherwise
    the running statistics normalise. ``weight`` (γ) and ``bias`` (β) have shape (C,)."""
    op = "batch_norm"
    if not isinstance(input, Tensor) or input.ndim < 2:
        raise ValueError(f"{op}: expected an input of shape (N, C) or (N, C, ...), got "
                         f"{tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__}")
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point input, got {input.dtype}")
    channels = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if t is not None and tuple(t.shape) != (channels,):
            raise ValueError(f"{op}: {name} of shape {tuple(t.shape)} does not match the {channels} "
                             f"channels of the input of shape {tuple(input.shape)}")
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{op}: give both running_mean and running_var, or neither")
    if weight is not None and weight.dtype != input.dtype:
        weight = weight.to(input.dtype)
    if bias is not None and bias.dtype != input.dtype:
        bias = bias.to(input.dtype)
    if input.numel() == 0:  # an empty batch: an empty result, statistics untouched (as in torch)
        return _affine(input * 1.0, weight, bias, _stat_shape(input.ndim, channels))
    eps = float(eps)
    shape = _stat_shape(input.ndim, channels)
    # The affine map stays two Tensor ops after the normalisation (BatchNorm.apply can take weight
    # and bias itself): the compiler's fusion pass turns Mul, Add and a following ReLU into one
    # kernel (scale_shift_relu), and its tests rely on that chain.
    if not (training or running_mean is None):
        from .join import stack
        stats = stack([running_mean.to(np.float64), running_var.to(np.float64)])
        return _affine(BatchNorm.apply(input, stats, None, None, eps, False), weight, bias, shape)
    count = input.numel() // channels
    if training and count == 1:
        raise ValueError(f"{op}: expected more than 1 value per channel when training, got input of "
                         f"shape {tuple(input.shape)}")
    stats = BatchStatistics.apply(input)
    if training and running_mean is not None:
        with grad_mode.no_grad(), fp_errors.ignored():
            m = float(momentum)
            running_mean.mul_(1.0 - m).add_(stats[0].to(running_mean.dtype) * m)
            unbiased = stats[1] * (count / (count - 1))
            running_var.mul_(1.0 - m).add_(unbiased.to(running_var.dtype) * m)
    return _affine(BatchNorm.apply(input, stats, None, None, eps, True), weight, bias, shape)


def _affine(normalised, weight, bias, shape):
    if weight is not None:
        normalised = normalised * weight.reshape(shape)
    if bias is not None:
        normalised = normalised + bias.reshape(shape)
    return normalised
