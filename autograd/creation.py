"""Tensor factories and the seeded random generator.

One generator (``default_generator``) feeds every random op of the library (factories here, and the
initialisers, dropout and data shuffling of ``nn``), so ``manual_seed(n)`` makes a whole run repeat.
"""
import numpy as np

from . import dtypes, tracing
from .ops._args import shape_arg
from .tensor import Tensor, make_tensor


class Generator:
    """A seeded source of random numbers (numpy's PCG64 underneath)."""

    def __init__(self, seed=None):
        self.manual_seed(seed)

    @tracing.host_call  # (seeding inside a compiled step seeds again at every replay, as eagerly)
    def manual_seed(self, seed):
        self.initial_seed_value = seed
        self.rng = np.random.default_rng(seed)
        return self

    def initial_seed(self):
        return self.initial_seed_value

    def get_state(self):
        return self.rng.bit_generator.state

    @tracing.host_call
    def set_state(self, state):
        self.rng.bit_generator.state = state


default_generator = Generator(0)


def check_device(device, op):
    """numbagrad computes on the CPU only: accept ``device="cpu"`` (or None, or a device object that
    prints as ``cpu``) as PyTorch code passes it, and refuse any other device naming the op."""
    if device is None:
        return
    text = str(device)
    if text == "cpu" or text.startswith("cpu:"):
        return
    raise RuntimeError(f"{op}: device {text!r} is not available: numbagrad tensors live on the CPU only "
                       f"(device='cpu'); there is no GPU backend")


def manual_seed(seed):
    """Seed the generator behind every random op of numbagrad."""
    return default_generator.manual_seed(int(seed))


def _rng(generator):
    return (generator or default_generator).rng


class _Draw:
    """``generator.<method>(*args)`` cast to ``dtype``: a random factory's values, computed the same way
    eagerly and by a compiled step's replay (which draws afresh, continuing the generator's stream)."""

    draws = True  # (a recorded draw is never dropped: it advances the generator)

    def __init__(self, generator, method, dtype=None):
        self.generator, self.method, self.dtype = generator, method, dtype
        self.label = f"random.{method}"

    def __call__(self, *args):
        values = getattr(_rng(self.generator), self.method)(*args)
        return values if self.dtype is None else values.astype(self.dtype, copy=False)


def _drawn(generator, method, args, dtype=None):
    draw = _Draw(generator, method, dtype)
    values = draw(*args)
    tracing.record(draw, args, values)
    return values


def _bernoulli_values(generator, probs):
    return (_rng(generator).random(probs.shape) < probs).astype(probs.dtype)


class _Bernoulli(_Draw):
    def __init__(self, generator):
        super().__init__(generator, "bernoulli")

    def __call__(self, probs):
        return _bernoulli_values(self.generator, probs)


def _new(array, dtype, requires_grad):
    if tracing.recorder is not None and id(array) not in tracing.recorder.buffer_of:
        tracing.recorder.fresh(array, "factory")  # (a draw was recorded as such already)
    t = make_tensor(array, False, None, None)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _float_dtype(dtype, op):
    dtype = dtypes.as_dtype(dtype) or dtypes.default_float
    if dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating dtype, got {dtype}")
    return dtype


def tensor(data, dtype=None, requires_grad=False, device=None):
    """A new tensor holding a copy of ``data`` (Python floats become float32, arrays keep float64)."""
    check_device(device, "tensor")
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def as_tensor(data, dtype=None, device=None):
    """Like ``tensor`` but shares memory with a numpy array when no conversion is needed."""
    check_device(device, "as_tensor")
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    from .tensor import as_array
    return make_tensor(as_array(data, dtype), False, None, None)


from_numpy = as_tensor


def zeros(*size, dtype=None, requires_grad=False, device=None):
    check_device(device, "zeros")
    dtype = dtypes.as_dtype(dtype) or dtypes.default_float
    return _new(np.zeros(shape_arg(size, "zeros"), dtype), dtype, requires_grad)


def ones(*size, dtype=None, requires_grad=False, device=None):
    check_device(device, "ones")
    dtype = dtypes.as_dtype(dtype) or dtypes.default_float
    return _new(np.ones(shape_arg(size, "ones"), dtype), dtype, requires_grad)


