"""``torch.distributed.autograd``: backward passes that cross RPC.

NOTE [ Distributed autograd ]
Inside ``with context() as context_id``, every tensor that requires grad and travels in an RPC
(argument or result) leaves a *send* on the sending worker (the tensor, kept with its graph in
the context) and arrives as a fresh tensor whose grad_fn is a *recv* node naming the sender and
the send. Both workers' contexts share the id, which each RPC carries. ``backward(context_id,
roots)`` runs the local graph from the roots once, collecting the gradients of the local leaves
into the context (never into ``.grad``) and the gradients reaching the recv nodes; each of those
goes back by RPC to its sender (one message per sender), which runs its graph from those sends
the same way, and so on until no gradient is left to forward ("FAST mode"). Each local pass
frees the graph it ran unless ``retain_graph``, so a second backward through it raises, as in
PyTorch. A leaf's post-accumulate-grad hooks marked ``_in_dist_autograd`` (DDP's) run once its
gradient is in the context, as PyTorch's engine runs the post hooks of its gradient
accumulators (the DDP reducer's) but not the tensors' own: that is how DDP averages them (it
reads and writes the context's gradients then). ``get_gradients`` reads the context's
gradients; ``DistributedOptimizer.step(context_id)`` applies them.
"""
from __future__ import annotations

import contextlib
import itertools
import threading

from ember.autograd.engine import run_backward
from ember.autograd.function import AccumulateGrad, GradientEdge, Node, grad_accumulator

__all__ = ["backward", "context", "get_gradients"]

_contexts: dict = {}  # context id -> _Context, on every worker it reached
_contexts_lock = threading.Lock()
_local = threading.local()  # .context: the context of this thread's ``with`` or RPC
_counter = itertools.count()


class _RecvRpcBackward(Node):
    """The grad_fn of a tensor received in a context: its gradient goes back to the sender."""

    def __init__(self, peer: int, send_id: int) -> None:
        super().__init__()
        self.peer, self.send_id = peer, send_id

    def name(self) -> str:
        return "torch::distributed::autograd::RecvRpcBackward"

    def apply(self, *grads):
        return ()  # backward() captures the gradient here and sends it on


class _Context:
    """One distributed backward context on this worker (see the NOTE)."""

    def __init__(self, context_id: int) -> None:
        self.id = context_id
        self._lock = threading.Lock()
        self._sends: dict = {}  # send id -> the tensor sent, with its graph
        self._send_ids = itertools.count()
        self._grads: dict = {}  # id(leaf) -> (leaf, accumulated gradient)
        self.peers: set = set()  # the workers this context reached or came from

    def record_send(self, tensor, peer: int) -> int:
        with self._lock:
            send_id = next(self._send_ids)
            self._sends[send_id] = tensor
            self.peers.add(peer)
        return send_id

    def record_recv(self, tensor, peer: int, send_id: int):
        from ember._tensor import _make
        with self._lock:
            self.peers.add(peer)
        return _make(tensor._data, True, _RecvRpcBackward(peer, send_id))

    def accumulate(self, leaf, grad) -> None:
        with self._lock:
            entry = self._grads.get(id(leaf))
            self._grads[id(leaf)] = (leaf, grad if entry is None else entry[1] + grad)

    def gradient(self, leaf):
        """The gradient of ``leaf`` accumulated here (None if none)."""
        with self._lock:
            entry = self._grads.get(id(leaf))
        return None if entry is None else entry[1]

    def set_gradient(self, leaf, grad) -> None:
        with self._lock:
            self._grads[id(leaf)] = (leaf, grad)

    def gradients(self) -> dict:
        with self._lock:
            return {leaf: grad for leaf, grad in self._grads.values()}

    def sent(self, send_id: int):
        with self._lock:
            return self._sends[send_id]


def _retrieve(context_id: int) -> _Context:
    with _contexts_lock:
        ctx = _contexts.get(context_id)
    if ctx is None:
        raise RuntimeError(f"Could not find autograd context with id: {context_id}")
    return ctx


def _current_context() -> _Context | None:
    return getattr(_local, "context", None)


def _context_for(context_id: int, peer: int) -> _Context | None:
    """The context an RPC from ``peer`` names (made on first contact); None for -1."""
    if context_id == -1:
        return None
    with _contexts_lock:
        ctx = _contexts.get(context_id)
        if ctx is None:
            ctx = _contexts[context_id] = _Context(context_id)
    with ctx._lock:
        ctx.peers.add(peer)
    return ctx


@contextlib.contextmanager
def _running_in(ctx: _Context | None):
    """Run an RPC's function in the caller's context."""
    previous = _current_context()
    _local.context = ctx
    try:
        yield
    finally:
        _local.context = previous


def _forget_all() -> None:
    with _contexts_lock:
        _contexts.clear()


