"""numbagrad's Numba kernels, one module per concern; each module is imported on its first use.

    fastmath     float32 exp/sigmoid/tanh/GELU that vectorise; float64 through libm
    elementwise  fused activations forward and backward, bias + ReLU
    rows         softmax, log-softmax, logsumexp over the last axis
    normalization_rows  layer normalisation over the trailing dims, forward and backward
    losses       cross-entropy rows and its fused gradient
    scatter      scatter-add of rows (indexing's backward: an embedding's gradient)
    fused_steps  what the compiler's fusion pass calls in place of two eager calls
    matmul       BLAS, or a Numba loop for outer products
    conv         im2col/col2im, max and average pooling
    normalization_channels  batch normalisation over the channels: statistics, normalise, gradients
    updates      in-place updates (axpy through BLAS, addcmul, addcdiv, lerp)
    threads      two threads for large elementwise calls
    warmup       compile everything ahead of time
    jit, arrays  the shared decorators and argument checks

Design notes:

* ``import autograd`` must not wait for numba (about half a second to import), so this package
  imports no module of its own: ``kernels.rows`` imports ``autograd.kernels.rows`` on first access
  (PEP 562 ``__getattr__``), after which it is an ordinary module attribute, as cheap to reach as any.
  Ops write ``from .. import kernels`` and call ``kernels.rows.softmax_forward(x)``.
* Kernels compile lazily and are cached on disk (``jit.py``): importing a kernel module compiles
  nothing, and a first training step compiles only the kernels it calls.
* Every public wrapper takes float32 or float64 numpy arrays, never mutates its inputs unless its
  name ends in ``_``, and returns arrays of the inputs' dtype; the bare loops stay private to their
  module.
"""
import importlib

_MODULES = frozenset({"arrays", "conv", "elementwise", "fastmath", "fused_steps", "jit", "losses", "matmul",
                      "normalization_channels", "normalization_rows", "rows", "scatter", "threads", "updates",
                      "warmup"})

__all__ = sorted(_MODULES)


def __getattr__(name):
    if name in _MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _MODULES)
