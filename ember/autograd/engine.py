"""The backward pass: dependency counts, then a ready heap ordered by sequence number.

Iterative (a 10,000-step RNN graph cannot overflow the stack). Gradients arriving at a node are
summed in its input buffer; a node runs once all its consumers have run, latest-created first,
and its saved tensors are freed right after unless ``retain_graph``.
"""
from __future__ import annotations

import functools
import heapq
import itertools
import operator
import threading

from ember.autograd import anomaly_mode
from ember.autograd import function as _function
from ember.autograd.function import _RELEASED, AccumulateGrad, edge_of
from ember.autograd.grad_mode import _State as _GradState
from ember.dtypes import from_numpy_dtype

heappush, heappop, heapreplace = heapq.heappush, heapq.heappop, heapq.heapreplace
_node_of = operator.itemgetter(0)  # of an edge (node, output_nr)


class _GraphTask:
    """One running backward pass: which nodes it will run, and the callbacks queued to run
    when it ends."""

    __slots__ = ("id", "roots", "deps", "needed", "accumulate", "callbacks")

    def __init__(self, roots: set, deps: dict, needed: set | None, accumulate: bool) -> None:
        self.id = next(_task_ids)
        self.roots, self.deps, self.needed = roots, deps, needed
        self.accumulate = accumulate
        self.callbacks: list = []

    def will_execute(self, node) -> bool:
        if not self.accumulate and isinstance(node, AccumulateGrad):
            # as PyTorch, which runs no grad accumulators in autograd.grad()
            raise RuntimeError("A leaf node was passed to _will_engine_execute_node but we are "
                               "currently running autograd.grad(). This is currently not "
                               "supported.")
        return ((node in self.roots or node in self.deps)
                and (self.needed is None or node in self.needed))


_task_ids = itertools.count()


class _RunningTasks(threading.local):
    """The backward passes running in this thread, the innermost (reentrant) last: threads
    run backward passes of their own, as in PyTorch."""

    def __init__(self) -> None:
        self.stack: list = []


_tasks = _RunningTasks()


def current_graph_task_id() -> int:
    """The id of the backward pass running now (-1 outside backward)."""
    return _tasks.stack[-1].id if _tasks.stack else -1


def will_engine_execute_node(node) -> bool:
    """Whether the running backward pass will run ``node`` (a grad_fn or grad accumulator)."""
    if not _tasks.stack:
        raise RuntimeError("_will_engine_execute_node should only be called during the "
                           "backward pass")
    return _tasks.stack[-1].will_execute(node)


def queue_callback(callback) -> None:
    """Run ``callback()`` once the running backward pass has finished its nodes (callbacks run
    in the order queued, and may queue more)."""
    if not _tasks.stack:
        raise RuntimeError("Final callbacks can only be installed during backward pass.")
    _tasks.stack[-1].callbacks.append(callback)


class _ExecutionEngine:
    """``Variable._execution_engine``: the engine as PyTorch's Python code reaches it."""

    queue_callback = staticmethod(queue_callback)


def _root_edges(tensors):
    edges = []
    for i, t in enumerate(tensors):
        if isinstance(t, _function.GradientEdge):
            edges.append((t.node, t.output_nr))
            continue
        if not t.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not "
                               "have a grad_fn")
        edges.append(edge_of(t))
    return edges


def _make_root_grads(tensors, grad_tensors):
    Tensor, _make = _function.Tensor, _function._make
    grads = []
    for t, g in zip(tensors, grad_tensors):
        if isinstance(t, _function.GradientEdge):
            if not isinstance(g, Tensor):  # an edge has no shape to make a one of
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            grads.append(g)
            continue
        if g is None:
            data = t._data
            if data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            # A 0-d one (reshaped for a one-element tensor): cheaper than ones(), a Python-level
            # NumPy function.
            one = t._xp.asarray(1, data.dtype)
            if one.__class__ is not data.__class__:  # a meta root: a one of its kind
                one = t._xp.ones_like(data)
            g = _make(one if data.ndim == 0 else one.reshape(data.shape))
        elif not isinstance(g, Tensor):
            g = _make(t._xp.asarray(g, t._data.dtype))
        elif tuple(g.shape) != tuple(t.shape):
            raise RuntimeError(f"Mismatch in shape: grad_output[0] has a shape of {g.shape} and "
                               f"output[0] has a shape of {t.shape}.")
        grads.append(g)
    return grads


