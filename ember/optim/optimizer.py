"""The optimizer base class: parameter groups, per-parameter state, state_dict, hooks, loops.

# NOTE [ One update, written once ]
Each built-in optimizer writes its update once, on raw arrays, in place, with PyTorch's
operation order so float64 trajectories match PyTorch's: ``_prepare`` does a parameter's
once-per-step bookkeeping (step counts, bias corrections) and names the state arrays the update
touches; ``_update`` applies the elementwise update to a piece of the parameter and of those
arrays (see NOTE [ Cache-blocked updates ]). This class owns the loops over groups, parameters
and pieces, ``maximize``, the step hooks and the checkpoint layout. Temporaries are rows of a
per-thread scratch block, so a step over many parameters allocates nothing.
"""
from __future__ import annotations

import functools
import math
import os
import threading
import warnings
from collections import OrderedDict, defaultdict
from concurrent.futures import ThreadPoolExecutor
from copy import deepcopy
from typing import Any, Callable

import numpy as np

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.autograd.grad_mode import enable_grad, no_grad
from ember.backend.device import get_array_module
from ember.nn.modules._hooks import RemovableHandle

__all__ = ["Optimizer", "required", "register_optimizer_step_pre_hook",
           "register_optimizer_step_post_hook"]


class _RequiredParameter:
    """Marks a default that every parameter group must set."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()

# NOTE [ Cache-blocked updates ]
# An update is 4 (SGD) to 13 (Adam) NumPy ufuncs, and a ufunc over a whole parameter is a pass
# through memory for every array it touches. On host arrays a one-thread step runs the whole
# update on one piece of at most _CHUNK values of each array before moving to the next piece,
# so the piece's arrays (about 5 x 256 KB for Adam) stay in the core's L2 cache (2 MB here)
# between ufuncs: ~10% less time for Adam alone (32K-128K measured alike), none for SGD. A step
# split between threads (NOTE [ Parallel updates ]) updates whole arrays: there the pieces'
# extra, shorter ufunc calls cost more (GIL handoffs between the threads) than they save.
# Updates are elementwise, so pieces never change a value. Device arrays are updated whole:
# there a kernel launch costs more than a pass.
_CHUNK = 1 << 16

# NOTE [ Parallel updates ]
# NumPy's elementwise kernels run on one core but release the GIL, so a large step splits its
# parameters between threads (one per core): each parameter is still updated by the same code,
# in the same order, so results are bit-identical; only which thread runs it changes.
_PARALLEL_MIN_VALUES = 1 << 20
_pool: list = []


def _threads() -> int:
    return min(os.cpu_count() or 1, 4)


def _run_split(fn, work, n: int) -> None:
    """Run ``fn`` on ``n`` shares of ``work`` balanced by bytes (an update's cost is its
    memory traffic), in parallel; the calling thread runs the first share."""
    shares = [[] for _ in range(n)]
    sizes = [0] * n
    for item in sorted(work, key=lambda w: -w[0]._data.nbytes):
        i = sizes.index(min(sizes))
        shares[i].append(item)
        sizes[i] += item[0]._data.nbytes
    if not _pool:
        _pool.append(ThreadPoolExecutor(max_workers=n, thread_name_prefix="ember-optim"))
    futures = [_pool[0].submit(fn, share) for share in shares[1:] if share]
    fn(shares[0])
    for f in futures:
        f.result()


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


def _check_range(name: str, value, low: float = 0.0, high: float | None = None,
                 index: int | None = None) -> None:
    """Raise PyTorch's ValueError for a hyperparameter outside ``[low, high)``."""
    bad = not low <= value or (high is not None and not value < high)
    if bad:
        if index is not None:
            raise ValueError(f"Invalid {name} parameter at index {index}: {value}")
        raise ValueError(f"Invalid {name}: {value}")


