"""Gradient recording switches: no_grad, enable_grad, set_grad_enabled, detect_anomaly.

The switches are thread-local, as in PyTorch: disabling gradients in one thread (say, a data loader)
never changes what another thread records. Each works as a context manager and as a decorator.
"""
import functools
import threading


class _State(threading.local):
    def __init__(self):
        self.grad_enabled = True
        self.anomaly = False


_state = _State()


def is_grad_enabled():
    return _state.grad_enabled


def is_anomaly_enabled():
    return _state.anomaly


class _Switch:
    """A context manager that sets one flag of the thread's state and restores it on exit."""

    attribute = ""
    value = True

    def __enter__(self):
        self._previous = getattr(_state, self.attribute)
        setattr(_state, self.attribute, self.value)
        return self

    def __exit__(self, *exc_info):
        setattr(_state, self.attribute, self._previous)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__(*self._args()):
                return fn(*args, **kwargs)
        return wrapper

    def _args(self):
        return ()


class no_grad(_Switch):
    """Ops inside record no graph: results have ``requires_grad=False``."""
    attribute, value = "grad_enabled", False


class enable_grad(_Switch):
    """Re-enable recording inside a ``no_grad`` block."""
    attribute, value = "grad_enabled", True


class set_grad_enabled(_Switch):
    """``set_grad_enabled(mode)``: recording on or off, as a context manager or decorator."""
    attribute = "grad_enabled"

    def __init__(self, mode):
        self.value = bool(mode)

    def _args(self):
        return (self.value,)


class detect_anomaly(_Switch):
    """Backward raises naming the op whose gradient holds NaN or Inf, with that op's forward stack.

    Recording stacks makes forward slower; use it to debug, not to train.
    """
    attribute = "anomaly"

    def __init__(self, check_nan=True):
        self.value = bool(check_nan)

    def _args(self):
        return (self.value,)
