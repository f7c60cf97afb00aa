"""Silencing numpy's floating-point warnings on hot paths, cheaply.

``with np.errstate(...)`` builds its error-state object on every entry, which costs as much as a small
ufunc call. The engine enters one around every backward pass, so the state is built once here and
only switched (:func:`enter` / :func:`leave`). Falls back to ``np.errstate`` where
numpy's internals differ (other numpy versions).
"""
import numpy as np

try:
    from numpy._core._ufunc_config import _extobj_contextvar, _make_extobj
except ImportError:  # pragma: no cover - numpy < 2 or a future layout
    _extobj_contextvar = _make_extobj = None


def _make(**kwargs):
    if _make_extobj is None:
        return kwargs
    return _make_extobj(**kwargs)


IGNORE_ALL = _make(all="ignore")


if _extobj_contextvar is not None:
    # The ContextVar's own C methods: no Python frame on the paths that switch the state per call.
    #: Set ``state`` and return a token for :func:`leave` (cheapest form, for try/finally).
    enter = _extobj_contextvar.set
    leave = _extobj_contextvar.reset
    #: The state in force: ``current() is IGNORE_ALL`` inside a backward pass, where a hot op can skip
    #: its own switch (a set and a reset cost a token and two updates of the context's mapping).
    current = _extobj_contextvar.get
else:  # pragma: no cover - numpy < 2 or a future layout
    def enter(state):
        """Set ``state`` and return a token for :func:`leave` (cheapest form, for try/finally)."""
        token = np.errstate(**state)
        token.__enter__()
        return token

    def leave(token):
        token.__exit__(None, None, None)

    def current():
        return None


class ignored:
    """``with fp_errors.ignored(): ...``: numpy's floating-point warnings off for the block.

    What ops use around a computation that may divide by zero or overflow: like PyTorch, they give
    inf and NaN silently (``detect_anomaly`` is the tool that reports them). Cheaper than
    ``np.errstate``, which costs as much as the ufunc call of a small tensor."""

    __slots__ = ("_token",)

    def __enter__(self):
        self._token = enter(IGNORE_ALL)

    def __exit__(self, *exc_info):
        leave(self._token)
