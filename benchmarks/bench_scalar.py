"""Scalar engine per node: ``autograd.Scalar`` against micrograd's ``Value`` on the same expressions.

micrograd is a benchmark-only comparison (``pip install micrograd``); its columns show "-" when it is
not installed. Only ops that both engines build as one node each are used (``+ * relu``), so both
graphs have the same number of nodes and "per node" compares like with like. Times are the best of
several interleaved runs, forward (building the graph) and backward (``.backward()``) separately.
A second table times micrograd's README training step in a loop with the garbage collector on, and
counts its full collections (their cost grows with everything else the process holds).
"""
import gc
import random
import sys
import time

from benchmarks.common import fmt_ratio, print_table

from autograd import Scalar
from autograd.engine import topological_order


def micrograd_or_none():
    try:
        from micrograd.engine import Value
    except Exception:  # ImportError, or a broken install
        return None
    return Value


def chain(cls, length):
    """y ← relu(y·a + b), ``length`` times: a deep, narrow graph."""
    rng = random.Random(0)
    a, b = cls(0.999), cls(0.001)
    y = cls(rng.uniform(0.5, 1.0))
    for _ in range(length):
        y = (y * a + b).relu()
    return y


def relu_mlp(cls, sizes, rng):
    """A relu MLP of micrograd-like scalars (weights U(-1, 1) from ``rng``, zero biases): returns its
    parameters and ``forward(inputs) -> output``. Shared by this benchmark and bench_targets."""
    layers = [[([cls(rng.uniform(-1, 1)) for _ in range(n_in)], cls(0.0)) for _ in range(n_out)]
              for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    params = [p for layer in layers for weights, bias in layer for p in weights + [bias]]

    def forward(a):
        for depth, layer in enumerate(layers):
            out = []
            for weights, bias in layer:
                z = bias
                for w, x in zip(weights, a):
                    z = z + w * x
                out.append(z.relu() if depth < len(layers) - 1 else z)
            a = out
        return a[0]
    return params, forward


def mlp(cls, sizes, batch):
    """Σ over a batch of relu-MLP outputs squared: wide and shallow, like a training step."""
    rng = random.Random(0)
    _, forward = relu_mlp(cls, sizes, rng)
    total = None
    for _ in range(batch):
        out = forward([cls(rng.uniform(-1, 1)) for _ in range(sizes[0])])
        term = out * out
        total = term if total is None else total + term
    return total


def count_nodes(root):
    """Nodes of a micrograd or a numbagrad graph (iteratively)."""
    if isinstance(root, Scalar):
        return len(topological_order([root]))
    seen, stack = {id(root)}, [root]
    while stack:
        for child in stack.pop()._prev:
            if id(child) not in seen:
                seen.add(id(child))
                stack.append(child)
    return len(seen)


def run_once(build):
    """Forward and backward seconds of one run; or the exception's name instead of backward's."""
    gc.collect()
    t0 = time.perf_counter()
    root = build()
    t1 = time.perf_counter()
    try:
        root.backward()
    except RecursionError:
        return t1 - t0, None, "RecursionError", root
    return t1 - t0, time.perf_counter() - t1, None, root


def measure(builds, repeat):
    """Best forward and backward times of each build, the runs of the builds interleaved (so a busy
    machine slows them alike); a build that raised once is not run again."""
    best = [[float("inf"), float("inf"), None, 0] for _ in builds]
    for _ in range(repeat):
        for result, build in zip(best, builds):
            if result[2] is not None:
                continue
            forward, backward, error, root = run_once(build)
            result[0] = min(result[0], forward)
            result[2] = error
            if error is None:
                result[1] = min(result[1], backward)
            if not result[3]:
                result[3] = count_nodes(root)
            del root
    return best


def training_loop(cls, steps):
    """Seconds per step, and full collections per step, of micrograd's README training step run
    ``steps`` times in a row with the garbage collector on and no gc.collect() in between, as a user's
    loop runs it. (bench_targets times single steps after a gc.collect(); in a loop, the graphs' objects
    also pile up in the collector's oldest generation until a full collection walks the whole heap.)"""
    from benchmarks.bench_targets import scalar_mlp_step
    step = scalar_mlp_step(cls)
    step()
    gc.collect()
    full = [0]

    def count(phase, info):
        if phase == "stop" and info["generation"] == 2:
            full[0] += 1
    gc.callbacks.append(count)
    try:
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        seconds = time.perf_counter() - t0
    finally:
        gc.callbacks.remove(count)
    return seconds / steps, full[0] / steps


def main():
    Value = micrograd_or_none()
    workloads = [
        ("chain relu(y*a+b) x 300", lambda cls: chain(cls, 300), 25),
        ("MLP 2-16-16-1, 1 sample", lambda cls: mlp(cls, [2, 16, 16, 1], 1), 25),
        ("MLP 2-16-16-1, batch 32", lambda cls: mlp(cls, [2, 16, 16, 1], 32), 5),
        ("chain x 100,000 (deep)", lambda cls: chain(cls, 100_000), 2),
    ]
    rows = []
    for name, build, repeat in workloads:
        classes = [Scalar] + ([Value] if Value is not None else [])
        results = measure([lambda cls=cls: build(cls) for cls in classes], repeat)
        forward, backward, _, nodes = results[0]
        ours = [f"{forward / nodes * 1e6:.2f}", f"{backward / nodes * 1e6:.2f}",
                f"{(forward + backward) / nodes * 1e6:.2f}"]
        theirs, ratio = ["-", "-", "-"], "-"
        if Value is not None:
            m_forward, m_backward, m_error, m_nodes = results[1]
            assert m_nodes == nodes, (name, m_nodes, nodes)
            if m_error:
                theirs = [f"{m_forward / nodes * 1e6:.2f}", m_error, "-"]
            else:
                theirs = [f"{m_forward / nodes * 1e6:.2f}", f"{m_backward / nodes * 1e6:.2f}",
                          f"{(m_forward + m_backward) / nodes * 1e6:.2f}"]
                ratio = fmt_ratio((m_forward + m_backward) / (forward + backward))
        rows.append([name, f"{nodes:,}"] + ours + theirs + [ratio])
    limit = sys.getrecursionlimit()
    print_table(f"Scalar engine, microseconds per node (best of runs; micrograd/ours > 1 means we are faster; "
                f"recursion limit {limit})",
                ["graph", "nodes", "ours fwd", "ours bwd", "ours total", "micrograd fwd", "micrograd bwd",
                 "micrograd total", "micrograd/ours"], rows)

    gc.collect()
    heap = len(gc.get_objects())
    rows = []
    for name, cls, steps in [("ours", Scalar, 20)] + ([("micrograd", Value, 5)] if Value is not None else []):
        seconds, full = training_loop(cls, steps)
        rows.append([name, f"{steps}", f"{seconds * 1e3:.1f}", f"{full:.2f}"])
    print_table(f"micrograd's README step (MLP 2-16-16-1, 100 points) in a loop, gc on, no gc.collect() between "
                f"steps; "
                f"{heap:,} other gc-tracked objects in this process",
                ["engine", "steps", "ms per step", "full collections per step"], rows)


if __name__ == "__main__":
    main()
