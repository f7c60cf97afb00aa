"""Engine semantics: accumulation, shared subgraphs, retain_graph, hooks, grad modes, version counters,
anomaly detection, deep graphs, freeing of the graph, autograd.grad and higher-order gradients."""
import gc
import threading
import weakref

import numpy as np
import pytest

import autograd as ag


def leaf(values, dtype=ag.float64):
    return ag.tensor(values, dtype=dtype, requires_grad=True)


# ---------------------------------------------------------------------------- accumulation and graphs
def test_gradients_accumulate_across_backward_calls():
    x = leaf([1.0, 2.0])
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3 + 2, 3 + 4])


def test_shared_subgraph_sums_gradients_of_every_path():
    x = leaf(2.0)
    y = x * x            # used by two consumers: dz/dx = 3·2x·... by the chain rule
    z = y * y + y        # z = x⁴ + x²,  dz/dx = 4x³ + 2x = 36
    z.backward()
    assert x.grad.item() == pytest.approx(36.0)


def _random_dag(rng, leaves, size):
    """Op i combines two earlier values chosen at random (so consumers are recorded in an order
    unrelated to a depth-first walk); returns every value, last = the output."""
    values = list(leaves)
    for _ in range(size):
        i, j = rng.integers(len(values), size=2)
        op = rng.integers(3)
        a, b = values[i], values[j]
        values.append(a * b if op == 0 else a + b if op == 1 else (a - b) * 0.5)
    return values


@pytest.mark.parametrize("seed", range(8))
def test_random_dags_match_the_scalar_engine(seed):
    """The tensor walk (newest node first) and Scalar's topological walk agree on every leaf's gradient
    in graphs where most values feed several later ops."""
    start = np.random.default_rng(seed).uniform(-1.2, 1.2, 4)
    tensors = _random_dag(np.random.default_rng(seed + 100), [leaf(v) for v in start], 40)
    scalars = _random_dag(np.random.default_rng(seed + 100), [ag.Scalar(v) for v in start], 40)
    tensors[-1].backward()
    scalars[-1].backward()
    for t, s in zip(tensors[:4], scalars[:4]):
        expected = s.grad
        if t.grad is None:  # this leaf did not reach the output
            assert expected == 0.0
        else:
            assert t.grad.item() == pytest.approx(expected, rel=1e-12, abs=1e-12)


class _BlockGradient(ag.Function):
    """y = x, with no gradient to x (a backward that returns None)."""

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, grad_output):
        return None


def test_node_that_receives_only_none_is_skipped_and_freed():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    y = x * x
    (_BlockGradient.apply(y) * w).sum().backward()
    assert y.grad_fn.is_released  # its saved tensors are released like every visited node's
    assert x.grad is None
    np.testing.assert_allclose(w.grad.numpy(), [1.0, 4.0])


def test_hook_on_a_leaf_used_by_several_ops_runs_once_with_the_total():
    x = leaf([1.0, 2.0])
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()))
    (x * 2 + x * 3 + x.exp()).sum().backward()
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], 5 + np.exp([1.0, 2.0]))


def test_grad_of_several_outputs_where_one_consumes_the_other():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()         # dy/dx = 2x
    z = y * 3                 # dz/dx = 6x, and z is recorded after y
    (gx,) = ag.grad([z, y], [x])
    np.testing.assert_allclose(gx.numpy(), 8 * np.array([1.0, 2.0]))


def test_same_tensor_twice_in_one_op():
    x = leaf([3.0])
    (x * x).sum().backward()
    assert x.grad.item() == pytest.approx(6.0)
    x.grad = None
    (x + x).sum().backward()
    assert x.grad.item() == pytest.approx(2.0)


def test_leaf_grads_do_not_alias_each_other():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (a + b).sum().backward()
    a.grad.mul_(10)  # an in-place change to one .grad (e.g. clipping) must not reach the other
    np.testing.assert_allclose(b.grad.numpy(), [1.0, 1.0])


