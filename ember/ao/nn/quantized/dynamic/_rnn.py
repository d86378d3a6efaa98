"""Dynamically quantized LSTM and GRU: int8 weights, each matrix product quantizing its float
input on the fly (``linear_dynamic``). As in PyTorch's CPU kernel, a layer's input-to-hidden
product runs once over the whole sequence, the hidden-to-hidden one at every step."""
from __future__ import annotations

import ember
from ember import nn
from ember._quantized import quantize_per_tensor
from ember.ao.nn.quantized import _linear as nnq
from ember.ao.nn.quantized.dynamic._linear import linear_dynamic

__all__ = ["LSTM", "GRU", "LSTMCell", "GRUCell", "RNNCell", "PackedParameter"]


# The gate math after both products (input's and hidden state's), shared by layers and cells;
# unlike ember.ops.rnn's steps, the hidden product here is a dynamic int8 linear.

def _lstm_update(gates, c):
    """The new (h, c) from the summed LSTM gates (i, f, g, o) and the old cell state."""
    i, f, g, o = gates.chunk(4, -1)
    c = ember.sigmoid(f) * c + ember.sigmoid(i) * ember.tanh(g)
    return ember.sigmoid(o) * ember.tanh(c), c


def _gru_update(ig, hg, h):
    """The new h from the GRU input and hidden products (r, z, n each) and the old h."""
    i_r, i_z, i_n = ig.chunk(3, -1)
    h_r, h_z, h_n = hg.chunk(3, -1)
    r = ember.sigmoid(i_r + h_r)
    z = ember.sigmoid(i_z + h_z)
    n = ember.tanh(i_n + r * h_n)
    return n + z * (h - n)


class PackedParameter(nn.Module):
    """One layer-direction's weights ``(w_ih, w_hh, b_ih, b_hh)``, saved as ``param``."""

    def __init__(self, param) -> None:
        super().__init__()
        self.param = param

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        destination[prefix + "param"] = self.param

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        self.param = state_dict.pop(prefix + "param")
        super()._load_from_state_dict(state_dict, prefix, local_metadata, False, missing_keys,
                                      unexpected_keys, error_msgs)


class RNNBase(nn.Module):
    """Shared parts of the dynamic LSTM and GRU: PyTorch's constructor arguments and repr,
    ``from_float`` and the layer/direction loop."""

    _FLOAT_MODULE = nn.RNNBase
    _version = 2

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, dtype=ember.qint8) -> None:
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.dtype = dtype
        self.proj_size = 0
        self._all_weight_values = nn.ModuleList()
        self.training = False  # built for inference, as PyTorch's: no dropout between layers

    def _get_name(self) -> str:
        return "DynamicQuantizedRNN"

    extra_repr = nn.RNNBase.extra_repr

    def __repr__(self) -> str:
        return nnq.repr_without(self, "_all_weight_values")

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant: bool = False):
        """The dynamic module of a float LSTM/GRU: every weight matrix quantized per tensor
        with its own observer from the qconfig (the default dynamic one if none)."""
        from ember.ao.quantization.qconfig import default_dynamic_qconfig
        qconfig = getattr(mod, "qconfig", None) or default_dynamic_qconfig
        dtype = qconfig.weight().dtype
        new = cls(mod.input_size, mod.hidden_size, mod.num_layers, mod.bias, mod.batch_first,
                  mod.dropout, mod.bidirectional, dtype)
        for names in mod._all_weights:
            tensors = [getattr(mod, n).detach() for n in names]
            packed = []
            for t in tensors[:2]:
                if dtype is ember.float16:
                    packed.append(t.to(ember.float16))
                    continue
                observer = qconfig.weight()
                observer(t)
                packed.append(nnq.quantize_weight(t.float(), observer))
            biases = tensors[2:4] if mod.bias else [None, None]
            new._all_weight_values.append(PackedParameter(tuple(packed + biases)))
        return new

    def _linear(self, x, w, b):
        if self.dtype is ember.float16:
            return nn.functional.linear(x, w.to(x.dtype), b)
        return linear_dynamic(x, w, b)

    def _run(self, input, hx, step, state_size: int):
        if self.batch_first:
            input = input.transpose(0, 1)
        dirs = 2 if self.bidirectional else 1
        batch = input.shape[1]
        if hx is None:
            zeros = ember.zeros(self.num_layers * dirs, batch, self.hidden_size,
                                dtype=input.dtype)
            hx = (zeros,) * state_size
        finals = [[] for _ in range(state_size)]
        layer_input = input
        for layer in range(self.num_layers):
            outputs = []
            for d in range(dirs):
                w_ih, w_hh, b_ih, b_hh = self._all_weight_values[layer * dirs + d].param
                gates = self._linear(layer_input, w_ih, b_ih)  # the whole sequence at once
                state = tuple(h[layer * dirs + d] for h in hx)
                steps = range(gates.shape[0])
                out = [None] * gates.shape[0]
                for t in (reversed(steps) if d else steps):
                    state = step(self, gates[t], state, w_hh, b_hh)
                    out[t] = state[0]
                outputs.append(ember.stack(out))
                for k in range(state_size):
                    finals[k].append(state[k])
            layer_input = ember.cat(outputs, -1) if dirs == 2 else outputs[0]
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = nn.functional.dropout(layer_input, self.dropout, True)
        output = layer_input.transpose(0, 1) if self.batch_first else layer_input
        return output, tuple(ember.stack(f) for f in finals)


