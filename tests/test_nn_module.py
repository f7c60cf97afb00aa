"""``nn.Module``/``Parameter``, containers, layers, init, regularizers, utils and save/load."""
import math

import numpy as np
import pytest

import autograd as ag
import nn
import nn.functional as F
from nn import init, regularizers, utils

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch not installed")


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.act = nn.PReLU(4)
        self.register_buffer("steps", ag.tensor(0))
        self.register_buffer("scale", ag.ones(4))

    def forward(self, x):
        return self.act(self.fc(x)) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.layers = nn.ModuleList([nn.Linear(4, 4), nn.Linear(4, 2, bias=False)])
        self.head = nn.Sequential(nn.Tanh(), nn.Dropout(0.5))

    def forward(self, x):
        x = self.block(x)
        for layer in self.layers:
            x = layer(x)
        return self.head(x)


def test_parameter_is_a_leaf_tensor_requiring_grad():
    p = nn.Parameter(ag.zeros(2))
    assert isinstance(p, ag.Tensor) and p.requires_grad and p.is_leaf
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert not nn.Parameter(ag.zeros(2), requires_grad=False).requires_grad


def test_registration_names_and_traversal():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["block.fc.weight", "block.fc.bias", "block.act.weight", "layers.0.weight", "layers.0.bias",
                     "layers.1.weight"]
    assert [n for n, _ in net.named_buffers()] == ["block.steps", "block.scale"]
    assert [n for n, _ in net.named_children()] == ["block", "layers", "head"]
    assert [n for n, _ in net.named_modules()] == ["", "block", "block.fc", "block.act", "layers", "layers.0",
                                                   "layers.1", "head", "head.0", "head.1"]
    assert net.num_parameters() == 3 * 4 + 4 + 4 + 16 + 4 + 8 == sum(p.numel() for p in net.parameters())
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'nope'"):
        net.nope
    assert net.get_submodule("layers.1") is net.layers[1]


def test_shared_parameters_counted_once():
    shared = nn.Linear(2, 2)
    seq = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(seq.parameters())) == 2 and seq.num_parameters() == 6


