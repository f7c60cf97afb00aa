"""Fused activations, elementwise: sigmoid, tanh, relu, GELU forward and backward, bias + ReLU.

Public surface: ``sigmoid_forward/backward``, ``tanh_forward/backward``, ``relu_forward/backward``,
``gelu_forward`` (optionally with its derivative), ``gelu_backward``, ``gelu_backward_from_derivative``,
``bias_relu_``; ``relu_backward_loop`` (the bare loop); ``PARALLEL_MIN_MATH`` and
``PARALLEL_MIN_MEMORY``, the sizes from which a call may be split over two threads.

Design notes:

* Every wrapper takes float32 or float64 arrays of any shape and layout, never mutates its inputs and
  returns a new array of the same dtype (from ``buffer_pool``, which recycles large outputs).
* The loops run on 1-D contiguous views, ``kernel(inputs..., outputs...)``, one element at a time
  independently of its neighbours, so ``threads.run_elementwise`` may split them anywhere.
* Backward passes use the saved output where the derivative is a function of it (σ' = y(1 − y),
  tanh' = (1 − y)(1 + y), which has no cancellation as |y| → 1), so backward is one memory-bound pass.
* GELU's forward can store GELU'(x) beside GELU(x) from the same intermediate values (the backward is
  then one multiplication), or the backward recomputes GELU'(x) from x; LLVM drops what a kernel does
  not store, so the variants compute each value identically.
"""
import math
import sys

import numpy as np

from .. import buffer_pool
from .arrays import F32, check_float, contiguous
from .fastmath import (gelu_erf_f32, gelu_erf_f64, gelu_tanh_f32, gelu_tanh_f64, sigmoid_f32, sigmoid_f64,
                       tanh_f32)
from .jit import kernel
from .threads import run_elementwise

# float32 constants: exact in float64 too, so the dtype-generic loops stay in their arrays' dtype.
_ZERO = np.float32(0.0)
_ONE = np.float32(1.0)

# ---------------------------------------------------------------------------
# Elementwise kernels on 1-D contiguous views: kernel(inputs..., outputs...).
# Each element is computed independently of its neighbours, so any split of the
# range into chunks gives bit-identical results (see run_elementwise).
# ---------------------------------------------------------------------------
@kernel
def _sigmoid_fwd_f32(x, out):
    for i in range(x.size):
        out[i] = sigmoid_f32(x[i])


@kernel
def _sigmoid_fwd_f64(x, out):
    for i in range(x.size):
        out[i] = sigmoid_f64(x[i])


@kernel
def _sigmoid_bwd(g, y, out):
    for i in range(g.size):
        yi = y[i]
        out[i] = g[i] * (yi * (_ONE - yi))


@kernel
def _tanh_fwd_f32(x, out):
    for i in range(x.size):
        out[i] = tanh_f32(x[i])


@kernel
def _tanh_fwd_f64(x, out):
    for i in range(x.size):
        out[i] = math.tanh(x[i])


@kernel
def _tanh_bwd(g, y, out):
    for i in range(g.size):
        yi = y[i]
        # (1-y)(1+y) instead of 1-y*y: no cancellation when |y| -> 1.
        out[i] = g[i] * ((_ONE - yi) * (_ONE + yi))


@kernel
def _relu_fwd(x, out):
    for i in range(x.size):
        xi = x[i]
        out[i] = _ZERO if xi <= _ZERO else xi  # NaN propagates like torch.relu


@kernel
def relu_backward_loop(g, y, out):
    """out = g where y > 0 else 0, on 1-D C-contiguous arrays of one dtype, without the checks of
    ``relu_backward``: for callers that own their buffers (the benchmarks' kernels-only step)."""
    for i in range(g.size):
        out[i] = g[i] if y[i] > _ZERO else _ZERO


@kernel
def _bias_relu_inplace(out, bias):
    # out: (rows, n) C-contiguous, bias: (n,); one pass over the product right after BLAS wrote it.
    rows, n = out.shape
    for i in range(rows):
        row = out[i]
        for j in range(n):
            v = row[j] + bias[j]
            row[j] = _ZERO if v <= _ZERO else v  # NaN propagates like torch.relu


@kernel
def _mul(g, d, out):
    for i in range(g.size):
        out[i] = g[i] * d[i]


