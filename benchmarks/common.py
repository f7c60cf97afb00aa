"""Helpers shared by the numbagrad benchmarks."""

from __future__ import annotations

import statistics
import time


def timeit_median(fn, repeat=7, number=None, min_time=0.02):
    """Median seconds per call of ``fn()`` over ``repeat`` timed batches.

    One warm-up call runs first (pays compilation / cache loading).  When
    ``number`` is None it is chosen so one batch lasts about ``min_time`` s,
    which keeps microsecond-scale calls above timer resolution.
    """
    fn()
    if number is None:
        number = 1
        while True:
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            if time.perf_counter() - t0 >= min_time or number >= 1 << 20:
                break
            number *= 2
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number)
    return statistics.median(times)


def fmt_time(seconds):
    """Human-readable duration (ns/us/ms/s)."""
    if seconds != seconds:  # NaN: not measured
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if seconds >= scale or unit == "ns":
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds:.3g} s"


def fmt_ratio(x):
    return "-" if x is None or x != x else f"{x:.2f}x"


def print_table(title, headers, rows):
    """Print an aligned plain-text table (cells are str()-ed)."""
    rows = [[str(c) for c in r] for r in rows]
    headers = [str(h) for h in headers]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    line = "  ".join("-" * w for w in widths)
    print()
    print(title)
    print(line)
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
    print(line)
    for r in rows:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))
    print(line, flush=True)


def torch_or_none():
    """The torch module if importable, else None (torch is optional)."""
    try:
        import torch
    except Exception:  # ImportError, or a broken install
        return None
    return torch