def empty(*size, dtype=None, requires_grad=False, device=None):
    check_device(device, "empty")
    dtype = dtypes.as_dtype(dtype) or dtypes.default_float
    return _new(np.empty(shape_arg(size, "empty"), dtype), dtype, requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False, device=None):
    """A tensor of ``size`` filled with ``fill_value`` (dtype inferred from it, as PyTorch)."""
    check_device(device, "full")
    if dtype is None:
        dtype = dtypes.promote_with_scalar(dtypes.bool_, fill_value)
    dtype = dtypes.as_dtype(dtype)
    size = shape_arg((size,) if isinstance(size, (int, np.integer)) else (tuple(size),), "full")
    return _new(np.full(size, fill_value, dtype), dtype, requires_grad)


def zeros_like(input, dtype=None, requires_grad=False, device=None):
    check_device(device, "zeros_like")
    return zeros(input.shape, dtype=dtype or input.dtype, requires_grad=requires_grad)


def ones_like(input, dtype=None, requires_grad=False, device=None):
    check_device(device, "ones_like")
    return ones(input.shape, dtype=dtype or input.dtype, requires_grad=requires_grad)


def empty_like(input, dtype=None, requires_grad=False, device=None):
    check_device(device, "empty_like")
    return empty(input.shape, dtype=dtype or input.dtype, requires_grad=requires_grad)


def full_like(input, fill_value, dtype=None, requires_grad=False, device=None):
    check_device(device, "full_like")
    return full(input.shape, fill_value, dtype=dtype or input.dtype, requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad=False, device=None):
    """Values from ``start`` to ``end`` (exclusive) by ``step``; int64 unless a bound is a float."""
    check_device(device, "arange")
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if dtype is None:
        is_float = any(isinstance(v, float) for v in (start, end, step))
        dtype = dtypes.default_float if is_float else dtypes.int64
    dtype = dtypes.as_dtype(dtype)
    return _new(np.arange(start, end, step).astype(dtype), dtype, requires_grad)


def linspace(start, end, steps, dtype=None, requires_grad=False, device=None):
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    check_device(device, "linspace")
    if steps < 0:
        raise RuntimeError("linspace: number of steps must be non-negative")
    dtype = dtypes.as_dtype(dtype) or dtypes.default_float
    return _new(np.linspace(start, end, int(steps)).astype(dtype), dtype, requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False, device=None):
    check_device(device, "eye")
    dtype = dtypes.as_dtype(dtype) or dtypes.default_float
    return _new(np.eye(n, m, dtype=dtype), dtype, requires_grad)


def rand(*size, generator=None, dtype=None, requires_grad=False, device=None):
    """Uniform samples in [0, 1)."""
    check_device(device, "rand")
    dtype = _float_dtype(dtype, "rand")
    return _new(_drawn(generator, "random", (shape_arg(size, "rand"), dtype)), dtype, requires_grad)


def randn(*size, generator=None, dtype=None, requires_grad=False, device=None):
    """Standard normal samples."""
    check_device(device, "randn")
    dtype = _float_dtype(dtype, "randn")
    return _new(_drawn(generator, "standard_normal", (shape_arg(size, "randn"), dtype)), dtype, requires_grad)


def randint(low, high=None, size=(), generator=None, dtype=None, requires_grad=False, device=None):
    """Integers uniform in [low, high) (``randint(high, size)`` starts at 0)."""
    check_device(device, "randint")
    if high is None:
        low, high = 0, low
    if low >= high:
        raise RuntimeError(f"randint: expected low < high, got low={low}, high={high}")
    dtype = dtypes.as_dtype(dtype) or dtypes.int64
    size = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
    return _new(_drawn(generator, "integers", (low, high, size), dtype), dtype, requires_grad)


def randperm(n, generator=None, dtype=None, device=None):
    check_device(device, "randperm")
    dtype = dtypes.as_dtype(dtype) or dtypes.int64
    return _new(_drawn(generator, "permutation", (n,), dtype), dtype, False)


def rand_like(input, dtype=None, requires_grad=False, generator=None, device=None):
    check_device(device, "rand_like")
    return rand(input.shape, generator=generator, dtype=dtype or input.dtype, requires_grad=requires_grad)


def randn_like(input, dtype=None, requires_grad=False, generator=None, device=None):
    check_device(device, "randn_like")
    return randn(input.shape, generator=generator, dtype=dtype or input.dtype, requires_grad=requires_grad)


def normal(mean=0.0, std=1.0, size=(), generator=None, dtype=None, requires_grad=False, device=None):
    check_device(device, "normal")
    dtype = _float_dtype(dtype, "normal")
    size = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
    return _new(_drawn(generator, "normal", (mean, std, size), dtype), dtype, requires_grad)


