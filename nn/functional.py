"""``nn.functional``: stateless neural-network functions, as ``torch.nn.functional``.

``linear`` (one fused op), the activations with fused kernels (relu, sigmoid, tanh, gelu, softmax,
log_softmax) and the stable ops (softplus, log_sigmoid, elu, binary_cross_entropy) are engine ops
re-exported here; the rest (layers, losses) are compositions of Tensor ops, so their gradients come
from the graph.
Every loss takes ``reduction='mean'|'sum'|'none'``.
"""
import math

import autograd as ag
from autograd import Tensor
from autograd.neural import (avg_pool2d, batch_norm, conv2d, gelu, linear, linear_relu,  # noqa: F401
                             log_sigmoid, log_softmax, max_pool2d, pad, relu, sigmoid, softmax, softplus, tanh)
from autograd.neural import binary_cross_entropy as _bce_elementwise
from autograd.neural import cross_entropy as _fused_cross_entropy
from autograd.neural import elu as _elu

from .functional_dropout import dropout  # noqa: F401
from autograd.neural import silu as _silu
from autograd import fp_errors

from .functional_sequence import (embedding, layer_norm, one_hot, rms_norm,  # noqa: F401,E402
                                  scaled_dot_product_attention)

# PyTorch's SELU constants (Klambauer et al. 2017), to the digits PyTorch uses.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


# ---------------------------------------------------------------------------- layers
def flatten(input, start_dim=1, end_dim=-1):
    return input.flatten(start_dim, end_dim)


# ---------------------------------------------------------------------------- activations
def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x for x > 0, negative_slope·x otherwise."""
    return ag.where(input > 0, input, input * negative_slope)


def prelu(input, weight):
    """x for x > 0, a·x otherwise, with a learnable ``weight``: one slope, or one per channel (dim 1)."""
    if weight.ndim != 1:
        raise ValueError(f"prelu: weight must be 1-D, got shape {tuple(weight.shape)}")
    if weight.numel() != 1:
        channels = input.shape[1] if input.ndim >= 2 else input.shape[0] if input.ndim == 1 else 1
        if weight.numel() != channels:
            raise ValueError(f"prelu: weight has {weight.numel()} slopes but input of shape "
                             f"{tuple(input.shape)} has {channels} channels")
        if input.ndim >= 2:
            weight = weight.reshape((1, -1) + (1,) * (input.ndim - 2))
    return ag.where(input > 0, input, input * weight)


def elu(input, alpha=1.0, inplace=False):
    """x for x > 0, α(eˣ − 1) otherwise (smooth at 0 when α = 1)."""
    return _elu(input, alpha)


def selu(input, inplace=False):
    """scale·ELU(x, α) with PyTorch's constants α ≈ 1.6733, scale ≈ 1.0507 (self-normalising)."""
    return _elu(input, SELU_ALPHA, SELU_SCALE)


def celu(input, alpha=1.0, inplace=False):
    return _elu(input / alpha, 1.0, alpha) if alpha != 1.0 else _elu(input)


def silu(input, inplace=False):
    """x·σ(x), one engine op (its gradient stays finite where dy·x overflows)."""
    return _silu(input)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    return ag.clamp(input, min_val, max_val)


def relu6(input, inplace=False):
    return ag.clamp(input, 0.0, 6.0)


def softsign(input):
    return input / (input.abs() + 1.0)


def logsigmoid(input):
    return log_sigmoid(input)


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """x / max(‖x‖_p, eps) along ``dim``."""
    return input / ag.clamp(ag.norm(input, p, dim, keepdim=True), min=eps)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """x₁·x₂ / (max(‖x₁‖, eps)·max(‖x₂‖, eps)) along ``dim`` (inputs broadcast together)."""
    try:
        x1, x2 = ag.broadcast_tensors(x1, x2)
    except (ValueError, RuntimeError):
        raise ValueError(f"cosine_similarity: shapes {tuple(x1.shape)} and {tuple(x2.shape)} do not "
                         f"broadcast") from None
    n1 = ag.clamp(ag.norm(x1, 2, dim, keepdim=True), min=eps)
    n2 = ag.clamp(ag.norm(x2, 2, dim, keepdim=True), min=eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


# ---------------------------------------------------------------------------- loss helpers
_REDUCTIONS = ("none", "mean", "sum")


def _check_reduction(reduction, name, extra=()):
    if reduction not in _REDUCTIONS + tuple(extra):
        raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS + tuple(extra)}, got {reduction!r}")


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _as_target(target, input, name):
    return target if isinstance(target, Tensor) else ag.as_tensor(target)


