"""The sequence-model part of ``nn.functional``: ``one_hot``, ``embedding``, ``layer_norm``,
``rms_norm`` and ``scaled_dot_product_attention``, written with autograd Tensor ops (so their
gradients, of any order, come from the graph). ``nn.functional`` re-exports them."""
import math

import autograd as ag
from autograd import Tensor
from autograd.neural import layer_norm as _fused_layer_norm
from autograd.neural import softmax

from .functional_dropout import dropout


def one_hot(tensor, num_classes=-1):
    """(…,) class indices -> (…, num_classes) int64 with a 1 at each index (``num_classes=-1``: one more
    than the largest index)."""
    if not isinstance(tensor, Tensor) or tensor.dtype != ag.int64:
        raise TypeError("one_hot: expected an int64 tensor of class indices, got "
                        f"{tensor.dtype if isinstance(tensor, Tensor) else type(tensor).__name__}")
    if tensor.numel() and int(tensor.min()) < 0:
        raise RuntimeError(f"one_hot: class values must be non-negative, got {int(tensor.min())}")
    largest = int(tensor.max()) if tensor.numel() else -1
    if num_classes == -1:
        num_classes = largest + 1
    elif largest >= num_classes:
        raise RuntimeError(f"one_hot: class value {largest} is too large for num_classes={num_classes}")
    return (tensor.unsqueeze(-1) == ag.arange(num_classes)).long()


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of ``weight`` (num_embeddings, embedding_dim) picked by the int64 indices ``input``: output
    shape input.shape + (embedding_dim,). Repeated indices accumulate their gradients; the row at
    ``padding_idx`` gets no gradient (its value is still returned, as PyTorch)."""
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: max_norm, scale_grad_by_freq and sparse are not supported")
    if not isinstance(input, Tensor):
        input = ag.as_tensor(input)
    if input.dtype != ag.int64:
        raise TypeError(f"embedding: indices must be an int64 tensor, got {input.dtype}")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape "
                         f"{tuple(weight.shape)}")
    count = weight.shape[0]
    # One bool read (a compiled step checks it again at each replay); the values only for the message.
    if input.numel() and bool(((input < 0) | (input >= count)).any()):
        low, high = int(input.min()), int(input.max())
        if low < 0 or high >= count:
            bad = low if low < 0 else high
            raise IndexError(f"embedding: index {bad} is out of range for num_embeddings={count} (indices "
                             f"must be in [0, {count - 1}])")
    rows = weight[input]
    if padding_idx is not None and weight.requires_grad:
        padding_idx = padding_idx + count if padding_idx < 0 else padding_idx
        keep = (input != padding_idx).unsqueeze(-1)
        rows = ag.where(keep, rows, rows.detach())
    return rows


def _normalized_dims(input, normalized_shape, op):
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(int(s) for s in normalized_shape)
    n = len(normalized_shape)
    if n == 0 or tuple(input.shape[input.ndim - n:]) != normalized_shape or input.ndim < n:
        raise RuntimeError(f"{op}: expected an input whose last dims are normalized_shape={list(normalized_shape)},"
                           f" got input of shape {tuple(input.shape)}")
    return tuple(range(input.ndim - n, input.ndim)), normalized_shape


def _check_affine(param, normalized_shape, op, name):
    if param is not None and tuple(param.shape) != normalized_shape:
        raise RuntimeError(f"{op}: {name} of shape {tuple(param.shape)} must have normalized_shape "
                           f"{normalized_shape}")


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """(x − mean) / √(var + eps) · weight + bias, with mean and the biased variance taken over the last
    ``len(normalized_shape)`` dims of each sample (per instance, where batch norm takes them per
    feature over the batch)."""
    dims, normalized_shape = _normalized_dims(input, normalized_shape, "layer_norm")
    _check_affine(weight, normalized_shape, "layer_norm", "weight")
    _check_affine(bias, normalized_shape, "layer_norm", "bias")
    return _fused_layer_norm(input, dims, weight, bias, eps)  # one engine op (closed-form gradient)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / √(mean(x²) + eps) · weight over the last ``len(normalized_shape)`` dims; ``eps=None`` is the
    machine epsilon of the input's dtype (PyTorch's default)."""
    dims, normalized_shape = _normalized_dims(input, normalized_shape, "rms_norm")
    _check_affine(weight, normalized_shape, "rms_norm", "weight")
    if eps is None:
        eps = 2.220446049250313e-16 if input.dtype == ag.float64 else 1.1920928955078125e-07
    out = input * ((input * input).mean(dims, keepdim=True) + eps).rsqrt()
    return out * weight if weight is not None else out