def bernoulli(input, generator=None):
    """1 with probability ``input`` (elementwise), else 0, in ``input``'s dtype."""
    probs = input._data if isinstance(input, Tensor) else np.asarray(input)
    values = _bernoulli_values(generator, probs)
    if tracing.recorder is not None:
        tracing.record(_Bernoulli(generator), (input,), values)
    return _new(values, probs.dtype, False)


# ---------------------------------------------------------------------- sampling and in-place filling
def multinomial(input, num_samples, replacement=False, generator=None):
    """Indices drawn from the categories of each row of ``input`` (1-D or 2-D non-negative weights,
    not necessarily normalised) with probability proportional to the weights, as ``torch.multinomial``;
    without ``replacement`` each row's draws are distinct. Returns int64 of shape (num_samples,) or
    (rows, num_samples); the draws come from the seeded generator."""
    probs = input._data if isinstance(input, Tensor) else np.asarray(input)
    if probs.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: prob_dist must be 1 or 2 dim, got shape {tuple(probs.shape)}")
    if probs.dtype.kind != "f":
        raise RuntimeError(f"multinomial: only supports floating-point dtypes for input, got {probs.dtype}")
    num_samples = int(num_samples)
    if num_samples <= 0:
        raise RuntimeError(f"multinomial: cannot sample num_samples={num_samples} <= 0 samples")
    rows = np.atleast_2d(probs).astype(np.float64)
    if not np.isfinite(rows).all() or (rows < 0).any():
        raise RuntimeError("multinomial: probability tensor contains either inf, nan or element < 0")
    totals = rows.sum(axis=1)
    if (totals <= 0).any():
        raise RuntimeError("multinomial: invalid multinomial distribution (sum of probabilities <= 0)")
    if not replacement and num_samples > rows.shape[1]:
        raise RuntimeError(f"multinomial: cannot sample n_sample={num_samples} > prob_dist.size(-1)="
                           f"{rows.shape[1]} samples without replacement")
    if not replacement and ((rows > 0).sum(axis=1) < num_samples).any():
        raise RuntimeError(f"multinomial: fewer than num_samples={num_samples} categories have a nonzero "
                           f"weight, so they cannot be drawn without replacement")
    if tracing.recorder is not None:  # (its draws depend on the weights in Python: not replayable)
        tracing.recorder.refuse("multinomial draws a number of samples per row in Python")
    rng = _rng(generator)
    out = np.stack([rng.choice(rows.shape[1], num_samples, replace=replacement, p=row / total)
                    for row, total in zip(rows, totals)]).astype(np.int64)
    return _new(out if probs.ndim == 2 else out[0], dtypes.int64, False)


def _fill_in_place(tensor, values, op):
    from .grad_mode import is_grad_enabled
    if tensor.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating tensor, got {tensor.dtype}")
    if is_grad_enabled() and tensor.requires_grad:
        raise RuntimeError(f"{op}: a tensor that requires grad is being filled in place; do it under "
                           f"autograd.no_grad() (as nn.init does)")
    tensor._data[...] = values
    tracing.record(_fill, (tensor, values))
    tensor._version[0] += 1
    return tensor


def _fill(target, values):
    target[...] = values


def uniform_(tensor, from_=0.0, to=1.0, *, generator=None):
    """Fill ``tensor`` in place with U(from_, to) draws of the seeded generator (``Tensor.uniform_``)."""
    values = _drawn(generator, "uniform", (from_, to, tensor.shape))
    return _fill_in_place(tensor, values, "uniform_")


def normal_(tensor, mean=0.0, std=1.0, *, generator=None):
    """Fill ``tensor`` in place with N(mean, std²) draws of the seeded generator (``Tensor.normal_``)."""
    values = _drawn(generator, "normal", (mean, std, tensor.shape))
    return _fill_in_place(tensor, values, "normal_")


def new_full(self, size, fill_value, *, dtype=None, requires_grad=False, device=None):
    """A tensor of ``size`` filled with ``fill_value``, of this tensor's dtype unless ``dtype`` is given."""
    check_device(device, "new_full")
    return full(size, fill_value, dtype=dtype or self.dtype, requires_grad=requires_grad)


def new_zeros(self, *size, dtype=None, requires_grad=False, device=None):
    check_device(device, "new_zeros")
    return zeros(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)


def new_ones(self, *size, dtype=None, requires_grad=False, device=None):
    check_device(device, "new_ones")
    return ones(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)


def new_empty(self, *size, dtype=None, requires_grad=False, device=None):
    check_device(device, "new_empty")
    return empty(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)