def test_train_eval_and_zero_grad():
    net = Net()
    net.eval()
    assert not net.training and not net.head[1].training
    x = ag.randn(5, 3)
    assert ag.equal(net(x), net(x))  # dropout is the identity in eval
    net.train()
    assert all(m.training for m in net.modules())
    net(x).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(float(p.grad.abs().sum()) == 0 for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_repr_tree_like_pytorch():
    text = repr(Net())
    assert text.splitlines()[:4] == ["Net(", "  (block): Block(",
                                     "    (fc): Linear(in_features=3, out_features=4, bias=True)",
                                     "    (act): PReLU(num_parameters=4)"]
    assert "(1): Linear(in_features=4, out_features=2, bias=False)" in text
    assert "(1): Dropout(p=0.5, inplace=False)" in text


def test_state_dict_load_and_errors():
    a, b = Net(), Net()
    sd = a.state_dict()
    assert list(sd) == ["block.steps", "block.scale", "block.fc.weight", "block.fc.bias", "block.act.weight",
                        "layers.0.weight", "layers.0.bias", "layers.1.weight"]
    result = b.load_state_dict({k: v.numpy() for k, v in sd.items()})
    assert result.missing_keys == [] and result.unexpected_keys == []
    for (k, v), w in zip(sd.items(), b.state_dict().values()):
        assert v.dtype == w.dtype and np.array_equal(v.numpy(), w.numpy()), k
    bad = dict(sd)
    del bad["block.fc.bias"]
    bad["extra"] = ag.zeros(1)
    with pytest.raises(RuntimeError, match=r'Missing key\(s\).*"block.fc.bias"[\s\S]*Unexpected key\(s\).*"extra"'):
        b.load_state_dict(bad)
    missing, unexpected = b.load_state_dict(bad, strict=False)
    assert missing == ["block.fc.bias"] and unexpected == ["extra"]
    wrong = dict(sd, **{"layers.0.weight": ag.zeros(4, 3)})
    with pytest.raises(RuntimeError, match=r"size mismatch for layers.0.weight.*\(4, 3\).*\(4, 4\)"):
        b.load_state_dict(wrong)


def test_to_dtype_converts_floats_and_keeps_identity():
    net = Net()
    weight = net.block.fc.weight
    net.double()
    assert net.block.fc.weight is weight and weight.dtype == ag.float64 and weight.requires_grad
    assert net.block.scale.dtype == ag.float64 and net.block.steps.dtype == ag.int64
    assert net(ag.randn(2, 3, dtype=ag.float64)).dtype == ag.float64
    net.float()
    assert weight.dtype == ag.float32


def test_save_load_bit_identical_and_safe(tmp_path):
    net = Net()
    with ag.no_grad():
        net.block.steps.fill_(2 ** 62 + 7)
    path = tmp_path / "model.npz"
    nn.save(net.state_dict(), path)
    loaded = nn.load(path)
    for (k, v), (k2, w) in zip(net.state_dict().items(), loaded.items()):
        assert k == k2 and v.dtype == w.dtype and v.numpy().tobytes() == w.numpy().tobytes()
    other = Net()
    other.load_state_dict(loaded)
    assert other.block.steps.item() == 2 ** 62 + 7

    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(path.read_bytes()[:100])
    with pytest.raises(nn.SerializationError, match="corrupt.npz"):
        nn.load(corrupt)
    pickled = tmp_path / "pickle.npz"
    np.save(pickled.open("wb"), np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(nn.SerializationError):
        nn.load(pickled)
    obj_zip = tmp_path / "objects.npz"
    np.savez(obj_zip, w=np.array([None, 1], dtype=object))
    with pytest.raises(nn.SerializationError, match="'w'"):
        nn.load(obj_zip)
    with pytest.raises(FileNotFoundError):
        nn.load(tmp_path / "missing.npz")


def test_containers():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    seq.append(nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear) and isinstance(seq[1:], nn.Sequential)
    assert [type(m).__name__ for m in seq] == ["Linear", "ReLU", "Linear"]
    assert seq(ag.randn(4, 2)).shape == (4, 1)
    with pytest.raises(IndexError):
        seq[3]
    assert nn.Identity()(ag.ones(2)).shape == (2,)
    assert nn.Flatten()(ag.ones(2, 3, 4)).shape == (2, 12)
    assert nn.Flatten(0)(ag.ones(2, 3, 4)).shape == (24,)


def test_linear_default_init_bounds():
    ag.manual_seed(0)
    layer = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.98 * bound
    assert np.abs(b).max() <= bound
    assert abs(w.var() - bound ** 2 / 3) < 0.05 * bound ** 2 / 3


def test_init_statistics_and_course_he_formula():
    ag.manual_seed(1)
    n_in, n_out = 300, 500
    w = ag.empty(n_out, n_in)
    init.kaiming_normal_(w, mode="fan_avg", nonlinearity="relu")
    assert abs(w.numpy().var() / (4 / (n_in + n_out)) - 1) < 0.02  # the course's N(0, 4/(n_in+n_out))
    init.kaiming_uniform_(w, mode="fan_avg", nonlinearity="relu")
    assert np.abs(w.numpy()).max() <= math.sqrt(12 / (n_in + n_out))
    init.xavier_normal_(w)
    assert abs(w.numpy().var() / (2 / (n_in + n_out)) - 1) < 0.02 and abs(w.numpy().mean()) < 0.003
    init.xavier_uniform_(w)
    assert abs(w.numpy().var() / (2 / (n_in + n_out)) - 1) < 0.02
    init.kaiming_normal_(w, mode="fan_out")
    assert abs(w.numpy().var() / (2 / n_out) - 1) < 0.02
    init.normal_(w, 2.0, 0.5)
    assert abs(w.numpy().mean() - 2) < 0.01 and abs(w.numpy().std() - 0.5) < 0.01
    init.uniform_(w, -3, -1)
    assert w.numpy().min() >= -3 and w.numpy().max() < -1
    init.constant_(w, 0.3)
    assert np.all(w.numpy() == np.float32(0.3))
    init.eye_(w)
    assert np.array_equal(w.numpy(), np.eye(n_out, n_in, dtype=np.float32))
    assert init.calculate_gain("relu") == math.sqrt(2) and init.calculate_gain("tanh") == 5 / 3
    p = nn.Parameter(ag.zeros(3, 3))
    init.ones_(p)
    assert p.requires_grad and p.is_leaf and np.all(p.detach().numpy() == 1)
    ag.manual_seed(5)
    a = init.normal_(ag.empty(4)).numpy().copy()
    ag.manual_seed(5)
    assert np.array_equal(a, init.normal_(ag.empty(4)).numpy())


def test_dropout_expectation_and_zero_fraction():
    ag.manual_seed(0)
    drop = nn.Dropout(0.3)
    x = ag.ones(200, 500)
    y = drop(x).numpy()
    assert abs((y == 0).mean() - 0.3) < 0.01
    assert abs(y.mean() - 1.0) < 0.01
    assert np.allclose(y[y != 0], 1 / 0.7)
    drop.eval()
    assert drop(x) is x
    xg = ag.ones(10, requires_grad=True)
    drop.train()
    out = drop(xg)
    out.sum().backward()
    assert np.array_equal(xg.grad.numpy(), out.detach().numpy())  # gradient flows through kept units only


def test_regularizers_values_and_bias_exclusion():
    net = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 2))
    w1, w2 = net[0].weight.detach().numpy(), net[2].weight.detach().numpy()
    b1 = net[0].bias.detach().numpy()
    assert np.isclose(regularizers.l1(net, 0.5).item(), 0.5 * (np.abs(w1).sum() + np.abs(w2).sum()))
    assert np.isclose(regularizers.l2(net.named_parameters(), 2.0).item(), 2 * ((w1 ** 2).sum() + (w2 ** 2).sum()))
    with_bias = regularizers.l2(net.parameters(), include_bias=True).item()
    b2 = net[2].bias.detach().numpy()
    assert np.isclose(with_bias - regularizers.l2(net).item(), (b1 ** 2).sum() + (b2 ** 2).sum())
    linf = regularizers.linf(net, 3.0).item()
    assert np.isclose(linf, 3.0 / 2 * (np.abs(w1).sum(1).max() + np.abs(w2).sum(1).max()))
    en = regularizers.elastic_net(net, 0.1, 0.2).item()
    assert np.isclose(en, regularizers.l1(net, 0.1).item() + regularizers.l2(net, 0.2).item())


