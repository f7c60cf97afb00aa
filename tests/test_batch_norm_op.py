"""The fused batch normalisation (autograd/ops/batch_norm.py, kernels/normalization_channels.py): the
kernels against float64 formulas (float32 and float64, long and short channel blocks, large offsets,
non-contiguous inputs), the BatchNorm op with and without its affine map in training and evaluation
(gradcheck first and second order, plain vs recorded backward, forward mode), batch_norm against
PyTorch (skipped when it is not installed), and what a compiled step records."""
import numpy as np
import pytest

import autograd as ag
import nn
import nn.functional as F
import optim
from autograd.kernels import normalization_channels as kernels
from autograd.ops.batch_norm import BatchNorm, BatchStatistics
from test_forward_ad import _check_case
from test_ops_gradcheck import G, uni

try:
    import torch
except Exception:  # noqa: BLE001  (optional)
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

F64 = ag.float64
SHAPES = [(5, 3), (4, 3, 5), (3, 2, 17, 3), (4, 3, 6, 6)]  # blocks of 1, 5, 51 and 36 elements
DTYPES = [np.float32, np.float64]


def _axes(ndim):
    return (0,) + tuple(range(2, ndim))


def _per_channel(values, ndim):
    return np.asarray(values).reshape((1, -1) + (1,) * (ndim - 2))


def _tol(dtype):
    return dict(rtol=2e-6, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------------------------ kernels
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("offset", [0.0, 1e4])
def test_channel_moments_are_float64_two_pass_statistics(shape, dtype, offset):
    x = (np.random.default_rng(0).standard_normal(shape) * 3 + offset).astype(dtype)
    mean, var = kernels.channel_moments(x)
    exact = x.astype(np.float64)
    assert mean.dtype == var.dtype == np.float64
    np.testing.assert_allclose(mean, exact.mean(_axes(x.ndim)), rtol=1e-14)
    np.testing.assert_allclose(var, exact.var(_axes(x.ndim)), rtol=1e-9)  # no cancellation at the offset


def test_channel_moments_of_a_non_contiguous_input_and_of_constant_channels():
    x = np.random.default_rng(1).standard_normal((6, 5, 4, 3)).transpose(0, 3, 2, 1)  # (6, 3, 4, 5) strided
    mean, var = kernels.channel_moments(x)
    np.testing.assert_allclose(mean, x.mean((0, 2, 3)), rtol=1e-13)
    np.testing.assert_allclose(var, x.var((0, 2, 3)), rtol=1e-12)
    constant = np.full((4, 2, 20), 0.1, np.float32)
    assert np.array_equal(kernels.channel_moments(constant)[1], [0.0, 0.0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_normalize_and_its_gradient_kernels_match_the_formulas(shape, dtype):
    rng = np.random.default_rng(2)
    x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    c = shape[1]
    mean, var = kernels.channel_moments(x)
    rstd = 1 / np.sqrt(var + 1e-5)
    scale, shift = rstd * rng.uniform(0.5, 1.5, c), rng.standard_normal(c)
    exact, g64 = x.astype(np.float64), g.astype(np.float64)
    xhat = (exact - _per_channel(mean, x.ndim)) * _per_channel(rstd, x.ndim)
    y = kernels.normalize(x, mean, scale, shift)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, (exact - _per_channel(mean, x.ndim)) * _per_channel(scale, x.ndim)
                               + _per_channel(shift, x.ndim), **_tol(dtype))
    sum_g, sum_gx = kernels.normalize_backward_sums(g, x, mean, rstd)
    np.testing.assert_allclose(sum_g, g64.sum(_axes(x.ndim)), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sum_gx, (g64 * xhat).sum(_axes(x.ndim)), rtol=1e-6 if dtype == np.float32 else 1e-12,
                               atol=1e-5 if dtype == np.float32 else 1e-12)
    count = x.size // c
    dx = kernels.normalize_backward_input(g, x, mean, rstd, scale, sum_g / count, sum_gx / count)
    expected = _per_channel(scale, x.ndim) * (g64 - _per_channel(sum_g / count, x.ndim)
                                              - xhat * _per_channel(sum_gx / count, x.ndim))
    np.testing.assert_allclose(dx, expected, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-5 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(kernels.channel_scale(g, scale), g64 * _per_channel(scale, x.ndim), **_tol(dtype))
    np.testing.assert_allclose(kernels.channel_sums(g), g64.sum(_axes(x.ndim)), rtol=1e-12, atol=1e-12)


def test_kernel_errors_name_the_shapes():
    x = np.zeros((2, 3, 4))
    with pytest.raises(ValueError, match=r"grad shape \(2, 3\) != input shape \(2, 3, 4\)"):
        kernels.normalize_backward_sums(np.zeros((2, 3)), x, np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="scale has 2 values for 3 channels"):
        kernels.normalize(x, np.zeros(3), np.ones(2), np.zeros(3))
    with pytest.raises(TypeError, match="expected float32 or float64"):
        kernels.channel_moments(np.zeros((2, 3), np.int64))


# ------------------------------------------------------------------------------------ the op
def _train(x, w, b):
    return BatchNorm.apply(x, BatchStatistics.apply(x), w, b, 1e-5, True)


def _train_plain(x):
    return BatchNorm.apply(x, BatchStatistics.apply(x), None, None, 1e-5, True)


def _evaluate(x, s, w, b):
    return BatchNorm.apply(x, s, w, b, 1e-5, False)


def _weighted_square(fn):
    """xs -> fn(xs)² weighted by a fixed ramp, summed: a scalar whose gradient depends on x̂ itself."""
    def loss(*xs):
        y = fn(*xs)
        ramp = ag.tensor(np.linspace(0.3, 1.7, y.numel()).reshape(y.shape), dtype=F64)
        return (y * y * ramp).sum()
    return loss


def _random(*shape, seed=0, scale=1.0, shift=0.0):
    rng = np.random.default_rng(seed)
    return ag.tensor(rng.standard_normal(shape) * scale + shift, dtype=F64, requires_grad=True)


def _statistics(seed=7):
    rng = np.random.default_rng(seed)
    return ag.tensor(np.stack([rng.standard_normal(3), rng.uniform(0.5, 2.0, 3)]), dtype=F64, requires_grad=True)


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 5), (3, 3, 4, 5)], ids=str)
def test_training_gradcheck_first_and_second_order_with_the_affine_map_in_the_op(shape):
    x, w, b = _random(*shape, seed=1, scale=2.0, shift=1.0), _random(3, seed=2), _random(3, seed=3)
    assert ag.gradcheck(_train, [x, w, b])
    assert ag.gradgradcheck(_train, [x, w, b])
    assert ag.gradcheck(_weighted_square(_train), [x, w, b])
    assert ag.gradgradcheck(_weighted_square(_train), [x, w, b])
    assert ag.gradgradcheck(_train_plain, [x])


