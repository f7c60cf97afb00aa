"""``Scalar``: one Python float per graph vertex, for learning backpropagation by hand (micrograd-style).

    >>> from autograd import Scalar
    >>> x, w, b = Scalar(2.0, label="x"), Scalar(-3.0, label="w"), Scalar(1.0, label="b")
    >>> y = (x * w + b).tanh()
    >>> y.backward()
    >>> round(w.grad, 6)            # dy/dw = (1 - y²)·x, y = tanh(-5)
    0.000363

Every op computes its value *and* its local derivatives ∂out/∂input at once and stores them on the new
Scalar (``local_grads``, one per entry of ``next_edges``). Backward is then the chain rule and nothing
else, ``parent.grad += local × out.grad`` for every edge, each vertex once all of its consumers are done
(the engine's one walk, shared with Tensor graphs: iterative, so a chain of a million ops
backpropagates without a recursion limit). Because the
local derivatives are kept, the graph drawing (:func:`autograd.draw_graph`) and the step-by-step walk
(:func:`autograd.backward_steps`) can show the exact numbers each step multiplies.

Gradient semantics follow PyTorch: a leaf's ``.grad`` accumulates over ``backward()`` calls (reset it
with :meth:`Scalar.zero_grad` or :func:`zero_grad`); an interior Scalar's ``.grad`` holds d(root)/d(it)
from the latest backward that went through it.
"""
import itertools
import math
import numbers

from . import engine

__all__ = ["Scalar", "zero_grad"]

_exp, _log, _tanh, _sqrt, _sin, _cos = math.exp, math.log, math.tanh, math.sqrt, math.sin, math.cos
_new = object.__new__
_next_sequence_nr = itertools.count().__next__


