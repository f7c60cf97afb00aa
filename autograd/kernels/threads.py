"""Two threads for large elementwise calls, where they measurably pay: the calling thread and one
helper thread share the work.

Public surface: ``run_elementwise(kernel, arrays, parallel_min)``; the settings ``ENABLED`` (False when
``NUMBAGRAD_KERNEL_THREADS=1``: every call serial), ``MIN_CHUNK``, ``CHUNKS_PER_CALL``, ``CHUNK_ALIGN``,
``SAMPLES``, ``PROBE_EVERY``, read at each call; ``reset_backoff()`` and ``helper_started()`` for tests
and benchmarks.

Design notes:

* The machine has 2 cores and the kernels release the GIL, so a large call can be cut into chunks that
  the calling thread and one helper thread (a daemon started on first use) claim from a shared
  counter.  Each element is computed on its own, so any split gives bit-identical results.
* The caller never waits for a helper that has not started: it runs whatever is left itself, then
  waits only for a chunk the helper is in the middle of.
* Whether splitting pays is measured, not assumed.  These 2 cores are shared (other processes, OpenBLAS
  threads that keep spinning after a product, torch's OpenMP threads, a virtual CPU whose physical core
  is busy with another machine's work), so a split call is sometimes much faster than a serial one and
  sometimes slower, and which of the two changes from one minute to the next.  For each kernel and
  size class (sizes within a factor of 2) the wall times of the last ``SAMPLES`` split and serial calls
  are kept; a call goes the way whose median is lower, except every ``PROBE_EVERY``-th call, which goes
  the other way so that a change is noticed.  A new kernel or size class tries both ways first.  The
  cost: two clock reads and a few list operations per call above the size thresholds.
* Not ``parallel=True``: such a kernel launched right after a BLAS product waits for the cores that
  OpenBLAS threads are still spinning on, and for small arrays serial code is faster anyway.
"""
import itertools
import os
import queue
import threading
import time

ENABLED = os.environ.get("NUMBAGRAD_KERNEL_THREADS", "2") != "1"
CHUNK_ALIGN = 4096  # elements: chunks start on the same vector alignment as the whole array
CHUNKS_PER_CALL = 8  # the faster thread takes more of them (load balance)
MIN_CHUNK = 32768
SAMPLES = 5  # recent wall times kept per way (split, serial), kernel and size class
PROBE_EVERY = 10  # one call in this many goes the way that is not preferred
_helper_jobs = None
_helper_lock = threading.Lock()
_timings = {}  # (kernel's code, size class) -> _Timings
_MAX_TIMINGS = 1024  # records kept before all are forgotten (callables made anew for each call)


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

    __slots__ = ("kernel", "arrays", "size", "chunk", "claim", "busy", "error")

    def __init__(self, kernel, arrays, size, chunk):
        self.kernel = kernel
        self.arrays = arrays
        self.size = size
        self.chunk = chunk
        self.claim = itertools.count().__next__  # atomic under the GIL
        self.busy = threading.Lock()  # held by the helper while it works on this call
        self.error = None

    def run_chunks(self):
        kernel, arrays, size, chunk = self.kernel, self.arrays, self.size, self.chunk
        while True:
            lo = self.claim() * chunk
            if lo >= size:
                return
            hi = lo + chunk
            kernel(*[a[lo:hi] for a in arrays])

    def help(self):
        with self.busy:
            try:
                self.run_chunks()
            except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
                self.error = exc


class _Timings:
    """The recent wall times of one kernel's calls in one size class, split and serial, and which way
    is faster."""

    __slots__ = ("split", "serial", "calls", "prefer_split")

    def __init__(self):
        self.split, self.serial = [], []
        self.calls = 0
        self.prefer_split = True

    def choose_split(self):
        self.calls += 1
        if len(self.split) < SAMPLES or len(self.serial) < SAMPLES:  # still measuring both ways
            return len(self.split) <= len(self.serial)
        if self.calls % PROBE_EVERY == 0:
            return not self.prefer_split
        return self.prefer_split

    def add(self, split, seconds):
        samples = self.split if split else self.serial
        samples.append(seconds)
        del samples[:-SAMPLES]
        if len(self.split) >= SAMPLES and len(self.serial) >= SAMPLES:
            self.prefer_split = _median(self.split) < _median(self.serial)


def _median(samples):
    return sorted(samples)[len(samples) // 2]


def run_elementwise(kernel, arrays, parallel_min):
    """``kernel(*arrays)`` on equal-length 1-D contiguous arrays (inputs then outputs), split over two
    threads when there are at least ``parallel_min`` elements and splitting has lately been the faster
    way for this kernel and size."""
    size = arrays[0].size
    if size < parallel_min or not ENABLED:
        kernel(*arrays)
        return
    # Keyed by code: a closure made for each call (the fused optimizer steps wrap their kernel in one)
    # shares the record of its call site.
    key = (getattr(kernel, "__code__", kernel), size.bit_length())
    timings = _timings.get(key)
    if timings is None:
        if len(_timings) >= _MAX_TIMINGS:
            _timings.clear()
        timings = _timings[key] = _Timings()
    split = timings.choose_split()
    start = time.perf_counter()
    if split:
        _run_split(kernel, arrays, size)
    else:
        kernel(*arrays)
    timings.add(split, time.perf_counter() - start)


def _run_split(kernel, arrays, size):
    chunk = max(MIN_CHUNK, -(-size // CHUNKS_PER_CALL))
    chunk = -(-chunk // CHUNK_ALIGN) * CHUNK_ALIGN
    call = _SplitCall(kernel, arrays, size, chunk)
    _helper().put(call)
    try:
        call.run_chunks()
    finally:
        with call.busy:  # wait for the chunk the helper is running, if any
            pass
    if call.error is not None:
        raise call.error


def reset_backoff():
    """Forget the measured timings: the next large calls of every kernel try splitting first, then
    measure both ways again (tests and benchmarks that time both)."""
    _timings.clear()


def helper_started():
    """Whether this process has started its helper thread (no call so far was large enough)."""
    return _helper_jobs is not None
