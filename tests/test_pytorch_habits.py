"""What code written for PyTorch does here: the bare grad-mode decorators, device="cpu", the casts and
dtype names numbagrad does not hold (refused with a TypeError that says what to use, never an
AttributeError), and the names of second-order graph nodes."""
import pytest

import autograd as ag


def test_no_grad_as_bare_decorator():
    @ag.no_grad
    def doubled(x):
        return x * 2

    x = ag.tensor([1.0, 2.0], requires_grad=True)
    y = doubled(x)
    assert not y.requires_grad and doubled.__name__ == "doubled"
    assert (x * 2).requires_grad  # the switch is off again after the call


def test_enable_grad_as_bare_decorator_inside_no_grad():
    @ag.enable_grad
    def doubled(x):
        return x * 2

    x = ag.tensor([1.0], requires_grad=True)
    with ag.no_grad():
        assert doubled(x).requires_grad
        assert not (x * 2).requires_grad


def test_called_decorators_still_work():
    @ag.no_grad()
    def f(x):
        return x + 1

    assert not f(ag.tensor([1.0], requires_grad=True)).requires_grad


def test_no_grad_refuses_an_argument_that_is_not_a_function():
    with pytest.raises(TypeError, match="no_grad\\(\\) takes no arguments"):
        ag.no_grad(3)


FACTORIES = {
    "tensor": lambda device: ag.tensor([1.0, 2.0], device=device),
    "as_tensor": lambda device: ag.as_tensor([1.0], device=device),
    "zeros": lambda device: ag.zeros(2, 3, device=device),
    "ones": lambda device: ag.ones(2, device=device),
    "empty": lambda device: ag.empty(2, device=device),
    "full": lambda device: ag.full((2,), 1.5, device=device),
    "zeros_like": lambda device: ag.zeros_like(ag.ones(2), device=device),
    "ones_like": lambda device: ag.ones_like(ag.ones(2), device=device),
    "empty_like": lambda device: ag.empty_like(ag.ones(2), device=device),
    "full_like": lambda device: ag.full_like(ag.ones(2), 3.0, device=device),
    "arange": lambda device: ag.arange(4, device=device),
    "linspace": lambda device: ag.linspace(0, 1, 5, device=device),
    "eye": lambda device: ag.eye(3, device=device),
    "rand": lambda device: ag.rand(2, device=device),
    "randn": lambda device: ag.randn(2, device=device),
    "randint": lambda device: ag.randint(0, 5, (3,), device=device),
    "randperm": lambda device: ag.randperm(4, device=device),
    "rand_like": lambda device: ag.rand_like(ag.ones(2), device=device),
    "randn_like": lambda device: ag.randn_like(ag.ones(2), device=device),
    "normal": lambda device: ag.normal(0.0, 1.0, (2,), device=device),
    "new_zeros": lambda device: ag.ones(2).new_zeros(3, device=device),
    "new_full": lambda device: ag.ones(2).new_full((3,), 2.0, device=device),
}


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_every_factory_accepts_the_cpu_device(name):
    for device in ("cpu", "cpu:0", None):
        assert isinstance(FACTORIES[name](device), ag.Tensor)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_every_factory_refuses_another_device_naming_itself(name):
    with pytest.raises(RuntimeError, match=f"^{name}: device 'cuda' is not available.*CPU only"):
        FACTORIES[name]("cuda")


@pytest.mark.parametrize("method, dtype, instead", [("int", "int32", "int64"), ("half", "float16", "float32"),
                                                    ("short", "int16", "int64"), ("char", "int8", "int64"),
                                                    ("byte", "uint8", "int64")])
def test_casts_to_dtypes_not_held_are_refused_clearly(method, dtype, instead):
    x = ag.tensor([1.5, 2.0])
    with pytest.raises(TypeError, match=f"Tensor.{method}\\(\\): dtype {dtype} is not supported.*use {instead}"):
        getattr(x, method)()


@pytest.mark.parametrize("name", ["float16", "half", "int32", "int16", "short", "int8", "uint8"])
def test_dtype_names_not_held_exist_and_are_refused(name):
    dtype = getattr(ag, name)
    with pytest.raises(TypeError, match="is not supported: numbagrad tensors hold float32, float64, int64"):
        ag.zeros(2, dtype=dtype)
    with pytest.raises(TypeError, match="is not supported"):
        ag.tensor([1.0]).to(dtype)
    with pytest.raises(TypeError, match="is not supported"):
        ag.tensor([1.0], dtype=name)


def test_held_dtypes_cast_as_before():
    x = ag.tensor([1.5, -2.0])
    assert x.long().dtype == ag.int64 and x.double().dtype == ag.float64 and x.bool().dtype == ag.bool


@pytest.mark.parametrize("op, first, second", [
    (lambda x: x.sigmoid(), "SigmoidBackward", "SigmoidGradBackward"),
    (lambda x: x.tanh(), "TanhBackward", "TanhGradBackward"),
    (lambda x: ag.softmax(x, dim=0), "SoftmaxBackward", "SoftmaxGradBackward"),
    (lambda x: ag.log_softmax(x, dim=0), "LogSoftmaxBackward", "LogSoftmaxGradBackward"),
    (lambda x: ag.gelu(x), "GeluBackward", "GeluGradBackward"),
])
def test_second_order_nodes_read_as_the_gradient_of_the_op(op, first, second):
    x = ag.tensor([0.3, -0.2, 0.5], dtype=ag.float64, requires_grad=True)
    y = op(x)
    assert y.grad_fn.name() == first
    (g,) = ag.grad((y * ag.tensor([1.0, 2.0, 3.0], dtype=ag.float64)).sum(), [x], create_graph=True)
    names = set()
    stack = [g.grad_fn]
    while stack:
        node = stack.pop()
        if node is not None and not isinstance(node, ag.Tensor):
            names.add(node.name())
            stack.extend(node.next_edges)
    assert second in names
    assert not any("BackwardBackward" in name for name in names)


def test_moving_a_tensor_to_another_device_is_refused_clearly():
    x = ag.ones(2)
    assert x.to("cpu") is x
    for device in ("cuda", "cuda:0", "mps"):
        with pytest.raises(RuntimeError, match=f"device '{device}' is not available.*CPU only"):
            x.to(device)
    with pytest.raises(RuntimeError, match="Tensor.cuda\\(\\): device 'cuda' is not available"):
        x.cuda()
