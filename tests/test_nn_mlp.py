"""MLP (structure, repr, parameter counts, options, training/eval behaviour) and the skip-connection
example z = W₃·relu(W₁x) + W₂x, whose gradients are checked against the hand-derived formulas."""
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


def test_structure_repr_and_parameter_count():
    model = nn.MLP([784, 128, 64, 10])
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert model.num_parameters() == 784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10 == 109386
    assert repr(model) == (
        "MLP(\n"
        "  (0): Linear(in_features=784, out_features=128, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Linear(in_features=128, out_features=64, bias=True)\n"
        "  (3): ReLU()\n"
        "  (4): Linear(in_features=64, out_features=10, bias=True)\n"
        ")")
    assert [n for n, _ in model.named_parameters()][:2] == ["0.weight", "0.bias"]
    assert model(ag.randn(5, 784)).shape == (5, 10)


def test_hidden_layer_order_with_batch_norm_dropout_and_output_activation():
    model = nn.MLP([4, 8, 8, 3], activation="tanh", dropout=0.25, batch_norm=True,
                   output_activation="softmax")
    assert [type(m).__name__ for m in model] == [
        "Linear", "BatchNorm1d", "Tanh", "Dropout", "Linear", "BatchNorm1d", "Tanh", "Dropout", "Linear", "Softmax"]
    assert model[3].p == 0.25
    assert model.num_parameters() == (4 * 8 + 8) + 2 * 8 + (8 * 8 + 8) + 2 * 8 + (8 * 3 + 3)
    assert "running_mean" in "".join(model.state_dict())
    out = model(ag.randn(6, 4))
    np.testing.assert_allclose(out.detach().numpy().sum(axis=1), 1.0, rtol=1e-5)


def test_activation_as_class_and_single_layer():
    model = nn.MLP([3, 5, 2], activation=nn.LeakyReLU)
    assert isinstance(model[1], nn.LeakyReLU) and len(model) == 3
    assert [type(m).__name__ for m in nn.MLP([3, 2])] == ["Linear"]
    assert model[1] is not nn.MLP([3, 5, 2], activation=nn.LeakyReLU)[1]


def test_init_by_name_or_callable_zeroes_the_biases():
    ag.manual_seed(0)
    model = nn.MLP([50, 40, 30], init="xavier_uniform")
    bound = np.sqrt(6.0 / (50 + 40))
    w = model[0].weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert not model[0].bias.detach().numpy().any() and not model[2].bias.detach().numpy().any()
    seen = []
    nn.MLP([3, 4, 2], init=lambda w: seen.append(tuple(w.shape)))
    assert seen == [(4, 3), (2, 4)]


def test_dropout_only_in_training():
    ag.manual_seed(0)
    model = nn.MLP([20, 200, 5], dropout=0.5)
    x = ag.randn(8, 20)
    model.eval()
    a, b = model(x).detach().numpy(), model(x).detach().numpy()
    np.testing.assert_array_equal(a, b)
    model.train()
    assert not np.allclose(model(x).detach().numpy(), a)


def test_training_reduces_the_loss():
    ag.manual_seed(0)
    model = nn.MLP([2, 16, 16, 2], batch_norm=True)
    x = ag.randn(64, 2)
    y = ag.tensor((x.numpy()[:, 0] * x.numpy()[:, 1] > 0).astype(np.int64))
    first = None
    for _ in range(60):
        loss = F.cross_entropy(model(x), y)
        model.zero_grad()
        loss.backward()
        with ag.no_grad():
            for p in model.parameters():
                p -= 0.2 * p.grad
        first = first if first is not None else loss.item()
    assert loss.item() < 0.6 * first


