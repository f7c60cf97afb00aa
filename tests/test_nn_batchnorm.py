"""BatchNorm1d / BatchNorm2d and functional.batch_norm: gradients (first and second order), running
statistics against the hand-computed moving average (PyTorch's and the course's formula), train vs eval,
buffers in the state dict, PyTorch agreement (skipped when it is not installed), and clear errors."""
import numpy as np
import pytest

import autograd as ag
import nn
import nn.functional as F

F64 = ag.float64

try:
    import torch
except Exception:  # noqa: BLE001  (optional)
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def randn(*shape, seed=0, requires_grad=True, scale=1.0, shift=0.0):
    rng = np.random.default_rng(seed)
    return ag.tensor(rng.standard_normal(shape) * scale + shift, dtype=F64, requires_grad=requires_grad)


# ------------------------------------------------------------------------------------ gradients
@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 2), (3, 2, 3, 2)])
def test_batch_norm_training_gradcheck_first_and_second_order(shape):
    x = randn(*shape, seed=1)
    gamma, beta = randn(shape[1], seed=2), randn(shape[1], seed=3)
    fn = lambda x, g, b: F.batch_norm(x, None, None, g, b, training=True)  # noqa: E731
    assert ag.gradcheck(fn, [x, gamma, beta])

    def grads(x, g, b):
        with ag.enable_grad():
            y = fn(x, g, b)
            w = ag.tensor(np.linspace(0.3, 1.7, y.numel()).reshape(y.shape), dtype=F64)
            return tuple(ag.grad((y * y * y * w).sum(), [x, g, b], create_graph=True))
    assert ag.gradcheck(grads, [x, gamma, beta])


def test_batch_norm_eval_gradcheck():
    x, gamma, beta = randn(4, 3, 2, 2, seed=4), randn(3, seed=5), randn(3, seed=6)
    mean = ag.tensor([0.1, -0.2, 0.3], dtype=F64)
    var = ag.tensor([0.5, 1.5, 2.0], dtype=F64)
    assert ag.gradcheck(lambda x, g, b: F.batch_norm(x, mean, var, g, b, training=False), [x, gamma, beta])


def test_training_output_is_normalised_per_channel():
    bn = nn.BatchNorm2d(3).double()
    x = randn(8, 3, 4, 4, seed=7, scale=3.0, shift=5.0, requires_grad=False)
    y = bn(x).detach().numpy()
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0.0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1.0, atol=1e-4)  # ε = 1e-5 in the denominator
    # the course's transform, written out: x̂ = (x − μ)/√(σ² + ε) with the biased σ²
    xs = x.numpy()
    mu, var = xs.mean(axis=(0, 2, 3), keepdims=True), xs.var(axis=(0, 2, 3), keepdims=True)
    np.testing.assert_allclose(y, (xs - mu) / np.sqrt(var + 1e-5), atol=1e-12)


# ------------------------------------------------------------------------------ running statistics
def _batches(shape, n, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) * (1 + k) + k for k in range(n)]


@pytest.mark.parametrize("cls, shape, axes", [(nn.BatchNorm1d, (6, 3), (0,)), (nn.BatchNorm1d, (4, 3, 5), (0, 2)),
                                              (nn.BatchNorm2d, (4, 3, 2, 3), (0, 2, 3))])
def test_running_statistics_follow_the_moving_average(cls, shape, axes):
    momentum = 0.3
    bn = cls(3, momentum=momentum).double()
    mean, var = np.zeros(3), np.ones(3)  # PyTorch's form: r ← (1 − momentum)·r + momentum·batch
    course_mean, course_var, m = np.zeros(3), np.ones(3), 1 - momentum  # course: μ̄ ← μ̄·m + (1 − m)·μ
    for batch in _batches(shape, 5):
        bn(ag.tensor(batch, dtype=F64))
        n = batch.size // 3
        mean = (1 - momentum) * mean + momentum * batch.mean(axis=axes)
        var = (1 - momentum) * var + momentum * batch.var(axis=axes) * n / (n - 1)  # unbiased
        course_mean = course_mean * m + (1 - m) * batch.mean(axis=axes)
        course_var = course_var * m + (1 - m) * batch.var(axis=axes, ddof=1)
    np.testing.assert_allclose(bn.running_mean.numpy(), mean, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), var, rtol=1e-12)
    np.testing.assert_allclose(bn.running_mean.numpy(), course_mean, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), course_var, rtol=1e-12)
    assert bn.num_batches_tracked.item() == 5 and bn.num_batches_tracked.dtype == ag.int64


def test_momentum_none_is_the_cumulative_average():
    bn = nn.BatchNorm1d(2, momentum=None).double()
    batches = _batches((5, 2), 4, seed=1)
    for b in batches:
        bn(ag.tensor(b, dtype=F64))
    np.testing.assert_allclose(bn.running_mean.numpy(), np.mean([b.mean(0) for b in batches], axis=0), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), np.mean([b.var(0, ddof=1) for b in batches], axis=0),
                               rtol=1e-12)


