"""Activations and losses of ``nn``: float64 gradcheck, stability, validation, and PyTorch parity."""
import math
import warnings

import numpy as np
import pytest

import autograd as ag
import nn
import nn.functional as F

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # comparisons with PyTorch skip without it
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch not installed")


def t64(array, requires_grad=True):
    return ag.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)


def rand64(rng, *shape, low=-2.0, high=2.0, requires_grad=True):
    return t64(rng.uniform(low, high, size=shape), requires_grad)


def probs64(rng, *shape):
    return t64(rng.uniform(0.05, 0.95, size=shape))


# ---------------------------------------------------------------------------- gradcheck (float64)
ACTIVATIONS = {
    "relu": lambda x: F.relu(x),
    "leaky_relu": lambda x: F.leaky_relu(x, 0.1),
    "elu": lambda x: F.elu(x, 1.3),
    "selu": F.selu,
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "sigmoid": F.sigmoid,
    "tanh": F.tanh,
    "softplus": lambda x: F.softplus(x, beta=2.0, threshold=3.0),
    "log_sigmoid": F.log_sigmoid,
    "softmax": lambda x: F.softmax(x, dim=1),
    "log_softmax": lambda x: F.log_softmax(x, dim=0),
    "silu": F.silu,
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_gradcheck(name, rng):
    x = rand64(rng, 3, 4)
    with ag.no_grad():
        x[...] = ag.where(x.detach().abs() < 0.1, x.detach() + 0.3, x.detach())  # away from kinks
    assert ag.gradcheck(ACTIVATIONS[name], [x])


def test_prelu_gradcheck_shared_and_per_channel(rng):
    x = rand64(rng, 2, 3, 4)
    with ag.no_grad():
        x[...] = ag.where(x.detach().abs() < 0.1, x.detach() + 0.3, x.detach())
    assert ag.gradcheck(F.prelu, [x, t64([0.25])])
    assert ag.gradcheck(F.prelu, [x, t64([0.1, 0.2, 0.3])])


def _int(values):
    return ag.tensor(np.asarray(values, dtype=np.int64))


LOSSES = {
    "mse": lambda rng: (lambda x, y: F.mse_loss(x, y), [rand64(rng, 3, 4), rand64(rng, 3, 4)]),
    "l1": lambda rng: (lambda x, y: F.l1_loss(x, y, reduction="sum"), [rand64(rng, 3, 4), rand64(rng, 3, 4) + 5]),
    "huber": lambda rng: (lambda x, y: F.huber_loss(x, y, delta=0.7, reduction="none"),
                          [t64([0.1, -0.3, 2.0, -3.0]), t64([0.0, 0.0, 0.0, 0.0])]),
    "cross_entropy": lambda rng: (lambda x: F.cross_entropy(x, _int([0, 2, 1]), weight=t64([1.0, 2.0, 0.5], False),
                                                            label_smoothing=0.1), [rand64(rng, 3, 3)]),
    "cross_entropy_fused_mean_weight_ignore": lambda rng: (
        lambda x: F.cross_entropy(x, _int([0, 2, -100, 1]), weight=t64([1.0, 2.0, 0.5], False)), [rand64(rng, 4, 3)]),
    "cross_entropy_fused_sum": lambda rng: (lambda x: F.cross_entropy(x, _int([0, 2, 1]), reduction="sum"),
                                            [rand64(rng, 3, 3)]),
    "cross_entropy_fused_none": lambda rng: (
        lambda x: F.cross_entropy(x, _int([1, 2, -100]), weight=t64([0.5, 2.0, 1.0], False), reduction="none"),
        [rand64(rng, 3, 3)]),
    "cross_entropy_nd": lambda rng: (lambda x: F.cross_entropy(x, _int([[0, 2], [1, -100]])),
                                     [rand64(rng, 2, 3, 2)]),
    "cross_entropy_probs": lambda rng: (lambda x, p: F.cross_entropy(x, p.softmax(1), label_smoothing=0.2),
                                        [rand64(rng, 4, 3), rand64(rng, 4, 3)]),
    "nll": lambda rng: (lambda x: F.nll_loss(x, _int([1, 0, 2]), weight=t64([0.3, 1.0, 2.0], False)),
                        [rand64(rng, 3, 3)]),
    "bce": lambda rng: (lambda p, y: F.binary_cross_entropy(p, y, weight=t64([1.0, 2.0, 3.0], False)),
                        [probs64(rng, 4, 3), probs64(rng, 4, 3)]),
    "bce_logits": lambda rng: (lambda x, y: F.binary_cross_entropy_with_logits(
        x, y, pos_weight=t64([1.0, 3.0, 0.5], False)), [rand64(rng, 4, 3), probs64(rng, 4, 3)]),
    "kl_div": lambda rng: (lambda x, y: F.kl_div(x, y, reduction="batchmean"),
                           [rand64(rng, 3, 4), probs64(rng, 3, 4)]),
    "kl_div_log_target": lambda rng: (lambda x, y: F.kl_div(x, y, reduction="sum", log_target=True),
                                      [rand64(rng, 3, 4), rand64(rng, 3, 4)]),
    "cosine_embedding": lambda rng: (lambda a, b: F.cosine_embedding_loss(a, b, _int([1, -1, -1]), margin=-0.5),
                                     [rand64(rng, 3, 4), rand64(rng, 3, 4)]),
    "cosine_similarity": lambda rng: (lambda a, b: F.cosine_similarity(a, b, dim=1),
                                      [rand64(rng, 3, 4), rand64(rng, 3, 4)]),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_gradcheck(name, rng):
    fn, inputs = LOSSES[name](rng)
    assert ag.gradcheck(fn, inputs)


def _first_grad(fn):
    def grads(*xs):
        with ag.enable_grad():
            return ag.grad(fn(*xs).sum(), list(xs), create_graph=True, allow_unused=True)
    return grads


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_fused_cross_entropy_second_order(rng, reduction):
    """The (N, C) class-index path is one fused op; its backward is itself differentiable."""
    target, weight = _int([0, 2, -100, 1]), t64([1.0, 2.0, 0.5], False)
    loss = lambda x: F.cross_entropy(x, target, weight=weight, reduction=reduction)  # noqa: E731
    assert ag.gradcheck(_first_grad(loss), [rand64(rng, 4, 3)])

    def grad_times_upstream(x, g):  # the gradient also flows to the loss's incoming gradient g
        with ag.enable_grad():
            (dx,) = ag.grad(loss(x), [x], grad_outputs=g, create_graph=True)
        return dx
    g = rand64(rng) if reduction != "none" else rand64(rng, 4)
    assert ag.gradcheck(grad_times_upstream, [rand64(rng, 4, 3), g])


def test_engine_ops_second_order(rng):
    x = rand64(rng, 5)
    for fn in (lambda v: F.softplus(v, 1.5), F.elu, F.selu, F.log_sigmoid):
        assert ag.gradcheck(_first_grad(fn), [x])
    p, y = probs64(np.random.default_rng(1), 4), probs64(np.random.default_rng(2), 4)
    assert ag.gradcheck(_first_grad(F.binary_cross_entropy), [p, y])


# ---------------------------------------------------------------------------- stability
def test_softplus_and_log_sigmoid_stable_at_extremes():
    x = t64([-1e4, -50.0, 0.0, 50.0, 1e4])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sp = F.softplus(x)
        ls = F.log_sigmoid(x)
        (sp.sum() + ls.sum()).backward()
    np.testing.assert_allclose(sp.detach().numpy(), [0.0, math.log1p(math.exp(-50)), math.log(2), 50.0, 1e4])
    np.testing.assert_allclose(ls.detach().numpy(), [-1e4, -50.0, -math.log(2), -math.exp(-50), 0.0], atol=1e-30)
    assert np.isfinite(x.grad.numpy()).all()
    for dtype in (ag.float32, ag.float64):
        big = ag.tensor([-1e4, 1e4], dtype=dtype)
        assert ag.isfinite(F.softplus(big)).all() and ag.isfinite(F.log_sigmoid(big)).all()


def test_bce_with_logits_and_bce_finite_everywhere():
    x = t64([-1e4, -100.0, 0.0, 100.0, 1e4])
    y = t64([1.0, 1.0, 0.5, 0.0, 0.0], False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
        loss.sum().backward()
        p = t64([0.0, 1.0, 0.5])
        bce = F.binary_cross_entropy(p, t64([1.0, 0.0, 1.0], False), reduction="none")
        bce.sum().backward()
    np.testing.assert_allclose(loss.detach().numpy(), [1e4, 100.0, math.log(2), 100.0, 1e4])
    np.testing.assert_allclose(x.grad.numpy(), [-1.0, -1.0, 0.0, 1.0, 1.0])
    np.testing.assert_allclose(bce.detach().numpy(), [100.0, 100.0, math.log(2)])  # clamped at -100
    assert np.isfinite(p.grad.numpy()).all()


# ---------------------------------------------------------------------------- validation
def test_losses_validate_shapes_dtypes_and_classes():
    x = ag.randn(4, 3)
    with pytest.raises(ValueError, match=r"mse_loss.*\(4,\).*\(4, 3\)"):
        F.mse_loss(x, ag.randn(4))
    with pytest.raises(IndexError, match="cross_entropy.*out of bounds for 3 classes"):
        F.cross_entropy(x, _int([0, 1, 3, 2]))
    with pytest.raises(IndexError, match="nll_loss"):
        F.nll_loss(x, _int([0, -1, 1, 2]))
    with pytest.raises(ValueError, match=r"cross_entropy: expected target of shape \(4,\)"):
        F.cross_entropy(x, _int([0, 1]))
    with pytest.raises(TypeError, match="nll_loss.*int64"):
        F.nll_loss(x, ag.tensor([0.0, 1.0, 1.0, 2.0]).to(ag.bool))
    with pytest.raises(ValueError, match="weight should have one value per class"):
        F.cross_entropy(x, _int([0, 1, 1, 2]), weight=ag.ones(2))
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="target values must be 1 or -1"):
        F.cosine_embedding_loss(x, x, _int([1, 0, 1, 1]))
    with pytest.raises(ValueError, match="linear"):
        F.linear(x, ag.randn(2, 5))
    # every target ignored: the mean is 0/0 = nan, and the gradient zero (PyTorch's values)
    xa = ag.randn(2, 3, requires_grad=True)
    all_ignored = F.cross_entropy(xa, _int([-100, -100]))
    all_ignored.backward()
    assert np.isnan(all_ignored.item()) and not xa.grad.numpy().any()
    # ignore_index lets out-of-range placeholders through
    assert ag.isfinite(F.cross_entropy(x, _int([0, -100, 2, 1]))).item()


# ---------------------------------------------------------------------------- PyTorch parity
def _torch_pair(arrays, n_grad):
    grad = [i < n_grad and a.dtype.kind == "f" for i, a in enumerate(arrays)]
    ours = [t64(a, g) if a.dtype.kind == "f" else ag.tensor(a) for a, g in zip(arrays, grad)]
    theirs = [torch.tensor(a, requires_grad=g) for a, g in zip(arrays, grad)]
    return ours, theirs


def _assert_same(our_fn, torch_fn, arrays, n_grad=1, atol=1e-10):
    ours, theirs = _torch_pair(arrays, n_grad)
    out, ref = our_fn(*ours), torch_fn(*theirs)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-9, atol=atol)
    w = np.random.default_rng(7).uniform(0.5, 1.5, size=ref.shape)
    (out * t64(w, False)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    for a, b in zip(ours, theirs):
        if b.requires_grad:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-8, atol=atol)


def _cases():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(5, 4)) * 3
    x4 = rng.normal(size=(2, 3, 4, 2))
    p = rng.uniform(0.01, 0.99, size=(5, 4))
    y01 = (rng.uniform(size=(5, 4)) > 0.5).astype(np.float64)
    idx = np.array([0, 3, 1, 2, 3])
    idx_ign = np.array([0, -100, 1, 2, 3])
    idx_nd = rng.integers(0, 3, size=(2, 4, 2))
    w = np.array([0.5, 2.0, 1.0, 3.0])
    soft = rng.dirichlet(np.ones(4), size=5)
    ext = np.array([-1e4, -30, -1, 0, 1, 30, 1e4])
    return {
        "relu": (F.relu, TF.relu, [x]),
        "leaky_relu": (lambda a: F.leaky_relu(a, 0.2), lambda a: TF.leaky_relu(a, 0.2), [x]),
        "prelu": (F.prelu, TF.prelu, [x4, np.array([0.1, 0.25, 0.4])], 2),
        "elu": (lambda a: F.elu(a, 0.7), lambda a: TF.elu(a, 0.7), [x]),
        "selu": (F.selu, TF.selu, [x]),
        "gelu": (F.gelu, TF.gelu, [x]),
        "gelu_tanh": (lambda a: F.gelu(a, "tanh"), lambda a: TF.gelu(a, approximate="tanh"), [x]),
        "sigmoid": (F.sigmoid, torch.sigmoid, [x]),
        "tanh": (F.tanh, torch.tanh, [x]),
        "softplus": (lambda a: F.softplus(a, 2.0, 5.0), lambda a: TF.softplus(a, 2.0, 5.0), [x]),
        "softplus_ext": (F.softplus, TF.softplus, [ext]),
        "log_sigmoid": (F.log_sigmoid, TF.logsigmoid, [ext]),
        "softmax": (lambda a: F.softmax(a, 0), lambda a: TF.softmax(a, 0), [x]),
        "log_softmax": (lambda a: F.log_softmax(a, 1), lambda a: TF.log_softmax(a, 1), [x]),
        "linear": (F.linear, TF.linear, [x, rng.normal(size=(3, 4)), rng.normal(size=3)], 3),
        "cosine_similarity": (lambda a, b: F.cosine_similarity(a, b, 1), lambda a, b: TF.cosine_similarity(a, b, 1),
                              [x, rng.normal(size=(5, 4))], 2),
        "mse": (F.mse_loss, TF.mse_loss, [x, p], 2),
        "l1": (lambda a, b: F.l1_loss(a, b, reduction="sum"), lambda a, b: TF.l1_loss(a, b, reduction="sum"),
               [x, p], 2),
        "huber": (lambda a, b: F.huber_loss(a, b, "none", 1.5), lambda a, b: TF.huber_loss(a, b, "none", 1.5),
                  [x, p], 2),
        "ce": (lambda a, t: F.cross_entropy(a, t), TF.cross_entropy, [x, idx]),
        "ce_weight_ignore": (lambda a, t, ww: F.cross_entropy(a, t, ww), TF.cross_entropy, [x, idx_ign, w]),
        "ce_sum_ignore": (lambda a, t: F.cross_entropy(a, t, reduction="sum"),
                          lambda a, t: TF.cross_entropy(a, t, reduction="sum"), [x, idx_ign]),
        "ce_none_weight": (lambda a, t, ww: F.cross_entropy(a, t, ww, reduction="none"),
                           lambda a, t, ww: TF.cross_entropy(a, t, ww, reduction="none"), [x, idx_ign, w]),
        "ce_weight_ignore_smooth": (
            lambda a, t, ww: F.cross_entropy(a, t, ww, label_smoothing=0.15),
            lambda a, t, ww: TF.cross_entropy(a, t, ww, label_smoothing=0.15), [x, idx_ign, w]),
        "ce_smooth_sum": (lambda a, t: F.cross_entropy(a, t, reduction="sum", label_smoothing=0.3),
                          lambda a, t: TF.cross_entropy(a, t, reduction="sum", label_smoothing=0.3), [x, idx_ign]),
        "ce_smooth_none_w": (lambda a, t, ww: F.cross_entropy(a, t, ww, reduction="none", label_smoothing=0.3),
                             lambda a, t, ww: TF.cross_entropy(a, t, ww, reduction="none", label_smoothing=0.3),
                             [x, idx_ign, w]),
        "ce_nd": (lambda a, t: F.cross_entropy(a, t), TF.cross_entropy, [x4, idx_nd]),
        "ce_nd_weight": (lambda a, t, ww: F.cross_entropy(a, t, ww, label_smoothing=0.1),
                         lambda a, t, ww: TF.cross_entropy(a, t, ww, label_smoothing=0.1), [x4, idx_nd, w[:3]]),
        "ce_probs": (lambda a, s, ww: F.cross_entropy(a, s, ww, label_smoothing=0.2),
                     lambda a, s, ww: TF.cross_entropy(a, s, ww, label_smoothing=0.2), [x, soft, w]),
        "ce_1d": (lambda a, t: F.cross_entropy(a, t), TF.cross_entropy, [x[0], np.array(2)]),
        "nll": (lambda a, t, ww: F.nll_loss(a, t, ww, reduction="mean"),
                lambda a, t, ww: TF.nll_loss(a, t, ww, reduction="mean"), [x, idx_ign, w]),
        "bce": (lambda a, b, ww: F.binary_cross_entropy(a, b, ww), lambda a, b, ww: TF.binary_cross_entropy(a, b, ww),
                [p, y01, w]),
        "bce_logits": (lambda a, b, pw: F.binary_cross_entropy_with_logits(a, b, pos_weight=pw),
                       lambda a, b, pw: TF.binary_cross_entropy_with_logits(a, b, pos_weight=pw), [x, y01, w]),
        "bce_logits_weight_sum": (
            lambda a, b, ww: F.binary_cross_entropy_with_logits(a, b, ww, reduction="sum"),
            lambda a, b, ww: TF.binary_cross_entropy_with_logits(a, b, ww, reduction="sum"), [x, p, w]),
        "kl": (lambda a, b: F.kl_div(a, b, reduction="batchmean"), lambda a, b: TF.kl_div(a, b, reduction="batchmean"),
               [np.log(soft), np.where(soft > 0.2, soft, 0.0)]),
        "kl_log_target": (lambda a, b: F.kl_div(a, b, reduction="sum", log_target=True),
                          lambda a, b: TF.kl_div(a, b, reduction="sum", log_target=True), [np.log(soft), x], 2),
        "cosine_embedding": (lambda a, b, t: F.cosine_embedding_loss(a, b, t, margin=0.1),
                             lambda a, b, t: TF.cosine_embedding_loss(a, b, t, margin=0.1),
                             [x, rng.normal(size=(5, 4)), np.array([1, -1, 1, -1, -1])], 2),
    }