def test_non_leaf_grad_is_none_unless_retained():
    x = leaf([1.0, 2.0])
    y = x * 2
    z = y * 3
    y.retain_grad()
    z.sum().backward()
    assert z.grad is None
    np.testing.assert_allclose(y.grad.numpy(), [3.0, 3.0])
    assert y.retains_grad and not z.retains_grad


def test_grad_dtype_and_shape_follow_the_leaf():
    w = ag.randn(3, 1, requires_grad=True)  # float32, broadcast against (3, 4)
    (w * ag.ones(3, 4)).sum().backward()
    assert w.grad.dtype == ag.float32 and w.grad.shape == (3, 1)
    np.testing.assert_allclose(w.grad.numpy(), np.full((3, 1), 4.0))


def test_backward_with_explicit_gradient_for_non_scalar():
    x = leaf([1.0, 2.0, 3.0])
    y = x * x
    y.backward(ag.tensor([1.0, 0.5, 0.0], dtype=ag.float64))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0, 0.0])


def test_backward_of_non_scalar_without_gradient_raises():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="scalar outputs"):
        (x * 2).backward()


def test_backward_when_nothing_requires_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        ag.tensor([1.0]).sum().backward()


def test_requires_grad_on_integer_tensor_raises():
    with pytest.raises(RuntimeError, match="floating-point"):
        ag.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="int64"):
        ag.arange(3).requires_grad_()


def test_next_functions_and_grad_fn_names():
    a, b = leaf([1.0]), leaf([2.0])
    c = a * b + 1
    assert c.grad_fn.name() == "AddBackward"
    (mul_node, _), (const, _) = c.grad_fn.next_functions
    assert mul_node.name() == "MulBackward" and const is None
    assert [n.name() for n, _ in mul_node.next_functions] == ["AccumulateGrad", "AccumulateGrad"]
    assert "grad_fn=<AddBackward>" in repr(c)


# ---------------------------------------------------------------------------- retain_graph
def test_second_backward_through_freed_graph_raises_clear_error():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_second_backward_and_accumulates():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)
    np.testing.assert_allclose(first, np.exp([1.0, 2.0]) * (1 + np.array([1.0, 2.0])))


# ---------------------------------------------------------------------------- hooks
def test_hook_on_leaf_sees_and_replaces_gradient():
    x = leaf([1.0, 2.0])
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()))
    handle = x.register_hook(lambda g: g * 10)
    (x * 3).sum().backward()
    np.testing.assert_allclose(seen[0], [3.0, 3.0])
    np.testing.assert_allclose(x.grad.numpy(), [30.0, 30.0])
    handle.remove()
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_hook_on_intermediate_changes_what_flows_upstream():
    x = leaf([1.0, 2.0])
    y = x * 2
    y.register_hook(lambda g: g * 0.5)
    (y * y).sum().backward()   # d/dy = 2y = [4, 8], halved = [2, 4], times dy/dx = 2
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0])


def test_hook_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        ag.tensor([1.0]).register_hook(lambda g: g)


# ---------------------------------------------------------------------------- grad modes
def test_no_grad_context_and_decorator():
    x = leaf([1.0])
    with ag.no_grad():
        y = x * 2
        with ag.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad

    @ag.no_grad()
    def f(t):
        return t * 2
    assert not f(x).requires_grad
    assert ag.is_grad_enabled()


def test_set_grad_enabled():
    x = leaf([1.0])
    with ag.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    with ag.set_grad_enabled(True):
        assert (x * 2).requires_grad


def test_grad_mode_is_thread_local():
    x = leaf([1.0])
    inside, results = threading.Event(), {}

    def worker():
        with ag.no_grad():
            inside.set()
            release.wait(5)
            results["worker"] = (x * 2).requires_grad

    release = threading.Event()
    thread = threading.Thread(target=worker)
    thread.start()
    inside.wait(5)
    results["main"] = (x * 2).requires_grad  # the worker's no_grad is active right now
    release.set()
    thread.join()
    assert results == {"main": True, "worker": False}


