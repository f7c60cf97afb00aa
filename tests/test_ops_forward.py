"""Forward values of every op against numpy (and against PyTorch when it is installed), dtypes and
promotion, numerically stable ops at extreme inputs, and the error messages of misuse."""
import math
import warnings

import numpy as np
import pytest

import autograd as ag
import nn.functional as F

RNG = np.random.default_rng(2024)


def arr(*shape, low=-1.0, high=1.0, dtype=np.float64):
    return RNG.uniform(low, high, size=shape).astype(dtype)


def check(t, expected, dtype=None, rtol=None, atol=0.0):
    """``t`` (a Tensor) has ``expected``'s shape and values, and ``dtype`` (default: expected's)."""
    assert isinstance(t, ag.Tensor), type(t)
    expected = np.asarray(expected)
    want_dtype = np.dtype(dtype) if dtype is not None else expected.dtype
    assert t.dtype == want_dtype, (t.dtype, want_dtype)
    assert t.shape == expected.shape, (t.shape, expected.shape)
    if rtol is None:
        rtol = 1e-5 if t.dtype == np.float32 else 1e-12
    if t.dtype.kind == "f":
        np.testing.assert_allclose(t.numpy(), expected, rtol=rtol, atol=atol)
    else:
        np.testing.assert_array_equal(t.numpy(), expected)


@pytest.fixture
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# ---------------------------------------------------------------------------- dtypes and promotion
def test_python_floats_give_float32_and_numpy_float64_stays():
    assert ag.tensor([1.0, 2.0]).dtype == ag.float32
    assert ag.tensor(1.5).dtype == ag.float32
    assert ag.Tensor([[1.0], [2.0]]).dtype == ag.float32
    assert ag.tensor(np.array([1.0, 2.0])).dtype == ag.float64
    assert ag.tensor(np.array([1.0], dtype=np.float32)).dtype == ag.float32
    assert ag.tensor([1, 2]).dtype == ag.int64
    assert ag.tensor(np.array([1, 2], dtype=np.int32)).dtype == ag.int64
    assert ag.tensor([True, False]).dtype == ag.bool
    assert ag.tensor([1, 2], dtype=ag.float64).dtype == ag.float64


def test_numpy_float64_scalar_stays_float64():
    assert ag.tensor(np.float64(1.5)).dtype == ag.float64
    assert ag.tensor(np.arange(3.0).sum()).item() == 3.0 and ag.tensor(np.arange(3.0).sum()).dtype == ag.float64


def test_type_promotion():
    i = ag.tensor([1, 2, 3])
    f32 = ag.tensor([1.0, 2.0, 3.0])
    f64 = ag.tensor(np.array([1.0, 2.0, 3.0]))
    b = ag.tensor([True, False, True])
    check(i * 2.5, np.array([2.5, 5.0, 7.5], np.float32))
    check(i * 2, np.array([2, 4, 6]))
    check(f32 + f64, np.array([2.0, 4.0, 6.0]))
    check(f32 * 2.5, np.array([2.5, 5.0, 7.5], np.float32))  # a Python float doesn't widen float32
    check(f64 * np.float32(2.0), np.array([2.0, 4.0, 6.0]))
    check(i + f32, np.array([2.0, 4.0, 6.0], np.float32))
    check(i / 2, np.array([0.5, 1.0, 1.5], np.float32))      # true division of ints is float
    check(i / i, np.ones(3, np.float32))
    check(b + 1, np.array([2, 1, 2]))
    check(b + i, np.array([2, 2, 4]))
    check(2 - i, np.array([1, 0, -1]))
    check(i ** 2, np.array([1, 4, 9]))
    assert (i ** 0.5).dtype == ag.float32


@pytest.mark.parametrize("fn", ["exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "sin", "cos", "tanh",
                                "sigmoid", "reciprocal"])