def _promoted(input, target, name):
    """(input, target) of one float dtype, as torch promotes them (float32 with float64 is float64)."""
    target = _same_shape(input, target, name, keep_dtype=True)
    if input.dtype.kind == "f" and target.dtype != input.dtype:  # float32 and float64
        input, target = input.to(ag.float64), target.to(ag.float64)
    return input, target


def _same_shape(input, target, name, keep_dtype=False):
    target = _as_target(target, input, name)
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"{name}: target shape {tuple(target.shape)} must equal input shape "
                         f"{tuple(input.shape)}")
    if target.dtype.kind != "f":
        target = target.to(input.dtype if input.dtype.kind == "f" else ag.float32)
    elif input.dtype.kind == "f" and target.dtype != input.dtype and not keep_dtype:
        target = target.to(input.dtype)
    return target


# ---------------------------------------------------------------------------- regression losses
def mse_loss(input, target, reduction="mean"):
    """(x − y)²."""
    _check_reduction(reduction, "mse_loss")
    input, target = _promoted(input, target, "mse_loss")
    with fp_errors.ignored():  # beyond the float range: inf, silently, as in torch
        diff = input - target
        return _reduce(diff * diff, reduction)


def l1_loss(input, target, reduction="mean"):
    """|x − y|."""
    _check_reduction(reduction, "l1_loss")
    input, target = _promoted(input, target, "l1_loss")
    with fp_errors.ignored():  # beyond the float range: inf, silently, as in torch
        return _reduce((input - target).abs(), reduction)


def huber_loss(input, target, reduction="mean", delta=1.0):
    """½d² where |d| < δ, δ(|d| − ½δ) elsewhere (d = x − y): quadratic near 0, linear in the tails."""
    _check_reduction(reduction, "huber_loss")
    if not delta > 0:  # (NaN too)
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    target = _same_shape(input, target, "huber_loss")  # the input's dtype, as torch (which does not
    # promote here, unlike mse_loss and smooth_l1_loss)
    with fp_errors.ignored():  # beyond the float range: inf, silently, as in torch
        d = input - target
        a = d.abs()
        loss = ag.where(a < delta, d * d * 0.5, (a - 0.5 * delta) * delta)
        return _reduce(loss, reduction)


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    """Huber loss divided by ``beta`` (PyTorch's smooth L1)."""
    if not beta >= 0:  # (NaN too)
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    input, target = _promoted(input, target, "smooth_l1_loss")
    if beta == 0:
        return l1_loss(input, target, reduction)
    return huber_loss(input, target, reduction, delta=beta) / beta


# ---------------------------------------------------------------------------- classification losses
def _class_targets(input, target, name, ignore_index):
    """Validate (N, C, d1, ...) input vs (N, d1, ...) integer target; returns (target, valid mask)."""
    if input.ndim == 0:
        raise ValueError(f"{name}: input must have a class dimension, got a 0-d tensor")
    expected = (input.shape[0],) + tuple(input.shape[2:]) if input.ndim >= 2 else ()
    if tuple(target.shape) != expected:
        raise ValueError(f"{name}: expected target of shape {expected} for input of shape "
                         f"{tuple(input.shape)} (class dim 1), got target of shape {tuple(target.shape)}")
    classes = input.shape[1] if input.ndim >= 2 else input.shape[0]
    valid = target != ignore_index
    out_of_range = ((target < 0) | (target >= classes)) & valid
    if target.numel() and bool(out_of_range.any()):
        bad = target[out_of_range]
        raise IndexError(f"{name}: target {bad.tolist()[0]} is out of bounds for {classes} classes "
                         f"(expected values in [0, {classes - 1}] or ignore_index={ignore_index})")
    return ag.where(valid, target, 0), valid


