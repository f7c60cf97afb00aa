"""Attach the op functions to ``Tensor`` as methods and operators (``x.exp()``, ``x + y``, ``x[i]``),
so each op is written once, as a function of ``autograd``, and reached both ways (as in PyTorch)."""
from .ops import activations, arithmetic, conversion, indexing, inplace, join, linalg, reduction, shape, unary
from . import creation as _creation
from .ops import batched, cumulative, einsum as _einsum, masking, sorting  # noqa: F401  (sequence-model ops)
from . import dtypes
from . import engine
from .tensor import Tensor


def _unsupported_cast(name, dtype):
    """``x.int()``, ``x.half()``...: PyTorch's casts to dtypes numbagrad does not hold, refused clearly."""
    def method(self, *args, **kwargs):
        raise TypeError(dtypes.unsupported_message(dtype, f"Tensor.{name}()"))
    method.__name__ = name
    return method


def _reflected(fn):
    def method(self, other):
        return fn(other, self)
    return method


def _inplace_operator(fn):
    def method(self, other):
        return fn(self, other)
    return method


METHODS = {
    # arithmetic
    "add": arithmetic.add, "sub": arithmetic.sub, "mul": arithmetic.mul, "div": arithmetic.div,
    "true_divide": arithmetic.div, "neg": arithmetic.neg, "pow": arithmetic.pow,
    "square": arithmetic.square, "maximum": arithmetic.maximum, "minimum": arithmetic.minimum,
    "clamp": arithmetic.clamp, "clip": arithmetic.clamp,
    "where": lambda self, condition, other: arithmetic.where(condition, self, other),
    # elementwise math and activations
    "exp": unary.exp, "log": unary.log, "log1p": unary.log1p, "expm1": unary.expm1,
    "sqrt": unary.sqrt, "rsqrt": unary.rsqrt, "sin": unary.sin, "cos": unary.cos,
    "abs": unary.abs, "sign": unary.sign, "reciprocal": unary.reciprocal,
    "sigmoid": activations.sigmoid, "tanh": activations.tanh, "relu": activations.relu,
    "softmax": activations.softmax, "log_softmax": activations.log_softmax,
    # reductions
    "sum": reduction.sum, "mean": reduction.mean, "amax": reduction.amax, "amin": reduction.amin,
    "max": reduction.max, "min": reduction.min, "argmax": reduction.argmax, "argmin": reduction.argmin,
    "prod": reduction.prod, "var": reduction.var, "std": reduction.std,
    "logsumexp": reduction.logsumexp, "norm": reduction.norm, "gather": reduction.gather,
    "scatter_add": reduction.scatter_add,
    # shape
    "reshape": shape.reshape, "view": shape.view, "flatten": shape.flatten,
    "transpose": shape.transpose, "permute": shape.permute, "t": shape.t,
    "squeeze": shape.squeeze, "unsqueeze": shape.unsqueeze, "expand": shape.expand,
    "broadcast_to": shape.broadcast_to, "sum_to_size": shape.sum_to_size,
    "expand_as": lambda self, other: shape.broadcast_to(self, other.shape),
    "view_as": lambda self, other: shape.view(self, other.shape),
    "reshape_as": lambda self, other: shape.reshape(self, other.shape),
    "split": join.split, "chunk": join.chunk, "repeat": join.repeat,
    # linear algebra
    "matmul": linalg.matmul, "mm": linalg.mm, "dot": linalg.dot, "outer": linalg.outer,
    # conversion and comparison
    "clone": conversion.clone, "contiguous": conversion.contiguous, "to": conversion.to,
    "type": conversion.to,
    # autograd: the backward walk's entry point (autograd/engine.py)
    "backward": engine.tensor_backward,
    "eq": conversion.eq, "ne": conversion.ne, "lt": conversion.lt, "le": conversion.le,
    "gt": conversion.gt, "ge": conversion.ge, "isnan": conversion.isnan, "isinf": conversion.isinf,
    "isfinite": conversion.isfinite, "equal": conversion.equal, "allclose": conversion.allclose,
    "isclose": conversion.isclose, "all": conversion.all, "any": conversion.any,
    "logical_not": conversion.logical_not, "logical_and": conversion.logical_and,
    "logical_or": conversion.logical_or,
    # in place
    "add_": inplace.add_, "sub_": inplace.sub_, "mul_": inplace.mul_, "div_": inplace.div_,
    "pow_": inplace.pow_, "clamp_": inplace.clamp_, "clip_": inplace.clamp_, "fill_": inplace.fill_,
    "zero_": inplace.zero_, "copy_": inplace.copy_,
    "addcmul_": inplace.addcmul_, "addcdiv_": inplace.addcdiv_, "lerp_": inplace.lerp_,
    # sequence models: masks, running sums, sorting, batched products, factories, random fills
    "masked_fill": masking.masked_fill, "masked_fill_": masking.masked_fill_,
    "tril": masking.tril, "triu": masking.triu, "cumsum": cumulative.cumsum,
    "sort": sorting.sort, "argsort": sorting.argsort, "topk": sorting.topk,
    "bmm": batched.bmm, "baddbmm": batched.baddbmm,
    "new_zeros": _creation.new_zeros, "new_ones": _creation.new_ones, "new_full": _creation.new_full,
    "new_empty": _creation.new_empty, "uniform_": _creation.uniform_, "normal_": _creation.normal_,
    "multinomial": _creation.multinomial,
    # casts to dtypes numbagrad does not hold (float(), double(), long(), bool() are Tensor's own)
    "half": _unsupported_cast("half", dtypes.float16), "int": _unsupported_cast("int", dtypes.int32),
    "short": _unsupported_cast("short", dtypes.int16), "char": _unsupported_cast("char", dtypes.int8),
    "byte": _unsupported_cast("byte", dtypes.uint8),
    "cuda": lambda self, *args, **kwargs: _creation.check_device("cuda", "Tensor.cuda()"),
}

