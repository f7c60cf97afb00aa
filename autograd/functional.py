"""Functional autodiff, as ``torch.autograd.functional``: ``vjp, jvp, jacobian, hessian, hvp, vhp``.

    >>> import autograd as ag
    >>> from autograd.functional import jacobian
    >>> jacobian(lambda x: x ** 2, ag.tensor([1.0, 3.0]))
    tensor([[2., 0.],
            [0., 6.]])

``func`` takes Tensors (one per input) and returns a Tensor or a tuple of Tensors. ``inputs`` (and ``v``)
are a Tensor or a tuple of Tensors, and results keep that shape: a Tensor input gives Tensor results,
a tuple gives tuples, as in PyTorch. Without ``create_graph`` the results are detached from the graph;
with it they can be differentiated again. With ``strict=True`` an output independent of an input raises
instead of giving zeros.

How each is computed: ``vjp`` one backward pass; ``jvp`` one forward pass with dual tensors
(``autograd.forward_ad``); ``jacobian`` one backward per output element (``strategy="reverse-mode"``)
or one forward pass per input element (``"forward-mode"``): reverse is cheaper with fewer outputs than
inputs, forward with fewer inputs than outputs; ``hessian`` the Jacobian of the recorded gradient (one
backward per input element after one forward and one backward); ``hvp``/``vhp`` a double backward
(the Hessian of a twice-differentiable function is symmetric, so both give H v).
"""
import numpy as np

from . import forward_ad
from .engine import grad as _grad
from .grad_mode import enable_grad
from .creation import zeros_like
from .ops.join import stack
from .ops.shape import Alias, permute, reshape
from .tensor import Tensor, make_tensor

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


# ------------------------------------------------------------------------------------------ helpers
def _as_tuple(value, name, fn):
    """(tuple of Tensors, whether the argument was a tuple)."""
    if isinstance(value, Tensor):
        return (value,), False
    if isinstance(value, (tuple, list)):
        value = tuple(value)
        for i, item in enumerate(value):
            if not isinstance(item, Tensor):
                raise TypeError(f"{fn}: the {name} must be a Tensor or a tuple of Tensors, but element {i} "
                                f"is a {type(item).__name__}")
        return value, True
    raise TypeError(f"{fn}: the {name} must be a Tensor or a tuple of Tensors, got {type(value).__name__}")


def _prepare_inputs(inputs, create_graph, fn):
    """Inputs the function is differentiated at: new graph leaves, or (create_graph, for an input that
    requires grad) an alias that keeps the path back to the caller's tensor."""
    prepared = []
    for i, x in enumerate(inputs):
        if x.dtype.kind != "f":
            raise TypeError(f"{fn}: input {i} has dtype {x.dtype}; only floating tensors can be differentiated")
        if create_graph and x.requires_grad:
            prepared.append(Alias.apply(x))
        else:
            prepared.append(x.detach().requires_grad_(True))
    return tuple(prepared)


def _call(func, inputs, fn):
    with enable_grad():
        out = func(*inputs)
    outputs, is_tuple = _as_tuple(out, "outputs of the user-provided function", fn) if isinstance(
        out, (Tensor, tuple, list)) else _bad_output(out, fn)
    return outputs, is_tuple


def _bad_output(out, fn):
    raise TypeError(f"{fn}: the user-provided function must return a Tensor or a tuple of Tensors, got "
                    f"{type(out).__name__}")


def _check_v(v, like, name, fn):
    if len(v) != len(like):
        raise RuntimeError(f"{fn}: v has {len(v)} Tensors but the {name} has {len(like)}")
    for i, (a, b) in enumerate(zip(v, like)):
        if a.shape != b.shape:
            raise RuntimeError(f"{fn}: entry {i} of v has shape {tuple(a.shape)} but the {name} entry {i} has "
                               f"shape {tuple(b.shape)}")


def _default_v(like, name, fn):
    if len(like) != 1 or like[0].numel() != 1:
        raise RuntimeError(f"{fn}: v can only be omitted when the {name} is a single Tensor of one element; "
                           f"got {len(like)} Tensors of shapes {[tuple(t.shape) for t in like]}")
    return (make_tensor(np.ones(like[0].shape, like[0].dtype)),)


