"""The LSTM cell's gate arithmetic as one op: what follows the two matrix products of a step.

A step written op by op (a sigmoid, a tanh, four slices, three products, a sum, another tanh) records
a dozen nodes per time step and per layer; a sequence model runs that 32 times per layer and again
backward. :class:`LSTMGates` takes the pre-activations and the previous cell state and gives the new
hidden and cell states side by side, recording one node.
"""
import numpy as np

from .. import fp_errors, tracing
from ..function import Function
from ..grad_mode import is_grad_enabled
from ..tensor import make_tensor
from ._args import as_tensor
from .join import cat


def _sigmoid(x):
    return 0.5 * np.tanh(0.5 * x) + 0.5  # σ(x) = (1 + tanh(x/2))/2: no overflow for any x


def _activations(gates, size):
    i = _sigmoid(gates[..., :size])
    f = _sigmoid(gates[..., size:2 * size])
    g = np.tanh(gates[..., 2 * size:3 * size])
    o = _sigmoid(gates[..., 3 * size:])
    return i, f, g, o


def _tensor_activations(gates, size):
    i = gates[..., :size].sigmoid()
    f = gates[..., size:2 * size].sigmoid()
    g = gates[..., 2 * size:3 * size].tanh()
    o = gates[..., 3 * size:].sigmoid()
    return i, f, g, o


class LSTMGates(Function):
    """[h', c'] from gates = (i, f, g, o) pre-activations (…, 4H) and the cell state c (…, H):

        c' = σ(f)·c + σ(i)·tanh(g),   h' = σ(o)·tanh(c'),   output (…, 2H) = h' and c' side by side.

    Backward, with dh', dc' the two halves of the output's gradient and C = dc' + dh'·σ(o)·(1 − tanh²c'):
    dc = C·σ(f);  d(i, f, g, o) = (C·tanh g·σ'(i), C·c·σ'(f), C·σ(i)·(1 − tanh²g), dh'·tanh c'·σ'(o)),
    with σ'(a) = σ(a)(1 − σ(a)). When the backward is itself recorded (create_graph) the same formulas
    run as Tensor ops on the saved inputs, so higher derivatives follow; otherwise on the activations
    kept from forward. The tangent is the same chain forward: ċ' = σ'(f)ḟ·c + σ(f)ċ + σ'(i)i̇·tanh g +
    σ(i)(1 − tanh²g)ġ,  ḣ' = σ'(o)ȯ·tanh c' + σ(o)(1 − tanh²c')ċ'.
    """

    @staticmethod
    def forward(ctx, gates, c):
        size = c.shape[-1]
        with fp_errors.ignored():
            i, f, g, o = _activations(gates, size)
            c_new = f * c + i * g
            tc = np.tanh(c_new)
            h_new = o * tc
        ctx.save_for_backward(gates, c)
        ctx.activations = (i, f, g, o, tc)
        return np.concatenate([h_new, c_new], axis=-1)

    @staticmethod
    def backward(ctx, grad_output):
        gates, c = ctx.saved_tensors
        size = c.shape[-1]
        if not is_grad_enabled():  # a plain backward: the arithmetic on arrays, in one place
            dgates, dc = tracing.computed(_plain_backward, grad_output._data, c._data, *ctx.activations)
            return make_tensor(dgates, False, None, None), make_tensor(dc, False, None, None)
        i, f, g, o = _tensor_activations(gates, size)
        tc = (f * c + i * g).tanh()
        dh, dc_new = grad_output[..., :size], grad_output[..., size:]
        total = dc_new + dh * o * (1.0 - tc * tc)
        dgates = cat([total * g * i * (1.0 - i), total * c * f * (1.0 - f), total * i * (1.0 - g * g),
                      dh * tc * o * (1.0 - o)], -1)
        return dgates, total * f

    @staticmethod
    def jvp(ctx, gates_tangent, c_tangent):
        gates, c = ctx.saved_tensors
        size = c.shape[-1]
        i, f, g, o = _tensor_activations(gates, size)
        c_new = f * c + i * g
        tc = c_new.tanh()
        dc = None
        if gates_tangent is not None:
            ti, tf = gates_tangent[..., :size], gates_tangent[..., size:2 * size]
            tg, to = gates_tangent[..., 2 * size:3 * size], gates_tangent[..., 3 * size:]
            dc = f * (1.0 - f) * tf * c + i * (1.0 - i) * ti * g + i * (1.0 - g * g) * tg
        if c_tangent is not None:
            dc = f * c_tangent if dc is None else dc + f * c_tangent
        dh = o * (1.0 - tc * tc) * dc
        if gates_tangent is not None:
            dh = dh + o * (1.0 - o) * to * tc
        return cat([dh, dc], -1)


def lstm_gates(gates, c):
    """``(h', c')`` of an LSTM step from the gate pre-activations (…, 4H) in PyTorch's order (i, f, g, o)
    and the cell state (…, H): c' = σ(f)·c + σ(i)·tanh(g), h' = σ(o)·tanh(c')."""
    gates, c = as_tensor(gates), as_tensor(c)
    size = c.shape[-1] if c.ndim else 0
    if gates.shape[-1:] != (4 * size,) or gates.shape[:-1] != c.shape[:-1]:
        raise RuntimeError(f"lstm_gates: gates of shape {tuple(gates.shape)} must be the cell state's shape "
                           f"{tuple(c.shape)} with 4x its last dim")
    if gates.dtype != c.dtype:
        c = c.to(gates.dtype)
    both = LSTMGates.apply(gates, c)
    return both[..., :size], both[..., size:]


def _plain_backward(grad_output, c, i, f, g, o, tc):
    """(d gates, d c) from the gradient of [h_new, c_new] and the activations forward kept:
    total = dc_new + dh·o·(1 − tanh²c_new), d gates = [total·g·i(1−i), total·c·f(1−f),
    total·i·(1−g²), dh·tanh(c_new)·o(1−o)], dc = total·f."""
    size = c.shape[-1]
    dh, dc_new = grad_output[..., :size], grad_output[..., size:]
    with fp_errors.ignored():
        total = dc_new + dh * o * (1.0 - tc * tc)
        dgates = np.concatenate([total * g * i * (1.0 - i), total * c * f * (1.0 - f),
                                 total * i * (1.0 - g * g), dh * tc * o * (1.0 - o)], axis=-1)
        return dgates, total * f
