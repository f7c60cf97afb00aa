"""Keep freed array memory in the process instead of handing it back to the OS after every op.

Each op allocates its output with numpy. By default glibc serves a block of more than 128 KiB with a
fresh ``mmap`` (or trims the heap when such a block is freed), so the next op's output of the same size
page-faults all its pages in again, which can cost more than the op itself
(``benchmarks/bench_elementwise.py`` measures the effect). Raising glibc's mmap and trim thresholds keeps
blocks of up to 32 MiB (glibc's maximum for the mmap threshold) in the heap for reuse. Larger arrays
still come from mmap.

This changes a process-wide allocator setting, as loading numbagrad is meant to make array work fast.
Set ``NUMBAGRAD_TUNE_MALLOC=0`` in the environment to leave the allocator alone. Other platforms and
C libraries (macOS, Windows, musl) are left as they are.
"""
import ctypes
import ctypes.util
import os
import sys

MMAP_THRESHOLD = 32 * 1024 * 1024   # glibc caps M_MMAP_THRESHOLD at 32 MiB on 64-bit systems
TRIM_THRESHOLD = 256 * 1024 * 1024  # freed heap memory kept before returning it to the OS

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

tuned = False


def tune_malloc():
    """Raise glibc's mmap and trim thresholds (once); returns whether the allocator is tuned."""
    global tuned
    if tuned or os.environ.get("NUMBAGRAD_TUNE_MALLOC", "1") == "0" or not sys.platform.startswith("linux"):
        return tuned
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    tuned = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return tuned
