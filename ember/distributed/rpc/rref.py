"""RRef: a reference to a value that lives on one worker (its owner).

NOTE [ RRef reference counting ]
An RRef carries the value's id (the worker that made it, and a counter there). On the owner,
RRef objects hold the value's Future themselves; the owner's table keeps the value for the
other workers, with a count of their RRefs ("forks"), and drops it when the count reaches 0,
as PyTorch's protocol does:
- the owner counts a fork when it sends the RRef (before the message goes; sent to itself, it
  uncounts it on arrival);
- a user that sends its RRef on keeps it alive (``_children``) until the owner has counted the
  receiver's fork: the receiver asks the owner to count it (``_add_fork``) and the owner then
  tells the sender to let go (``_release_child``), so the count never drops to 0 in between;
  an RRef sent back to its owner is the owner's again, and the owner lets the sender go;
- a user RRef that is garbage-collected tells the owner (``_delete_fork``), once the owner has
  confirmed it. Finalizers may not send (they run wherever the collector does), so they queue
  the message; the agent's listener sends it (see agent.py).
``shutdown`` sends what is queued, waits for every worker, then forgets every value.
"""
from __future__ import annotations

import itertools
import sys
import threading
from typing import Any, Generic, TypeVar

from ember.distributed.rpc import functions
from ember.distributed.rpc.options import UNSET_RPC_TIMEOUT, WorkerInfo
from ember.distributed.work import Future

T = TypeVar("T")

_owned: dict = {}  # rref id -> [Future of the value, forks], on the owner
_children: dict = {}  # token -> an RRef sent on, held until the owner counted the receiver's
_lock = threading.RLock()  # reentrant: a finalizer may run while this thread holds it
_ids = itertools.count()


def _forget_all() -> None:
    with _lock:
        _owned.clear()
        _children.clear()


def _agent():
    from ember.distributed.rpc import api
    return api._agent_or_raise()


def _entry(rref_id: tuple) -> list:
    """The owner's [value Future, forks] of ``rref_id``, made by whichever comes first: the
    value (``remote()``), or a request that names it (handlers run side by side)."""
    with _lock:
        entry = _owned.get(rref_id)
        if entry is None:
            entry = _owned[rref_id] = [Future(), 0]
        return entry


