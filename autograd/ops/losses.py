"""Cross-entropy over class indices as one op: log-softmax, pick, weight and reduce in one forward, and
one fused pass for the gradient ``softmax(x) − onehot(t)``.

Composed from log_softmax, gather, where and a weighted mean, the same loss is a dozen recorded ops;
on a small classifier that bookkeeping costs more than the arithmetic (nn.functional.cross_entropy
uses this op for (N, C) logits with class-index targets and composes the general cases).
"""
import math

import numpy as np

from ..function import Function
from .. import kernels, tracing
from ..tensor import Tensor, make_tensor

REDUCTIONS = ("mean", "sum", "none")


class CrossEntropy(Function):
    """ℓᵢ = −wᵢ·log softmax(xᵢ)[tᵢ] for logits x (N, C) and class indices t, with wᵢ = weight[tᵢ]
    (1 without weights) and wᵢ = 0 where tᵢ = ignore_index; reduced to Σℓ/Σw ('mean'), Σℓ ('sum') or
    kept per row ('none');  dx = cᵢ·dℓ·(softmax(xᵢ) − onehot(tᵢ)) with cᵢ = wᵢ (÷ Σw for 'mean')."""

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, reduction):
        logp = kernels.rows.log_softmax_forward(x)
        losses, row_weights, loss_sum, weight_sum = kernels.losses.cross_entropy_rows(logp, target, weight, ignore_index)
        if reduction == "mean":  # all ignored: the loss is 0/0 = nan and its gradient 0, as in PyTorch
            coef = 1.0 / weight_sum if weight_sum != 0 else 0.0
            out = loss_sum / weight_sum if weight_sum != 0 else math.nan
        else:
            coef = 1.0
            out = loss_sum if reduction == "sum" else losses
        ctx.save_for_backward(x)
        # coef depends on the targets (ignored rows): an array, so that a compiled step's replay passes
        # each call's value on to the gradient instead of the first call's number
        ctx.logp, ctx.target, ctx.row_weights, ctx.coef = logp, target, row_weights, np.asarray(coef)
        return np.asarray(out, dtype=x.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        dx = CrossEntropyGrad.apply(grad_output, x, ctx.logp, ctx.target, ctx.row_weights, ctx.coef)
        return dx, None, None, None, None

    @staticmethod
    def jvp(ctx, tx, _target, _weight, _ignore, _reduction):
        """ℓ̇ᵢ = cᵢ·Σ_j (softmax(xᵢ) − onehot(tᵢ))_j ẋᵢⱼ (cᵢ = wᵢ, ÷ Σw for 'mean'), summed unless 'none'."""
        from .reduction import sum as sum_
        (x,) = ctx.saved_tensors
        reduction = ctx.primal_inputs[4]
        ones = make_tensor(np.ones(ctx.primal_output.shape, x.dtype), False, None, None)
        direction = CrossEntropyGrad.apply(ones, x, ctx.logp, ctx.target, ctx.row_weights, ctx.coef)
        per_row = sum_(direction * tx, 1)
        return per_row if reduction == "none" else sum_(per_row)


def _row_scale(row_weights, coef):
    """cᵢ = wᵢ·coef, the weight of each row's loss term."""
    return row_weights * np.asarray(coef, row_weights.dtype)


def _onehot(target, row_weights, classes, dtype):
    """onehot(tᵢ) for the rows that count (ignored rows have weight 0: their target may be any value)."""
    onehot = np.zeros((len(target), classes), dtype)
    kept = row_weights != 0
    onehot[np.arange(len(target))[kept], target[kept]] = 1
    return onehot


class CrossEntropyGrad(Function):
    """z = cᵢ·gᵢ·(softmax(xᵢ) − onehot(tᵢ)) in one pass (g the loss's gradient, a scalar or one per row,
    cᵢ = wᵢ·coef); dg = Σ_classes cᵢ·(softmax(xᵢ) − onehot(tᵢ))·dz,
    dx = J_softmax(xᵢ)·(cᵢ·gᵢ·dzᵢ), J = diag(p) − ppᵀ."""

    @staticmethod
    def forward(ctx, g, x, logp, target, row_weights, coef):
        ctx.save_for_backward(g, x)
        ctx.logp, ctx.target, ctx.row_weights, ctx.coef = logp, target, row_weights, coef
        return kernels.losses.cross_entropy_grad(logp, target, row_weights, float(coef), g)

    @staticmethod
    def backward(ctx, grad_output):
        from .activations import SoftmaxGrad, softmax
        from .reduction import sum as sum_
        from .shape import reshape, unsqueeze
        g, x = ctx.saved_tensors
        need_g, need_x = ctx.needs_input_grad[:2]
        scale = make_tensor(tracing.computed(_row_scale, ctx.row_weights, ctx.coef), False, None, None)
        p = softmax(x, 1)
        dg = dx = None
        if need_g:
            onehot = tracing.computed(_onehot, ctx.target, ctx.row_weights, x.shape[1], x._data.dtype)
            per_row = sum_((p - make_tensor(onehot, False, None, None)) * grad_output, 1) * scale
            dg = sum_(per_row) if g.ndim == 0 else reshape(per_row, g.shape)
        if need_x:
            dx = SoftmaxGrad.apply(grad_output * unsqueeze(scale * g, 1), p, 1)
        return dg, dx, None, None, None, None

    @staticmethod
    def jvp(ctx, tg, tx, *_constants):
        """ż = cᵢ·ġᵢ·(softmax(xᵢ) − onehot(tᵢ)) + cᵢ·gᵢ·J_softmax(xᵢ) ẋᵢ, J = diag(p) − ppᵀ."""
        from .activations import SoftmaxGrad, softmax
        from .shape import unsqueeze
        g, x = ctx.saved_tensors
        out = None
        if tg is not None:
            out = CrossEntropyGrad.apply(tg, x, ctx.logp, ctx.target, ctx.row_weights, ctx.coef)
        if tx is not None:
            scale = make_tensor(_row_scale(ctx.row_weights, ctx.coef), False, None, None)
            term = SoftmaxGrad.apply(tx * unsqueeze(scale * g, 1), softmax(x, 1), 1)
            out = term if out is None else out + term
        return out


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Cross-entropy of logits ``input`` (N, C) against class indices ``target`` (N,) (int64), with
    optional per-class ``weight`` (C,); the targets equal to ``ignore_index`` count for nothing."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"cross_entropy: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    x = input._data
    t = target._data if isinstance(target, Tensor) else np.asarray(target)
    if x.ndim != 2 or x.dtype.kind != "f":
        raise ValueError(f"cross_entropy: this op takes float logits of shape (N, C), got {x.dtype} "
                         f"{tuple(x.shape)}")
    if t.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: target must hold class indices (int64), got dtype {t.dtype}")
    if t.shape != (x.shape[0],):
        raise ValueError(f"cross_entropy: expected target of shape {(x.shape[0],)} for input of shape "
                         f"{tuple(x.shape)} (class dim 1), got target of shape {tuple(t.shape)}")
    classes = x.shape[1]
    w = None
    if weight is not None:
        w = weight._data if isinstance(weight, Tensor) else np.asarray(weight)
        if w.shape != (classes,):
            raise ValueError(f"cross_entropy: weight should have one value per class, shape ({classes},), "
                             f"got {tuple(w.shape)}")
        w = np.ascontiguousarray(w, dtype=x.dtype)
    return CrossEntropy.apply(input, np.ascontiguousarray(t, dtype=np.int64), w, int(ignore_index), reduction)