# GELU: forward alone, forward with the derivative (saved for backward, so the backward is one
# multiplication), and grad·GELU'(x) recomputed from x.  The float32 ones compute y and GELU' from
# the same intermediate values; LLVM drops what a kernel does not store.
@kernel
def _gelu_erf_fwd_f32(x, out):
    for i in range(x.size):
        out[i] = gelu_erf_f32(x[i])[0]


@kernel
def _gelu_erf_fwd_grad_f32(x, out, dout):
    for i in range(x.size):
        y, d = gelu_erf_f32(x[i])
        out[i] = y
        dout[i] = d


@kernel
def _gelu_erf_bwd_f32(g, x, out):
    for i in range(x.size):
        out[i] = g[i] * gelu_erf_f32(x[i])[1]


@kernel
def _gelu_erf_fwd_f64(x, out):
    for i in range(x.size):
        out[i] = gelu_erf_f64(x[i])[0]


@kernel
def _gelu_erf_fwd_grad_f64(x, out, dout):
    for i in range(x.size):
        y, d = gelu_erf_f64(x[i])
        out[i] = y
        dout[i] = d


@kernel
def _gelu_erf_bwd_f64(g, x, out):
    for i in range(x.size):
        out[i] = g[i] * gelu_erf_f64(x[i])[1]


@kernel
def _gelu_tanh_fwd_f32(x, out):
    for i in range(x.size):
        out[i] = gelu_tanh_f32(x[i])[0]


@kernel
def _gelu_tanh_fwd_grad_f32(x, out, dout):
    for i in range(x.size):
        y, d = gelu_tanh_f32(x[i])
        out[i] = y
        dout[i] = d


@kernel
def _gelu_tanh_bwd_f32(g, x, out):
    for i in range(x.size):
        out[i] = g[i] * gelu_tanh_f32(x[i])[1]


@kernel
def _gelu_tanh_fwd_f64(x, out):
    for i in range(x.size):
        out[i] = gelu_tanh_f64(x[i])[0]


@kernel
def _gelu_tanh_fwd_grad_f64(x, out, dout):
    for i in range(x.size):
        y, d = gelu_tanh_f64(x[i])
        out[i] = y
        dout[i] = d


@kernel
def _gelu_tanh_bwd_f64(g, x, out):
    for i in range(x.size):
        out[i] = g[i] * gelu_tanh_f64(x[i])[1]



# Sizes from which a call may be split over two threads (``threads.run_elementwise`` then splits it
# where that has lately been faster; ``benchmarks/bench_kernels.py --threads`` measures both sides).
# Handing chunks to the helper costs its wake-up, which a transcendental kernel can repay from about
# this size.  Memory-bound kernels never split: on these 2 cores a second thread adds no memory
# bandwidth (two threads copying the halves of an array take as long as one copying all of it, in
# cache and out of it), so a split pass only adds the hand-off and moves half of the output into the
# other core's cache.  Public, and read at each call, so that tests and benchmarks can move them.
PARALLEL_MIN_MATH = 1 << 17         # transcendental kernels (sigmoid, tanh, GELU)
PARALLEL_MIN_MEMORY = sys.maxsize   # memory-bound kernels (relu, backward from saved values)


def _unary(x, k32, k64, parallel_min, outputs=1):
    """Outputs (``outputs`` arrays shaped like x) of an elementwise kernel of x."""
    x = contiguous(check_float(x))
    outs = [buffer_pool.empty_like(x) for _ in range(outputs)]
    # ravel: a view of these C-contiguous arrays, and cheaper than reshape(-1)
    run_elementwise(k32 if x.dtype == F32 else k64, (x.ravel(), *[o.ravel() for o in outs]),
                     parallel_min)
    return outs[0] if outputs == 1 else tuple(outs)


def _binary(g, y, k32, k64, parallel_min, yname="out"):
    g = check_float(g, "grad")
    y = check_float(y, yname)
    if g.dtype != y.dtype:
        raise TypeError(f"grad dtype {g.dtype} != {yname} dtype {y.dtype}")
    if g.shape != y.shape:
        raise ValueError(f"grad shape {g.shape} != {yname} shape {y.shape}")
    g = contiguous(g)
    y = contiguous(y)
    out = buffer_pool.empty_like(y)
    run_elementwise(k32 if y.dtype == F32 else k64, (g.ravel(), y.ravel(), out.ravel()),
                     parallel_min)
    return out


