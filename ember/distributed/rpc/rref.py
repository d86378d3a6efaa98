"""RRef: a reference to a value that lives on one worker (its owner).

The owner keeps each value it owns in a table, under an id that the RRef carries (the id of
the worker that made the RRef, and a counter there); an RRef travels in RPC arguments and
results as (owner, id), and is the owner's own again when it arrives there. ``remote()`` makes
an RRef at once and asks the owner to run the function and store its value under that id;
``to_here()`` asks the owner for the value, waiting until the function has run.

Owners keep their values until ``shutdown`` (ember counts no references across workers).
"""
from __future__ import annotations

import itertools
import threading
from typing import Any, Generic, TypeVar

from ember.distributed.rpc import functions
from ember.distributed.rpc.options import UNSET_RPC_TIMEOUT, WorkerInfo
from ember.distributed.work import Future

T = TypeVar("T")

_owned: dict = {}  # rref id -> Future of the value, on the owner
_owned_lock = threading.Lock()
_ids = itertools.count()


def _slot(rref_id: tuple) -> Future:
    """The Future of owned value ``rref_id`` (made by whichever comes first: the value, or a
    request for it)."""
    with _owned_lock:
        slot = _owned.get(rref_id)
        if slot is None:
            slot = _owned[rref_id] = Future()
        return slot


def _forget_all() -> None:
    with _owned_lock:
        _owned.clear()


class RRef(Generic[T]):
    """A reference to a value owned by one worker: ``RRef(value)`` owns ``value`` here;
    ``rpc.remote`` returns one owned by the worker that runs the function.

    Example::

        >>> rref = rpc.remote("worker1", torch.add, args=(torch.ones(2), 1))
        >>> rref.to_here()
        tensor([2., 2.])
    """

    def __init__(self, value: Any = None, type_hint: Any = None) -> None:
        from ember.distributed.rpc import api
        agent = api._agent_or_raise()
        self._owner = agent.rank
        self._id = (agent.rank, next(_ids))
        self._confirmed: Future | None = None
        _slot(self._id).set_result(value)

    @classmethod
    def _reference(cls, owner: int, rref_id: tuple, confirmed: Future | None) -> "RRef":
        rref = cls.__new__(cls)
        rref._owner, rref._id, rref._confirmed = owner, rref_id, confirmed
        return rref

    # -- where it lives -----------------------------------------------------------------------

    def owner(self) -> WorkerInfo:
        """The WorkerInfo of the worker that owns the value."""
        from ember.distributed.rpc import api
        return api._agent_or_raise().workers[self._owner]

    def owner_name(self) -> str:
        return self.owner().name

    def is_owner(self) -> bool:
        from ember.distributed.rpc import api
        return api._agent_or_raise().rank == self._owner

    def confirmed_by_owner(self) -> bool:
        """Whether the owner knows of this RRef: always on the owner; for ``remote()``'s, once
        the owner has run the function."""
        return self._confirmed is None or self._confirmed.done()

    # -- the value ----------------------------------------------------------------------------

    def local_value(self) -> T:
        """The value itself; only on the owner."""
        if not self.is_owner():
            raise RuntimeError(f"Can't call RRef.local_value() on a non-owner RRef (owner: "
                               f"{self.owner()})")
        return _slot(self._id).wait()

    def to_here(self, timeout: float = UNSET_RPC_TIMEOUT) -> T:
        """The value, copied from the owner (blocks until it exists)."""
        if self.is_owner():
            return self.local_value()
        from ember.distributed.rpc import api
        return api.rpc_sync(self._owner, _fetch, args=(self._id,), timeout=timeout)

    # -- calls on the value -------------------------------------------------------------------

    def rpc_sync(self, timeout: float = UNSET_RPC_TIMEOUT) -> "_Proxy":
        """``rref.rpc_sync().method(*args)`` runs ``value.method(*args)`` on the owner and
        returns its result."""
        return _Proxy(self, "rpc_sync", timeout)

    def rpc_async(self, timeout: float = UNSET_RPC_TIMEOUT) -> "_Proxy":
        """As ``rpc_sync()``, returning a Future."""
        return _Proxy(self, "rpc_async", timeout)

    def remote(self, timeout: float = UNSET_RPC_TIMEOUT) -> "_Proxy":
        """As ``rpc_sync()``, returning an RRef of the result (owned by this RRef's owner)."""
        return _Proxy(self, "remote", timeout)

    # -- travel -------------------------------------------------------------------------------

    def _on_wire(self, peer: int) -> tuple:
        return ("rref", self._owner, self._id)

    @classmethod
    def _from_wire(cls, pid: tuple, peer: int) -> "RRef":
        return cls._reference(pid[1], pid[2], None)

    def __reduce__(self):
        raise RuntimeError("Can not pickle rref in python pickler, rref can only be pickled "
                           "when using RPC")

    def __repr__(self) -> str:
        kind = "OwnerRRef" if self.is_owner() else "UserRRef"
        return f"{kind}(RRefId = GloballyUniqueId(created_on={self._id[0]}, " \
               f"local_id={self._id[1]}))"


class _Proxy:
    """What ``rref.rpc_sync()`` and its kin return: attribute access names a method of the
    owner's value."""

    def __init__(self, rref: RRef, how: str, timeout: float) -> None:
        self._rref, self._how, self._timeout = rref, how, timeout

    def __getattr__(self, name: str):
        from ember.distributed.rpc import api
        call = getattr(api, self._how)

        def method(*args, **kwargs):
            return call(self._rref._owner, _call_method, args=(self._rref, name, args, kwargs),
                        timeout=self._timeout)
        return method


@functions.async_execution
def _call_method(rref: RRef, name: str, args: tuple, kwargs: dict) -> Future:
    """On the owner: ``value.name(*args, **kwargs)`` as a Future (the method may itself be an
    ``async_execution`` one, returning a Future)."""
    method = getattr(rref.local_value(), name)
    value = method(*args, **kwargs)
    if getattr(getattr(type(rref.local_value()), name, None), "_wrapped_async_rpc_function",
               False):
        return value
    done = Future()
    done.set_result(value)
    return done


@functions.async_execution
def _fetch(rref_id: tuple) -> Future:
    """On the owner: the value of ``rref_id``, once it is there."""
    return _slot(rref_id)


@functions.async_execution
def _run_and_keep(rref_id: tuple, func, args: tuple, kwargs: dict) -> Future:
    """On the owner, for ``remote()``: run ``func`` and keep its value as ``rref_id``'s (an
    error too, for ``to_here`` to raise); the reply says only that it ran."""
    slot = _slot(rref_id)
    done = Future()
    slot.add_done_callback(lambda _: done.set_result(None))
    try:
        value = func(*args, **kwargs)
    except Exception as e:
        slot.set_exception(e)
        return done
    if getattr(func, "_wrapped_async_rpc_function", False):
        value.add_done_callback(lambda f: _copy_outcome(f, slot))
    else:
        slot.set_result(value)
    return done


def _copy_outcome(source: Future, target: Future) -> None:
    try:
        target.set_result(source.wait())
    except Exception as e:
        target.set_exception(e)


def new_remote(owner: int, func, args: tuple, kwargs: dict, timeout: float) -> RRef:
    """``rpc.remote``: an RRef at once, its value made by ``func`` on ``owner``."""
    from ember.distributed.rpc import api
    agent = api._agent_or_raise()
    rref_id = (agent.rank, next(_ids))
    confirmed = agent.call(owner, _run_and_keep, (rref_id, func, args, kwargs), {}, timeout)
    return RRef._reference(owner, rref_id, confirmed)