def test_evaluation_gradcheck_first_and_second_order_including_the_statistics():
    x, w, b, s = _random(4, 3, 2, 5, seed=4), _random(3, seed=5), _random(3, seed=6), _statistics()
    assert ag.gradcheck(_evaluate, [x, s, w, b])
    assert ag.gradgradcheck(_evaluate, [x, s, w, b])
    assert ag.gradgradcheck(_weighted_square(_evaluate), [x, s, w, b])


def test_gradcheck_through_a_transposed_view():
    base = _random(5, 4, 3, seed=8)  # (5, 4, 3) seen as (5, 3, 4): channels strided
    w, b = _random(3, seed=9), _random(3, seed=10)
    fn = lambda x, w, b: _train(x.transpose(1, 2), w, b)  # noqa: E731
    assert ag.gradcheck(fn, [base, w, b])
    assert ag.gradgradcheck(fn, [base, w, b])


@pytest.mark.parametrize("training", [True, False])
def test_the_plain_backward_equals_the_recorded_one(training):
    x, w, b, s = _random(6, 3, 4, 4, seed=11, scale=3.0), _random(3, seed=12), _random(3, seed=13), _statistics()
    g = ag.tensor(np.random.default_rng(14).standard_normal((6, 3, 4, 4)), dtype=F64)
    inputs = [x, w, b] if training else [x, s, w, b]
    fn = _train if training else _evaluate
    plain = ag.grad((fn(*inputs) * g).sum(), inputs)
    recorded = ag.grad((fn(*inputs) * g).sum(), inputs, create_graph=True)
    for p, r in zip(plain, recorded):
        assert not p.requires_grad
        np.testing.assert_allclose(p.numpy(), r.detach().numpy(), rtol=1e-11, atol=1e-12)


