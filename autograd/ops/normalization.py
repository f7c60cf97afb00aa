"""Batch normalisation, composed of Tensor ops (its gradients, of any order, come from the graph).

Training (the course's Batch Normalising Transform, per channel c over the batch and spatial dims):
    μ = mean x,  σ² = mean (x − μ)² (biased),  x̂ = (x − μ)/√(σ² + ε),  y = γ x̂ + β
and, when running statistics are given, they are updated in place as PyTorch does:
    running_mean ← (1 − momentum)·running_mean + momentum·μ
    running_var  ← (1 − momentum)·running_var  + momentum·σ²·n/(n − 1)   (unbiased)
The course writes the same moving average with the complementary factor,
μ̄ ← μ̄·m + (1 − m)·μ, i.e. its m is ``1 − momentum``. Evaluation normalises with the running
statistics instead of the batch's.
"""
from .. import fp_errors, grad_mode
from ..tensor import Tensor


def _stat_shape(input):
    return (1, input.shape[1]) + (1,) * (input.ndim - 2)


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
    shape = _stat_shape(input)
    dims = (0,) + tuple(range(2, input.ndim))
    if input.numel() == 0:  # an empty batch: an empty result, statistics untouched (as in torch)
        return _affine(input * 1.0, weight, bias, shape)
    with fp_errors.ignored():  # statistics beyond the float range: inf and NaN, silently, as in torch
        return _normalise(input, running_mean, running_var, weight, bias, training, momentum, eps, shape, dims,
                          channels, op)


def _normalise(input, running_mean, running_var, weight, bias, training, momentum, eps, shape, dims, channels, op):
    if training or running_mean is None:
        count = input.numel() // channels if channels else 0
        if training and count == 1:
            raise ValueError(f"{op}: expected more than 1 value per channel when training, got input of "
                             f"shape {tuple(input.shape)}")
        mean = input.mean(dim=dims, keepdim=True)
        centered = input - mean
        var = (centered * centered).mean(dim=dims, keepdim=True)
        if training and running_mean is not None:
            with grad_mode.no_grad():
                m = float(momentum)
                running_mean.mul_(1.0 - m).add_(mean.detach().reshape(channels).to(running_mean.dtype) * m)
                unbiased = var.detach().reshape(channels) * (count / (count - 1))
                running_var.mul_(1.0 - m).add_(unbiased.to(running_var.dtype) * m)
        normalised = centered * (var + eps).rsqrt()
    else:
        mean = running_mean.to(input.dtype).reshape(shape)
        normalised = (input - mean) * (running_var.to(input.dtype).reshape(shape) + eps).rsqrt()
    return _affine(normalised, weight, bias, shape)


def _affine(normalised, weight, bias, shape):
    if weight is not None:
        normalised = normalised * weight.reshape(shape)
    if bias is not None:
        normalised = normalised + bias.reshape(shape)
    return normalised
