"""Helpers shared by the data modules: random-state resolution and array/Tensor conversion."""
import numbers

import numpy as np

import autograd as ag
from autograd import Generator, default_generator


def resolve_rng(random_state):
    """A numpy ``Generator`` for ``random_state``, scikit-learn style.

    ``None`` draws from numbagrad's seeded ``default_generator`` (so ``autograd.manual_seed(n)`` makes
    the whole run repeat); an int seeds a fresh generator of its own; an ``autograd.Generator`` or a
    numpy ``Generator`` is used as it is.
    """
    if random_state is None:
        return default_generator.rng
    if isinstance(random_state, Generator):
        return random_state.rng
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return np.random.default_rng(int(random_state))
    raise TypeError(f"random_state must be None, an int or a Generator, got {type(random_state).__name__}")


def to_numpy(x):
    """A numpy view of a Tensor, array or nested list (Tensors detached)."""
    if isinstance(x, ag.Tensor):
        return x.detach().numpy()
    return np.asarray(x)


def float_tensor(array, dtype=None):
    """A Tensor of ``array`` in ``dtype`` (float32 unless asked)."""
    dtype = ag.float32 if dtype is None else dtype
    return ag.tensor(np.asarray(array)).to(dtype)


def label_tensor(array):
    return ag.tensor(np.asarray(array, dtype=np.int64))


def check_positive_int(value, name, where, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{where}: {name} must be an int >= {minimum}, got {value!r}")
    return int(value)
