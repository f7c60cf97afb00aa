"""Two threads for large elementwise calls: the calling thread and one helper thread share the work.

Public surface: ``run_elementwise(kernel, arrays, parallel_min)``; the settings ``ENABLED`` (False when
``NUMBAGRAD_KERNEL_THREADS=1``: every call serial), ``MIN_CHUNK``, ``CHUNKS_PER_CALL``, ``CHUNK_ALIGN``,
read at each call; ``reset_backoff()`` and ``helper_started()`` for tests and benchmarks.

Design notes:

* The machine has 2 cores and the kernels release the GIL, so a large call is cut into chunks that
  the calling thread and one helper thread (a daemon started on first use) claim from a shared
  counter.  Each element is computed on its own, so any split gives bit-identical results.
* The caller never waits for a helper that has not started: it runs whatever is left itself, then
  waits only for a chunk the helper is in the middle of.
* When the helper barely ran (its core busy: OpenBLAS threads keep spinning for a while after a BLAS
  call, OpenMP threads of torch, another process), calls stay serial for a back-off time that doubles
  from ``_BACKOFF_MIN_S`` to ``_BACKOFF_MAX_S`` while the helper keeps finding no core, and resets once
  it helps: a failed try costs about a thread wake-up, and the back-off keeps such tries rare.  Only
  the helper's share decides: when the calling thread is the one that lost its core for a while and
  the helper ran most chunks, splitting worked, and going serial would leave all the work to the
  thread that was just slowed down.
* Not ``parallel=True``: such a kernel launched right after a BLAS product waits for the cores that
  OpenBLAS threads are still spinning on, and for small arrays serial code is faster anyway.
"""
import itertools
import os
import queue
import threading
import time

ENABLED = os.environ.get("NUMBAGRAD_KERNEL_THREADS", "2") != "1"
_BACKOFF_MIN_S = 0.002
_BACKOFF_MAX_S = 0.128
CHUNK_ALIGN = 4096  # elements: chunks start on the same vector alignment as the whole array
CHUNKS_PER_CALL = 8  # the faster thread takes more of them (load balance)
MIN_CHUNK = 32768
_helper_jobs = None
_helper_lock = threading.Lock()
_helper_off_until = 0.0
_helper_backoff = _BACKOFF_MIN_S


def _helper_main(jobs):
    while True:
        jobs.get().help()


def _helper():
    global _helper_jobs
    if _helper_jobs is None:
        with _helper_lock:
            if _helper_jobs is None:
                jobs = queue.SimpleQueue()
                threading.Thread(target=_helper_main, args=(jobs,), name="numbagrad-kernel-helper",
                                 daemon=True).start()
                _helper_jobs = jobs
    return _helper_jobs


def _forget_helper():
    # A forked child has no helper thread; it starts its own when needed.
    global _helper_jobs, _helper_lock
    _helper_jobs = None
    _helper_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_helper)


class _SplitCall:
    """One elementwise call cut into chunks; ``run_chunks`` claims and runs chunks until none is left."""

    __slots__ = ("kernel", "arrays", "size", "chunk", "claim", "busy", "helped", "error")

    def __init__(self, kernel, arrays, size, chunk):
        self.kernel = kernel
        self.arrays = arrays
        self.size = size
        self.chunk = chunk
        self.claim = itertools.count().__next__  # atomic under the GIL
        self.busy = threading.Lock()  # held by the helper while it works on this call
        self.helped = 0
        self.error = None

    def run_chunks(self):
        kernel, arrays, size, chunk = self.kernel, self.arrays, self.size, self.chunk
        done = 0
        while True:
            lo = self.claim() * chunk
            if lo >= size:
                return done
            hi = lo + chunk
            kernel(*[a[lo:hi] for a in arrays])
            done += 1

    def help(self):
        with self.busy:
            try:
                self.helped = self.run_chunks()
            except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
                self.error = exc


def run_elementwise(kernel, arrays, parallel_min):
    """``kernel(*arrays)`` on equal-length 1-D contiguous arrays (inputs then outputs), split over two
    threads when there are at least ``parallel_min`` elements."""
    global _helper_off_until, _helper_backoff
    size = arrays[0].size
    if size < parallel_min or not ENABLED or time.perf_counter() < _helper_off_until:
        kernel(*arrays)
        return
    chunk = max(MIN_CHUNK, -(-size // CHUNKS_PER_CALL))
    chunk = -(-chunk // CHUNK_ALIGN) * CHUNK_ALIGN
    call = _SplitCall(kernel, arrays, size, chunk)
    _helper().put(call)
    try:
        mine = call.run_chunks()
    finally:
        with call.busy:  # wait for the chunk the helper is running, if any
            pass
    if call.error is not None:
        raise call.error
    if 4 * call.helped < mine + call.helped:  # the helper found no core for (nearly) the whole call
        _helper_off_until = time.perf_counter() + _helper_backoff
        _helper_backoff = min(2 * _helper_backoff, _BACKOFF_MAX_S)
    else:
        _helper_backoff = _BACKOFF_MIN_S


def reset_backoff():
    """Let the next large call try the helper again at once (tests and benchmarks that time both)."""
    global _helper_off_until, _helper_backoff
    _helper_off_until = 0.0
    _helper_backoff = _BACKOFF_MIN_S


def helper_started():
    """Whether this process has started its helper thread (no call so far was large enough)."""
    return _helper_jobs is not None
