"""Quantize / DeQuantize, the functional wrappers (FloatFunctional, QFunctional) and ReLU6."""
from __future__ import annotations

import ember
from ember import nn
from ember._quantized import _like, quant_range, quantize_per_tensor
from ember.ao.nn.quantized import functional as qF

__all__ = ["Quantize", "DeQuantize", "FloatFunctional", "FXFloatFunctional", "QFunctional",
           "ReLU6"]


class Quantize(nn.Module):
    """Quantize float input with a fixed scale and zero point (what ``QuantStub`` becomes).

    Example::

        >>> q = Quantize(0.1, 10, ember.quint8)
        >>> q(ember.tensor([0.0, 1.0])).int_repr().tolist()
        [10, 20]
    """

    def __init__(self, scale, zero_point, dtype, factory_kwargs=None) -> None:
        super().__init__()
        self.register_buffer("scale", ember.tensor([float(scale)]))
        self.register_buffer("zero_point", ember.tensor([int(zero_point)], dtype=ember.int64))
        self.dtype = dtype

    def forward(self, X):
        return quantize_per_tensor(X, float(self.scale), int(self.zero_point), self.dtype)

    @staticmethod
    def from_float(mod, use_precomputed_fake_quant: bool = False) -> "Quantize":
        app = mod.activation_post_process
        scale, zero_point = app.calculate_qparams()
        return Quantize(scale.float().item(), zero_point.long().item(), app.dtype)

    def extra_repr(self) -> str:
        return f"scale={self.scale}, zero_point={self.zero_point}, dtype={self.dtype}"


class DeQuantize(nn.Module):
    """Dequantize to float (what ``DeQuantStub`` becomes)."""

    def forward(self, Xq):
        return Xq.dequantize()

    @staticmethod
    def from_float(mod, use_precomputed_fake_quant: bool = False) -> "DeQuantize":
        return DeQuantize()


class FloatFunctional(nn.Module):
    """``add``, ``mul``, ``cat``, ... as a module, so static quantization can observe their
    outputs (``activation_post_process``) and ``convert`` can swap in ``QFunctional``."""

    def __init__(self) -> None:
        super().__init__()
        self.activation_post_process = nn.Identity()

    def forward(self, x):
        raise RuntimeError("FloatFunctional is not intended to use the 'forward'. Please use "
                           "the underlying operation")

    def add(self, x, y):
        return self.activation_post_process(ember.add(x, y))

    def add_scalar(self, x, y):
        return ember.add(x, y)  # PyTorch leaves scalar ops unobserved

    def mul(self, x, y):
        return self.activation_post_process(ember.mul(x, y))

    def mul_scalar(self, x, y):
        return ember.mul(x, y)

    def cat(self, x, dim: int = 0):
        return self.activation_post_process(ember.cat(x, dim=dim))

    def add_relu(self, x, y):
        return self.activation_post_process(ember.relu(ember.add(x, y)))

    def matmul(self, x, y):
        return self.activation_post_process(ember.matmul(x, y))


class FXFloatFunctional(FloatFunctional):
    """``FloatFunctional`` for FX graph mode: no observer of its own."""

    def add(self, x, y):
        return ember.add(x, y)

    def mul(self, x, y):
        return ember.mul(x, y)

    def cat(self, x, dim: int = 0):
        return ember.cat(x, dim=dim)

    def add_relu(self, x, y):
        return ember.relu(ember.add(x, y))

    def matmul(self, x, y):
        return ember.matmul(x, y)


class _OutputQParams:
    """Mixin for a quantized module whose output ``scale``/``zero_point`` are plain attributes
    that PyTorch's state dict holds as 0-d tensors, after the module's own entries."""

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        destination[prefix + "scale"] = ember.tensor(self.scale)
        destination[prefix + "zero_point"] = ember.tensor(self.zero_point)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        self.scale = float(state_dict.pop(prefix + "scale"))
        self.zero_point = int(state_dict.pop(prefix + "zero_point"))
        super()._load_from_state_dict(state_dict, prefix, local_metadata, False, missing_keys,
                                      unexpected_keys, error_msgs)


class QFunctional(_OutputQParams, nn.Module):
    """The quantized ``FloatFunctional``: each op's result is requantized with ``scale`` and
    ``zero_point`` (taken from the float module's observer by ``from_float``)."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = 1.0
        self.zero_point = 0
        self.activation_post_process = nn.Identity()

    def _get_name(self) -> str:
        return "QFunctional"

    def extra_repr(self) -> str:
        return f"scale={self.scale}, zero_point={self.zero_point}"

    def forward(self, x):
        raise RuntimeError("Functional is not intended to use the 'forward'. Please use the "
                           "underlying operation")

    def add(self, x, y):
        return self.activation_post_process(qF.add(x, y, self.scale, self.zero_point))

    def add_scalar(self, x, y):
        return qF.add(x, y, x.q_scale(), x.q_zero_point())

    def mul(self, x, y):
        return self.activation_post_process(qF.mul(x, y, self.scale, self.zero_point))

    def mul_scalar(self, x, y):
        # the integers keep their spacing: the scale grows by |y|, a negative y mirrors them
        lo, hi = quant_range(x.dtype)
        zero_point = x.q_zero_point() if y >= 0 else lo + hi - x.q_zero_point()
        return qF.mul(x, y, x.q_scale() * abs(y), zero_point)

    def cat(self, x, dim: int = 0):
        return self.activation_post_process(qF.cat(x, dim, self.scale, self.zero_point))

    def add_relu(self, x, y):
        return self.activation_post_process(qF.add_relu(x, y, self.scale, self.zero_point))

    def matmul(self, x, y):
        out = ember.matmul(x.dequantize(), y.dequantize())
        return self.activation_post_process(
            quantize_per_tensor(out, self.scale, self.zero_point, x.dtype))

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant: bool = False) -> "QFunctional":
        if type(mod) is not FloatFunctional:
            raise AssertionError("QFunctional.from_float expects an instance of FloatFunctional")
        scale, zero_point = mod.activation_post_process.calculate_qparams()
        new_mod = QFunctional()
        new_mod.scale = float(scale)
        new_mod.zero_point = int(zero_point)
        return new_mod


class ReLU6(nn.ReLU6):
    """min(max(x, 0), 6) on a quantized tensor (the integers clamped to zero_point and the
    integer standing for 6)."""

    def forward(self, input):
        six = quantize_per_tensor(ember.tensor([6.0]), input.q_scale(), input.q_zero_point(),
                                  input.dtype)._data[0]
        zp = input._data.dtype.type(input.q_zero_point())
        return _like(input, input._xp.clip(input._data, zp, six))

    def _get_name(self) -> str:
        return "QuantizedReLU6"

    @staticmethod
    def from_float(mod, use_precomputed_fake_quant: bool = False) -> "ReLU6":
        return ReLU6(mod.inplace)