def _dependencies(roots: set) -> dict:
    """How many edges reach each node below ``roots`` (each root walked once: several may share
    a node, e.g. the outputs of one split)."""
    deps: dict = {}
    stack = list(roots)
    while stack:
        for nxt, _ in stack.pop().next_functions:
            if nxt is None:
                continue
            if nxt in deps:
                deps[nxt] += 1
            else:
                deps[nxt] = 1
                if nxt not in roots:
                    stack.append(nxt)
    return deps


def _needed_nodes(all_nodes, targets):
    """Nodes from which some target node is reachable (the rest need not run)."""
    needed = set(targets)
    changed = True
    order = sorted(all_nodes, key=lambda n: n._seq)  # producers have smaller sequence numbers
    while changed:
        changed = False
        for node in order:
            if node in needed:
                continue
            if any(nxt in needed for nxt, _ in node.next_functions if nxt is not None):
                needed.add(node)
                changed = True
    return needed


def run_backward(tensors, grad_tensors, retain_graph: bool, create_graph: bool,
                 inputs=None, allow_unused: bool = True, accumulate: bool = True):
    """Backpropagate from ``tensors``. With ``accumulate`` leaves' ``.grad`` fields are updated;
    otherwise the gradients of ``inputs`` are returned (``autograd.grad``)."""
    root_edges = _root_edges(tensors)
    root_grads = _make_root_grads(tensors, grad_tensors)
    input_edges = None
    if inputs is not None:
        input_edges = [(t.node, t.output_nr) if isinstance(t, _function.GradientEdge)
                       else edge_of(t) if t.requires_grad else (None, 0) for t in inputs]
        for e in input_edges:
            if e[0] is None:
                raise RuntimeError("One of the differentiated Tensors does not require grad")
    roots = {root_edges[0][0]} if len(root_edges) == 1 else set(map(_node_of, root_edges))
    deps = _dependencies(roots)
    needed = None
    captured = {}
    if input_edges is not None:
        targets = {e[0] for e in input_edges}
        needed = _needed_nodes(roots.union(deps), targets)
        capture_keys = {(e[0], e[1]): t for e, t in zip(input_edges, inputs)}
    buffers: dict = {}
    heap = []
    ready = None  # the next node to run when it needs no trip through the heap
    if len(root_edges) == 1 and root_edges[0][1] == 0 and root_edges[0][0]._out_meta is None:
        node = root_edges[0][0]  # the usual ``loss.backward()``: one single-output root
        buffers[node] = root_grads
        if node not in deps:
            ready = node
    else:
        for (node, nr), g in zip(root_edges, root_grads):
            _add_to_buffer(buffers, node, nr, g)
        for node in roots:
            if deps.get(node, 0) == 0:
                heappush(heap, (-node._seq, node))
    anomaly = anomaly_mode._State.enabled
    prev_grad_mode = _GradState.enabled
    _GradState.enabled = create_graph
    pop_buffer = buffers.pop
    task = _GraphTask(roots, deps, needed, accumulate)
    _tasks.stack.append(task)
    try:
        while True:
            # A node that the last one made ready runs next unless the heap holds a later one:
            # in a chain of single-consumer nodes the heap is never touched.
            if ready is not None:
                node = ready
                ready = None
                if heap and heap[0][0] < -node._seq:
                    node = heapreplace(heap, (-node._seq, node))[1]
            elif heap:
                node = heappop(heap)[1]
            else:
                break
            grads = pop_buffer(node, None)
            if grads is None:
                _release_edges(node, deps, heap)
                continue
            hooked = node._hooked
            if hooked and node._tensor_hooks:
                grads = _run_tensor_hooks(node, grads)
            if input_edges is not None:
                for i, g in enumerate(grads):
                    key = (node, i)
                    if key in capture_keys and g is not None:
                        captured[key] = g
                        target = capture_keys[key]
                        if (accumulate and not isinstance(node, AccumulateGrad)
                                and not isinstance(target, _function.GradientEdge)):
                            _accumulate_into(target, g, create_graph)
                if isinstance(node, AccumulateGrad):
                    if accumulate and (node, 0) in capture_keys:
                        node.accumulate(grads[0], create_graph)
                    continue
                if node not in needed:
                    _release_edges(node, deps, heap)
                    continue
            if node.__class__ is AccumulateGrad:
                if accumulate:
                    node.accumulate(grads[0], create_graph)
                continue
            if hooked and node._pre_hooks:
                for hook in node._pre_hooks:
                    result = hook(tuple(grads))
                    if result is not None:
                        grads = list(result)
            try:
                out = node.apply(*grads)
            except Exception as exc:
                if anomaly:
                    anomaly_mode.report(node, exc)
                raise
            if hooked and node._post_hooks:
                for hook in node._post_hooks:
                    result = hook(out, tuple(grads))
                    if result is not None:
                        out = result
            if anomaly:
                anomaly_mode.check_nan(node, out)
            if not retain_graph:  # even with nothing saved: saved_tensors raises, as in PyTorch
                node._saved = _RELEASED
            meta = node._input_meta
            n_out = len(out)
            i = -1
            for nxt, nr in node.next_functions:
                i += 1
                if nxt is None:
                    continue
                g = out[i] if i < n_out else None
                if g is not None:
                    m = meta[i] if meta else None
                    if m is not None:
                        data = g._data
                        if data.shape != m[0] or (data.dtype is not m[1]
                                                  and data.dtype != m[1]):
                            g = _validate(node, i, g, m)
                    if nr == 0 and nxt._out_meta is None and nxt not in buffers:
                        buffers[nxt] = [g]  # the common single-output consumer
                    else:
                        _add_to_buffer(buffers, nxt, nr, g)
                d = deps[nxt] - 1
                deps[nxt] = d
                if d == 0:
                    if ready is None:
                        ready = nxt
                    else:
                        heappush(heap, (-nxt._seq, nxt))
            out = g = data = None  # so that a leaf can take a gradient nothing else holds
        for callback in task.callbacks:  # (a callback may append more)
            callback()
    finally:
        _tasks.stack.pop()
        _GradState.enabled = prev_grad_mode
    if input_edges is None:
        return None
    results = []
    for i, e in enumerate(input_edges):
        g = captured.get(e)
        if g is None and not allow_unused:
            raise RuntimeError(f"The differentiated Tensor at index {i} appears to not have "
                               "been used in the graph. Set allow_unused=True if this is the "
                               "desired behavior.")
        if g is not None and not create_graph:
            g = g.detach()
        results.append(g)
    return tuple(results)


