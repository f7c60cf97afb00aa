"""Arithmetic: + - * / ** neg, maximum/minimum, where, clamp. Operands broadcast like numpy; the engine
sums each gradient back to its operand's shape, so the backward formulas here ignore broadcasting."""
import numpy as np

from .. import dual, fp_errors
from ..function import Function
from ..tensor import Tensor
from ._args import binary_operands, computed, constant


class Add(Function):
    """z = a + b;  da = dz, db = dz."""

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output, grad_output

    @staticmethod
    def jvp(ctx, ta, tb):
        """ż = ȧ + ḃ."""
        return ta if tb is None else tb if ta is None else ta + tb


class Sub(Function):
    """z = a − b;  da = dz, db = −dz."""

    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output, (-grad_output if ctx.needs_input_grad[1] else None)

    @staticmethod
    def jvp(ctx, ta, tb):
        """ż = ȧ − ḃ."""
        return ta if tb is None else -tb if ta is None else ta - tb


class Mul(Function):
    """z = a·b;  da = dz·b, db = dz·a."""

    @staticmethod
    def forward(ctx, a, b):
        needs = ctx.needs_input_grad
        if needs and not (needs[0] and needs[1]) and not dual.active_levels:
            # only the operand the gradient needs (da needs b, db needs a), as torch: x * 1 must not
            # hold x, or writing into x afterwards would be a false in-place error at backward
            ctx.save_for_backward(None, b) if needs[0] else ctx.save_for_backward(a, None)
        else:
            ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        da, db = ctx.needs_input_grad
        # Mul.apply, not `*`: the operands already share a dtype, so the operator's checks are not needed
        return (Mul.apply(grad_output, b) if da else None), (Mul.apply(grad_output, a) if db else None)

    @staticmethod
    def jvp(ctx, ta, tb):
        """ż = ȧ·b + a·ḃ."""
        a, b = ctx.saved_tensors
        da = None if ta is None else Mul.apply(ta, b)
        db = None if tb is None else Mul.apply(a, tb)
        return da if db is None else db if da is None else da + db


class Div(Function):
    """z = a / b;  da = dz / b, db = −dz·a / b² = −(dz / b)·z  (two ops, and no b² to overflow)."""

    @staticmethod
    def forward(ctx, a, b):
        if fp_errors.current() is fp_errors.IGNORE_ALL:  # in backward (da = dz / b): already silenced
            z = a / b
        else:
            errors = fp_errors.enter(fp_errors.IGNORE_ALL)  # try/finally: cheaper than a `with` block on this per-op path
            try:
                z = a / b
            finally:
                fp_errors.leave(errors)
        ctx.save_for_backward(b, z)
        return z

    @staticmethod
    def backward(ctx, grad_output):
        b, z = ctx.saved_tensors
        need_b = ctx.needs_input_grad[1]
        da = Div.apply(grad_output, b)  # needed for db too (the ops directly: operands share a float dtype)
        return da, (NegMul.apply(da, z) if need_b else None)

    @staticmethod
    def jvp(ctx, ta, tb):
        """ż = (ȧ − ḃ·z) / b."""
        b, z = ctx.saved_tensors
        if tb is None:
            return Div.apply(ta, b)
        numerator = -(tb * z) if ta is None else ta - tb * z
        return Div.apply(numerator, b)


