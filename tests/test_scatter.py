"""kernels.scatter.index_add_rows, the backward of indexing by one int array (an embedding's weight
gradient): equal to np.add.at bit for bit (same additions in the same order), repeated indices
accumulate, negative and out-of-range indices as numpy, through autograd (IndexAdd, gradcheck of
first and second order) and against torch's embedding gradient."""
import numpy as np
import pytest

import autograd as ag
import nn
from autograd import gradcheck, gradgradcheck
from autograd.kernels import scatter
from autograd.ops.indexing import IndexAdd

DTYPES = [np.float32, np.float64]


def _reference(src, index, shape):
    out = np.zeros(shape, src.dtype)
    np.add.at(out, (index,), src)
    return out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index_shape, shape", [((16, 32), (65, 64)), ((7,), (3, 5)), ((4, 3), (10,)),
                                                ((2, 3), (4, 2, 3)), ((0,), (5, 4)), ((3,), (6, 0))])
def test_index_add_rows_equals_numpy_add_at_bit_for_bit(dtype, index_shape, shape):
    rng = np.random.default_rng(0)
    index = rng.integers(-shape[0], shape[0], index_shape) if shape[0] else np.zeros(index_shape, np.int64)
    src = (rng.standard_normal(index_shape + shape[1:]) * 10).astype(dtype)
    got = scatter.index_add_rows(src, index, shape)
    assert got.dtype == dtype and got.shape == shape
    np.testing.assert_array_equal(got, _reference(src, index, shape))


@pytest.mark.parametrize("dtype", DTYPES)
def test_repeated_indices_accumulate_in_order(dtype):
    # every row goes to index 1: the result is the sequential sum, which rounding makes order-dependent
    src = np.array([[1e8], [1.0], [-1e8], [1.0]], dtype)
    got = scatter.index_add_rows(src, np.array([1, 1, 1, 1]), (3, 1))
    expected = np.zeros(1, dtype)
    for row in src:
        expected = expected + row
    np.testing.assert_array_equal(got, [[0.0], expected, [0.0]])
    assert got[1, 0] == (1.0 if dtype == np.float32 else 2.0)  # float32 loses the first 1 to 1e8


def test_large_values_and_non_contiguous_source():
    rng = np.random.default_rng(1)
    index = rng.integers(0, 5, (6, 4))
    base = (rng.standard_normal((4, 6, 3)) * 1e30).astype(np.float32)
    src = base.transpose(1, 0, 2)  # (6, 4, 3), not C-contiguous
    assert not src.flags.c_contiguous
    got = scatter.index_add_rows(src, index, (5, 3))
    np.testing.assert_array_equal(got, _reference(src, index, (5, 3)))
    assert np.isfinite(got).all()
    inf_src = np.full((2, 2), np.inf, np.float32)
    np.testing.assert_array_equal(scatter.index_add_rows(inf_src, np.array([0, 0]), (2, 2)),
                                  [[np.inf, np.inf], [0, 0]])


@pytest.mark.parametrize("index_dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint32])
def test_integer_index_dtypes(index_dtype):
    index = np.array([3, 0, 3, 1], index_dtype)
    src = np.arange(8, dtype=np.float64).reshape(4, 2)
    np.testing.assert_array_equal(scatter.index_add_rows(src, index, (4, 2)), _reference(src, index, (4, 2)))


def test_out_of_range_and_bad_arguments_raise():
    src = np.ones((3, 2), np.float32)
    with pytest.raises(IndexError, match="index 4 is out of bounds for axis 0 with size 4"):
        scatter.index_add_rows(src, np.array([0, 4, 1]), (4, 2))
    with pytest.raises(IndexError, match="index -5 is out of bounds"):
        scatter.index_add_rows(src, np.array([0, -5, 1]), (4, 2))
    with pytest.raises(TypeError, match="index"):
        scatter.index_add_rows(src, np.array([0.0, 1.0, 2.0]), (4, 2))
    with pytest.raises(TypeError, match="src"):
        scatter.index_add_rows(src.astype(np.int32), np.array([0, 1, 2]), (4, 2))
    with pytest.raises(ValueError, match="shape"):
        scatter.index_add_rows(src, np.array([0, 1]), (4, 2))


# ---- through autograd ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [ag.float32, ag.float64])
def test_indexing_backward_takes_the_kernel_and_accumulates(dtype, monkeypatch):
    calls = []
    monkeypatch.setattr(scatter, "index_add_rows",
                        lambda *args, _kernel=scatter.index_add_rows: calls.append(1) or _kernel(*args))
    rng = np.random.default_rng(2)
    weight = ag.tensor(rng.standard_normal((6, 4)), dtype=dtype, requires_grad=True)
    index = np.array([[5, 0, 5], [5, 2, 0]])
    grad = rng.standard_normal((2, 3, 4))
    weight[ag.tensor(index)].backward(ag.tensor(grad, dtype=dtype))
    expected = _reference(grad.astype(weight.detach().numpy().dtype), index, (6, 4))
    np.testing.assert_array_equal(weight.grad.numpy(), expected)
    assert weight.grad.numpy()[1].tolist() == [0, 0, 0, 0]
    assert calls == [1]


def test_other_advanced_keys_still_scatter_with_add_at(monkeypatch):
    monkeypatch.setattr(scatter, "index_add_rows", None)  # not called for these keys
    x = ag.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    rows, cols = np.array([0, 0, 2]), np.array([1, 1, 3])
    x[ag.tensor(rows), ag.tensor(cols)].sum().backward()
    expected = np.zeros((3, 4))
    np.add.at(expected, (rows, cols), 1.0)
    np.testing.assert_array_equal(x.grad.numpy(), expected)
    y = ag.tensor(np.arange(6.0), requires_grad=True)
    y[ag.tensor(np.array([True, False, True, True, False, False]))].sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [1, 0, 1, 1, 0, 0])


def test_gradcheck_first_and_second_order_with_repeated_indices():
    rng = np.random.default_rng(3)
    index = ag.tensor(np.array([[1, 3, 1], [0, 1, 3]]))
    weight = ag.tensor(rng.uniform(-1, 1, (4, 3)), requires_grad=True)
    # squared, so the second derivative goes through the scatter's own backward (getitem of it)
    fn = lambda w: (w[index] ** 2).sum(-1)  # noqa: E731
    assert gradcheck(fn, [weight])
    assert gradgradcheck(fn, [weight])
    grad_rows = ag.tensor(rng.uniform(-1, 1, (2, 3, 3)), requires_grad=True)
    scatter_fn = lambda g: IndexAdd.apply(g, (index.numpy(),), (4, 3)) ** 2  # noqa: E731
    assert gradcheck(scatter_fn, [grad_rows])
    assert gradgradcheck(scatter_fn, [grad_rows])


def test_embedding_gradient_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    table = rng.standard_normal((65, 16)).astype(np.float32)
    ids = rng.integers(0, 65, (8, 32))
    grad = rng.standard_normal((8, 32, 16)).astype(np.float32)
    ours = nn.Embedding(65, 16, _weight=ag.tensor(table))
    ours(ag.tensor(ids)).backward(ag.tensor(grad))
    theirs = torch.nn.Embedding.from_pretrained(torch.tensor(table), freeze=False)
    theirs(torch.tensor(ids)).backward(torch.tensor(grad))
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-5, atol=1e-5)
