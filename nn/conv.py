"""``Conv2d``: a learned 2-D convolution layer (the engine's ``conv2d`` op with its parameters)."""

import autograd as ag

from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter


def _pair(value, name):
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"Conv2d: {name} must be an int or a pair of ints, got {value!r}")
        return int(value[0]), int(value[1])
    return int(value), int(value)


class Conv2d(Module):
    """y = W ⋆ x + b over (N, C_in, H, W) inputs, W of shape (out_channels, in_channels, kh, kw).

    Output size per spatial dim: floor((H + 2·padding − kernel) / stride) + 1. Parameters:
    out·(in·kh·kw + 1) with a bias (e.g. 5 filters 3×3 on RGB: 5·(3·3·3 + 1) = 140).
    Initialised like PyTorch: W ~ kaiming_uniform(a=√5) = U(−1/√fan_in, 1/√fan_in) and
    b ~ U(−1/√fan_in, 1/√fan_in), fan_in = in_channels·kh·kw.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", dtype=None):
        super().__init__()
        if padding_mode != "zeros":
            raise NotImplementedError(f"Conv2d: padding_mode={padding_mode!r} is not supported (only 'zeros')")
        if _pair(dilation, "dilation") != (1, 1) or groups != 1:
            raise NotImplementedError("Conv2d: only dilation=1 and groups=1 are supported")
        if int(in_channels) <= 0 or int(out_channels) <= 0:
            raise ValueError(f"Conv2d: in_channels and out_channels must be positive, got {in_channels} and "
                             f"{out_channels}")
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = _pair(stride, "stride")
        self.padding = padding if isinstance(padding, str) else _pair(padding, "padding")
        self.dilation = (1, 1)
        self.groups = 1
        self.padding_mode = padding_mode
        self.weight = Parameter(ag.empty(self.out_channels, self.in_channels, *self.kernel_size, dtype=dtype))
        if bias:
            self.bias = Parameter(ag.empty(self.out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.default_layer_init_(self.weight, self.bias)

    def output_shape(self, height, width):
        """(out_channels, oh, ow) for an input of ``height`` × ``width``: the course's formula."""
        if isinstance(self.padding, str):
            ph, pw = (0, 0) if self.padding == "valid" else (self.kernel_size[0] // 2, self.kernel_size[1] // 2)
        else:
            ph, pw = self.padding
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        return self.out_channels, (height + 2 * ph - kh) // sh + 1, (width + 2 * pw - kw) // sw + 1

    def forward(self, input):
        return F.conv2d(input, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding!r}" if isinstance(self.padding, str) else f", padding={self.padding}"
        if self.bias is None:
            s += ", bias=False"
        return s
