"""``ember.nn.functional``: the layers as functions. Linear layers and distances are here; the
other families live beside it, one module each, and are re-exported here: activations
(``ember.nn._activations``), dropout (``_dropout``), normalization (``_normalization``), embedding
(``_embedding``), losses (``_losses``); convolution, pooling, resizing and attention come from
``ember.ops``.

Each function composes ``ember`` ops, or calls a fused primitive of ``ember.ops`` (``nn``,
``normalization``, ``losses``, ``embedding``) where composing would be unstable or much slower.
"""
from __future__ import annotations

import types

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.amp.autocast_mode import cast_args_as
from ember.autograd.function import _AutocastFlag
from ember.nn._losses import cross_entropy
from ember.ops._util import scalar_name
from ember.ops.linalg import Addmm, einsum, matmul
from ember.ops.movement import broadcast_tensors

# ----------------------------------------------------------------------------------------------
# Linear


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = input @ weight.T + bias.

    Shape: input (*, in_features), weight (out_features, in_features), output (*, out_features).
    """
    if _AutocastFlag.on:  # cast as PyTorch's linear: the weight before its transpose (cached)
        input, weight, bias = cast_args_as("LinearBackward0", (input, weight, bias))
    x, w = input._data, weight._data
    if (x.ndim > 2 or x.ndim == 1 and bias is not None) and w.ndim == 2 and \
            x.shape[-1] == w.shape[1] and input.is_contiguous():
        # PyTorch's graph: the batch dims of a contiguous input folded into rows, one GEMM
        # each way; other inputs take matmul and add (a half-precision product is then
        # rounded before the bias is added)
        flat = _linear_rows(input.reshape(-1, w.shape[1]), weight, bias)
        return flat.reshape(x.shape[:-1] + w.shape[:1])
    return _linear_rows(input, weight, bias)


def _linear_rows(input: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """``linear`` of (N, in) input as one Addmm (the common case), else as matmul and add."""
    if bias is not None:
        x = input._data
        if x.ndim == 2 and _addmm_fits(x, weight._data, bias._data):
            return Addmm.apply(bias, input, weight.t(), 1, 1)
        _check_linear_dtypes("mat1", input, weight)
    out = matmul(input, weight.t())
    if bias is None:
        return out
    _check_linear_dtypes("self", bias, weight)
    return out + bias


def _addmm_fits(x, w, b) -> bool:
    """Whether arrays ``x`` (N, in), ``w`` (out, in) and ``b`` (out,) of one kind (NumPy or
    CuPy) and dtype make one Addmm."""
    return (w.ndim == 2 and b.shape == w.shape[:1] and x.shape[-1] == w.shape[1]
            and x.__class__ is w.__class__ is b.__class__ and x.dtype == w.dtype == b.dtype)


def _check_linear_dtypes(name: str, a: Tensor, weight: Tensor) -> None:
    """PyTorch's error for a linear with a bias whose input (``mat1``) or bias (``self``) has
    another dtype than the weight (integer and bool ones included: nothing is promoted)."""
    if a.dtype is not weight.dtype:
        raise RuntimeError(f"{name} and mat2 must have the same dtype, but got "
                           f"{scalar_name(a.dtype)} and {scalar_name(weight.dtype)}")


def linear_cross_entropy(input: Tensor, linear_weight: Tensor, target: Tensor, *,
                         linear_bias: Tensor | None = None, weight: Tensor | None = None,
                         reduction: str = "mean", ignore_index: int | None = None,
                         label_smoothing: float = 0.0, options=None) -> Tensor:
    """cross_entropy(linear(input, linear_weight, linear_bias), target, ...).

    ``linear_weight`` is (C, in_features), or (C, d1, ..., dK, in_features) for a K-dimensional
    loss over batched input, whose logits are then (N, C, d1, ..., dK). ``ignore_index=None``
    means -100. ``options`` selects PyTorch's chunked strategy, which only saves memory: ember
    always computes the reference composition.
    """
    if input.ndim not in (1, 2):
        raise RuntimeError(f"expected input with dimensionality 1 or 2, got {input.ndim}")
    if linear_weight.ndim < 2:
        raise RuntimeError(f"expected linear_weight with dimensionality at least 2, got "
                           f"{linear_weight.ndim}")
    classes, *dims, features = linear_weight.shape
    if dims and input.ndim != 2:
        raise RuntimeError(f"K-dimensional loss defined by linear_weight shape "
                           f"{tuple(linear_weight.shape)} requires batched input, (N, "
                           f"{features}), got unbatched input with shape {tuple(input.shape)}")
    bias = None if linear_bias is None else linear_bias.reshape(-1)
    logits = linear(input, linear_weight.reshape(-1, features), bias)
    if dims:
        logits = logits.reshape((input.shape[0], classes) + tuple(dims))
    return cross_entropy(logits, target, weight, ignore_index=-100 if ignore_index is None
                         else ignore_index, reduction=reduction, label_smoothing=label_smoothing)


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y_k = input1 @ weight[k] @ input2 + bias_k.

    Shape: input1 (*, in1), input2 (*, in2), weight (out, in1, in2), output (*, out).
    """
    if input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(f"bilinear(): input batch dimensions do not match: got "
                           f"{list(input1.shape[:-1])} and {list(input2.shape[:-1])}")
    if _dt.is_half(input1.dtype):
        # PyTorch's half bilinear: input1 @ weight rounded to the half dtype, then its products
        # with input2 (summed in float32), then the bias
        left = einsum("...i,oij->...oj", input1, weight)
        out = matmul(left, input2.unsqueeze(-1)).squeeze(-1)
    else:
        out = einsum("...i,oij,...j->...o", input1, weight, input2)
    return out if bias is None else out + bias


