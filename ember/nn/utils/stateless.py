"""``functional_call``: run a module with some of its parameters and buffers replaced."""
from __future__ import annotations

import warnings
from contextlib import contextmanager

from ember._tensor import Tensor
from ember.nn.modules.module import Module

__all__ = ["functional_call"]


def _owner(module: Module, name: str):
    path, _, attr = name.rpartition(".")
    return (module.get_submodule(path) if path else module), attr


def _tied_names(module: Module) -> list:
    """Groups of names (two or more) under which one tensor is registered."""
    groups: dict = {}
    entries = list(module.named_parameters(remove_duplicate=False)) + \
        list(module.named_buffers(remove_duplicate=False))
    for name, t in entries:
        groups.setdefault(id(t), []).append(name)
    return [names for names in groups.values() if len(names) > 1]


def _expand_ties(module: Module, mapping: dict) -> dict:
    mapping = dict(mapping)
    for names in _tied_names(module):
        given = [n for n in names if n in mapping]
        if not given:
            continue
        values = {id(mapping[n]) for n in given}
        if len(values) > 1:
            raise ValueError(f"functional_call got multiple values for keys {sorted(given)}, "
                             "which are tied. Consider using tie_weights=False")
        for n in names:
            mapping.setdefault(n, mapping[given[0]])
    return mapping


def _check_strict(module: Module, mapping: dict) -> None:
    known = {n for n, _ in module.named_parameters(remove_duplicate=False)}
    known |= {n for n, _ in module.named_buffers(remove_duplicate=False)}
    missing = sorted(known - set(mapping))
    unexpected = sorted(set(mapping) - known)
    if missing or unexpected:
        lines = []
        if unexpected:
            lines.append("Unexpected key(s): " + ", ".join(repr(k) for k in unexpected) + ".")
        if missing:
            lines.append("Missing key(s): " + ", ".join(repr(k) for k in missing) + ".")
        raise RuntimeError(f"Error(s) in reparametrizing for {module._get_name()}:\n\t"
                           + "\n\t".join(lines))


@contextmanager
def _reparametrize(module: Module, mapping: dict, tie_weights: bool, strict: bool):
    if tie_weights:
        mapping = _expand_ties(module, mapping)
    if strict:
        _check_strict(module, mapping)
    saved = []
    try:
        for name, value in mapping.items():
            owner, attr = _owner(module, name)
            for store in (owner._parameters, owner._buffers):
                if attr in store:
                    saved.append((store, attr, store[attr]))
                    store[attr] = value  # any tensor: the lookup reads the dict as it is
                    break
            else:
                saved.append((owner.__dict__, attr, owner.__dict__.get(attr, saved)))
                owner.__dict__[attr] = value
        yield
    finally:
        for store, attr, old in reversed(saved):
            if old is saved:  # was not there before
                del store[attr]
            else:
                store[attr] = old


def _merge(parameter_and_buffer_dicts) -> dict:
    if isinstance(parameter_and_buffer_dicts, dict):
        return parameter_and_buffer_dicts
    merged: dict = {}
    for d in parameter_and_buffer_dicts:
        for key, value in d.items():
            if key in merged:
                raise ValueError(f"{key} appeared in multiple dictionaries; behavior of "
                                 "functional call is ambiguous")
            merged[key] = value
    return merged


def _functional_call(module: Module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                     tie_weights: bool = True, strict: bool = False):
    mapping = _merge(parameter_and_buffer_dicts)
    for key, value in mapping.items():
        if not isinstance(value, Tensor):
            raise ValueError(f"Expected all elements of parameter_and_buffer_dicts to be "
                             f"Tensors; got {type(value).__name__} for {key}")
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    with _reparametrize(module, mapping, tie_weights, strict):
        return module(*args, **(kwargs or {}))


def functional_call(module: Module, parameters_and_buffers, args=None, kwargs=None, *,
                    tie_weights: bool = True, strict: bool = False):
    """Call ``module(*args, **kwargs)`` with the tensors of ``parameters_and_buffers`` (by
    dotted name) in place of its own, restoring them afterwards. Deprecated by PyTorch for
    ``torch.func.functional_call`` (``ember.func.functional_call``), which it equals.

    Example::

        >>> params = {k: v * 0 for k, v in model.named_parameters()}
        >>> functional_call(model, params, (x,))  # model's own parameters are untouched
    """
    warnings.warn("This API is deprecated as of PyTorch 2.0 and will be removed in a future "
                  "version of PyTorch. Please use torch.func.functional_call instead which is "
                  "a drop-in replacement for this API.", FutureWarning, stacklevel=2)
    return _functional_call(module, parameters_and_buffers, args, kwargs,
                            tie_weights=tie_weights, strict=strict)
