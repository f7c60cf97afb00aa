"""The sequence-model layers against PyTorch (weights copied over: outputs and every parameter's
gradient), the course's normalisation statistics, short training runs, bad input, the text helpers.

Comparisons run in float64, where both libraries compute the same formulas to rounding; the training
runs in float32 compare losses within float32 tolerance. They skip when PyTorch is not installed.
"""
import numpy as np
import pytest

import autograd as ag
import nn
import nn.functional as F
import optim

F64 = ag.float64


def _torch():
    return pytest.importorskip("torch")


def _copy_weights(ours, theirs):
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    assert list(ours.state_dict()) == list(state), "state_dict keys differ from PyTorch's"
    ours.load_state_dict(state)


def _as_torch(value, torch):
    if isinstance(value, ag.Tensor):
        t = torch.tensor(value.detach().numpy())
        return t.requires_grad_(True) if value.requires_grad else t
    if isinstance(value, tuple):
        return tuple(_as_torch(v, torch) for v in value)
    return value


def _flat(out):
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o)]
    return [] if out is None else [out]


def _weights(shape, k):
    n = int(np.prod(shape)) if shape else 1
    return (0.3 + 1.4 * ((np.arange(n) * 0.618034 + 0.1 * k) % 1.0)).reshape(shape)


def compare_with_torch(ours, theirs, *inputs, call=None, rtol=1e-9, atol=1e-10):
    """Copy ``theirs``'s weights into ``ours``, run both on ``inputs`` (Tensors, float64), and compare
    every output, every parameter gradient (by name) and every input gradient."""
    torch = _torch()
    theirs = theirs.double()
    ours.to(F64)
    _copy_weights(ours, theirs)
    call = call or (lambda module, *xs: module(*xs))
    torch_inputs = [_as_torch(x, torch) for x in inputs]
    our_out, their_out = _flat(call(ours, *inputs)), _flat(call(theirs, *torch_inputs))
    assert len(our_out) == len(their_out)
    our_loss = their_loss = 0
    for k, (a, b) in enumerate(zip(our_out, their_out)):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=rtol, atol=atol, err_msg=f"output {k}")
        if a.dtype.kind == "f":
            w = _weights(tuple(a.shape), k)
            our_loss = our_loss + (a * ag.tensor(w)).sum()
            their_loss = their_loss + (b * torch.tensor(w)).sum()
    our_loss.backward()
    their_loss.backward()
    their_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        q = their_params[name]
        if q.grad is None:
            assert p.grad is None or not p.grad.numpy().any(), name
            continue
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=rtol, atol=atol, err_msg=name)
    for k, (x, t) in enumerate(zip(inputs, torch_inputs)):
        if isinstance(x, ag.Tensor) and x.requires_grad:
            np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol,
                                       err_msg=f"input {k}")


def randn(*shape, requires_grad=True, seed=0):
    data = np.random.default_rng(seed + len(shape)).standard_normal(shape)
    return ag.tensor(data, dtype=F64, requires_grad=requires_grad)


# ---------------------------------------------------------------------------- layers vs PyTorch
def test_embedding_with_padding_idx_matches_torch():
    torch = _torch()
    ids = ag.tensor([[0, 2, 1, 2], [3, 0, 0, 1]])
    compare_with_torch(nn.Embedding(5, 3, padding_idx=0), torch.nn.Embedding(5, 3, padding_idx=0), ids)


def test_embedding_init_and_padding_row():
    ag.manual_seed(0)
    e = nn.Embedding(1000, 8, padding_idx=3)
    assert e.weight[3].abs().sum().item() == 0.0
    assert abs(e.weight.std().item() - 1.0) < 0.05  # N(0, 1), as PyTorch


@pytest.mark.parametrize("shape", [(4,), (3, 4)])
def test_layer_norm_matches_torch(shape):
    torch = _torch()
    ours, theirs = nn.LayerNorm(shape), torch.nn.LayerNorm(shape)
    with torch.no_grad():
        theirs.weight.uniform_(0.5, 1.5)
        theirs.bias.uniform_(-0.5, 0.5)
    compare_with_torch(ours, theirs, randn(2, 3, 4))


def test_layer_norm_without_bias_or_affine_matches_torch():
    torch = _torch()
    compare_with_torch(nn.LayerNorm(4, bias=False), torch.nn.LayerNorm(4, bias=False), randn(3, 4))
    compare_with_torch(nn.LayerNorm(4, elementwise_affine=False), torch.nn.LayerNorm(4, elementwise_affine=False),
                       randn(3, 4))


