"""``torch.utils.weak``: weak references compared by identity.

``weakref.WeakKeyDictionary`` compares keys with ``==``, which a tensor answers elementwise
(and hashes by identity anyway); these compare the referents by ``is``.
"""
from __future__ import annotations

import weakref
from collections.abc import Iterator, MutableMapping
from typing import Any


class WeakIdRef(weakref.ref):
    """A weak reference that hashes and compares as the identity of its referent, and keeps
    that identity after the referent is gone (so a dead reference still finds its entry).

    Example::

        >>> t = torch.ones(2)
        >>> WeakIdRef(t) == WeakIdRef(t)
        True
    """

    __slots__ = ("_id",)

    def __init__(self, key: Any, callback=None):
        self._id = id(key)
        super().__init__(key, callback)

    def __hash__(self) -> int:
        return self._id

    def __eq__(self, other) -> bool:
        if not isinstance(other, WeakIdRef):
            return NotImplemented
        alive = self()
        if alive is not None and alive is other():
            return True
        return self is other

    def __ne__(self, other) -> bool:  # weakref.ref's own would compare the referents
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal


class WeakIdKeyDictionary(MutableMapping):
    """A mapping whose keys are held weakly and matched by identity: an entry goes away when
    its key is garbage-collected.

    Example::

        >>> cache = WeakIdKeyDictionary()
        >>> t = torch.ones(2)
        >>> cache[t] = "offsets"
        >>> len(cache), t in cache
        (1, True)
    """

    def __init__(self, items=None):
        self.data: dict[WeakIdRef, Any] = {}
        self_ref = weakref.ref(self)

        def remove(ref: WeakIdRef) -> None:
            mapping = self_ref()
            if mapping is not None:
                mapping.data.pop(ref, None)
        self._remove = remove
        if items is not None:
            self.update(items)

    def __getitem__(self, key: Any) -> Any:
        return self.data[WeakIdRef(key)]

    def __setitem__(self, key: Any, value: Any) -> None:
        self.data[WeakIdRef(key, self._remove)] = value

    def __delitem__(self, key: Any) -> None:
        del self.data[WeakIdRef(key)]

    def __contains__(self, key: Any) -> bool:
        try:
            return WeakIdRef(key) in self.data
        except TypeError:  # not weakly referenceable: never a key
            return False

    def __iter__(self) -> Iterator[Any]:
        for ref in list(self.data):
            key = ref()
            if key is not None:
                yield key

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} at {id(self):#x} with {len(self)} entries>"
