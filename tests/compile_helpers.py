"""What the tests of ``autograd.compile`` share: run a training step eagerly and compiled from the same
seed on the same data, and compare everything a caller can observe after every call.

A *setup* is what ``build()`` returns: a :class:`Setup` holding the step function and the objects
whose state the step changes (model, optimizers, schedulers, extra tensors). ``build`` is called
twice, each time right after ``autograd.manual_seed``, so both runs start from the same weights
and the same random stream. The batches are numpy arrays drawn by numpy (never by autograd's
generator, whose stream is one of the things compared); each run gets fresh tensors made from them.
"""
import numpy as np
import pytest

import autograd as ag

SEED = 1234


class Setup:
    """``step(*args)`` is the training step; the other fields are what its calls change."""

    def __init__(self, step, model=None, optimizers=(), schedulers=(), tensors=()):
        self.step = step
        self.model = model
        self.optimizers = list(optimizers) if isinstance(optimizers, (list, tuple)) else [optimizers]
        self.schedulers = list(schedulers) if isinstance(schedulers, (list, tuple)) else [schedulers]
        self.tensors = list(tensors)  # leaves outside any module (a hand-made weight)


def plain(value):
    """``value`` (a step's result, a state dict) with every Tensor as a numpy copy, so that later
    steps cannot change what was recorded."""
    if isinstance(value, ag.Tensor):
        return value.detach().numpy().copy()
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    return value


def observe(setup, result):
    """Everything a caller can see after a call: the returned value, each parameter, its ``.grad``,
    each buffer (BatchNorm statistics, ``num_batches_tracked``), each optimizer's ``state_dict`` and
    each scheduler's state, and the state of autograd's random generator."""
    seen = {"result": plain(result), "generator": ag.default_generator.get_state()}
    leaves = list(setup.tensors)
    if setup.model is not None:
        leaves += [p for _, p in setup.model.named_parameters()]
        seen["buffers"] = {name: plain(b) for name, b in setup.model.named_buffers()}
    seen["parameters"] = [plain(p) for p in leaves]
    seen["grads"] = [None if p.grad is None else plain(p.grad) for p in leaves]
    seen["optimizers"] = [plain(opt.state_dict()) for opt in setup.optimizers]
    seen["schedulers"] = [plain(s.state_dict()) for s in setup.schedulers]
    return seen


def assert_same(actual, expected, where, rtol, atol):
    """``actual`` equals ``expected`` (nested dicts, lists, arrays, numbers) to rounding."""
    if isinstance(expected, np.ndarray):
        assert isinstance(actual, np.ndarray), f"{where}: expected an array, got {type(actual).__name__}"
        assert actual.shape == expected.shape, f"{where}: shape {actual.shape} != {expected.shape}"
        assert actual.dtype == expected.dtype, f"{where}: dtype {actual.dtype} != {expected.dtype}"
        if expected.dtype.kind in "fc":
            np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=where)
        else:
            np.testing.assert_array_equal(actual, expected, err_msg=where)
    elif isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected a dict, got {type(actual).__name__}"
        assert sorted(map(str, actual)) == sorted(map(str, expected)), \
            f"{where}: keys {sorted(map(str, actual))} != {sorted(map(str, expected))}"
        for key in expected:
            assert_same(actual[key], expected[key], f"{where}[{key!r}]", rtol, atol)
    elif isinstance(expected, (list, tuple)):
        assert isinstance(actual, (list, tuple)) and len(actual) == len(expected), \
            f"{where}: {actual!r} does not match {expected!r}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_same(a, e, f"{where}[{i}]", rtol, atol)
    elif isinstance(expected, float):
        assert isinstance(actual, (float, int)), f"{where}: expected a number, got {actual!r}"
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=where)
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


def tolerances(dtype):
    """Rounding allowed between a replay and the eager step (a fused kernel may round differently)."""
    return (1e-5, 1e-6) if np.dtype(dtype) == np.float32 else (1e-11, 1e-13)


def as_arguments(batch):
    """Fresh tensors for one call: numpy arrays become tensors, everything else is passed as is."""
    return [ag.tensor(a) if isinstance(a, np.ndarray) else a for a in batch]


def run_eager(build, batches, before_call=None):
    """Run the step eagerly on every batch from the seed: what was observed after each call."""
    ag.manual_seed(SEED)
    setup = build()
    seen = []
    for i, batch in enumerate(batches):
        if before_call is not None:
            before_call(setup, i)
        seen.append(observe(setup, setup.step(*as_arguments(batch))))
    return seen


def check_compiled_matches_eager(build, batches, before_call=None, dtype=np.float32, captures=1, compile=None,
                                 runs_eagerly=None):
    """Run ``build().step`` eagerly and compiled, from the same seed, on ``batches``; after every call
    the observed state of both runs must agree. ``before_call(setup, i)`` runs before call ``i`` in both
    runs (to change a hyper-parameter, say). The compiled run must capture ``captures`` times and replay
    every other call; or, with ``runs_eagerly`` (a pattern of the warning), its first call must warn that
    the step runs eagerly, and every later call run eagerly without a word. Returns the compiled
    function."""
    rtol, atol = tolerances(dtype)
    expected = run_eager(build, batches, before_call)
    ag.manual_seed(SEED)
    setup = build()
    compiled = (compile or ag.compile)(setup.step)
    for i, batch in enumerate(batches):
        if before_call is not None:
            before_call(setup, i)
        if runs_eagerly is not None and i == 0:
            with pytest.warns(RuntimeWarning, match=runs_eagerly):
                result = compiled(*as_arguments(batch))
        else:  # (a RuntimeWarning here fails the test: pytest turns them into errors)
            result = compiled(*as_arguments(batch))
        assert_same(observe(setup, result), expected[i], f"call {i}", rtol, atol)
    if runs_eagerly is not None:
        assert (compiled.captures, compiled.replays, compiled.eager_calls) == (1, 0, len(batches) - 1)
        return compiled
    assert compiled.captures == captures, f"captured {compiled.captures} times, expected {captures}"
    assert compiled.replays == len(batches) - captures, \
        f"replayed {compiled.replays} of {len(batches)} calls ({compiled.eager_calls} ran eagerly)"
    return compiled


def classification_batches(rng, count, batch, features, classes, dtype=np.float32):
    """``count`` (inputs, labels) pairs: inputs (batch, *features), int64 labels below ``classes``."""
    features = features if isinstance(features, tuple) else (features,)
    return [(rng.standard_normal((batch, *features)).astype(dtype), rng.integers(0, classes, batch))
            for _ in range(count)]


def token_batches(rng, count, batch, length, vocabulary, classes):
    """``count`` (tokens, labels) pairs: int64 tokens (batch, length), int64 labels below ``classes``."""
    return [(rng.integers(0, vocabulary, (batch, length)), rng.integers(0, classes, batch))
            for _ in range(count)]


def training_step(model, optimizer, loss_fn, extra_loss=None, after_backward=None, scheduler=None):
    """The usual step: zero the gradients, forward, loss (plus ``extra_loss(model)``), backward,
    ``after_backward()`` (clipping), optimizer step, scheduler step; returns the loss."""
    def step(inputs, targets):
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        if extra_loss is not None:
            loss = loss + extra_loss(model)
        loss.backward()
        if after_backward is not None:
            after_backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        return loss
    return step