def sigmoid_forward(x):
    """σ(x) = 1/(1+e^{−x}); for x<0 computed as e^x/(1+e^x) (full relative accuracy)."""
    return _unary(x, _sigmoid_fwd_f32, _sigmoid_fwd_f64, PARALLEL_MIN_MATH)


def sigmoid_backward(grad, out):
    """grad·σ'(x) with σ'(x) = σ(x)(1−σ(x)), from the saved output in one pass."""
    return _binary(grad, out, _sigmoid_bwd, _sigmoid_bwd, PARALLEL_MIN_MEMORY)


def tanh_forward(x):
    """tanh(x)."""
    return _unary(x, _tanh_fwd_f32, _tanh_fwd_f64, PARALLEL_MIN_MATH)


def tanh_backward(grad, out):
    """grad·(1 − tanh²(x)) from the saved output, evaluated as (1−y)(1+y)."""
    return _binary(grad, out, _tanh_bwd, _tanh_bwd, PARALLEL_MIN_MEMORY)


def relu_forward(x):
    """max(x, 0) (NaN propagates)."""
    return _unary(x, _relu_fwd, _relu_fwd, PARALLEL_MIN_MEMORY)


def relu_backward(grad, out):
    """grad where out > 0 else 0 (subgradient 0 at x = 0)."""
    return _binary(grad, out, relu_backward_loop, relu_backward_loop, PARALLEL_MIN_MEMORY)


def bias_relu_(out, bias=None):
    """``out = max(out + bias, 0)`` in place (``bias`` over the last axis, or None), for the fresh
    C-contiguous result of a linear layer's product: adding the bias and the activation cost one pass."""
    if bias is None:
        flat = out.reshape(-1)
        run_elementwise(_relu_fwd, (flat, flat), PARALLEL_MIN_MEMORY)
    else:
        _bias_relu_inplace(out.reshape(-1, out.shape[-1]), bias)
    return out


_GELU_KERNELS = {
    "none": (_gelu_erf_fwd_f32, _gelu_erf_fwd_f64, _gelu_erf_fwd_grad_f32, _gelu_erf_fwd_grad_f64,
             _gelu_erf_bwd_f32, _gelu_erf_bwd_f64),
    "tanh": (_gelu_tanh_fwd_f32, _gelu_tanh_fwd_f64, _gelu_tanh_fwd_grad_f32, _gelu_tanh_fwd_grad_f64,
             _gelu_tanh_bwd_f32, _gelu_tanh_bwd_f64),
}


def _gelu_kernels(approximate):
    try:
        return _GELU_KERNELS[approximate]
    except (KeyError, TypeError):
        raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}") from None


def gelu_forward(x, approximate="none", with_derivative=False):
    """GELU as in PyTorch; with ``with_derivative``, the pair (GELU(x), GELU'(x)) from one pass.

    "none": x·Φ(x), Φ(x) = ½(1 + erf(x/√2)) = ½ erfc(−x/√2) (relative accuracy kept for x < 0).
    "tanh": ½x(1 + tanh w), w = √(2/π)(x + 0.044715x³), evaluated as x·σ(2w).
    """
    f32, f64, fg32, fg64, _, _ = _gelu_kernels(approximate)
    if with_derivative:
        return _unary(x, fg32, fg64, PARALLEL_MIN_MATH, outputs=2)
    return _unary(x, f32, f64, PARALLEL_MIN_MATH)


def gelu_backward(grad, x, approximate="none"):
    """grad·GELU'(x), recomputed from the INPUT x.

    "none": Φ(x) + x·φ(x), φ(x) = e^{−x²/2}/√(2π).
    "tanh": σ(2w) + 2x·w'(x)·σ(2w)(1−σ(2w)), w'(x) = √(2/π)(1 + 3·0.044715x²).
    """
    _, _, _, _, b32, b64 = _gelu_kernels(approximate)
    return _binary(grad, x, b32, b64, PARALLEL_MIN_MATH, yname="x")


def gelu_backward_from_derivative(grad, derivative):
    """grad·GELU'(x) from the derivative saved by ``gelu_forward(..., with_derivative=True)``."""
    return _binary(grad, derivative, _mul, _mul, PARALLEL_MIN_MEMORY, yname="derivative")

