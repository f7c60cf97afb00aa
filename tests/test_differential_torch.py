"""Differential test against PyTorch (skipped when it is not installed) for the ops of issue 22, on the
inputs where they went wrong: size-0, size-1 and 0-d tensors, constant input (std and norms of dead
features), ignored targets, and non-contiguous inputs (transposed, strided, negative strides).

Each case runs the same float64 program in both libraries on the same leaves. When PyTorch raises,
numbagrad must raise too; otherwise values, first derivatives (and second derivatives on generic
inputs) must agree, NaN for NaN.
"""
import numpy as np
import pytest

import autograd as ag
import nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

pytestmark = [  # torch's own warnings about the edge cases themselves (numbagrad must print none)
    pytest.mark.filterwarnings("ignore:.*degrees of freedom is <= 0:UserWarning"),
    pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss:UserWarning"),
]

LAYOUTS = ("contiguous", "transposed", "strided", "negative-stride")


def _leaf_arrays(shape, layout, rng, fill):
    """The leaf's array (whose layout transform gives ``shape``) for one layout."""
    if layout == "transposed" and len(shape) >= 2:
        base = tuple(reversed(shape))
    elif layout in ("strided", "negative-stride") and len(shape) >= 1:
        base = (shape[0] * 2,) + tuple(shape[1:]) if layout == "strided" else shape
    else:
        base = shape
    return fill(rng, base)


def _view(x, layout, lib):
    if x.ndim == 0:
        return x
    if layout == "transposed" and x.ndim >= 2:
        dims = tuple(reversed(range(x.ndim)))
        return x.permute(dims) if lib == "ag" else x.permute(*dims)
    if layout == "strided":
        return x[::2]
    if layout == "negative-stride":
        return x[::-1] if lib == "ag" else x.flip(0)  # (torch has no negative strides: same values)
    return x


def generic(rng, shape):
    return rng.standard_normal(shape)


def zeros(rng, shape):
    return np.zeros(shape)


def probabilities(rng, shape):
    return rng.uniform(0.05, 0.95, shape)


def _compare(a, t, what):
    t = t.detach().numpy(force=True) if isinstance(t, torch.Tensor) else np.asarray(t)  # (force: ZeroTensors)
    a = a.detach().numpy() if isinstance(a, ag.Tensor) else np.asarray(a)
    assert a.shape == t.shape, (what, a.shape, t.shape)
    np.testing.assert_allclose(a, t, rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=what)


def run_both(ag_fn, torch_fn, arrays, layout, second=True):
    """Run one program in both libraries; compare values, gradients and (optionally) second order."""
    leaves_t = [torch.tensor(a, requires_grad=True) for a in arrays]
    leaves_a = [ag.tensor(a, requires_grad=True) for a in arrays]

    def views(leaves, lib):  # the layout is the first input's (the others are parameters)
        return [_view(leaves[0], layout, lib)] + leaves[1:]

    try:
        out_t = torch_fn(*views(leaves_t, "torch"))
    except (RuntimeError, IndexError, ValueError, TypeError):
        with pytest.raises(Exception):  # torch refuses: so must we (with any clear error)
            ag_fn(*views(leaves_a, "ag"))
        return
    out_a = ag_fn(*views(leaves_a, "ag"))
    _compare(out_a, out_t, "value")
    if not out_t.requires_grad or out_t.numel() == 0 and all(a.size == 0 for a in arrays):
        return
    weights = np.random.default_rng(1).uniform(0.5, 1.5, tuple(out_t.shape))
    grads_t = torch.autograd.grad((out_t * torch.tensor(weights)).sum(), leaves_t, create_graph=second,
                                  allow_unused=True)
    grads_a = ag.grad((out_a * ag.tensor(weights)).sum(), leaves_a, create_graph=second, allow_unused=True)
    for i, (ga, gt) in enumerate(zip(grads_a, grads_t)):
        if gt is None:
            assert ga is None or not np.any(ga.detach().numpy()), f"gradient {i}"
            continue
        _compare(ga, gt, f"gradient of input {i}")
    if not second:
        return
    pairs = [(ga, gt) for ga, gt in zip(grads_a, grads_t) if gt is not None and gt.requires_grad]
    if not pairs:
        return
    total_t = sum((gt * torch.tensor(np.cos(np.arange(gt.numel())).reshape(gt.shape))).sum() for _, gt in pairs)
    second_t = torch.autograd.grad(total_t, leaves_t, allow_unused=True)
    recorded = [ga for ga, _ in pairs if ga is not None and ga.requires_grad]
    if recorded:
        total_a = sum((ga * ag.tensor(np.cos(np.arange(ga.numel())).reshape(ga.shape))).sum() for ga in recorded)
        second_a = ag.grad(total_a, leaves_a, allow_unused=True)
    else:  # a gradient that does not depend on the inputs (amax's): zero second derivatives
        second_a = [None] * len(leaves_a)
    for i, (ga, gt) in enumerate(zip(second_a, second_t)):
        if gt is None:
            assert ga is None or not np.any(ga.detach().numpy()), f"second derivative {i}"
            continue
        _compare(ga if ga is not None else np.zeros(gt.shape), gt, f"second derivative of input {i}")


