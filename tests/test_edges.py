"""Reliability at the edges (issue 22): each test pins one finding, with PyTorch's value written out
(tests/test_differential_torch.py compares the same ops with PyTorch itself when it is installed).

Silent wrong results and NaN gradients first, then empty and 0-d tensors, dtype promotion, memory
and warnings. Files from strangers (nn.load, read_idx) are in tests/test_untrusted_files.py.
"""
import math
import tracemalloc
import warnings

import numpy as np
import pytest

import autograd as ag
import nn
import nn.functional as F
import optim

F64 = ag.float64


@pytest.fixture
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def _grad(fn, values, dtype=F64):
    x = ag.tensor(np.asarray(values, dtype=np.dtype(dtype)), requires_grad=True)
    fn(x).backward()
    return x.grad.numpy()


# ---------------------------------------------------------------------------- gather: torch.gather
def test_gather_result_has_the_index_shape_without_broadcasting():
    x = ag.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(ag.gather(x, 1, ag.tensor([[1]])).numpy(), [[1.0]])
    np.testing.assert_array_equal(ag.gather(x, 1, ag.tensor([[1, 2, 3, 0, 1]])).numpy(), [[1, 2, 3, 0, 1]])
    np.testing.assert_array_equal(x.gather(0, ag.tensor([[2, 0], [1, 1]])).numpy(), [[8, 1], [4, 5]])
    assert ag.gather(x, 1, ag.zeros(0, 2, dtype=ag.int64)).shape == (0, 2)
    assert ag.gather(ag.zeros(0, 3), 1, ag.zeros(0, 5, dtype=ag.int64)).shape == (0, 5)


@pytest.mark.parametrize("index, message", [
    ([[1], [2], [3], [0]], r"size does not match at dimension 0"),
    ([[1, 1, 1, 1, 1]], None),  # allowed along dim 1 itself
    ([[-1]], r"index -1 is out of bounds for dimension 1 with size 4"),
    ([[4]], r"index 4 is out of bounds for dimension 1 with size 4"),
    ([1], r"same number of dimensions"),
])
def test_gather_refuses_what_torch_refuses(index, message):
    x = ag.arange(12.0).reshape(3, 4)
    if message is None:
        assert ag.gather(x, 1, ag.tensor(index)).shape == (1, 5)
        return
    with pytest.raises(RuntimeError, match=message):
        ag.gather(x, 1, ag.tensor(index))


def test_gather_refuses_a_float_index():
    with pytest.raises(TypeError, match="gather"):
        ag.gather(ag.ones(2, 2), 1, ag.tensor([[0.0]]))


def test_gather_of_a_0d_tensor_counts_it_as_1d():
    five = ag.tensor(5.0, requires_grad=True)
    out = ag.gather(five, 0, ag.tensor(0))
    assert out.shape == () and out.item() == 5.0
    np.testing.assert_array_equal(ag.gather(five, -1, ag.tensor([0, 0])).detach().numpy(), [5.0, 5.0])
    assert ag.gather(ag.tensor([5.0, 6.0]), 0, ag.tensor(1)).item() == 6.0
    ag.gather(five, 0, ag.tensor([0, 0, 0])).sum().backward()
    assert five.grad.item() == 3.0
    with pytest.raises(RuntimeError, match="out of bounds"):
        ag.gather(five, 0, ag.tensor(1))


def test_gather_backward_scatter_adds_into_the_input_shape():
    x = ag.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    out = ag.gather(x, 1, ag.tensor([[3, 3, 0], [1, 1, 1]]))  # smaller than x in dim 0, repeats
    out.backward(ag.tensor(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])))
    np.testing.assert_array_equal(x.grad.numpy(), [[3, 0, 0, 3], [0, 15, 0, 0], [0, 0, 0, 0]])


