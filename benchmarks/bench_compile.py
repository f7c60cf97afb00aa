"""Issue 17's targets table: compiled training steps (``autograd.compile``) against their floors and
references, in one command.

    python -m benchmarks compile [--quick]
    python -m benchmarks.bench_compile [--quick] mlp capture     # only some sections (names: SECTIONS)

The method is bench_targets.py's: every row interleaves its implementations (one batch of calls of each
per repetition, the order reversed every other repetition) and reports the medians and the median of
the paired per-repetition ratios; the target applies to that ratio. numbagrad (compiled and eager) runs
in a process of its own with the numpy floors beside it; PyTorch eager and torch.compile each run in a
process of their own with the user's environment and torch's defaults (benchmarks/reference.py), and
the table says how each ran. Before it is timed, every compiled numbagrad step is checked against the
eager step of a twin model: the same losses to rounding, and the calls after the first replay.
Torch missing, or torch.compile failing on this machine: those rows print '-' and 'n/a', with the
reason under the table.
"""
import os
import statistics
import sys
import time

from benchmarks.bench_targets import ACTIVATIONS, Table as TargetsTable, _header
from benchmarks.cases import CHECKED_CALLS
from benchmarks.common import fmt_bytes, fmt_time, interleaved_times, paired, print_table
from benchmarks.reference import SETTLE, Sides, WorkerError

NAN = float("nan")
BATCHES = (32, 128, 512)
FLOOR_TARGETS = {32: 1.25, 128: 1.15, 512: 1.10}
TORCH_TARGETS = {32: 0.50, 128: 0.65, 512: 0.85}
TORCH_COMPILE_TARGET = 0.6
CNN_TARGET = 0.5
TRANSFORMER_TARGET = 0.6
CAPTURE_LIMIT = 0.050  # seconds
MEMORY_TARGET = 0.8
ACTIVATION_TORCH_TARGET = 0.8
ACTIVATION_FLOOR_TARGET = 2.0  # at 1e7, against the copy floor


class Table(TargetsTable):
    """bench_targets' rows, plus rows that only inform (no target) and rows with an absolute limit."""

    def info(self, what, ours, reference, theirs, ratio=NAN, fmt=fmt_time):
        self.rows.append([what, fmt(ours), reference, fmt(theirs), "-" if ratio != ratio else f"{ratio:.2f}x",
                          "-", "-"])

    def limit(self, what, ours, reference, theirs, limit, fmt=fmt_time):
        """A row whose target is ``ours ≤ limit`` (an amount, not a ratio)."""
        verdict = "n/a" if ours != ours else ("PASS" if ours <= limit else "FAIL")
        self.rows.append([what, fmt(ours), reference, fmt(theirs), "-", f"≤ {fmt(limit)}", verdict])

    def print(self):
        print_table("issue 17 targets: compiled steps (ours/ref = median of paired ratios; ours and ref = medians)",
                    ["what", "ours", "reference", "ref", "ours/ref", "target", "result"], self.rows, left=1)


class CompileSides(Sides):
    """:class:`Sides` with one more side, ``"torch.compile"``: torch in a process of its own that runs
    only ``torch.compile``'d steps, so that nothing torch.compile loads or starts is in the process
    that times torch eager. Its line under the table says so."""

    def __exit__(self, *exc):
        compiled = self.workers.pop("torch.compile", None)
        super().__exit__(*exc)
        if compiled is None:
            return
        try:
            if "torch" in compiled.info()["libraries"]:
                line = compiled.describe().replace(" eager,", " torch.compile(step), default mode (inductor),", 1)
            else:
                line = "not installed: its rows are not measured"
        except Exception as error:  # a worker that died already said why
            line = f"unavailable ({error.__class__.__name__})"
        self.notes.setdefault(f"torch.compile: {line}", None)
        compiled.close()

    def optional(self, label, side, name, /, **kwargs):
        """``case(...)``, or None with a note naming ``label`` and the error's last line when it fails
        to build (torch.compile without a working compiler, a step that no longer captures)."""
        try:
            return self.case(side, name, **kwargs)
        except WorkerError as error:
            self.notes.setdefault(f"{label}: not measured, {str(error).strip().splitlines()[-1]}", None)
            return None