class LSTM(RNNBase):
    """``nn.LSTM`` with int8 weights (dynamic quantization).

    Example::

        >>> q = LSTM.from_float(ember.nn.LSTM(4, 8))
        >>> out, (h, c) = q(ember.randn(5, 2, 4))
        >>> out.shape
        torch.Size([5, 2, 8])
    """

    _FLOAT_MODULE = nn.LSTM

    def __init__(self, *args, **kwargs) -> None:
        super().__init__("LSTM", *args, **kwargs)

    def _get_name(self) -> str:
        return "DynamicQuantizedLSTM"

    def _step(self, gates, state, w_hh, b_hh):
        h, c = state
        return _lstm_update(gates + self._linear(h, w_hh, b_hh), c)

    def forward(self, input, hx=None):
        unbatched = input.ndim == 2
        if unbatched:
            input = input.unsqueeze(1)
            hx = None if hx is None else tuple(h.unsqueeze(1) for h in hx)
        output, (h, c) = self._run(input, hx, LSTM._step, 2)
        if unbatched:
            return output.squeeze(1), (h.squeeze(1), c.squeeze(1))
        return output, (h, c)


class GRU(RNNBase):
    """``nn.GRU`` with int8 weights (dynamic quantization)."""

    _FLOAT_MODULE = nn.GRU

    def __init__(self, *args, **kwargs) -> None:
        super().__init__("GRU", *args, **kwargs)

    def _get_name(self) -> str:
        return "DynamicQuantizedGRU"

    def _step(self, gates, state, w_hh, b_hh):
        (h,) = state
        return (_gru_update(gates, self._linear(h, w_hh, b_hh), h),)

    def forward(self, input, hx=None):
        unbatched = input.ndim == 2
        if unbatched:
            input = input.unsqueeze(1)
            hx = None if hx is None else hx.unsqueeze(1)
        output, (h,) = self._run(input, None if hx is None else (hx,), GRU._step, 1)
        if unbatched:
            return output.squeeze(1), h.squeeze(1)
        return output, h


class RNNCellBase(nn.Module):
    """Shared parts of the dynamic cells: int8 ``weight_ih`` / ``weight_hh`` with float biases,
    saved as ``_packed_weight_ih`` / ``_packed_weight_hh`` ``(weight, bias)`` pairs."""

    _FLOAT_MODULE = nn.RNNCellBase
    _GATES = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 num_chunks: int = 1, dtype=ember.qint8) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_dtype = dtype
        zeros = ember.zeros(num_chunks * hidden_size)
        self._packed_weight_ih = (quantize_per_tensor(
            ember.zeros(num_chunks * hidden_size, input_size), 1.0, 0, ember.qint8),
            zeros if bias else None)
        self._packed_weight_hh = (quantize_per_tensor(
            ember.zeros(num_chunks * hidden_size, hidden_size), 1.0, 0, ember.qint8),
            zeros if bias else None)

    def _get_name(self) -> str:
        return "DynamicQuantized" + type(self).__name__

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        destination[prefix + "_packed_weight_ih"] = self._packed_weight_ih
        destination[prefix + "_packed_weight_hh"] = self._packed_weight_hh

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        self._packed_weight_ih = state_dict.pop(prefix + "_packed_weight_ih")
        self._packed_weight_hh = state_dict.pop(prefix + "_packed_weight_hh")
        super()._load_from_state_dict(state_dict, prefix, local_metadata, False, missing_keys,
                                      unexpected_keys, error_msgs)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant: bool = False):
        """The dynamic cell of a float cell: both weight matrices quantized per tensor."""
        from ember.ao.quantization.qconfig import default_dynamic_qconfig
        qconfig = getattr(mod, "qconfig", None) or default_dynamic_qconfig
        packed = []
        for which in ("ih", "hh"):
            weight = getattr(mod, "weight_" + which).detach()
            observer = qconfig.weight()
            observer(weight)
            bias = getattr(mod, "bias_" + which)
            packed.append((nnq.quantize_weight(weight.float(), observer),
                           None if bias is None else bias.detach()))
        extra = {"nonlinearity": mod.nonlinearity} if hasattr(mod, "nonlinearity") else {}
        new = cls(mod.input_size, mod.hidden_size, mod.bias, **extra)
        new._packed_weight_ih, new._packed_weight_hh = packed
        return new

    def _gates(self, input, hx):
        return (linear_dynamic(input, *self._packed_weight_ih),
                linear_dynamic(hx, *self._packed_weight_hh))

    def _zeros(self, input):
        shape = (input.shape[0], self.hidden_size) if input.ndim == 2 else (self.hidden_size,)
        return ember.zeros(shape, dtype=input.dtype)


class LSTMCell(RNNCellBase):
    """``nn.LSTMCell`` with int8 weights (dynamic quantization)."""

    _FLOAT_MODULE = nn.LSTMCell

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 dtype=ember.qint8) -> None:
        super().__init__(input_size, hidden_size, bias, 4, dtype)

    def forward(self, input, hx=None):
        h, c = (self._zeros(input),) * 2 if hx is None else hx
        ig, hg = self._gates(input, h)
        return _lstm_update(ig + hg, c)


class GRUCell(RNNCellBase):
    """``nn.GRUCell`` with int8 weights (dynamic quantization)."""

    _FLOAT_MODULE = nn.GRUCell

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 dtype=ember.qint8) -> None:
        super().__init__(input_size, hidden_size, bias, 3, dtype)

    def forward(self, input, hx=None):
        h = self._zeros(input) if hx is None else hx
        return _gru_update(*self._gates(input, h), h)


class RNNCell(RNNCellBase):
    """``nn.RNNCell`` with int8 weights (dynamic quantization)."""

    _FLOAT_MODULE = nn.RNNCell

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", dtype=ember.qint8) -> None:
        super().__init__(input_size, hidden_size, bias, 1, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        h = self._zeros(input) if hx is None else hx
        ig, hg = self._gates(input, h)
        act = ember.tanh if self.nonlinearity == "tanh" else ember.relu
        return act(ig + hg)
