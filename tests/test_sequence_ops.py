"""The sequence-model ops: einsum, masked_fill(_), tril/triu, cumsum, sort/argsort/topk, bmm/baddbmm,
multinomial, new_* factories and uniform_/normal_.

Every differentiable op is gradchecked at first and second order through the harness of
``test_ops_gradcheck.py`` (its ``G`` entries and its second-order function), its forward-mode rule
(jvp) is checked against central differences, and its forward against numpy or PyTorch.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autograd as ag
import autograd.forward_ad as fwAD
import autograd.neural  # noqa: F401  (ag.neural.lstm_gates)
from conftest import distinct, uni
from test_ops_gradcheck import G, _as_tuple, _grad_fn

F64 = ag.float64
MASK = np.array([[True, False, True, False], [False, False, True, True], [True, True, False, False]])

CASES = [
    G("einsum[ij,jk->ik]", lambda a, b: ag.einsum("ij,jk->ik", a, b), uni(3, 4), uni(4, 2)),
    G("einsum[bij,bjk->bik]", lambda a, b: ag.einsum("bij,bjk->bik", a, b), uni(2, 3, 4), uni(2, 4, 2)),
    G("einsum[implicit ij,jk]", lambda a, b: ag.einsum("ij,jk", a, b), uni(3, 4), uni(4, 2)),
    G("einsum[ii->i diagonal]", lambda a: ag.einsum("ii->i", a), uni(3, 3)),
    G("einsum[ii trace]", lambda a: ag.einsum("ii", a), uni(3, 3)),
    G("einsum[ij-> sum]", lambda a: ag.einsum("ij->", a), uni(3, 4)),
    G("einsum[i,j->ij outer]", lambda a, b: ag.einsum("i,j->ij", a, b), uni(3), uni(4)),
    G("einsum[ij->j letter only in one operand]", lambda a, b: ag.einsum("ij,j->j", a, b), uni(3, 4), uni(4)),
    G("einsum[...ij->...ji]", lambda a: ag.einsum("...ij->...ji", a), uni(2, 3, 4)),
    G("einsum[...ij,jk->...ik]", lambda a, b: ag.einsum("...ij,jk->...ik", a, b), uni(2, 3, 4), uni(4, 2)),
    G("einsum[bhqd,bhkd->bhqk]", lambda a, b: ag.einsum("bhqd,bhkd->bhqk", a, b), uni(1, 2, 3, 2),
      uni(1, 2, 4, 2)),
    G("einsum[three operands]", lambda a, b, c: ag.einsum("ij,jk,kl->il", a, b, c), uni(2, 3), uni(3, 4),
      uni(4, 2)),
    G("masked_fill[scalar]", lambda x: ag.masked_fill(x, ag.tensor(MASK), -2.0), uni(3, 4)),
    G("masked_fill[broadcast mask]", lambda x: x.masked_fill(ag.tensor(MASK[0]), 0.5), uni(3, 4)),
    G("masked_fill[tensor value]", lambda x, v: x.masked_fill(ag.tensor(MASK), v), uni(3, 4), uni()),
    G("masked_fill_", lambda x: (x * 1.0).masked_fill_(ag.tensor(MASK), 3.0), uni(3, 4)),
    G("tril", lambda x: ag.tril(x), uni(4, 3)),
    G("tril[diagonal=-1,batched]", lambda x: x.tril(-1), uni(2, 3, 4)),
    G("triu", lambda x: ag.triu(x), uni(3, 4)),
    G("triu[diagonal=1]", lambda x: x.triu(1), uni(2, 4, 4)),
    G("cumsum[dim=0]", lambda x: ag.cumsum(x, 0), uni(3, 4)),
    G("cumsum[dim=-1]", lambda x: x.cumsum(-1), uni(2, 3, 4)),
    G("sort[values]", lambda x: ag.sort(x).values, distinct(3, 4)),
    G("sort[descending,dim=0]", lambda x: x.sort(0, descending=True).values, distinct(3, 4)),
    G("topk[k=2]", lambda x: ag.topk(x, 2).values, distinct(3, 5)),
    G("topk[smallest,dim=0]", lambda x: x.topk(2, 0, largest=False).values, distinct(4, 3)),
    G("bmm", lambda a, b: ag.bmm(a, b), uni(2, 3, 4), uni(2, 4, 2)),
    G("baddbmm", lambda c, a, b: ag.baddbmm(c, a, b, beta=0.5, alpha=2.0), uni(2, 3, 2), uni(2, 3, 4),
      uni(2, 4, 2)),
]
_names = [c.name for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=_names)
def test_gradcheck_first_order(case):
    inputs = case.inputs()
    outs = _as_tuple(case.fn(*inputs))
    assert any(o.requires_grad for o in outs)
    assert ag.gradcheck(case.fn, inputs, eps=case.eps, atol=case.atol, rtol=case.rtol)


@pytest.mark.parametrize("case", CASES, ids=_names)
def test_gradcheck_second_order(case):
    inputs = case.inputs()
    assert ag.gradcheck(_grad_fn(case.fn), inputs, eps=case.eps, atol=case.atol, rtol=case.rtol)


@pytest.mark.parametrize("case", CASES, ids=_names)
def test_forward_mode_matches_central_differences(case):
    """The jvp rules: the tangent of fn at x along v equals (fn(x + εv) − fn(x − εv)) / 2ε."""
    inputs = [x.detach() for x in case.inputs()]
    rng = np.random.default_rng(1)
    directions = [ag.tensor(rng.uniform(-1, 1, x.shape), dtype=F64) for x in inputs]
    with fwAD.dual_level():
        out = case.fn(*[fwAD.make_dual(x, v) for x, v in zip(inputs, directions)])
        tangent = fwAD.unpack_dual(out).tangent
    eps = 1e-6
    plus = case.fn(*[ag.tensor(x.numpy() + eps * v.numpy()) for x, v in zip(inputs, directions)])
    minus = case.fn(*[ag.tensor(x.numpy() - eps * v.numpy()) for x, v in zip(inputs, directions)])
    expected = (plus.numpy() - minus.numpy()) / (2 * eps)
    assert tangent is not None
    np.testing.assert_allclose(tangent.numpy(), expected, rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------------------- forward values
@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), st.integers(1, 3))
def test_einsum_batched_product_matches_numpy(b, n, m, p):
    rng = np.random.default_rng(b * 100 + n * 10 + m)
    x, y = rng.standard_normal((b, n, m)), rng.standard_normal((b, m, p))
    got = ag.einsum("bnm,bmp->bnp", ag.tensor(x), ag.tensor(y)).numpy()
    np.testing.assert_allclose(got, np.einsum("bnm,bmp->bnp", x, y), rtol=1e-12)


@pytest.mark.parametrize("equation,shapes", [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ii->i", [(3, 3)]), ("ii", [(3, 3)]), ("ij->ji", [(2, 3)]),
    ("i,i->", [(4,), (4,)]), ("...ij,...jk->...ik", [(2, 2, 3), (2, 3, 1)]), ("bij,bkj->bik", [(2, 3, 4), (2, 5, 4)]),
    ("ij,jk", [(2, 3), (3, 2)]), ("ijk->", [(2, 3, 4)]), ("iij->j", [(2, 2, 3)])])
def test_einsum_matches_numpy(equation, shapes):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in shapes]
    got = ag.einsum(equation, *[ag.tensor(a) for a in arrays]).numpy()
    np.testing.assert_allclose(got, np.einsum(equation, *arrays), rtol=1e-12, atol=1e-12)


def test_einsum_diagonal_with_a_repeated_letter_has_the_identity_gradient():
    x = ag.tensor(np.arange(9.0).reshape(3, 3), requires_grad=True)
    ag.einsum("ii", x).backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.eye(3))


@pytest.mark.parametrize("equation,shapes,message", [
    ("ij,jk->ik", [(2, 3), (4, 2)], "size mismatch for subscript 'j'"),
    ("ij,jk->ik", [(2, 3)], "2 operand"),
    ("ij->ik", [(2, 3)], "appear in no operand"),
    ("ijk->i", [(2, 3)], "name 3 dims"),
    ("i1->i", [(2, 3)], "invalid subscripts"),
    ("ij->ii", [(2, 2)], "repeat a letter"),
])
def test_einsum_bad_equations_raise_clearly(equation, shapes, message):
    with pytest.raises(ValueError, match="einsum") as info:
        ag.einsum(equation, *[ag.zeros(*s) for s in shapes])
    assert message in str(info.value)


def test_masked_fill_forward_and_in_place_version():
    x = ag.arange(6.0).reshape(2, 3)
    mask = ag.tensor([[True, False, False], [False, False, True]])
    np.testing.assert_array_equal(x.masked_fill(mask, -1.0).numpy(), [[-1, 1, 2], [3, 4, -1]])
    version = x.version
    assert x.masked_fill_(mask, 9.0) is x
    assert x.version == version + 1
    np.testing.assert_array_equal(x.numpy(), [[9, 1, 2], [3, 4, 9]])


def test_masked_fill_value_gradient_sums_the_filled_positions():
    x = ag.zeros(2, 3, requires_grad=True)
    v = ag.tensor(0.0, requires_grad=True)
    (x.masked_fill(ag.tensor([[True, True, False], [False, False, True]]), v) * 2.0).sum().backward()
    assert v.grad.item() == 6.0
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0, 2], [2, 2, 0]])


def test_masked_fill_bad_masks():
    x = ag.zeros(2, 3)
    with pytest.raises(TypeError, match="masked_fill: mask must be a bool"):
        x.masked_fill(ag.ones(2, 3), 0.0)
    with pytest.raises(RuntimeError, match=r"masked_fill: the mask of shape \(2,\) must be broadcastable"):
        x.masked_fill(ag.tensor([True, False]), 0.0)
    with pytest.raises(RuntimeError, match="0-dimensional value"):
        x.masked_fill(ag.tensor([True, False, True]), ag.ones(2))


def test_tril_triu_match_numpy_and_reject_vectors():
    x = np.arange(24.0).reshape(2, 3, 4)
    for k in (-1, 0, 2):
        np.testing.assert_array_equal(ag.tril(ag.tensor(x), k).numpy(), np.tril(x, k))
        np.testing.assert_array_equal(ag.tensor(x).triu(k).numpy(), np.triu(x, k))
    with pytest.raises(RuntimeError, match="tril: input tensor must have at least 2 dimensions"):
        ag.tril(ag.ones(3))


def test_cumsum_matches_numpy_and_integers_give_int64():
    x = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(ag.tensor(x).cumsum(1).numpy(), np.cumsum(x, 1))
    ints = ag.tensor([1, 2, 3]).cumsum(0)
    assert ints.dtype == ag.int64 and ints.tolist() == [1, 3, 6]
    with pytest.raises(IndexError, match="cumsum"):
        ag.cumsum(ag.ones(2, 2), 2)


def test_sort_argsort_topk_return_named_values_and_indices():
    x = ag.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]])
    values, indices = x.sort()
    assert values.tolist() == [[1, 2, 3], [0, 4, 5]] and indices.tolist() == [[1, 2, 0], [0, 2, 1]]
    assert x.sort(descending=True).indices.tolist() == [[0, 2, 1], [1, 2, 0]]
    assert ag.argsort(x, dim=0).tolist() == [[1, 0, 0], [0, 1, 1]]
    top = x.topk(2)
    assert top.values.tolist() == [[3, 2], [5, 4]] and top.indices.tolist() == [[0, 2], [1, 2]]
    assert x.topk(1, largest=False).values.tolist() == [[1], [0]]
    assert indices.dtype == ag.int64 and not indices.requires_grad
    with pytest.raises(RuntimeError, match=r"topk: k \(4\) is out of range"):
        x.topk(4)


def test_sort_gradient_goes_back_to_the_original_positions():
    x = ag.tensor([3.0, 1.0, 2.0], requires_grad=True)
    (x.sort().values * ag.tensor([1.0, 10.0, 100.0])).sum().backward()
    assert x.grad.tolist() == [100.0, 1.0, 10.0]


def test_sort_and_topk_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 7))
    for dim in (0, 1):
        for descending in (False, True):
            ours = ag.tensor(x).sort(dim, descending=descending)
            theirs = torch.tensor(x).sort(dim, descending=descending)
            np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
            np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
        ours, theirs = ag.tensor(x).topk(3, dim), torch.tensor(x).topk(3, dim)
        np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
        np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())


def test_bmm_and_baddbmm_shapes_and_errors():
    a, b = ag.ones(2, 3, 4), ag.ones(2, 4, 5)
    assert a.bmm(b).shape == (2, 3, 5)
    nan = ag.full((2, 3, 5), float("nan"))
    assert not ag.baddbmm(nan, a, b, beta=0).isnan().any()  # beta = 0 ignores the input, as PyTorch
    np.testing.assert_array_equal(ag.baddbmm(ag.ones(2, 3, 5), a, b, alpha=0.5).numpy(), np.full((2, 3, 5), 3.0))
    with pytest.raises(RuntimeError, match="bmm: batch1 and batch2 must be 3-D"):
        ag.bmm(ag.ones(3, 4), ag.ones(4, 5))
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        ag.bmm(ag.ones(2, 3, 4), ag.ones(2, 3, 4))


def test_multinomial_is_seeded_and_follows_the_probabilities():
    probs = ag.tensor([[0.1, 0.0, 0.9], [0.5, 0.5, 0.0]])
    ag.manual_seed(3)
    first = ag.multinomial(probs, 2000, replacement=True)
    ag.manual_seed(3)
    again = probs.multinomial(2000, replacement=True)
    assert first.dtype == ag.int64 and first.shape == (2, 2000)
    assert first.tolist() == again.tolist()
    counts = np.bincount(first.numpy()[0], minlength=3) / 2000
    assert counts[1] == 0 and abs(counts[2] - 0.9) < 0.03
    assert 2 not in first.numpy()[1]
    distinct_draws = ag.multinomial(ag.tensor([1.0, 2.0, 3.0, 4.0]), 4)
    assert sorted(distinct_draws.tolist()) == [0, 1, 2, 3]  # without replacement: each category once
    unnormalised = ag.multinomial(ag.tensor([0.0, 5.0]), 3, replacement=True)
    assert unnormalised.tolist() == [1, 1, 1]


@pytest.mark.parametrize("probs,num,replacement,message", [
    ([0.5, -0.1], 1, True, "element < 0"), ([0.0, 0.0], 1, True, "sum of probabilities"),
    ([0.5, 0.5], 3, False, "without replacement"), ([[[0.5]]], 1, True, "1 or 2 dim"),
    ([1.0, 0.0, 0.0], 2, False, "nonzero weight"),
])
def test_multinomial_bad_input(probs, num, replacement, message):
    with pytest.raises(RuntimeError, match=message):
        ag.multinomial(ag.tensor(probs), num, replacement=replacement)


def test_new_factories_keep_the_dtype():
    x = ag.ones(2, dtype=F64)
    assert x.new_zeros(2, 3).dtype == F64 and x.new_zeros((2, 3)).shape == (2, 3)
    assert x.new_ones(4).tolist() == [1.0] * 4
    full = x.new_full((2,), 7.0)
    assert full.dtype == F64 and full.tolist() == [7.0, 7.0]
    assert x.new_zeros(1, dtype=ag.int64).dtype == ag.int64
    assert x.new_ones(2, requires_grad=True).requires_grad


def test_uniform_and_normal_fill_in_place_from_the_seeded_generator():
    ag.manual_seed(0)
    a = ag.empty(1000).uniform_(-2.0, 3.0)
    assert -2.0 <= a.min().item() and a.max().item() < 3.0
    ag.manual_seed(0)
    b = ag.empty(1000).uniform_(-2.0, 3.0)
    assert a.tolist() == b.tolist()
    n = ag.empty(20000, dtype=F64).normal_(1.0, 0.5)
    assert abs(n.mean().item() - 1.0) < 0.02 and abs(n.std().item() - 0.5) < 0.02
    w = ag.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="uniform_: a tensor that requires grad"):
        w.uniform_()
    with ag.no_grad():
        version = w.version
        w.normal_()
    assert w.version == version + 1


# ---------------------------------------------------------------------------- the fused LSTM gates
LSTM_CASES = [
    G("lstm_gates", lambda gates, c: ag.cat(list(ag.neural.lstm_gates(gates, c)), -1), uni(3, 8, low=-2, high=2),
      uni(3, 2)),
    G("lstm_gates[unbatched]", lambda gates, c: ag.neural.lstm_gates(gates, c)[0], uni(8, low=-2, high=2), uni(2)),
]


@pytest.mark.parametrize("case", LSTM_CASES, ids=[c.name for c in LSTM_CASES])
def test_lstm_gates_gradcheck_first_and_second_order(case):
    inputs = case.inputs()
    assert ag.gradcheck(case.fn, inputs)
    assert ag.gradcheck(_grad_fn(case.fn), inputs)
    test_forward_mode_matches_central_differences(case)


def test_lstm_gates_match_the_cell_written_op_by_op():
    rng = np.random.default_rng(0)
    gates = ag.tensor(rng.uniform(-30, 30, (4, 12)), requires_grad=True)  # saturated gates too
    c = ag.tensor(rng.uniform(-2, 2, (4, 3)), requires_grad=True)
    h_new, c_new = ag.neural.lstm_gates(gates, c)
    i, f, g, o = (gates[:, k * 3:(k + 1) * 3] for k in range(4))
    c_ref = f.sigmoid() * c + i.sigmoid() * g.tanh()
    h_ref = o.sigmoid() * c_ref.tanh()
    np.testing.assert_allclose(c_new.detach().numpy(), c_ref.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(h_new.detach().numpy(), h_ref.detach().numpy(), rtol=1e-12, atol=1e-15)
    w1, w2 = ag.tensor(rng.standard_normal((4, 3))), ag.tensor(rng.standard_normal((4, 3)))
    ours = ag.grad((h_new * w1 + c_new * w2).sum(), [gates, c])
    theirs = ag.grad((h_ref * w1 + c_ref * w2).sum(), [gates, c])
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-14)
    with pytest.raises(RuntimeError, match=r"lstm_gates: gates of shape \(4, 12\) must be"):
        ag.neural.lstm_gates(gates, ag.zeros(4, 2, dtype=F64))


# ---------------------------------------------------------------------------- layer norm, one op
import nn.functional as F  # noqa: E402

LAYER_NORM_CASES = [
    G("layer_norm[affine]", lambda x, w, b: F.layer_norm(x, (4,), w, b), uni(3, 4, low=-2, high=2),
      uni(4, low=0.5, high=1.5), uni(4)),
    G("layer_norm[two dims]", lambda x, w, b: F.layer_norm(x, (2, 3), w, b, eps=1e-3), uni(2, 2, 3, low=-2, high=2),
      uni(2, 3, low=0.5, high=1.5), uni(2, 3)),
    G("layer_norm[plain]", lambda x: F.layer_norm(x, (5,)), uni(2, 5, low=-2, high=2)),
    G("layer_norm[one sample]", lambda x, w: F.layer_norm(x, (4,), w), uni(4, low=-2, high=2), uni(4)),
]


@pytest.mark.parametrize("case", LAYER_NORM_CASES, ids=[c.name for c in LAYER_NORM_CASES])
def test_layer_norm_gradcheck_first_and_second_order_and_tangent(case):
    inputs = case.inputs()
    assert ag.gradcheck(case.fn, inputs)
    assert ag.gradcheck(_grad_fn(case.fn), inputs)
    test_forward_mode_matches_central_differences(case)


def test_layer_norm_op_matches_its_formula_op_by_op():
    rng = np.random.default_rng(0)
    x = ag.tensor(rng.normal(2.0, 3.0, (4, 6)), requires_grad=True)
    w = ag.tensor(rng.uniform(0.5, 1.5, 6), requires_grad=True)
    b = ag.tensor(rng.standard_normal(6), requires_grad=True)
    y = F.layer_norm(x, (6,), w, b)
    centred = x - x.mean(-1, keepdim=True)
    ref = centred / ((centred * centred).mean(-1, keepdim=True) + 1e-5).sqrt() * w + b
    np.testing.assert_allclose(y.detach().numpy(), ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    weights = ag.tensor(rng.standard_normal((4, 6)))
    for a, r in zip(ag.grad((y * weights).sum(), [x, w, b]), ag.grad((ref * weights).sum(), [x, w, b])):
        np.testing.assert_allclose(a.numpy(), r.numpy(), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------- shapes, drawn by hypothesis
@given(st.lists(st.integers(1, 3), min_size=1, max_size=3), st.integers(0, 3), st.integers(0, 2 ** 16))
def test_masked_fill_broadcasts_a_trailing_mask_like_numpy(shape, drop, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    mask = rng.random(shape[min(drop, len(shape) - 1):]) < 0.5  # a trailing part of the shape
    x_t = ag.tensor(x, requires_grad=True)
    out = x_t.masked_fill(ag.tensor(mask), -7.0)
    np.testing.assert_array_equal(out.detach().numpy(), np.where(mask, -7.0, x))
    out.sum().backward()
    np.testing.assert_array_equal(x_t.grad.numpy(), np.broadcast_to(~mask, x.shape).astype(float))


@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.integers(1, 2), st.integers(0, 2 ** 16))
def test_layer_norm_over_any_trailing_dims_matches_numpy(shape, count, seed):
    count = min(count, len(shape))
    rng = np.random.default_rng(seed)
    x = rng.normal(1.0, 2.0, shape)
    axes = tuple(range(len(shape) - count, len(shape)))
    w, b = rng.uniform(0.5, 1.5, shape[-count:]), rng.standard_normal(shape[-count:])
    out = F.layer_norm(ag.tensor(x), tuple(shape[-count:]), ag.tensor(w), ag.tensor(b)).numpy()
    expected = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + 1e-5) * w + b
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10)