def _hooked_step(step: Callable) -> Callable:
    """Wrap a ``step`` so the step pre/post hooks run around it (once, even via super())."""

    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        if self._in_step:
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
    ``self.state[p]``); built-in optimizers instead write ``_prepare`` and ``_update`` for one
    parameter and let this class loop (see NOTE [ One update, written once ]).
    """

    _in_step = False

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_ember_hooked", False):
            cls.step = _hooked_step(step)

    def __init__(self, params, defaults: dict) -> None:
        self.defaults = defaults
        self._optimizer_step_pre_hooks: dict = OrderedDict()
        self._optimizer_step_post_hooks: dict = OrderedDict()
        self._scratch_buffers: dict = {}
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
                    p.grad._data[...] = 0

    # ------------------------------------------------------------------------------------------
    # The step and its loops

    @_hooked_step
    def step(self, closure: Callable | None = None):
        """Perform one optimization step; ``closure`` re-evaluates the model and returns the loss.

        Returns:
            the closure's loss, or None.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        state = self.state
        work = []
        fresh = []
        total = 0
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    st = state.get(p)
                    if st is None:
                        st = self._init_state(p, group)
                        fresh.append((p, st))
                    work.append((p, st, group))
                    total += p._data.size
            if total >= _PARALLEL_MIN_VALUES and _threads() > 1:
                _run_split(functools.partial(self._update_all, chunk=None), work, _threads())
            else:
                self._update_all(work, _CHUNK)
        for p, st in fresh:
            if st:  # SGD without momentum keeps no state, as in PyTorch
                state[p] = st
        return loss

    def _update_all(self, work, chunk: int | None) -> None:
        for p, st, group in work:
            data = p._data
            bufs, consts = self._prepare(data, st, group)
            self._apply(data, p.grad._data, bufs, consts, group.get("maximize", False), chunk)
            p._bump_version()

    def _apply(self, p, g, bufs: tuple, consts, maximize: bool, chunk: int | None) -> None:
        """Run ``_update`` over ``p`` whole, or in pieces of at most ``chunk`` values
        (NOTE [ Cache-blocked updates ])."""
        xp = get_array_module(p)
        n = p.size
        if chunk and n > chunk and type(p) is np.ndarray and _contiguous(p, g, *bufs):
            self._apply_in_pieces(xp, p, g, bufs, consts, maximize, chunk)
            return
        tmp = self._scratch(p, p.shape)
        if maximize:
            g = xp.negative(g, out=tmp[-1])
        self._update(xp, p, g, bufs, consts, tmp)

    def _apply_in_pieces(self, xp, p, g, bufs, consts, maximize: bool, chunk: int) -> None:
        n = p.size
        pieces = -(-n // chunk)  # of equal sizes, so no piece is a tiny remainder
        rows = self._scratch(p, (chunk,))
        p, g, *bufs = [a.reshape(-1) for a in (p, g, *bufs)]
        lo = 0
        for i in range(1, pieces + 1):
            hi = i * n // pieces
            tmp = [row[:hi - lo] for row in rows]
            gv = g[lo:hi]
            if maximize:
                gv = xp.negative(gv, out=tmp[-1])
            self._update(xp, p[lo:hi], gv, [b[lo:hi] for b in bufs], consts, tmp)
            lo = hi

    def _init_state(self, p: Tensor, group: dict) -> dict:
        """The state of a parameter on its first step (a subclass fills it)."""
        return {}

    # Scratch rows ``_update`` gets as ``tmp`` (one more is kept for ``maximize``).
    _n_scratch = 0

    def _prepare(self, p, state: dict, group: dict) -> tuple:
        """Once per parameter and step, before ``_update``: advance ``state`` (step counts,
        scalar state) and return ``(arrays, consts)``: the state arrays the update reads and
        writes, and the step's constants. ``p`` is the parameter's array."""
        return (), None

    def _update(self, xp, p, g, bufs, consts, tmp: list) -> None:
        """Update ``p`` in place from its gradient ``g``: arrays of the same shape (a piece of
        the parameter), ``bufs`` the same piece of the arrays from ``_prepare``, ``consts``
        its constants, ``tmp`` scratch arrays shaped like ``p``; ``xp`` is their module."""
        raise NotImplementedError

    def _scratch(self, like, shape: tuple) -> list:
        """``_n_scratch + 1`` scratch arrays of ``like``'s dtype and of ``shape``: views of one
        block per thread, reused across parameters and steps (the views are cached by shape)."""
        key = (threading.get_ident(), type(like), like.dtype)
        views = self._scratch_buffers.get(key + (shape,))
        if views is None:
            size = math.prod(shape)
            block = self._scratch_buffers.get(key)
            if block is None or block.shape[1] < size:
                # Forget the views of the old block, so that its memory can be freed.
                for k in list(self._scratch_buffers):  # one atomic copy: threads share the dict
                    if k[:3] == key:
                        del self._scratch_buffers[k]
                block = get_array_module(like).empty((self._n_scratch + 1, size), like.dtype)
                self._scratch_buffers[key] = block
            views = [row[:size].reshape(shape) for row in block]
            self._scratch_buffers[key + (shape,)] = views
        return views

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
        self.__dict__.setdefault("_scratch_buffers", {})

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



def _contiguous(*arrays) -> bool:
    return all(a.flags.c_contiguous for a in arrays)


# ----------------------------------------------------------------------------------------------
# In-place array helpers shared by the optimizers: PyTorch's operation order, no allocation.

def _weight_decay(xp, p, g, weight_decay: float, out):
    """``g + weight_decay * p`` (PyTorch's ``grad.add(param, alpha=weight_decay)``) into ``out``."""
    xp.multiply(p, weight_decay, out=out)
    return xp.add(g, out, out=out)


def _lerp_(xp, a, end, weight: float, tmp) -> None:
    """``a.lerp_(end, weight)`` with PyTorch's two-sided formula."""
    xp.subtract(end, a, out=tmp)
    if weight < 0.5:
        tmp *= weight
        a += tmp
    else:
        tmp *= 1 - weight
        xp.subtract(end, tmp, out=a)


def _mul_addcmul_(xp, a, decay: float, x, y, value: float, tmp) -> None:
    """``a.mul_(decay).addcmul_(x, y, value=value)``."""
    a *= decay
    xp.multiply(x, value, out=tmp)
    tmp *= y
    a += tmp


def _adam_moments_(xp, p, g, exp_avg, exp_avg_sq, beta1: float, beta2: float,
                   weight_decay: float, decay, tmp):
    """The Adam family's shared start: weight decay (decoupled, ``p *= decay``, when ``decay``
    is given, else L2 into the gradient), then ``exp_avg.lerp_(g, 1 - beta1)`` and
    ``exp_avg_sq.mul_(beta2).addcmul_(g, g, value=1 - beta2)``. Uses ``tmp[0]`` and ``tmp[1]``;
    returns the gradient the moments saw (in ``tmp[1]`` after L2 decay)."""
    if weight_decay != 0:
        if decay is not None:
            p *= decay
        else:
            g = _weight_decay(xp, p, g, weight_decay, tmp[1])
    _lerp_(xp, exp_avg, g, 1 - beta1, tmp[0])
    _mul_addcmul_(xp, exp_avg_sq, beta2, g, g, 1 - beta2, tmp[0])
    return g


def _add_scaled_(xp, a, x, alpha: float, tmp) -> None:
    """``a.add_(x, alpha=alpha)``."""
    if alpha == 1:
        a += x
        return
    xp.multiply(x, alpha, out=tmp)
    a += tmp