def _step_sides(sides, model, batch, references, torch_compile=False):
    """The timed callables of one model's step: numbagrad compiled and eager, torch eager and (asked
    for) torch.compile; a side that is not measured is None."""
    what = f"{model}" + (f" b{batch}" if batch else "")
    fns = {"compiled": sides.optional(f"autograd.compile {what}", "numbagrad", "training_step",
                                      engine="numbagrad", model=model, batch=batch, compiled=True),
           "eager": sides.case("numbagrad", "training_step", engine="numbagrad", model=model, batch=batch),
           "torch": None, "torch.compile": None}
    if references:
        fns["torch"] = sides.case("torch", "training_step", engine="torch", model=model, batch=batch)
        if torch_compile and fns["torch"] is not None:
            fns["torch.compile"] = sides.optional(f"torch.compile {what}", "torch.compile", "training_step",
                                                  engine="torch", model=model, batch=batch, compiled=True)
    return fns


def _eager_row(table, times):
    compiled, eager, ratio = paired(times, "compiled", "eager")
    table.info("  the same step compiled, over eager", compiled, "numbagrad eager", eager, ratio)


# ------------------------------------------------------------------------------------ rows
def mlp_rows(table, notes, quick, batches=BATCHES, references=True):
    for batch in batches:
        with CompileSides(notes) as sides:
            fns = _step_sides(sides, "mlp", batch, references, torch_compile=True)
            # the floor and the kernels-only step run in numbagrad's process (same-process rows)
            fns["floor"] = sides.case("numbagrad", "benchmarks.target_steps:floor_case", batch=batch)
            fns["kernels"] = sides.optional("kernels alone", "numbagrad", "benchmarks.target_steps:kernel_mlp_case",
                                            batch=batch)
            times = interleaved_times(fns, repeat=5 if quick else 25, settle=SETTLE)
            warm_up = (sides.case("torch.compile", "warm_up_record").call().get(f"mlp b{batch}")
                       if fns["torch.compile"] is not None else None)
        what = f"compiled MLP 784-256-256-10 step, b{batch}"
        floor_target = FLOOR_TARGETS[batch]
        table.ratio(what, "8 matmuls (floor) [1]", *paired(times, "compiled", "floor"), floor_target)
        kernels_only, floor, ratio = paired(times, "kernels", "floor")
        if kernels_only == kernels_only:
            table.bound("  its kernels alone, no framework [2]", kernels_only, "8 matmuls (floor) [1]", floor, ratio,
                        f"≤ {floor_target:.2f}x")
        table.ratio(what, "torch eager", *paired(times, "compiled", "torch"), TORCH_TARGETS[batch])
        _floor_bound(table, times, "torch", "torch eager", TORCH_TARGETS[batch])
        compiled_reference = "torch.compile" if fns["torch.compile"] or not references else "torch.compile (notes)"
        table.ratio(what, compiled_reference, *paired(times, "compiled", "torch.compile"), TORCH_COMPILE_TARGET)
        _floor_bound(table, times, "torch.compile", "torch.compile", TORCH_COMPILE_TARGET)
        if warm_up:
            table.info(f"  torch.compile's first {warm_up['calls']} calls (compiling) [4]", NAN, "torch.compile",
                       warm_up["first_calls"])
            notes.setdefault(f"torch.compile MLP b{batch}: first call {warm_up['first_call']:.2f} s, first "
                             f"{warm_up['calls']} calls {warm_up['first_calls']:.2f} s (inductor's FX graph cache "
                             f"in that process: {warm_up['fx_graph_cache_hits']} hits, "
                             f"{warm_up['fx_graph_cache_misses']} misses)", None)
        _eager_row(table, times)


def _floor_bound(table, times, side, reference, target):
    """The 8 products alone over a reference's step: the least ratio any implementation on numpy's BLAS
    can reach against it [3]."""
    floor, theirs, ratio = paired(times, "floor", side)
    if ratio == ratio:
        table.bound("  its 8 matmuls alone [3]", floor, reference, theirs, ratio, f"≤ {target:.2f}x")