class Scalar:
    """A float that records the operations applied to it.

    ``Scalar(value, label=None, param=False, tangent=None)``: ``label`` names it in reprs and drawings; ``param=True``
    marks a learnable parameter (drawn differently from an input; a number used in an op becomes a
    leaf with ``is_param=None``, drawn as a constant). ``tangent`` makes it a dual number
    ``data + tangent·ε`` (ε² = 0): every op then also computes its result's tangent from its local
    derivatives, ṫ = Σ ∂out/∂input · input.tangent, so after a forward pass ``y.tangent`` is the
    directional derivative of y along the leaves' tangents (forward mode; ``None`` where nothing
    upstream has a tangent, meaning 0). Attributes: ``data`` (float),
    ``grad`` (float, d(root)/d(self) after ``backward``), ``op`` (the op that made it, ``""`` for a
    leaf), ``next_edges`` (its inputs), ``local_grads`` (∂self/∂input for each input).
    """

    # An op has one or two inputs, kept in slots rather than in tuples: a graph of Scalars is freed by
    # reference counting, but every container object it holds is work for Python's cyclic garbage
    # collector, and a training step builds tens of thousands of vertices.
    # _a, _b: the inputs (_a is None for a leaf, _b for a unary op); _da, _db: ∂self/∂_a and ∂self/∂_b;
    # sequence_nr: the order of creation of an op's result, which the backward walk follows (as for
    # Tensor graphs: autograd/engine.py).
    # tangent: the dual part of a dual number (forward mode), or None for a plain Scalar.
    __slots__ = ("data", "grad", "op", "label", "is_param", "_a", "_b", "_da", "_db", "sequence_nr", "tangent")

    def __init__(self, data, label=None, param=False, tangent=None):
        self.data = data if type(data) is float else _as_float(data)
        self.grad = 0.0
        self.op = ""
        self.label = label
        self.is_param = param
        self._a = None
        self.sequence_nr = None  # a leaf: no place in the order of the walk, which visits it last
        self.tangent = None if tangent is None else _as_float(tangent)

    # ------------------------------------------------------------------ arithmetic
    # Each op: the value, then its local derivatives in the same order as its inputs. + * and relu
    # spell out what _binary/_unary do: they make most of a network's vertices, and the extra call
    # costs ~6% of a training step.
    def __add__(self, other):
        if type(other) is not Scalar:
            other = _constant(other, "+")
        out = _new(Scalar)
        out.data = self.data + other.data
        out.grad = 0.0
        out.op = "+"
        out.label = None
        out.is_param = False
        out._a = self
        out._b = other
        out._da = 1.0
        out._db = 1.0
        out.sequence_nr = _next_sequence_nr()
        out.tangent = None if self.tangent is None and other.tangent is None else _tangent_of(self, other, 1.0, 1.0)
        return out

    def __radd__(self, other):  # other + self
        return _constant(other, "+").__add__(self)

    def __sub__(self, other):
        if type(other) is not Scalar:
            other = _constant(other, "-")
        return _binary(self.data - other.data, self, other, 1.0, -1.0, "-")

    def __rsub__(self, other):  # other - self
        return _constant(other, "-").__sub__(self)

    def __mul__(self, other):
        """d(ab)/da = b, d(ab)/db = a"""
        if type(other) is not Scalar:
            other = _constant(other, "*")
        a, b = self.data, other.data
        out = _new(Scalar)
        out.data = a * b
        out.grad = 0.0
        out.op = "*"
        out.label = None
        out.is_param = False
        out._a = self
        out._b = other
        out._da = b
        out._db = a
        out.sequence_nr = _next_sequence_nr()
        out.tangent = None if self.tangent is None and other.tangent is None else _tangent_of(self, other, b, a)
        return out

    def __rmul__(self, other):  # other * self
        return _constant(other, "*").__mul__(self)

    def __truediv__(self, other):
        """d(a/b)/da = 1/b, d(a/b)/db = -a/b²"""
        if type(other) is not Scalar:
            other = _constant(other, "/")
        b = other.data
        if b == 0.0:
            raise ZeroDivisionError(f"Scalar division: {self.data!r} / 0.0")
        out = self.data / b
        return _binary(out, self, other, 1.0 / b, -out / b, "/")

    def __rtruediv__(self, other):  # other / self
        return _constant(other, "/").__truediv__(self)

    def __pow__(self, other):
        """d(aᵇ)/da = b·aᵇ⁻¹, d(aᵇ)/db = aᵇ·ln a (a Scalar exponent is differentiable too)"""
        if type(other) is not Scalar:
            other = _constant(other, "**")
        a, b = self.data, other.data
        if a < 0.0 and not b.is_integer():
            raise ValueError(f"Scalar **: a negative base ({a!r}) with a non-integer exponent ({b!r}) has "
                             f"no real value")
        if a == 0.0 and b < 0.0:
            raise ZeroDivisionError(f"Scalar **: 0.0 raised to the negative power {b!r}")
        out = a ** b
        d_base = b * a ** (b - 1.0) if b != 0.0 else 0.0
        # NOTE: aᵇ·ln a is undefined for a ≤ 0; PyTorch's convention is 0 at a = 0 (the limit as b > 0)
        # and we keep it for a < 0 too, where the exponent is an integer and the function is not smooth in b.
        d_exponent = out * _log(a) if a > 0.0 else 0.0
        return _binary(out, self, other, d_base, d_exponent, "**")

    def __rpow__(self, other):  # other ** self
        return _constant(other, "**").__pow__(self)

    def __neg__(self):
        return _unary(-self.data, self, -1.0, "neg")

    def __pos__(self):
        return self

    def __abs__(self):
        return self.abs()

    # ------------------------------------------------------------------ math and activations
    def exp(self):
        """d eˣ/dx = eˣ"""
        out = _exp(self.data)
        return _unary(out, self, out, "exp")

    def log(self):
        """d ln x/dx = 1/x"""
        x = self.data
        if x <= 0.0:
            raise ValueError(f"Scalar.log: the natural log is defined for x > 0, got {x!r}")
        return _unary(_log(x), self, 1.0 / x, "log")

    def sqrt(self):
        """d √x/dx = 1/(2√x)"""
        x = self.data
        if x < 0.0:
            raise ValueError(f"Scalar.sqrt: defined for x ≥ 0, got {x!r}")
        out = _sqrt(x)
        return _unary(out, self, 0.5 / out if out > 0.0 else math.inf, "sqrt")

    def sin(self):
        """d sin x/dx = cos x"""
        return _unary(_sin(self.data), self, _cos(self.data), "sin")

    def cos(self):
        """d cos x/dx = -sin x"""
        return _unary(_cos(self.data), self, -_sin(self.data), "cos")

    def abs(self):
        """d|x|/dx = sign(x) (0 at x = 0, as in PyTorch)"""
        x = self.data
        return _unary(abs(x), self, 1.0 if x > 0.0 else -1.0 if x < 0.0 else 0.0, "abs")

    def tanh(self):
        """d tanh x/dx = 1 - tanh²x"""
        t = _tanh(self.data)
        return _unary(t, self, 1.0 - t * t, "tanh")

    def sigmoid(self):
        """σ(x) = 1/(1 + e⁻ˣ), dσ/dx = σ(1 - σ)"""
        x = self.data
        # NOTE: the two branches keep e^(±x) ≤ 1, so no overflow for large |x|.
        if x >= 0.0:
            s = 1.0 / (1.0 + _exp(-x))
        else:
            e = _exp(x)
            s = e / (1.0 + e)
        return _unary(s, self, s * (1.0 - s), "sigmoid")

    def relu(self):
        """max(0, x); derivative 1 for x > 0, else 0"""
        x = self.data
        out = _new(Scalar)
        if x > 0.0:
            out.data = x
            out._da = 1.0
        else:
            out.data = 0.0
            out._da = 0.0
        out.grad = 0.0
        out.op = "relu"
        out.label = None
        out.is_param = False
        out._a = self
        out._b = None
        out.sequence_nr = _next_sequence_nr()
        out.tangent = None if self.tangent is None else out._da * self.tangent
        return out

    def leaky_relu(self, negative_slope=0.01):
        """x for x > 0, else slope·x; derivative 1 or slope"""
        x = self.data
        if x > 0.0:
            return _unary(x, self, 1.0, "leaky_relu")
        return _unary(negative_slope * x, self, float(negative_slope), "leaky_relu")

    def elu(self, alpha=1.0):
        """x for x > 0, else α(eˣ - 1); derivative 1 or αeˣ"""
        x = self.data
        if x > 0.0:
            return _unary(x, self, 1.0, "elu")
        e = _exp(x)
        return _unary(alpha * (e - 1.0), self, alpha * e, "elu")

    def softplus(self):
        """ln(1 + eˣ), derivative σ(x)"""
        x = self.data
        # NOTE: stable form max(x, 0) + ln(1 + e^(-|x|)).
        out = (x if x > 0.0 else 0.0) + math.log1p(_exp(-abs(x)))
        s = 1.0 / (1.0 + _exp(-x)) if x >= 0.0 else _exp(x) / (1.0 + _exp(x))
        return _unary(out, self, s, "softplus")

    # ------------------------------------------------------------------ comparisons (values, no graph)
    def __lt__(self, other):
        return self.data < _value(other)

    def __le__(self, other):
        return self.data <= _value(other)

    def __gt__(self, other):
        return self.data > _value(other)

    def __ge__(self, other):
        return self.data >= _value(other)

    def __eq__(self, other):
        if isinstance(other, (Scalar, int, float)):
            return self.data == _value(other)
        return NotImplemented

    def __ne__(self, other):
        if isinstance(other, (Scalar, int, float)):
            return self.data != _value(other)
        return NotImplemented

    # Hash by identity (like a Tensor), so Scalars can key dicts and sets even though == compares values.
    __hash__ = object.__hash__

    def __float__(self):
        return self.data

    def __bool__(self):
        return self.data != 0.0

    # ------------------------------------------------------------------ autograd
    @property
    def next_edges(self):
        """The inputs of the op that made this Scalar (``()`` for a leaf)."""
        a = self._a
        if a is None:
            return ()
        return (a,) if self._b is None else (a, self._b)

    @property
    def local_grads(self):
        """∂self/∂input for each of ``next_edges``."""
        if self._a is None:
            return ()
        return (self._da,) if self._b is None else (self._da, self._db)

    @property
    def is_leaf(self):
        return self._a is None

    @property
    def name(self):
        """Alias of ``label`` (a Tensor's equivalent is ``name``)."""
        return self.label

    @name.setter
    def name(self, value):
        self.label = value

    def item(self):
        return self.data

    def backward(self, gradient=1.0):
        """Fill ``.grad`` of every Scalar this one depends on with d(self)/d(it), times ``gradient``."""
        # retain_graph: a Scalar keeps its local derivatives, so backward may run again
        engine.backward([self], [gradient if type(gradient) is float else _as_float(gradient)], retain_graph=True)

    # The backward walk's protocol (autograd/engine.py): the chain rule, and nothing else.
    has_hooks = False  # (a Scalar has no gradient hooks: the walk needs no receive_grad)

    def input_gradients(self, grad):
        """∂root/∂input = ∂self/∂input × ∂root/∂self, for each input, once ∂root/∂self (``grad``) is
        complete."""
        self.grad = grad  # an interior gradient is d(root)/d(self) of this backward, not a sum
        if self._b is None:
            return (self._da * grad,)
        return (self._da * grad, self._db * grad)

    def accumulate_grad(self, grad, owned, create_graph):
        self.grad += grad  # a leaf's gradient accumulates over backward calls, as in PyTorch

    def release(self):
        pass  # a Scalar keeps its local derivatives: backward may run again

    def zero_grad(self, graph=False):
        """Reset ``self.grad`` to 0 (``graph=True``: of every Scalar this one depends on, too)."""
        if graph:
            for vertex in engine.topological_order([self]):
                vertex.grad = 0.0
        else:
            self.grad = 0.0
        return self

    def detach(self):
        """A new leaf with the same value, outside the graph (and without a tangent)."""
        return Scalar(self.data, self.label, self.is_param)

    # ------------------------------------------------------------------ display
    def __repr__(self):
        parts = [f"data={self.data:.6g}", f"grad={self.grad:.6g}"]
        if self.tangent is not None:
            parts.append(f"tangent={self.tangent:.6g}")
        if self.label is not None:
            parts.append(f"label={self.label!r}")
        if self.op:
            parts.append(f"op={self.op!r}")
        elif self.is_param:
            parts.append("param=True")
        return "Scalar(" + ", ".join(parts) + ")"


