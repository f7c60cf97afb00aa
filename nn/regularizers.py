"""Norm penalties as graph expressions, to add to a loss: ``loss + regularizers.l2(model, 1e-4)``.

Each takes a Module, ``model.parameters()`` or ``model.named_parameters()`` and returns a scalar Tensor
whose gradient is the penalty's (sub)gradient. Biases (1-D parameters, or names ending in 'bias') are
left out unless ``include_bias=True``, as the course penalises weights only.

* ``l1(p, weight)      = weight·Σ|w|``
* ``l2(p, weight)      = weight·Σw²``  (the course's (λ/2)‖w‖² is ``weight=λ/2``; it equals weight decay
  λ in plain SGD)
* ``linf(p, weight)    = weight·(1/n)·Σᵢ‖Wᵢ‖∞`` over the n weight matrices, ‖A‖∞ = max absolute row sum
  (its subgradient is sign(w) on the maximal row, 0 elsewhere)
* ``elastic_net(p, l1_weight, l2_weight) = l1 + l2``
"""
import autograd as ag

from .module import Module


def _weights(params, include_bias, name):
    if isinstance(params, Module):
        items = list(params.named_parameters())
    elif isinstance(params, ag.Tensor):
        items = [(None, params)]
    else:
        items = []
        for item in params:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
                items.append(item)
            elif isinstance(item, ag.Tensor):
                items.append((None, item))
            else:
                raise TypeError(f"{name}: expected a Module, parameters() or named_parameters(), got an item "
                                f"of type {type(item).__name__}")
    chosen = []
    for pname, p in items:
        is_bias = p.ndim <= 1 or (pname is not None and pname.split(".")[-1].endswith("bias"))
        if include_bias or not is_bias:
            chosen.append(p)
    return chosen


def _total(terms):
    if not terms:
        return ag.tensor(0.0)
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def l1(params, weight=1.0, include_bias=False):
    """weight·Σ|w| over the chosen parameters."""
    return _total([p.abs().sum() for p in _weights(params, include_bias, "l1")]) * weight


def l2(params, weight=1.0, include_bias=False):
    """weight·Σw² over the chosen parameters (the squared L2 norm, no square root)."""
    return _total([(p * p).sum() for p in _weights(params, include_bias, "l2")]) * weight


def linf(params, weight=1.0, include_bias=False):
    """weight·(1/n)·Σᵢ‖Wᵢ‖∞ with ‖A‖∞ the maximum absolute row sum of each weight matrix
    (higher-dimensional weights are read as (out, rest) matrices; vectors as one row)."""
    chosen = _weights(params, include_bias, "linf")
    terms = []
    for p in chosen:
        matrix = p.reshape(p.shape[0], -1) if p.ndim >= 2 else p.reshape(1, -1)
        terms.append(matrix.abs().sum(1).amax())
    if not terms:
        return ag.tensor(0.0)
    return _total(terms) * (weight / len(terms))


def elastic_net(params, l1_weight=1.0, l2_weight=1.0, include_bias=False):
    """l1_weight·Σ|w| + l2_weight·Σw²."""
    chosen = _weights(params, include_bias, "elastic_net")
    return l1(chosen, l1_weight, include_bias=True) + l2(chosen, l2_weight, include_bias=True)