@pytest.mark.parametrize("eps", [None, 1e-3])
def test_rms_norm_matches_torch(eps):
    torch = _torch()
    ours, theirs = nn.RMSNorm(4, eps=eps), torch.nn.RMSNorm(4, eps=eps)
    with torch.no_grad():
        theirs.weight.uniform_(0.5, 1.5)
    compare_with_torch(ours, theirs, randn(2, 3, 4))


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_cell_matches_torch(nonlinearity):
    torch = _torch()
    compare_with_torch(nn.RNNCell(3, 4, nonlinearity=nonlinearity), torch.nn.RNNCell(3, 4, nonlinearity=nonlinearity),
                       randn(2, 3), randn(2, 4, seed=1))


def test_lstm_cell_matches_torch():
    torch = _torch()
    compare_with_torch(nn.LSTMCell(3, 4), torch.nn.LSTMCell(3, 4), randn(2, 3), (randn(2, 4, seed=1),
                       randn(2, 4, seed=2)))
    compare_with_torch(nn.LSTMCell(3, 4, bias=False), torch.nn.LSTMCell(3, 4, bias=False), randn(3))


def test_gru_cell_matches_torch():
    torch = _torch()
    compare_with_torch(nn.GRUCell(3, 4), torch.nn.GRUCell(3, 4), randn(2, 3), randn(2, 4, seed=1))
    compare_with_torch(nn.GRUCell(3, 4), torch.nn.GRUCell(3, 4), randn(3))


RECURRENT = [
    dict(num_layers=1), dict(num_layers=2), dict(num_layers=2, bidirectional=True),
    dict(num_layers=2, batch_first=True), dict(num_layers=1, bias=False),
]


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("options", RECURRENT, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_recurrent_layers_match_torch(kind, options):
    torch = _torch()
    ours, theirs = getattr(nn, kind)(3, 4, **options), getattr(torch.nn, kind)(3, 4, **options)
    x = randn(2, 5, 3) if options.get("batch_first") else randn(5, 2, 3)
    compare_with_torch(ours, theirs, x)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_recurrent_layers_with_initial_state_and_unbatched_match_torch(kind):
    torch = _torch()
    directions, layers = 2, 2
    h0 = randn(layers * directions, 2, 4, seed=5)
    state = (h0, randn(layers * directions, 2, 4, seed=6)) if kind == "LSTM" else h0
    make = lambda lib: getattr(lib, kind)(3, 4, num_layers=layers, bidirectional=True)  # noqa: E731
    compare_with_torch(make(nn), make(torch.nn), randn(5, 2, 3), state)
    unbatched = (randn(4, 4, seed=7), randn(4, 4, seed=8)) if kind == "LSTM" else randn(4, 4, seed=7)
    compare_with_torch(make(nn), make(torch.nn), randn(5, 3), unbatched)


def test_rnn_parameter_names_and_init_bounds():
    ag.manual_seed(0)
    lstm = nn.LSTM(3, 16, num_layers=2, bidirectional=True)
    names = [n for n, _ in lstm.named_parameters()]
    assert names[:8] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_ih_l0_reverse",
                         "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse"]
    assert lstm.weight_ih_l1.shape == (64, 32) and lstm.weight_hh_l0.shape == (64, 16)
    for p in lstm.parameters():
        assert p.abs().max().item() <= 0.25  # U(-1/sqrt(16), 1/sqrt(16))


def _mha_call(**kwargs):
    def call(module, q, k, v):
        return module(q, k, v, **kwargs)
    return call


@pytest.mark.parametrize("batch_first", [False, True])
def test_multihead_self_attention_matches_torch(batch_first):
    torch = _torch()
    ours = nn.MultiheadAttention(8, 2, batch_first=batch_first)
    theirs = torch.nn.MultiheadAttention(8, 2, batch_first=batch_first)
    x = randn(3, 5, 8)
    compare_with_torch(ours, theirs, x, call=lambda m, x: m(x, x, x))


def test_multihead_attention_unbatched_and_sequence_first_cross_attention_match_torch():
    torch = _torch()
    compare_with_torch(nn.MultiheadAttention(8, 2), torch.nn.MultiheadAttention(8, 2), randn(3, 8), randn(5, 8, seed=1),
                       randn(5, 8, seed=2))
    compare_with_torch(nn.MultiheadAttention(8, 4, bias=False), torch.nn.MultiheadAttention(8, 4, bias=False),
                       randn(3, 2, 8), randn(5, 2, 8, seed=1), randn(5, 2, 8, seed=2))