class context:  # noqa: N801  (PyTorch's name)
    """``with dist_autograd.context() as context_id``: a distributed backward context; RPCs
    in the block record their tensors' send and recv edges in it, on every worker they reach.
    Leaving it releases the context everywhere.

    Example::

        >>> with dist_autograd.context() as context_id:
        ...     loss = rpc.rpc_sync("worker1", torch.add, args=(t1, t2)).sum()
        ...     dist_autograd.backward(context_id, [loss])
        ...     grads = dist_autograd.get_gradients(context_id)
    """

    def __enter__(self) -> int:
        from ember.distributed.rpc import api
        if _current_context() is not None:
            raise RuntimeError("Already have an autograd context id for this thread.")
        agent = api._agent_or_raise()
        context_id = (agent.rank << 48) + next(_counter)  # unique across workers, as PyTorch's
        ctx = _Context(context_id)
        with _contexts_lock:
            _contexts[context_id] = ctx
        _local.context = ctx
        return context_id

    def __exit__(self, *exc) -> None:
        ctx = _current_context()
        _local.context = None
        _release(ctx.id, None)


def _release(context_id: int, origin: int | None) -> None:
    """Drop the context here and tell the workers it reached (but ``origin``) to drop it."""
    from ember.distributed.rpc import api
    with _contexts_lock:
        ctx = _contexts.pop(context_id, None)
    if ctx is None or api._state["agent"] is None:
        return
    me = api._state["agent"].rank
    with _running_in(None):
        for peer in ctx.peers - {me, origin}:
            api.rpc_async(peer, _release, args=(context_id, me))


def backward(context_id: int, roots: list, retain_graph: bool = False) -> None:
    """Backpropagate from ``roots`` (scalars) across every worker the context reached; the
    gradients of each worker's leaves accumulate in its context (``get_gradients``), not in
    ``.grad``. Each worker frees the graph it ran unless ``retain_graph``."""
    from ember._creation import ones_like
    ctx = _retrieve(context_id)
    for root in roots:
        if not root.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have "
                               "a grad_fn")
        if root.numel() != 1:
            raise RuntimeError("Expected the roots of the distributed backward pass to be "
                               f"scalars, got a tensor of shape {tuple(root.shape)}")
    _backward_here(ctx, list(roots), [ones_like(r) for r in roots], retain_graph)


def _backward_here(ctx: _Context, tensors: list, grads: list, retain_graph: bool) -> None:
    """This worker's part of a distributed backward pass from ``tensors`` (see the NOTE)."""
    from ember.distributed.rpc import api
    leaves, recvs = _leaves_and_recvs(tensors)
    if not leaves and not recvs:
        return
    inputs = leaves + [GradientEdge(node, 0) for node in recvs]
    try:
        results = run_backward(tensors, grads, retain_graph=retain_graph, create_graph=False,
                               inputs=inputs, allow_unused=True, accumulate=False)
    except RuntimeError as e:  # PyTorch's engine says on which worker it failed
        raise RuntimeError(f"Error on Node {api._agent_or_raise().rank}: {e}") from e
    with _running_in(ctx):  # the hooks (DDP's) read and write the context's gradients
        for leaf, grad in zip(leaves, results):
            if grad is not None:
                ctx.accumulate(leaf, grad)
                for hook in leaf._post_acc_hooks or ():
                    if getattr(hook, "_in_dist_autograd", False):
                        hook(leaf)
    by_peer: dict = {}
    for node, grad in zip(recvs, results[len(leaves):]):
        if grad is not None:
            by_peer.setdefault(node.peer, []).append((node.send_id, grad))
    futures = [api.rpc_async(peer, _backward_from_sends, args=(ctx.id, sends, retain_graph))
               for peer, sends in by_peer.items()]
    for future in futures:
        future.wait()


def _backward_from_sends(context_id: int, sends: list, retain_graph: bool) -> None:
    """On the sender of tensors: continue the backward pass from their sends, in one pass."""
    ctx = _retrieve(context_id)
    _backward_here(ctx, [ctx.sent(send_id) for send_id, _ in sends],
                   [grad for _, grad in sends], retain_graph)


def _leaves_and_recvs(tensors: list) -> tuple:
    """The leaf tensors and the recv nodes of the local graph below ``tensors``."""
    stack = [t.grad_fn if t.grad_fn is not None else grad_accumulator(t) for t in tensors]
    seen, leaves, recvs = set(), [], []
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if isinstance(node, AccumulateGrad):
            if node.variable is not None:
                leaves.append(node.variable)
        elif isinstance(node, _RecvRpcBackward):
            recvs.append(node)
        stack.extend(nxt for nxt, _ in node.next_functions if nxt is not None)
    return leaves, recvs


def get_gradients(context_id: int) -> dict:
    """``{tensor: gradient}`` of this worker's leaves, accumulated in the context by
    ``backward``."""
    return _retrieve(context_id).gradients()
