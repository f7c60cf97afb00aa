"""``python -m autograd.warmup``: compile the kernels a first training step uses, ahead of time.

Numba compiles a kernel on its first call and caches the machine code on disk, so only the very first
process pays (seconds per kernel). Running this once after installing (``make setup`` does) means a
first training step in any later process loads kernels from the cache instead of compiling them.
"""
import sys
import time

from . import kernels
from .creation import ones
from .grad_mode import no_grad
from .ops.inplace import adam_step_, sgd_step_


def warm_up(dtypes=("float32",)):
    """Compile (or load from the disk cache) the activation, softmax, matmul, conv/pool and optimizer
    kernels for ``dtypes``."""
    kernels.warmup.warm_up(dtypes)
    for dtype in dtypes:
        param, grad, first, second = (ones(8, dtype=dtype) for _ in range(4))
        with no_grad():
            param.addcmul_(grad, grad, value=0.1)
            param.addcdiv_(grad, second, value=0.1)
            param.lerp_(grad, 0.5)
            param.add_(grad, alpha=-0.1)
            sgd_step_(param, grad, first, lr=0.1, momentum=0.9, first_step=True)
            sgd_step_(param, grad, lr=0.1)
            for amsgrad in (False, True):
                adam_step_(param, grad, first, second, second.clone() if amsgrad else None, step=1, lr=1e-3,
                           beta1=0.9, beta2=0.999, eps=1e-8, amsgrad=amsgrad)


def main(argv):
    dtypes = tuple(argv) or ("float32",)
    start = time.perf_counter()
    warm_up(dtypes)
    print(f"numbagrad kernels ready for {', '.join(dtypes)} in {time.perf_counter() - start:.1f} s "
          f"(cached on disk for later processes)")


if __name__ == "__main__":
    main(sys.argv[1:])
