"""``kernels()``: the Numba kernel module (``autograd.kernels``), imported on its first use.

``import autograd`` must not wait for numba, so no module imports the kernels at load time; a
function-level ``from .. import kernels`` on every op call costs more than a small ufunc, hence
this cached accessor.
"""
_module = None


def kernels():
    global _module
    if _module is None:
        from . import kernels as module
        _module = module
    return _module
