"""Flattening nested state dicts to one level of dotted keys and back, as PyTorch's DCP does:
mappings are walked (keys become strings), lists only if they hold tensors or walkable
containers, and everything else (tuples included) is a leaf."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ember._tensor import Tensor

__all__ = ["flatten_state_dict", "set_element", "unflatten_state_dict"]


def _is_leaf(value: Any) -> bool:
    if isinstance(value, Mapping):
        return False
    if not isinstance(value, list):
        return True
    return all(not isinstance(entry, Tensor)
               and not (isinstance(entry, (Mapping, list)) and not _is_leaf(entry))
               for entry in value)


def _walk(path: tuple, value: Any, visit) -> None:
    if isinstance(value, Mapping):
        for key, entry in value.items():
            _walk(path + (str(key),), entry, visit)
    elif _is_leaf(value):
        visit(path, value)
    else:
        for i, entry in enumerate(value):
            _walk(path + (i,), entry, visit)


def flatten_state_dict(state_dict: dict) -> tuple[dict, dict]:
    """``(flat, mappings)``: ``{"a": {"b": t}}`` becomes ``{"a.b": t}`` and ``mappings["a.b"]``
    is the path ``("a", "b")`` that ``set_element`` and ``unflatten_state_dict`` follow."""
    flat, mappings = {}, {}

    def visit(path: tuple, value: Any) -> None:
        key = ".".join(map(str, path))
        if key in flat:
            raise ValueError(f"duplicated flatten key {key}")
        flat[key] = value
        mappings[key] = path

    for key, value in state_dict.items():
        _walk((str(key),), value, visit)
    return flat, mappings


def set_element(root: dict, path: tuple, value: Any) -> None:
    """Put ``value`` at ``path`` in ``root``, creating the dicts and lists on the way (a list
    for an integer path item)."""
    container = root
    for key, following in zip(path[:-1], path[1:]):
        empty = [] if isinstance(following, int) else {}
        if isinstance(container, list):
            container.extend([None] * (key + 1 - len(container)))
            if container[key] is None:
                container[key] = empty
        elif key not in container:
            container[key] = empty
        container = container[key]
    last = path[-1]
    if isinstance(container, list):
        container.extend([None] * (last + 1 - len(container)))
    container[last] = value


def unflatten_state_dict(state_dict: dict, mapping: dict) -> dict:
    """The nested state dict that ``flatten_state_dict`` made ``state_dict`` from."""
    nested: dict = {}
    for key, value in state_dict.items():
        set_element(nested, tuple(mapping[key]), value)
    return nested