# ---------------------------------------------------------------------------- in place and versions
def test_inplace_on_saved_tensor_raises_at_backward_naming_the_op():
    x = leaf([1.0, 2.0])
    y = x * 1.0
    z = (y * y).sum()   # MulBackward saved y
    y += 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*MulBackward"):
        z.backward()


def test_inplace_on_saved_output_raises():
    x = leaf([1.0, 2.0])
    y = x.exp()         # ExpBackward saved its output
    s = y.sum()
    with ag.no_grad():
        y.mul_(2)
    with pytest.raises(RuntimeError, match="ExpBackward.*version 1; expected version 0"):
        s.backward()


@pytest.mark.parametrize("modified", ["input", "output"])
def test_inplace_on_a_saved_input_and_output_pair_raises(modified):
    """Div saves b and its output z, the (input, output) pair that Node._pack stores without its search."""
    a, b = leaf([1.0, 2.0]), leaf([4.0, 8.0])
    b_used = b * 1.0
    z = a / b_used
    s = z.sum()
    with ag.no_grad():
        (b_used if modified == "input" else z).mul_(2)
    expected = "version 1; expected version 0" if modified == "output" else "DivBackward"
    with pytest.raises(RuntimeError, match=f"modified by an inplace operation.*{expected}"):
        s.backward()


def test_saved_input_and_output_pair_keeps_the_graph_for_double_backward():
    a, b = leaf([1.0, 2.0]), leaf([4.0, 8.0])
    (ga,) = ag.grad((a / b).sum(), [b], create_graph=True)  # -a/b² via z = a/b: d/db again needs z's graph
    (gb,) = ag.grad(ga.sum(), [b])
    np.testing.assert_allclose(gb.numpy(), 2 * np.array([1.0, 2.0]) / np.array([4.0, 8.0]) ** 3)


def test_inplace_on_unsaved_intermediate_gives_right_gradient():
    x = leaf([1.0, 2.0])
    w = leaf([3.0, 4.0])
    y = x * 2          # AddBackward of the in-place add does not need y's value
    y += w
    y *= w             # y = (2x + w)·w
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 8.0])
    np.testing.assert_allclose(w.grad.numpy(), 2 * np.array([1.0, 2.0]) + 2 * np.array([3.0, 4.0]))
    assert y.grad_fn.name() == "MulBackward"


def test_inplace_on_leaf_requiring_grad_raises_but_is_fine_under_no_grad():
    w = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w += 1
    with ag.no_grad():
        w -= 0.5
    np.testing.assert_allclose(w.detach().numpy(), [0.5, 1.5])
    assert w.version == 1


def test_inplace_through_view_shares_the_version_counter():
    x = leaf([1.0, 2.0, 3.0])
    y = x * 1.0
    s = (y * y).sum()
    with ag.no_grad():
        y[0] = 10.0   # writes through a view of y
    with pytest.raises(RuntimeError, match="inplace"):
        s.backward()


def test_setitem_on_non_leaf_is_differentiable():
    x = leaf([1.0, 2.0, 3.0])
    v = leaf(5.0)
    y = x * 2
    y[1] = v * v
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 0.0, 2.0])
    assert v.grad.item() == pytest.approx(10.0)


def test_integer_inplace_with_float_raises():
    t = ag.arange(3)
    with pytest.raises(RuntimeError, match="can't be cast"):
        t += 0.5


# ---------------------------------------------------------------------------- anomaly detection
def test_detect_anomaly_names_the_op_that_made_nan():
    x = leaf([0.0, 1.0])
    with ag.detect_anomaly():
        y = (x.sqrt() * 0.0).sum()
        with pytest.raises(RuntimeError, match="(?s)SqrtBackward.*nan.*Traceback of the forward call"):
            y.backward()


def test_without_anomaly_mode_nan_gradient_passes_silently():
    x = leaf([0.0, 1.0])
    (x.sqrt() * 0.0).sum().backward()
    assert np.isnan(x.grad.numpy()[0])


# ---------------------------------------------------------------------------- deep and freed graphs
def test_chain_of_100000_ops_backprops_without_recursion_error():
    x = leaf([1.0])
    y = x
    for _ in range(50_000):
        y = y * 1.0 + 0.0
    y.sum().backward()
    assert x.grad.item() == pytest.approx(1.0)