# ---------------------------------------------------------------------------- reductions
SHAPES = [(), (1,), (0,), (3,), (1, 4), (0, 3), (3, 0), (2, 3), (2, 1, 3)]


def _dims(shape):
    if not shape:
        return [None, 0, -1]
    return [None, 0, -1, tuple(range(len(shape)))] + ([(0, -1)] if len(shape) >= 2 else [])


def _reduction_cases():
    cases = []
    for shape in SHAPES:
        for j, dim in enumerate(_dims(shape)):
            for keepdim in (j % 2 == 1,):  # each dim once, keepdim alternating
                d, k = dim, keepdim
                dim_or_all = () if d is None else d
                cases += [
                    ("sum", lambda x, d=d, k=k: x.sum(d, keepdim=k) if d is not None else x.sum(),
                     lambda x, d=d, k=k: x.sum(d, keepdim=k) if d is not None else x.sum(), shape),
                    ("mean", lambda x, d=d, k=k: x.mean(d, keepdim=k) if d is not None else x.mean(),
                     lambda x, d=d, k=k: x.mean(d, keepdim=k) if d is not None else x.mean(), shape),
                    ("amax", lambda x, d=dim_or_all, k=k: x.amax(d, keepdim=k),
                     lambda x, d=dim_or_all, k=k: x.amax(d, keepdim=k), shape),
                    ("amin", lambda x, d=dim_or_all, k=k: x.amin(d, keepdim=k),
                     lambda x, d=dim_or_all, k=k: x.amin(d, keepdim=k), shape),
                    ("logsumexp", lambda x, d=d, k=k: x.logsumexp(d, keepdim=k),  # (torch needs the dims)
                     lambda x, d=d, k=k: x.logsumexp(tuple(range(x.ndim)) if d is None else d, keepdim=k), shape),
                ]
                for correction in (0, 1):
                    c = correction
                    cases += [
                        (f"var[c={c}]", lambda x, d=d, k=k, c=c: x.var(d, correction=c, keepdim=k),
                         lambda x, d=d, k=k, c=c: x.var(d, correction=c, keepdim=k), shape),
                        (f"std[c={c}]", lambda x, d=d, k=k, c=c: x.std(d, correction=c, keepdim=k),
                         lambda x, d=d, k=k, c=c: x.std(d, correction=c, keepdim=k), shape),
                    ]
                for p in (2, 3, 0.5, float("inf")) if j % 2 else (2, 1.5, float("inf")):
                    cases.append((f"norm[p={p}]", lambda x, p=p, d=d, k=k: x.norm(p, d, keepdim=k),
                                  lambda x, p=p, d=d, k=k: torch.linalg.vector_norm(x, p, d, keepdim=k), shape))
                if isinstance(d, int) or d is None:
                    cases.append(("prod", lambda x, d=d, k=k: x.prod(d, keepdim=k) if d is not None else x.prod(),
                                  lambda x, d=d, k=k: x.prod(d, keepdim=k) if d is not None else x.prod(), shape))
                if isinstance(d, int):
                    cases += [
                        ("max.values", lambda x, d=d, k=k: x.max(d, keepdim=k).values,
                         lambda x, d=d, k=k: x.max(d, keepdim=k).values, shape),
                        ("min.values", lambda x, d=d, k=k: x.min(d, keepdim=k).values,
                         lambda x, d=d, k=k: x.min(d, keepdim=k).values, shape),
                    ]
    return cases


REDUCTIONS = _reduction_cases()


def _case_id(case):
    return f"{case[0]}-{case[3]}"


def _with_layouts(cases, shape_of):
    """Each case under one layout, the layouts taken in turn (a 0-d tensor has only one)."""
    out = []
    for i, case in enumerate(cases):
        layout = LAYOUTS[i % len(LAYOUTS)] if len(shape_of(case)) else "contiguous"
        out.append(pytest.param(case, layout, id=f"{layout}-{_case_id(case) if len(case) == 4 else i}"))
    return out


