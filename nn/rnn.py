"""Recurrent layers: ``RNNCell``, ``LSTMCell``, ``GRUCell`` and the multi-layer ``RNN``, ``LSTM``,
``GRU`` built from them, with PyTorch's arguments, parameter names (``weight_ih_l0``,
``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``, ``..._reverse``), gate order and initialisation
(every weight and bias U(−1/√hidden, 1/√hidden)), so weights copied from PyTorch give its outputs.

A cell is one time step written with Tensor ops (``*_step`` below); a multi-layer module runs the
steps of each layer over the sequence. The sequence is kept as a Python list of per-step tensors
between layers (stacked once at the end), so the backward pass never scatters one step's gradient
into a whole-sequence buffer.
"""
import math

import autograd as ag
from autograd.neural import lstm_gates

from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter


# ---------------------------------------------------------------------------- one time step
def rnn_step(x, h, w_ih, w_hh, b_ih, b_hh, nonlinearity="tanh"):
    """h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh), act tanh or relu."""
    pre = F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh)
    return pre.tanh() if nonlinearity == "tanh" else pre.relu()


def lstm_step(x, h, c, w_ih, w_hh, b_ih, b_hh):
    """gates = x W_ihᵀ + b_ih + h W_hhᵀ + b_hh split into (i, f, g, o) (PyTorch's order);
    c' = σ(f)·c + σ(i)·tanh(g),  h' = σ(o)·tanh(c'). Returns (h', c')."""
    gates = F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh)
    return lstm_gates(gates, c)  # the gate arithmetic as one engine op (one graph node per step)


def gru_step(x, h, w_ih, w_hh, b_ih, b_hh):
    """r, z = σ(x W_irᵀ + b_ir + h W_hrᵀ + b_hr), σ(...),  n = tanh(x W_inᵀ + b_in + r·(h W_hnᵀ + b_hn)),
    h' = (1 − z)·n + z·h (PyTorch's order r, z, n and its placement of b_hn inside r·(...))."""
    gx = F.linear(x, w_ih, b_ih)
    gh = F.linear(h, w_hh, b_hh)
    size = h.shape[-1]
    rz = (gx[..., :2 * size] + gh[..., :2 * size]).sigmoid()
    r, z = rz[..., :size], rz[..., size:]
    n = (gx[..., 2 * size:] + r * gh[..., 2 * size:]).tanh()
    return n + z * (h - n)


_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _init_uniform(module, hidden_size):
    bound = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
    for p in module.parameters():
        init.uniform_(p, -bound, bound)


def _check_features(op, input, expected, batched_ndim):
    if input.ndim not in (batched_ndim - 1, batched_ndim):
        raise ValueError(f"{op}: expected input to be {batched_ndim - 1}-D or {batched_ndim}-D, got "
                         f"{input.ndim}-D tensor of shape {tuple(input.shape)}")
    if input.shape[-1] != expected:
        raise RuntimeError(f"{op}: input.size(-1) must be equal to input_size. Expected {expected}, got "
                           f"{input.shape[-1]} (input of shape {tuple(input.shape)})")


