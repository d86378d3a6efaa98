"""Recurrent layers: RNN, LSTM, GRU and their single-step cells.

Each layer projects the whole input sequence with one matmul, then runs one matmul per time
step for the hidden state (all gates at once). LSTM (without proj_size) and GRU layers on
unpadded input run as one fused primitive per layer and direction (ember/ops/rnn.py); RNN,
proj_size and PackedSequence input compose ember ops step by step. Variable lengths run on the
padded batch with a mask per step: a finished sequence keeps its last state.
"""
from __future__ import annotations

import math
import numbers
import warnings

from ember._creation import zeros
from ember._tensor import Tensor
from ember.amp.autocast_mode import is_autocast_enabled
from ember.nn import functional as F
from ember.nn import init
from ember.nn.modules.module import Module
from ember.nn.parameter import Parameter
from ember.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence
from ember.ops.linalg import addmm, matmul
from ember.ops.movement import cat, stack
from ember.ops.rnn import gru_layer, gru_step, lstm_cell, lstm_layer, lstm_step

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


# ----------------------------------------------------------------------------------------------
# One time step. ``xw`` is the input's projection (bias included); each returns the new state.

def _rnn_step(act, xw, h, w_hh, b_hh):
    gates = xw + (matmul(h, w_hh.t()) if b_hh is None else addmm(b_hh, h, w_hh.t()))
    return act(gates)


def _act(mode: str):
    return F.relu if mode == "RNN_RELU" else F.tanh