def _check_weight(weight, classes, name, dtype):
    if weight is None:
        return None
    weight = weight if isinstance(weight, Tensor) else ag.as_tensor(weight)
    if tuple(weight.shape) != (classes,):
        raise ValueError(f"{name}: weight should have one value per class, shape ({classes},), got "
                         f"{tuple(weight.shape)}")
    return weight.to(dtype)


def _class_dim_last(t):
    """(N, C, d1, ...) -> (N, d1, ..., C) so classes index the last dim."""
    if t.ndim <= 2:
        return t
    return t.permute((0,) + tuple(range(2, t.ndim)) + (1,))


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """−w[y]·x[y] for log-probabilities ``x`` of shape (N, C) or (N, C, d1, ...) and class indices
    ``y``; 'mean' divides by the sum of the weights of the non-ignored targets (PyTorch's weighted
    mean)."""
    _check_reduction(reduction, "nll_loss")
    target = _as_target(target, input, "nll_loss")
    if target.dtype.kind not in "iu":
        raise TypeError(f"nll_loss: target must hold class indices (int64), got dtype {target.dtype}")
    safe, valid = _class_targets(input, target, "nll_loss", ignore_index)
    classes = input.shape[1] if input.ndim >= 2 else input.shape[0]
    weight = _check_weight(weight, classes, "nll_loss", input.dtype)
    return _nll(input, safe, valid, weight, reduction)


def _nll(logp, safe, valid, weight, reduction):
    picked = ag.gather(_class_dim_last(logp), -1, safe.unsqueeze(-1)).squeeze(-1)
    w = valid.to(logp.dtype)
    if weight is not None:
        w = w * weight[safe]
    loss = -picked * w
    if reduction == "mean":
        return _weighted_mean(loss.sum(), w.sum())
    return _reduce(loss, reduction)