def cnn_rows(table, notes, quick, batch=64, references=True):
    with CompileSides(notes) as sides:
        fns = _step_sides(sides, "cnn_bn", batch, references)
        times = interleaved_times(fns, repeat=3 if quick else 15, settle=SETTLE)
    table.ratio(f"compiled CNN step b{batch} 1x28x28 conv3x3x8+BN+ReLU+pool+linear, SGD", "torch eager",
                *paired(times, "compiled", "torch"), CNN_TARGET)
    _eager_row(table, times)


def transformer_rows(table, notes, quick, references=True):
    with CompileSides(notes) as sides:
        fns = _step_sides(sides, "transformer", None, references)
        times = interleaved_times(fns, repeat=3 if quick else 15, min_time=0.05, settle=SETTLE)
    table.ratio("compiled tiny transformer step (bench_sequence), AdamW", "torch eager",
                *paired(times, "compiled", "torch"), TRANSFORMER_TARGET)
    _eager_row(table, times)


def capture_rows(table, notes, quick, batch=128, repeat=None):
    with Sides(notes) as sides:
        result = sides.case("numbagrad", "capture_seconds", warm_up=False, engine="numbagrad", model="mlp",
                            batch=batch, repeat=repeat or (3 if quick else 9)).call()
    table.limit(f"capture time, MLP b{batch} step [5]", result["capture"], "first eager step", result["eager"],
                CAPTURE_LIMIT, fmt=_signed_time)
    cache = ("warm" if result["eager_kernels_compiled"] == 0 else
             f"cold for {result['eager_kernels_compiled']} of them (compiled)")
    extra = (f"; the capture itself needed {result['kernels_loaded']} more from the cache and compiled "
             f"{result['kernels_compiled']}" if result["kernels_loaded"] or result["kernels_compiled"] else
             "; the capture needed no other kernel")
    notes.setdefault(f"capture row: numba's disk cache was {cache} (the worker's first eager step loaded "
                     f"{result['eager_kernels_loaded']} kernel signatures from it){extra}; the first capture of "
                     f"the process: eager twin {result['first_round'][0] * 1e3:.1f} ms, compiled "
                     f"{result['first_round'][1] * 1e3:.1f} ms; the row is the median of the later rounds (kernels in "
                     f"memory)", None)


def _signed_time(seconds):
    """fmt_time, also for a difference of times that came out negative (noise larger than it)."""
    return "-" + fmt_time(-seconds) if seconds < 0 else fmt_time(seconds)


def memory_rows(table, notes, quick, batch=512):
    measured = {}
    for side in ("eager", "compiled"):  # each in a fresh process of its own
        with Sides(notes) as sides:
            measured[side] = sides.case("numbagrad", "step_peak_bytes", warm_up=False, engine="numbagrad", model="mlp",
                                        batch=batch, compiled=side == "compiled").call()
    eager, compiled = measured["eager"], measured["compiled"]
    table.ratio(f"peak memory, compiled MLP b{batch} step [6]", "eager step", compiled["peak"], eager["peak"],
                compiled["peak"] / eager["peak"], MEMORY_TARGET, fmt=fmt_bytes)
    added, eager_added = compiled["peak"] - compiled["before"], eager["peak"] - eager["before"]
    table.info("  of it allocated by the step itself", added, "eager step", eager_added, added / eager_added,
               fmt=fmt_bytes)
    if compiled["planned"] is not None:
        table.info("  program.peak_bytes (planned) vs measured", compiled["planned"], "measured peak",
                   compiled["peak"], compiled["planned"] / compiled["peak"], fmt=fmt_bytes)


