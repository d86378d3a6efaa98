"""Automatic mixed precision: ``ember.autocast(device_type, dtype)``.

Inside the context, ops on tensors of that device type run in the precision PyTorch's autocast
gives them: matrix products and convolutions in the low-precision dtype, numerically sensitive
ops (exp/log family, softmax, reductions, norms, losses) in float32, and a few binary ops in the
widest input dtype. Ops are named by their backward node (PyTorch's names), so the lists below
read like PyTorch's documented op lists. ``Function.apply`` consults ``cast_args`` only while some
autocast context is active.
"""
from __future__ import annotations

import functools

from ember import dtypes as _dt

LOWER_PRECISION = frozenset({
    "MmBackward0", "BmmBackward0", "MvBackward0", "DotBackward0", "MatmulBackward0",
    "AddmmBackward0", "AddmvBackward0", "AddbmmBackward0", "BaddbmmBackward0", "AddrBackward0",
    "ConvolutionBackward0", "ConvolutionBackwardBackward0", "LinearBackward0",
    "PreluKernelBackward0", "EinsumBackward0",
})

FLOAT32 = frozenset({
    "AcosBackward0", "AsinBackward0", "CoshBackward0", "ErfinvBackward0", "ExpBackward0",
    "Expm1Backward0", "LogBackward0", "Log10Backward0", "Log2Backward0", "Log1PBackward0",
    "ReciprocalBackward0", "RsqrtBackward0", "SinhBackward0", "TanBackward0", "PowBackward0",
    "PowBackward1", "PowBackward2", "SoftplusBackward0", "NativeLayerNormBackward0",
    "NativeGroupNormBackward0", "NormBackward1", "LogsumexpBackward0", "SoftmaxBackward0",
    "LogSoftmaxBackward0", "CumsumBackward0", "CumprodBackward0", "SumBackward0",
    "SumBackward1", "ProdBackward0", "MeanBackward0", "MeanBackward1", "NllLossBackward0",
    "NllLoss2DBackward0",
    "MseLossBackward0", "L1LossBackward0", "SmoothL1LossBackward0", "HuberLossBackward0",
    "KlDivBackward0", "BinaryCrossEntropyWithLogitsBackward0", "CrossEntropyLossBackward0",
    "SoftMarginLossBackward0", "MultiMarginLossBackward0", "PoissonNllLossBackward0",
    "CdistBackward0",
})

WIDEST = frozenset({
    "AddcdivBackward0", "AddcmulBackward0", "Atan2Backward0", "CrossBackward0",
    "IndexPutBackward0", "ScatterAddBackward0", "TensordotBackward0",
})


class _State:
    # A list of (device_type, dtype) for the active autocast contexts, innermost last.
    active: list = []


def is_autocast_enabled(device_type: str = "cuda") -> bool:
    for dev, dtype in reversed(_State.active):
        if dev == device_type:
            return dtype is not None
    return False


def get_autocast_dtype(device_type: str = "cuda"):
    for dev, dtype in reversed(_State.active):
        if dev == device_type and dtype is not None:
            return dtype
    return _dt.float16 if device_type == "cuda" else _dt.bfloat16


def _policy_dtype(device_type: str):
    for dev, dtype in reversed(_State.active):
        if dev == device_type:
            return dtype
    return None


def cast_args(cls, args):
    """The arguments of op ``cls`` as autocast would pass them."""
    from ember._tensor import Tensor
    name = cls._backward_cls.__name__
    if name in LOWER_PRECISION:
        kind = "lower"
    elif name in FLOAT32:
        kind = "fp32"
    elif name in WIDEST:
        kind = "widest"
    else:
        return args
    tensors = [a for a in args if isinstance(a, Tensor) and a.dtype.is_floating_point]
    if not tensors:
        return args
    low = _policy_dtype(tensors[0].device.type)
    if low is None:
        return args
    if kind == "lower":
        target = low
    elif kind == "fp32":
        target = _dt.float32
    else:
        target = tensors[0].dtype
        for t in tensors[1:]:
            target = _dt.promote_types(target, t.dtype)
    return tuple(a.to(target) if isinstance(a, Tensor) and a.dtype.is_floating_point
                 and a.dtype is not target else a for a in args)


class autocast:
    """Context manager and decorator for mixed precision on one device type.

    Args:
        device_type: "cuda" or "cpu".
        dtype: the low-precision dtype (float16 by default on CUDA, bfloat16 on the CPU).
        enabled: False makes the context a region where autocast is off.

    Example::

        with ember.autocast("cpu", dtype=ember.bfloat16):
            y = model(x)          # matmuls in bfloat16, softmax/losses in float32
    """

    def __init__(self, device_type: str = "cuda", dtype=None, enabled: bool = True,
                 cache_enabled: bool | None = None):
        if device_type not in ("cuda", "cpu"):
            raise RuntimeError(f"User specified an unsupported autocast device_type "
                               f"'{device_type}'")
        self.device_type = device_type
        if dtype is None:
            dtype = _dt.float16 if device_type == "cuda" else _dt.bfloat16
        self.fast_dtype = _dt.to_dtype(dtype)
        self.enabled = enabled

    def __enter__(self):
        _State.active.append((self.device_type, self.fast_dtype if self.enabled else None))
        _sync_flag()
        return self

    def __exit__(self, *exc) -> None:
        _State.active.pop()
        _sync_flag()

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with autocast(self.device_type, self.fast_dtype, self.enabled):
                return fn(*args, **kwargs)
        return wrapper


def _sync_flag() -> None:
    from ember.autograd import function
    function._AutocastFlag.on = any(dtype is not None for _, dtype in _State.active)


def is_autocast_available(device_type: str) -> bool:
    """Whether ``autocast`` supports ``device_type`` (ember's: "cpu" and "cuda")."""
    from ember.backend.device import Device
    return Device(device_type).type in ("cpu", "cuda")


def custom_fwd(fwd=None, *, device_type: str, cast_inputs=None):
    """Decorator for the ``forward`` of a custom ``autograd.Function`` under autocast.

    Without ``cast_inputs`` the forward runs in the caller's autocast state (recorded on ctx
    for ``custom_bwd``). With ``cast_inputs`` (a floating dtype) and autocast enabled for
    ``device_type``, the forward's floating-point tensor arguments are cast to that dtype and
    it runs with autocast off.
    """
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def decorate_fwd(ctx, *args, **kwargs):
        ctx._dtype = get_autocast_dtype(device_type)
        enabled = is_autocast_enabled(device_type)
        if cast_inputs is None:
            ctx._fwd_used_autocast = enabled
            return fwd(ctx, *args, **kwargs)
        ctx._fwd_used_autocast = False
        if not enabled:
            return fwd(ctx, *args, **kwargs)
        with autocast(device_type, enabled=False):
            return fwd(ctx, *_cast_floats(args, cast_inputs),
                       **dict(zip(kwargs, _cast_floats(tuple(kwargs.values()), cast_inputs))))
    return decorate_fwd


def custom_bwd(bwd=None, *, device_type: str):
    """Decorator for the ``backward`` of a custom ``autograd.Function``: it runs in the
    autocast state its ``custom_fwd`` forward ran in."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorate_bwd(ctx, *args, **kwargs):
        with autocast(device_type, dtype=ctx._dtype, enabled=ctx._fwd_used_autocast):
            return bwd(ctx, *args, **kwargs)
    return decorate_bwd


def _cast_floats(values: tuple, dtype) -> tuple:
    from ember._tensor import Tensor
    return tuple(v.to(dtype) if isinstance(v, Tensor) and v.is_floating_point() else v
                 for v in values)
