"""Layer normalisation over the trailing dims of each sample (a row), forward and backward.

Public surface: ``layer_norm_forward(x, weight, bias, dims, eps)`` → (y, mean, rstd) and
``layer_norm_backward(grad, x, weight, mean, rstd, dims, need_x, need_weight, need_bias)`` →
(dx, dweight, dbias), each None where not asked for; ``dims`` is the number of trailing dims normalised.

Design notes:

* One pass per row over memory that stays in L1, instead of numpy's six passes and temporaries over
  the whole tensor. The normalised dims are the trailing ones, so a C-contiguous input is a
  (rows, width) matrix.
* Statistics in float64 for both dtypes: mean, then the variance of x − mean (two passes: no
  cancellation when |mean| ≫ std), x − mean formed in float64 and each output rounded once. ``mean``
  and ``rstd`` = 1/√(var + eps) are kept per row (float64) for the backward, which recomputes
  x̂ = (x − mean)·rstd from x instead of reading a saved x̂ the size of x.
* Backward: dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) with ĝ = g·w; dw = Σ g·x̂ and db = Σ g over the rows,
  accumulated in float64 row after row (a fixed order: deterministic).
* The row sums are separate functions compiled with reassociation allowed (``jit.reassociating``),
  so that LLVM vectorises them; in the strict order each row's sum is one chain of dependent adds.
  Only those sums reassociate: the kernels that call them keep IEEE order.
"""
import math

import numpy as np

from .arrays import check_float, contiguous
from .jit import kernel, reassociating
from .rows import row_sum


@reassociating
def _squared_deviations(row, mean):
    s = 0.0
    for j in range(row.shape[0]):
        d = row[j] - mean
        s += d * d
    return s


@reassociating
def _weighted_sums(g, weight, x, mean):
    """(Σ g·w, Σ g·w·(x − mean)) over one row."""
    s = 0.0
    t = 0.0
    for j in range(g.shape[0]):
        gw = np.float64(g[j]) * weight[j]
        s += gw
        t += gw * (x[j] - mean)
    return s, t


@kernel
def _layer_norm_rows(x, weight, bias, eps, y, mean, rstd):
    width = x.shape[1]
    for r in range(x.shape[0]):
        xr = x[r]
        m = row_sum(xr) / width
        inv = 1.0 / math.sqrt(_squared_deviations(xr, m) / width + eps)
        mean[r] = m
        rstd[r] = inv
        yr = y[r]
        for j in range(width):
            yr[j] = (xr[j] - m) * inv * weight[j] + bias[j]


@kernel
def _layer_norm_backward_rows(g, x, weight, mean, rstd, dx, dweight, dbias, need_x):
    # dweight and dbias are always accumulated (into scratch when not asked for): the single loop with
    # no flag inside it is the fast one
    width = x.shape[1]
    for r in range(x.shape[0]):
        gr = g[r]
        xr = x[r]
        m = mean[r]
        inv = rstd[r]
        if need_x:
            s, t = _weighted_sums(gr, weight, xr, m)
            mean_gw = s / width
            mean_gw_xhat = t * inv / width
            dxr = dx[r]
            for j in range(width):
                xhat = (xr[j] - m) * inv
                gj = np.float64(gr[j])
                dxr[j] = inv * (gj * weight[j] - mean_gw - xhat * mean_gw_xhat)
                dweight[j] += gj * xhat
                dbias[j] += gj
        else:
            for j in range(width):
                gj = np.float64(gr[j])
                dweight[j] += gj * ((xr[j] - m) * inv)
                dbias[j] += gj


def _split(x, dims):
    """(rows, width, x's leading shape) for normalising x over its last ``dims`` dims."""
    if not 1 <= dims <= x.ndim:
        raise ValueError(f"layer norm over the last {dims} dims of an array of shape {x.shape}")
    lead = x.shape[:x.ndim - dims]
    return math.prod(lead), math.prod(x.shape[x.ndim - dims:]), lead


def _per_element(values, x, width, fill):
    """``values`` (weight or bias, shaped as the normalised dims) as a flat C-contiguous array of x's
    dtype, or ``fill`` repeated when None."""
    if values is None:
        return np.full(width, fill, x.dtype)
    return contiguous(np.asarray(values, x.dtype)).reshape(width)


def layer_norm_forward(x, weight, bias, dims, eps):
    """y = (x − mean)·rstd·w + b over the last ``dims`` dims of x (w and b optional, shaped as those
    dims), with each row's mean and rstd = 1/√(var + eps) as float64 arrays of x's leading shape."""
    x = contiguous(check_float(x))
    rows, width, lead = _split(x, dims)
    y = np.empty_like(x)
    mean = np.empty(lead)
    rstd = np.empty(lead)
    if rows:
        _layer_norm_rows(x.reshape(rows, width), _per_element(weight, x, width, 1),
                         _per_element(bias, x, width, 0), float(eps), y.reshape(rows, width),
                         mean.reshape(rows), rstd.reshape(rows))
    return y, mean, rstd


def layer_norm_backward(grad, x, weight, mean, rstd, dims, need_x=True, need_weight=True, need_bias=True):
    """The gradients of ``layer_norm_forward`` with respect to x, w and b (None where not asked for):
    dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) with ĝ = grad·w, dw = Σ grad·x̂, db = Σ grad over the rows."""
    x = contiguous(check_float(x))
    grad = contiguous(np.asarray(check_float(grad, "grad"), x.dtype))
    if grad.shape != x.shape:
        raise ValueError(f"grad shape {grad.shape} != x shape {x.shape}")
    rows, width, lead = _split(x, dims)
    mean = contiguous(np.asarray(mean, np.float64))
    rstd = contiguous(np.asarray(rstd, np.float64))
    if mean.shape != lead or rstd.shape != lead:
        raise ValueError(f"mean and rstd must have shape {lead}, got {mean.shape} and {rstd.shape}")
    dx = np.empty_like(x) if need_x else np.empty((0, 0), x.dtype)
    dweight = np.zeros(width)
    dbias = np.zeros(width)
    if rows and width and (need_x or need_weight or need_bias):
        _layer_norm_backward_rows(grad.reshape(rows, width), x.reshape(rows, width),
                                  _per_element(weight, x, width, 1), mean.reshape(rows), rstd.reshape(rows),
                                  dx.reshape(rows, width) if need_x else dx, dweight, dbias, bool(need_x))
    trailing = x.shape[len(lead):]
    return (dx if need_x else None,
            dweight.astype(x.dtype).reshape(trailing) if need_weight else None,
            dbias.astype(x.dtype).reshape(trailing) if need_bias else None)
