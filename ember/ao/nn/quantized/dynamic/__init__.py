"""Dynamically quantized modules (``torch.ao.nn.quantized.dynamic``): int8 weights, float
inputs and outputs, activations quantized on the fly."""
from __future__ import annotations

from ember.ao.nn.quantized.dynamic._linear import Linear
from ember.ao.nn.quantized.dynamic._rnn import (
    GRU,
    LSTM,
    GRUCell,
    LSTMCell,
    PackedParameter,
    RNNCell,
)

__all__ = ["Linear", "LSTM", "GRU", "LSTMCell", "GRUCell", "RNNCell", "PackedParameter"]