@pytest.mark.parametrize("options", [
    dict(), dict(average_attn_weights=False), dict(need_weights=False),
    dict(attn_mask="bool"), dict(attn_mask="float"), dict(key_padding_mask=True),
    dict(attn_mask="bool", key_padding_mask=True, need_weights=False),
], ids=str)
def test_multihead_cross_attention_with_masks_matches_torch(options):
    torch = _torch()
    ours, theirs = nn.MultiheadAttention(8, 4, batch_first=True), torch.nn.MultiheadAttention(8, 4, batch_first=True)
    q, k, v = randn(2, 3, 8), randn(2, 5, 8, seed=1), randn(2, 5, 8, seed=2)
    causal_ish = np.triu(np.ones((3, 5), dtype=bool), 2)
    padding = np.array([[False, False, False, True, True], [False, True, False, False, False]])

    def call(module, q, k, v):
        lib = torch if module is theirs else ag
        kwargs = {key: value for key, value in options.items() if key in ("need_weights", "average_attn_weights")}
        if options.get("attn_mask") == "bool":
            kwargs["attn_mask"] = lib.tensor(causal_ish)
        elif options.get("attn_mask") == "float":
            kwargs["attn_mask"] = lib.tensor(np.where(causal_ish, -1.5, 0.25))
        if options.get("key_padding_mask"):
            kwargs["key_padding_mask"] = lib.tensor(padding)
        return module(q, k, v, **kwargs)
    compare_with_torch(ours, theirs, q, k, v, call=call)


def test_multihead_attention_fully_masked_rows_behave_as_torch():
    torch = _torch()
    x = randn(2, 3, 8)
    padding = np.array([[False, False, True], [True, True, True]])  # the second sample sees no key
    for need_weights in (True, False):
        ours = nn.MultiheadAttention(8, 2, batch_first=True)
        theirs = torch.nn.MultiheadAttention(8, 2, batch_first=True)
        theirs.double()
        ours.to(F64)
        _copy_weights(ours, theirs)
        out, w = ours(x, x, x, key_padding_mask=ag.tensor(padding), need_weights=need_weights)
        ref, ref_w = theirs(*(_as_torch(x, torch),) * 3, key_padding_mask=torch.tensor(padding),
                            need_weights=need_weights)
        np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-9, atol=1e-12, equal_nan=True)
        assert np.isnan(out.detach().numpy()[1]).all() == need_weights  # NaN with weights, zeros through SDPA
        if need_weights:
            np.testing.assert_allclose(w.detach().numpy(), ref_w.detach().numpy(), rtol=1e-9, equal_nan=True)


def test_sdpa_matches_torch_with_causal_bool_float_and_fully_masked_rows():
    torch = _torch()
    q, k, v = randn(2, 2, 4, 3), randn(2, 2, 4, 3, seed=1), randn(2, 2, 4, 3, seed=2)
    bool_mask = np.array([[True, False, True, True], [False, False, False, False], [True, True, True, True],
                          [False, True, False, False]])
    cases = [dict(is_causal=True), dict(attn_mask=bool_mask), dict(attn_mask=np.where(bool_mask, 0.3, -1.0)),
             dict(scale=0.7), dict(attn_mask=np.where(bool_mask, 0.0, -np.inf))]
    for case in cases:
        for x in (q, k, v):
            x.grad = None
        tq, tk, tv = (_as_torch(x, torch) for x in (q, k, v))
        extra = {key: (ag.tensor(val) if key == "attn_mask" else val) for key, val in case.items()}
        textra = {key: (torch.tensor(val) if key == "attn_mask" else val) for key, val in case.items()}
        out = F.scaled_dot_product_attention(q, k, v, **extra)
        ref = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, **textra)
        np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-9, atol=1e-12, err_msg=str(case))
        w = _weights(tuple(out.shape), 0)
        (out * ag.tensor(w)).sum().backward()
        (ref * torch.tensor(w)).sum().backward()
        for ours, theirs in ((q, tq), (k, tk), (v, tv)):
            assert np.isfinite(ours.grad.numpy()).all()
            np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-8, atol=1e-12,
                                       err_msg=str(case))