class RNNBase(Module):
    """The shared machinery of RNN, LSTM and GRU: PyTorch's parameter names and init,
    multi-layer, bidirectional, batch_first, dropout between layers, PackedSequence input."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None,
                 dtype=None) -> None:
        super().__init__()
        if (not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1
                or isinstance(dropout, bool)):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=2)
        for name, value, kind in (("bias", bias, bool), ("batch_first", batch_first, bool),
                                  ("input_size", input_size, int),
                                  ("hidden_size", hidden_size, int)):
            if not isinstance(value, kind):
                raise TypeError(f"{name} should be of type {kind.__name__}, got: "
                                f"{type(value).__name__}")
            if kind is int and value <= 0:
                raise ValueError(f"{name} must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        directions = 2 if bidirectional else 1
        real_hidden = proj_size if proj_size > 0 else hidden_size
        gate_size = _GATES[mode] * hidden_size
        kw = {"device": device, "dtype": dtype}
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else real_hidden * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                shapes = [("weight_ih", (gate_size, layer_input)),
                          ("weight_hh", (gate_size, real_hidden))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size > 0:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                names = []
                for name, shape in shapes:
                    setattr(self, name + suffix, Parameter(zeros(shape, **kw)))
                    names.append(name + suffix)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def flatten_parameters(self) -> None:
        """A no-op: there is no cuDNN weight buffer to compact."""

    @property
    def _flat_weights(self) -> list:
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self) -> list:
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def _layer_weights(self, layer: int, direction: int):
        suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
        return tuple(getattr(self, name + suffix, None)
                     for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"))

    def _run_direction(self, x, state, weights, reverse: bool, mask):
        """One layer in one direction over x (T, B, F); returns (outputs (T, B, H), state)."""
        w_ih, w_hh, b_ih, b_hh, w_hr = weights
        steps, batch = x.shape[:2]
        if mask is None and w_hr is None and self.mode == "LSTM":
            # b_ih joins b_hh, which the layer adds anyway: the input GEMM needs no bias pass
            # and its backward no bias sum
            bias = b_hh if b_ih is None else b_ih if b_hh is None else b_ih + b_hh
            out, h, c = lstm_layer(F.linear(x, w_ih), state[0], state[1], w_hh, bias, reverse)
            return out, (h, c)
        xw = F.linear(x, w_ih, b_ih)  # all time steps in one matmul
        if mask is None and self.mode == "GRU":
            out, h = gru_layer(xw, state, w_hh, b_hh, reverse)
            return out, h
        outputs = [None] * steps
        order = range(steps - 1, -1, -1) if reverse else range(steps)
        for t in order:
            if self.mode == "LSTM":
                new = lstm_step(xw[t], state, w_hh, b_hh, w_hr)
            elif self.mode == "GRU":
                new = gru_step(xw[t], state, w_hh, b_hh)
            else:
                new = _rnn_step(_act(self.mode), xw[t], state, w_hh, b_hh)
            if mask is not None:
                keep = mask[t]
                if self.mode == "LSTM":
                    new = (new[0].where(keep, state[0]), new[1].where(keep, state[1]))
                else:
                    new = new.where(keep, state)
            state = new
            out = state[0] if self.mode == "LSTM" else state
            outputs[t] = out if mask is None else out * mask[t]
        return stack(outputs, 0), state

    def _check_input(self, input: Tensor, batched_ndim: int) -> None:
        weight_dtype = self.weight_ih_l0.dtype
        if input.dtype != weight_dtype and not is_autocast_enabled(input.device.type):
            raise ValueError(f"RNN input dtype ({input.dtype}) does not match weight dtype "
                             f"({weight_dtype}). Convert input: input.to({weight_dtype}), or "
                             f"convert model: model.to({input.dtype})")
        if input.ndim != batched_ndim and input.ndim != batched_ndim - 1:
            raise ValueError(f"{type(self).__name__}: Expected input to be 2D or 3D, got "
                             f"{input.ndim}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.shape[-1]}")

    def forward(self, input, hx=None):
        is_lstm = self.mode == "LSTM"
        directions = 2 if self.bidirectional else 1
        real_hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
        packed = isinstance(input, PackedSequence)
        mask = None
        sorted_indices = unsorted_indices = None
        if packed:
            sorted_indices = input.sorted_indices
            unsorted_indices = input.unsorted_indices
            batch_sizes = [int(b) for b in input.batch_sizes.tolist()]
            # run in the packed (sorted) batch order
            x, lengths = pad_packed_sequence(input._replace(sorted_indices=None,
                                                            unsorted_indices=None))
            batched = True
            steps, batch = x.shape[:2]
            t_index = zeros((steps, batch, 1), dtype=x.dtype, device=x.device)
            for t, size in enumerate(batch_sizes):
                t_index[t, :size] = 1
            mask = t_index.bool()
        else:
            self._check_input(input, 3)
            batched = input.ndim == 3
            x = input if batched else input.unsqueeze(1)
            if self.batch_first and batched:
                x = x.transpose(0, 1)
            batch = x.shape[1]
        if hx is None:
            h0 = zeros((self.num_layers * directions, batch, real_hidden), dtype=x.dtype,
                       device=x.device)
            c0 = zeros((self.num_layers * directions, batch, self.hidden_size), dtype=x.dtype,
                       device=x.device) if is_lstm else None
        else:
            h0, c0 = hx if is_lstm else (hx, None)
            if not packed:
                self._check_hidden_rank(h0, c0, batched)
            if not batched:
                h0 = h0.unsqueeze(1)
                c0 = c0.unsqueeze(1) if c0 is not None else None
            if sorted_indices is not None:
                h0 = h0.index_select(1, sorted_indices)
                c0 = c0.index_select(1, sorted_indices) if c0 is not None else None
            self._check_hidden(h0, (self.num_layers * directions, batch, real_hidden),
                               "hidden[0]" if is_lstm else "hidden")
            if is_lstm:
                self._check_hidden(c0, (self.num_layers * directions, batch, self.hidden_size),
                                   "hidden[1]")
        h_n, c_n = [], []
        layer_input = x
        for layer in range(self.num_layers):
            outs = []
            for direction in range(directions):
                k = layer * directions + direction
                state = (h0[k], c0[k]) if is_lstm else h0[k]
                out, state = self._run_direction(layer_input, state,
                                                 self._layer_weights(layer, direction),
                                                 direction == 1, mask)
                outs.append(out)
                if is_lstm:
                    h_n.append(state[0])
                    c_n.append(state[1])
                else:
                    h_n.append(state)
            layer_input = outs[0] if directions == 1 else cat(outs, 2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, True)
        output = layer_input
        h_n = stack(h_n, 0)
        c_n = stack(c_n, 0) if is_lstm else None
        if packed:
            output = pack_padded_sequence(output, lengths)
            output = PackedSequence(output.data, output.batch_sizes, sorted_indices,
                                    unsorted_indices)
            if unsorted_indices is not None:
                h_n = h_n.index_select(1, unsorted_indices)
                c_n = c_n.index_select(1, unsorted_indices) if is_lstm else None
        elif not batched:
            output = output.squeeze(1)
            h_n = h_n.squeeze(1)
            c_n = c_n.squeeze(1) if is_lstm else None
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, ((h_n, c_n) if is_lstm else h_n)

    @staticmethod
    def _check_hidden_rank(h0: Tensor, c0: Tensor | None, batched: bool) -> None:
        rank, kind = (3, "batched 3-D") if batched else (2, "unbatched 2-D")
        if c0 is None and h0.ndim != rank:
            raise RuntimeError(f"For {kind} input, hx should also be {rank}-D but got "
                               f"{h0.ndim}-D tensor")
        if c0 is not None and (h0.ndim != rank or c0.ndim != rank):
            raise RuntimeError(f"For {kind} input, hx and cx should also be {rank}-D but got "
                               f"({h0.ndim}-D, {c0.ndim}-D) tensors")

    @staticmethod
    def _check_hidden(hx: Tensor, expected: tuple, name: str) -> None:
        if tuple(hx.shape) != expected:
            raise RuntimeError(f"Expected {name} size {expected}, got {list(hx.shape)}")

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


class RNN(RNNBase):
    """Elman RNN: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act tanh or relu.

    Args:
        input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
        batch_first=False, dropout=0.0, bidirectional=False.

    Shape: input (L, N, H_in) ((N, L, H_in) with batch_first), or a PackedSequence; returns
    (output (L, N, D*H_out), h_n (D*num_layers, N, H_out)).

    Example::

        >>> rnn = RNN(10, 20, 2)
        >>> out, h = rnn(ember.randn(5, 3, 10))
        >>> out.shape, h.shape
        (torch.Size([5, 3, 20]), torch.Size([2, 3, 20]))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device=None,
                 dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             f"'relu'.")
        self.nonlinearity = nonlinearity
        mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype)


