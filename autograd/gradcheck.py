"""Gradient checking by central finite differences in float64.

* ``numerical_grad(fn, inputs)``: ∂/∂xᵢ Σ fn(x)·v ≈ (f(x + εeᵢ) − f(x − εeᵢ)) / 2ε for every element.
* ``gradcheck(fn, inputs)``: the full Jacobian from autograd (one backward per output element) against
  the finite-difference Jacobian (two forwards per input element).
* ``check_grad(fn, inputs, analytic)``: autograd against a gradient formula written by hand;
  ``check_jacobian`` and ``check_hessian`` the same for a Jacobian or a Hessian.
* ``gradgradcheck(fn, inputs)``: second derivatives, by gradcheck of the recorded gradient.

A mismatch raises :class:`GradcheckError` naming the input, the element most over tolerance, its
index and both values, so the message alone says where to look.
"""
import numpy as np

from . import dtypes
from .engine import grad as autograd_grad
from .grad_mode import enable_grad
from .tensor import Tensor, make_tensor


class GradcheckError(RuntimeError):
    """Autograd's gradient disagrees with the finite-difference (or hand-derived) one."""


def _as_list(inputs):
    return [inputs] if isinstance(inputs, Tensor) else list(inputs)


def _outputs(result):
    return [result] if isinstance(result, Tensor) else [r for r in result if isinstance(r, Tensor)]


def _float64_inputs(inputs):
    """Copies of the inputs in float64 (finite differences in float32 are too coarse to check anything)."""
    converted = []
    for x in inputs:
        if isinstance(x, Tensor) and x.dtype.kind == "f":
            copy = make_tensor(x._data.astype(dtypes.float64), False, None, None)
            converted.append(copy.requires_grad_(x.requires_grad))
        else:
            converted.append(x)
    return converted


def _evaluate(fn, inputs):
    """``fn(*inputs)`` run as a user runs it, with gradients recorded: a function that registers a hook on
    an intermediate (``y.register_hook(...)``), or calls ``retain_grad``, works as it does in training
    (under no_grad those raise: the intermediate does not require grad)."""
    with enable_grad():
        return fn(*inputs)


def numerical_grad(fn, inputs, eps=1e-6, grad_output=None):
    """Central-difference gradient of ``sum(fn(*inputs) * grad_output)`` for each input (numpy arrays).

    ``grad_output`` defaults to ones (so for a scalar output this is just the gradient). Inputs that are
    not floating tensors get ``None``.
    """
    inputs = _float64_inputs(_as_list(inputs))

    def objective():
        outs = _outputs(_evaluate(fn, inputs))
        total = 0.0
        for k, out in enumerate(outs):
            weights = np.ones(out.shape) if grad_output is None else np.asarray(
                grad_output[k] if isinstance(grad_output, (list, tuple)) else grad_output, dtype=np.float64)
            total += float(np.sum(out._data.astype(np.float64) * weights))
        return total

    grads = []
    for x in inputs:
        if not (isinstance(x, Tensor) and x.dtype.kind == "f"):
            grads.append(None)
            continue
        flat = x._data.reshape(-1)
        g = np.zeros(flat.shape, dtype=np.float64)
        for i in range(flat.size):
            original = flat[i]
            flat[i] = original + eps
            plus = objective()
            flat[i] = original - eps
            minus = objective()
            flat[i] = original
            g[i] = (plus - minus) / (2 * eps)
        grads.append(g.reshape(x.shape))
    return grads


def _numerical_jacobians(fn, inputs, eps):
    """For each differentiable input, the array J[input element, output element] of the flat outputs."""
    def flat_outputs():
        outs = _outputs(_evaluate(fn, inputs))
        return np.concatenate([o._data.astype(np.float64).reshape(-1) for o in outs]) if outs else np.zeros(0)

    jacobians = {}
    for k, x in enumerate(inputs):
        if not (isinstance(x, Tensor) and x.requires_grad):
            continue
        flat = x._data.reshape(-1)
        rows = []
        for i in range(flat.size):
            original = flat[i]
            flat[i] = original + eps
            plus = flat_outputs()
            flat[i] = original - eps
            minus = flat_outputs()
            flat[i] = original
            rows.append((plus - minus) / (2 * eps))
        jacobians[k] = np.array(rows).reshape(flat.size, -1)
    return jacobians


