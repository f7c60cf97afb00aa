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
from .ops.foreach import foreach_add_, foreach_addcdiv_, foreach_addcmul_, foreach_lerp_


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
            foreach_add_([param], [grad], alpha=-0.1)  # what the optimizers' rules call
            foreach_lerp_([first], [grad], 0.1)
            foreach_addcmul_([second], [grad], [grad], value=0.001)
            foreach_addcdiv_([param], [first], [second], value=-0.001)


def main(argv):
    dtypes = tuple(argv) or ("float32",)
    start = time.perf_counter()
    warm_up(dtypes)
    print(f"numbagrad kernels ready for {', '.join(dtypes)} in {time.perf_counter() - start:.1f} s "
          f"(cached on disk for later processes)")


if __name__ == "__main__":
    main(sys.argv[1:])
