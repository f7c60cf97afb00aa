"""The activations' eager paths: the two-thread split of large calls, and relu/sigmoid/tanh/gelu through
autograd (float32 and float64, non-contiguous and large-|x| inputs, PyTorch when present, first and
second order gradcheck in float64)."""
import threading
import time

import numpy as np
import pytest

import autograd as ag
from autograd.kernels import threads


# ---- the back-off of the helper thread -------------------------------------------------------
class _BlockedJob:
    """A job that keeps the helper thread busy until released (as if another process held its core)."""

    def __init__(self):
        self.started, self.release = threading.Event(), threading.Event()

    def help(self):
        self.started.set()
        self.release.wait(10)


def _count_chunks(counts, main_thread_sleeps=0.0):
    def kernel(c):  # a Python "kernel": it holds the GIL except while it sleeps
        if main_thread_sleeps and threading.current_thread() is threading.main_thread():
            time.sleep(main_thread_sleeps)
        c += 1
    threads.run_elementwise(kernel, (counts,), 0)


@pytest.fixture
def enabled_threads(monkeypatch):
    monkeypatch.setattr(threads, "ENABLED", True)
    threads.reset_backoff()
    yield
    threads.reset_backoff()


def test_calls_go_serial_for_a_while_when_the_helper_finds_no_core(enabled_threads):
    blocked = _BlockedJob()
    threads._helper().put(blocked)
    assert blocked.started.wait(10)
    try:
        counts = np.zeros(10 * threads.MIN_CHUNK, np.int64)
        before = time.perf_counter()
        _count_chunks(counts)  # the helper is busy: the calling thread runs every chunk
        assert (counts == 1).all()
        assert threads._helper_off_until > before
    finally:
        blocked.release.set()


def test_splitting_goes_on_when_the_calling_thread_was_the_slow_one(enabled_threads):
    """The calling thread sleeps in its first chunk and the helper runs the other nine: the split
    worked, so the next calls split too (no back-off)."""
    counts = np.zeros(10 * threads.MIN_CHUNK, np.int64)
    _count_chunks(counts, main_thread_sleeps=0.05)
    assert (counts == 1).all()
    assert threads._helper_off_until == 0.0
