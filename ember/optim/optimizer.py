"""The optimizer base class: parameter groups, per-parameter state, state_dict, hooks, loops.

# NOTE [ One update, written once ]
Each built-in optimizer writes its update once, as one fused elementwise kernel
(``ember.backend.fused``) that runs on NumPy and CuPy arrays alike, in place, with PyTorch's
operation order so float64 trajectories match PyTorch's. ``_prepare`` does a parameter's
once-per-step bookkeeping (step counts, bias corrections) and returns the kernel's source for
the group's options (``maximize`` included) with its operands: the state arrays and the step's
scalars; the parameter is ``p`` and its gradient ``g``. This class owns the loops over groups
and parameters, the step hooks and the checkpoint layout. On the CPU the kernel runs its
ufuncs over cache-sized pieces and allocates nothing of the parameter's size; on a GPU the
updates that share a kernel and scalars run as one launch (``ember.backend.multi_tensor``,
PyTorch's ``foreach`` kernels), with the per-parameter kernel's arithmetic; ``foreach=False``
asks for one launch per parameter, as in PyTorch.

# NOTE [ Sparse gradients ]
A sparse (COO) gradient, from ``embedding(..., sparse=True)``, keeps its values densely (see
``ember.sparse``), so an update can run on it as on a dense one. ``_sparse_update`` says how an
optimizer takes one: on the whole arrays (SGD: PyTorch's sparse momentum buffer decays every row
it stores, as a dense one does), or on the gradient's stored rows only (Adagrad, SparseAdam: the
same kernel over the gathered rows, scattered back), or not at all: the default raises PyTorch's
error. ``_dense_grad_error`` refuses dense gradients (SparseAdam).
"""
from __future__ import annotations

import functools
import os
import warnings
from collections import OrderedDict, defaultdict
from concurrent.futures import ThreadPoolExecutor
from copy import deepcopy
from typing import Any, Callable

import numpy as np

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.autograd.grad_mode import enable_grad, no_grad
from ember.backend import fused, multi_tensor
from ember.backend.device import get_array_module
from ember.nn.modules._hooks import RemovableHandle

__all__ = ["Optimizer", "required", "register_optimizer_step_pre_hook",
           "register_optimizer_step_post_hook"]