def test_scatter_add_checks_the_index_like_torch():
    base = ag.zeros(3, 4)
    out = ag.scatter_add(base, 1, ag.tensor([[0, 0]]), ag.ones(2, 3))  # src larger than index
    np.testing.assert_array_equal(out.numpy(), [[2, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    with pytest.raises(RuntimeError, match="out of bounds"):
        ag.scatter_add(base, 1, ag.tensor([[-1]]), ag.ones(1, 1))
    with pytest.raises(RuntimeError, match="no larger than src"):
        ag.scatter_add(base, 1, ag.tensor([[0, 1]]), ag.ones(1, 1))


# ---------------------------------------------------------------------------- NaN gradients where torch gives 0
@pytest.mark.parametrize("values", [np.zeros(4), np.full(4, 2.5)])
def test_std_of_constant_input_has_zero_gradient(values):
    np.testing.assert_array_equal(_grad(lambda x: x.std(), values), 0.0)
    np.testing.assert_array_equal(_grad(lambda x: x.std(0, correction=0), values), 0.0)


def test_std_over_a_size_one_dim():
    """correction=0: std 0 and gradient 0; correction=1 divides by 0, so torch's NaN (value and
    gradient) is kept, without a warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(_grad(lambda x: x.std(1, correction=0).sum(), np.ones((3, 1))), 0.0)
        assert np.isnan(_grad(lambda x: x.std(1).sum(), np.ones((3, 1)))).all()
        assert np.isnan(ag.ones(3, 1).std(1).numpy()).all()


@pytest.mark.parametrize("p", [3, 1.5, 0.5, 4])
def test_p_norm_of_the_zero_vector_has_zero_gradient(p):
    np.testing.assert_array_equal(_grad(lambda x: x.norm(p), np.zeros(3)), 0.0)
    np.testing.assert_array_equal(_grad(lambda x: x.norm(p, dim=1).sum(), np.zeros((2, 3))), 0.0)


def test_p_norm_second_order_at_the_zero_vector_is_finite():
    x = ag.tensor(np.zeros(3), requires_grad=True)
    (g,) = ag.grad(x.norm(3), x, create_graph=True)
    g.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()


def test_p_norm_below_one_skips_zero_elements():
    """p < 1: an element at 0 gets gradient 0 (torch masks it), the others sgn(x)|x|^(p−1)‖x‖^(1−p)."""
    x = np.array([0.0, 4.0, -1.0])
    p = 0.5
    norm = (np.abs(x) ** p).sum() ** (1 / p)
    expected = np.sign(x) * np.where(x == 0, 0.0, np.abs(np.where(x == 0, 1, x)) ** (p - 1)) * norm ** (1 - p)
    np.testing.assert_allclose(_grad(lambda t: t.norm(p), x), expected, rtol=1e-12)


def test_cross_entropy_with_every_target_ignored_on_spatial_input_has_zero_gradients():
    x = ag.randn(2, 3, 2, requires_grad=True)
    loss = F.cross_entropy(x, ag.full((2, 2), -100, dtype=ag.int64))
    assert math.isnan(loss.item())  # 0/0, as torch
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), 0.0)


@pytest.mark.parametrize("shape", [(2, 3), (2, 3, 2)])
@pytest.mark.parametrize("weight", [None, [1.0, 2.0, 0.5]])
def test_label_smoothing_with_every_target_ignored_has_zero_gradients(shape, weight):
    x = ag.randn(*shape, requires_grad=True)
    target = ag.full((shape[0],) + shape[2:], -100, dtype=ag.int64)
    loss = F.cross_entropy(x, target, weight=None if weight is None else ag.tensor(weight), label_smoothing=0.1)
    assert math.isnan(loss.item())
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), 0.0)


@pytest.mark.parametrize("shape", [(2, 3), (2, 3, 2)])
def test_nll_loss_with_every_target_ignored_has_zero_gradients(shape):
    x = ag.randn(*shape, requires_grad=True)
    loss = F.nll_loss(x, ag.full((shape[0],) + shape[2:], -100, dtype=ag.int64))
    assert math.isnan(loss.item())
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), 0.0)


def test_one_sgd_step_after_an_all_ignored_batch_keeps_parameters_finite():
    model = nn.Sequential(nn.Conv2d(2, 3, 1))
    opt = optim.SGD(model.parameters(), lr=0.1)
    loss = F.cross_entropy(model(ag.randn(2, 2, 2, 2)), ag.full((2, 2, 2), -100, dtype=ag.int64))
    loss.backward()
    opt.step()
    assert all(np.isfinite(p.detach().numpy()).all() for p in model.parameters())


def test_float32_std_of_huge_values_is_finite_and_var_overflows_silently(no_warnings):
    x = ag.tensor([1e20, -1e20])
    assert x.std().dtype == ag.float32
    np.testing.assert_allclose(x.std().item(), 1.4142135e20, rtol=1e-6)
    assert x.var().item() == math.inf  # 2e40 is beyond float32, as torch
    assert ag.tensor([3e38, -3e38]).var().item() == math.inf


def test_silu_float32_gradient_stays_finite_where_grad_times_x_overflows():
    x = ag.tensor([-100.0, 100.0, 0.0], requires_grad=True)
    y = F.silu(x)
    y.backward(ag.tensor([3e38, 3e38, 2.0]))
    np.testing.assert_array_equal(x.grad.numpy(), np.array([-0.0, 3e38, 1.0], dtype=np.float32))
    np.testing.assert_allclose(F.silu(ag.tensor([1.0, -2.0])).numpy(), [1 / (1 + math.exp(-1)),
                                                                        -2 / (1 + math.exp(2))], rtol=1e-6)


def test_kl_div_with_a_nan_target_is_nan():
    assert math.isnan(F.kl_div(ag.tensor([0.5]), ag.tensor([float("nan")])).item())
    assert F.kl_div(ag.tensor([0.5]), ag.tensor([0.0])).item() == 0.0


@pytest.mark.parametrize("p, y, which", [(1.5, 1.0, "input"), (-0.1, 0.0, "input"), (float("nan"), 0.5, "input"),
                                         (0.5, 2.0, "target"), (0.5, -0.5, "target"), (0.5, float("nan"), "target")])
def test_binary_cross_entropy_refuses_values_outside_0_1(p, y, which):
    with pytest.raises(RuntimeError, match=f"all elements of {which} should be between 0 and 1"):
        F.binary_cross_entropy(ag.tensor([p]), ag.tensor([y]))


# ---------------------------------------------------------------------------- empty and 0-d tensors
def test_transpose_of_a_0d_tensor_is_itself():
    x = ag.tensor(1.0)
    assert x.transpose(0, -1).item() == 1.0 and x.transpose(0, 0).shape == ()


def test_amax_amin_over_a_nonempty_dim_of_an_empty_tensor():
    assert ag.zeros(3, 0).amax(0).shape == (0,)
    assert ag.zeros(3, 0).amin(0, keepdim=True).shape == (1, 0)
    with pytest.raises(IndexError, match="reduction dim 0"):
        ag.zeros(0, 3).amax(0)


def test_flatten_and_a_cnn_on_an_empty_batch():
    assert ag.zeros(0, 5).flatten(1).shape == (0, 5)
    assert ag.zeros(0, 2, 3).flatten(1).shape == (0, 6)
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(8, 3))
    out = model(ag.zeros(0, 1, 4, 4))
    assert out.shape == (0, 3)
    out.sum().backward()
    np.testing.assert_array_equal(model[0].weight.grad.numpy(), 0.0)


def test_batchnorm_training_on_an_empty_batch_leaves_the_statistics():
    bn = nn.BatchNorm1d(3)
    x = ag.zeros(0, 3, requires_grad=True)
    assert bn(x).shape == (0, 3)
    np.testing.assert_array_equal(bn.running_mean.numpy(), 0.0)
    np.testing.assert_array_equal(bn.running_var.numpy(), 1.0)
    assert bn.num_batches_tracked.item() == 1  # torch counts the batch
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(ag.zeros(1, 3))


def test_batchnorm_with_zero_features():
    bn = nn.BatchNorm1d(0)
    assert bn.weight.shape == (0,) and bn(ag.zeros(4, 0)).shape == (4, 0)


@pytest.mark.parametrize("op", ["sum", "mean", "amax", "amin", "logsumexp", "prod", "norm"])
@pytest.mark.parametrize("dim", [0, -1, (0,)])
def test_reductions_with_a_dim_on_a_0d_tensor_return_it(op, dim):
    x = ag.tensor(np.float64(2.0), requires_grad=True)
    out = x.norm(dim=dim) if op == "norm" else getattr(x, op)(dim)
    assert out.shape == () and out.item() == 2.0
    out.backward()
    assert x.grad.item() == 1.0
    assert getattr(x, "sum" if op == "norm" else op)(dim, keepdim=True).shape == ()


@pytest.mark.parametrize("op", ["var", "std"])
def test_var_std_with_a_dim_on_a_0d_tensor(op):
    x = ag.tensor(np.float64(2.0))
    assert math.isnan(getattr(x, op)(0).item())  # one value, correction 1: 0/0, as torch
    assert getattr(x, op)(-1, correction=0).item() == 0.0


def test_max_min_with_a_dim_on_a_0d_tensor():
    values, indices = ag.tensor(3.0).max(0)
    assert values.item() == 3.0 and indices.item() == 0 and values.shape == ()


# ---------------------------------------------------------------------------- smaller findings
def test_writing_into_the_product_with_a_constant_is_not_an_inplace_error():
    x = ag.randn(2, 3, requires_grad=True)
    y = x * 1
    y[..., -1] = y[..., 0] * 3
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[4, 1, 0], [4, 1, 0]])


def test_a_saved_operand_modified_in_place_still_raises():
    w = ag.randn(3, requires_grad=True)
    x = ag.randn(3, requires_grad=True)
    y = x * 1.0
    z = y * w  # needs y for w's gradient
    y.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_a_0d_tensor_does_not_widen_a_tensor_dtype():
    f64 = ag.tensor(np.float64(2.0))
    assert (ag.ones(3) * f64).dtype == ag.float32
    assert (f64 + ag.ones(3)).dtype == ag.float32
    assert ag.where(ag.tensor([True, False]), ag.ones(2), f64).dtype == ag.float32
    assert (ag.ones(3, dtype=ag.int64) * f64).dtype == ag.float64  # a higher category does promote
    assert (ag.ones(2, dtype=ag.bool) + ag.tensor(2)).dtype == ag.int64
    assert (ag.tensor(1.0) * f64).dtype == ag.float64  # two 0-d tensors: the usual rule
    layer = nn.Linear(3, 2)
    assert layer(ag.ones(4, 3) * f64).dtype == ag.float32


@pytest.mark.parametrize("loss", [F.mse_loss, F.l1_loss, F.smooth_l1_loss, F.kl_div])
def test_regression_losses_promote_float32_with_float64(loss):
    assert loss(ag.ones(3), ag.tensor(np.zeros(3))).dtype == ag.float64
    assert loss(ag.tensor(np.ones(3)), ag.zeros(3)).dtype == ag.float64
    assert loss(ag.ones(3), ag.zeros(3)).dtype == ag.float32


def test_huber_loss_keeps_the_input_dtype_as_torch_does():
    assert F.huber_loss(ag.ones(3), ag.tensor(np.zeros(3))).dtype == ag.float32
    assert F.huber_loss(ag.tensor(np.ones(3)), ag.zeros(3)).dtype == ag.float64


def _peak_bytes(fn):
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("reduce", [lambda x: x.amax(), lambda x: x.max(), lambda x: x.amin(1), lambda x: x.min()])
def test_amax_under_no_grad_allocates_no_input_sized_array(reduce):
    x = ag.randn(1000, 1000)  # 4 MB
    with ag.no_grad():
        peak = _peak_bytes(lambda: reduce(x))
    assert peak < 400_000  # a tenth of the input: no tie-share array (the result is at most 4 kB)
    recording = ag.randn(1000, 1000, requires_grad=True)
    assert _peak_bytes(lambda: reduce(recording)) >= 4_000_000  # the share, kept for backward


def test_forward_passes_at_overflow_and_nan_print_no_warnings(no_warnings):
    big = ag.tensor([3e38, -3e38])
    big.var()
    big.std()
    F.mse_loss(ag.tensor([3e38]), ag.tensor([-3e38]))
    F.l1_loss(ag.tensor([3e38]), ag.tensor([-3e38]))
    F.huber_loss(ag.tensor([3e38]), ag.tensor([-3e38]))
    nan = ag.tensor([1.0, float("nan")], requires_grad=True)
    nan.amax().backward()
    assert np.isnan(nan.grad.numpy()).all()  # torch: a NaN maximum gives NaN gradients
    nan.max()
    ag.tensor([float("nan")]).amin(0)
    ag.tensor([float("inf"), -float("inf")]).std()
    F.kl_div(ag.tensor([0.5]), ag.tensor([-1.0]))
    big.prod()
    big.norm()
    ag.tensor([float("inf"), -float("inf"), 1.0]).logsumexp(0)
    F.binary_cross_entropy_with_logits(ag.tensor([float("inf"), 1.0]), ag.tensor([1.0, 0.0]))
    F.kl_div(big, big, log_target=True)
    logits = ag.tensor([[3e38, -3e38, 0.0]])
    F.cross_entropy(logits, F.softmax(logits, 1))
    F.batch_norm(ag.tensor([[3e38], [-3e38], [1.0]]), None, None, training=True)


def test_nan_inputs_send_no_gradient_through_relu_and_maximum():
    """The README's convention (PyTorch passes the gradient on there; the NaN would only spread)."""
    x = ag.tensor([float("nan"), 1.0], requires_grad=True)
    (x.relu() + ag.maximum(x, ag.zeros(2)) + ag.minimum(x, ag.full((2,), 2.0))).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 3.0])


def test_linear_refuses_non_integer_feature_counts():
    with pytest.raises(TypeError, match="in_features must be an int, got 3.7"):
        nn.Linear(3.7, 4)
    with pytest.raises(TypeError, match="out_features"):
        nn.Linear(3, 4.0)
    with pytest.raises(ValueError, match="non-negative"):
        nn.Linear(-1, 4)
    assert nn.Linear(np.int64(3), 2).in_features == 3


@pytest.mark.parametrize("delta", [float("nan"), 0.0, -1.0])
def test_huber_refuses_a_delta_that_is_not_positive(delta):
    with pytest.raises(ValueError, match="delta must be positive"):
        F.huber_loss(ag.ones(3), ag.zeros(3), delta=delta)
    with pytest.raises(ValueError, match="beta must be non-negative"):
        F.smooth_l1_loss(ag.ones(3), ag.zeros(3), beta=float("nan"))


def test_an_update_of_read_only_memory_says_why_it_cannot_be_written():
    """A read-only parameter is refused naming the real reason (not a misleading 'expanded view')."""
    import optim
    frozen = np.arange(4.0)
    frozen.flags.writeable = False
    p = ag.from_numpy(frozen).requires_grad_()
    p.grad = ag.ones(4, dtype=ag.float64)
    with pytest.raises(RuntimeError, match="memory is read-only; clone"):
        optim.SGD([p], lr=0.1).step()
    expanded = ag.tensor([1.0]).expand(3)
    with ag.no_grad(), pytest.raises(RuntimeError, match="read-only expanded view"):
        expanded.add_(1.0)
