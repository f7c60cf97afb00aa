"""Helpers shared by the numbagrad benchmarks: timing loops, formatting, tables. Timing a reference library
(torch, micrograd) goes through benchmarks/reference.py, which runs it in a process of its own."""

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


def print_table(title, headers, rows, left=0):
    """Print an aligned plain-text table (cells are str()-ed); the first ``left`` columns are left-aligned,
    the others right-aligned."""
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
        print("  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    print(line, flush=True)


def interleaved_times(fns, repeat=11, min_time=0.01, setup=None, settle=0.0):
    """Per-call seconds of each ``fns[name]``, one sample per repetition, the implementations interleaved.

    A value is a callable of this process, a case built in another process
    (:meth:`benchmarks.reference.Worker.case`), or None (skipped: it gets an empty list). Each repetition
    runs every implementation once (a batch of calls lasting about ``min_time`` s, the batch size fixed
    per implementation after a warm-up call), in forward order on even repetitions and reversed on odd
    ones, so a slow patch of the machine hits all of them alike and no side always runs first.
    ``setup()`` (if given) runs untimed before every batch of a local callable, e.g. ``gc.collect``;
    remote cases then run gc.collect() before theirs. ``settle`` seconds pass idle whenever the next batch
    runs in another process than the last one, so that threads the last one left spinning (OpenMP's,
    OpenBLAS's) have gone to sleep and do not take the next one's cores. Returns ``{name: [seconds per
    call, ...]}``.
    """
    from benchmarks.reference import LocalCase
    cases = {name: (fn if hasattr(fn, "block") else LocalCase(fn, setup))
             for name, fn in fns.items() if fn is not None}
    collect = setup is not None
    numbers = {name: case.calibrate(min_time) for name, case in cases.items()}
    times = {name: [] for name in fns}
    names = list(cases)
    last = None
    for rep in range(repeat):
        for name in (names if rep % 2 == 0 else names[::-1]):
            case = cases[name]
            if settle and last is not None and case.process != last:
                time.sleep(settle)
            times[name].append(case.block(numbers[name], collect=collect))
            last = case.process
    return times


def paired(times, ours, reference):
    """(median of ours, median of reference, median of the per-repetition ratios ours/reference); NaN
    where the reference was not measured."""
    nan = float("nan")
    a, b = times.get(ours) or [], times.get(reference) or []
    if not a or not b:
        return (statistics.median(a) if a else nan), nan, nan
    return statistics.median(a), statistics.median(b), statistics.median(x / y for x, y in zip(a, b))


def fmt_bytes(n):
    """Human-readable size (binary units)."""
    if n is None or n != n:
        return "-"
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"
