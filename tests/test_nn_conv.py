"""conv2d / max_pool2d / avg_pool2d (engine ops and nn layers): gradients of first and second order,
agreement with PyTorch (skipped when it is not installed), the course's output sizes and parameter
counts, and clear errors."""
import math

import numpy as np
import pytest

import autograd as ag
import nn
import nn.functional as F

F64 = ag.float64


def randn(*shape, seed=0, requires_grad=True):
    rng = np.random.default_rng(seed)
    return ag.tensor(rng.standard_normal(shape), dtype=F64, requires_grad=requires_grad)


def distinct_image(*shape, seed=0):
    """Values pairwise ≥ 0.01 apart: no ties in a max-pool window, so finite differences are exact."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    values = rng.permutation(n) * 0.02 - n * 0.01 + rng.uniform(-0.004, 0.004, n)
    return ag.tensor(values.reshape(shape), dtype=F64, requires_grad=True)


def second_order(fn, inputs):
    """xs -> d(Σ w ⊙ fn(xs))/dxs, recorded so it can be gradchecked (Hessian-vector products)."""
    def grads(*xs):
        with ag.enable_grad():
            out = fn(*xs)
            w = ag.tensor(np.linspace(0.3, 1.7, out.numel()).reshape(out.shape), dtype=F64)
            return tuple(ag.grad((out * out * w).sum(), list(xs), create_graph=True))
    return ag.gradcheck(grads, inputs)


CONV_CASES = [  # (N, C, H, W), (O, kh, kw), stride, padding
    ((2, 3, 5, 6), (4, 3, 3), 1, 0),
    ((2, 2, 6, 5), (3, 3, 2), (2, 1), (1, 0)),
    ((1, 2, 5, 5), (2, 3, 3), 2, 1),
    ((3, 1, 4, 4), (2, 1, 1), 1, 0),
    ((1, 2, 4, 4), (1, 4, 4), 1, 2),
]


# ------------------------------------------------------------------------------------ gradients
@pytest.mark.parametrize("xshape, wshape, stride, padding", CONV_CASES)
def test_conv2d_gradcheck(xshape, wshape, stride, padding):
    x = randn(*xshape, seed=1)
    w = randn(wshape[0], xshape[1], wshape[1], wshape[2], seed=2)
    b = randn(wshape[0], seed=3)
    assert ag.gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride, padding), [x, w, b])


@pytest.mark.parametrize("xshape, wshape, stride, padding", CONV_CASES[:3])
def test_conv2d_second_order(xshape, wshape, stride, padding):
    x = randn(*xshape, seed=4)
    w = randn(wshape[0], xshape[1], wshape[1], wshape[2], seed=5)
    b = randn(wshape[0], seed=6)
    assert second_order(lambda x, w, b: F.conv2d(x, w, b, stride, padding), [x, w, b])


def test_conv2d_third_order_through_the_backward_functions():
    # the derivative ops are each other's derivatives: any order closes on the same three Functions
    x, w = randn(1, 2, 4, 4, seed=7), randn(2, 2, 2, 2, seed=8)

    def hessian_vector(x, w):
        with ag.enable_grad():
            y = F.conv2d(x, w, padding=1)
            gx, gw = ag.grad((y * y * y).sum(), [x, w], create_graph=True)
            return tuple(ag.grad((gx * gx).sum() + (gw * gw).sum(), [x, w], create_graph=True))
    assert ag.gradcheck(hessian_vector, [x, w])


POOL_CASES = [(2, None, 0), (3, 2, 1), ((3, 2), (1, 2), (1, 1)), (2, 1, 0)]


@pytest.mark.parametrize("kernel, stride, padding", POOL_CASES)
def test_max_pool2d_gradcheck(kernel, stride, padding):
    x = distinct_image(2, 2, 5, 6)
    assert ag.gradcheck(lambda x: F.max_pool2d(x, kernel, stride, padding), [x])
    assert second_order(lambda x: F.max_pool2d(x, kernel, stride, padding), [x])


@pytest.mark.parametrize("kernel, stride, padding", POOL_CASES)
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool2d_gradcheck(kernel, stride, padding, count_include_pad):
    x = randn(2, 2, 5, 6, seed=9)
    fn = lambda x: F.avg_pool2d(x, kernel, stride, padding, count_include_pad=count_include_pad)  # noqa: E731
    assert ag.gradcheck(fn, [x])
    assert second_order(fn, [x])


def test_max_pool_backward_is_linear_in_the_gradient_and_differentiable():
    # d/dg of <v, PoolScatter(g)> is the gather of v at the argmax positions
    x = distinct_image(1, 1, 4, 4)
    with ag.enable_grad():
        y = F.max_pool2d(x, 2)
        g = ag.ones(y.shape, dtype=F64, requires_grad=True)
        (gx,) = ag.grad(y, [x], grad_outputs=g, create_graph=True)
        v = ag.tensor(np.arange(16.0).reshape(1, 1, 4, 4), dtype=F64)
        (gg,) = ag.grad((gx * v).sum(), [g])
    argmax = np.array([[np.argmax(x.detach().numpy()[0, 0, i:i + 2, j:j + 2]) for j in (0, 2)] for i in (0, 2)])
    rows, cols = np.array([[0, 0], [2, 2]]) + argmax // 2, np.array([[0, 2], [0, 2]]) + argmax % 2
    np.testing.assert_array_equal(gg.numpy()[0, 0], (rows * 4 + cols).astype(float))


def test_max_pool_ties_go_to_the_first_maximum_and_indices_as_pytorch():
    x = ag.tensor(np.ones((1, 1, 2, 4)), dtype=F64, requires_grad=True)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [[1, 0, 1, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(idx.numpy(), [[[[0, 2]]]])
    assert idx.dtype == ag.int64


def test_float32_results_and_unbatched_inputs():
    x = ag.randn(3, 6, 6, requires_grad=True)
    w = ag.randn(4, 3, 3, 3, requires_grad=True)
    y = F.conv2d(x, w, padding=1)
    assert y.shape == (4, 6, 6) and y.dtype == ag.float32
    z = F.avg_pool2d(F.max_pool2d(y, 2), 3, 1, 1)
    assert z.shape == (4, 3, 3) and z.dtype == ag.float32
    z.sum().backward()
    assert x.grad.dtype == ag.float32 and x.grad.shape == (3, 6, 6) and w.grad.shape == (4, 3, 3, 3)


def test_padding_same_and_valid():
    x, w = randn(1, 2, 5, 7), randn(3, 2, 3, 5)
    assert F.conv2d(x, w, padding="same").shape == (1, 3, 5, 7)
    assert F.conv2d(x, w, padding="valid").shape == (1, 3, 3, 3)


# ------------------------------------------------------------------------------------ PyTorch
try:
    import torch
except Exception:  # noqa: BLE001  (optional)
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def _compare(ours, theirs, inputs, t_inputs, rng, atol=1e-10):
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), atol=atol)
    g = rng.standard_normal(ours.shape)
    (ours * ag.tensor(g, dtype=ours.dtype)).sum().backward()
    (theirs * torch.tensor(g, dtype=theirs.dtype)).sum().backward()
    for a, b in zip(inputs, t_inputs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=atol * 10)


def _pair_of(x):
    return torch.tensor(x.detach().numpy(), requires_grad=True)


@needs_torch
@pytest.mark.parametrize("xshape, wshape, stride, padding", CONV_CASES)
def test_conv2d_matches_torch(xshape, wshape, stride, padding):
    rng = np.random.default_rng(0)
    x, w, b = randn(*xshape, seed=1), randn(wshape[0], xshape[1], *wshape[1:], seed=2), randn(wshape[0], seed=3)
    tx, tw, tb = _pair_of(x), _pair_of(w), _pair_of(b)
    _compare(F.conv2d(x, w, b, stride, padding), torch.nn.functional.conv2d(tx, tw, tb, stride, padding),
             [x, w, b], [tx, tw, tb], rng)


@needs_torch
@pytest.mark.parametrize("kernel, stride, padding", POOL_CASES)
def test_pools_match_torch(kernel, stride, padding):
    rng = np.random.default_rng(1)
    for fn, tfn, kwargs in [(F.max_pool2d, torch.nn.functional.max_pool2d, {}),
                            (F.avg_pool2d, torch.nn.functional.avg_pool2d, {"count_include_pad": True}),
                            (F.avg_pool2d, torch.nn.functional.avg_pool2d, {"count_include_pad": False})]:
        x = randn(2, 3, 7, 6, seed=11)
        tx = _pair_of(x)
        _compare(fn(x, kernel, stride, padding, **kwargs), tfn(tx, kernel, stride, padding, **kwargs), [x], [tx], rng)
    x = randn(2, 3, 7, 6, seed=12, requires_grad=False)
    _, idx = F.max_pool2d(x, kernel, stride, padding, return_indices=True)
    _, tidx = torch.nn.functional.max_pool2d(torch.tensor(x.numpy()), kernel, stride, padding, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())


@needs_torch
def test_conv_block_float32_and_second_order_match_torch():
    x, w = randn(2, 2, 6, 6, seed=20), randn(3, 2, 3, 3, seed=21)
    tx, tw = _pair_of(x), _pair_of(w)
    y = F.avg_pool2d(F.conv2d(x, w, padding=1).tanh(), 2)
    ty = torch.nn.functional.avg_pool2d(torch.nn.functional.conv2d(tx, tw, padding=1).tanh(), 2)
    gx, gw = ag.grad((y * y).sum(), [x, w], create_graph=True)
    tgx, tgw = torch.autograd.grad((ty * ty).sum(), [tx, tw], create_graph=True)
    hx, hw = ag.grad((gx * gx).sum() + gw.sum(), [x, w])
    thx, thw = torch.autograd.grad((tgx * tgx).sum() + tgw.sum(), [tx, tw])
    np.testing.assert_allclose(hx.numpy(), thx.numpy(), atol=1e-9)
    np.testing.assert_allclose(hw.numpy(), thw.numpy(), atol=1e-9)
    conv = nn.Conv2d(2, 3, 3, padding=1)
    tconv = torch.nn.Conv2d(2, 3, 3, padding=1)
    conv.load_state_dict({k: v.detach().numpy() for k, v in tconv.state_dict().items()})
    x32 = ag.randn(4, 2, 5, 5)
    np.testing.assert_allclose(conv(x32).detach().numpy(), tconv(torch.tensor(x32.numpy())).detach().numpy(),
                               atol=1e-5)


# ------------------------------------------------------------------------ the course's examples
def test_course_conv_pool_layer_256x256_rgb():
    # 5 filters 3×3, stride 1, padding 1, then 2×2 max pooling with stride 2, on 256×256×3
    layer = nn.Sequential(nn.Conv2d(3, 5, 3, stride=1, padding=1), nn.MaxPool2d(2, stride=2))
    assert layer.num_parameters() == (3 * 3 * 3 + 1) * 5 == 140
    assert sum(p.numel() for p in layer.parameters()) == 140
    x = ag.zeros(1, 3, 256, 256)
    with ag.no_grad():
        assert layer[0](x).shape == (1, 5, 256, 256)
        assert layer(x).shape == (1, 5, 128, 128)


def test_course_output_size_formula():
    # 32×32×3 -> 26×26×16: each of the 16 filters is 7×7×3 (26 = (32 − 7 + 0)/1 + 1)
    conv = nn.Conv2d(3, 16, 7)
    assert conv.output_shape(32, 32) == (16, 26, 26)
    assert conv.weight.shape == (16, 3, 7, 7)
    # 4 filters 4×4 on 32×32×3 -> 29×29×4, (4·4·3 + 1)·4 parameters, vs (32·32·3 + 1)·500 for FC
    conv4 = nn.Conv2d(3, 4, 4)
    with ag.no_grad():
        assert conv4(ag.zeros(2, 3, 32, 32)).shape == (2, 4, 29, 29)
    assert conv4.num_parameters() == (4 * 4 * 3 + 1) * 4 == 196
    assert nn.Linear(32 * 32 * 3, 500).num_parameters() == (32 * 32 * 3 + 1) * 500
    # a second conv layer of 32 filters 3×3 after 16 channels: each filter's depth is 16
    assert nn.Conv2d(16, 32, 3).weight.shape == (32, 16, 3, 3)
    for h, k, s, p in [(28, 3, 1, 0), (28, 5, 2, 2), (7, 3, 2, 1), (10, 4, 3, 1)]:
        with ag.no_grad():
            assert F.conv2d(ag.zeros(1, 1, h, h), ag.zeros(1, 1, k, k), stride=s, padding=p).shape[-1] \
                == (h + 2 * p - k) // s + 1
            assert F.max_pool2d(ag.zeros(1, 1, h, h), k, s, min(p, k // 2)).shape[-1] \
                == (h + 2 * min(p, k // 2) - k) // s + 1


# ------------------------------------------------------------------------------------ layers
def test_conv2d_layer_default_init_and_repr():
    ag.manual_seed(0)
    conv = nn.Conv2d(4, 6, (3, 2), stride=2, padding=1)
    bound = 1.0 / math.sqrt(4 * 3 * 2)  # kaiming_uniform(a=√5) gives the same bound as the bias
    w, b = conv.weight.detach().numpy(), conv.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound and np.abs(b).max() <= bound
    assert repr(conv) == "Conv2d(4, 6, kernel_size=(3, 2), stride=(2, 2), padding=(1, 1))"
    assert repr(nn.Conv2d(1, 8, 3, bias=False)) == "Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1), bias=False)"
    assert [n for n, _ in conv.named_parameters()] == ["weight", "bias"]
    assert nn.Conv2d(1, 8, 3, bias=False).num_parameters() == 72
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    assert repr(nn.AvgPool2d(3, 1, 1)) == "AvgPool2d(kernel_size=3, stride=1, padding=1)"


def test_small_cnn_trains():
    ag.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 4, 3),
                          nn.AvgPool2d(2), nn.Flatten(), nn.Linear(4, 2))
    x = ag.randn(16, 1, 8, 8)
    y = ag.tensor((x.numpy()[:, 0, :4].sum(axis=(1, 2)) > 0).astype(np.int64))
    losses = []
    for _ in range(30):
        loss = F.cross_entropy(model(x), y)
        model.zero_grad()
        loss.backward()
        with ag.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


# ------------------------------------------------------------------------------------ errors
Z = ag.zeros


@pytest.mark.parametrize("call, message", [
    (lambda: F.conv2d(Z(3, 3, 5), Z(4, 2, 3, 3)), r"conv2d.*\(4, 2, 3, 3\).*2 input channels.*\(3, 3, 5\) has 3"),
    (lambda: F.conv2d(Z(3, 5), Z(4, 3, 3, 3)), r"conv2d: expected a 3-D .* or 4-D .*\(3, 5\)"),
    (lambda: F.conv2d(Z(1, 3, 5, 5), Z(4, 2, 3, 3)), r"conv2d.*expects 2 input channels.*has 3"),
    (lambda: F.conv2d(Z(1, 3, 2, 5), Z(4, 3, 3, 3)),
     r"conv2d: input of shape \(1, 3, 2, 5\).*smaller than the kernel 3x3"),
    (lambda: F.conv2d(Z(1, 3, 5, 5), Z(4, 3, 3)), r"conv2d: expected a 4-D weight"),
    (lambda: F.conv2d(Z(1, 3, 5, 5), Z(4, 3, 3, 3), Z(3)), r"conv2d: expected a bias of shape \(4,\)"),
    (lambda: F.conv2d(Z(1, 3, 5, 5), Z(4, 3, 3, 3, dtype=F64)),
     r"conv2d: input dtype float32 and weight dtype float64"),
    (lambda: F.conv2d(Z(1, 3, 5, 5), Z(4, 3, 3, 3), stride=0), r"conv2d: stride must be positive"),
    (lambda: F.conv2d(Z(1, 3, 5, 5), Z(4, 3, 3, 3), stride=(1, 2, 3)), r"conv2d: stride"),
    (lambda: F.conv2d(Z(1, 3, 5, 5), Z(4, 3, 3, 3), groups=3), r"conv2d: groups=3 is not supported"),
    (lambda: F.max_pool2d(Z(1, 1, 1, 4), 2),
     r"max_pool2d: input of shape \(1, 1, 1, 4\).*smaller than the kernel 2x2"),
    (lambda: F.max_pool2d(Z(1, 1, 4, 4), 2, padding=2), r"max_pool2d: padding \(2, 2\) should be at most half"),
    (lambda: F.avg_pool2d(Z(4, 4), 2), r"avg_pool2d: expected a 3-D .*\(4, 4\)"),
    (lambda: F.max_pool2d(Z(1, 1, 4, 4, dtype=ag.int64), 2), r"max_pool2d: expected a floating-point input"),
    (lambda: nn.Conv2d(3, 5, 3)(Z(1, 4, 8, 8)), r"expects 3 input channels"),
])
def test_clear_errors(call, message):
    with pytest.raises((RuntimeError, ValueError, TypeError, NotImplementedError), match=message):
        call()


# ------------------------------------------------------------------------------- random shapes
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@needs_torch
@settings(max_examples=25)
@given(n=st.integers(1, 3), c=st.integers(1, 3), o=st.integers(1, 3), h=st.integers(1, 9), w=st.integers(1, 9),
       kh=st.integers(1, 4), kw=st.integers(1, 4), sh=st.integers(1, 3), sw=st.integers(1, 3),
       ph=st.integers(0, 2), pw=st.integers(0, 2))
def test_random_geometries_match_torch_and_the_size_formula(n, c, o, h, w, kh, kw, sh, sw, ph, pw):
    if h + 2 * ph < kh or w + 2 * pw < kw:
        with pytest.raises(RuntimeError, match="smaller than the kernel"):
            F.conv2d(ag.zeros(n, c, h, w), ag.zeros(o, c, kh, kw), stride=(sh, sw), padding=(ph, pw))
        return
    rng = np.random.default_rng(h * 100 + w)
    x, wt = rng.standard_normal((n, c, h, w)), rng.standard_normal((o, c, kh, kw))
    y = F.conv2d(ag.tensor(x), ag.tensor(wt), stride=(sh, sw), padding=(ph, pw)).numpy()
    assert y.shape == (n, o, (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1)
    ty = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(wt), stride=(sh, sw), padding=(ph, pw))
    np.testing.assert_allclose(y, ty.numpy(), atol=1e-10)
    if ph <= kh // 2 and pw <= kw // 2:
        for ours, theirs in ((F.max_pool2d, torch.nn.functional.max_pool2d),
                             (F.avg_pool2d, torch.nn.functional.avg_pool2d)):
            np.testing.assert_allclose(ours(ag.tensor(x), (kh, kw), (sh, sw), (ph, pw)).numpy(),
                                       theirs(torch.tensor(x), (kh, kw), (sh, sw), (ph, pw)).numpy(), atol=1e-12)