def _weighted_mean(total, weight_sum):
    """total / weight_sum; with every target ignored (weight_sum = 0) NaN, as torch's 0/0, but with
    zero gradients: the plain quotient would send ∞·0 = NaN into every input's gradient."""
    nothing = weight_sum == 0
    return ag.where(nothing, math.nan, total / ag.where(nothing, 1.0, weight_sum))


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """log_softmax over the class dim (1, or 0 for a 1-D input) followed by the NLL loss.

    ``target`` holds class indices (int64, shape (N, d1, ...)) or class probabilities (float, the
    input's shape). With ``label_smoothing`` ε the target is mixed with the uniform distribution:
    (1−ε)·onehot + ε/C, as in PyTorch.
    """
    _check_reduction(reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    target = _as_target(target, input, "cross_entropy")
    if input.ndim == 2 and target.dtype.kind in "iu" and label_smoothing == 0 and input.dtype.kind == "f":
        return _fused_cross_entropy(input, target, weight, ignore_index, reduction)  # the common case
    if input.ndim == 0:
        raise ValueError("cross_entropy: input must have a class dimension, got a 0-d tensor")
    class_dim = 1 if input.ndim >= 2 else 0
    classes = input.shape[class_dim]
    logp = log_softmax(input, class_dim)
    weight = _check_weight(weight, classes, "cross_entropy", logp.dtype)
    weight_b = None
    if weight is not None:
        weight_b = weight.reshape((classes,) + (1,) * (input.ndim - 2)) if input.ndim >= 2 else weight

    if target.dtype.kind == "f":  # class probabilities
        if tuple(target.shape) != tuple(input.shape):
            raise ValueError(f"cross_entropy: probability targets must have the input's shape "
                             f"{tuple(input.shape)}, got {tuple(target.shape)}")
        target = target.to(logp.dtype)
        if label_smoothing > 0:
            target = target * (1.0 - label_smoothing) + label_smoothing / classes
        weighted = logp * weight_b if weight_b is not None else logp
        with fp_errors.ignored():  # log p = −inf against a target of 0: NaN, silently, as in torch
            loss = -(weighted * target).sum(class_dim)
            if reduction == "mean":
                return loss.sum() / (input.numel() // classes if input.numel() else 1)
            return _reduce(loss, reduction)
    if target.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: target must hold class indices (int64) or class probabilities "
                        f"(float), got dtype {target.dtype}")

    safe, valid = _class_targets(input, target, "cross_entropy", ignore_index)
    nll = _nll(logp, safe, valid, weight, reduction)
    if label_smoothing <= 0:
        return nll
    weighted = logp * weight_b if weight_b is not None else logp
    smooth = -weighted.sum(class_dim) * valid.to(logp.dtype)
    if reduction == "mean":
        if weight is not None:
            smooth = _weighted_mean(smooth.sum(), (weight[safe] * valid.to(logp.dtype)).sum())
        else:
            smooth = _weighted_mean(smooth.sum(), valid.to(logp.dtype).sum())
    else:
        smooth = _reduce(smooth, reduction)
    return nll * (1.0 - label_smoothing) + smooth * (label_smoothing / classes)


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """−w·(y log p + (1−y) log(1−p)) for probabilities ``p``, each log clamped at −100 (PyTorch)."""
    _check_reduction(reduction, "binary_cross_entropy")
    target = _same_shape(input, target, "binary_cross_entropy")
    loss = _bce_elementwise(input, target)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    """BCE on logits x, stable for any x: (1−y)·x + (1 + (pw−1)·y)·softplus(−x), times ``weight``.
    ``pos_weight`` (one per class, broadcast along the last dim) weighs the positive term."""
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    target = _same_shape(input, target, "binary_cross_entropy_with_logits")
    sp = softplus(-input, 1.0, math.inf)
    with fp_errors.ignored():  # an infinite logit: 0·inf = NaN, silently, as in torch
        if pos_weight is not None:
            log_weight = (pos_weight - 1.0) * target + 1.0
            loss = (1.0 - target) * input + log_weight * sp
        else:
            loss = (1.0 - target) * input + sp
        if weight is not None:
            loss = loss * weight
        return _reduce(loss, reduction)


def kl_div(input, target, reduction="mean", log_target=False):
    """KL(target ‖ exp(input)) pointwise: y·(log y − x) (0 where y = 0), or eʸ·(y − x) when
    ``log_target``; ``reduction='batchmean'`` divides the sum by the batch size (the true KL)."""
    _check_reduction(reduction, "kl_div", extra=("batchmean",))
    input, target = _promoted(input, target, "kl_div")
    if log_target:
        with fp_errors.ignored():  # inf − inf or 0·inf: NaN, silently, as in torch
            loss = target.exp() * (target - input)
    else:  # xlogy(y, y) − y·x, as torch: 0·log 0 = 0, and a NaN target gives NaN
        zero = target == 0
        safe = ag.where(zero, 1.0, target)
        with fp_errors.ignored():  # log of a negative target: NaN, silently, as in torch
            loss = ag.where(zero, 0.0, target * safe.log()) - target * input
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.ndim else 1)
    return _reduce(loss, reduction)


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction="mean"):
    """1 − cos(x₁, x₂) for y = 1, max(0, cos(x₁, x₂) − margin) for y = −1 (PyTorch's form, with 1e-12
    added to each squared norm)."""
    _check_reduction(reduction, "cosine_embedding_loss")
    if tuple(input1.shape) != tuple(input2.shape) or input1.ndim not in (1, 2):
        raise ValueError(f"cosine_embedding_loss: inputs must both be (N, D) or (D,), got "
                         f"{tuple(input1.shape)} and {tuple(input2.shape)}")
    target = ag.as_tensor(target) if not isinstance(target, Tensor) else target
    expected = (input1.shape[0],) if input1.ndim == 2 else ()
    if tuple(target.shape) != expected:
        raise ValueError(f"cosine_embedding_loss: target shape {tuple(target.shape)} must be {expected} "
                         f"for inputs of shape {tuple(input1.shape)}")
    if target.numel() and not bool(((target == 1) | (target == -1)).all()):
        raise ValueError("cosine_embedding_loss: target values must be 1 or -1")
    dim = input1.ndim - 1
    prod = (input1 * input2).sum(dim)
    mag1 = (input1 * input1).sum(dim) + 1e-12
    mag2 = (input2 * input2).sum(dim) + 1e-12
    cos = prod / (mag1 * mag2).sqrt()
    loss = ag.where(target == 1, 1.0 - cos, ag.where(target == -1, ag.clamp(cos - margin, min=0.0),
                                                     cos * 0.0))
    return _reduce(loss, reduction)