def test_eval_uses_the_running_statistics_and_does_not_update_them():
    bn = nn.BatchNorm1d(3).double()
    with ag.no_grad():
        bn.weight.copy_(ag.tensor([1.0, 2.0, 0.5], dtype=F64))
        bn.bias.copy_(ag.tensor([0.0, -1.0, 1.0], dtype=F64))
    for b in _batches((8, 3), 3):
        bn(ag.tensor(b, dtype=F64))
    rm, rv = bn.running_mean.numpy().copy(), bn.running_var.numpy().copy()
    bn.eval()
    x = np.random.default_rng(3).standard_normal((2, 3))
    y = bn(ag.tensor(x, dtype=F64)).detach().numpy()
    np.testing.assert_allclose(y, (x - rm) / np.sqrt(rv + 1e-5) * [1.0, 2.0, 0.5] + [0.0, -1.0, 1.0], rtol=1e-12)
    np.testing.assert_array_equal(bn.running_mean.numpy(), rm)
    assert bn.num_batches_tracked.item() == 3
    bn(ag.tensor(x[:1], dtype=F64))  # a single sample is fine in eval
    bn.train()
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(ag.tensor(x[:1], dtype=F64))


def test_no_running_stats_and_no_affine():
    bn = nn.BatchNorm2d(2, affine=False, track_running_stats=False)
    assert list(bn.parameters()) == [] and bn.running_mean is None
    assert list(bn.state_dict()) == []
    bn.eval()  # without running statistics, eval also uses the batch's statistics
    x = randn(3, 2, 2, 2, seed=8, scale=2.0, shift=1.0, requires_grad=False).to(ag.float32)
    np.testing.assert_allclose(bn(x).numpy().mean(axis=(0, 2, 3)), 0.0, atol=1e-6)


def test_buffers_are_in_the_state_dict_and_load_back():
    bn = nn.BatchNorm1d(4)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]
    assert bn.num_parameters() == 8
    bn(ag.randn(6, 4) * 2.0 + 1.0)
    other = nn.BatchNorm1d(4)
    other.load_state_dict(bn.state_dict())
    for key, value in bn.state_dict().items():
        np.testing.assert_array_equal(other.state_dict()[key].numpy(), value.numpy())
    assert other.num_batches_tracked.dtype == ag.int64 and other.num_batches_tracked.item() == 1
    assert repr(bn) == "BatchNorm1d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"
    other.reset_running_stats()
    assert other.num_batches_tracked.item() == 0 and other.running_var.numpy().tolist() == [1.0] * 4


def test_gradient_through_a_module_in_float32():
    bn = nn.BatchNorm2d(3)
    x = ag.randn(4, 3, 5, 5, requires_grad=True)
    (bn(x) ** 2).sum().backward()
    assert x.grad.dtype == ag.float32 and bn.weight.grad.shape == (3,) and bn.bias.grad.shape == (3,)
    assert bn.running_mean.grad is None and not bn.running_mean.requires_grad


# ------------------------------------------------------------------------------------ PyTorch
@needs_torch
@pytest.mark.parametrize("cls, tcls, shape", [("BatchNorm1d", "BatchNorm1d", (6, 3)),
                                              ("BatchNorm1d", "BatchNorm1d", (4, 3, 5)),
                                              ("BatchNorm2d", "BatchNorm2d", (4, 3, 2, 3))])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_matches_torch_over_training_steps_and_eval(cls, tcls, shape, momentum):
    ours = getattr(nn, cls)(3, momentum=momentum).double()
    theirs = getattr(torch.nn, tcls)(3, momentum=momentum).double()
    with ag.no_grad():
        ours.weight.copy_(ag.tensor([0.5, 1.5, -1.0], dtype=F64))
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor([0.5, 1.5, -1.0]))
    rng = np.random.default_rng(0)
    for batch in _batches(shape, 3):
        x = ag.tensor(batch, dtype=F64, requires_grad=True)
        tx = torch.tensor(batch, requires_grad=True)
        y, ty = ours(x), theirs(tx)
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), atol=1e-12)
        g = rng.standard_normal(shape)
        (y * ag.tensor(g, dtype=F64)).sum().backward()
        (ty * torch.tensor(g)).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(ours.bias.grad.numpy(), theirs.bias.grad.numpy(), atol=1e-10)
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(), rtol=1e-12)
    ours.eval()
    theirs.eval()
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(ours(ag.tensor(x, dtype=F64)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               atol=1e-12)


# ------------------------------------------------------------------------------------ errors
@pytest.mark.parametrize("call, message", [
    (lambda: nn.BatchNorm1d(3)(ag.zeros(4, 3, 2, 2)),
     r"BatchNorm1d: expected a 2-D \(N, C\) or 3-D \(N, C, L\) input, got \(4, 3, 2, 2\)"),
    (lambda: nn.BatchNorm2d(3)(ag.zeros(4, 3)), r"BatchNorm2d: expected a 4-D \(N, C, H, W\) input, got \(4, 3\)"),
    (lambda: nn.BatchNorm1d(3)(ag.zeros(4, 2)),
     r"BatchNorm1d: expected 3 channels \(dim 1\), got input of shape \(4, 2\)"),
    (lambda: F.batch_norm(ag.zeros(4, 3), ag.zeros(2), ag.ones(2)),
     r"batch_norm: running_mean of shape \(2,\) does not match the 3 channels"),
    (lambda: F.batch_norm(ag.zeros(4), None, None, training=True), r"batch_norm: expected an input of shape \(N, C\)"),
    (lambda: nn.BatchNorm1d(-1), r"num_features must be a non-negative int"),
    (lambda: nn.BatchNorm1d(2.5), r"num_features must be a non-negative int"),
])
def test_clear_errors(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()