def test_graph_is_freed_by_reference_counting_after_backward():
    gc.disable()
    try:
        x = leaf(np.ones(1000))
        y = x.exp()
        z = (y * 2).sigmoid().sum()
        node_ref, y_ref = weakref.ref(z.grad_fn), weakref.ref(y)
        z.backward()
        del y, z
        assert node_ref() is None and y_ref() is None   # no reference cycles hold the graph
    finally:
        gc.enable()


def test_graph_without_backward_is_freed_too():
    gc.disable()
    try:
        x = leaf(np.ones(10))
        out = (x.exp() * x).tanh().sum()   # ExpBackward and TanhBackward save their outputs
        ref = weakref.ref(out.grad_fn)
        del out
        assert ref() is None
    finally:
        gc.enable()


def test_saved_tensors_are_released_after_backward():
    x = leaf(np.ones(5))
    y = x.exp()
    z = y.sum()
    node = y.grad_fn
    z.backward()
    assert node.is_released and not node._saved


def test_results_of_ops_have_every_tensor_slot_set():
    """Function.apply builds its results without calling make_tensor: each slot must still be set."""
    x = leaf(np.ones((2, 2)))
    recorded = x * x
    with ag.no_grad():
        unrecorded = x * x
    view = recorded.reshape(4)  # a view shares its input's version counter
    for t in (recorded, unrecorded, view):
        for slot in ag.Tensor.__slots__:
            if slot != "__weakref__":
                getattr(t, slot)  # raises AttributeError if apply left it unset
    assert recorded.grad is None and recorded.name is None and recorded._hooks is None
    assert view._version is recorded._version and unrecorded._version is not x._version


# ---------------------------------------------------------------------------- autograd.grad
def test_grad_returns_gradients_without_touching_dot_grad():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (gx, gw) = ag.grad((x * w).sum(), [x, w])
    np.testing.assert_allclose(gx.numpy(), [3.0, 4.0])
    np.testing.assert_allclose(gw.numpy(), [1.0, 2.0])
    assert x.grad is None and w.grad is None


def test_grad_with_respect_to_an_intermediate():
    x = leaf([1.0, 2.0])
    h = x * 3
    out = (h * h).sum()
    (gh,) = ag.grad(out, [h])
    np.testing.assert_allclose(gh.numpy(), 2 * 3 * np.array([1.0, 2.0]))


def test_grad_allow_unused():
    x, unused = leaf([1.0]), leaf([1.0])
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        ag.grad((x * 2).sum(), [x, unused])
    gx, gu = ag.grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert gu is None and gx.item() == 2.0


def test_second_and_third_derivatives():
    x = leaf(1.5)
    y = x ** 3
    (d1,) = ag.grad(y, x, create_graph=True)
    (d2,) = ag.grad(d1, x, create_graph=True)
    (d3,) = ag.grad(d2, x)
    assert (d1.item(), d2.item(), d3.item()) == pytest.approx((3 * 1.5 ** 2, 6 * 1.5, 6.0))


def test_hessian_vector_product_of_a_softmax_cross_entropy():
    z = leaf([0.3, -1.2, 2.0])
    y = ag.tensor([0.0, 1.0, 0.0], dtype=ag.float64)
    loss = -(y * z.log_softmax(0)).sum()
    (g,) = ag.grad(loss, z, create_graph=True)
    v = ag.tensor([1.0, -2.0, 0.5], dtype=ag.float64)
    (hv,) = ag.grad((g * v).sum(), z)
    p = np.exp(z.detach().numpy()) / np.exp(z.detach().numpy()).sum()
    hessian = np.diag(p) - np.outer(p, p)   # the Hessian of cross-entropy in the logits
    np.testing.assert_allclose(hv.numpy(), hessian @ v.numpy(), rtol=1e-10)


def test_backward_create_graph_gives_differentiable_grad():
    x = leaf([2.0])
    (x ** 4).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    g = x.grad
    x.grad = None
    g.sum().backward()
    assert x.grad.item() == pytest.approx(12 * 4.0)


