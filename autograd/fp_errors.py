"""Silencing numpy's floating-point warnings on hot paths, cheaply.

``with np.errstate(...)`` builds its error-state object on every entry (≈1 µs, as much as a small
ufunc call). The engine enters one around every backward pass and some ops around every forward, so
the states are built once here and only switched on entry. Falls back to ``np.errstate`` where
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


class quiet:
    """``with quiet(state):`` sets a prebuilt numpy error state for the block (``state`` from this
    module: ``IGNORE_ALL``, ``IGNORE_DIVIDE_INVALID``...)."""

    __slots__ = ("_state", "_token")

    def __init__(self, state):
        self._state = state

    def __enter__(self):
        if _extobj_contextvar is None:
            self._token = np.errstate(**self._state)
            self._token.__enter__()
        else:
            self._token = _extobj_contextvar.set(self._state)
        return self

    def __exit__(self, *exc_info):
        if _extobj_contextvar is None:
            self._token.__exit__(*exc_info)
        else:
            _extobj_contextvar.reset(self._token)
        return False


IGNORE_ALL = _make(all="ignore")
IGNORE_DIVIDE_INVALID = _make(divide="ignore", invalid="ignore")


def enter(state):
    """Set ``state`` and return a token for :func:`leave` (cheapest form, for try/finally)."""
    if _extobj_contextvar is None:
        token = np.errstate(**state)
        token.__enter__()
        return token
    return _extobj_contextvar.set(state)


def leave(token):
    if _extobj_contextvar is None:
        token.__exit__(None, None, None)
    else:
        _extobj_contextvar.reset(token)