def test_sdpa_gradcheck_with_a_causal_mask():
    q, k, v = randn(1, 3, 2), randn(1, 3, 2, seed=1), randn(1, 3, 2, seed=2)
    fn = lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True)  # noqa: E731
    assert ag.gradcheck(fn, [q, k, v])


@pytest.mark.parametrize("options", [dict(), dict(norm_first=True), dict(activation="gelu"),
                                     dict(batch_first=True), dict(bias=False)], ids=str)
def test_transformer_encoder_layer_matches_torch(options):
    torch = _torch()
    make = lambda lib: lib.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, **options)  # noqa: E731
    compare_with_torch(make(nn), make(torch.nn), randn(4, 3, 8))


def test_transformer_encoder_with_masks_and_final_norm_matches_torch():
    torch = _torch()

    def make(lib):
        layer = lib.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True)
        return lib.TransformerEncoder(layer, 2, norm=lib.LayerNorm(8), enable_nested_tensor=False)
    mask = np.triu(np.full((5, 5), -np.inf), 1)
    # (a float padding mask beside the float attn_mask: torch deprecates mixing the two kinds)
    padding = np.where(np.array([[False] * 5, [False, False, False, True, True]]), -np.inf, 0.0)

    def call(module, x):
        lib = torch if not isinstance(module, nn.Module) else ag
        return module(x, mask=lib.tensor(mask), src_key_padding_mask=lib.tensor(padding))
    compare_with_torch(make(nn), make(torch.nn), randn(2, 5, 8), call=call)


def test_transformer_encoder_layers_are_independent_copies():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
    encoder = nn.TransformerEncoder(layer, 2)
    a, b = encoder.layers[0].linear1.weight, encoder.layers[1].linear1.weight
    assert a is not b and a.tolist() == b.tolist()
    with ag.no_grad():
        a.fill_(0.0)
    assert b.abs().sum().item() > 0


def test_parameter_list_and_dict_register_like_torch():
    torch = _torch()
    ours = nn.ParameterList([nn.Parameter(ag.ones(2)), ag.zeros(3)])
    ours.append(nn.Parameter(ag.ones(1)))
    theirs = torch.nn.ParameterList([torch.nn.Parameter(torch.ones(2)), torch.zeros(3), torch.ones(1)])
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["0", "1", "2"]
    assert len(ours) == 3 and ours[-1].shape == (1,) and isinstance(ours[1], nn.Parameter)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.scales = nn.ParameterDict({"a": nn.Parameter(ag.ones(2)), "b": nn.Parameter(ag.ones(3))})
    model = Model()
    assert [n for n, _ in model.named_parameters()] == ["scales.a", "scales.b"]
    assert "a" in model.scales and len(model.scales) == 2
    with pytest.raises(TypeError, match="ParameterDict: expected a Parameter"):
        model.scales["c"] = 1.0