def _analytic_jacobians(fn, inputs):
    differentiable = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    outs = _outputs(fn(*inputs))
    sizes = [o._data.size for o in outs]
    columns = {k: [] for k, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad}
    for out_index, out in enumerate(outs):
        for j in range(out._data.size):
            if not out.requires_grad:
                for k in columns:
                    columns[k].append(np.zeros(inputs[k]._data.size))
                continue
            seed = np.zeros(out.shape, dtype=out.dtype)
            seed.reshape(-1)[j] = 1.0
            grads = autograd_grad([out], differentiable, [Tensor(seed)], retain_graph=True, allow_unused=True)
            for (k, column), g in zip(columns.items(), grads):
                column.append(np.zeros(inputs[k]._data.size) if g is None else
                              g._data.astype(np.float64).reshape(-1))
    return {k: (np.array(c).T if c else np.zeros((inputs[k]._data.size, 0))) for k, c in columns.items()}, sizes


def _worst(analytic, numeric, atol, rtol):
    excess = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
    excess = np.where(np.isnan(analytic) != np.isnan(numeric), np.inf, np.nan_to_num(excess, nan=-np.inf))
    flat = int(np.argmax(excess))
    return flat, excess.reshape(-1)[flat]


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """Check autograd's full Jacobian of ``fn`` at ``inputs`` against central finite differences.

    Floating inputs are copied to float64 first. Returns True, or on mismatch raises ``GradcheckError``
    (``raise_exception=False``: returns False) naming the input, the output element and input element
    most over tolerance (|analytic − numeric| − (atol + rtol·|numeric|)) and both values.
    """
    inputs = _float64_inputs(_as_list(inputs))
    if not any(isinstance(x, Tensor) and x.requires_grad for x in inputs):
        raise ValueError("gradcheck: at least one input tensor must have requires_grad=True")
    numeric = _numerical_jacobians(fn, inputs, eps)
    analytic, out_sizes = _analytic_jacobians(fn, inputs)
    for k, num in numeric.items():
        ana = analytic[k]
        if ana.shape != num.shape:
            return _fail(raise_exception, f"gradcheck: Jacobian shapes differ for input {k}: analytic "
                                          f"{ana.shape}, numerical {num.shape}")
        if num.size == 0:
            continue
        flat, excess = _worst(ana, num, atol, rtol)
        if excess > 0:
            in_flat, out_flat = np.unravel_index(flat, num.shape)
            in_index = np.unravel_index(in_flat, inputs[k].shape) if inputs[k].ndim else ()
            out_number, out_offset = _locate_output(out_flat, out_sizes)
            return _fail(raise_exception,
                         f"gradcheck: Jacobian mismatch for input {k} (shape {tuple(inputs[k].shape)}) at "
                         f"input index {tuple(int(i) for i in in_index)}, output {out_number} element "
                         f"{out_offset}:\n  analytic  = {ana[in_flat, out_flat]!r}\n  numerical = "
                         f"{num[in_flat, out_flat]!r}\n  |difference| exceeds atol + rtol·|numerical| "
                         f"by {excess:.3g} (atol={atol}, rtol={rtol})")
    return True


def _locate_output(flat, sizes):
    for number, size in enumerate(sizes):
        if flat < size:
            return number, int(flat)
        flat -= size
    return len(sizes) - 1, int(flat)


def _fail(raise_exception, message):
    if raise_exception:
        raise GradcheckError(message)
    return False


