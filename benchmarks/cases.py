"""The workloads that are timed against a reference, written once for every engine.

Each case is a function ``case(engine, ...) -> run`` returning a zero-argument callable to time; it is built
inside a :class:`benchmarks.reference.Worker` process, so its keyword arguments are JSON values and it
imports its libraries itself (this module imports nothing at the top: a torch worker never loads
numbagrad, nor a numbagrad worker torch). ``engine`` is ``"numbagrad"`` or ``"torch"`` (``"micrograd"``
for the Scalar cases). The numbagrad side uses only the public API (``autograd``, ``nn``, ``optim``), so
the same cases run against another checkout (``python -m benchmarks ab``). Inputs and weights come from
numpy generators with fixed seeds, so both engines start from the same numbers.
"""
import math
import random

MLP_SIZES = (784, 256, 256, 10)
LR = 0.01
CNN_CHANNELS = 8


# ----------------------------------------------------------------------------------------- engines
class _Engine:
    """The names a case needs, from numbagrad's packages or from torch's: lib (autograd / torch), nn,
    optim, F (nn.functional)."""

    def __init__(self, engine):
        if engine == "numbagrad":
            import autograd as lib
            import nn
            import optim
            self.lib, self.nn, self.optim, self.F = lib, nn, optim, nn.functional
        elif engine == "torch":
            import torch as lib
            self.lib, self.nn, self.optim, self.F = lib, lib.nn, lib.optim, lib.nn.functional
        else:
            raise ValueError(f"unknown engine {engine!r}: numbagrad or torch")
        self.name = engine

    def tensor(self, array, requires_grad=False):
        return self.lib.tensor(array, requires_grad=requires_grad)

    def load(self, model, arrays):
        """Copy numpy arrays (in the order of model.state_dict()) into the model."""
        keys = list(model.state_dict())
        model.load_state_dict({k: self.lib.tensor(a) for k, a in zip(keys, arrays)})

    def activation(self, name):
        if name == "gelu":  # both default to the exact (erf) form
            return self.F.gelu if self.name == "torch" else self.lib.gelu
        if name == "gelu_tanh":
            gelu = self.F.gelu if self.name == "torch" else self.lib.gelu
            return lambda t: gelu(t, approximate="tanh")
        return getattr(self.lib, name)


def _rng(seed):
    import numpy as np
    return np.random.default_rng(seed)


def uniform_weights(sizes, seed=0):
    """(weight (out, in), bias) pairs as float32 numpy arrays, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as torch
    initialises Linear layers."""
    import numpy as np
    rng = _rng(seed)
    arrays = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1 / math.sqrt(fan_in)
        arrays.append(rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32))
        arrays.append(rng.uniform(-bound, bound, fan_out).astype(np.float32))
    return arrays


def mlp_batch(batch, seed=0, sizes=MLP_SIZES):
    """float32 inputs (batch, sizes[0]) and int64 class labels, as numpy arrays."""
    import numpy as np
    rng = _rng(seed)
    return (rng.standard_normal((batch, sizes[0]), dtype=np.float32),
            rng.integers(0, sizes[-1], batch).astype(np.int64))


def _classifier_step(e, model, x_np, y_np, optimizer=None):
    opt = optimizer or e.optim.SGD(model.parameters(), lr=LR)
    x, y = e.tensor(x_np), e.tensor(y_np)
    cross_entropy = e.F.cross_entropy

    def step():
        opt.zero_grad()
        loss = cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return None
    return step


