"""Timing in separate processes: every reference (PyTorch, micrograd, another checkout of numbagrad) runs as
its users run it, in a fresh Python process of its own with the user's environment unchanged, so nothing
this harness does (environment variables, thread counts, what else it imported) changes its speed.

A :class:`Worker` is one such process. It builds a *case* (a function that returns a zero-argument
callable to time, looked up by name in :mod:`benchmarks.cases` or given as ``"module:function"``) and times
batches of calls of it when asked; the parent interleaves the batches of several cases, in one or several
workers, with :func:`benchmarks.common.interleaved_times`. :class:`Sides` starts the workers of a table
and collects how each ran; a new benchmark needs only its cases and this::

    from benchmarks.common import interleaved_times, paired
    from benchmarks.reference import SETTLE, Sides, print_notes

    notes = {}
    with Sides(notes) as sides:
        fns = {"ours": sides.case("numbagrad", "mlp_step", engine="numbagrad", batch=32),
               "torch": sides.case("torch", "mlp_step", engine="torch", batch=32)}  # None if no torch
        times = interleaved_times(fns, repeat=25, settle=SETTLE)
    ours, theirs, ratio = paired(times, "ours", "torch")   # medians, median of per-round ratios
    print_notes(notes)   # "torch: torch 2.13.0 eager, own process, default threads (...)"

``Worker.numbagrad(tree)`` runs a numbagrad checkout (``PYTHONPATH=tree``; the benchmark cases always come
from this checkout, so a case must reach numbagrad only through its public API: ``autograd``, ``nn``,
``optim``). ``Worker.reference(name)`` gets the environment exactly as the user has it. A case's keyword
arguments must be JSON values; a case kept in another module (``"benchmarks.bench_sequence:lstm_step"``)
imports its libraries inside the function, so that a torch process never loads numbagrad nor the
reverse. ``worker.case(...)`` raises :class:`ReferenceUnavailable` when the case
imports a library that is not installed (torch, micrograd), so a table can print '-' for it.

Run as a script (``python benchmarks/reference.py``) this file is the worker itself: it reads one JSON
command per line on stdin and answers one JSON line each on the original stdout (what the libraries print
goes to stderr).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# Environment variables that change how threads and BLAS run: reported (never set) for each process.
THREAD_VARIABLES = ("OMP_", "OPENBLAS_", "MKL_", "KMP_", "GOMP_", "NUMBA_", "NUMBAGRAD_", "BLIS_", "VECLIB_")


class ReferenceUnavailable(RuntimeError):
    """The reference library (torch, micrograd, ...) is not installed in the worker's Python."""


class WorkerError(RuntimeError):
    """A command failed inside the worker; the message holds its traceback."""


