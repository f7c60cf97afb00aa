"""Shared fixtures and helpers for the op tests.

* a hypothesis profile without deadlines (Numba compiles kernels on first use, which would trip the
  default 200 ms deadline), registered and loaded here so every hypothesis test uses it;
* ``make_input`` and the spec helpers (``pos``, ``uni``, ``signed``, ``distinct``, ``matrix``,
  ``const``) that build float64 tensors requiring grad with values kept away from the kinks and
  singularities of the op under test;
* ``weights_like``: a fixed, non-uniform weighting used to turn an output into a scalar (a plain sum
  would hide errors in ops whose outputs sum to a constant, such as softmax).
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import autograd as ag

settings.register_profile(
    "numbagrad", deadline=None, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile("numbagrad")


# ---------------------------------------------------------------------------- input specs
class Spec:
    """How to draw one input: ``draw(rng)`` gives a float64 numpy array of ``shape``."""

    def __init__(self, shape, draw, requires_grad=True, dtype=np.float64):
        self.shape = tuple(shape)
        self.draw = draw
        self.requires_grad = requires_grad
        self.dtype = dtype

    def __repr__(self):
        return f"Spec{self.shape}"


def _away(values, avoid, margin, low, high, rng):
    """Redraw every element within ``margin`` of a point of ``avoid`` (kinks, poles)."""
    values = np.asarray(values, dtype=np.float64)
    for _ in range(1000):
        bad = np.zeros(values.shape, dtype=bool)
        for point in avoid:
            bad |= np.abs(values - point) < margin
        if not bad.any():
            return values
        values[bad] = rng.uniform(low, high, size=int(bad.sum()))
    raise AssertionError("could not draw values away from the kinks")


def uni(*shape, low=-1.0, high=1.0, avoid=(), margin=0.1):
    """Uniform in [low, high), at least ``margin`` away from each point of ``avoid``."""
    return Spec(shape, lambda rng: _away(rng.uniform(low, high, size=shape), avoid, margin, low, high, rng))


def pos(*shape, low=0.5, high=1.5):
    """Positive values (log, sqrt, rsqrt, denominators, pow bases)."""
    return uni(*shape, low=low, high=high)


def signed(*shape, low=0.3, high=1.5):
    """Random sign, magnitude in [low, high]: away from 0 (abs, relu, sign, reciprocal)."""
    def draw(rng):
        return rng.uniform(low, high, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    return Spec(shape, draw)


def distinct(*shape, low=-2.0, high=2.0, spacing=0.05, signs=False):
    """Values pairwise at least ``spacing`` apart (no ties for max/min/amax/sort-like ops); with
    ``signs=True`` the *magnitudes* are distinct and the signs random (inf-norm)."""
    n = int(np.prod(shape)) if shape else 1

    def draw(rng):
        grid = np.linspace(low, high, max(n, 2))
        assert n < 2 or grid[1] - grid[0] >= 2 * spacing, "range too small for distinct values"
        values = rng.permutation(grid)[:n] + rng.uniform(-spacing / 2, spacing / 2, size=n)
        if signs:
            values = np.abs(values) * rng.choice([-1.0, 1.0], size=n)
        return values.reshape(shape)
    return Spec(shape, draw)


def matrix(*shape, scale=0.5):
    """Well-conditioned square matrices (batched): n·I plus small noise (solve, inv)."""
    n = shape[-1]

    def draw(rng):
        return n * np.eye(n) + rng.uniform(-scale, scale, size=shape)
    return Spec(shape, draw)


def const(values, requires_grad=True):
    """Exactly these values (zeros in prod, the zero vector of a norm...)."""
    values = np.asarray(values, dtype=np.float64)
    return Spec(values.shape, lambda rng: values.copy(), requires_grad=requires_grad)


def make_input(spec, rng, requires_grad=None):
    """A float64 Tensor drawn from ``spec`` (requiring grad unless told otherwise)."""
    rg = spec.requires_grad if requires_grad is None else requires_grad
    return ag.tensor(np.asarray(spec.draw(rng), dtype=np.float64), dtype=ag.float64, requires_grad=rg)


def make_tensor(shape, low=0.5, high=1.5, avoid=(), margin=0.1, seed=0, requires_grad=True):
    """A float64 tensor requiring grad, uniform in [low, high) and away from ``avoid``."""
    return make_input(uni(*shape, low=low, high=high, avoid=avoid, margin=margin),
                      np.random.default_rng(seed), requires_grad)


def weights_like(shape, offset=0):
    """A fixed non-uniform float64 weighting of an output of ``shape`` (values in [0.3, 1.7])."""
    n = int(np.prod(shape)) if shape else 1
    w = 0.3 + 1.4 * ((np.arange(n) * 0.618034 + 0.1 * offset) % 1.0)
    return ag.tensor(w.reshape(shape), dtype=ag.float64)


def weighted_sum(outputs):
    """Σₖ Σ wₖ ⊙ outₖ over one output Tensor or a tuple of them."""
    if isinstance(outputs, ag.Tensor):
        outputs = (outputs,)
    total = None
    for k, out in enumerate(outputs):
        if not isinstance(out, ag.Tensor):
            continue
        term = (out.to(ag.float64) * weights_like(out.shape, k)).sum()
        total = term if total is None else total + term
    return total


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
