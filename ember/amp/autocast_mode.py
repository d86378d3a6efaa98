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
import warnings

from ember import dtypes as _dt
from ember.autograd.grad_mode import _State as _GradState
from ember.backend.device import device_type

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
    "SoftMarginLossBackward0", "MultiMarginLossBackward0", "MultilabelMarginLossBackward0",
    "PoissonNllLossBackward0", "CdistBackward0",
})

WIDEST = frozenset({
    "AddcdivBackward0", "AddcmulBackward0", "Atan2Backward0", "CrossBackward0",
    "IndexPutBackward0", "ScatterAddBackward0", "TensordotBackward0",
})


class _State:
    active: list = []  # (device_type, dtype) of the active autocast contexts, innermost last
    policy: dict = {}  # device_type -> its innermost dtype (None: off there), kept by _sync_flag
    nesting = 0  # autocast contexts entered and not yet exited
    cache: dict = {}  # see NOTE [ Autocast cast cache ]


def is_autocast_enabled(device_type: str = "cuda") -> bool:
    return _State.policy.get(device_type) is not None


def get_autocast_dtype(device_type: str = "cuda"):
    for dev, dtype in reversed(_State.active):
        if dev == device_type and dtype is not None:
            return dtype
    return _dt.float16 if device_type == "cuda" else _dt.bfloat16


# The floating NumPy dtypes: the tensors autocast casts.
_FLOATING = frozenset(np_dtype for np_dtype, d in _dt._FROM_NP.items() if d.is_floating_point)
_KINDS: dict = {}  # op class -> "lower", "fp32", "widest" or None: its list, from its node name
_UNKNOWN = object()


def _kind_of(node_name: str):
    if node_name in LOWER_PRECISION:
        return "lower"
    if node_name in FLOAT32:
        return "fp32"
    if node_name in WIDEST:
        return "widest"
    return None


def cast_args(cls, args):
    """The arguments of op ``cls`` as autocast would pass them."""
    kind = _KINDS.get(cls, _UNKNOWN)
    if kind is _UNKNOWN:
        kind = _KINDS[cls] = _kind_of(cls._backward_cls.__name__)
    if kind is None:
        return args
    return _cast(kind, args)


def cast_args_as(node_name: str, args):
    """The arguments of a composite op as autocast would pass them to the aten op whose node is
    ``node_name`` (``LinearBackward0``: ``F.linear``'s weight is cast before its transpose)."""
    kind = _kind_of(node_name)
    return args if kind is None else _cast(kind, args)


def _cast(kind: str, args):
    from ember._tensor import Tensor
    first = None
    for a in args:
        if isinstance(a, Tensor) and a._data.dtype in _FLOATING:
            first = a
            break
    if first is None:
        return args
    low = _State.policy.get(device_type(first._data))
    if low is None:
        return args
    if kind == "lower":
        target = low
    elif kind == "fp32":
        target = _dt.float32
    else:
        target = first.dtype
        for a in args:
            if isinstance(a, Tensor) and a._data.dtype in _FLOATING:
                target = _dt.promote_types(target, a.dtype)
    np_target = target.np_dtype
    cached = kind == "lower" and _State.nesting and _cache_enabled()
    out = []
    for a in args:
        if isinstance(a, Tensor):
            dtype = a._data.dtype
            if dtype != np_target and dtype in _FLOATING:
                a = _cached_cast(a, np_target) if cached else _to_copy(a, np_target)
        out.append(a)
    return tuple(out)


def _to_copy(a, np_dtype):
    from ember.ops.conversion import ToCopy
    return ToCopy.apply(a, np_dtype, None)


# NOTE [ Autocast cast cache ]
# Inside an autocast region the same parameter is cast to the low-precision dtype by every
# forward that uses it. As in PyTorch, the cast of a leaf that requires grad (a parameter, not
# a view) is made once per region, in grad mode, and reused: one cast and one ToCopy node for
# all its uses. The entries keep their leaves alive and are dropped when the outermost
# autocast context exits (or by ``clear_autocast_cache``), so a parameter updated between
# steps is cast afresh; one changed in place inside the region is not, as in PyTorch.


def _cached_cast(a, np_dtype):
    if a.grad_fn is not None or not a.requires_grad or a._base is not None or \
            not _GradState.enabled:
        return _to_copy(a, np_dtype)
    key = (id(a), np_dtype)
    entry = _State.cache.get(key)
    if entry is None:
        entry = _State.cache[key] = (a, _to_copy(a, np_dtype))
    return entry[1]


def _cache_enabled() -> bool:
    from ember.runtime import is_autocast_cache_enabled
    return is_autocast_cache_enabled()


def clear_autocast_cache() -> None:
    """Drop the casts autocast cached (see NOTE [ Autocast cast cache ])."""
    _State.cache.clear()


class autocast:
    """Context manager and decorator for mixed precision on one device type.

    Args:
        device_type: "cuda" or "cpu".
        dtype: the low-precision dtype (float16 by default on CUDA, bfloat16 on the CPU).
        enabled: False makes the context a region where autocast is off.
        cache_enabled: whether casts of parameters are cached inside the region (see NOTE
            [ Autocast cast cache ]); None keeps ``is_autocast_cache_enabled()``.

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
        if enabled and device_type == "cuda":
            import ember.cuda
            if not ember.cuda.is_available():
                # PyTorch's words: a CUDA region without CUDA is a region with autocast off
                warnings.warn("CUDA is not available or torch_xla is imported. Disabling "
                              "autocast.", stacklevel=2)
                enabled = False
        self.enabled = enabled
        self.cache_enabled = cache_enabled

    def __enter__(self):
        from ember import runtime
        self._prev_cache_enabled = runtime.is_autocast_cache_enabled()
        if self.cache_enabled is not None:
            runtime.set_autocast_cache_enabled(self.cache_enabled)
        _State.active.append((self.device_type, self.fast_dtype if self.enabled else None))
        _State.nesting += 1
        _sync_flag()
        return self

    def __exit__(self, *exc) -> None:
        from ember import runtime
        _State.active.pop()
        _State.nesting -= 1
        if _State.nesting == 0:
            clear_autocast_cache()
        runtime.set_autocast_cache_enabled(self._prev_cache_enabled)
        _sync_flag()

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with autocast(self.device_type, self.fast_dtype, self.enabled, self.cache_enabled):
                return fn(*args, **kwargs)
        return wrapper


def _sync_flag() -> None:
    """Recompute what ops consult from ``_State.active`` (after every change to it)."""
    from ember.autograd.function import _AutocastFlag
    policy = {}
    for dev, dtype in _State.active:
        policy[dev] = dtype  # innermost last: it wins
    _State.policy = policy
    _AutocastFlag.cast_args = cast_args
    _AutocastFlag.on = any(dtype is not None for dtype in policy.values())


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