def check_grad(fn, inputs, analytic, atol=1e-5, rtol=1e-3):
    """Compare autograd's gradient of ``fn(*inputs).sum()`` with ``analytic(*arrays)``, a hand formula.

    ``analytic`` takes the inputs as float64 numpy arrays and returns one gradient per input that
    requires grad (a single array when there is one). Returns True or raises ``GradcheckError``.
    """
    inputs = _float64_inputs(_as_list(inputs))
    differentiable = [k for k, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not differentiable:
        raise ValueError("check_grad: at least one input tensor must have requires_grad=True")
    outs = _outputs(fn(*inputs))
    total = outs[0].sum()
    for out in outs[1:]:
        total = total + out.sum()
    auto = autograd_grad([total], [inputs[k] for k in differentiable], allow_unused=True)
    arrays = [x._data if isinstance(x, Tensor) else x for x in inputs]
    expected = analytic(*arrays)
    if isinstance(expected, np.ndarray) or np.isscalar(expected) or len(differentiable) == 1 and not isinstance(
            expected, (list, tuple)):
        expected = [expected]
    if len(expected) != len(differentiable):
        raise ValueError(f"check_grad: analytic returned {len(expected)} gradients for "
                         f"{len(differentiable)} inputs that require grad")
    for k, got, want in zip(differentiable, auto, expected):
        got = np.zeros(inputs[k].shape) if got is None else got._data
        _compare_analytic("check_grad", "gradient", f"input {k}", inputs[k].shape, got, want, atol, rtol)
    return True


def _compare_analytic(op, what, name, input_shape, got, want, atol, rtol):
    """Raise ``GradcheckError`` at the element of ``got`` (autograd) most over tolerance against ``want``."""
    got = np.asarray(got, dtype=np.float64)
    try:
        want = np.broadcast_to(np.asarray(want, dtype=np.float64), got.shape)
    except ValueError:
        raise ValueError(f"{op}: the analytic {what} for {name} has shape {np.shape(want)}, expected "
                         f"{got.shape}") from None
    flat, excess = _worst(got, want, atol, rtol)
    if excess > 0:
        index = tuple(int(i) for i in np.unravel_index(flat, got.shape)) if got.ndim else ()
        raise GradcheckError(
            f"{op}: autograd and the analytic {what} differ for {name} (shape {tuple(input_shape)}) at index "
            f"{index}:\n  autograd = {got.reshape(-1)[flat]!r}\n  analytic = {want.reshape(-1)[flat]!r}\n"
            f"  |difference| exceeds atol + rtol·|analytic| by {excess:.3g} (atol={atol}, rtol={rtol})")


def _analytic_list(expected, count, op, what):
    if count == 1 and not isinstance(expected, (list, tuple)):
        return [expected]
    expected = list(expected)
    if len(expected) != count:
        raise ValueError(f"{op}: analytic returned {len(expected)} {what}s for {count} inputs that require grad")
    return expected


def _of_differentiable_inputs(fn, inputs, op):
    """(float64 inputs, positions of those that require grad, fn as a function of those alone)."""
    inputs = _float64_inputs(_as_list(inputs))
    differentiable = [k for k, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not differentiable:
        raise ValueError(f"{op}: at least one input tensor must have requires_grad=True")

    def restricted(*xs):
        full = list(inputs)
        for k, x in zip(differentiable, xs):
            full[k] = x
        out = fn(*full)
        if not isinstance(out, Tensor):
            raise TypeError(f"{op}: fn must return one Tensor, got {type(out).__name__}")
        return out
    return inputs, differentiable, restricted


def check_jacobian(fn, inputs, analytic, atol=1e-5, rtol=1e-3):
    """Compare autograd's Jacobian of ``fn`` (one output Tensor) with ``analytic(*arrays)``, a hand formula.

    ``analytic`` takes the inputs as float64 numpy arrays and returns, per input that requires grad, the
    Jacobian of shape ``output.shape + input.shape`` (a single array when there is one input), e.g. the
    softmax Jacobian ``diag(p) − p pᵀ``. Returns True or raises ``GradcheckError`` naming the input, the
    worst element's index (output index, then input index) and both values."""
    from .functional import jacobian
    inputs, differentiable, restricted = _of_differentiable_inputs(fn, inputs, "check_jacobian")
    jac = jacobian(restricted, tuple(inputs[k] for k in differentiable))
    arrays = [x._data if isinstance(x, Tensor) else x for x in inputs]
    expected = _analytic_list(analytic(*arrays), len(differentiable), "check_jacobian", "Jacobian")
    for k, got, want in zip(differentiable, jac, expected):
        _compare_analytic("check_jacobian", "Jacobian", f"input {k}", inputs[k].shape, got._data, want, atol, rtol)
    return True


def check_hessian(fn, inputs, analytic, atol=1e-5, rtol=1e-3):
    """Compare autograd's Hessian of ``fn`` (a one-element output) with ``analytic(*arrays)``.

    For one input requiring grad, ``analytic`` returns the Hessian of shape ``input.shape + input.shape``
    (e.g. ridge regression's ``2(XᵀX + λI)``); for several, the blocks ``H[i][j]`` as a nested list.
    Returns True or raises ``GradcheckError`` naming the block, the worst element and both values."""
    from .functional import hessian
    inputs, differentiable, restricted = _of_differentiable_inputs(fn, inputs, "check_hessian")
    many = len(differentiable) > 1
    hess = hessian(restricted, tuple(inputs[k] for k in differentiable) if many else inputs[differentiable[0]])
    arrays = [x._data if isinstance(x, Tensor) else x for x in inputs]
    expected = analytic(*arrays)
    if not many:
        _compare_analytic("check_hessian", "Hessian", f"input {differentiable[0]}", inputs[differentiable[0]].shape,
                          hess._data, expected, atol, rtol)
        return True
    expected = _analytic_list(expected, len(differentiable), "check_hessian", "row of Hessian block")
    for a, (ka, row, want_row) in enumerate(zip(differentiable, hess, expected)):
        want_row = _analytic_list(want_row, len(differentiable), "check_hessian", "Hessian block")
        for kb, got, want in zip(differentiable, row, want_row):
            _compare_analytic("check_hessian", "Hessian", f"block (input {ka}, input {kb})",
                              tuple(inputs[ka].shape) + tuple(inputs[kb].shape), got._data, want, atol, rtol)
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """Check second derivatives: gradcheck of ``(inputs, v) -> grad(fn(inputs), inputs, v, create_graph=True)``
    against finite differences, in the inputs and in ``v`` (as ``torch.autograd.gradgradcheck``).

    ``grad_outputs`` (one Tensor per output) is ``v``; when None, a fixed random one is drawn (seeded, so a
    failure reproduces). Returns True or raises ``GradcheckError`` like ``gradcheck``."""
    inputs = _float64_inputs(_as_list(inputs))
    differentiable = [k for k, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not differentiable:
        raise ValueError("gradgradcheck: at least one input tensor must have requires_grad=True")
    outs = _outputs(_evaluate(fn, inputs))
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = [make_tensor(rng.standard_normal(o.shape)) for o in outs]
    else:
        grad_outputs = [grad_outputs] if isinstance(grad_outputs, Tensor) else list(grad_outputs)
        if len(grad_outputs) != len(outs):
            raise ValueError(f"gradgradcheck: got {len(grad_outputs)} grad_outputs for {len(outs)} outputs")
        for i, (g, o) in enumerate(zip(grad_outputs, outs)):
            if tuple(g.shape) != tuple(o.shape):
                raise ValueError(f"gradgradcheck: grad_outputs[{i}] has shape {tuple(g.shape)} but output {i} "
                                 f"has shape {tuple(o.shape)}")
    vs = [make_tensor(np.array(g._data if isinstance(g, Tensor) else g, dtype=np.float64)).requires_grad_(True)
          for g in grad_outputs]
    count = len(inputs)

    def first_derivatives(*args):
        xs, v = list(args[:count]), args[count:]
        with enable_grad():
            results = _outputs(fn(*xs))
            used = [(o, g) for o, g in zip(results, v) if o.requires_grad]
            wanted = [xs[k] for k in differentiable]
            if not used:
                return tuple(make_tensor(np.zeros(x.shape)) for x in wanted)
            grads = autograd_grad([o for o, _ in used], wanted, [g for _, g in used], create_graph=True,
                                  allow_unused=True)
        return tuple(make_tensor(np.zeros(x.shape)) if g is None else g for g, x in zip(grads, wanted))
    return gradcheck(first_derivatives, inputs + vs, eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception)