def test_linf_subgradient_matches_course():
    # R(W) = λ/n Σᵢ ‖Wᵢ‖∞, ∇_{Wᵢ} R = λ/n · sign(w_j) on the max-row-sum row j, 0 elsewhere
    w1 = nn.Parameter(ag.tensor([[1.0, -2.0, 0.5], [3.0, 1.0, -1.5], [0.1, 0.2, 0.3]]))
    w2 = nn.Parameter(ag.tensor([[-4.0, 1.0], [2.0, 2.0]]))
    lam = 0.6
    regularizers.linf([w1, w2], lam).backward()
    expected1 = np.zeros((3, 3))
    expected1[1] = np.sign([3.0, 1.0, -1.5]) * lam / 2
    expected2 = np.zeros((2, 2))
    expected2[0] = np.sign([-4.0, 1.0]) * lam / 2
    np.testing.assert_allclose(w1.grad.numpy(), expected1)
    np.testing.assert_allclose(w2.grad.numpy(), expected2)


def test_l2_penalty_in_loss_equals_weight_decay():
    # L̃ = L + (α/2)‖θ‖² ⇒ θ ← (1 − εα)θ − ε∇L
    ag.manual_seed(3)
    layer = nn.Linear(4, 1, bias=False).double()
    x, y = ag.randn(8, 4, dtype=ag.float64), ag.randn(8, 1, dtype=ag.float64)
    alpha, eps = 0.3, 0.1
    theta = layer.weight.detach().numpy().copy()
    F.mse_loss(layer(x), y).backward()
    plain_grad = layer.weight.grad.numpy().copy()
    layer.zero_grad()
    (F.mse_loss(layer(x), y) + regularizers.l2(layer, alpha / 2)).backward()
    np.testing.assert_allclose(theta - eps * layer.weight.grad.numpy(), (1 - eps * alpha) * theta - eps * plain_grad,
                               rtol=1e-12)


def test_clip_grad_norm_and_value():
    a = nn.Parameter(ag.zeros(3, dtype=ag.float64))
    b = nn.Parameter(ag.zeros(2, dtype=ag.float64))
    a.grad = ag.tensor(np.array([3.0, 0.0, 0.0]))
    b.grad = ag.tensor(np.array([0.0, -4.0]))
    total = utils.clip_grad_norm_([a, b], max_norm=1.0)
    assert np.isclose(total.item(), 5.0)
    np.testing.assert_allclose(np.concatenate([a.grad.numpy(), b.grad.numpy()]), np.array([3, 0, 0, 0, -4]) / 5,
                               rtol=1e-5)
    a.grad = ag.tensor(np.array([3.0, -7.0, 0.0]))
    total = utils.clip_grad_norm_([a, b], max_norm=100.0, norm_type=math.inf)
    assert total.item() == 7.0 and a.grad.numpy()[1] == -7.0
    utils.clip_grad_value_([a, b], 2.0)
    np.testing.assert_array_equal(a.grad.numpy(), [2.0, -2.0, 0.0])
    vec = utils.parameters_to_vector([a, b])
    assert vec.shape == (5,)
    utils.vector_to_parameters(ag.arange(5.0).double(), [a, b])
    np.testing.assert_array_equal(b.detach().numpy(), [3.0, 4.0])