class RRef(Generic[T]):
    """A reference to a value owned by one worker: ``RRef(value)`` owns ``value`` here;
    ``rpc.remote`` returns one owned by the worker that runs the function.

    Example::

        >>> rref = rpc.remote("worker1", torch.add, args=(torch.ones(2), 1))
        >>> rref.to_here()
        tensor([2., 2.])
    """

    def __init__(self, value: Any = None, type_hint: Any = None) -> None:
        agent = _agent()
        value_future = Future()
        value_future.set_result(value)
        self._init(agent.rank, (agent.rank, next(_ids)), value_future, None, False)

    def _init(self, owner: int, rref_id: tuple, value: Future | None,
              confirmed: Future | None, counted: bool) -> None:
        # value: the value's Future, on the owner; confirmed: the owner's answer that it
        # counted this RRef (None: known); counted: whether deleting it uncounts a fork
        self._owner, self._id, self._value = owner, rref_id, value
        self._confirmed, self._counted, self._type = confirmed, counted, None

    @classmethod
    def _make(cls, owner: int, rref_id: tuple, value: Future | None, confirmed: Future | None,
              counted: bool) -> "RRef":
        rref = cls.__new__(cls)
        rref._init(owner, rref_id, value, confirmed, counted)
        return rref

    def __del__(self) -> None:
        if getattr(self, "_counted", False):
            api = sys.modules.get("ember.distributed.rpc.api")  # no imports: Python may be ending
            agent = None if api is None else api._state["agent"]
            if agent is not None:
                agent.defer(self._confirmed, self._owner, _delete_fork, (self._id,))

    # -- where it lives -----------------------------------------------------------------------

    def owner(self) -> WorkerInfo:
        """The WorkerInfo of the worker that owns the value."""
        return _agent().workers[self._owner]

    def owner_name(self) -> str:
        return self.owner().name

    def is_owner(self) -> bool:
        return _agent().rank == self._owner

    def confirmed_by_owner(self) -> bool:
        """Whether the owner knows of this RRef: always on the owner; for a user, once the owner
        has counted it (for ``remote()``'s, once the owner has run the function)."""
        return self._confirmed is None or self._confirmed.done()

    # -- the value ----------------------------------------------------------------------------

    def local_value(self) -> T:
        """The value itself; only on the owner."""
        if not self.is_owner():
            raise RuntimeError(f"Can't call RRef.local_value() on a non-owner RRef (owner: "
                               f"{self.owner()})")
        return self._value_future().wait()

    def to_here(self, timeout: float = UNSET_RPC_TIMEOUT) -> T:
        """The value, copied from the owner (blocks until it exists)."""
        if self.is_owner():
            return self.local_value()
        from ember.distributed.rpc import api
        return api.rpc_sync(self._owner, _fetch, args=(self._id,), timeout=timeout)

    def _get_type(self, timeout: float = UNSET_RPC_TIMEOUT, blocking: bool = True):
        """The type of the value (asked of the owner once, then remembered); a Future of it
        when not ``blocking``."""
        if self._type is None:
            if self.is_owner():
                self._type = type(self.local_value())
            else:
                from ember.distributed.rpc import api
                self._type = api.rpc_async(self._owner, _type_of, args=(self,), timeout=timeout)
        if isinstance(self._type, Future):
            if not blocking:
                return self._type
            self._type = self._type.wait()
        if blocking:
            return self._type
        done = Future()
        done.set_result(self._type)
        return done

    def backward(self, dist_autograd_ctx_id: int = -1, retain_graph: bool = False) -> None:
        """Backpropagate from the value (a scalar tensor) on its owner: a distributed backward
        pass in context ``dist_autograd_ctx_id`` (gradients in ``get_gradients``), or, with -1,
        a local one (only on the owner, gradients in ``.grad``)."""
        from ember.distributed.rpc import api
        if dist_autograd_ctx_id == -1 and not self.is_owner():
            raise RuntimeError("User RRefs require 'dist_autograd_ctx_id' to be specified")
        if self.is_owner():
            _backward_here(self, dist_autograd_ctx_id, retain_graph)
        else:
            api.rpc_sync(self._owner, _backward_here,
                         args=(self, dist_autograd_ctx_id, retain_graph))

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

    # -- travel (see NOTE [ RRef reference counting ]) ----------------------------------------

    def _on_wire(self, peer: int) -> tuple:
        me = _agent().rank
        if me != self._owner:
            token = (me, next(_ids))
            with _lock:
                _children[token] = self
            return ("rref", self._owner, self._id, token)
        with _lock:  # counted until the receiver counts itself (to itself: until unpickled)
            _owned.setdefault(self._id, [self._value_future(), 0])[1] += 1
        return ("rref", self._owner, self._id, None)

    def _value_future(self) -> Future:
        if self._value is None:  # remote() to this worker: the value is the table's
            self._value = _entry(self._id)[0]
        return self._value

    @classmethod
    def _from_wire(cls, pid: tuple, peer: int) -> "RRef":
        _, owner, rref_id, token = pid
        agent = _agent()
        if owner == agent.rank:  # home again: the owner's, the sender's hold let go
            rref = cls._make(owner, rref_id, _entry(rref_id)[0], None, False)
            if token is None:
                _delete_fork(rref_id)
            else:
                agent.defer(None, token[0], _release_child, (token,))
            return rref
        if token is None:  # from the owner, which counted it already
            return cls._make(owner, rref_id, None, None, True)
        from ember.distributed import autograd as dist_autograd
        with dist_autograd._running_in(None):
            confirmed = agent.call(owner, _add_fork, (rref_id, token), {}, UNSET_RPC_TIMEOUT)
        return cls._make(owner, rref_id, None, confirmed, True)

    def __reduce__(self):
        raise RuntimeError("Can not pickle rref in python pickler, rref can only be pickled "
                           "when using RPC")

    def __repr__(self) -> str:
        kind = "OwnerRRef" if self.is_owner() else "UserRRef"
        return f"{kind}(RRefId = GloballyUniqueId(created_on={self._id[0]}, " \
               f"local_id={self._id[1]}))"


def _add_fork(rref_id: tuple, token: tuple) -> None:
    """On the owner: count a user's new RRef, then let its sender go."""
    with _lock:
        _entry(rref_id)[1] += 1
    _agent().defer(None, token[0], _release_child, (token,))


def _release_child(token: tuple) -> None:
    with _lock:
        _children.pop(token, None)


def _delete_fork(rref_id: tuple) -> None:
    """On the owner: a user's RRef is gone; the value goes with the last one."""
    with _lock:
        entry = _owned.get(rref_id)
        if entry is not None:
            entry[1] -= 1
            if entry[1] <= 0:
                del _owned[rref_id]


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
    return _entry(rref_id)[0]


def _type_of(rref: RRef) -> type:
    return type(rref.local_value())


def _backward_here(rref: RRef, context_id: int, retain_graph: bool) -> None:
    """On the owner: ``RRef.backward``."""
    from ember._tensor import Tensor
    from ember.distributed import autograd as dist_autograd
    value = rref.local_value()
    if not isinstance(value, Tensor):
        raise RuntimeError("RRef should contain a tensor for .backward()")
    if context_id == -1:
        value.backward(retain_graph=retain_graph)
    else:
        dist_autograd.backward(context_id, [value], retain_graph=retain_graph)


@functions.async_execution
def _run_and_keep(rref_id: tuple, func, args: tuple, kwargs: dict) -> Future:
    """On the owner, for ``remote()``: run ``func`` and keep its value as ``rref_id``'s (an
    error too, for ``to_here`` to raise), counting the caller's RRef (the owner's own too: it
    uncounts itself when deleted); the reply says only that it ran."""
    with _lock:
        entry = _entry(rref_id)
        entry[1] += 1
    slot = entry[0]
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
    agent = _agent()
    rref_id = (agent.rank, next(_ids))
    confirmed = agent.call(owner, _run_and_keep, (rref_id, func, args, kwargs), {}, timeout)
    return RRef._make(owner, rref_id, None, confirmed, True)