def _mlp(e, sizes):
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(e.nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2:
            layers.append(e.nn.ReLU())
    model = e.nn.Sequential(*layers)
    e.load(model, uniform_weights(sizes))
    return model


# ----------------------------------------------------------------------------------------- cases
def mlp_step(engine, batch, sizes=MLP_SIZES):
    """One SGD training step of a ReLU MLP built from nn.Sequential(Linear, ReLU, ...): forward,
    cross-entropy, backward, update."""
    e = _Engine(engine)
    x, y = mlp_batch(batch, sizes=sizes)
    return _classifier_step(e, _mlp(e, tuple(sizes)), x, y)


def mlp_sum_backward(engine, batch, sizes=(784, 256, 128, 10)):
    """zero_grad, forward of a ReLU MLP, loss = sum of the outputs, backward (no optimizer)."""
    e = _Engine(engine)
    model = _mlp(e, tuple(sizes))
    x = e.tensor(mlp_batch(batch, sizes=sizes)[0])

    def run():
        model.zero_grad()
        model(x).sum().backward()
    return run


def raw_mlp_step(engine, batch, sizes=(784, 128, 64, 10), lr=0.1):
    """An MLP written with tensor ops (no nn): x @ W + b, relu, log_softmax, picked log-likelihoods, mean;
    backward; ``p -= lr * p.grad`` under no_grad."""
    e = _Engine(engine)
    lib = e.lib
    arrays = uniform_weights(sizes)
    params = [e.tensor(a.T.copy() if a.ndim == 2 else a, requires_grad=True) for a in arrays]
    x_np, y_np = mlp_batch(batch, sizes=sizes)
    x, y, rows = e.tensor(x_np), e.tensor(y_np), lib.arange(batch)

    def step():
        h = x
        for i in range(0, len(params), 2):
            h = h @ params[i] + params[i + 1]
            if i + 2 < len(params):
                h = h.relu()
        loss = -h.log_softmax(dim=1)[rows, y].mean()
        for p in params:
            p.grad = None
        loss.backward()
        with lib.no_grad():
            for p in params:
                p -= lr * p.grad
    return step


BINARY = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
          "div": lambda a, b: a / b, "matmul": lambda a, b: a @ b}


def binary_2x2(engine, op):
    """``op(a, b).sum().backward()`` on 2x2 float32 leaves: all bookkeeping, no arithmetic to speak of."""
    import numpy as np
    e = _Engine(engine)
    rng = _rng(0)
    a = e.tensor(rng.standard_normal((2, 2), dtype=np.float32), requires_grad=True)
    b = e.tensor(rng.uniform(1, 2, (2, 2)).astype(np.float32), requires_grad=True)
    fn = BINARY[op]
    return lambda: fn(a, b).sum().backward()


def overhead_2x2(engine, what):
    """Small graphs on 2x2 float32 tensors: 'backward' = (a*b+c).sum().backward(), 'forward' = (a*b+c).sum(),
    'mul' = a*b recorded, 'mul_no_grad' = a*b under no_grad."""
    import numpy as np
    e = _Engine(engine)
    rng = _rng(0)
    a, b, c = (e.tensor(rng.standard_normal((2, 2), dtype=np.float32), requires_grad=True) for _ in range(3))
    if what == "backward":
        return lambda: (a * b + c).sum().backward()
    if what == "forward":
        return lambda: (a * b + c).sum()
    if what == "mul":
        return lambda: a * b
    if what == "mul_no_grad":
        no_grad = e.lib.no_grad

        def run():
            with no_grad():
                return a * b
        return run
    raise ValueError(what)


def activation(engine, name, n):
    """y = act(x); y.backward(g); x.grad = None, over n float32 (name: relu sigmoid tanh gelu gelu_tanh)."""
    import numpy as np
    e = _Engine(engine)
    rng = _rng(0)
    x = e.tensor(rng.standard_normal(n, dtype=np.float32), requires_grad=True)
    g = e.tensor(rng.standard_normal(n, dtype=np.float32))
    fn = e.activation(name)

    def run():
        fn(x).backward(g)
        x.grad = None
    return run