# ---------------------------------------------------------------------------- the course's statistics
def test_layer_norm_statistics_are_per_instance_where_batch_norm_is_per_feature():
    """Layer norm: each sample (row) gets mean 0 and variance 1 over its features; batch norm: each
    feature (column) gets mean 0 and variance 1 over the batch (both with the biased variance)."""
    x = ag.tensor(np.random.default_rng(0).normal(3.0, 2.0, (16, 6)), dtype=F64)
    ln = F.layer_norm(x, (6,), eps=0.0).numpy()
    bn = nn.BatchNorm1d(6, eps=0.0).to(F64)(x).detach().numpy()
    np.testing.assert_allclose(ln.mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(ln.var(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(bn.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(bn.var(axis=0), 1.0, rtol=1e-12)
    data = x.numpy()
    expected = (data - data.mean(1, keepdims=True)) / data.std(1, keepdims=True)  # the course's formula
    np.testing.assert_allclose(ln, expected, rtol=1e-12)
    assert not np.allclose(ln, bn)


# ---------------------------------------------------------------------------- training vs PyTorch
def _trains_like_torch(torch, build, forward, sequences, make_optimizer):
    """Five optimizer steps in both libraries from the same weights, predicting each next token of
    ``sequences``: the losses agree within float32 tolerance and go down."""
    ids, targets = sequences[:, :-1], sequences[:, 1:]
    torch.manual_seed(0)
    theirs = build(torch.nn)
    ours = build(nn)
    _copy_weights(ours, theirs)
    losses = {}
    for name, module, lib in (("ours", ours, ag), ("torch", theirs, torch)):
        opt = make_optimizer(module, optim if lib is ag else torch.optim)
        x, y = lib.tensor(ids), lib.tensor(targets)
        run = []
        for _ in range(5):
            opt.zero_grad()
            logits = forward(module, x, lib)
            loss = (F if lib is ag else torch.nn.functional).cross_entropy(
                logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            loss.backward()
            opt.step()
            run.append(loss.item())
        losses[name] = run
    np.testing.assert_allclose(losses["ours"], losses["torch"], rtol=2e-5)
    assert losses["ours"][-1] < losses["ours"][0]


def test_two_layer_causal_transformer_trains_like_torch():
    torch = _torch()

    def build(lib_nn):
        holder = (nn.Module if lib_nn is nn else torch.nn.Module)()
        holder.token = lib_nn.Embedding(11, 16)
        holder.position = lib_nn.Embedding(8, 16)
        layer = lib_nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, activation="gelu", batch_first=True,
                                               norm_first=True)
        holder.blocks = lib_nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        holder.head = lib_nn.Linear(16, 11)
        return holder

    def forward(m, x, lib):
        h = m.token(x) + m.position(lib.arange(x.shape[1]))
        mask = lib.triu(lib.full((x.shape[1], x.shape[1]), float("-inf")), 1)
        return m.head(m.blocks(h, mask=mask, is_causal=True))

    _trains_like_torch(torch, build, forward, np.random.default_rng(0).integers(0, 11, (4, 9)),
                       lambda m, lib_optim: lib_optim.AdamW(m.parameters(), lr=1e-2))


def test_two_layer_lstm_language_model_trains_like_torch():
    torch = _torch()

    def build(lib_nn):
        holder = (nn.Module if lib_nn is nn else torch.nn.Module)()
        holder.embed = lib_nn.Embedding(11, 8)
        holder.lstm = lib_nn.LSTM(8, 16, num_layers=2, batch_first=True)
        holder.head = lib_nn.Linear(16, 11)
        return holder

    def forward(m, x, lib):
        return m.head(m.lstm(m.embed(x))[0])

    _trains_like_torch(torch, build, forward, np.random.default_rng(1).integers(0, 11, (4, 13)),
                       lambda m, lib_optim: lib_optim.Adam(m.parameters(), lr=1e-2))


# ---------------------------------------------------------------------------- bad input
def test_embedding_index_out_of_range():
    e = nn.Embedding(5, 3)
    with pytest.raises(IndexError, match=r"embedding: index 5 is out of range for num_embeddings=5"):
        e(ag.tensor([0, 5]))
    with pytest.raises(IndexError, match="index -1"):
        e(ag.tensor([-1]))
    with pytest.raises(TypeError, match="embedding: indices must be an int64"):
        e(ag.tensor([0.0]))


def test_lstm_wrong_feature_size():
    with pytest.raises(RuntimeError, match=r"LSTM: input.size\(-1\) must be equal to input_size. Expected 3, got 4"):
        nn.LSTM(3, 5)(ag.zeros(7, 2, 4))
    with pytest.raises(RuntimeError, match=r"LSTM: expected h_0 of size \(1, 2, 5\)"):
        nn.LSTM(3, 5)(ag.zeros(7, 2, 3), (ag.zeros(1, 3, 5), ag.zeros(1, 3, 5)))
    with pytest.raises(RuntimeError, match="GRUCell: input.size"):
        nn.GRUCell(3, 5)(ag.zeros(2, 4))


def test_embed_dim_not_divisible_by_num_heads():
    with pytest.raises(ValueError, match=r"embed_dim must be divisible by num_heads \(got embed_dim=10, num_heads=3\)"):
        nn.MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match="embed_dim must be divisible"):
        nn.TransformerEncoderLayer(10, 4)


def test_attention_and_norm_shape_errors():
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    with pytest.raises(RuntimeError, match="MultiheadAttention: query has 6 features, expected embed_dim=8"):
        mha(ag.zeros(1, 2, 6), ag.zeros(1, 2, 6), ag.zeros(1, 2, 6))
    with pytest.raises(RuntimeError, match=r"key_padding_mask of shape \(1, 2\)"):
        mha(ag.zeros(1, 2, 8), ag.zeros(1, 2, 8), ag.zeros(1, 2, 8), key_padding_mask=ag.zeros(1, 3, dtype=ag.bool))
    with pytest.raises(RuntimeError, match="layer_norm: expected an input whose last dims are normalized_shape"):
        nn.LayerNorm(5)(ag.zeros(2, 4))
    with pytest.raises(RuntimeError, match="scaled_dot_product_attention"):
        F.scaled_dot_product_attention(ag.zeros(2, 3), ag.zeros(2, 4), ag.zeros(2, 4))


# ---------------------------------------------------------------------------- functional helpers, text
def test_one_hot():
    out = F.one_hot(ag.tensor([[0, 2], [1, 0]]))
    assert out.dtype == ag.int64 and out.shape == (2, 2, 3)
    assert out.tolist() == [[[1, 0, 0], [0, 0, 1]], [[0, 1, 0], [1, 0, 0]]]
    assert F.one_hot(ag.tensor([1]), num_classes=4).tolist() == [[0, 1, 0, 0]]
    with pytest.raises(RuntimeError, match="too large for num_classes=2"):
        F.one_hot(ag.tensor([2]), 2)
    with pytest.raises(TypeError, match="one_hot: expected an int64"):
        F.one_hot(ag.tensor([1.0]))


def test_corpus_vocabularies_and_windows():
    text = nn.data.load_sonnets()
    assert len(text) > 8000 and "Shall I compare thee to a summer's day?" in text
    chars = nn.data.CharVocab(text)
    ids = chars.encode(text)
    assert ids.dtype == ag.int64 and chars.decode(ids) == text
    words = nn.data.WordVocab(text, min_count=2)
    encoded = words.encode("shall i compare thee to a zebra?")
    assert words.itos[encoded[-2].item()] == "<unk>"
    assert words.decode(words.encode("shall i compare thee")) == "shall i compare thee"
    x, y = nn.data.next_token_windows(ids[:20], 4)
    assert x.shape == (16, 4) and x[1:, :].tolist() == y[:-1, :].tolist()
    with pytest.raises(KeyError, match="not in the vocabulary"):
        chars.encode("€")


def test_sampling_is_seeded_and_respects_top_k_and_temperature():
    logits = ag.tensor([[0.0, 1.0, 2.0, 3.0]] * 500)
    ag.manual_seed(1)
    first = nn.data.sample_next(logits, temperature=1.0, top_k=2)
    ag.manual_seed(1)
    assert nn.data.sample_next(logits, temperature=1.0, top_k=2).tolist() == first.tolist()
    assert set(first.tolist()) == {2, 3}
    assert nn.data.sample_next(logits, temperature=0).tolist() == [3] * 500
    cold = nn.data.sample_next(logits, temperature=0.05)
    assert (cold.numpy() == 3).mean() > 0.99


def test_recurrent_dropout_acts_between_layers_in_training_only():
    ag.manual_seed(0)
    with_dropout = nn.LSTM(3, 4, num_layers=2, dropout=0.5)
    plain = nn.LSTM(3, 4, num_layers=2)
    plain.load_state_dict(with_dropout.state_dict())
    x = ag.randn(5, 2, 3)
    with_dropout.eval()
    np.testing.assert_array_equal(with_dropout(x)[0].detach().numpy(), plain(x)[0].detach().numpy())
    with_dropout.train()
    assert not np.allclose(with_dropout(x)[0].detach().numpy(), plain(x)[0].detach().numpy())
    with pytest.raises(ValueError, match="LSTM: dropout should be a number in range"):
        nn.LSTM(3, 4, dropout=1.5)


def test_embedding_from_pretrained_is_frozen_by_default():
    table = ag.tensor(np.arange(12.0).reshape(4, 3))
    frozen = nn.Embedding.from_pretrained(table)
    assert not frozen.weight.requires_grad
    assert frozen(ag.tensor([3, 0])).tolist() == [[9.0, 10.0, 11.0], [0.0, 1.0, 2.0]]
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad


def test_sdpa_dropout_is_seeded_and_keeps_the_expectation():
    q = ag.randn(1, 8, 4)
    ag.manual_seed(5)
    a = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5)
    ag.manual_seed(5)
    b = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5)
    plain = F.scaled_dot_product_attention(q, q, q)
    assert a.tolist() == b.tolist() and not np.allclose(a.numpy(), plain.numpy())
    ones = ag.ones(1, 64, 4)
    ag.manual_seed(0)
    averaged = F.scaled_dot_product_attention(ones, ones, ones, dropout_p=0.5).mean().item()
    assert abs(averaged - 1.0) < 0.1  # inverted dropout: kept weights scaled by 1/(1-p)
