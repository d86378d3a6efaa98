"""``ember.backends.quantized``: the quantized engine PyTorch code reads and sets. ember has one
implementation, with fbgemm's (x86) numerics, whichever name is set."""
from __future__ import annotations

supported_engines = ["none", "onednn", "x86", "fbgemm", "qnnpack"]
engine = "x86"
