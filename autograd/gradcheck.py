"""Gradient checking by central finite differences in float64.

* ``numerical_grad(fn, inputs)``: ∂/∂xᵢ Σ fn(x)·v ≈ (f(x + εeᵢ) − f(x − εeᵢ)) / 2ε for every element.
* ``gradcheck(fn, inputs)``: the full Jacobian from autograd (one backward per output element) against
  the finite-difference Jacobian (two forwards per input element).
* ``check_grad(fn, inputs, analytic)``: autograd against a gradient formula written by hand.

A mismatch raises :class:`GradcheckError` naming the input, the element most over tolerance, its
index and both values, so the message alone says where to look.
"""
import numpy as np

from . import dtypes
from .engine import grad as autograd_grad
from .grad_mode import no_grad
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


def numerical_grad(fn, inputs, eps=1e-6, grad_output=None):
    """Central-difference gradient of ``sum(fn(*inputs) * grad_output)`` for each input (numpy arrays).

    ``grad_output`` defaults to ones (so for a scalar output this is just the gradient). Inputs that are
    not floating tensors get ``None``.
    """
    inputs = _float64_inputs(_as_list(inputs))

    def objective():
        with no_grad():
            outs = _outputs(fn(*inputs))
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
        with no_grad():
            outs = _outputs(fn(*inputs))
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
        want = np.broadcast_to(np.asarray(want, dtype=np.float64), inputs[k].shape)
        flat, excess = _worst(got, want, atol, rtol)
        if excess > 0:
            index = tuple(int(i) for i in np.unravel_index(flat, got.shape)) if got.ndim else ()
            raise GradcheckError(
                f"check_grad: autograd and the analytic gradient differ for input {k} (shape "
                f"{tuple(inputs[k].shape)}) at index {index}:\n  autograd = {got.reshape(-1)[flat]!r}\n"
                f"  analytic = {want.reshape(-1)[flat]!r}\n  |difference| exceeds atol + rtol·|analytic| "
                f"by {excess:.3g} (atol={atol}, rtol={rtol})")
    return True