def identity(input: Tensor) -> Tensor:
    return input


# ----------------------------------------------------------------------------------------------
# Distances


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,
              out: Tensor | None = None) -> Tensor:
    """input / max(||input||_p along dim, eps)."""
    denom = input.norm(p, dim, keepdim=True).clamp_min(eps).expand_as(input)
    result = input / denom
    if out is not None:
        out.copy_(result)
        return out
    return result


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """sum(x1 * x2) / (max(||x1||, eps) * max(||x2||, eps)) along ``dim`` (broadcasting)."""
    common = _dt.promote_types(x1.dtype, x2.dtype)
    if not common.is_floating_point:
        raise RuntimeError("expected common dtype to be floating point, yet common dtype is "
                           f"{common}")
    x1, x2 = broadcast_tensors(x1, x2)
    # norm, not sqrt of a sum of squares: its gradient at a zero vector is 0, not NaN.
    n1 = x1.norm(2, dim, keepdim=True).clamp_min(eps)
    n2 = x2.norm(2, dim, keepdim=True).clamp_min(eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """||x1 - x2 + eps||_p along the last dim."""
    return (x1 - x2 + eps).norm(p, -1, keepdim=keepdim)


def pdist(input: Tensor, p: float = 2.0) -> Tensor:
    """The p-norm distances between all pairs of rows (upper triangle, row-major)."""
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    if not input.dtype.is_floating_point:
        raise RuntimeError("pdist only supports floating-point dtypes")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    n = input.shape[0]
    xp = input._xp
    i, j = xp.triu_indices(n, 1)
    return (input[_make(i)] - input[_make(j)]).norm(p, -1)


# --- activations, dropout, normalization, embedding, losses: by family beside this module (with
# the private helpers that ember.ops.nn_aliases and ember.ops.native_nn reach through this one)
from ember.nn import _activations, _dropout, _embedding, _losses, _normalization  # noqa: E402
from ember.nn._activations import *  # noqa: F401,F403,E402
from ember.nn._dropout import *  # noqa: F401,F403,E402
from ember.nn._dropout import _feature_dropout, _feature_noise_shape  # noqa: F401,E402
from ember.nn._embedding import *  # noqa: F401,F403,E402
from ember.nn._embedding import _renorm_rows  # noqa: F401,E402
from ember.nn._losses import *  # noqa: F401,F403,E402
from ember.nn._losses import _Reduction  # noqa: F401,E402
from ember.nn._normalization import *  # noqa: F401,F403,E402
from ember.nn._normalization import _batch_norm  # noqa: F401,E402


def _report_this_module(*families) -> None:
    """Name this module as the families' functions' home, as PyTorch's all say
    torch.nn.functional: a pickled model names its activation (TransformerEncoderLayer.activation)
    by module, and ``ember.load`` rebuilds functions of this module only."""
    for family in families:
        for name in family.__all__:
            function = getattr(family, name)
            if isinstance(function, types.FunctionType):
                function.__module__ = __name__


_report_this_module(_activations, _dropout, _embedding, _losses, _normalization)

# --- spatial and sequence layers (nn-spatial) ---
from ember.ops.adaptive_pooling import *  # noqa: F401,F403,E402
from ember.ops.attention import *  # noqa: F401,F403,E402
from ember.ops.conv import *  # noqa: F401,F403,E402
from ember.ops.pooling import *  # noqa: F401,F403,E402
from ember.ops.resizing import *  # noqa: F401,F403,E402

# --- sampling and channel shuffling: grid_sample / affine_grid live in ember/ops/sampling.py,
# channel_shuffle in ember/nn/modules/channelshuffle.py (imported last: the modules package
# itself imports ember.nn.functional)
from ember.ops.sampling import affine_grid, grid_sample  # noqa: F401,E402  isort: skip
from ember.nn.modules.channelshuffle import (  # noqa: F401,E402  isort: skip
    channel_shuffle, native_channel_shuffle)

GRID_SAMPLE_INTERPOLATION_MODES = {"bilinear": 0, "nearest": 1, "bicubic": 2}
GRID_SAMPLE_PADDING_MODES = {"zeros": 0, "border": 1, "reflection": 2}