# ---------------------------------------------------------------------------- cells
class _CellBase(Module):
    _mode = "RNN_TANH"

    def __init__(self, input_size, hidden_size, bias=True, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = int(input_size), int(hidden_size), bias
        gates = _GATES[self._mode] * self.hidden_size
        self.weight_ih = Parameter(ag.empty(gates, self.input_size, dtype=dtype))
        self.weight_hh = Parameter(ag.empty(gates, self.hidden_size, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(ag.empty(gates, dtype=dtype))
            self.bias_hh = Parameter(ag.empty(gates, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        _init_uniform(self, self.hidden_size)

    def _prepare(self, input):
        _check_features(type(self).__name__, input, self.input_size, 2)
        batched = input.ndim == 2
        if not batched:
            input = input.unsqueeze(0)
        return input, batched

    def _state(self, hx, input, batched, name):
        if hx is None:
            return ag.zeros(input.shape[0], self.hidden_size, dtype=input.dtype)
        if not batched:
            hx = hx.unsqueeze(0)
        if tuple(hx.shape) != (input.shape[0], self.hidden_size):
            raise RuntimeError(f"{type(self).__name__}: {name} has shape {tuple(hx.shape)}, expected "
                               f"{(input.shape[0], self.hidden_size)}")
        return hx

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(_CellBase):
    """One Elman step: h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh) (or relu)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r} (expected 'tanh' or 'relu')")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, dtype)

    def forward(self, input, hx=None):
        input, batched = self._prepare(input)
        h = self._state(hx, input, batched, "hx")
        h = rnn_step(input, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, self.nonlinearity)
        return h if batched else h.squeeze(0)


class LSTMCell(_CellBase):
    """One LSTM step; ``forward(input, (h, c))`` returns ``(h', c')``."""

    _mode = "LSTM"

    def forward(self, input, hx=None):
        input, batched = self._prepare(input)
        h, c = (None, None) if hx is None else hx
        h = self._state(h, input, batched, "h_0")
        c = self._state(c, input, batched, "c_0")
        h, c = lstm_step(input, h, c, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(_CellBase):
    """One GRU step: h' = (1 − z)·n + z·h."""

    _mode = "GRU"

    def forward(self, input, hx=None):
        input, batched = self._prepare(input)
        h = self._state(hx, input, batched, "hx")
        h = gru_step(input, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return h if batched else h.squeeze(0)


# ---------------------------------------------------------------------------- multi-layer
class RNNBase(Module):
    """What RNN, LSTM and GRU share: the parameters of each layer and direction, input layouts
    (``batch_first``, unbatched), initial states, dropout between layers, bidirectional runs."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, dtype=None):
        super().__init__()
        name = type(self).__name__
        if proj_size:
            raise NotImplementedError(f"{name}: proj_size is not supported")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{name}: dropout should be a number in range [0, 1], got {dropout}")
        if int(hidden_size) <= 0 or int(num_layers) <= 0:
            raise ValueError(f"{name}: hidden_size and num_layers must be positive, got {hidden_size} and "
                             f"{num_layers}")
        self.mode = mode
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = 0
        directions = 2 if bidirectional else 1
        gates = _GATES[mode] * self.hidden_size
        self._flat_weights_names = []
        for layer in range(self.num_layers):
            for direction in range(directions):
                layer_input = self.input_size if layer == 0 else self.hidden_size * directions
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                shapes = [("weight_ih", (gates, layer_input)), ("weight_hh", (gates, self.hidden_size))]
                if bias:
                    shapes += [("bias_ih", (gates,)), ("bias_hh", (gates,))]
                for prefix, shape in shapes:
                    self.register_parameter(prefix + suffix, Parameter(ag.empty(shape, dtype=dtype)))
                    self._flat_weights_names.append(prefix + suffix)
        self.reset_parameters()

    def reset_parameters(self):
        _init_uniform(self, self.hidden_size)

    def _weights(self, layer, direction):
        suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
        get = self._parameters.get
        return (get("weight_ih" + suffix), get("weight_hh" + suffix), get("bias_ih" + suffix),
                get("bias_hh" + suffix))

    def _initial(self, state, batch, dtype, batched, name):
        directions = 2 if self.bidirectional else 1
        expected = (self.num_layers * directions, batch, self.hidden_size)
        if state is None:
            return ag.zeros(expected, dtype=dtype)
        if not batched:
            if state.ndim != 2:
                raise RuntimeError(f"{type(self).__name__}: for unbatched 2-D input, {name} should also be 2-D "
                                   f"but got {state.ndim}-D tensor")
            state = state.unsqueeze(1)
        if tuple(state.shape) != expected:
            raise RuntimeError(f"{type(self).__name__}: expected {name} of size {expected}, got "
                               f"{tuple(state.shape)}")
        return state

    def _run(self, input, states):
        """``input`` (L, B, I) or (B, L, I) (batch_first) or (L, I); ``states`` a list of initial state
        tensors of shape (layers·directions, B, H). Returns (output, final states)."""
        name = type(self).__name__
        _check_features(name, input, self.input_size, 3)
        batched = input.ndim == 3
        if not batched:
            steps = [input[t].unsqueeze(0) for t in range(input.shape[0])]
        elif self.batch_first:
            steps = [input[:, t] for t in range(input.shape[1])]
        else:
            steps = [input[t] for t in range(input.shape[0])]
        batch = steps[0].shape[0] if steps else (input.shape[0] if self.batch_first else input.shape[1])
        states = [self._initial(s, batch, input.dtype, batched, n)
                  for s, n in zip(states, ("h_0", "c_0") if self.mode == "LSTM" else ("hx",))]
        directions = 2 if self.bidirectional else 1
        finals = [[] for _ in states]
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                weights = self._weights(layer, direction)
                index = layer * directions + direction
                state = [s[index] for s in states]
                order = range(len(steps) - 1, -1, -1) if direction == 1 else range(len(steps))
                out = [None] * len(steps)
                for t in order:
                    state = self._step(steps[t], state, weights)
                    out[t] = state[0]
                outputs.append(out)
                for final, s in zip(finals, state):
                    final.append(s)
            steps = outputs[0] if directions == 1 else [ag.cat([a, b], -1) for a, b in zip(*outputs)]
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                steps = [F.dropout(s, self.dropout) for s in steps]
        output = ag.stack(steps, 1 if self.batch_first and batched else 0)
        finals = [ag.stack(f, 0) for f in finals]
        if not batched:
            output = output.squeeze(1)
            finals = [f.squeeze(1) for f in finals]
        return output, finals

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    """Elman RNN: ``forward(input, hx=None)`` returns ``(output, h_n)``; output (L, B, D·H) holds the
    last layer's hidden states, h_n (layers·D, B, H) the final hidden state of each layer and direction."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r} (expected 'tanh' or 'relu')")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size,
                         num_layers, bias, batch_first, dropout, bidirectional, dtype=dtype)

    def _step(self, x, state, weights):
        return (rnn_step(x, state[0], *weights, self.nonlinearity),)

    def forward(self, input, hx=None):
        output, (h_n,) = self._run(input, [hx])
        return output, h_n


class LSTM(RNNBase):
    """Long short-term memory: ``forward(input, (h_0, c_0)=None)`` returns ``(output, (h_n, c_n))``."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, dtype)

    def _step(self, x, state, weights):
        return lstm_step(x, state[0], state[1], *weights)

    def forward(self, input, hx=None):
        h_0, c_0 = (None, None) if hx is None else hx
        output, (h_n, c_n) = self._run(input, [h_0, c_0])
        return output, (h_n, c_n)


class GRU(RNNBase):
    """Gated recurrent unit: ``forward(input, hx=None)`` returns ``(output, h_n)``."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype=dtype)

    def _step(self, x, state, weights):
        return (gru_step(x, state[0], *weights),)

    def forward(self, input, hx=None):
        output, (h_n,) = self._run(input, [hx])
        return output, h_n
