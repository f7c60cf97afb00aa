"""Cross-entropy over class indices as one op: log-softmax, pick, weight and reduce in one forward, and
one fused pass for the gradient ``softmax(x) − onehot(t)``.

Composed from log_softmax, gather, where and a weighted mean, the same loss is a dozen recorded ops;
on a small classifier that bookkeeping costs more than the arithmetic (nn.functional.cross_entropy
uses this op for (N, C) logits with class-index targets and composes the general cases).
"""
import numpy as np

from ..function import Function
from ..lazy_kernels import kernels as _kernels
from ..tensor import Tensor, make_tensor

REDUCTIONS = ("mean", "sum", "none")


class CrossEntropy(Function):
    """ℓᵢ = −wᵢ·log softmax(xᵢ)[tᵢ] for logits x (N, C) and class indices t, with wᵢ = weight[tᵢ]
    (1 without weights) and wᵢ = 0 where tᵢ = ignore_index; reduced to Σℓ/Σw ('mean'), Σℓ ('sum') or
    kept per row ('none');  dx = cᵢ·dℓ·(softmax(xᵢ) − onehot(tᵢ)) with cᵢ = wᵢ (÷ Σw for 'mean')."""

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, reduction):
        logp = _kernels().log_softmax_forward(x)
        rows = np.arange(x.shape[0])
        valid = target != ignore_index
        safe = np.where(valid, target, 0)
        w = valid.astype(x.dtype) if weight is None else weight[safe] * valid
        losses = -logp[rows, safe] * w
        if reduction == "mean":
            total = w.sum()
            with np.errstate(divide="ignore", invalid="ignore"):  # all ignored: 0/0 = nan, as PyTorch
                out, scale = losses.sum() / total, w / total
        elif reduction == "sum":
            out, scale = losses.sum(), w
        else:
            out, scale = losses, w
        ctx.save_for_backward(x)
        ctx.logp, ctx.safe, ctx.scale = logp, safe, scale
        return np.asarray(out, dtype=x.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return CrossEntropyBackward.apply(grad_output, x, ctx.logp, ctx.safe, ctx.scale), None, None, None, None


class CrossEntropyBackward(Function):
    """z = cᵢ·gᵢ·(softmax(xᵢ) − onehot(tᵢ)) in one pass (g the loss's gradient, a scalar or one per row);
    dg = Σ_classes cᵢ·(softmax(xᵢ) − onehot(tᵢ))·dz,  dx = J_softmax(xᵢ)·(cᵢ·gᵢ·dzᵢ), J = diag(p) − ppᵀ."""

    @staticmethod
    def forward(ctx, g, x, logp, safe, scale):
        ctx.save_for_backward(g, x)
        ctx.logp, ctx.safe, ctx.scale = logp, safe, scale
        out = np.exp(logp)
        out[np.arange(len(safe)), safe] -= 1
        out *= (scale * g)[:, None]
        return out

    @staticmethod
    def backward(ctx, grad_output):
        from .activations import SoftmaxBackward, softmax
        from .reduction import sum as sum_
        from .shape import reshape, unsqueeze
        g, x = ctx.saved_tensors
        need_g, need_x = ctx.needs_input_grad[:2]
        scale = make_tensor(ctx.scale, False, None, None)
        p = softmax(x, 1)
        dg = dx = None
        if need_g:
            onehot = np.zeros(x.shape, x.dtype)
            onehot[np.arange(len(ctx.safe)), ctx.safe] = 1
            per_row = sum_((p - make_tensor(onehot, False, None, None)) * grad_output, 1) * scale
            dg = sum_(per_row) if g.ndim == 0 else reshape(per_row, g.shape)
        if need_x:
            dx = SoftmaxBackward.apply(grad_output * unsqueeze(scale * g, 1), p, 1)
        return dg, dx, None, None, None


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
    out_of_range = ((t < 0) | (t >= classes)) & (t != ignore_index)
    if out_of_range.any():
        raise IndexError(f"cross_entropy: target {int(t[out_of_range][0])} is out of bounds for {classes} "
                         f"classes (expected values in [0, {classes - 1}] or ignore_index={ignore_index})")
    w = None
    if weight is not None:
        w = weight._data if isinstance(weight, Tensor) else np.asarray(weight)
        if w.shape != (classes,):
            raise ValueError(f"cross_entropy: weight should have one value per class, shape ({classes},), "
                             f"got {tuple(w.shape)}")
        w = w.astype(x.dtype, copy=False)
    return CrossEntropy.apply(input, t.astype(np.int64, copy=False), w, ignore_index, reduction)
