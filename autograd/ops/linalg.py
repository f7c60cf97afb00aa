"""Linear algebra: matmul (1-D, 2-D, batched, broadcast), dot, outer, solve, inv."""
import numpy as np

from ..dual import add_tangents
from ..function import Function
from .. import kernels
from .. import dual, tracing
from ..grad_mode import is_grad_enabled
from ..tensor import Tensor, make_tensor
from ._args import binary_operands
from .activations import ReluGrad
from .reduction import Sum
from .shape import broadcast_to, reshape, transpose, unsqueeze


def _product(a, b):
    """a @ b for two float matrices of one dtype (checked by the callers): BLAS, except for an outer
    product (inner size 1), which autograd.kernels.matmul may give to its faster Numba kernel."""
    rows, inner = a.shape
    if inner == 1:
        return kernels.matmul.matmul(a, b)
    if rows * inner * b.shape[1] < _SMALL_PRODUCT:
        return a.dot(b)  # the same BLAS call with less dispatch
    return a @ b  # (dot is slower on some large shapes)


_SMALL_PRODUCT = 1 << 18  # multiply-adds


def _mT(x):
    return transpose(x, -1, -2)


class MatMul(Function):
    """C = A @ B over the last two axes (leading axes broadcast);  dA = dC Bᵀ,  dB = Aᵀ dC.

    Its variants :class:`MatMulAT`, :class:`MatMulBT` and :class:`MatMulATBT` read an operand
    transposed (C = op(A) op(B), op(M) = Mᵀ), so backward multiplies by a transpose without a
    transpose op: BLAS reads it in place, and the graph of a double backward stays two matmuls per
    product. Which operands are transposed is the class's ``transposes``, not an argument: the op
    stays binary, which apply, the record and the walk handle on their fast paths.
    """

    transposes = (False, False)

    @classmethod
    def forward(cls, ctx, a, b):
        ctx.save_for_backward(a, b)
        transpose_a, transpose_b = cls.transposes
        if transpose_a:
            a = a.mT  # swapaxes(-1, -2), as an attribute: half its cost
        if transpose_b:
            b = b.mT
        if a.ndim == 2 and b.ndim == 2:
            return _product(a, b)
        return np.matmul(a, b)

    @classmethod
    def backward(cls, ctx, grad_output):
        a, b = ctx.saved_tensors
        ta, tb = cls.transposes
        need_a, need_b = ctx.needs_input_grad
        da = db = None
        if need_a:  # dA = dC op(B)ᵀ, or its transpose op(B) dCᵀ when A entered transposed
            if ta:
                da = MATMUL_OPS[tb, True].apply(b, grad_output)
            else:
                da = MATMUL_OPS[False, not tb].apply(grad_output, b)
        if need_b:  # dB = op(A)ᵀ dC, or its transpose dCᵀ op(A) when B entered transposed
            if tb:
                db = MATMUL_OPS[True, ta].apply(grad_output, a)
            else:
                db = MATMUL_OPS[not ta, False].apply(a, grad_output)
        return da, db

    @classmethod
    def jvp(cls, ctx, ta, tb):
        """Ċ = op(Ȧ) op(B) + op(A) op(Ḃ): the same product with each operand's tangent in turn."""
        a, b = ctx.saved_tensors
        da = None if ta is None else cls.apply(ta, b)
        db = None if tb is None else cls.apply(a, tb)
        return add_tangents(da, db)


class MatMulAT(MatMul):
    """C = Aᵀ B (A read transposed in place)."""
    transposes = (True, False)


class MatMulBT(MatMul):
    """C = A Bᵀ (B read transposed in place)."""
    transposes = (False, True)


class MatMulATBT(MatMul):
    """C = Aᵀ Bᵀ."""
    transposes = (True, True)


#: The product op for (transpose A, transpose B).
MATMUL_OPS = {op.transposes: op for op in (MatMul, MatMulAT, MatMulBT, MatMulATBT)}


def matmul(input, other):
    """Matrix product with numpy/PyTorch semantics: a 1-D operand is a vector (a row on the left, a
    column on the right, its axis removed from the result); leading batch axes broadcast."""
    if isinstance(input, Tensor) and isinstance(other, Tensor):
        a, b = input._data, other._data
        # The common case (two matrices of one float dtype) goes straight to the op: this call sits
        # on the critical path of every linear layer and costs as much as a 64×64 product.
        if a.ndim == 2 and b.ndim == 2 and a.dtype == b.dtype and a.dtype.kind == "f" \
                and a.shape[1] == b.shape[0]:
            if (input.requires_grad or other.requires_grad) and is_grad_enabled() or dual.active_levels:
                return MatMul.apply(input, other)
            return make_tensor(tracing.computed(_product, a, b), False, None, None)  # nothing to record
    return _matmul_general(input, other)