class LSTM(RNNBase):
    """Long short-term memory; gates in PyTorch's order (input, forget, cell, output).

    Shape: returns (output, (h_n, c_n)); with ``proj_size`` h is projected to proj_size.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None,
                 dtype=None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device, dtype)


class GRU(RNNBase):
    """Gated recurrent unit; gates in PyTorch's order (reset, update, new)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device=None, dtype=None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype)


# ----------------------------------------------------------------------------------------------
# Cells

class RNNCellBase(Module):
    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int,
                 device=None, dtype=None) -> None:
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(zeros((num_chunks * hidden_size, input_size), **kw))
        self.weight_hh = Parameter(zeros((num_chunks * hidden_size, hidden_size), **kw))
        if bias:
            self.bias_ih = Parameter(zeros(num_chunks * hidden_size, **kw))
            self.bias_hh = Parameter(zeros(num_chunks * hidden_size, **kw))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _prepare(self, input: Tensor, hx):
        name = type(self).__name__
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        is_lstm = isinstance(self, LSTMCell)
        hiddens = () if hx is None else tuple(hx) if is_lstm else (hx,)
        for i, h in enumerate(hiddens):
            if h.ndim not in (1, 2):
                label = f"hx[{i}]" if is_lstm else "hidden"
                raise ValueError(f"{name}: Expected {label} to be 1D or 2D, got {h.ndim}D instead")
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[-1]} "
                               f"expected {self.input_size}")
        if hx is None:
            zero = zeros((x.shape[0], self.hidden_size), dtype=x.dtype, device=x.device)
            return x, ((zero, zero) if is_lstm else zero), batched
        if not batched:
            hiddens = tuple(h.unsqueeze(0) for h in hiddens)
        for i, h in enumerate(hiddens):
            if h.shape[0] != x.shape[0]:
                raise RuntimeError(f"Input batch size {x.shape[0]} doesn't match hidden{i} "
                                   f"batch size {h.shape[0]}")
            if h.shape[-1] != self.hidden_size:
                raise RuntimeError(f"hidden{i} has inconsistent hidden_size: got "
                                   f"{h.shape[-1]}, expected {self.hidden_size}")
        return x, (hiddens if is_lstm else hiddens[0]), batched

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s


class RNNCell(RNNCellBase):
    """One Elman RNN step: h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, h, batched = self._prepare(input, hx)
        act = F.relu if self.nonlinearity == "relu" else F.tanh
        h = _rnn_step(act, F.linear(x, self.weight_ih, self.bias_ih), h, self.weight_hh,
                      self.bias_hh)
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step; returns (h', c')."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input: Tensor, hx=None):
        x, state, batched = self._prepare(input, hx)
        h, c = lstm_cell(F.linear(x, self.weight_ih, self.bias_ih), *state, self.weight_hh,
                         self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, h, batched = self._prepare(input, hx)
        h = gru_step(F.linear(x, self.weight_ih, self.bias_ih), h, self.weight_hh,
                      self.bias_hh)
        return h if batched else h.squeeze(0)