OPERATORS = {
    "__add__": arithmetic.add, "__radd__": _reflected(arithmetic.add),
    "__sub__": arithmetic.sub, "__rsub__": _reflected(arithmetic.sub),
    "__mul__": arithmetic.mul, "__rmul__": _reflected(arithmetic.mul),
    "__truediv__": arithmetic.div, "__rtruediv__": _reflected(arithmetic.div),
    "__pow__": arithmetic.pow, "__rpow__": _reflected(arithmetic.pow),
    "__matmul__": linalg.matmul, "__rmatmul__": _reflected(linalg.matmul),
    "__floordiv__": lambda a, b: arithmetic.div(a, b, rounding_mode="floor"),
    "__neg__": arithmetic.neg, "__abs__": unary.abs, "__pos__": lambda self: self,
    "__eq__": conversion.eq, "__ne__": conversion.ne, "__lt__": conversion.lt,
    "__le__": conversion.le, "__gt__": conversion.gt, "__ge__": conversion.ge,
    "__and__": conversion.bitwise_and, "__or__": conversion.bitwise_or,
    "__xor__": conversion.bitwise_xor, "__invert__": conversion.bitwise_not,
    "__rand__": _reflected(conversion.bitwise_and), "__ror__": _reflected(conversion.bitwise_or),
    "__iadd__": _inplace_operator(inplace.add_), "__isub__": _inplace_operator(inplace.sub_),
    "__imul__": _inplace_operator(inplace.mul_), "__itruediv__": _inplace_operator(inplace.div_),
    "__getitem__": indexing.getitem, "__setitem__": inplace.setitem,
}


def attach():
    for name, fn in {**METHODS, **OPERATORS}.items():
        setattr(Tensor, name, fn)
    Tensor.T = property(lambda self: shape.permute(self, tuple(reversed(range(self.ndim)))),
                        doc="All dims reversed (the transpose of a matrix).")
    Tensor.mT = property(lambda self: shape.transpose(self, -1, -2),
                         doc="The last two dims swapped (a batch of transposed matrices).")