class NegMul(Function):
    """z = −(a·b);  da = −dz·b, db = −dz·a. Div's gradient of b as one op instead of a product and a
    negation (the same values: negation is exact)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return -(a * b)

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        da, db = ctx.needs_input_grad
        return (NegMul.apply(grad_output, b) if da else None), (NegMul.apply(grad_output, a) if db else None)

    @staticmethod
    def jvp(ctx, ta, tb):
        """ż = −(ȧ·b + a·ḃ) (it saves a and b, as Mul does)."""
        return -Mul.jvp(ctx, ta, tb)


class Neg(Function):
    """y = −x;  dx = −dy."""

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, grad_output):
        return -grad_output

    @staticmethod
    def jvp(ctx, tx):
        """ẏ = −ẋ."""
        return -tx


class PowScalar(Function):
    """y = xᵖ for a constant p;  dx = dy·p·xᵖ⁻¹."""

    @staticmethod
    def forward(ctx, x, exponent):
        ctx.save_for_backward(x)
        ctx.exponent = exponent
        with fp_errors.ignored():
            return x ** exponent

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        p = ctx.exponent
        if p == 0:
            return grad_output * 0.0, None
        if p == 1:
            return grad_output, None
        if p == 2:
            return grad_output * (x * 2.0), None
        return grad_output * (pow(x, p - 1) * p), None

    @staticmethod
    def jvp(ctx, tx, _):
        """ẏ = ẋ·p·xᵖ⁻¹."""
        (x,) = ctx.saved_tensors
        p = ctx.exponent
        if p == 0:
            return tx * 0.0
        if p == 1:
            return tx
        if p == 2:
            return tx * (x * 2.0)
        return tx * (pow(x, p - 1) * p)


class Pow(Function):
    """z = aᵇ;  da = dz·b·aᵇ⁻¹,  db = dz·aᵇ·ln a (taken as 0 where a = 0 and b ≥ 0, as PyTorch does)."""

    @staticmethod
    def forward(ctx, a, b):
        with fp_errors.ignored():
            out = a ** b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        from .unary import log
        a, b, out = ctx.saved_tensors
        da = grad_output * b * pow(a, b - 1.0) if ctx.needs_input_grad[0] else None
        db = None
        if ctx.needs_input_grad[1]:
            base_is_zero = (a == 0) & (b >= 0)
            safe_a = where(base_is_zero, 1.0, a)
            db = where(base_is_zero, 0.0, grad_output * out * log(safe_a))
        return da, db

    @staticmethod
    def jvp(ctx, ta, tb):
        """ż = ȧ·b·aᵇ⁻¹ + ḃ·aᵇ·ln a (the ln a term taken as 0 where a = 0 and b ≥ 0)."""
        from .unary import log
        a, b, out = ctx.saved_tensors
        total = None if ta is None else ta * b * pow(a, b - 1.0)
        if tb is not None:
            base_is_zero = (a == 0) & (b >= 0)
            term = where(base_is_zero, 0.0, tb * out * log(where(base_is_zero, 1.0, a)))
            total = term if total is None else total + term
        return total


class Maximum(Function):
    """z = max(a, b);  the gradient goes to the larger operand, split evenly on ties (as PyTorch)."""

    @staticmethod
    def forward(ctx, a, b):
        share = (a > b).astype(a.dtype) + 0.5 * (a == b)
        ctx.save_for_backward(share.astype(a.dtype, copy=False))
        return np.maximum(a, b)

    @staticmethod
    def backward(ctx, grad_output):
        (share,) = ctx.saved_tensors
        return grad_output * share, grad_output * (1.0 - share)

    @staticmethod
    def jvp(ctx, ta, tb):
        """ż = ȧ·s + ḃ·(1 − s), s the share of a (1, 0, or ½ on ties, as in backward)."""
        (share,) = ctx.saved_tensors
        da = None if ta is None else ta * share
        db = None if tb is None else tb * (1.0 - share)
        return da if db is None else db if da is None else da + db


class Minimum(Function):
    """z = min(a, b);  the gradient goes to the smaller operand, split evenly on ties."""

    @staticmethod
    def forward(ctx, a, b):
        share = (a < b).astype(a.dtype) + 0.5 * (a == b)
        ctx.save_for_backward(share.astype(a.dtype, copy=False))
        return np.minimum(a, b)

    @staticmethod
    def backward(ctx, grad_output):
        (share,) = ctx.saved_tensors
        return grad_output * share, grad_output * (1.0 - share)

    jvp = Maximum.jvp  # the same rule with the share of the smaller operand


class Where(Function):
    """z = a where cond else b;  da = dz where cond, db = dz elsewhere."""

    @staticmethod
    def forward(ctx, condition, a, b):
        ctx.save_for_backward(condition)
        return np.where(condition, a, b)

    @staticmethod
    def backward(ctx, grad_output):
        (condition,) = ctx.saved_tensors
        zero = constant(0, grad_output.dtype)
        da = Where.apply(condition, grad_output, zero) if ctx.needs_input_grad[1] else None
        db = Where.apply(condition, zero, grad_output) if ctx.needs_input_grad[2] else None
        return None, da, db

    @staticmethod
    def jvp(ctx, _, ta, tb):
        """ż = ȧ where cond else ḃ (a missing tangent is 0)."""
        (condition,) = ctx.saved_tensors
        zero = constant(0, (ta if ta is not None else tb).dtype)
        return Where.apply(condition, zero if ta is None else ta, zero if tb is None else tb)


class Clamp(Function):
    """y = min(max(x, low), high);  dx = dy where low ≤ x ≤ high, else 0 (PyTorch's convention)."""

    @staticmethod
    def forward(ctx, x, low, high):
        inside = np.ones(x.shape, dtype=bool)
        if low is not None:
            inside &= x >= low
        if high is not None:
            inside &= x <= high
        ctx.save_for_backward(inside)
        return np.clip(x, low, high)

    @staticmethod
    def backward(ctx, grad_output):
        (inside,) = ctx.saved_tensors
        return Where.apply(inside, grad_output, constant(0, grad_output.dtype)), None, None

    @staticmethod
    def jvp(ctx, tx, _low, _high):
        """ẏ = ẋ where low ≤ x ≤ high, else 0."""
        (inside,) = ctx.saved_tensors
        return Where.apply(inside, tx, constant(0, tx.dtype))


# ---------------------------------------------------------------------- functions
# The binary functions first check inline for the common case (two tensors of one dtype), which
# binary_operands would return unchanged: they run for every op, in forward and in backward formulas.
def add(input, other, alpha=1):
    if alpha != 1:
        other = mul(other, alpha)
    elif isinstance(input, Tensor) and isinstance(other, Tensor) and input._data.dtype == other._data.dtype:
        return Add.apply(input, other)
    a, b = binary_operands(input, other, "add")
    return Add.apply(a, b)


def sub(input, other, alpha=1):
    if alpha != 1:
        other = mul(other, alpha)
    elif isinstance(input, Tensor) and isinstance(other, Tensor) and input._data.dtype == other._data.dtype:
        return Sub.apply(input, other)
    a, b = binary_operands(input, other, "sub")
    return Sub.apply(a, b)


def mul(input, other):
    if isinstance(input, Tensor) and isinstance(other, Tensor) and input._data.dtype == other._data.dtype:
        return Mul.apply(input, other)
    a, b = binary_operands(input, other, "mul")
    return Mul.apply(a, b)


def div(input, other, rounding_mode=None):
    if (rounding_mode is None and isinstance(input, Tensor) and isinstance(other, Tensor)
            and input._data.dtype == other._data.dtype and input._data.dtype.kind == "f"):
        return Div.apply(input, other)
    if rounding_mode is not None:
        a, b = binary_operands(input, other, "div")
        fn = {"floor": np.floor_divide, "trunc": lambda x, y: np.trunc(x / y).astype(x.dtype)}
        if rounding_mode not in fn:
            raise ValueError(f"div: rounding_mode must be None, 'floor' or 'trunc', got {rounding_mode!r}")
        with fp_errors.ignored():
            return computed(fn[rounding_mode], a._data, b._data, dtype=a.dtype)
    a, b = binary_operands(input, other, "div", floating=True)
    return Div.apply(a, b)


true_divide = divide = div
subtract = sub
multiply = mul


def neg(input):
    return Neg.apply(input)


negative = neg


def pow(input, exponent):
    """``input ** exponent``; a Python-number exponent is a constant (cheaper, no log in backward)."""
    if isinstance(input, Tensor) and not isinstance(exponent, Tensor) and np.ndim(exponent) == 0:
        if input.dtype.kind != "f" and (isinstance(exponent, float) or exponent < 0):
            input = input.float()
        return PowScalar.apply(input, exponent)
    a, b = binary_operands(input, exponent, "pow")
    return Pow.apply(a, b)


def square(input):
    return mul(input, input)


def maximum(input, other):
    a, b = binary_operands(input, other, "maximum")
    return Maximum.apply(a, b)


def minimum(input, other):
    a, b = binary_operands(input, other, "minimum")
    return Minimum.apply(a, b)


def where(condition, input, other):
    """Elementwise ``input if condition else other`` (the three broadcast together)."""
    condition = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    if condition.dtype != np.bool_:
        raise TypeError(f"where: condition must be a bool tensor, got {condition.dtype}")
    a, b = binary_operands(input, other, "where")
    return Where.apply(constant(condition, np.bool_), a, b)


def clamp(input, min=None, max=None):
    """Limit values to [min, max]; either bound may be None or a Tensor."""
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = input
        if min is not None:
            out = maximum(out, min)
        if max is not None:
            out = minimum(out, max)
        return out
    return Clamp.apply(input, min, max)


clip = clamp