def activation_rows(table, notes, quick, references=True):
    sizes = ((1_000_000, 3),) if quick else ((1_000_000, 11), (10_000_000, 7))
    for n, repeat in sizes:
        with Sides(notes) as sides:
            for name in ACTIVATIONS:
                fns = {"ours": sides.case("numbagrad", "activation", engine="numbagrad", name=name, n=n),
                       "floor": None, "torch": None, "floor2": None}
                if n == 1_000_000 and references:
                    fns["torch"] = sides.case("torch", "activation", engine="torch", name=name, n=n)
                    fns["floor2"] = sides.case("numbagrad", "benchmarks.target_steps:copy_floor", n=n, threads=2)
                elif n != 1_000_000:
                    fns["floor"] = sides.case("numbagrad", "benchmarks.target_steps:copy_floor", n=n)
                times = interleaved_times(fns, repeat=repeat, settle=SETTLE)
                what = f"eager {name} fwd+bwd, {n:.0e} float32"
                if n == 1_000_000:
                    table.ratio(what, "torch autograd", *paired(times, "ours", "torch"), ACTIVATION_TORCH_TARGET)
                    # as bench_targets: 1.25 x the copy over both cores is the least time of a fused fwd+bwd
                    if times.get("torch") and times.get("floor2"):
                        least = [1.25 * f for f in times["floor2"]]
                        table.bound("  least possible: 1.25 x 2-thread copy [7]", statistics.median(least),
                                    "torch autograd", statistics.median(times["torch"]),
                                    statistics.median(a / b for a, b in zip(least, times["torch"])),
                                    f"≤ {ACTIVATION_TORCH_TARGET:.2f}x")
                else:
                    table.ratio(what, "copy floor [7]", *paired(times, "ours", "floor"), ACTIVATION_FLOOR_TARGET)


SECTIONS = {"mlp": mlp_rows, "cnn": cnn_rows, "transformer": transformer_rows, "capture": capture_rows,
            "memory": memory_rows, "activation": activation_rows}

FOOTNOTES = f"""\
[1] the step's 8 matrix products alone (3 forward, 5 backward) on operands made beforehand
    (benchmarks/target_steps.py: matmul_floor), in numbagrad's process: the floor on numpy's BLAS.
[2] the step's arithmetic with the framework taken away: the same BLAS products and Numba kernels on
    preallocated arrays, called directly (target_steps.kernel_mlp_step). Above the target, no program of
    these calls meets it.
[3] the floor's time over the reference's: no implementation on numpy's BLAS has a smaller ratio to it.
[4] torch.compile compiles on its first calls: they ran once when the case was built, before timing.
[5] first call of autograd.compile(step) (eager run + capture + passes + source) minus the first eager
    step of an identical fresh model, median over fresh model pairs in one warm process (see its note).
[6] tracemalloc (numpy reports its allocations to it), each side in a fresh process of its own, tracing
    from after the model, optimizer and batch were built: the most bytes held at once during the third
    step (what the first two left allocated, such as gradients or a program and its buffers, plus what
    the step allocates). Numba's own allocations inside compiled code are not seen. program.peak_bytes
    is the buffer planning's estimate (the step's own buffers only).
[7] copy floor: np.copyto(y, x) + np.copyto(dx, g) into preallocated arrays (4 passes over n float32);
    a fused fwd+bwd needs 5, so 1.25 x the same copies split over both cores is the least time possible.
Every compiled numbagrad step was checked before timing: its first {CHECKED_CALLS} calls (a capture, then
replays) gave the eager step's losses (relative 1e-4) on a twin model, and its later calls replay."""


def main(sections=tuple(SECTIONS), quick=False):
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown section(s) {sorted(unknown)}; choose from {', '.join(SECTIONS)}")
    _header()
    load_at_start = _load()
    table = Table()
    notes = {}  # how each side ran, in order of first appearance (a dict keeps it, without repeats)
    started = time.perf_counter()
    for name, rows in SECTIONS.items():
        if name in sections:
            rows(table, notes, quick)
    table.print()
    print("How each side ran (every reference in a process of its own, with the user's environment; numbagrad\n"
          "as installed, in its own process, with the numpy floors beside it):")
    for line in notes:
        print(f"  {line}")
    print(FOOTNOTES)
    print(f"{'--quick: few repetitions, the ratios are rough. ' if quick else ''}"
          f"Total time {time.perf_counter() - started:.0f} s; the machine's 1-minute load average was "
          f"{load_at_start} at the start and {_load()} at the end (this run itself adds about 1).", flush=True)


def _load():
    """The 1-minute load average, which says whether other work shared the cores during the run."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "unknown"


if __name__ == "__main__":
    args = sys.argv[1:]
    main([a for a in args if a != "--quick"] or tuple(SECTIONS), quick="--quick" in args)