def _binary(data, a, b, da, db, op):
    """The result of a two-input op: ``data``, made from ``a`` and ``b`` with ∂/∂a = ``da``, ∂/∂b = ``db``."""
    out = _new(Scalar)  # skips __init__: this is the engine's most frequent call
    out.data = data
    out.grad = 0.0
    out.op = op
    out.label = None
    out.is_param = False
    out._a = a
    out._b = b
    out._da = da
    out._db = db
    out.sequence_nr = _next_sequence_nr()
    out.tangent = None if a.tangent is None and b.tangent is None else _tangent_of(a, b, da, db)
    return out


def _tangent_of(a, b, da, db):
    """Forward mode on dual numbers: ṫ = ∂/∂a·ȧ + ∂/∂b·ḃ, with the op's own local derivatives (a missing
    tangent is 0)."""
    ta, tb = a.tangent, b.tangent
    if ta is None:
        return db * tb
    return da * ta if tb is None else da * ta + db * tb


def _unary(data, a, da, op):
    """The result of a one-input op: ``data``, made from ``a`` with ∂/∂a = ``da``."""
    out = _new(Scalar)
    out.data = data
    out.grad = 0.0
    out.op = op
    out.label = None
    out.is_param = False
    out._a = a
    out._b = None
    out._da = da
    out.sequence_nr = _next_sequence_nr()
    t = a.tangent
    out.tangent = None if t is None else da * t
    return out


def zero_grad(scalars):
    """Reset ``.grad`` to 0 on every Scalar of ``scalars`` (e.g. a model's parameters before a step)."""
    for s in scalars:
        s.grad = 0.0


def _as_float(value):
    if isinstance(value, Scalar):
        return value.data
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"Scalar holds a real number, got {type(value).__name__} ({value!r})")


def _constant(value, op):
    """A number used in an op, as a leaf Scalar (it shows in drawings, like micrograd's constants)."""
    if type(value) is float or type(value) is int or (isinstance(value, numbers.Real)
                                                       and not isinstance(value, bool)):
        return Scalar(float(value), None, None)  # is_param None: a constant of the expression
    raise TypeError(f"Scalar {op}: unsupported operand of type {type(value).__name__} ({value!r}); use a "
                    f"Scalar or a Python number")


def _value(other):
    return other.data if type(other) is Scalar else other