def test_integer_input_to_float_ops_gives_float32(fn, no_warnings):
    x = ag.tensor([1, 2, 3])
    out = getattr(ag, fn)(x)
    assert out.dtype == ag.float32
    ref = getattr(ag, fn)(ag.tensor([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(out.numpy(), ref.numpy())


def test_integer_ops_that_stay_integer():
    x = ag.tensor([-2, 0, 3])
    check(x.abs(), np.array([2, 0, 3]))
    check(x.sign(), np.array([-1, 0, 1]))
    check(x.relu(), np.array([0, 0, 3]))
    check(x.sum(), np.array(1))
    check(x.prod(), np.array(0))
    check(x.amax(), np.array(3))
    check(-x, np.array([2, 0, -3]))
    check(ag.tensor([True, True, False]).sum(), np.array(2))


def test_mean_of_integer_tensor_raises_like_torch():
    with pytest.raises(RuntimeError, match="mean"):
        ag.tensor([1, 2]).mean()
    check(ag.tensor([1, 2]).mean(dtype=ag.float64), np.array(1.5))


# ---------------------------------------------------------------------------- elementwise vs numpy
def _gelu_exact(x):
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def _gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


UNARY = {
    "exp": (ag.exp, np.exp, (-3, 3)),
    "log": (ag.log, np.log, (0.1, 3)),
    "log1p": (ag.log1p, np.log1p, (-0.9, 3)),
    "expm1": (ag.expm1, np.expm1, (-3, 3)),
    "sqrt": (ag.sqrt, np.sqrt, (0.1, 3)),
    "rsqrt": (ag.rsqrt, lambda x: 1 / np.sqrt(x), (0.1, 3)),
    "sin": (ag.sin, np.sin, (-4, 4)),
    "cos": (ag.cos, np.cos, (-4, 4)),
    "tanh": (ag.tanh, np.tanh, (-4, 4)),
    "sigmoid": (ag.sigmoid, lambda x: 1 / (1 + np.exp(-x)), (-6, 6)),
    "relu": (ag.relu, lambda x: np.maximum(x, 0), (-2, 2)),
    "gelu": (ag.gelu, _gelu_exact, (-4, 4)),
    "gelu_tanh": (lambda x: ag.gelu(x, approximate="tanh"), _gelu_tanh, (-4, 4)),
    "abs": (ag.abs, np.abs, (-2, 2)),
    "sign": (ag.sign, np.sign, (-2, 2)),
    "reciprocal": (ag.reciprocal, lambda x: 1 / x, (0.2, 3)),
    "neg": (ag.neg, np.negative, (-2, 2)),
    "square": (ag.square, np.square, (-2, 2)),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_forward_matches_numpy(name, dtype, no_warnings):
    fn, ref, (low, high) = UNARY[name]
    x = arr(3, 5, low=low, high=high, dtype=dtype)
    expected = ref(x.astype(np.float64)).astype(dtype)
    check(fn(ag.tensor(x)), expected, rtol=2e-6 if dtype == np.float32 else 1e-12, atol=1e-7)


def test_unary_methods_match_functions():
    x = ag.tensor(arr(4, low=0.2, high=2))
    for name in ["exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid", "relu",
                 "abs", "sign", "reciprocal", "neg", "square"]:
        np.testing.assert_array_equal(getattr(x, name)().numpy(), getattr(ag, name)(x).numpy(), err_msg=name)


BINARY = {
    "add": (ag.add, np.add), "sub": (ag.sub, np.subtract), "mul": (ag.mul, np.multiply),
    "div": (ag.div, np.divide), "maximum": (ag.maximum, np.maximum), "minimum": (ag.minimum, np.minimum),
    "pow": (ag.pow, np.power),
}
SHAPE_PAIRS = [((3, 4), (3, 4)), ((3, 1), (1, 4)), ((), (2, 3)), ((4,), (2, 3, 4)), ((2, 1, 3), (4, 1))]


@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=str)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_forward_matches_numpy_with_broadcasting(name, shapes, no_warnings):
    fn, ref = BINARY[name]
    a, b = arr(*shapes[0], low=0.2, high=2), arr(*shapes[1], low=0.2, high=2)
    check(fn(ag.tensor(a), ag.tensor(b)), ref(a, b))
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    check(fn(ag.tensor(a32), ag.tensor(b32)), ref(a32, b32), rtol=1e-6)


def test_operators_match_numpy():
    a, b = arr(3, 4, low=0.5, high=2), arr(4, low=0.5, high=2)
    ta, tb = ag.tensor(a), ag.tensor(b)
    check(ta + tb, a + b)
    check(ta - tb, a - b)
    check(ta * tb, a * b)
    check(ta / tb, a / b)
    check(ta ** tb, a ** b)
    check(ta ** 2, a ** 2)
    check(2.0 ** tb, 2.0 ** b)
    check(3.0 - ta, 3.0 - a)
    check(3.0 / ta, 3.0 / a)
    check(-ta, -a)
    check(abs(ag.tensor(-a)), a)
    check(ta @ tb, a @ b)
    check(ta // tb, a // b)


def test_where_and_clamp_match_numpy():
    a, b = arr(3, 4), arr(4)
    cond = a > 0
    check(ag.where(ag.tensor(cond), ag.tensor(a), ag.tensor(b)), np.where(cond, a, b))
    check(ag.where(ag.tensor(cond), ag.tensor(a), 0.0), np.where(cond, a, 0.0))
    check(ag.tensor(a).clamp(-0.3, 0.4), np.clip(a, -0.3, 0.4))
    check(ag.tensor(a).clamp(min=0.1), np.maximum(a, 0.1))
    check(ag.clip(ag.tensor(a), max=0.1), np.minimum(a, 0.1))
    lo, hi = arr(4, low=-1, high=-0.2), arr(3, 1, low=0.2, high=1)
    check(ag.clamp(ag.tensor(a), ag.tensor(lo), ag.tensor(hi)), np.minimum(np.maximum(a, lo), hi))
    with pytest.raises(TypeError):
        ag.where(ag.tensor(a), ag.tensor(a), ag.tensor(b))  # condition must be bool
    with pytest.raises(RuntimeError):
        ag.tensor(a).clamp()


@pytest.mark.parametrize("op", ["eq", "ne", "lt", "le", "gt", "ge"])
def test_comparisons_return_bool_tensors(op):
    a = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    b = np.array([2.0, 2.0, 2.0])
    ops = {"eq": "__eq__", "ne": "__ne__", "lt": "__lt__", "le": "__le__", "gt": "__gt__", "ge": "__ge__"}
    expected = getattr(a, ops[op])(b)
    ta = ag.tensor(a, requires_grad=True)
    for out in (getattr(ta, ops[op])(ag.tensor(b)), getattr(ag, op)(ta, ag.tensor(b)), getattr(ta, op)(b)):
        check(out, expected)
        assert not out.requires_grad
    check(getattr(ag.tensor([1, 2, 3]), ops[op])(2), getattr(np.array([1, 2, 3]), ops[op])(2))


# ---------------------------------------------------------------------------- reductions
DIMS = [None, 0, -1, (0, 2), (-1, 1)]


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", DIMS, ids=str)
def test_reductions_match_numpy(dim, keepdim, no_warnings):
    x = arr(2, 3, 4, low=-2, high=2)
    t = ag.tensor(x)
    check(t.sum(dim, keepdim=keepdim), x.sum(axis=dim, keepdims=keepdim))
    check(ag.sum(t, axis=dim, keepdims=keepdim), x.sum(axis=dim, keepdims=keepdim))
    check(t.mean(dim, keepdim=keepdim), x.mean(axis=dim, keepdims=keepdim))
    check(ag.mean(t, axis=dim, keepdims=keepdim), x.mean(axis=dim, keepdims=keepdim))
    check(t.prod(dim, keepdim=keepdim), x.prod(axis=dim, keepdims=keepdim))
    amax_dim = () if dim is None else dim
    check(t.amax(amax_dim, keepdim=keepdim), x.max(axis=dim, keepdims=keepdim))
    check(ag.amin(t, axis=dim, keepdims=keepdim), x.min(axis=dim, keepdims=keepdim))
    for correction in (0, 1, 2):  # correction 2 over a dim of 2 divides by 0: inf, as numpy and torch
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numpy warns about the degrees of freedom; we must not
            var_ref = x.var(axis=dim, ddof=correction, keepdims=keepdim)
            std_ref = x.std(axis=dim, ddof=correction, keepdims=keepdim)
        check(t.var(dim, keepdim=keepdim, correction=correction), var_ref)
        check(t.std(dim, keepdim=keepdim, correction=correction), std_ref)
    check(t.var(dim, unbiased=False, keepdim=keepdim), x.var(axis=dim, keepdims=keepdim))
    check(t.var(dim, keepdim=keepdim), x.var(axis=dim, ddof=1, keepdims=keepdim))  # unbiased by default
    check(ag.var(t, axis=dim, keepdims=keepdim), x.var(axis=dim, ddof=1, keepdims=keepdim))
    check(t.logsumexp(dim, keepdim=keepdim), np.log(np.exp(x).sum(axis=dim, keepdims=keepdim)))
    check(ag.logsumexp(t, axis=dim, keepdims=keepdim), np.log(np.exp(x).sum(axis=dim, keepdims=keepdim)))
    for p, ref in [(2, lambda v: np.sqrt((v * v).sum(axis=dim, keepdims=keepdim))),
                   (1, lambda v: np.abs(v).sum(axis=dim, keepdims=keepdim)),
                   (3, lambda v: (np.abs(v) ** 3).sum(axis=dim, keepdims=keepdim) ** (1 / 3)),
                   (float("inf"), lambda v: np.abs(v).max(axis=dim, keepdims=keepdim)),
                   (float("-inf"), lambda v: np.abs(v).min(axis=dim, keepdims=keepdim)),
                   (0, lambda v: (v != 0).sum(axis=dim, keepdims=keepdim).astype(np.float64))]:
        check(t.norm(p, dim, keepdim=keepdim), ref(x))


def test_reductions_float32_keep_float32():
    x = arr(3, 4, dtype=np.float32)
    t = ag.tensor(x)
    for name in ["sum", "mean", "prod", "amax", "amin", "var", "std", "logsumexp", "norm"]:
        assert getattr(t, name)().dtype == ag.float32, name
    check(t.sum(1), x.sum(1), rtol=1e-5, atol=1e-6)


def test_reduction_by_negative_and_tuple_dims_matches_torch_semantics():
    x = arr(2, 3, 4)
    t = ag.tensor(x)
    np.testing.assert_allclose(t.sum((-1, 0)).numpy(), x.sum(axis=(0, 2)))
    with pytest.raises(RuntimeError, match="multiple"):
        t.sum((1, -2))


def test_max_min_without_dim_return_the_value():
    x = arr(3, 4)
    for fn, ref in [(ag.max, np.max), (ag.min, np.min)]:
        out = fn(ag.tensor(x))
        assert isinstance(out, ag.Tensor)
        check(out, ref(x))
    check(ag.tensor(x).max(), x.max())


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_max_min_with_dim_return_named_tuple(dim, keepdim):
    x = np.array([[3.0, 1.0, 4.0, 1.5], [5.0, 9.0, 2.0, 6.0], [-5.0, 3.0, 5.0, 0.0]])
    t = ag.tensor(x)
    for fn, ref, arg in [(t.max, np.max, np.argmax), (t.min, np.min, np.argmin),
                         (lambda *a, **k: ag.max(t, *a, **k), np.max, np.argmax)]:
        out = fn(dim, keepdim=keepdim)
        assert isinstance(out, tuple) and out._fields == ("values", "indices")
        values, indices = out
        assert values is out.values and indices is out.indices
        check(values, ref(x, axis=dim, keepdims=keepdim))
        check(indices, arg(x, axis=dim, keepdims=keepdim))
        assert indices.dtype == ag.int64
    check(t.max(axis=1, keepdims=True).values, x.max(axis=1, keepdims=True))


def test_max_with_tensor_second_argument_is_elementwise():
    a, b = arr(3), arr(3)
    check(ag.max(ag.tensor(a), ag.tensor(b)), np.maximum(a, b))
    check(ag.min(ag.tensor(a), ag.tensor(b)), np.minimum(a, b))


@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_argmax_argmin_match_numpy(dim, keepdim):
    x = arr(3, 5)
    t = ag.tensor(x, requires_grad=True)
    for fn, ref in [(ag.argmax, np.argmax), (ag.argmin, np.argmin)]:
        out = fn(t, dim, keepdim=keepdim)
        assert not out.requires_grad
        check(out, ref(x, axis=dim, keepdims=keepdim))
    check(t.argmax(axis=1), x.argmax(axis=1))


def test_gather_and_scatter_add_match_numpy():
    x = arr(3, 4)
    idx = np.array([[0, 3, 3], [1, 0, 2], [2, 2, 2]])
    check(ag.tensor(x).gather(1, ag.tensor(idx)), np.take_along_axis(x, idx, axis=1))
    src = arr(3, 3)
    expected = x.copy()
    np.add.at(expected, (np.arange(3)[:, None], idx), src)
    check(ag.tensor(x).scatter_add(1, ag.tensor(idx), ag.tensor(src)), expected)


# ---------------------------------------------------------------------------- shape ops vs numpy
def test_shape_ops_match_numpy():
    x = arr(2, 3, 4)
    t = ag.tensor(x)
    check(t.reshape(4, -1), x.reshape(4, -1))
    check(t.reshape((6, 4)), x.reshape(6, 4))
    check(t.view(-1), x.reshape(-1))
    check(t.flatten(), x.reshape(-1))
    check(t.flatten(1), x.reshape(2, 12))
    check(ag.flatten(t, 0, 1), x.reshape(6, 4))
    check(t.transpose(0, 2), x.transpose(2, 1, 0))
    check(t.permute(1, 2, 0), x.transpose(1, 2, 0))
    check(t.T, x.T)
    check(t.mT, np.swapaxes(x, -1, -2))
    check(ag.tensor(x[0]).t(), x[0].T)
    check(ag.tensor(x[:, :1]).squeeze(), x[:, 0])
    check(ag.tensor(x[:, :1]).squeeze(1), x[:, 0])
    check(ag.tensor(x[:, :1]).squeeze(0), x[:, :1])  # not of length 1: unchanged
    check(t.unsqueeze(1), x[:, None])
    check(t.unsqueeze(-1), x[..., None])
    check(ag.tensor(x[:, :1]).expand(2, 5, 4), np.broadcast_to(x[:, :1], (2, 5, 4)))
    check(ag.tensor(x[:, :1]).expand(3, -1, -1, 4), np.broadcast_to(x[:, :1], (3, 2, 1, 4)))
    check(t.broadcast_to((5, 2, 3, 4)), np.broadcast_to(x, (5, 2, 3, 4)))


def test_cat_stack_match_numpy():
    a, b, c = arr(2, 3), arr(1, 3), arr(2, 2)
    check(ag.cat([ag.tensor(a), ag.tensor(b)]), np.concatenate([a, b]))
    check(ag.cat([ag.tensor(a), ag.tensor(c)], dim=-1), np.concatenate([a, c], axis=1))
    check(ag.concatenate([ag.tensor(a), ag.tensor(c)], axis=1), np.concatenate([a, c], axis=1))
    check(ag.stack([ag.tensor(a), ag.tensor(a * 2)]), np.stack([a, a * 2]))
    check(ag.stack([ag.tensor(a), ag.tensor(a * 2)], dim=-1), np.stack([a, a * 2], axis=-1))
    check(ag.cat([ag.tensor(np.ones((1, 2), np.float32)), ag.tensor(np.ones((1, 2)))]), np.ones((2, 2)))


@pytest.mark.parametrize("n,chunks,sizes", [(5, 3, [2, 2, 1]), (6, 4, [2, 2, 2]), (6, 3, [2, 2, 2]),
                                            (10, 4, [3, 3, 3, 1]), (3, 5, [1, 1, 1]), (7, 1, [7]),
                                            (4, 4, [1, 1, 1, 1])])
def test_chunk_sizes_as_pytorch(n, chunks, sizes):
    x = np.arange(n * 2.0).reshape(2, n)
    pieces = ag.tensor(x).chunk(chunks, dim=1)
    assert isinstance(pieces, tuple)
    assert [p.shape[1] for p in pieces] == sizes
    check(ag.cat(list(pieces), dim=1), x)
    pieces0 = ag.chunk(ag.tensor(x.T), chunks)
    assert [p.shape[0] for p in pieces0] == sizes


def test_split_sizes_and_sections():
    x = np.arange(14.0).reshape(7, 2)
    pieces = ag.tensor(x).split(3)
    assert [p.shape[0] for p in pieces] == [3, 3, 1]
    pieces = ag.split(ag.tensor(x), [1, 4, 2])
    assert [p.shape[0] for p in pieces] == [1, 4, 2]
    for p, ref in zip(pieces, np.split(x, [1, 5])):
        check(p, ref)
    pieces = ag.tensor(x.T).split([2, 5], dim=-1)
    check(pieces[1], x.T[:, 2:])
    with pytest.raises(RuntimeError):
        ag.split(ag.tensor(x), [1, 2])


@pytest.mark.parametrize("pad,np_width", [((1, 2), [(0, 0), (0, 0), (1, 2)]),
                                          ((1, 2, 3, 0), [(0, 0), (3, 0), (1, 2)]),
                                          ((0, 1, 1, 1, 2, 0), [(2, 0), (1, 1), (0, 1)])])
def test_pad_constant_argument_order_as_torch(pad, np_width):
    x = arr(2, 3, 4)
    check(F.pad(ag.tensor(x), pad), np.pad(x, np_width))
    check(F.pad(ag.tensor(x), pad, value=2.5), np.pad(x, np_width, constant_values=2.5))


@pytest.mark.parametrize("mode,np_mode", [("reflect", "reflect"), ("replicate", "edge"), ("circular", "wrap")])
@pytest.mark.parametrize("pad,np_width", [((1, 2), [(0, 0), (0, 0), (1, 2)]),
                                          ((2, 1, 1, 2), [(0, 0), (1, 2), (2, 1)])])
def test_pad_modes_match_numpy(mode, np_mode, pad, np_width):
    x = arr(2, 3, 4)
    check(F.pad(ag.tensor(x), pad, mode=mode), np.pad(x, np_width, mode=np_mode))


def test_pad_negative_crops():
    x = arr(3, 5)
    check(F.pad(ag.tensor(x), (-1, -2)), x[:, 1:3])
    check(F.pad(ag.tensor(x), (-1, 2, 1, -1)), np.pad(x[:2, 1:], [(1, 0), (0, 2)]))


@pytest.mark.parametrize("reps", [(2, 3), (1, 1), (3, 1, 2), (2, 2, 1, 1)], ids=str)
def test_repeat_matches_np_tile(reps):
    x = arr(2, 3)
    check(ag.tensor(x).repeat(*reps), np.tile(x, reps))
    check(ag.repeat(ag.tensor(x), reps), np.tile(x, reps))
    with pytest.raises(RuntimeError):
        ag.tensor(x).repeat(2)


KEYS = [1, -1, (1, 2), (slice(1, None), slice(None, None, 2)), (slice(None, None, -1),),
        (slice(None), slice(3, 0, -2)), (None, Ellipsis, 1), (Ellipsis, None), (Ellipsis, 2),
        np.array([0, 2, 0]), ([2, 2], [0, 3]), (slice(1, None), np.array([3, 3, 0])),
        np.array([[0, 1], [2, 2]]), np.array([True, False, True]),
        np.array([[True, False, False, True], [False] * 4, [True] * 4]), (0, np.array([False, True, True, False]))]


@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_indexing_matches_numpy(key):
    x = arr(3, 4)
    check(ag.tensor(x)[key], x[key])


def test_indexing_with_tensors_matches_numpy():
    x = arr(3, 4)
    t = ag.tensor(x)
    check(t[ag.tensor([2, 0, 2])], x[[2, 0, 2]])
    check(t[ag.tensor(x > 0)], x[x > 0])
    check(t[:, ag.tensor([1, 1])], x[:, [1, 1]])
    check(t[ag.tensor(1)], x[1])
    with pytest.raises(IndexError):
        t[ag.tensor([0.5])]
    with pytest.raises(IndexError):
        t[5]


def test_basic_indexing_is_a_view_and_advanced_a_copy():
    t = ag.tensor(np.zeros((3, 4)))
    v = t[1]
    t[1, 2] = 7.0
    assert v.numpy()[2] == 7.0
    c = t[[1]]
    t[1, 3] = 5.0
    assert c.numpy()[0, 3] == 0.0


def test_index_put_and_setitem_match_numpy():
    x = arr(3, 4)
    for key, value in [((1,), arr(4)), ((slice(0, 2), 1), arr(2)), ((np.array([0, 2]), np.array([3, 1])), arr(2)),
                       ((x > 0,), 0.5)]:
        expected = x.copy()
        expected[key] = value
        check(ag.index_put(ag.tensor(x), key, ag.tensor(value) if isinstance(value, np.ndarray) else value),
              expected)
        t = ag.tensor(x)
        t[key if len(key) > 1 else key[0]] = ag.tensor(value) if isinstance(value, np.ndarray) else value
        check(t, expected)
    original = ag.tensor(x)
    ag.index_put(original, (0,), 9.0)
    check(original, x)  # out of place


# ---------------------------------------------------------------------------- linear algebra
@pytest.mark.parametrize("sa,sb", [((4,), (4,)), ((3,), (3, 4)), ((3, 4), (4,)), ((3, 4), (4, 2)),
                                   ((2, 3, 4), (2, 4, 2)), ((2, 1, 3, 4), (5, 4, 2)), ((2, 3, 4), (4,)),
                                   ((4,), (2, 4, 3)), ((2, 3, 4), (4, 5))], ids=str)
def test_matmul_matches_numpy(sa, sb):
    a, b = arr(*sa), arr(*sb)
    check(ag.matmul(ag.tensor(a), ag.tensor(b)), np.matmul(a, b))
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    check(ag.tensor(a32) @ ag.tensor(b32), np.matmul(a32, b32), rtol=1e-5, atol=1e-6)


def test_matmul_of_integer_tensors():
    a, b = np.arange(6).reshape(2, 3), np.arange(3)
    check(ag.tensor(a) @ ag.tensor(b), a @ b)


def test_dot_outer_mm_solve_inv_match_numpy():
    a, b = arr(5), arr(5)
    check(ag.dot(ag.tensor(a), ag.tensor(b)), np.dot(a, b))
    check(ag.outer(ag.tensor(a), ag.tensor(b[:3])), np.outer(a, b[:3]))
    m, n = arr(3, 4), arr(4, 2)
    check(ag.mm(ag.tensor(m), ag.tensor(n)), m @ n)
    A = arr(2, 3, 3) + 3 * np.eye(3)
    B = arr(2, 3, 2)
    check(ag.linalg.solve(ag.tensor(A[0]), ag.tensor(B[0, :, 0])), np.linalg.solve(A[0], B[0, :, 0]), rtol=1e-10)
    check(ag.linalg.solve(ag.tensor(A[0]), ag.tensor(B[0])), np.linalg.solve(A[0], B[0]), rtol=1e-10)
    check(ag.linalg.solve(ag.tensor(A), ag.tensor(B)), np.linalg.solve(A, B), rtol=1e-10)
    check(ag.linalg.inv(ag.tensor(A)), np.linalg.inv(A), rtol=1e-10)
    with pytest.raises(RuntimeError, match="singular"):
        ag.linalg.inv(ag.tensor(np.ones((2, 2))))
    with pytest.raises(RuntimeError):
        ag.dot(ag.tensor(a), ag.tensor(b[:3]))
    with pytest.raises(RuntimeError):
        ag.mm(ag.tensor(a), ag.tensor(n))


def test_clone_and_to():
    x = arr(2, 3)
    t = ag.tensor(x)
    c = t.clone()
    check(c, x)
    c.add_(1.0)
    check(t, x)
    check(t.to(ag.float32), x.astype(np.float32))
    check(t.float().double(), x.astype(np.float32).astype(np.float64))
    check(t.long(), x.astype(np.int64))
    check(t.to(ag.bool), x.astype(bool))
    assert t.to(ag.float64) is t


# ---------------------------------------------------------------------------- stability at extremes
BIG = [1e4, -1e4, 0.0, 3.0, -1e4]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_stable_ops_at_extremes_emit_no_warning(dtype, no_warnings):
    x = np.array(BIG, dtype=dtype)
    t = ag.tensor(x, requires_grad=True)
    sm = ag.softmax(t, 0)
    lsm = ag.log_softmax(t, 0)
    lse = ag.logsumexp(t, 0)
    sig = ag.sigmoid(t)
    th = ag.tanh(t)
    for out in (sm, lsm, lse, sig, th):
        assert out.dtype == dtype
        assert np.isfinite(out.detach().numpy()).all()
    shifted = x.astype(np.float64) - 1e4
    ref_lsm = shifted - np.log(np.exp(shifted).sum())
    np.testing.assert_allclose(lsm.detach().numpy(), ref_lsm, rtol=1e-6)
    np.testing.assert_allclose(sm.detach().numpy(), np.exp(ref_lsm), rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(lse.detach().numpy(), 1e4 + np.log(np.exp(shifted).sum()), rtol=1e-7)
    np.testing.assert_allclose(sig.detach().numpy(), [1.0, 0.0, 0.5, 1 / (1 + math.exp(-3)), 0.0], rtol=1e-6)
    np.testing.assert_allclose(th.detach().numpy(), [1.0, -1.0, 0.0, math.tanh(3.0), -1.0], rtol=1e-6)
    total = (sm * ag.tensor(np.arange(5.0, dtype=dtype))).sum() + lsm[2] + lse + sig.sum() + th.sum()
    total.backward()
    assert np.isfinite(t.grad.numpy()).all()


def test_log_softmax_of_large_gap_is_finite_not_minus_inf(no_warnings):
    out = ag.log_softmax(ag.tensor(np.array([[1e4, 0.0], [0.0, -1e4]])), dim=1)
    np.testing.assert_allclose(out.numpy(), [[0.0, -1e4], [-np.log1p(np.exp(-1e4)), -1e4]], rtol=1e-12)


def test_logsumexp_of_minus_inf_rows(no_warnings):
    x = np.array([[-np.inf, -np.inf, -np.inf], [0.0, -np.inf, 0.0], [1e4, 1e4, -np.inf]])
    out = ag.logsumexp(ag.tensor(x), 1)
    np.testing.assert_allclose(out.numpy(), [-np.inf, np.log(2.0), 1e4 + np.log(2.0)])
    assert out.numpy()[0] == -np.inf
    sm = ag.softmax(ag.tensor(x[1:]), 1)
    np.testing.assert_allclose(sm.numpy(), [[0.5, 0.0, 0.5], [0.5, 0.5, 0.0]])


def test_exp_overflow_is_silent_inf_like_torch(no_warnings):
    out = ag.exp(ag.tensor(np.array([1000.0])))
    assert out.numpy()[0] == np.inf
    assert np.isnan(ag.log(ag.tensor(np.array([-1.0]))).numpy()[0])
    assert ag.log(ag.tensor(np.array([0.0]))).numpy()[0] == -np.inf


# ---------------------------------------------------------------------------- errors
def test_matmul_shape_mismatch_names_both_shapes():
    with pytest.raises(RuntimeError) as info:
        ag.tensor(arr(2, 3)) @ ag.tensor(arr(4, 5))
    assert "(2, 3)" in str(info.value) and "(4, 5)" in str(info.value)
    with pytest.raises(RuntimeError) as info:
        ag.matmul(ag.tensor(arr(2, 2, 3)), ag.tensor(arr(3, 3, 1)))
    assert "(2, 2, 3)" in str(info.value) and "(3, 3, 1)" in str(info.value)


def test_cat_and_stack_mismatch_raise():
    with pytest.raises(RuntimeError) as info:
        ag.cat([ag.tensor(arr(2, 3)), ag.tensor(arr(2, 4))])
    assert "(2, 3)" in str(info.value) and "(2, 4)" in str(info.value)
    with pytest.raises(RuntimeError):
        ag.stack([ag.tensor(arr(2, 3)), ag.tensor(arr(3, 2))])
    with pytest.raises(RuntimeError):
        ag.cat([])


@pytest.mark.parametrize("op,call", [
    ("sum", lambda t: t.sum(3)), ("mean", lambda t: t.mean(-4)), ("softmax", lambda t: ag.softmax(t, 5)),
    ("log_softmax", lambda t: t.log_softmax(3)), ("transpose", lambda t: t.transpose(0, 3)),
    ("cat", lambda t: ag.cat([t, t], dim=3)), ("amax", lambda t: t.amax(7)), ("max", lambda t: t.max(3)),
    ("argmax", lambda t: t.argmax(3)), ("var", lambda t: t.var(3)), ("logsumexp", lambda t: t.logsumexp(-5)),
    ("unsqueeze", lambda t: t.unsqueeze(5)), ("split", lambda t: t.split(1, dim=3)),
    ("prod", lambda t: t.prod(3)), ("norm", lambda t: t.norm(dim=3)), ("gather", lambda t: t.gather(
        3, ag.tensor(np.zeros((2, 3, 4), np.int64))))], ids=lambda v: v if isinstance(v, str) else "")
def test_bad_dim_raises_index_error_naming_the_op(op, call):
    t = ag.tensor(arr(2, 3, 4))
    with pytest.raises(IndexError) as info:
        call(t)
    assert op in str(info.value)


def test_requires_grad_on_int_or_bool_tensor_raises():
    with pytest.raises(RuntimeError, match="floating"):
        ag.tensor([1, 2, 3], requires_grad=True)
    with pytest.raises(RuntimeError):
        ag.tensor([True, False]).requires_grad_()
    with pytest.raises(RuntimeError):
        ag.Tensor(np.arange(3), requires_grad=True)


def test_backward_on_non_scalar_without_gradient_raises():
    x = ag.tensor(arr(3), requires_grad=True)
    y = x * 2.0
    with pytest.raises(RuntimeError, match="scalar"):
        y.backward()
    y.backward(ag.tensor(np.ones(3)))
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 2.0])


def test_view_on_non_contiguous_raises_mentioning_reshape():
    t = ag.tensor(arr(3, 4)).T
    with pytest.raises(RuntimeError, match="reshape"):
        t.view(12)
    check(t.reshape(12), t.numpy().reshape(12))
    check(t.contiguous().view(12), t.numpy().reshape(12))


def test_other_clear_errors():
    t = ag.tensor(arr(2, 3))
    with pytest.raises(RuntimeError, match="invalid"):
        t.reshape(4, 2)
    with pytest.raises(RuntimeError):
        t.expand(4, 3)
    with pytest.raises(RuntimeError):
        t.permute(0, 0)
    with pytest.raises(RuntimeError):
        F.pad(t, (3, 3), mode="reflect")
    # numpy's ValueError today (PyTorch raises RuntimeError); either way the message names both shapes
    with pytest.raises((RuntimeError, ValueError), match=r"\(2,\s?3\).*\(3,\s?2\)"):
        t + ag.tensor(arr(3, 2))


# ---------------------------------------------------------------------------- against PyTorch
def _torch():
    return pytest.importorskip("torch")


class _Lib:
    """The few functions that are spelled differently; everything else is a shared method name."""

    def __init__(self, name):
        self.name = name
        if name == "torch":
            torch = _torch()
            self.t = lambda a: torch.from_numpy(np.ascontiguousarray(a))
            self.gelu = torch.nn.functional.gelu
            self.pad = torch.nn.functional.pad
            self.solve, self.inv = torch.linalg.solve, torch.linalg.inv
            self.maximum, self.where, self.cat, self.stack = torch.maximum, torch.where, torch.cat, torch.stack
        else:
            self.t = lambda a: ag.tensor(a)
            self.gelu, self.pad = ag.gelu, F.pad
            self.solve, self.inv = ag.linalg.solve, ag.linalg.inv
            self.maximum, self.where, self.cat, self.stack = ag.maximum, ag.where, ag.cat, ag.stack


COND_T = np.array([[True, False, True, True], [False, True, False, True], [True, True, False, False]])
TORCH_CASES = {
    # name: (fn(lib, *xs), input shapes, input kind)
    "add_bcast": (lambda L, a, b: a + b * 2.0 - 1.0, [(3, 1), (1, 4)], "any"),
    "mul_div": (lambda L, a, b: a * b / (b * b + 1.0), [(3, 4), (4,)], "any"),
    "pow": (lambda L, a, b: a ** b + a ** 3 + 2.0 ** b, [(3, 4), (3, 4)], "pos"),
    "exp_log": (lambda L, a: a.exp() + a.log() + a.log1p() + a.expm1() + a.sqrt() + a.rsqrt(), [(3, 4)], "pos"),
    "trig": (lambda L, a: a.sin() * a.cos() + a.tanh() + a.sigmoid() + a.reciprocal(), [(3, 4)], "pos"),
    "relu_abs": (lambda L, a: a.relu() + a.abs() * 2.0 + a.clamp(-0.4, 0.6), [(3, 4)], "any"),
    "gelu": (lambda L, a: L.gelu(a) + L.gelu(a * 2.0, approximate="tanh"), [(3, 4)], "any"),
    "maximum_where": (lambda L, a, b: L.maximum(a, b) + L.where(L.t(COND_T), a, b), [(3, 4), (3, 4)], "any"),
    "softmax": (lambda L, a: a.softmax(-1) * a + a.log_softmax(0), [(3, 4)], "any"),
    "logsumexp": (lambda L, a: a.logsumexp(1, keepdim=True) * a + a.logsumexp((0, 1)), [(3, 4)], "any"),
    "reductions": (lambda L, a: a.sum(0) + a.mean(1).sum() + a.amax(1).sum() + a.prod(0) + a.max(1).values.sum(),
                   [(3, 4)], "any"),
    "var_std": (lambda L, a: a.var(1, correction=0) + a.std(1) + a.var(1, correction=2), [(3, 4)], "any"),
    "norm": (lambda L, a: a.norm(dim=1) + a.norm(3, dim=1) + a.norm(1, dim=1) + a.norm(float("inf"), dim=1),
             [(3, 4)], "any"),
    "matmul": (lambda L, a, b, c: (a @ b) @ c, [(2, 1, 3, 4), (5, 4, 2), (2,)], "any"),
    "solve_inv": (lambda L, a, b: L.solve(a, b) + L.inv(a) @ b, [(2, 3, 3), (2, 3, 2)], "matrix"),
    "shape": (lambda L, a: a.reshape(4, 3).T.unsqueeze(0).expand(2, 3, 4).permute(2, 0, 1).flatten(1)
              .repeat(1, 2).transpose(0, 1), [(3, 4)], "any"),
    "cat_stack_split": (lambda L, a, b: L.stack([L.cat([a, b], 1).split([2, 3], 1)[1], b.chunk(3, 1)[0].repeat(1, 3)]),
                        [(2, 2), (2, 3)], "any"),
    "index": (lambda L, a: a[L.t(np.array([0, 2, 0]))][:, 1:] * a[:, None, 1] + a[L.t(COND_T)].sum(), [(3, 4)],
              "any"),
    "pad": (lambda L, a: L.cat([L.pad(a, (1, 2, 1, 0), mode="reflect").flatten(),
                                L.pad(a, (2, 1), mode="replicate").flatten(),
                                L.pad(a, (1, 1, 0, 1), mode="circular").flatten(), L.pad(a, (-1, 1, 2, -1)).flatten()]),
            [(1, 3, 4)], "any"),
    "gather": (lambda L, a: a.gather(1, L.t(np.array([[0, 0, 3], [1, 2, 2], [3, 3, 3]]))), [(3, 4)], "any"),
}


def _torch_inputs(shapes, kind, rng, dtype):
    out = []
    for s in shapes:
        if kind == "pos":
            v = rng.uniform(0.5, 1.5, size=s)
        elif kind == "matrix":
            v = rng.uniform(-0.5, 0.5, size=s) + (3 * np.eye(s[-1]) if len(s) >= 2 and s[-1] == s[-2] else 0)
        else:
            v = rng.uniform(-1, 1, size=s)
        out.append(v.astype(dtype))
    return out


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", sorted(TORCH_CASES))
def test_forward_and_gradients_match_torch(name, dtype):
    torch = _torch()
    fn, shapes, kind = TORCH_CASES[name]
    values = _torch_inputs(shapes, kind, np.random.default_rng(7), dtype)
    ours = [ag.tensor(v, requires_grad=True) for v in values]
    theirs = [torch.tensor(v, requires_grad=True) for v in values]
    out_ours = fn(_Lib("autograd"), *ours)
    out_theirs = fn(_Lib("torch"), *theirs)
    assert out_ours.dtype == dtype
    assert tuple(out_ours.shape) == tuple(out_theirs.shape)
    rtol, atol = (1e-10, 1e-12) if dtype == np.float64 else (1e-5, 1e-5)
    np.testing.assert_allclose(out_ours.detach().numpy(), out_theirs.detach().numpy(), rtol=rtol, atol=atol)
    w = np.random.default_rng(1).uniform(0.5, 1.5, size=out_theirs.shape).astype(dtype)
    g_ours = ag.grad(out_ours, ours, grad_outputs=ag.tensor(w))
    g_theirs = torch.autograd.grad(out_theirs, theirs, grad_outputs=torch.tensor(w))
    for a, b in zip(g_ours, g_theirs):
        assert a.dtype == dtype and a.shape == tuple(b.shape)
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", ["softmax", "logsumexp", "var_std", "norm", "matmul", "solve_inv", "gelu", "pow"])
def test_second_order_matches_torch(name):
    torch = _torch()
    fn, shapes, kind = TORCH_CASES[name]
    values = _torch_inputs(shapes, kind, np.random.default_rng(3), np.float64)
    ours = [ag.tensor(v, requires_grad=True) for v in values]
    theirs = [torch.tensor(v, requires_grad=True) for v in values]
    out_o, out_t = fn(_Lib("autograd"), *ours), fn(_Lib("torch"), *theirs)
    w = np.random.default_rng(1).uniform(0.5, 1.5, size=out_t.shape)
    g_o = ag.grad((out_o * ag.tensor(w)).sum(), ours, create_graph=True)
    g_t = torch.autograd.grad((out_t * torch.tensor(w)).sum(), theirs, create_graph=True)
    s_o = sum(((g * g).sum() for g in g_o), ag.tensor(np.array(0.0)))
    s_t = sum((g * g).sum() for g in g_t)
    h_o = ag.grad(s_o, ours, allow_unused=True)
    h_t = torch.autograd.grad(s_t, theirs, allow_unused=True)
    for a, b in zip(h_o, h_t):
        a = np.zeros(b.shape) if a is None else a.numpy()
        b = np.zeros(a.shape) if b is None else b.numpy()
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_stable_ops_at_extremes_match_torch(dtype, no_warnings):
    torch = _torch()
    x = np.array([[1e4, -1e4, 0.0, 3.0], [-1e4, -1e4, 2.0, 1e4]], dtype=dtype)
    ours, theirs = ag.tensor(x), torch.tensor(x)
    tol = dict(rtol=1e-6, atol=0) if dtype == np.float32 else dict(rtol=1e-12, atol=0)
    for f in [lambda t: t.softmax(1), lambda t: t.log_softmax(1), lambda t: t.logsumexp(1),
              lambda t: t.sigmoid(), lambda t: t.tanh(), lambda t: t.softmax(0)]:
        np.testing.assert_allclose(f(ours).numpy(), f(theirs).numpy(), **tol)


def test_chunk_split_pad_repeat_agree_with_torch():
    torch = _torch()
    for n in range(1, 9):
        for chunks in range(1, 6):
            x = np.arange(float(n))
            ours = [p.shape for p in ag.tensor(x).chunk(chunks)]
            theirs = [tuple(p.shape) for p in torch.tensor(x).chunk(chunks)]
            assert ours == theirs, (n, chunks)
    x = np.arange(24.0).reshape(2, 3, 4)
    for pad in [(1, 2), (1, 0, 2, 1), (0, 1, 1, 0, 1, 1), (-1, 2, 1, -1)]:
        np.testing.assert_array_equal(F.pad(ag.tensor(x), pad, value=-1.0).numpy(),
                                      torch.nn.functional.pad(torch.tensor(x), pad, value=-1.0).numpy())
    for mode in ["reflect", "replicate", "circular"]:
        np.testing.assert_array_equal(F.pad(ag.tensor(x), (2, 1, 1, 2), mode=mode).numpy(),
                                      torch.nn.functional.pad(torch.tensor(x), (2, 1, 1, 2), mode=mode).numpy())
    np.testing.assert_array_equal(ag.tensor(x).repeat(2, 1, 1, 3).numpy(), torch.tensor(x).repeat(2, 1, 1, 3).numpy())


def test_std_backward_at_constant_input_is_zero_without_warning(no_warnings):
    x = ag.tensor(np.ones(3), requires_grad=True)
    x.std().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 0.0)  # torch's value (issue 22), not inf·0 = NaN