@pytest.mark.parametrize("kwargs, message", [
    ({"sizes": [3]}, "at least the input and output sizes"),
    ({"sizes": [3, 0, 2]}, "all positive"),
    ({"sizes": [3, 2], "dropout": 1.0}, r"dropout must be in \[0, 1\)"),
    ({"sizes": [3, 4, 2], "activation": "swishy"}, "unknown activation 'swishy'"),
    ({"sizes": [3, 4, 2], "activation": nn.ReLU()}, "pass the activation as a class or a name"),
    ({"sizes": [3, 4, 2], "init": "nonsense"}, "unknown init 'nonsense'"),
])
def test_clear_errors(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        nn.MLP(**kwargs)


@needs_torch
def test_forward_matches_torch_with_the_same_weights():
    model = nn.MLP([6, 5, 4, 3], activation="gelu").double()
    layers = []
    for i, (a, b) in enumerate([(6, 5), (5, 4), (4, 3)]):
        layers.append(torch.nn.Linear(a, b).double())
        if i < 2:
            layers.append(torch.nn.GELU())
    reference = torch.nn.Sequential(*layers)
    model.load_state_dict({k: v.detach().numpy() for k, v in reference.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((7, 6))
    np.testing.assert_allclose(model(ag.tensor(x, dtype=F64)).detach().numpy(),
                               reference(torch.tensor(x)).detach().numpy(), atol=1e-12)


# ------------------------------------------------------------------------------ skip connection
def test_skip_connection_gradients_match_the_hand_derived_formulas():
    # z = W₃·relu(W₁x) + W₂x,  L = ½‖z‖²:  dL/dz = z,  dW₃ = z hᵀ (h = relu(W₁x)),  dW₂ = z xᵀ,
    # dW₁ = ((W₃ᵀ z) ⊙ 1[W₁x > 0]) xᵀ, and dx sums both paths: W₁ᵀ((W₃ᵀz) ⊙ 1[W₁x > 0]) + W₂ᵀ z.
    model = nn.SkipConnection(3, 4, 2).double()
    rng = np.random.default_rng(0)
    with ag.no_grad():
        for p in model.parameters():
            p.copy_(ag.tensor(rng.standard_normal(p.shape), dtype=F64))
    x_np = rng.standard_normal(3)
    x = ag.tensor(x_np, dtype=F64, requires_grad=True)
    z = model(x)
    (0.5 * (z * z).sum()).backward()
    W1, W2, W3 = (w.detach().numpy() for w in (model.W1, model.W2, model.W3))
    e = W1 @ x_np
    h = np.maximum(e, 0)
    z_np = W3 @ h + W2 @ x_np
    np.testing.assert_allclose(z.detach().numpy(), z_np, rtol=1e-12)
    delta = (W3.T @ z_np) * (e > 0)
    np.testing.assert_allclose(model.W3.grad.numpy(), np.outer(z_np, h), rtol=1e-12)
    np.testing.assert_allclose(model.W2.grad.numpy(), np.outer(z_np, x_np), rtol=1e-12)
    np.testing.assert_allclose(model.W1.grad.numpy(), np.outer(delta, x_np), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(x.grad.numpy(), W1.T @ delta + W2.T @ z_np, rtol=1e-12)
    assert model.num_parameters() == 3 * 4 + 4 * 2 + 3 * 2


def test_residual_with_identity_shortcut_and_gradcheck():
    block = nn.Residual(nn.Sequential(nn.Linear(3, 3), nn.Tanh())).double()
    x = ag.tensor(np.random.default_rng(1).standard_normal((2, 3)), dtype=F64, requires_grad=True)
    with ag.no_grad():
        np.testing.assert_allclose(block(x).numpy(), (block.body(x) + x).numpy())
    assert isinstance(block.shortcut, nn.Identity)
    assert ag.gradcheck(lambda x: block(x), [x])


def _grads(model):
    return [p.grad.detach().numpy().copy() for p in model.parameters()]


@pytest.mark.parametrize("bias", [True, False])
def test_sequential_runs_the_modules_it_holds_and_fused_linear_relu_is_a_users_choice(bias):
    """The graph of a Sequential is the model as written (a Linear node, then a ReLU node); the fused
    F.linear_relu, chosen explicitly, gives the same values and gradients."""
    ag.manual_seed(3)
    model = nn.Sequential(nn.Linear(6, 5, bias=bias), nn.ReLU(), nn.Linear(5, 4, bias=bias), nn.ReLU(),
                          nn.Linear(4, 3, bias=bias)).to(ag.float64)
    x = ag.randn(2, 7, 6, dtype=ag.float64)  # a 3-D input: the fused op works over the last axis too
    out = model(x)
    assert out.grad_fn.name() == "LinearBackward"
    assert out.grad_fn.next_edges[0].name() == "ReluBackward"
    assert out.grad_fn.next_edges[0].next_edges[0].name() == "LinearBackward"
    (out ** 2).sum().backward()
    grads = _grads(model)
    model.zero_grad()
    first, _, second, _, last = model
    h = nn.functional.linear_relu(x, first.weight, first.bias)
    h = nn.functional.linear_relu(h, second.weight, second.bias)
    fused = last(h)
    assert fused.grad_fn.next_edges[0].name() == "LinearReluBackward"
    (fused ** 2).sum().backward()
    np.testing.assert_allclose(fused.detach().numpy(), out.detach().numpy(), rtol=1e-12, atol=1e-12)
    for a, b in zip(grads, _grads(model)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_fused_linear_relu_checks_its_input():
    with pytest.raises(ValueError, match="linear_relu: input has 3 features"):
        nn.functional.linear_relu(ag.randn(2, 3), ag.randn(4, 4), ag.randn(4))


def test_fused_linear_relu_propagates_nan_and_zeroes_negative_preactivations():
    w = ag.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], requires_grad=True)
    b = ag.tensor([0.0, -5.0, 0.0], requires_grad=True)
    y = nn.functional.linear_relu(ag.tensor([[float("nan"), 2.0], [3.0, 1.0]]), w, b)
    out = y.detach().numpy()
    assert np.isnan(out[0]).all()  # NaN·0 in the product is NaN too; relu keeps it, as torch.relu
    np.testing.assert_array_equal(out[1], [3.0, 0.0, 0.0])
    y[1].sum().backward()
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 0.0, 0.0])  # only the positive unit passes