def _finish(tensors, create_graph):
    return tuple(t if create_graph else t.detach() for t in tensors)


def _zero_if_unused(g, like, strict, error):
    """``g``, or zeros shaped like ``like`` where the function does not depend on it (in strict mode,
    the error ``error`` instead, as torch.autograd.functional)."""
    if g is not None:
        return g
    if strict:
        raise RuntimeError(error)
    return zeros_like(like)


def _grads(outputs, inputs, seeds, create_graph, strict, fn, retain_graph=True):
    """d⟨outputs, seeds⟩/d inputs, with zeros (or, strict, an error) for inputs the outputs ignore."""
    used = [(o, s) for o, s in zip(outputs, seeds) if o.requires_grad]
    if used:
        found = _grad([o for o, _ in used], list(inputs), [s for _, s in used], retain_graph=retain_graph,
                      create_graph=create_graph, allow_unused=True)
    else:
        found = (None,) * len(inputs)
    return tuple(_zero_if_unused(g, x, strict, f"{fn}: the output of the user-provided function is independent "
                                               f"of input {i}. This is not allowed in strict mode.")
                 for i, (g, x) in enumerate(zip(found, inputs)))


def _unpack(values, is_tuple):
    return values if is_tuple else values[0]


# ------------------------------------------------------------------------------------------ the API
def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), vᵀ J)``: the vector-Jacobian product at ``inputs`` (one backward pass). ``v`` has the
    outputs' shapes; it may be omitted when the output is a single one-element Tensor."""
    fn = "vjp"
    inputs, inputs_tuple = _as_tuple(inputs, "inputs", fn)
    xs = _prepare_inputs(inputs, create_graph, fn)
    outputs, outputs_tuple = _call(func, xs, fn)
    if v is None:
        v = _default_v(outputs, "output", fn)
    else:
        v, _ = _as_tuple(v, "v", fn)
        _check_v(v, outputs, "output", fn)
    grads = _grads(outputs, xs, v, create_graph, strict, fn, retain_graph=create_graph)
    return _unpack(_finish(outputs, create_graph), outputs_tuple), _unpack(_finish(grads, create_graph), inputs_tuple)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), J v)``: the Jacobian-vector product at ``inputs``, in one forward pass with dual
    tensors (``autograd.forward_ad``). ``v`` has the inputs' shapes; it may be omitted when the input is a
    single one-element Tensor. ``create_graph=True``: J v can be differentiated (reverse over forward)."""
    fn = "jvp"
    inputs, inputs_tuple = _as_tuple(inputs, "inputs", fn)
    if v is None:
        v = _default_v(inputs, "input", fn)
    else:
        v, _ = _as_tuple(v, "v", fn)
        _check_v(v, inputs, "input", fn)
    for i, (x, t) in enumerate(zip(inputs, v)):
        if t.dtype != x.dtype:
            v = tuple(t.to(x.dtype) for t, x in zip(v, inputs))
            break
    primals = tuple(Alias.apply(x) if create_graph and x.requires_grad else x.detach() for x in inputs)
    if create_graph:
        primals = tuple(p if p.requires_grad else p.requires_grad_(True) for p in primals)
    with forward_ad.dual_level():
        duals = tuple(forward_ad.make_dual(p, t if create_graph else t.detach()) for p, t in zip(primals, v))
        if create_graph:
            with enable_grad():
                out = func(*duals)
        else:  # the caller's grad mode: nothing that requires grad flows in, so nothing records but what func asks
            out = func(*duals)
        outputs, outputs_tuple = _as_tuple(out, "outputs of the user-provided function", fn)
        primal_outs, tangents = [], []
        for i, o in enumerate(outputs):
            primal, tangent = forward_ad.unpack_dual(o)
            primal_outs.append(primal)
            tangents.append(_zero_if_unused(tangent, o, strict, f"{fn}: output {i} of the user-provided function "
                                            f"is independent of the inputs. This is not allowed in strict mode."))
    return (_unpack(_finish(primal_outs, create_graph), outputs_tuple),
            _unpack(_finish(tangents, create_graph), outputs_tuple))


def _reverse_jacobian(outputs, xs, create_graph, strict, fn):
    """rows[o][i]: the Jacobian block of output o with respect to input i, shape out.shape + in.shape."""
    blocks = []
    for o_index, out in enumerate(outputs):
        rows = [[] for _ in xs]
        n = out.numel()
        for j in range(n):
            seed = np.zeros(out.shape, out.dtype)
            seed.reshape(-1)[j] = 1.0
            grads = _grads([out], xs, [make_tensor(seed)], create_graph, False, fn)
            for i, g in enumerate(grads):
                rows[i].append(g)
        block = []
        for i, x in enumerate(xs):
            if strict and n and not out.requires_grad:
                raise RuntimeError(f"{fn}: output {o_index} of the user-provided function is independent of "
                                   f"input {i}. This is not allowed in strict mode.")
            block.append(_stack_rows(rows[i], out.shape, x, create_graph))
        blocks.append(block)
    return blocks


def _stack_rows(rows, out_shape, x, create_graph):
    if not rows:
        return make_tensor(np.zeros(tuple(out_shape) + tuple(x.shape), x.dtype))
    if create_graph:
        return reshape(stack(list(rows)), tuple(out_shape) + tuple(x.shape))
    return make_tensor(np.stack([r._data for r in rows]).reshape(tuple(out_shape) + tuple(x.shape)))


def _forward_jacobian(func, inputs, create_graph, strict, fn):
    """The same blocks, one forward pass with dual tensors per input element (columns of J)."""
    columns = None
    outputs_tuple = False
    primal_outputs = None
    for i, x in enumerate(inputs):
        for j in range(x.numel()):
            direction = [zeros_like(t) for t in inputs]
            basis = np.zeros(x.shape, x.dtype)
            basis.reshape(-1)[j] = 1.0
            direction[i] = make_tensor(basis)
            outs, tangents = jvp(func, tuple(inputs), tuple(direction), create_graph=create_graph, strict=False)
            outs_t, outputs_tuple = (outs, True) if isinstance(outs, tuple) else ((outs,), False)
            tangents = tangents if isinstance(tangents, tuple) else (tangents,)
            if columns is None:
                primal_outputs = outs_t
                columns = [[[] for _ in inputs] for _ in outs_t]
            for o, t in enumerate(tangents):
                columns[o][i].append(t)
    if columns is None:  # no input elements at all: one call for the outputs' shapes
        outs_t, outputs_tuple = _call(func, _prepare_inputs(inputs, False, fn), fn)
        primal_outputs = _finish(outs_t, False)
        columns = [[[] for _ in inputs] for _ in outs_t]
    blocks = []
    for o, out in enumerate(primal_outputs):
        block = []
        for i, x in enumerate(inputs):
            cols = columns[o][i]
            if strict and cols and all(not np.any(c._data) for c in cols) and out.numel():
                raise RuntimeError(f"{fn}: output {o} of the user-provided function is independent of input "
                                   f"{i}. This is not allowed in strict mode.")
            if not cols:
                block.append(make_tensor(np.zeros(tuple(out.shape) + tuple(x.shape), x.dtype)))
            elif create_graph:
                stacked = reshape(stack(cols), tuple(x.shape) + tuple(out.shape))
                nx, no = x.ndim, out.ndim
                block.append(permute(stacked, tuple(range(nx, nx + no)) + tuple(range(nx))))
            else:
                stacked = np.stack([c._data for c in cols]).reshape(tuple(x.shape) + tuple(out.shape))
                nx, no = x.ndim, out.ndim
                block.append(make_tensor(np.ascontiguousarray(
                    np.transpose(stacked, tuple(range(nx, nx + no)) + tuple(range(nx))))))
        blocks.append(block)
    return blocks, outputs_tuple


def _nest(blocks, outputs_tuple, inputs_tuple):
    if outputs_tuple:
        return tuple(_unpack(tuple(block), inputs_tuple) for block in blocks)
    return _unpack(tuple(blocks[0]), inputs_tuple)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``. For one input and one output: a Tensor of shape
    ``output.shape + input.shape``; with a tuple of inputs, a tuple over them; with a tuple of outputs, a
    tuple over the outputs of those. ``strategy="reverse-mode"`` (default) takes one backward per output
    element, ``"forward-mode"`` one forward pass per input element. ``vectorize`` is accepted for
    PyTorch compatibility and changes nothing (the rows are computed one by one)."""
    fn = "jacobian"
    if strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError(f"{fn}: strategy must be 'reverse-mode' or 'forward-mode', got {strategy!r}")
    inputs, inputs_tuple = _as_tuple(inputs, "inputs", fn)
    if strategy == "forward-mode":
        blocks, outputs_tuple = _forward_jacobian(func, inputs, create_graph, strict, fn)
        return _nest(blocks, outputs_tuple, inputs_tuple)
    xs = _prepare_inputs(inputs, create_graph, fn)
    outputs, outputs_tuple = _call(func, xs, fn)
    blocks = _reverse_jacobian(outputs, xs, create_graph, strict, fn)
    return _nest(blocks, outputs_tuple, inputs_tuple)