def causal_mask(query_length, key_length):
    """(L, S) bool, True where query i may attend key j (j ≤ i): the lower triangle, as PyTorch's
    ``is_causal`` aligns it (top left)."""
    return ag.ones(query_length, key_length, dtype=ag.bool).tril()


def attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
              zero_fully_masked=True, training=True):
    """``(output, weights)`` of softmax(q kᵀ·scale + mask) v, the computation behind
    ``scaled_dot_product_attention`` and ``MultiheadAttention``. ``attn_mask`` is bool (True = attend)
    or float (added to the scores). A query whose every key is masked gets zero weights and a zero
    output when ``zero_fully_masked`` (SDPA's behaviour), NaN otherwise (softmax over −∞ alone,
    MultiheadAttention's behaviour when it returns its weights)."""
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise RuntimeError(f"scaled_dot_product_attention: query, key and value must be at least 2-D, got "
                           f"{tuple(query.shape)}, {tuple(key.shape)} and {tuple(value.shape)}")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"scaled_dot_product_attention: query {tuple(query.shape)}, key {tuple(key.shape)} "
                           f"and value {tuple(value.shape)} do not fit (query and key need one feature size, "
                           f"key and value one length)")
    length, source = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = ag.matmul(query * scale, key.mT)
    allowed = None
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError("scaled_dot_product_attention: pass attn_mask or is_causal=True, not both")
        allowed = causal_mask(length, source)
    elif attn_mask is not None:
        if attn_mask.dtype == ag.bool:
            allowed = attn_mask
        else:
            scores = scores + attn_mask
    if allowed is not None:
        scores = ag.masked_fill(scores, ~allowed, float("-inf"))
    fully_masked = None
    if zero_fully_masked and not is_causal and attn_mask is not None:
        # read off the mask, which is small (L, S) where the scores are (…, heads, L, S)
        fully_masked = ~allowed.any(-1, keepdim=True) if allowed is not None else \
            (attn_mask == float("-inf")).all(-1, keepdim=True)
        if bool(fully_masked.any()):
            # softmax over a row of −∞ alone is 0/0: give it finite scores, then zero its weights, so
            # neither the output nor the gradient sees a NaN
            scores = ag.masked_fill(scores, fully_masked, 0.0)
        else:
            fully_masked = None
    weights = softmax(scores, -1)
    if fully_masked is not None:
        weights = ag.masked_fill(weights, fully_masked, 0.0)
    if dropout_p > 0.0 and training:
        weights = dropout(weights, dropout_p)
    return ag.matmul(weights, value), weights


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False,
                                 scale=None, enable_gqa=False):
    """softmax(q kᵀ / √d + mask) v over the last two dims (leading dims batch and heads), as PyTorch's:
    a bool ``attn_mask`` is True where a query may attend, a float one is added to the scores;
    ``is_causal`` masks the keys after each query; ``scale`` defaults to 1/√d; a fully masked query
    row gives zeros."""
    if enable_gqa:
        raise NotImplementedError("scaled_dot_product_attention: enable_gqa is not supported")
    return attention(query, key, value, attn_mask, dropout_p, is_causal, scale)[0]