def test_the_training_gradient_sums_to_zero_over_each_channel_and_ignores_a_shift():
    x, w = _random(8, 3, 5, seed=15, shift=100.0), _random(3, seed=16)
    g = ag.tensor(np.random.default_rng(17).standard_normal((8, 3, 5)), dtype=F64)
    (dx,) = ag.grad((_train(x, w, None) * g).sum(), [x])
    np.testing.assert_allclose(dx.numpy().sum((0, 2)), 0.0, atol=1e-12)
    shifted = ag.tensor(x.detach().numpy() + 1e3, dtype=F64, requires_grad=True)
    (dx_shifted,) = ag.grad((_train(shifted, w, None) * g).sum(), [shifted])
    np.testing.assert_allclose(dx_shifted.numpy(), dx.numpy(), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_float32_and_float64_keep_their_dtype(dtype):
    x = ag.tensor(np.random.default_rng(18).standard_normal((4, 3, 5)).astype(dtype), requires_grad=True)
    w = ag.ones(3, dtype=dtype, requires_grad=True)
    b = ag.zeros(3, dtype=dtype, requires_grad=True)
    stats = BatchStatistics.apply(x)
    assert stats.dtype == F64 and stats.shape == (2, 3) and not stats.requires_grad
    y = BatchNorm.apply(x, stats, w, b, 1e-5, True)
    assert y.dtype == dtype
    (y * y).sum().backward()
    assert x.grad.dtype == w.grad.dtype == b.grad.dtype == dtype


FORWARD_CASES = [
    G("batch_norm[training]", _train, uni(4, 3, 5), uni(3, low=0.5, high=1.5), uni(3)),
    G("batch_norm[training,plain]", _train_plain, uni(5, 3)),
    G("batch_norm[eval]", lambda x, w, b: _evaluate(x, ag.tensor(np.array([[0.1, -0.2, 0.3], [0.5, 1.5, 2.0]])), w, b),
      uni(4, 3, 2, 2), uni(3), uni(3)),
    G("batch_norm[eval,statistics]", lambda x, s: _evaluate(x, s, None, None), uni(3, 3, 4), uni(2, 3, low=0.5, high=1.5)),
]


@pytest.mark.parametrize("case", FORWARD_CASES, ids=[c.name for c in FORWARD_CASES])
@pytest.mark.parametrize("requires_grad", [False, True])
def test_forward_mode_matches_finite_differences_and_reverse_mode(case, requires_grad):
    _check_case(case, requires_grad)


# ------------------------------------------------------------------------------------ batch_norm
@needs_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 7), (4, 3, 5, 6)], ids=str)
def test_batch_norm_matches_torch_in_training_and_evaluation(shape, dtype):
    import torch.nn.functional as TF
    rng = np.random.default_rng(21)
    x = (rng.standard_normal(shape) * 2 + 3).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    w, b = rng.uniform(0.5, 1.5, 3).astype(dtype), rng.standard_normal(3).astype(dtype)
    rm, rv = rng.standard_normal(3).astype(dtype), rng.uniform(0.5, 2.0, 3).astype(dtype)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    for training in (True, False):
        ours = [ag.tensor(a, requires_grad=True) for a in (x, w, b)]
        theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
        our_rm, our_rv = ag.tensor(rm.copy()), ag.tensor(rv.copy())
        their_rm, their_rv = torch.tensor(rm.copy()), torch.tensor(rv.copy())
        y = F.batch_norm(ours[0], our_rm, our_rv, ours[1], ours[2], training=training, momentum=0.2)
        ty = TF.batch_norm(theirs[0], their_rm, their_rv, theirs[1], theirs[2], training=training, momentum=0.2)
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), **tol)
        (y * ag.tensor(g)).sum().backward()
        (ty * torch.tensor(g)).sum().backward()
        for a, t in zip(ours, theirs):
            np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), **tol)
        np.testing.assert_allclose(our_rm.numpy(), their_rm.numpy(), **tol)
        np.testing.assert_allclose(our_rv.numpy(), their_rv.numpy(), **tol)


@needs_torch
def test_the_op_with_its_affine_map_matches_torch_on_a_non_contiguous_float32_input():
    import torch.nn.functional as TF
    rng = np.random.default_rng(22)
    base = rng.standard_normal((8, 6, 5, 3)).astype(np.float32)
    x = ag.tensor(base, requires_grad=True)
    tx = torch.tensor(base, requires_grad=True)
    w, b = rng.uniform(0.5, 1.5, 3).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    aw, ab = ag.tensor(w, requires_grad=True), ag.tensor(b, requires_grad=True)
    tw, tb = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
    y = _train(x.permute(0, 3, 1, 2), aw, ab)  # channels strided in memory
    ty = TF.batch_norm(tx.permute(0, 3, 1, 2), None, None, tw, tb, training=True)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    g = rng.standard_normal(y.shape).astype(np.float32)
    (y * ag.tensor(g)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    for a, t in ((x, tx), (aw, tw), (ab, tb)):
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_statistics_beyond_the_float32_range_give_inf_and_nan_silently():
    with np.errstate(all="raise"):
        y = F.batch_norm(ag.tensor([[3e38], [-3e38], [1.0]]), None, None, training=True)
    assert y.shape == (3, 1)


def test_a_compiled_batch_norm_step_records_the_fused_ops():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 3))
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()

    def step(x, y):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss
    rng = np.random.default_rng(23)
    batches = [(ag.tensor(rng.standard_normal((5, 1, 6, 6)).astype(np.float32)), ag.tensor(rng.integers(0, 3, 5)))
               for _ in range(3)]
    compiled = ag.compile(step)
    losses = [compiled(*batch).item() for batch in batches]
    labels = [i.label for i in compiled.program.instructions]
    assert labels.count("BatchStatistics") == 1 and labels.count("BatchNorm") == 1
    assert "Mean" not in labels and "Rsqrt" not in labels  # none of the composed statistics' ops
    assert compiled.replays == 2 and all(np.isfinite(losses))
    assert model[1].num_batches_tracked.item() == 3