def test_layer_gradchecks_in_float64():
    ag.manual_seed(0)
    x = ag.randn(4, 3, dtype=ag.float64, requires_grad=True)
    for layer in (nn.Linear(3, 2), nn.PReLU(), nn.PReLU(3), nn.ELU(0.5), nn.SELU(), nn.GELU(), nn.GELU("tanh"),
                  nn.Softplus(2.0), nn.LeakyReLU(0.2), nn.Sigmoid(), nn.Tanh(), nn.Softmax(1), nn.LogSoftmax(1),
                  nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)), nn.Flatten(0)):
        layer.double()
        params = list(layer.parameters())

        def fn(inp, *ps, layer=layer, params=params):
            saved = [p._data for p in params]
            for p, q in zip(params, ps):  # evaluate the layer at the perturbed parameter values
                p._data = q._data
            try:
                return layer(inp) if not ps else _functional_call(layer, inp, ps)
            finally:
                for p, d in zip(params, saved):
                    p._data = d
        assert ag.gradcheck(lambda inp, *ps: fn(inp, *ps), [x] + [p.detach().clone().requires_grad_() for p in params])


def _functional_call(layer, inp, ps):
    """Run ``layer`` with its parameters replaced by the tensors ``ps`` (so gradcheck differentiates them)."""
    named = list(layer.named_parameters())
    owners = []
    for (name, _), p in zip(named, ps):
        owner = layer.get_submodule(name.rpartition(".")[0])
        key = name.rpartition(".")[2]
        owners.append((owner, key, owner._parameters[key]))
        owner._parameters[key] = p
    try:
        return layer(inp)
    finally:
        for owner, key, original in owners:
            owner._parameters[key] = original


@needs_torch
def test_torch_weights_through_numpy_give_identical_outputs(tmp_path):
    torch.manual_seed(0)
    ref = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.PReLU(8), torch.nn.Linear(8, 8), torch.nn.GELU(),
                              torch.nn.Linear(8, 3), torch.nn.LogSoftmax(1)).double()
    ours = nn.Sequential(nn.Linear(5, 8), nn.PReLU(8), nn.Linear(8, 8), nn.GELU(), nn.Linear(8, 3),
                         nn.LogSoftmax(1)).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    x = np.random.default_rng(0).normal(size=(6, 5))
    np.testing.assert_allclose(ours(ag.tensor(x)).detach().numpy(), ref(torch.tensor(x)).detach().numpy(),
                               rtol=1e-12, atol=1e-12)
    target = np.array([0, 1, 2, 2, 1, 0])
    F.nll_loss(ours(ag.tensor(x)), ag.tensor(target)).backward()
    torch.nn.functional.nll_loss(ref(torch.tensor(x)), torch.tensor(target)).backward()
    for (name, p), q in zip(ours.named_parameters(), ref.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)
    # and back: our saved file loads into torch
    nn.save(ours.state_dict(), tmp_path / "w.npz")
    ref2 = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.PReLU(8), torch.nn.Linear(8, 8), torch.nn.GELU(),
                               torch.nn.Linear(8, 3), torch.nn.LogSoftmax(1)).double()
    ref2.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in nn.load(tmp_path / "w.npz").items()})
    assert torch.equal(ref2(torch.tensor(x)), ref(torch.tensor(x)))


def test_parameters_are_named_by_their_dotted_path():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
            self.head = nn.Linear(3, 1)

        def forward(self, x):
            return self.head(self.body(x))

    net = Net()
    assert [(k, p.name) for k, p in net.named_parameters()] == [(k, k) for k, _ in net.named_parameters()]
    assert net.head.weight.name == "head.weight" and net.body[0].bias.name == "body.0.bias"
    own = nn.Parameter(ag.zeros(2))
    own.name = "my_vector"
    net.extra = own
    assert net.extra.name == "my_vector"          # a name the user chose is kept
    assert "head.weight" in ag.draw_graph(net(ag.randn(4, 2)).sum()).source
