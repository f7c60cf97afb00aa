"""``LayerNorm`` and ``RMSNorm``: normalisation over each sample's last dims (per instance), the
normalisation of sequence models, where batch norm normalises each feature over the batch."""
import autograd as ag

from . import functional as F
from .module import Module
from .parameter import Parameter


class _LastDimsNorm(Module):
    """What both share: ``normalized_shape`` (an int or a tuple of the last dims), ``eps``, and a
    weight starting at ones (and, for LayerNorm, a bias starting at zeros) when ``elementwise_affine``."""

    def __init__(self, normalized_shape, eps, elementwise_affine, bias, dtype):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(s) for s in normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        self.register_parameter("weight", Parameter(ag.ones(self.normalized_shape, dtype=dtype))
                                if elementwise_affine else None)
        if bias is not None:  # RMSNorm has no bias at all (None here); LayerNorm's may be switched off
            self.register_parameter("bias", Parameter(ag.zeros(self.normalized_shape, dtype=dtype))
                                    if elementwise_affine and bias else None)

    def reset_parameters(self):
        with ag.no_grad():
            if self.weight is not None:
                self.weight.fill_(1.0)
            if getattr(self, "bias", None) is not None:
                self.bias.zero_()

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class LayerNorm(_LastDimsNorm):
    """(x − mean) / √(var + eps) · weight + bias over the last ``len(normalized_shape)`` dims, with the
    biased variance; weight starts at ones and bias at zeros (PyTorch's)."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, dtype=None):
        super().__init__(normalized_shape, eps, elementwise_affine, bool(bias), dtype)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)


class RMSNorm(_LastDimsNorm):
    """x / √(mean(x²) + eps) · weight over the last dims; ``eps=None`` is the dtype's machine epsilon."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, dtype=None):
        super().__init__(normalized_shape, eps, elementwise_affine, None, dtype)

    def forward(self, input):
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)
