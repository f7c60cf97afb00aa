"""``BatchNorm1d`` and ``BatchNorm2d``: batch normalisation with learned scale/shift and running stats.

Training normalises with the batch's statistics (biased variance) and updates the running statistics
(the unbiased variance goes into ``running_var``), as PyTorch:
    running ← (1 − momentum)·running + momentum·batch_statistic,
or the cumulative average of all batches so far when ``momentum=None``. The course writes the
moving average as μ̄ ← μ̄·m + (1 − m)·μ: its m is ``1 − momentum`` (m = 0.9 is momentum = 0.1).
Evaluation (``.eval()``) normalises with the running statistics. The buffers ``running_mean``,
``running_var`` and ``num_batches_tracked`` (int64) are part of ``state_dict``.
"""
import autograd as ag

from . import functional as F
from .module import Module
from .parameter import Parameter


class _BatchNorm(Module):
    _input_shapes = ""
    _input_ndims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, dtype=None):
        super().__init__()
        if isinstance(num_features, bool) or int(num_features) != num_features or num_features < 0:
            raise ValueError(f"{type(self).__name__}: num_features must be a non-negative int, got "
                             f"{num_features!r}")
        self.num_features = int(num_features)
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(ag.ones(self.num_features, dtype=dtype))
            self.bias = Parameter(ag.zeros(self.num_features, dtype=dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", ag.zeros(self.num_features, dtype=dtype))
            self.register_buffer("running_var", ag.ones(self.num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", ag.tensor(0, dtype=ag.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self):
        if self.track_running_stats:
            with ag.no_grad():
                self.running_mean.zero_()
                self.running_var.fill_(1.0)
                self.num_batches_tracked.zero_()

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            with ag.no_grad():
                self.weight.fill_(1.0)
                self.bias.zero_()

    def _check_input(self, input):
        name = type(self).__name__
        if not isinstance(input, ag.Tensor) or input.ndim not in self._input_ndims:
            shape = tuple(input.shape) if isinstance(input, ag.Tensor) else type(input).__name__
            raise ValueError(f"{name}: expected a {self._input_shapes} input, got {shape}")
        if input.shape[1] != self.num_features:
            raise ValueError(f"{name}: expected {self.num_features} channels (dim 1), got input of shape "
                             f"{tuple(input.shape)}")

    def forward(self, input):
        self._check_input(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            with ag.no_grad():
                self.num_batches_tracked.add_(1)
            if self.momentum is None:
                return self._cumulative_average_forward(input)
        use_batch_stats = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if track else None, self.running_var if track else None,
                            self.weight, self.bias, use_batch_stats, factor, self.eps)

    def _cumulative_average_forward(self, input):
        """Training with ``momentum=None``: running ← (1 − 1/n)·running + (1/n)·batch statistic, n the
        batches tracked so far. The factor 1/n stays a tensor (never a Python number read with
        ``item()``), so a compiled step computes it from each call's count."""
        # batch_norm writes the batch's statistics into these (momentum 1: running ← batch statistic)
        batch_mean, batch_var = ag.zeros_like(self.running_mean), ag.ones_like(self.running_var)
        output = F.batch_norm(input, batch_mean, batch_var, self.weight, self.bias, True, 1.0, self.eps)
        with ag.no_grad():
            factor = 1.0 / self.num_batches_tracked.to(ag.float64)
            keep = 1.0 - factor
            self.running_mean.mul_(keep).add_(batch_mean * factor)
            self.running_var.mul_(keep).add_(batch_var * factor)
        return output

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs, per feature/channel C."""

    _input_shapes = "2-D (N, C) or 3-D (N, C, L)"
    _input_ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) images, per channel C (statistics over N, H and W)."""

    _input_shapes = "4-D (N, C, H, W)"
    _input_ndims = (4,)