# ---------------------------------------------------------------------------- tensors
def test_default_dtypes_follow_pytorch():
    assert ag.tensor([1.0, 2.0]).dtype == ag.float32
    assert ag.tensor([1, 2]).dtype == ag.int64
    assert ag.tensor([True]).dtype == ag.bool
    assert ag.tensor(np.array([1.0])).dtype == ag.float64
    assert ag.randn(2).dtype == ag.float32


def test_manual_seed_makes_random_ops_repeat():
    ag.manual_seed(123)
    a = ag.randn(3), ag.rand(2), ag.randint(0, 10, (4,))
    ag.manual_seed(123)
    b = ag.randn(3), ag.rand(2), ag.randint(0, 10, (4,))
    for p, q in zip(a, b):
        assert ag.equal(p, q)


def test_detach_and_data_leave_the_graph():
    x = leaf([1.0, 2.0])
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None
    assert np.shares_memory(d.numpy(), y.detach().numpy())
    assert not x.data.requires_grad


def test_numpy_of_tensor_requiring_grad_raises():
    with pytest.raises(RuntimeError, match="detach"):
        leaf([1.0]).numpy()


def test_repr_looks_like_pytorch():
    assert repr(ag.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(ag.tensor([1.0], dtype=ag.float64, requires_grad=True)) == \
        "tensor([1.], dtype=float64, requires_grad=True)"


def test_leaf_gradients_never_alias_each_other_or_the_callers_gradient():
    """The engine hands a fresh gradient array to a leaf's .grad without copying it (a pass over
    memory saved), but only when nothing else can see that array: a gradient that add passes to both
    operands, or one the caller passed in, must be copied."""
    a = ag.tensor(np.ones((3, 4)), requires_grad=True)
    b = ag.tensor(np.ones((3, 4)), requires_grad=True)
    (a + b).sum().backward()  # the same array flows to a and b
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    a.grad.mul_(3.0)
    assert np.all(b.grad.numpy() == 1.0)

    a.grad = b.grad = None
    g = ag.tensor(np.full((3, 4), 2.0))
    (a + b).backward(g)
    assert not np.shares_memory(a.grad.numpy(), g.numpy())
    assert not np.shares_memory(b.grad.numpy(), g.numpy())
    a.grad.zero_()
    assert np.all(g.numpy() == 2.0) and np.all(b.grad.numpy() == 2.0)

    a.grad = None
    seen = []
    a.register_hook(lambda grad: seen.append(grad))  # the hook keeps the gradient: copy it
    (a * 5.0).sum().backward()
    assert not np.shares_memory(a.grad.numpy(), seen[0].numpy())


class _RecordGradient(ag.Function):
    """y = 2x; remembers (weakly) the array its backward returns."""

    returned = None

    @staticmethod
    def forward(ctx, x):
        return 2 * x

    @staticmethod
    def backward(ctx, grad_output):
        grad = grad_output * 2
        _RecordGradient.returned = weakref.ref(grad._data)
        return grad


@pytest.mark.parametrize("leaves", [1, 3])
def test_a_fresh_gradient_becomes_dot_grad_without_a_copy(leaves):
    """A gradient array that only the walk refers to is handed over as .grad (a copy per parameter and
    step would be a full extra pass over memory): also when it is the last gradient the walk computed."""
    xs = [leaf(np.ones((3, 4))) for _ in range(leaves)]
    out = _RecordGradient.apply(xs[0]).sum()
    for x in xs[1:]:
        out = out + x.sum()
    out.backward()
    assert _RecordGradient.returned() is xs[0].grad._data


class _SharedGradient(ag.Function):
    """z = a + b; backward passes its incoming gradient on to both inputs, as Add does."""

    returned = None

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, grad_output):
        _SharedGradient.returned = weakref.ref(grad_output._data)
        return grad_output, grad_output