# ----------------------------------------------------------------------------------------- parent
class Worker:
    """One worker process; use as a context manager (or call :meth:`close`)."""

    def __init__(self, label, tree=None, python=None, cwd=None):
        self.label = label
        self.tree = Path(tree).resolve() if tree is not None else None
        from benchmarks import USER_ENVIRONMENT
        env = dict(USER_ENVIRONMENT)  # the user's environment, unchanged but for where numbagrad comes from
        if self.tree is not None:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.tree), env.get("PYTHONPATH")]))
        self._stderr = tempfile.TemporaryFile(mode="w+")
        self._process = subprocess.Popen(
            [python or sys.executable, str(HERE / "reference.py")], cwd=str(cwd or self.tree or ROOT), env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, text=True, bufsize=1)
        self._cases = 0
        self._info = None

    @classmethod
    def numbagrad(cls, tree=ROOT, label=None, **kwargs):
        """A worker that imports numbagrad from ``tree`` (a checkout's root), as installed there."""
        return cls(label or ("numbagrad" if Path(tree).resolve() == ROOT else f"numbagrad at {tree}"),
                   tree=tree, **kwargs)

    @classmethod
    def reference(cls, label, **kwargs):
        """A worker for a reference library, in the user's environment exactly."""
        return cls(label, **kwargs)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self._process.poll() is None:
            self._process.stdin.close()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._stderr.close()

    def request(self, **command):
        """Send one command, return its answer (a dict); raises WorkerError if it failed."""
        if self._process.poll() is not None:
            raise WorkerError(f"{self.label} worker exited ({self._process.returncode}):\n{self._tail()}")
        self._process.stdin.write(json.dumps(command) + "\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise WorkerError(f"{self.label} worker died during {command.get('op')}:\n{self._tail()}")
        answer = json.loads(line)
        if "missing" in answer:
            raise ReferenceUnavailable(f"{self.label}: {answer['missing']} is not installed")
        if "error" in answer:
            raise WorkerError(f"{self.label} worker, {command}:\n{answer['error']}")
        return answer

    def _tail(self):
        self._stderr.seek(0)
        return self._stderr.read()[-3000:]

    def case(self, name, /, warm_up=True, **kwargs):
        """Build the case ``name(**kwargs)`` in this worker (and call it once, unless not ``warm_up``);
        return its handle."""
        self._cases += 1
        case_id = self._cases
        self.request(op="setup", id=case_id, case=name, kwargs=kwargs, warm=warm_up)
        self._info = None  # the case may have loaded libraries: describe them afresh
        return RemoteCase(self, case_id, name, kwargs)

    def info(self, pools=True):
        """What the worker runs with: versions, thread variables at its start and (``pools``) its thread
        pools as threadpoolctl, if installed, finds them (importing it loads nothing into the libraries)."""
        if not pools:
            return self.request(op="info", pools=False)["info"]
        if self._info is None:
            self._info = self.request(op="info")["info"]
        return self._info

    def describe(self):
        """One line saying how this process ran, e.g. for a table's title."""
        return describe(self.info(), self.label)


class Sides:
    """The worker processes of one table or section: ``"numbagrad"`` (this checkout) and references by
    name (``"torch"``, ``"micrograd"``), each started on first use, closed on leaving the ``with`` block.
    ``notes`` (a dict used as an ordered set) collects one line per process saying how it ran, to print
    under the table::

        notes = {}
        with Sides(notes) as sides:
            fns = {"ours": sides.case("numbagrad", "mlp_step", engine="numbagrad", batch=32),
                   "torch": sides.case("torch", "mlp_step", engine="torch", batch=32)}   # None: no torch
            times = interleaved_times(fns, repeat=25, settle=SETTLE)
        print_notes(notes)
    """

    def __init__(self, notes=None):
        self.notes = {} if notes is None else notes
        self.workers = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for label, worker in self.workers.items():
            try:
                libraries = worker.info()["libraries"]
                line = worker.describe()
                if label != "numbagrad" and label not in libraries:
                    line = "not installed: its rows are not measured"
            except Exception as error:  # a worker that died already said why
                line = f"unavailable ({error.__class__.__name__})"
            self.notes.setdefault(f"{label}: {line}", None)
            worker.close()

    def case(self, side, name, /, optional=False, warm_up=True, **kwargs):
        """The case in ``side``'s worker ("numbagrad", "torch" or "micrograd"), or None when that library
        is not installed (or, for an ``optional`` case, when it fails to build: noted under the table)."""
        if side not in self.workers:
            self.workers[side] = Worker.numbagrad() if side == "numbagrad" else Worker.reference(side)
        try:
            return self.workers[side].case(name, warm_up=warm_up, **kwargs)
        except ReferenceUnavailable:
            return None
        except WorkerError as error:
            if not optional:
                raise
            self.notes.setdefault(f"{name}: not measured, {str(error).strip().splitlines()[-1]}", None)
            return None


def print_notes(notes, heading="How each side ran (each in a process of its own, with the user's environment):"):
    print(heading)
    for line in notes:
        print(f"  {line}")


# Batches that run in another process than the last batch wait this long first: the threads that batch
# used keep spinning a while after their work (OpenBLAS's pool yields for about 2^28 cycles by default,
# OpenMP's spins briefly), and on a 2-core machine they would take the cores of the next side.
SETTLE = 0.2


class RemoteCase:
    """A case built in a worker: what :func:`benchmarks.common.interleaved_times` times."""

    def __init__(self, worker, case_id, name, kwargs):
        self.worker, self.id, self.name, self.kwargs = worker, case_id, name, kwargs
        self.process = id(worker)

    def calibrate(self, min_time):
        """Calls per batch so that one batch lasts about ``min_time`` seconds."""
        return self.worker.request(op="calibrate", id=self.id, min_time=min_time)["number"]

    def block(self, number, collect=False):
        """Seconds per call over ``number`` calls in a row (``collect``: gc.collect() first, untimed)."""
        return self.worker.request(op="block", id=self.id, number=number, collect=collect)["seconds"]

    def call(self):
        """Call the case once and return what it returned (JSON values only), e.g. a measured quantity."""
        return self.worker.request(op="call", id=self.id)["value"]

    def median(self, repeat=7, min_time=0.02):
        import statistics
        number = self.calibrate(min_time)
        return statistics.median(self.block(number) for _ in range(repeat))


class LocalCase:
    """A callable of this process with RemoteCase's interface, for same-process rows."""
    process = "local"

    def __init__(self, fn, setup=None):
        self.fn, self.setup = fn, setup

    def calibrate(self, min_time):
        return calibrate(self.fn, min_time, self.setup)

    def block(self, number, collect=False):
        return time_block(self.fn, number, self.setup if self.setup else (_collect if collect else None))


def _collect():
    import gc
    gc.collect()


def calibrate(fn, min_time, setup=None):
    """One warm-up call, then the number of calls that makes a batch last about ``min_time`` seconds."""
    single = float("inf")
    for _ in range(2):  # the first call pays compilation, cache loading, first touch of buffers
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        fn()
        single = min(single, max(time.perf_counter() - t0, 1e-7))
    return max(1, min(1 << 20, int(min_time / single) + 1)) if single < min_time else 1


def time_block(fn, number, setup=None):
    if setup is not None:
        setup()
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number


def describe(info, label="process"):
    """'torch 2.13.0 eager, own process, default threads (torch threads 2; openblas 0.3.29 Haswell 2 thr; ...)'."""
    parts = []
    libs = info.get("libraries", {})
    if "torch" in libs:
        head = f"torch {libs['torch']['version']} eager"
        parts.append(f"torch.get_num_threads()={libs['torch']['threads']}")
    elif "micrograd" in libs:
        head = "micrograd (PyPI)"
    elif "autograd" in libs:
        head = f"numbagrad from {libs['autograd']['tree']}"
    else:
        head = label
    for pool in sorted(info.get("threadpools") or [], key=lambda pool: str(pool.get("internal_api"))):
        arch = f" {pool['architecture']}" if pool.get("architecture") else ""
        version = f" {pool['version']}" if pool.get("version") else ""
        parts.append(f"{pool['internal_api']}{version}{arch} {pool['num_threads']} thr")
    if info.get("threadpools") is None:
        parts.append("threadpoolctl not installed")
    variables = info.get("variables", {})
    parts.append("env " + (" ".join(f"{k}={v}" for k, v in sorted(variables.items())) if variables else "-"))
    return f"{head}, own process, default threads ({'; '.join(parts)})"


# ----------------------------------------------------------------------------------------- worker
def _thread_variables():
    return {k: v for k, v in os.environ.items() if k.startswith(THREAD_VARIABLES)}


_STARTED_WITH = _thread_variables()  # before any library (threadpoolctl sets KMP_DUPLICATE_LIB_OK) runs


def _process_info(pools=True):
    info = {"python": sys.version.split()[0], "executable": sys.executable, "variables": _STARTED_WITH,
            "libraries": {}}
    libs = info["libraries"]
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        libs["torch"] = {"version": torch.__version__.split("+")[0], "threads": torch.get_num_threads()}
    if "micrograd" in sys.modules:
        libs["micrograd"] = {}
    if "autograd" in sys.modules:
        libs["autograd"] = {"tree": str(Path(sys.modules["autograd"].__file__).resolve().parent.parent)}
    if "numpy" in sys.modules:
        libs["numpy"] = {"version": sys.modules["numpy"].__version__}
    if not pools:
        return info
    try:
        import threadpoolctl
    except ImportError:
        info["threadpools"] = None
    else:
        info["threadpools"] = [{k: pool.get(k) for k in ("user_api", "internal_api", "version", "num_threads",
                                                         "architecture", "threading_layer")}
                               for pool in threadpoolctl.threadpool_info()]
    return info


def _load_case(name):
    import importlib
    module, _, function = name.rpartition(":")
    return getattr(importlib.import_module(module or "benchmarks.cases"), function)


def _serve(requests, answers):
    import gc
    import traceback
    cases = {}
    for line in requests:
        command = json.loads(line)
        op = command["op"]
        try:
            if op == "setup":
                fn = _load_case(command["case"])(**command["kwargs"])
                if command.get("warm", True):
                    fn()
                cases[command["id"]] = fn
                answer = {}
            elif op == "calibrate":
                answer = {"number": calibrate(cases[command["id"]], command["min_time"])}
            elif op == "block":
                answer = {"seconds": time_block(cases[command["id"]], command["number"],
                                                gc.collect if command.get("collect") else None)}
            elif op == "call":
                answer = {"value": cases[command["id"]]()}
            elif op == "info":
                answer = {"info": _process_info(command.get("pools", True))}
            else:
                answer = {"error": f"unknown op {op!r}"}
        except ImportError as error:
            if error.name and error.name.split(".")[0] in ("torch", "micrograd"):
                answer = {"missing": error.name.split(".")[0]}
            else:
                answer = {"error": traceback.format_exc()}
        except Exception:
            answer = {"error": traceback.format_exc()}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


def _worker_main():
    import importlib.util
    # Run as a script: sys.path[0] is this folder, whose module names (common, cases) must not shadow
    # anything; the benchmarks package is this checkout's, whichever numbagrad PYTHONPATH selects.
    if sys.path and Path(sys.path[0] or ".").resolve() == HERE:
        del sys.path[0]
    spec = importlib.util.spec_from_file_location("benchmarks", HERE / "__init__.py",
                                                  submodule_search_locations=[str(HERE)])
    package = importlib.util.module_from_spec(spec)
    sys.modules["benchmarks"] = package
    spec.loader.exec_module(package)
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # whatever a library prints (Python or C) goes to stderr, not into the answers
    sys.stdout = sys.stderr
    _serve(sys.stdin, answers)


if __name__ == "__main__":
    _worker_main()