def _matmul_general(input, other):
    a, b = binary_operands(input, other, "matmul")
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"matmul: both arguments need at least 1 dimension, got shapes {a.shape} and "
                           f"{b.shape} (use * for scalars)")
    if a.dtype.kind != "f":
        return make_tensor(tracing.computed(np.matmul, a._data, b._data))
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise RuntimeError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be multiplied "
                           f"({k_a} != {k_b})")
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise RuntimeError(f"matmul: batch dimensions of {tuple(a.shape)} and {tuple(b.shape)} do not "
                           f"broadcast") from None
    vector_a, vector_b = a.ndim == 1, b.ndim == 1
    if vector_a:
        a = unsqueeze(a, 0)
    if vector_b:
        b = unsqueeze(b, -1)
    out = MatMul.apply(a, b)
    if vector_a or vector_b:
        shape = out.shape[:-2] + (() if vector_a else out.shape[-2:-1]) + (() if vector_b else out.shape[-1:])
        out = reshape(out, shape)
    return out


class Linear(Function):
    """y = x Wᵀ + b over the last axis of x (x: (..., in), W: (out, in), b: (out,) or None);
    dx = dy W,  dW = dyᵀ x,  db = Σ dy, both summed over all leading axes.

    One op instead of a transpose, a matmul and a broadcast add: the bias is added in place into the
    product's fresh output, and dW comes out of one BLAS call already in W's layout.
    """

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        out = _product(_rows(x), weight.T)
        if bias is not None:
            out += bias
        return out if x.ndim == 2 else out.reshape(x.shape[:-1] + (weight.shape[0],))

    @staticmethod
    def backward(ctx, grad_output):
        x, weight = ctx.saved_tensors
        return _linear_grads(ctx.needs_input_grad, grad_output, x, weight)

    @staticmethod
    def jvp(ctx, tx, tw, tb):
        """ẏ = ẋ Wᵀ + x Ẇᵀ + ḃ."""
        x, weight = ctx.saved_tensors
        return _linear_tangent(x, weight, tx, tw, tb)


class LinearRelu(Function):
    """y = max(x Wᵀ + b, 0): a linear layer and its ReLU as one op;  with dz = dy where y > 0,
    dx = dz W,  dW = dzᵀ x,  db = Σ dz.

    The bias and the ReLU are applied in one pass over the product while BLAS has just left it in
    cache, and the pre-activation is never stored (y > 0 says where it was positive).
    ``nn.Sequential`` uses it for a ``Linear`` followed by a ``ReLU``.
    """

    @staticmethod
    def forward(ctx, x, weight, bias):
        out = _product(_rows(x), weight.T)
        kernels.elementwise.bias_relu_(out, bias)
        if x.ndim != 2:
            out = out.reshape(x.shape[:-1] + (weight.shape[0],))
        ctx.save_for_backward(x, weight, out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        x, weight, y = ctx.saved_tensors
        return _linear_grads(ctx.needs_input_grad, ReluGrad.apply(grad_output, y), x, weight)

    @staticmethod
    def jvp(ctx, tx, tw, tb):
        """ẏ = (ẋ Wᵀ + x Ẇᵀ + ḃ) where y > 0."""
        x, weight, y = ctx.saved_tensors
        return ReluGrad.apply(_linear_tangent(x, weight, tx, tw, tb), y)


def _rows(x):
    return x if x.ndim == 2 else x.reshape(-1, x.shape[-1])


def _linear_grads(needs_input_grad, grad_output, x, weight):
    """(dx, dW, db) of y = x Wᵀ + b for the gradient ``grad_output`` of y."""
    need_x, need_w, need_b = needs_input_grad
    g = grad_output if grad_output.ndim == 2 else reshape(grad_output, (-1, weight.shape[0]))
    dx = dw = db = None
    if need_b:  # first, while g is still in cache (the products below stream other data through it)
        db = Sum.apply(g, (0,), False)
    if need_x:
        dx = MatMul.apply(g, weight)
        if x.ndim != 2:
            dx = reshape(dx, x.shape)
    if need_w:
        rows = x if x.ndim == 2 else reshape(x, (-1, x.shape[-1]))
        dw = MatMulAT.apply(g, rows)
    return dx, dw, db


def _linear_tangent(x, weight, tx, tw, tb):
    """ẋ Wᵀ + x Ẇᵀ + ḃ (None terms left out) for y = x Wᵀ + b."""
    out = None if tx is None else Linear.apply(tx, weight, tb)
    if tw is not None:
        term = Linear.apply(x, tw, tb if out is None else None)
        out = term if out is None else out + term
    if out is None:  # only the bias moves
        out = broadcast_to(tb, x.shape[:-1] + (weight.shape[0],))
    return out


def _check_linear(op, input, weight, bias):
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(f"{op}: input and weight must be Tensors, got {type(input).__name__} and "
                        f"{type(weight).__name__}")
    x, w = input._data, weight._data
    if w.ndim != 2 or x.ndim == 0 or x.shape[-1] != w.shape[1]:
        raise ValueError(f"{op}: input has {x.shape[-1] if x.ndim else 0} features (shape "
                         f"{tuple(x.shape)}) but weight has shape {tuple(w.shape)} "
                         f"(out_features, in_features={w.shape[-1] if w.ndim else '?'})")
    if bias is not None:
        if not isinstance(bias, Tensor):
            raise TypeError(f"{op}: bias must be a Tensor or None, got {type(bias).__name__}")
        if bias._data.shape != (w.shape[0],):
            raise ValueError(f"{op}: bias has shape {tuple(bias.shape)}, expected ({w.shape[0]},) "
                             f"for weight of shape {tuple(w.shape)}")
    if x.dtype != w.dtype or x.dtype.kind != "f" or (bias is not None and bias._data.dtype != w.dtype):
        dtypes = [str(t.dtype) for t in (input, weight, bias) if t is not None]
        raise TypeError(f"{op}: input, weight and bias must share one floating dtype, got "
                        f"{', '.join(dtypes)}")


def linear(input, weight, bias=None):
    """y = x Wᵀ + b, with ``weight`` of shape (out_features, in_features) (PyTorch's F.linear)."""
    _check_linear("linear", input, weight, bias)
    return Linear.apply(input, weight, bias)


def linear_relu(input, weight, bias=None):
    """relu(x Wᵀ + b) as one op (:class:`LinearRelu`); same arguments as :func:`linear`."""
    _check_linear("linear_relu", input, weight, bias)
    return LinearRelu.apply(input, weight, bias)


def mm(input, mat2):
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"mm: expected 2-D tensors, got shapes {input.shape} and {mat2.shape}")
    return matmul(input, mat2)