def test_a_gradient_shared_by_two_leaves_is_copied_for_each():
    """A gradient handed to two inputs is the walk's to give to neither: an in-place change of one
    .grad must not reach the other."""
    a, b = leaf(np.ones((3, 4))), leaf(np.ones((3, 4)))
    _SharedGradient.apply(a, b).sum().backward()
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    assert all(_SharedGradient.returned() is not g._data for g in (a.grad, b.grad))
    np.testing.assert_array_equal(a.grad.numpy(), 1.0)
    np.testing.assert_array_equal(b.grad.numpy(), 1.0)


class _FreshGradient(ag.Function):
    """z = 2x; backward returns a new array (2·dz), or, with ``keep``, an array it keeps for itself."""

    returned = None

    @staticmethod
    def forward(ctx, x, keep=False):
        ctx.keep = np.full(x.shape, 2.0) if keep else None
        if keep:
            ctx.save_for_backward(ctx.keep)
        return 2 * x

    @staticmethod
    def backward(ctx, grad_output):
        g = ctx.saved_tensors[0] if ctx.keep is not None else grad_output * 2
        _FreshGradient.returned = g._data
        return g


def test_a_new_gradient_for_one_leaf_becomes_its_grad_without_a_copy():
    x = leaf(np.ones((3, 4)))
    _FreshGradient.apply(x).sum().backward()
    assert x.grad._data is _FreshGradient.returned  # owned by the walk: no copy


def test_an_array_a_backward_keeps_is_copied_into_grad():
    x = leaf(np.ones((3, 4)))
    _FreshGradient.apply(x, keep=True).sum().backward()
    assert not np.shares_memory(x.grad._data, _FreshGradient.returned)
    x.grad.mul_(0)  # changing .grad in place leaves the op's own array alone
    np.testing.assert_array_equal(_FreshGradient.returned, 2.0)


def test_leaf_gradients_are_c_contiguous_even_when_backward_produced_a_transpose():
    w = ag.tensor(np.ones((4, 3)), requires_grad=True)
    x = ag.tensor(np.arange(6.0).reshape(2, 3))
    (x @ w.T).sum().backward()  # d(wᵀ) is (3, 4) C-order, so dw arrives as a transposed view
    assert w.grad.numpy().flags.c_contiguous
    np.testing.assert_allclose(w.grad.numpy(), np.tile(x.numpy().sum(0), (4, 1)))


def test_a_saved_output_of_a_0d_op_keeps_its_graph_for_double_backward():
    """A ufunc on a 0-d array returns a numpy scalar: the output saved by forward is still the output."""
    x = ag.tensor(0.5, dtype=ag.float64, requires_grad=True)
    (g,) = ag.grad(x.exp(), x, create_graph=True)
    (h,) = ag.grad(g, x)
    assert h.item() == pytest.approx(np.exp(0.5), rel=1e-15)


def test_walk_visits_each_vertex_once_consumers_first_and_leaves_last():
    a, b = leaf([1.0]), leaf([2.0])
    c = a * b
    d = c + a
    e = d * c
    order = ag.engine.topological_order([e.grad_fn])
    assert len(order) == len({id(v) for v in order}) == 5
    position = {id(v): i for i, v in enumerate(order)}
    for vertex in order:
        for edge in vertex.next_edges:
            if edge is not None:
                assert position[id(edge)] > position[id(vertex)]
    assert {id(v) for v in order[-2:]} == {id(a), id(b)}


@pytest.mark.parametrize("make", [
    lambda: ag.ones(2, 3) + ag.ones(4),
    lambda: ag.ones(2, 3, requires_grad=True) * ag.ones(4),
    lambda: ag.ones(2, 3) / ag.ones(2, 4, dtype=ag.float64),
    lambda: ag.where(ag.ones(2, 3) > 0, ag.ones(3), ag.ones(5)),
])
def test_a_broadcast_mismatch_names_the_op_and_every_shape(make):
    with pytest.raises(ValueError, match=r"^(Add|Mul|Div|Where): the shapes \(2, 3\), .* cannot be broadcast "
                                         r"together") as error:
        make()
    assert "operands could not be broadcast" not in str(error.value)