@pytest.mark.parametrize("case, layout", _with_layouts(REDUCTIONS[::2], lambda c: c[3]))  # (every op still
# meets every shape: a case list is op-major within each dim)
def test_reductions_agree_with_torch(case, layout):
    name, ag_fn, torch_fn, shape = case
    rng = np.random.default_rng(0)
    run_both(ag_fn, torch_fn, [_leaf_arrays(shape, layout, rng, generic)], layout,
             second=not name.startswith(("amax", "amin", "max", "min")))


@pytest.mark.parametrize("case", [c for c in REDUCTIONS if c[0].startswith(("std", "var", "norm", "amax", "max"))][1::3],
                         ids=_case_id)
def test_reductions_of_constant_input_agree_with_torch(case):
    """Dead features: std, var and the norms at constant (zero) input, and max's ties."""
    name, ag_fn, torch_fn, shape = case
    run_both(ag_fn, torch_fn, [zeros(None, shape)], "contiguous", second=False)


# ---------------------------------------------------------------------------- shapes and elementwise
def _shapes_and_layouts(shapes):
    return [(shape, layout) for shape in shapes for layout in (LAYOUTS if shape else ("contiguous",))]


@pytest.mark.parametrize("shape, layout", _shapes_and_layouts(SHAPES + [(0, 5), (0, 2, 3), (2, 0, 3)]), ids=str)
@pytest.mark.parametrize("op", ["transpose", "flatten", "flatten1", "silu", "mul_0d"])
def test_shape_ops_and_silu_agree_with_torch(op, shape, layout):
    fns = {
        "transpose": (lambda x: x.transpose(0, -1), lambda x: x.transpose(0, -1)),
        "flatten": (lambda x: x.flatten(), lambda x: x.flatten()),
        "flatten1": (lambda x: x.flatten(1), lambda x: x.flatten(1)),
        "silu": (F.silu, TF.silu),
        "mul_0d": (lambda x: x * ag.tensor(np.float64(3.0)), lambda x: x * torch.tensor(3.0, dtype=torch.float64)),
    }
    rng = np.random.default_rng(2)
    run_both(*fns[op], [_leaf_arrays(shape, layout, rng, generic)], layout)


def test_silu_at_extremes_agrees_with_torch():
    x = np.array([-800.0, -40.0, -1.0, 0.0, 1.0, 40.0, 800.0])
    run_both(F.silu, TF.silu, [x], "contiguous")


# ---------------------------------------------------------------------------- gather
GATHER = [  # (input shape, dim, index shape): index no larger than input apart from dim
    ((3, 4), 1, (1, 1)), ((3, 4), 1, (3, 6)), ((3, 4), 0, (2, 4)), ((3, 4), 0, (5, 2)), ((3, 4), 1, (0, 2)),
    ((0, 3), 1, (0, 2)), ((2, 3, 4), 2, (2, 1, 5)), ((2, 3, 4), -2, (1, 3, 2)), ((5,), 0, (7,)), ((1,), 0, (1,)),
    ((), 0, ()), ((), 0, (3,)), ((4,), -1, ()), ((3, 4), 1, (4, 1)), ((3, 4), 1, (2,)),
]


@pytest.mark.parametrize("input_shape, dim, index_shape, layout",
                         [g + (layout,) for g in GATHER for layout in (LAYOUTS if g[0] else ("contiguous",))], ids=str)
def test_gather_agrees_with_torch(input_shape, dim, index_shape, layout):
    rng = np.random.default_rng(3)
    size = (input_shape[dim] if input_shape else 1) or 1
    index = rng.integers(0, size, index_shape)
    run_both(lambda x: ag.gather(x, dim, ag.tensor(index)), lambda x: torch.gather(x, dim, torch.tensor(index)),
             [_leaf_arrays(input_shape, layout, rng, generic)], layout)


@pytest.mark.parametrize("bad", [-1, 4])
def test_gather_out_of_range_raises_like_torch(bad):
    index = np.array([[bad]])
    run_both(lambda x: ag.gather(x, 1, ag.tensor(index)), lambda x: torch.gather(x, 1, torch.tensor(index)),
             [np.ones((3, 4))], "contiguous")


# ---------------------------------------------------------------------------- losses
CLASS_SHAPES = [(4, 3), (0, 3), (2, 3, 2), (2, 3, 1, 2), (2, 3, 0), (3,)]


def _targets(shape, rng, ignored):
    target_shape = (shape[0],) + shape[2:] if len(shape) >= 2 else ()
    target = rng.integers(0, shape[1] if len(shape) >= 2 else shape[0], target_shape)
    if ignored == "all":
        target = np.full(target_shape, -100)
    elif ignored == "some" and target.size:
        target.reshape(-1)[::2] = -100
    return target