def _scalar_output(func, xs, fn):
    outputs, is_tuple = _call(func, xs, fn)
    if is_tuple or outputs[0].numel() != 1:
        raise RuntimeError(f"{fn}: the function given to {fn} must return a single Tensor with one element, got "
                           f"{len(outputs)} Tensors of shapes {[tuple(o.shape) for o in outputs]}")
    return outputs[0]


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a function with a one-element output: for one input a Tensor of shape
    ``input.shape + input.shape``; for a tuple of inputs a tuple of tuples, ``H[i][j]`` of shape
    ``inputs[i].shape + inputs[j].shape``. The gradient is recorded (one forward, one backward) and each
    row is one more backward through it (``outer_jacobian_strategy="forward-mode"``: one forward pass of
    the recorded gradient with dual tensors per input element instead)."""
    fn = "hessian"
    inputs, inputs_tuple = _as_tuple(inputs, "inputs", fn)
    if outer_jacobian_strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError(f"{fn}: outer_jacobian_strategy must be 'reverse-mode' or 'forward-mode', got "
                         f"{outer_jacobian_strategy!r}")

    def gradient(*xs):
        # (inside forward mode the inputs are dual leaves: they start recording here, tangents kept)
        xs = tuple(x if x.requires_grad else x.requires_grad_(True) for x in xs)
        with enable_grad():
            out = _scalar_output(func, xs, fn)
            return _grads([out], xs, [make_tensor(np.ones(out.shape, out.dtype))], True, strict, fn)

    if outer_jacobian_strategy == "forward-mode":
        blocks, _ = _forward_jacobian(gradient, inputs, create_graph, strict, fn)
    else:
        xs = _prepare_inputs(inputs, create_graph, fn)
        grads = gradient(*xs)
        blocks = _reverse_jacobian(grads, xs, create_graph, strict, fn)
    return _nest(blocks, True, inputs_tuple) if inputs_tuple else blocks[0][0]


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), vᵀ H)`` for a function with a one-element output (a double backward)."""
    return _hessian_product(func, inputs, v, create_graph, strict, "vhp")


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), H v)`` for a function with a one-element output (H is symmetric: the same double
    backward as ``vhp``)."""
    return _hessian_product(func, inputs, v, create_graph, strict, "hvp")


def _hessian_product(func, inputs, v, create_graph, strict, fn):
    inputs, inputs_tuple = _as_tuple(inputs, "inputs", fn)
    if v is None:
        v = _default_v(inputs, "input", fn)
    else:
        v, _ = _as_tuple(v, "v", fn)
        _check_v(v, inputs, "input", fn)
    xs = _prepare_inputs(inputs, create_graph, fn)
    out = _scalar_output(func, xs, fn)
    first = _grads([out], xs, [make_tensor(np.ones(out.shape, out.dtype))], True, strict, fn)
    products = _grads(first, xs, [t.detach() if not create_graph else t for t in v], create_graph, strict, fn,
                      retain_graph=create_graph)
    return out if create_graph else out.detach(), _unpack(_finish(products, create_graph), inputs_tuple)
