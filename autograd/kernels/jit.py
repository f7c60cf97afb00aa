"""How every kernel is compiled: the Numba decorators the kernel modules share.

Design notes:

* ``kernel``: ``@njit(cache=True, error_model="numpy", nogil=True)`` on module-level functions
  without signatures. Without signatures nothing compiles when a module is imported; the first call
  per argument types compiles, or loads the machine code from numba's on-disk cache, so only the
  very first process on a machine pays for compiling (``python -m autograd.warmup`` pays it up front).
* ``error_model="numpy"``: numba's default ("python") checks every division for zero, which blocks
  vectorisation of the loops; numpy's model gives inf and NaN as numpy would.
* ``nogil``: a large elementwise call is split over two threads (``threads.py``), which only helps
  if the kernels release the GIL.
* ``inline``: scalar helpers (``fastmath.py``) are inlined at numba-IR level. Left to LLVM's inliner,
  the larger ones (tanh, Φ) stayed out-of-line calls, and a loop with a call in it stays scalar.
* numba's cache is keyed on the file that defines a kernel, not on the files of the helpers it
  inlines: after editing ``fastmath.py`` (or a constant a kernel reads from another module), delete
  ``autograd/kernels/__pycache__/*.nbi`` so that the kernels that inline it compile again.
* ``reassociating``: ``kernel`` with reassociation allowed, for a sum (or dot product) and nothing
  else, so that LLVM splits it over vector lanes and registers (in the strict order a sum is one chain
  of dependent additions, whose latency then sets the speed of the whole kernel). Called, not
  inlined, from ``kernel`` functions: the flag stays on the sum's own instructions and the caller
  keeps IEEE order. The order is fixed when compiled, so results are deterministic.
"""
import numba

kernel = numba.njit(cache=True, error_model="numpy", nogil=True)
inline = numba.njit(cache=True, error_model="numpy", nogil=True, inline="always")
reassociating = numba.njit(cache=True, error_model="numpy", nogil=True, fastmath={"reassoc"})