@pytest.mark.parametrize("shape", CLASS_SHAPES, ids=str)
@pytest.mark.parametrize("ignored, reduction", [("none", "sum"), ("some", "none"), ("all", "mean"), ("some", "mean")])
@pytest.mark.parametrize("variant", ["plain", "weight", "smoothing", "weight+smoothing", "nll"])
def test_cross_entropy_and_nll_agree_with_torch(shape, ignored, reduction, variant):
    rng = np.random.default_rng(4)
    target = _targets(shape, rng, ignored)
    classes = shape[1] if len(shape) >= 2 else shape[0]
    weight = rng.uniform(0.5, 2.0, classes) if "weight" in variant else None
    smoothing = 0.2 if "smoothing" in variant else 0.0
    w_a = None if weight is None else ag.tensor(weight)
    w_t = None if weight is None else torch.tensor(weight)
    if variant == "nll":
        ag_fn = lambda x: F.nll_loss(F.log_softmax(x, 1 if x.ndim > 1 else 0), ag.tensor(target), reduction=reduction)
        torch_fn = lambda x: TF.nll_loss(TF.log_softmax(x, 1 if x.ndim > 1 else 0), torch.tensor(target),
                                         reduction=reduction)
    else:
        ag_fn = lambda x: F.cross_entropy(x, ag.tensor(target), weight=w_a, reduction=reduction,
                                          label_smoothing=smoothing)
        torch_fn = lambda x: TF.cross_entropy(x, torch.tensor(target), weight=w_t, reduction=reduction,
                                              label_smoothing=smoothing)
    run_both(ag_fn, torch_fn, [generic(rng, shape)], "contiguous")


@pytest.mark.parametrize("target", [[0.2, 0.0, np.nan], [0.5, 0.5, 0.0], [1.0, 0.0, 0.0]], ids=str)
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_agrees_with_torch(target, log_target):
    target = np.array(target)
    run_both(lambda x: F.kl_div(x, ag.tensor(target), reduction="sum", log_target=log_target),
             lambda x: TF.kl_div(x, torch.tensor(target), reduction="sum", log_target=log_target),
             [np.log([0.3, 0.3, 0.4])], "contiguous")


@pytest.mark.parametrize("p, y", [([0.3, 0.9], [1.0, 0.0]), ([1.5, 0.5], [1.0, 0.0]), ([0.5, 0.5], [2.0, 0.0]),
                                  ([np.nan, 0.5], [1.0, 0.0]), ([0.0, 1.0], [0.0, 1.0])], ids=str)
def test_binary_cross_entropy_agrees_with_torch(p, y):
    run_both(lambda x: F.binary_cross_entropy(x, ag.tensor(np.array(y))),
             lambda x: TF.binary_cross_entropy(x, torch.tensor(y, dtype=torch.float64)), [np.array(p)],
             "contiguous", second=False)


@pytest.mark.parametrize("dtypes", [("float32", "float64"), ("float64", "float32"), ("float32", "float32")], ids=str)
@pytest.mark.parametrize("loss", ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "kl_div"])
def test_regression_loss_dtypes_agree_with_torch(loss, dtypes):
    a, b = np.ones(3, dtypes[0]), np.zeros(3, dtypes[1])
    ours = getattr(F, loss)(ag.tensor(a), ag.tensor(b))
    theirs = getattr(TF, loss)(torch.tensor(a), torch.tensor(b))
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    assert ours.item() == pytest.approx(theirs.item())


def test_a_0d_tensor_promotes_like_torch():
    for left, right in [("float32", "float64"), ("int64", "float64"), ("bool", "int64"), ("int64", "float32")]:
        ours = ag.ones(3, dtype=left) * ag.tensor(np.ones((), dtype=right))
        theirs = torch.ones(3, dtype=getattr(torch, left)) * torch.tensor(np.ones((), dtype=right))
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", ""), (left, right)


@pytest.mark.parametrize("shape", [(4, 3), (0, 3), (2, 3, 5), (3, 2, 2, 2)], ids=str)
@pytest.mark.parametrize("layout", ["contiguous", "strided"])
def test_batch_norm_training_agrees_with_torch(shape, layout):
    rng = np.random.default_rng(5)
    channels = shape[1]
    weight, bias = rng.uniform(0.5, 1.5, channels), rng.standard_normal(channels)
    run_both(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
             lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True),
             [_leaf_arrays(shape, layout, rng, generic), weight, bias], layout)
