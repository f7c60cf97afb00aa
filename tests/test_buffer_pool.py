"""The pool of large output arrays: reuse only what nothing else refers to, and stay bounded."""
import numpy as np
import pytest

import autograd as ag
from autograd import buffer_pool


@pytest.fixture
def small_pool(monkeypatch):
    """A pool that takes arrays from 64 KiB, so that the tests stay small."""
    monkeypatch.setattr(buffer_pool, "MIN_BYTES", 64 << 10)
    monkeypatch.setattr(buffer_pool, "enabled", True)
    buffer_pool.release()
    yield buffer_pool
    buffer_pool.release()


N = 1 << 15  # 128 KiB of float32


def test_an_array_comes_back_only_once_nothing_refers_to_it(small_pool):
    first = small_pool.empty((N,), np.float32)
    first_id = id(first)
    second = small_pool.empty((N,), np.float32)
    assert second is not first  # still referenced: a new one
    del first
    third = small_pool.empty((N,), np.float32)
    assert id(third) == first_id  # idle: reused
    view = third[::2]
    del third
    fourth = small_pool.empty((N,), np.float32)
    assert id(fourth) != first_id  # a view keeps its base busy
    assert view.base is not None


def test_shape_and_dtype_must_match_and_small_arrays_are_not_pooled(small_pool):
    a = small_pool.empty((N,), np.float32)
    a_id = id(a)
    del a
    assert id(small_pool.empty((N // 2, 2), np.float32)) != a_id
    assert id(small_pool.empty((N,), np.float64)) != a_id
    assert small_pool.holds(small_pool.empty((16,), np.float32)) == 0


def test_release_gives_idle_memory_back_and_the_pool_is_bounded(small_pool, monkeypatch):
    monkeypatch.setattr(small_pool, "MAX_BUFFERS", 3)
    kept = [small_pool.empty((N,), np.float32) for _ in range(5)]  # all busy: only 3 are pooled
    assert sum(small_pool.holds(a) for a in kept) == 3
    assert small_pool.pooled_bytes() == 3 * N * 4
    del kept[:2]
    assert small_pool.pooled_bytes() == 3 * N * 4
    held = kept[-1]
    del kept
    released = small_pool.release()
    assert released == (3 - small_pool.holds(held)) * N * 4
    assert small_pool.pooled_bytes() == small_pool.holds(held) * N * 4


def test_disabled_pool_allocates_fresh_arrays(small_pool, monkeypatch):
    monkeypatch.setattr(small_pool, "enabled", False)
    a = small_pool.empty((N,), np.float32)
    assert small_pool.holds(a) == 0


def test_pooled_activation_outputs_and_gradients_stay_correct(small_pool):
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal(N).astype(np.float32)
    x = ag.tensor(x_np, requires_grad=True)
    for _ in range(3):  # the second and third rounds run on reused arrays
        y = ag.sigmoid(x)
        y.backward(ag.ones(N))
        s = 1 / (1 + np.exp(-x_np.astype(np.float64)))
        np.testing.assert_allclose(y.detach().numpy(), s, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(x.grad.numpy(), s * (1 - s), rtol=1e-4, atol=1e-7)
        kept_y, kept_grad = y.detach().numpy(), x.grad.numpy()
        x.grad = None
        # what the user still holds is never handed out again
        z = ag.tanh(x)
        assert not np.shares_memory(z.detach().numpy(), kept_y)
        assert not np.shares_memory(z.detach().numpy(), kept_grad)
        np.testing.assert_allclose(kept_y, s, rtol=1e-5, atol=1e-7)


def test_a_pooled_gradient_becomes_grad_without_a_copy(small_pool):
    x = ag.tensor(np.ones(N, np.float32), requires_grad=True)
    ag.relu(x).backward(ag.ones(N))
    assert small_pool.holds(x.grad._data) == 1  # stolen from the backward walk, not copied
    first = x.grad._data
    ag.relu(x).backward(ag.ones(N))  # accumulates in place
    assert x.grad._data is first
    np.testing.assert_array_equal(x.grad.numpy(), 2.0)