def _accumulate_into(tensor, grad, create_graph: bool) -> None:
    """``backward(inputs=[non_leaf])`` fills the non-leaf's ``.grad`` like a leaf's."""
    if tensor._grad is None:  # the slot: reading .grad warns on non-leaves
        tensor.grad = grad if create_graph else grad.detach()._owned_copy()
    else:
        tensor.grad = tensor._grad + grad


def _release_edges(node, deps, heap):
    """Skip a node: its consumers' dependency counts still drop so the walk can finish."""
    for nxt, _ in node.next_functions:
        if nxt is None:
            continue
        deps[nxt] -= 1
        if deps[nxt] == 0:
            heappush(heap, (-nxt._seq, nxt))


def _add_to_buffer(buffers, node, nr, grad):
    buf = buffers.get(node)
    if buf is None:
        n = len(node._out_meta) if node._out_meta else 1
        buf = buffers[node] = [None] * max(n, nr + 1)
    elif nr >= len(buf):
        buf.extend([None] * (nr + 1 - len(buf)))
    prev = buf[nr]
    buf[nr] = grad if prev is None else prev + grad


def _run_tensor_hooks(node, grads):
    grads = list(grads)
    for nr, hooks in node._tensor_hooks.items():
        if nr < len(grads) and grads[nr] is not None:
            for hook in list(hooks):
                result = hook(grads[nr])
                if result is not None:
                    grads[nr] = result
    return grads


def _validate(node, index, grad, meta):
    """Reduce a broadcast gradient to its input's shape and cast it to the input's dtype."""
    if meta is None:
        return grad
    shape, np_dtype = meta
    data = grad._data
    if data.shape != shape:
        if not broadcasts_to(shape, data.shape):
            raise RuntimeError(f"Function {node.name()} returned an invalid gradient at index "
                               f"{index} - got {list(data.shape)} but expected shape compatible "
                               f"with {list(shape)}")
        grad = _sum_to_size().apply(grad, shape)  # the primitive: shape is already a tuple
    if grad._data.dtype != np_dtype:
        grad = grad.to(from_numpy_dtype(np_dtype))
    return grad


@functools.cache
def _sum_to_size():
    from ember.ops.movement import SumToSize  # ops build on autograd: imported on first use
    return SumToSize


def broadcasts_to(shape: tuple, target: tuple) -> bool:
    """Whether an array of ``shape`` broadcasts to ``target`` unchanged."""
    if len(shape) > len(target):
        return False
    for s, t in zip(reversed(shape), reversed(target)):
        if s != t and s != 1:
            return False
    return True
