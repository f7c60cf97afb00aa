"""Gradient recording switches: no_grad, enable_grad, set_grad_enabled, detect_anomaly.

The switches are thread-local, as in PyTorch: disabling gradients in one thread (say, a data loader)
never changes what another thread records. Each works as a context manager and as a decorator
(``no_grad`` and ``enable_grad`` also bare: ``@no_grad``).

The state lives in context variables, which are per thread (a new thread starts from the defaults)
and, unlike ``threading.local``, cheap to read: every op asks whether it records. Inside asyncio each task also gets its own copy.
"""
import contextvars
import functools

GRAD_ENABLED = contextvars.ContextVar("numbagrad_grad_enabled", default=True)
ANOMALY = contextvars.ContextVar("numbagrad_anomaly", default=False)

#: Whether ops record the graph now (bound method of the context variable: the hot path calls it).
is_grad_enabled = GRAD_ENABLED.get
#: Whether backward checks gradients for NaN/Inf and ops record their forward stacks.
is_anomaly_enabled = ANOMALY.get


class _Switch:
    """A context manager that sets one flag of the thread's state and restores it on exit."""

    variable = GRAD_ENABLED
    value = True

    def __enter__(self):
        if not hasattr(self, "_tokens"):
            self._tokens = []  # a stack: the same switch object may be entered again inside itself
        self._tokens.append(self.variable.set(self.value))
        return self

    def __exit__(self, *exc_info):
        self.variable.reset(self._tokens.pop())
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__(*self._args()):
                return fn(*args, **kwargs)
        return wrapper

    def _args(self):
        return ()


class _BareDecoratorSwitch(_Switch):
    """A switch without arguments, so it is also usable as a bare decorator (``@no_grad`` as well as
    ``@no_grad()``), as in PyTorch."""

    def __new__(cls, orig_func=None):
        if orig_func is None:
            return super().__new__(cls)
        if not callable(orig_func):
            raise TypeError(f"{cls.__name__}() takes no arguments; as a decorator it takes the function "
                            f"it decorates, got {type(orig_func).__name__}")
        return cls()(orig_func)


class no_grad(_BareDecoratorSwitch):
    """Ops inside record no graph: results have ``requires_grad=False``."""
    value = False


class enable_grad(_BareDecoratorSwitch):
    """Re-enable recording inside a ``no_grad`` block."""
    value = True


class set_grad_enabled(_Switch):
    """``set_grad_enabled(mode)``: recording on or off, as a context manager or decorator."""

    def __init__(self, mode):
        self.value = bool(mode)

    def _args(self):
        return (self.value,)


class detect_anomaly(_Switch):
    """Backward raises naming the op whose gradient holds NaN or Inf, with that op's forward stack.

    Recording stacks makes forward slower; use it to debug, not to train.
    """
    variable = ANOMALY

    def __init__(self, check_nan=True):
        self.value = bool(check_nan)

    def _args(self):
        return (self.value,)