class _RequiredParameter:
    """Marks a default that every parameter group must set."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()

# NOTE [ Parallel updates ]
# NumPy's elementwise kernels run on one core but release the GIL, so a large step splits its
# parameters between threads (one per core): each parameter is still updated by the same code,
# in the same order, so results are bit-identical; only which thread runs it changes. Every
# ufunc call hands the GIL between the threads (a thread wake-up), and Python run by one thread
# stalls the other's next call, so the calling thread does all the Python work first (each
# update's bookkeeping and the binding of its kernel) and the threads then run only the kernels,
# on whole arrays: cache-sized pieces would make more, shorter calls, which cost more than the
# cache saves (measured). Device arrays are not split: their kernels run asynchronously anyway.
_PARALLEL_MIN_VALUES = 1 << 20
_pool: list = []


def _threads() -> int:
    return min(os.cpu_count() or 1, 4)


def _run_split(kernels: list, sizes: list, n: int) -> None:
    """Run the ``kernels`` in ``n`` threads, shared out balanced by ``sizes`` (bytes: an
    update's cost is its memory traffic); the calling thread runs the first share."""
    shares = [[] for _ in range(n)]
    loads = [0] * n
    for size, kernel in sorted(zip(sizes, kernels), key=lambda w: -w[0]):
        i = loads.index(min(loads))
        shares[i].append(kernel)
        loads[i] += size
    if not _pool:
        _pool.append(ThreadPoolExecutor(max_workers=n, thread_name_prefix="ember-optim"))
    futures = [_pool[0].submit(_run_all, share) for share in shares[1:] if share]
    _run_all(shares[0])
    for f in futures:
        f.result()


def _run_all(kernels: list) -> None:
    for kernel in kernels:
        kernel()


def _forget_pool_after_fork() -> None:
    _pool.clear()  # the pool's threads do not exist in a forked child


os.register_at_fork(after_in_child=_forget_pool_after_fork)

_global_step_pre_hooks: dict = OrderedDict()
_global_step_post_hooks: dict = OrderedDict()


def register_optimizer_step_pre_hook(hook: Callable) -> RemovableHandle:
    """Run ``hook(optimizer, args, kwargs)`` before every optimizer's step."""
    handle = RemovableHandle(_global_step_pre_hooks)
    _global_step_pre_hooks[handle.id] = hook
    return handle


def register_optimizer_step_post_hook(hook: Callable) -> RemovableHandle:
    """Run ``hook(optimizer, args, kwargs)`` after every optimizer's step."""
    handle = RemovableHandle(_global_step_post_hooks)
    _global_step_post_hooks[handle.id] = hook
    return handle


def _scalar_dtype():
    # PyTorch keeps step counters and scalar state in float32 unless the default is float64.
    return np.float64 if _dt.get_default_dtype() is _dt.float64 else np.float32


def _scalar_state(value: float) -> Tensor:
    """A 0-d CPU tensor of the scalar-state dtype (``state['step']`` and friends)."""
    return _make(np.array(value, dtype=_scalar_dtype()))


def _advance_step(state: dict) -> float:
    """``state['step'] += 1`` (a parameter's step count, a 0-d tensor as in PyTorch) and its
    new value: a write of the float, exact for counts, ten times cheaper in NumPy than an
    in-place add on a 0-d array (this runs once per parameter and step)."""
    counter = state["step"]._data
    step = float(counter) + 1
    counter[()] = step
    return step


def _check_range(name: str, value, low: float = 0.0, high: float | None = None,
                 index: int | None = None) -> None:
    """Raise PyTorch's ValueError for a hyperparameter outside ``[low, high)``."""
    if isinstance(value, Tensor) and value.numel() != 1:
        raise ValueError(f"Tensor {'lr' if name == 'learning rate' else name} must be "
                         "1-element")
    bad = not low <= value or (high is not None and not value < high)
    if bad:
        if index is not None:
            raise ValueError(f"Invalid {name} parameter at index {index}: {value}")
        raise ValueError(f"Invalid {name}: {value}")


def _hooked_step(step: Callable) -> Callable:
    """Wrap a ``step`` so the step pre/post hooks run around it (once, even via super())."""

    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        if self._in_step or "_optimizer_step_pre_hooks" not in self.__dict__:
            # PyTorch hooks ``step`` in ``Optimizer.__init__``: a wrapper that never runs it
            # (accelerate's AcceleratedOptimizer) steps without hooks
            return step(self, *args, **kwargs)
        for hook in (*_global_step_pre_hooks.values(), *self._optimizer_step_pre_hooks.values()):
            result = hook(self, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError("optimizer step pre-hook must return None or a tuple of "
                                       f"(new_args, new_kwargs), but got {result}.")
                args, kwargs = result
        self._opt_called = True
        self._in_step = True
        try:
            out = step(self, *args, **kwargs)
        finally:
            self._in_step = False
        for hook in (*self._optimizer_step_post_hooks.values(), *_global_step_post_hooks.values()):
            hook(self, args, kwargs)
        return out

    wrapper._ember_hooked = True
    return wrapper


class Optimizer:
    """Base class of all optimizers, like ``torch.optim.Optimizer``.

    Args:
        params: an iterable of Tensors, or of dicts (parameter groups) each with a ``'params'``
            entry and per-group options.
        defaults: default options for the groups.

    A subclass may override ``step`` in PyTorch style (loop over ``self.param_groups`` and use
    ``self.state[p]``); built-in optimizers instead write ``_prepare`` for one parameter and let
    this class loop (see NOTE [ One update, written once ]).
    """

    _in_step = False
    _dense_grad_error: str | None = None  # PyTorch's error for a dense gradient, where it has one

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_ember_hooked", False):
            cls.step = _hooked_step(step)

    def __init__(self, params, defaults: dict) -> None:
        self.defaults = defaults
        self._optimizer_step_pre_hooks: dict = OrderedDict()
        self._optimizer_step_post_hooks: dict = OrderedDict()
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {_typename(params)}")
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def _patch_step_function(self) -> None:
        """Make this class's ``step`` run the step hooks. Classes get a hooked ``step`` when
        defined; wrappers that skip ``Optimizer.__init__`` call this (as PyTorch's
        ``__init__`` does) after creating their hook dicts, and a ``step`` assigned to the
        class later is hooked here."""
        self._zero_grad_profile_name = (
            f"Optimizer.zero_grad#{self.__class__.__name__}.zero_grad")
        if not getattr(self.__class__.step, "_ember_hooked", False):
            self.__class__.step = _hooked_step(self.__class__.step)

    # ------------------------------------------------------------------------------------------
    # Parameter groups

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own options (missing ones come from defaults)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        else:
            param_group["params"] = list(params)
        _split_names(param_group, self.param_groups)
        for param in param_group["params"]:
            if not isinstance(param, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + _typename(param))
            if not self.defaults.get("differentiable", None) and not (
                    param.is_leaf or param.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)
        ids = [id(p) for p in param_group["params"]]
        if len(ids) != len(set(ids)):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in "
                          "future, this will cause an error; see "
                          "github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        if not seen.isdisjoint(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters (to None by default, else to zeros)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if p.grad.grad_fn is not None:
                        p.grad.detach_()
                    else:
                        p.grad.requires_grad_(False)
                    if p.grad.is_sparse:
                        p.grad.zero_()  # stores no entry then, as in PyTorch
                    else:
                        getattr(p.grad, "_local_tensor", p.grad)._data[...] = 0

    # ------------------------------------------------------------------------------------------
    # The step and its loops

    @_hooked_step
    def step(self, closure: Callable | None = None):
        """Perform one optimization step; ``closure`` re-evaluates the model and returns the loss.

        Returns:
            the closure's loss, or None.
        """
        loss = _closure_loss(closure)
        state = self.state
        dense_error = self._dense_grad_error
        work = []
        fresh = []
        total = 0
        with no_grad():
            for group in self.param_groups:
                foreach = group.get("foreach") is not False
                for p in group["params"]:
                    grad = p.grad
                    if grad is None:
                        continue
                    rows = None  # the stored entries of a sparse gradient updated alone
                    if grad.__class__ is not Tensor and grad.is_sparse:
                        if self._sparse_update(group):
                            rows = grad._xp.nonzero(grad._occupied())
                    elif dense_error is not None:
                        raise RuntimeError(dense_error)
                    st = state.get(p)
                    local = getattr(p, "_local_tensor", None)  # NOTE [ DTensor parameters ]
                    if local is not None:
                        grad = grad._local_tensor
                        if st is None:
                            st = _dtensor_state(p, self._init_state(local, group))
                            fresh.append((p, st))
                        st = _LocalState(p, st)
                        p = local
                    elif st is None:
                        st = self._init_state(p, group)
                        fresh.append((p, st))
                    work.append((p, grad._data, st, group, foreach, rows))
                    if type(p._data) is np.ndarray:
                        total += p._data.size
            parallel = total >= _PARALLEL_MIN_VALUES and _threads() > 1
            kernels = []
            sizes = []
            small = []  # updates of small NumPy arrays: gathered into a few updates
            device = []  # updates of device arrays: grouped into multi-tensor launches
            for p, grad, st, group, foreach, rows in work:
                data = p._data
                source, operands = self._prepare(data, st, group)
                arrays = dict(operands, p=data, g=grad)
                if rows is not None:
                    _update_rows(source, arrays, rows)
                    continue
                if data.dtype.kind == "c":
                    arrays = {k: _as_real(v) for k, v in arrays.items()}
                if not isinstance(data, np.ndarray) and foreach:
                    device.append((source, arrays))
                elif foreach and not parallel and data.size <= multi_tensor.HOST_SMALL:
                    small.append((source, arrays))
                else:
                    kernels.append(fused.prepare_update(source, block=0 if parallel else None,
                                                        **arrays))
                    sizes.append(data.nbytes)
            if parallel:
                _run_split(kernels, sizes, _threads())
            else:
                _run_all(kernels)
            if small:
                _run_all(multi_tensor.prepare_host_updates(small))
            if device:
                _run_all(multi_tensor.prepare_updates(device))
            for w in work:
                w[0]._bump_version()
        for p, st in fresh:
            if st:  # SGD without momentum keeps no state, as in PyTorch
                state[p] = st
        return loss

    def _init_state(self, p: Tensor, group: dict) -> dict:
        """The state of a parameter on its first step (a subclass fills it)."""
        return {}

    def _sparse_update(self, group: dict) -> bool:
        """For a sparse gradient, before anything is updated: True to update only its stored
        rows, False to update as for a dense gradient; raises PyTorch's error where PyTorch
        refuses one (the default). See NOTE [ Sparse gradients ]."""
        raise RuntimeError(_sparse_refusal(type(self)))

    def _prepare(self, p, state: dict, group: dict) -> tuple[str, dict]:
        """Once per parameter and step: advance ``state`` (step counts, scalar state) and return
        the fused update's source and its operands other than ``p`` and ``g`` (state arrays
        and the step's scalars). ``p`` is the parameter's array."""
        raise NotImplementedError

    # ------------------------------------------------------------------------------------------
    # Hooks

    def register_step_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Run ``hook(optimizer, args, kwargs)`` before each step; it may return new
        ``(args, kwargs)``."""
        handle = RemovableHandle(self._optimizer_step_pre_hooks)
        self._optimizer_step_pre_hooks[handle.id] = hook
        return handle

    def register_step_post_hook(self, hook: Callable) -> RemovableHandle:
        """Run ``hook(optimizer, args, kwargs)`` after each step."""
        handle = RemovableHandle(self._optimizer_step_post_hooks)
        self._optimizer_step_post_hooks[handle.id] = hook
        return handle

    # ------------------------------------------------------------------------------------------
    # Checkpoints

    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state as ``{'state': {index: {...}}, 'param_groups': [...]}``.

        Parameters are replaced by their index, counted across groups in order, as in PyTorch.
        """
        index_of: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index_of.setdefault(id(p), len(index_of))
            packed["params"] = [index_of[id(p)] for p in group["params"]]
            groups.append(packed)
        packed_state = {(index_of[id(k)] if isinstance(k, Tensor) else k): v
                        for k, v in self.state.items()}
        return {"state": packed_state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a ``state_dict()``: options and state, cast to each parameter's dtype."""
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        id_map = {}
        for g, s in zip(groups, saved_groups):
            id_map.update(zip(s["params"], g["params"]))
        state: defaultdict = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = _cast_state(param, v)
            else:
                state[k] = v
        new_groups = []
        for g, s in zip(groups, saved_groups):
            s["params"] = g["params"]
            new_groups.append(s)
        self.state = state
        self.param_groups = new_groups

    def __getstate__(self) -> dict:
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("_optimizer_step_pre_hooks", OrderedDict())
        self.__dict__.setdefault("_optimizer_step_post_hooks", OrderedDict())

    def __repr__(self) -> str:
        text = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            for key in sorted(group):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        return text + ")"


# Scalar bookkeeping kept in the scalar-state dtype. PyTorch casts all but 'step' to the
# parameter's dtype on load, so its float64 NAdam/ASGD runs drift after a resume; ember keeps
# them, so a resumed run equals an uninterrupted one bit for bit.
_SCALAR_STATE = frozenset({"step", "mu_product", "eta", "mu"})


def _closure_loss(closure: Callable | None):
    """The loss ``closure`` returns, computed with gradients enabled (None without one): what
    every ``step(closure)`` does first."""
    if closure is None:
        return None
    with enable_grad():
        return closure()


def _split_names(param_group: dict, groups: list) -> None:
    """Named parameters (``module.named_parameters()``, ``(name, tensor)`` pairs) become the
    group's ``params`` and its ``param_names``, right after them, as in PyTorch; every group
    of an optimizer has names or none has."""
    params = param_group["params"]
    named = [isinstance(p, tuple) for p in params]
    if any(named) and not all(named):
        raise ValueError("all optimizer params should be with/without names. Some param names "
                         "are missing")
    has_names = bool(params) and named[0] or "param_names" in param_group
    if groups and has_names != ("param_names" in groups[0]):
        raise ValueError("all optimizer param groups should be with/without names. cannot add "
                         f"param group {'with' if has_names else 'without'} names to the "
                         "optimizer")
    if params and named[0]:
        options = {k: v for k, v in param_group.items() if k != "params"}
        param_group.clear()
        param_group["params"] = [p for _, p in params]
        param_group["param_names"] = [name for name, _ in params]
        param_group.update(options)


def _sparse_refusal(cls: type) -> str:
    """PyTorch's error for a sparse gradient given to an optimizer without sparse updates:
    it names the built-in algorithm (AdamW's and a subclass's name Adam's)."""
    builtin = next((c for c in cls.__mro__ if c.__module__.startswith("ember.optim.")
                    and c is not Optimizer), cls)
    if builtin.__name__ in ("Adam", "AdamW"):
        return "Adam does not support sparse gradients, please consider SparseAdam instead"
    return f"{builtin.__name__} does not support sparse gradients"


def _update_rows(source: str, arrays: dict, rows: tuple) -> None:
    """Run a fused update on the entries at ``rows`` (coordinates over the leading dims) only:
    the parameter-shaped arrays are gathered there, updated, and the written ones scattered
    back (see NOTE [ Sparse gradients ])."""
    shape = arrays["p"].shape
    picked = {name: a[rows] if getattr(a, "shape", None) == shape else a
              for name, a in arrays.items()}
    fused.update(source, **{name: _as_real(a) for name, a in picked.items()})
    for name, a in arrays.items():
        if name != "g" and picked[name] is not a:
            a[rows] = picked[name]


def _as_real(a):
    """A complex array as a real view with a trailing (real, imaginary) axis: PyTorch updates
    complex parameters and their state as real pairs (``view_as_real``); other values as they
    are."""
    if getattr(a, "dtype", None) is None or a.dtype.kind != "c":
        return a
    return a.view(a.real.dtype).reshape(a.shape + (2,))


def _filled_like(a, value: float):
    """State initialised to ``value`` in every real coordinate: for a complex parameter, both
    halves of each (real, imaginary) pair, as PyTorch's real-pair view has it."""
    xp = get_array_module(a)
    return xp.full_like(a, complex(value, value) if a.dtype.kind == "c" else value)


# NOTE [ DTensor parameters ]
# A DTensor parameter (FSDP2's, or any ``distribute_tensor`` leaf) is stepped on its local
# tensor with its local gradient, the update being elementwise; its state tensors are DTensors
# of the parameter's layout, as PyTorch keeps them, whose local tensors the update reads.

def _dtensor_state(param, state: dict) -> dict:
    """``state`` (made for ``param``'s local tensor) with the parameter-shaped tensors as
    DTensors laid out as ``param``."""
    from ember.distributed.tensor._api import _dtensor
    local = param._local_tensor
    return {k: _dtensor(v, param.device_mesh, param.placements, param.shape)
            if isinstance(v, Tensor) and v.shape == local.shape and v.dim() > 0 else v
            for k, v in state.items()}


class _LocalState(dict):
    """A DTensor parameter's state as its local tensors; entries the update adds (SGD's first
    momentum buffer) go to the parameter's state as DTensors too."""

    def __init__(self, param, state: dict) -> None:
        super().__init__({k: getattr(v, "_local_tensor", v) for k, v in state.items()})
        self._param, self._state = param, state

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        self._state.update(_dtensor_state(self._param, {key: value}))


def _cast_state(param: Tensor, value, key=None):
    """Move loaded state to the parameter's device and (floating) dtype."""
    if isinstance(value, Tensor):
        if key in _SCALAR_STATE:
            return value
        if param.is_floating_point():
            return value.to(dtype=param.dtype, device=param.device)
        return value.to(device=param.device)
    if isinstance(value, dict):
        return {k: _cast_state(param, v, key=k) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and not isinstance(value, str):
        return type(value)(_cast_state(param, v, key=key) for v in value)
    return value


def _typename(obj) -> str:
    if isinstance(obj, Tensor):
        return obj.type()
    module = type(obj).__module__
    name = type(obj).__qualname__
    return name if module in ("builtins", None) else module + "." + name


# ----------------------------------------------------------------------------------------------
# Pieces of fused update sources (ember.backend.fused) shared by the optimizers. The update's
# operands: p (parameter), g (gradient), state arrays, and scalars the optimizer passes.

def _gradient_source(maximize: bool, l2: bool) -> tuple[list, str]:
    """Statements for the gradient the update sees (negated for ``maximize``, then plus
    ``p * weight_decay``, PyTorch's ``grad.add(param, alpha=weight_decay)``) and its name."""
    lines, g = [], "g"
    if maximize:
        lines.append("_g = -g")
        g = "_g"
    if l2:
        lines.append(f"_g = {g} + p * weight_decay")
        g = "_g"
    return lines, g


def _lerp_source(a: str, end: str, weight: str, low: bool) -> str:
    """``a.lerp_(end, weight)`` with PyTorch's two-sided formula: ``low`` when the weight is
    below 0.5; else the scalar ``{weight}_rest`` must hold ``1 - weight``."""
    if low:
        return f"{a} = {a} + ({end} - {a}) * {weight}"
    return f"{a} = {end} - ({end} - {a}) * {weight}_rest"


def _adam_moments_source(maximize: bool, weight_decay: bool, decoupled: bool,
                         lerp_low: bool) -> tuple[list, str]:
    """The Adam family's start: weight decay (decoupled ``p = p * decay``, else L2 into the
    gradient), ``m.lerp_(g, w)``, ``v.mul_(beta2).addcmul_(g, g, value=c)``; the statements and
    the gradient's name. Scalars from ``_adam_scalars``."""
    lines, g = _gradient_source(maximize, weight_decay and not decoupled)
    if weight_decay and decoupled:
        lines.append("p = p * decay")
    lines.append(_lerp_source("m", g, "w", lerp_low))
    lines.append(f"v = v * beta2 + ({g} * c) * {g}")
    return lines, g


def _adam_scalars(lr: float, beta1: float, beta2: float, weight_decay: float) -> dict:
    """The scalars ``_adam_moments_source`` names."""
    return dict(weight_decay=weight_decay, decay=1 - lr * weight_decay, w=1 - beta1,
                w_rest=1 - (1 - beta1), beta2=beta2, c=1 - beta2)

