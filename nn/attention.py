"""``MultiheadAttention``, as ``torch.nn.MultiheadAttention``: one packed input projection
(``in_proj_weight`` (3E, E), ``in_proj_bias``), heads split from the feature dim, scaled dot-product
attention per head (``F.scaled_dot_product_attention``'s computation: matmul, masks, softmax), and the
output projection ``out_proj``. Masks follow PyTorch's conventions for this module: a bool
``attn_mask`` or ``key_padding_mask`` is True where attending is *not* allowed (the opposite of SDPA's
bool mask); a float one is added to the scores."""
import autograd as ag

from . import functional as F
from . import init
from .functional_sequence import attention, causal_mask
from .linear import Linear
from .module import Module
from .parameter import Parameter


class MultiheadAttention(Module):
    """Attention over ``num_heads`` heads of size embed_dim / num_heads; ``forward`` returns
    ``(attn_output, attn_weights)`` with the weights averaged over heads unless
    ``average_attn_weights=False`` (None when ``need_weights=False``). ``is_causal=True`` without an
    ``attn_mask`` builds the causal mask (PyTorch requires the mask and treats the flag as a hint)."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False, dtype=None):
        super().__init__()
        embed_dim, num_heads = int(embed_dim), int(num_heads)
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim and num_heads must be positive, got {embed_dim} "
                             f"and {num_heads}")
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim must be divisible by num_heads (got embed_dim="
                             f"{embed_dim}, num_heads={num_heads})")
        if add_bias_kv or add_zero_attn or (kdim not in (None, embed_dim)) or (vdim not in (None, embed_dim)):
            raise NotImplementedError("MultiheadAttention: add_bias_kv, add_zero_attn and kdim/vdim different "
                                      "from embed_dim are not supported")
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.kdim = self.vdim = embed_dim
        self._qkv_same_embed_dim = True
        self.dropout, self.batch_first = float(dropout), batch_first
        self.in_proj_weight = Parameter(ag.empty(3 * embed_dim, embed_dim, dtype=dtype))
        if bias:
            self.in_proj_bias = Parameter(ag.empty(3 * embed_dim, dtype=dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        self._reset_parameters()

    def _reset_parameters(self):
        # PyTorch's: Xavier-uniform packed projection, zero biases (out_proj keeps Linear's weight init)
        init.xavier_uniform_(self.in_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def _project(self, query, key, value):
        w, b = self.in_proj_weight, self.in_proj_bias
        if query is key and key is value:  # self-attention: one product for q, k and v
            q, k, v = F.linear(query, w, b).chunk(3, -1)
            return q, k, v
        e = self.embed_dim
        bq, bk, bv = (None, None, None) if b is None else (b[:e], b[e:2 * e], b[2 * e:])
        return F.linear(query, w[:e], bq), F.linear(key, w[e:2 * e], bk), F.linear(value, w[2 * e:], bv)

    def _heads(self, x, batch, length):
        # (B, L, E) -> (B, heads, L, head_dim)
        return x.reshape(batch, length, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        name = "MultiheadAttention"
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(f"{name}: query, key and value must all be 3-D (batched) or 2-D (unbatched), "
                             f"got shapes {tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}")
        for label, t in (("query", query), ("key", key), ("value", value)):
            if t.shape[-1] != self.embed_dim:
                raise RuntimeError(f"{name}: {label} has {t.shape[-1]} features, expected embed_dim="
                                   f"{self.embed_dim} (shape {tuple(t.shape)})")
        batched = query.ndim == 3
        if not batched:
            query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif not self.batch_first:
            same_kv = key is value
            self_attention = query is key and same_kv
            query = query.transpose(0, 1)
            key = query if self_attention else key.transpose(0, 1)
            value = key if same_kv else value.transpose(0, 1)
        batch, length, source = query.shape[0], query.shape[1], key.shape[1]
        if key.shape[0] != batch or value.shape[:2] != key.shape[:2]:
            raise RuntimeError(f"{name}: key and value must have query's batch size and one length, got "
                               f"query {tuple(query.shape)}, key {tuple(key.shape)}, value {tuple(value.shape)}")
        mask = self._merged_mask(attn_mask, key_padding_mask, is_causal, batch, length, source, query.dtype)
        q, k, v = self._project(query, key, value)
        q, k, v = self._heads(q, batch, length), self._heads(k, batch, source), self._heads(v, batch, source)
        out, weights = attention(q, k, v, mask, self.dropout, False, None, zero_fully_masked=not need_weights,
                                 training=self.training)
        out = self.out_proj(out.transpose(1, 2).reshape(batch, length, self.embed_dim))
        if batched and not self.batch_first:
            out = out.transpose(0, 1)
        elif not batched:
            out = out.squeeze(0)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(1)
        if not batched:
            weights = weights.squeeze(0)
        return out, weights

    def _merged_mask(self, attn_mask, key_padding_mask, is_causal, batch, length, source, dtype):
        """One float mask (0 where allowed, −∞ where not) of shape broadcastable to
        (B, heads, L, S), or None."""
        name = "MultiheadAttention"
        if is_causal and attn_mask is None:
            attn_mask = ~causal_mask(length, source)
        merged = None
        if attn_mask is not None:
            if attn_mask.ndim == 2:
                if tuple(attn_mask.shape) != (length, source):
                    raise RuntimeError(f"{name}: the 2-D attn_mask should be of size {(length, source)}, got "
                                       f"{tuple(attn_mask.shape)}")
            elif attn_mask.ndim == 3:
                if tuple(attn_mask.shape) != (batch * self.num_heads, length, source):
                    raise RuntimeError(f"{name}: the 3-D attn_mask should be of size "
                                       f"{(batch * self.num_heads, length, source)}, got {tuple(attn_mask.shape)}")
                attn_mask = attn_mask.reshape(batch, self.num_heads, length, source)
            else:
                raise RuntimeError(f"{name}: attn_mask must be 2-D or 3-D, got shape {tuple(attn_mask.shape)}")
            merged = _as_additive(attn_mask, dtype)
        if key_padding_mask is not None:
            if tuple(key_padding_mask.shape) != (batch, source):
                raise RuntimeError(f"{name}: expected key_padding_mask of shape {(batch, source)}, got "
                                   f"{tuple(key_padding_mask.shape)}")
            padding = _as_additive(key_padding_mask, dtype).reshape(batch, 1, 1, source)
            merged = padding if merged is None else merged + padding
        return merged

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, batch_first={self.batch_first}"


def _as_additive(mask, dtype):
    """A bool mask (True = masked out) as 0 / −∞ in ``dtype``; a float mask unchanged."""
    if mask.dtype == ag.bool:
        return ag.zeros(mask.shape, dtype=dtype).masked_fill(mask, float("-inf"))
    return mask.to(dtype)