@needs_torch
def test_same_outputs_and_gradients_as_torch():
    failures = []
    for name, (ours, theirs, arrays, *n_grad) in _cases().items():
        try:
            _assert_same(ours, theirs, arrays, *n_grad)
        except AssertionError as error:
            failures.append(f"{name}: {error}")
    assert not failures, "\n".join(failures)


@needs_torch
def test_loss_modules_match_torch():
    rng = np.random.default_rng(5)
    x, w = rng.normal(size=(6, 3)), np.array([1.0, 2.0, 0.5])
    t = np.array([0, 1, 2, 2, 1, 0])
    ours = nn.CrossEntropyLoss(weight=ag.tensor(w), label_smoothing=0.05)(t64(x), ag.tensor(t))
    ref = torch.nn.CrossEntropyLoss(weight=torch.tensor(w), label_smoothing=0.05)(torch.tensor(x), torch.tensor(t))
    assert abs(ours.item() - ref.item()) < 1e-12
    ours = nn.HuberLoss(delta=0.5)(t64(x), t64(x * 0.0))
    ref = torch.nn.HuberLoss(delta=0.5)(torch.tensor(x), torch.tensor(x * 0.0))
    assert abs(ours.item() - ref.item()) < 1e-12
    ours = nn.BCEWithLogitsLoss(pos_weight=ag.tensor(w))(t64(x), t64(x > 0))
    ref = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(w))(torch.tensor(x), torch.tensor(x > 0).double())
    assert abs(ours.item() - ref.item()) < 1e-12