def cnn_batch(batch=64, seed=0):
    import numpy as np
    rng = _rng(seed)
    return rng.standard_normal((batch, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, batch).astype(np.int64)


def conv_weights(channels, seed=0):
    import numpy as np
    rng = _rng(seed)
    bound = 1 / 3.0  # fan_in = 1 * 3 * 3
    return [rng.uniform(-bound, bound, (channels, 1, 3, 3)).astype(np.float32),
            rng.uniform(-bound, bound, channels).astype(np.float32)]


def cnn_step(engine, batch=64, channels=CNN_CHANNELS):
    """SGD step of Conv2d(1, c, 3) → ReLU → MaxPool2d(2) → Flatten → Linear(c·13·13, 10), cross-entropy."""
    e = _Engine(engine)
    nn = e.nn
    model = nn.Sequential(nn.Conv2d(1, channels, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(channels * 13 * 13, 10))
    e.load(model, conv_weights(channels) + uniform_weights((channels * 13 * 13, 10)))
    x, y = cnn_batch(batch)
    return _classifier_step(e, model, x, y)


def conv_block_sum_backward(engine, batch=64, channels=8):
    """zero_grad, Conv2d(1, c, 3) → ReLU → MaxPool2d(2), loss = sum of the outputs, backward."""
    e = _Engine(engine)
    nn = e.nn
    model = nn.Sequential(nn.Conv2d(1, channels, 3), nn.ReLU(), nn.MaxPool2d(2))
    e.load(model, conv_weights(channels))
    x = e.tensor(cnn_batch(batch)[0])

    def run():
        model.zero_grad()
        model(x).sum().backward()
    return run


OPTIM_SHAPES = [(1000, 800), (800,), (200, 1000), (200,)]


def optimizer_step(engine, kind, lr=1e-3, momentum=0.9, betas=(0.9, 0.999)):
    """One optimizer step over 1M float32 parameters in four tensors with fixed gradients:
    kind 'sgd' (SGD with momentum) or 'adam'."""
    import numpy as np
    e = _Engine(engine)
    rng = _rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in OPTIM_SHAPES]
    grads = [rng.standard_normal(s).astype(np.float32) for s in OPTIM_SHAPES]
    params = [e.tensor(a, requires_grad=True) for a in arrays]
    for p, g in zip(params, grads):
        p.grad = e.tensor(g)
    if kind == "sgd":
        opt = e.optim.SGD(params, lr=lr, momentum=momentum)
    else:
        opt = e.optim.Adam(params, lr=lr, betas=tuple(betas))
    return opt.step


# ---------------------------------------------------------------------------------- Scalar engines
def scalar_class(engine):
    if engine == "micrograd":
        from micrograd.engine import Value
        return Value
    if engine == "numbagrad":
        from autograd import Scalar
        return Scalar
    raise ValueError(f"unknown scalar engine {engine!r}: numbagrad or micrograd")


def relu_mlp(cls, sizes, rng):
    """A relu MLP of micrograd-like scalars (weights U(-1, 1) from ``rng``, zero biases): returns its
    parameters and ``forward(inputs) -> output``."""
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


def moons(n=100, seed=0):
    """Two interleaving half circles with noise (like sklearn's make_moons), labels -1/+1."""
    rng = random.Random(seed)
    points, labels = [], []
    for i in range(n):
        t = math.pi * rng.random()
        if i % 2:
            points.append((math.cos(t) + rng.gauss(0, 0.1), math.sin(t) + rng.gauss(0, 0.1)))
            labels.append(-1.0)
        else:
            points.append((1 - math.cos(t) + rng.gauss(0, 0.1), 0.5 - math.sin(t) + rng.gauss(0, 0.1)))
            labels.append(1.0)
    return points, labels


def scalar_mlp_step_of(cls, sizes=(2, 16, 16, 1), alpha=1e-4, lr=0.05):
    """Returns ``step()``: micrograd's README demo step (max-margin loss + L2 on 100 points, full batch,
    SGD) for an MLP 2-16-16-1 written once for any micrograd-like scalar class."""
    params, forward = relu_mlp(cls, sizes, random.Random(0))
    points, labels = moons()

    def step():
        scores = [forward([cls(u), cls(v)]) for u, v in points]
        losses = [(1 + -y * s).relu() for y, s in zip(labels, scores)]
        total = sum(losses) * (1.0 / len(losses)) + alpha * sum(p * p for p in params)
        for p in params:
            p.grad = 0.0
        total.backward()
        for p in params:
            p.data -= lr * p.grad
        return None
    return step


def scalar_mlp_step(engine, gc_off=False):
    """micrograd's README training step for ``engine`` (numbagrad's autograd.Scalar or micrograd's Value),
    with the garbage collector on (as users run it) or, with ``gc_off``, disabled during the step."""
    step = scalar_mlp_step_of(scalar_class(engine))
    if not gc_off:
        return step
    import gc

    def step_gc_off():
        gc.disable()
        try:
            step()
        finally:
            gc.enable()
    return step_gc_off


def scalar_chain(cls, length):
    """y ← relu(y·a + b), ``length`` times: a deep, narrow graph."""
    rng = random.Random(0)
    a, b = cls(0.999), cls(0.001)
    y = cls(rng.uniform(0.5, 1.0))
    for _ in range(length):
        y = (y * a + b).relu()
    return y


def scalar_mlp_sum(cls, sizes, batch):
    """Σ over a batch of relu-MLP outputs squared: wide and shallow, like a training step."""
    rng = random.Random(0)
    _, forward = relu_mlp(cls, sizes, rng)
    total = None
    for _ in range(batch):
        out = forward([cls(rng.uniform(-1, 1)) for _ in range(sizes[0])])
        term = out * out
        total = term if total is None else total + term
    return total


SCALAR_GRAPHS = {
    "chain300": lambda cls: scalar_chain(cls, 300),
    "mlp1": lambda cls: scalar_mlp_sum(cls, [2, 16, 16, 1], 1),
    "mlp32": lambda cls: scalar_mlp_sum(cls, [2, 16, 16, 1], 32),
    "chain100k": lambda cls: scalar_chain(cls, 100_000),
}


def _count_nodes(root):
    """Vertices of a numbagrad (``next_edges``) or micrograd (``_prev``) graph, walked iteratively."""
    def inputs(node):
        return node.next_edges if hasattr(node, "next_edges") else node._prev
    seen, stack = {id(root)}, [root]
    while stack:
        for child in inputs(stack.pop()):
            if id(child) not in seen:
                seen.add(id(child))
                stack.append(child)
    return len(seen)


def scalar_graph(engine, graph):
    """Returns ``run() -> [forward s, backward s or None, error name or None, vertices]``: one build of a
    SCALAR_GRAPHS graph (after gc.collect()) and its backward."""
    import gc
    import time
    cls, build = scalar_class(engine), SCALAR_GRAPHS[graph]

    def run():
        gc.collect()
        t0 = time.perf_counter()
        root = build(cls)
        t1 = time.perf_counter()
        try:
            root.backward()
        except RecursionError:
            return [t1 - t0, None, "RecursionError", _count_nodes(root)]
        return [t1 - t0, time.perf_counter() - t1, None, _count_nodes(root)]
    return run


def scalar_training_loop(engine, steps):
    """Returns ``run() -> [seconds per step, full collections per step]``: micrograd's README step run
    ``steps`` times in a row with the garbage collector on and no gc.collect() in between, as a user's loop
    runs it (the graphs' objects pile up in the collector's oldest generation until a full collection walks
    the whole heap)."""
    import gc
    import time
    step = scalar_mlp_step_of(scalar_class(engine))

    def run():
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
        return [seconds / steps, full[0] / steps, len(gc.get_objects())]
    return run


# ------------------------------------------------------------------ compiled training steps (issue 17)
# A step takes its batch as arguments, as a user writes the function given to ``autograd.compile`` or
# ``torch.compile``: ``step(x, y)`` does zero_grad, forward, cross-entropy, backward and the update.
def _training_step(e, model, optimizer):
    cross_entropy = e.F.cross_entropy

    def step(x, y):
        optimizer.zero_grad()
        loss = cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss
    return step


def _load_by_key(e, model, arrays):
    """Replace the entries ``arrays`` names (state_dict key -> numpy array); keep the others."""
    state = dict(model.state_dict())
    state.update({key: e.lib.tensor(array) for key, array in arrays.items()})
    model.load_state_dict(state)


def _cnn_bn(e, channels=CNN_CHANNELS):
    """Conv2d(1, c, 3) → BatchNorm2d(c) → ReLU → MaxPool2d(2) → Flatten → Linear(c·13·13, 10); the
    batch norm keeps its default start (weight 1, bias 0, running mean 0 and variance 1) in both engines."""
    nn = e.nn
    model = nn.Sequential(nn.Conv2d(1, channels, 3), nn.BatchNorm2d(channels), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(channels * 13 * 13, 10))
    conv, linear = conv_weights(channels), uniform_weights((channels * 13 * 13, 10))
    _load_by_key(e, model, {"0.weight": conv[0], "0.bias": conv[1], "5.weight": linear[0], "5.bias": linear[1]})
    return model


STEP_MODELS = ("mlp", "cnn_bn", "transformer")


def model_step(e, model, batch=None):
    """``(step, inputs)`` for one of STEP_MODELS, freshly built from the same numbers every time:

    * ``mlp``: benchmarks.cases.mlp_step's MLP 784-256-256-10 with SGD (default batch 128);
    * ``cnn_bn``: :func:`_cnn_bn` with SGD, 1x28x28 inputs (default batch 64);
    * ``transformer``: benchmarks/bench_sequence.py's tiny causal transformer step with AdamW (its
      batch of 16 by default); that step reads its batch from its closure, so ``inputs`` is empty.
    """
    if model == "mlp":
        net = _mlp(e, MLP_SIZES)
        x, y = mlp_batch(batch or 128)
    elif model == "cnn_bn":
        net = _cnn_bn(e)
        x, y = cnn_batch(batch or 64)
    elif model == "transformer":
        from benchmarks.bench_sequence import transformer_step
        return (transformer_step(e.name, batch=batch) if batch else transformer_step(e.name)), ()
    else:
        raise ValueError(f"unknown model {model!r}: one of {STEP_MODELS}")
    return _training_step(e, net, e.optim.SGD(net.parameters(), lr=LR)), (e.tensor(x), e.tensor(y))


# What torch.compile's first calls cost, per case built in this process: filled when a compiled torch
# step is built, read by the parent through the ``warm_up_record`` case.
WARM_UP_RECORD = {}
CHECKED_CALLS = 3


def _same_losses_as_eager(e, compiled, inputs, model, batch):
    """Run the compiled step (its capture, then replays) beside the eager step of a twin model and
    raise unless both give the same losses to rounding and the calls after the first replayed."""
    eager, eager_inputs = model_step(e, model, batch)
    for call in range(CHECKED_CALLS):
        ours, theirs = compiled(*inputs).item(), eager(*eager_inputs).item()
        if not math.isclose(ours, theirs, rel_tol=1e-4, abs_tol=1e-6):
            raise AssertionError(f"{model}: compiled loss {ours!r} != eager loss {theirs!r} at call {call + 1}")
    if compiled.captures != 1 or compiled.replays != CHECKED_CALLS - 1:
        raise AssertionError(f"{model}: {compiled.captures} captures, {compiled.replays} replays and "
                             f"{compiled.eager_calls} eager calls in {CHECKED_CALLS} calls: the step does not replay")


def training_step(engine, model, batch=None, compiled=False):
    """One training step of ``model`` (see :func:`model_step`), eager or compiled: ``autograd.compile`` for
    numbagrad (checked first against the eager step: same losses, later calls replay) or
    ``torch.compile`` in its default mode for torch (its first calls, which compile, are timed and
    recorded in WARM_UP_RECORD)."""
    import time
    e = _Engine(engine)
    step, inputs = model_step(e, model, batch)
    if not compiled:
        return lambda: step(*inputs)
    run = e.lib.compile(step)
    if engine == "numbagrad":
        _same_losses_as_eager(e, run, inputs, model, batch)
    else:
        from torch._dynamo.utils import counters
        seconds = []
        for _ in range(CHECKED_CALLS):
            t0 = time.perf_counter()
            run(*inputs)
            seconds.append(time.perf_counter() - t0)
        WARM_UP_RECORD[f"{model} b{batch}"] = {
            "first_call": seconds[0], "first_calls": sum(seconds), "calls": CHECKED_CALLS,
            "fx_graph_cache_hits": counters["inductor"]["fxgraph_cache_hit"],
            "fx_graph_cache_misses": counters["inductor"]["fxgraph_cache_miss"]}
    return lambda: run(*inputs)


def warm_up_record(engine="torch"):
    """Returns a callable giving WARM_UP_RECORD (JSON): what the compiled steps built in this process
    cost on their first calls."""
    return lambda: dict(WARM_UP_RECORD)


def _numba_cache_counts():
    """(signatures loaded from numba's disk cache, signatures compiled) so far, summed over the Numba
    dispatchers defined at module level in autograd, nn and optim."""
    import sys
    loaded = compiled = 0
    for name, module in list(sys.modules.items()):
        if module is None or name.split(".")[0] not in ("autograd", "nn", "optim"):
            continue
        for obj in list(vars(module).values()):
            stats = getattr(obj, "stats", None) if hasattr(obj, "py_func") else None
            if stats is not None and hasattr(stats, "cache_hits"):
                loaded += sum(stats.cache_hits.values())
                compiled += sum(stats.cache_misses.values())
    return loaded, compiled


def capture_seconds(engine, model="mlp", batch=128, repeat=5):
    """Returns ``run() -> dict``: what capturing costs. Each of ``repeat`` rounds builds two identical
    fresh models and times the first eager step of one and the first call of ``autograd.compile(step)``
    of the other (the order alternating; gc.collect() untimed before each); ``capture`` is the median
    of the differences. An eager step of a model of its own runs first, untimed, so the eager kernels
    are loaded (``eager_kernels_loaded`` from numba's disk cache, ``eager_kernels_compiled`` afresh); the
    first round is reported on its own (``first_round``: its eager and compiled seconds) with how many
    more kernel signatures it loaded or compiled, the medians are over the rounds after it."""
    import gc
    import statistics
    import time
    e = _Engine(engine)

    def first_call(compiled):
        step, inputs = model_step(e, model, batch)
        if compiled:
            step = e.lib.compile(step)
        gc.collect()
        t0 = time.perf_counter()
        step(*inputs)
        return time.perf_counter() - t0

    def run():
        eager_loaded, eager_compiled = _numba_cache_counts()
        first_call(False)
        loaded, compiled = _numba_cache_counts()
        first_eager, first_compiled = first_call(False), first_call(True)
        loaded_after, compiled_after = _numba_cache_counts()
        rounds = []
        for i in range(repeat):
            if i % 2:
                compiled_seconds = first_call(True)
                eager_seconds = first_call(False)
            else:
                eager_seconds = first_call(False)
                compiled_seconds = first_call(True)
            rounds.append((eager_seconds, compiled_seconds))
        return {"capture": statistics.median(c - a for a, c in rounds),
                "eager": statistics.median(a for a, _ in rounds),
                "compiled": statistics.median(c for _, c in rounds),
                "first_round": [first_eager, first_compiled],
                "eager_kernels_loaded": loaded - eager_loaded, "eager_kernels_compiled": compiled - eager_compiled,
                "kernels_loaded": loaded_after - loaded, "kernels_compiled": compiled_after - compiled}
    return run


def step_peak_bytes(engine, model="mlp", batch=512, compiled=False):
    """Returns ``run() -> dict``: tracemalloc's view of one step's memory, meant for a fresh process.
    First a throwaway model of the same kind runs one step of the same kind (eager, or compiled: a
    capture), untraced, so that what a process pays once (loading kernels, modules imported on first
    use) is not counted. Tracing starts once the measured model, its optimizer and the batch exist; two
    steps run (compiled: its capture and a replay), then the third is measured: ``peak`` is the most
    traced bytes held at once during it (what the earlier steps left allocated, such as gradients or a
    program and its buffers, plus what the step allocates), ``before`` the traced bytes held when it
    started, and ``planned`` the program's own estimate (``program.peak_bytes``; None eagerly)."""
    import gc
    import tracemalloc
    e = _Engine(engine)

    def build():
        step, inputs = model_step(e, model, batch)
        return (e.lib.compile(step) if compiled else step), inputs

    throwaway, inputs = build()
    throwaway(*inputs)
    del throwaway, inputs

    def run():
        step, inputs = build()
        gc.collect()
        tracemalloc.start()
        try:
            step(*inputs)
            step(*inputs)
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            step(*inputs)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        program = getattr(step, "program", None)
        return {"peak": peak, "before": before, "planned": getattr(program, "peak_bytes", None)}
    return run
