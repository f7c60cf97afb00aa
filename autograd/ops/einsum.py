"""``einsum(equation, *operands)``: Einstein summation, as ``torch.einsum``.

The equation is parsed once into explicit letters (an ellipsis becomes letters of its own, output
implicit or explicit), then every gradient and tangent is itself an einsum, so derivatives of any
order come from the same op.
"""
import string

import numpy as np

from .. import dtypes
from ..function import Function
from ..tensor import Tensor
from ._args import as_tensor

_LETTERS = string.ascii_letters


class Einsum(Function):
    """y = Σ over the letters missing from the output of Π_k operand_k[its letters].

    dx_i = einsum(dy, the other operands -> x_i's letters): the letters only x_i has are broadcast
    (a ones vector over each), and a letter repeated within x_i (a diagonal) is put back on the
    diagonal through an identity matrix. The tangent is Σ_i einsum(..., t_i, ...) with operand i
    replaced by its tangent (the product rule).
    """

    @staticmethod
    def forward(ctx, inputs, output, *operands):
        ctx.inputs, ctx.output = inputs, output
        ctx.save_for_backward(*operands)
        equation = ",".join(inputs) + "->" + output
        return np.einsum(equation, *operands, optimize=len(operands) > 1)

    @staticmethod
    def backward(ctx, grad_output):
        operands = ctx.saved_tensors
        needs = ctx.needs_input_grad[2:]
        grads = [_operand_grad(ctx.inputs, ctx.output, operands, i, grad_output) if needs[i] else None
                 for i in range(len(operands))]
        return (None, None, *grads)

    @staticmethod
    def jvp(ctx, _inputs, _output, *tangents):
        operands = ctx.saved_tensors
        total = None
        for i, tangent in enumerate(tangents):
            if tangent is None:
                continue
            term = Einsum.apply(ctx.inputs, ctx.output, *operands[:i], tangent, *operands[i + 1:])
            total = term if total is None else total + term
        return total


def _operand_grad(inputs, output, operands, i, grad_output):
    target = inputs[i]
    sizes = dict(zip(target, operands[i].shape))
    subs, args = [output], [grad_output]
    for j, (s, x) in enumerate(zip(inputs, operands)):
        if j != i:
            subs.append(s)
            args.append(x)
    elsewhere = set("".join(subs))
    dtype = grad_output.dtype
    result, seen = [], set()
    unused = iter(c for c in _LETTERS if c not in set("".join(inputs)) | set(output))
    for c in target:
        if c in seen:  # a repeated letter: a fresh letter tied to it by the identity
            fresh = next(unused)
            subs.append(c + fresh)
            args.append(Tensor(np.eye(sizes[c], dtype=dtype)))
            result.append(fresh)
            continue
        seen.add(c)
        result.append(c)
        if c not in elsewhere:
            subs.append(c)
            args.append(Tensor(np.ones(sizes[c], dtype=dtype)))
            elsewhere.add(c)
    return Einsum.apply(tuple(subs), "".join(result), *args)


def _parse(equation, operands):
    """(input letter strings, output letter string) with every ellipsis spelled out as letters."""
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the equation must be a string, got {type(equation).__name__}")
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    inputs = lhs.split(",")
    if len(inputs) != len(operands):
        raise ValueError(f"einsum: the equation {equation!r} has {len(inputs)} operand(s) but "
                         f"{len(operands)} tensor(s) were given")
    for s in inputs + ([rhs] if arrow else []):
        bad = set(s.replace("...", "")) - set(_LETTERS)
        if bad or s.count("...") > 1:
            raise ValueError(f"einsum: invalid subscripts {s!r} in {equation!r} (letters a-z, A-Z and at "
                             f"most one '...' per operand)")
    used = set(lhs.replace("...", "").replace(",", "")) | set(rhs.replace("...", ""))
    spare = [c for c in _LETTERS if c not in used]
    ellipsis_ndim = 0
    for s, x in zip(inputs, operands):
        named = len(s.replace("...", ""))
        if "..." in s:
            if x.ndim < named:
                raise ValueError(f"einsum: operand {s!r} of {equation!r} names {named} dims but the tensor "
                                 f"has shape {tuple(x.shape)}")
            ellipsis_ndim = max(ellipsis_ndim, x.ndim - named)
        elif x.ndim != named:
            raise ValueError(f"einsum: subscripts {s!r} of {equation!r} name {named} dims but the tensor has "
                             f"shape {tuple(x.shape)}")
    if len(spare) < ellipsis_ndim:
        raise ValueError(f"einsum: too many dims under '...' in {equation!r}")
    ell = "".join(spare[:ellipsis_ndim])
    spelled = []
    for s, x in zip(inputs, operands):
        if "..." in s:
            n = x.ndim - len(s.replace("...", ""))
            s = s.replace("...", ell[ellipsis_ndim - n:])
        spelled.append(s)
    if arrow:  # (an explicit output without '...' sums the ellipsis dims, as torch does)
        output = rhs.replace("...", ell)
    else:
        counts = {}
        for s in spelled:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        output = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    if len(set(output)) != len(output):
        raise ValueError(f"einsum: output subscripts of {equation!r} repeat a letter")
    missing = set(output) - set("".join(spelled))
    if missing:
        raise ValueError(f"einsum: output letter(s) {sorted(missing)} of {equation!r} appear in no operand")
    sizes = {}
    for s, x in zip(spelled, operands):
        for c, n in zip(s, x.shape):
            if sizes.setdefault(c, n) != n:
                raise ValueError(f"einsum: size mismatch for subscript {c!r} in {equation!r}: {sizes[c]} vs "
                                 f"{n} (operand shapes {[tuple(o.shape) for o in operands]})")
    return tuple(spelled), output


def einsum(equation, *operands):
    """Einstein summation over ``operands`` (``torch.einsum``): ``einsum('ij,jk->ik', a, b)`` is a @ b,
    ``'bij,bjk->bik'`` a batched product, ``'ii->i'`` a diagonal, ``'...ij->...ji'`` a transpose."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError("einsum: at least one operand is required")
    operands = [as_tensor(x) for x in operands]
    dtype = operands[0].dtype
    for x in operands[1:]:
        dtype = dtypes.promote(dtype, x.dtype)
    operands = [x if x.dtype == dtype else x.to(dtype) for x in operands]
    inputs, output = _parse(equation, operands)
    return Einsum.apply(inputs, output, *operands)