def dot(input, other):
    """Inner product of two 1-D tensors of the same length."""
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"dot: 1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors")
    if input.shape != other.shape:
        raise RuntimeError(f"dot: inconsistent tensor size, expected tensor {input.shape} and src "
                           f"{other.shape} to have the same number of elements")
    return matmul(input, other)


inner = dot


def outer(input, vec2):
    """Outer product uvᵀ of two 1-D tensors."""
    if input.ndim != 1 or vec2.ndim != 1:
        raise RuntimeError(f"outer: 1D tensors expected, got shapes {input.shape} and {vec2.shape}")
    return unsqueeze(input, 1) * unsqueeze(vec2, 0)


ger = outer


def _linalg_error(op, error):
    return RuntimeError(f"linalg.{op}: the input matrix is singular (or not square), so it has no "
                        f"inverse: {error}")


class Solve(Function):
    """X = A⁻¹B (solving AX = B);  dB = A⁻ᵀ dX,  dA = −dB Xᵀ."""

    @staticmethod
    def forward(ctx, a, b):
        try:
            x = np.linalg.solve(a, b)
        except np.linalg.LinAlgError as error:
            raise _linalg_error("solve", error) from None
        ctx.save_for_backward(a, x)
        return x

    @staticmethod
    def backward(ctx, grad_output):
        a, x = ctx.saved_tensors
        db = Solve.apply(_mT(a), grad_output)
        da = -matmul(db, _mT(x)) if ctx.needs_input_grad[0] else None
        return da, db

    @staticmethod
    def jvp(ctx, ta, tb):
        """Ẋ = A⁻¹(Ḃ − Ȧ X)."""
        a, x = ctx.saved_tensors
        rhs = tb if ta is None else (-matmul(ta, x) if tb is None else tb - matmul(ta, x))
        return Solve.apply(a, rhs)


def solve(A, B):
    """The X with A X = B for square (batched) A; B is a vector (n,) or a matrix (..., n, k)."""
    A, B = binary_operands(A, B, "linalg.solve", floating=True)
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"linalg.solve: A must be a batch of square matrices, got shape {A.shape}")
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and B.shape == A.shape[:-1])
    if vector:
        B = unsqueeze(B, -1)
    if B.shape[-2] != A.shape[-1]:
        raise RuntimeError(f"linalg.solve: incompatible shapes of A {A.shape} and B {B.shape}")
    batch = np.broadcast_shapes(A.shape[:-2], B.shape[:-2])
    A = broadcast_to(A, batch + A.shape[-2:])
    B = broadcast_to(B, batch + B.shape[-2:])
    X = Solve.apply(A, B)
    return reshape(X, X.shape[:-1]) if vector else X


class Inv(Function):
    """Y = A⁻¹;  dA = −Yᵀ dY Yᵀ."""

    @staticmethod
    def forward(ctx, a):
        try:
            y = np.linalg.inv(a)
        except np.linalg.LinAlgError as error:
            raise _linalg_error("inv", error) from None
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        yt = _mT(y)
        return -matmul(matmul(yt, grad_output), yt)

    @staticmethod
    def jvp(ctx, ta):
        """Ẏ = −Y Ȧ Y."""
        (y,) = ctx.saved_tensors
        return -matmul(matmul(y, ta), y)


def inv(A):
    from ._args import floating
    A = floating(A)
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"linalg.inv: A must be a batch of square matrices, got shape {A.shape}")
    return Inv.apply(A)
