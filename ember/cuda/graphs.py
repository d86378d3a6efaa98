"""CUDA graphs (PyTorch's ``torch.cuda.CUDAGraph``, ``graph``, ``make_graphed_callables``) on
CuPy's stream capture.

# NOTE [ CUDA graphs on CuPy ]
Capture: while a stream captures, the kernels queued on it are recorded instead of run, and
``replay`` launches the whole recording at once (one driver call instead of one per kernel).
Only the GPU work is recorded: Python, shapes, branches and the scalars passed to kernels are
fixed at capture, and the recording reads and writes the same addresses on every replay.

Memory: during a capture every allocation of the capturing thread comes from the graph's own
CuPy memory pool (``cupy.cuda.using_allocator``), so the tensors that the recording writes
(temporaries included, freed or not) keep their addresses for the graph, and allocations
outside graphs, from CuPy's default pool, never reuse them. Graphs passed one ``pool`` share
it: a later capture may reuse what an earlier one freed, which is safe when they replay in
the order they were captured (PyTorch's rule). A pool lives while a graph or handle refers to
it, and after that while tensors allocated from it live (``_retired``), since freeing a pool
would free their memory under them.

Capture mode: CuPy's pool grows with ``cudaMalloc``, which CUDA permits during a capture only
in relaxed mode, so ember always captures in relaxed mode; ``capture_error_mode`` is checked
and otherwise accepted for compatibility. Calls that wait for the GPU (``.item()``, ``.cpu()``,
printing a tensor, ``ember.cuda.synchronize()``) fail in every mode, and ``graph`` reports
them as a RuntimeError naming the ember call.

Random numbers: ember's CUDA generators are CuPy generators whose state lives on the GPU and
is advanced there by each draw, so a captured draw advances it on every replay: replays draw
fresh numbers, and eager draws after them continue the same stream (PyTorch gets the same
effect from a Philox offset). The graph keeps the generator states it may draw from: seeding
after the capture (``manual_seed`` makes a new state) does not reach the graph, which goes
on drawing from the state it captured.

Deferred device checks (NOTE [ Deferred device checks ] in ember/backend/cuda.py) made during
a capture are dropped at its end: their flags are only computed when the graph replays, so a
captured op's check (a class index out of range, say) is not reported.

Limits: CuPy refuses to call cuBLAS during a capture, so matrix products (``Linear``,
``matmul``, convolutions' GEMMs) cannot be captured: ``graph`` raises a RuntimeError naming the
call (seen on an H200 with CuPy 14.2). What runs without cuBLAS is captured: elementwise ops,
reductions (ember's sums over leading axes, cuBLAS products on the GPU, fall back to CuPy's
reduction while capturing), the optimizers' updates (their multi-tensor launch, which uploads
a table from host memory, falls back to one kernel per parameter while capturing).
``ember.cuda.memory_allocated`` and friends count CuPy's default pool only, not graph pools.
"""
from __future__ import annotations

import gc
import os
import weakref
from typing import Any, Callable

from ember.autograd.function import Function, once_differentiable
from ember.backend import cuda as _backend

__all__ = ["CUDAGraph", "graph", "graph_pool_handle", "is_current_stream_capturing",
           "make_graphed_callables"]

_CAPTURE_MODES = ("global", "thread_local", "relaxed")
_DEFAULT_STREAMS = (0, 1, 2)  # CUDA's null, legacy and per-thread default streams
_THIS_FILE = os.path.abspath(__file__)
_EMBER_DIR = os.path.dirname(os.path.dirname(_THIS_FILE)) + os.sep
_retired: list = []  # pools no graph uses any more whose blocks tensors still hold
_capture_streams: dict = {}  # device index -> the side stream ``graph`` captures on


class _GraphPool:
    """A private memory pool of CUDA graphs: the opaque token that ``graph_pool_handle`` and
    ``CUDAGraph.pool`` return."""

    __slots__ = ("_pool", "__weakref__")

    def __init__(self):
        self._pool = _backend.cupy().cuda.MemoryPool()
        # Only a list append here: a finalizer may run in the middle of a capture.
        weakref.finalize(self, _retired.append, self._pool).atexit = False

    def __repr__(self) -> str:
        return f"<ember.cuda graph pool at {id(self):#x}>"


def _release_retired() -> None:
    """Return the cached blocks of retired pools to the GPU; forget the pools left empty."""
    for pool in _retired:
        pool.free_all_blocks()
    _retired[:] = [pool for pool in _retired if pool.used_bytes()]


def graph_pool_handle() -> _GraphPool:
    """A new private memory pool for CUDA graphs, to pass as ``pool`` to several captures so
    that they share memory (replay them in the order they were captured).

    Example::

        >>> handle = ember.cuda.graph_pool_handle()
        >>> with ember.cuda.graph(g1, pool=handle): ...
        >>> with ember.cuda.graph(g2, pool=handle): ...
    """
    return _GraphPool()


def is_current_stream_capturing() -> bool:
    """Whether the current CUDA stream is capturing a graph (False without a GPU)."""
    if not _backend.is_available():
        return False
    return bool(_backend.cupy().cuda.get_current_stream().is_capturing())


class CUDAGraph:
    """A captured CUDA graph: ``capture_begin`` / ``capture_end`` record the GPU work queued
    on the current stream in between, ``replay`` runs it again on the current stream.

    Prefer the ``graph`` context manager, which captures on a side stream. Replay reads and
    writes the addresses seen at capture: change the inputs in place (``copy_``) and read the
    outputs the capture produced. Random ops draw fresh numbers on each replay, and captures
    always run in relaxed mode (see NOTE [ CUDA graphs on CuPy ]).

    Example::

        >>> g = ember.cuda.CUDAGraph()
        >>> with ember.cuda.graph(g):
        ...     y = x * 2 + 1
        >>> x.copy_(new_x); g.replay()   # y now holds new_x * 2 + 1
    """

    def __init__(self):
        _backend.cupy()  # raises the clear "CuPy or an NVIDIA GPU is missing" error
        self._graph = None
        self._pool = None
        self._stream = None  # while capturing
        self._allocator = None  # while capturing: the ``using_allocator`` context
        self._saved_checks = None  # while capturing: the deferred checks made before
        self._generators = ()

    def capture_begin(self, pool: Any = None, capture_error_mode: str = "global") -> None:
        """Begin capturing the GPU work queued on the current stream (not the default one).

        Args:
            pool: a token from ``graph_pool_handle()`` or another graph's ``pool()`` to share
                that graph's memory pool; None for a new one.
            capture_error_mode: "global", "thread_local" or "relaxed"; ember captures in
                relaxed mode whatever is asked (its memory pool calls ``cudaMalloc``).
        """
        if capture_error_mode not in _CAPTURE_MODES:
            raise RuntimeError("Unknown capture error mode. Expected `global`, `thread_local`, "
                               f"or `relaxed`, got {capture_error_mode}")
        if pool is not None and not isinstance(pool, _GraphPool):
            raise TypeError("pool must come from ember.cuda.graph_pool_handle() or another "
                            f"graph's pool(), got {type(pool).__name__}")
        if self._stream is not None or self._graph is not None:
            raise RuntimeError("This CUDAGraph instance already owns a captured graph (or is "
                               "capturing). To capture a new graph, create a new instance.")
        cp = _backend.cupy()
        stream = cp.cuda.get_current_stream()
        if stream.ptr in _DEFAULT_STREAMS:
            raise RuntimeError("CUDA graphs must be captured on a non-default stream. (However, "
                               "after capture, it's ok to replay them on the default stream.)")
        _release_retired()
        _default_generator(cp)
        stream.synchronize()  # the generator's state may have just been made on this stream
        self._pool = pool if pool is not None else _GraphPool()
        self._saved_checks = dict(_backend._deferred)
        _backend._deferred.clear()
        self._allocator = cp.cuda.using_allocator(self._pool._pool.malloc)
        self._allocator.__enter__()
        try:
            stream.begin_capture()  # CuPy's default mode: relaxed
        except BaseException:
            self._end_allocation()
            self._pool = None
            raise
        self._stream = stream

    def capture_end(self) -> None:
        """End the capture begun by ``capture_begin``; ``replay`` may follow."""
        stream, self._stream = self._stream, None
        if stream is None:
            raise RuntimeError("CUDAGraph.capture_end called without capture_begin")
        try:
            self._graph = stream.end_capture()
        except RuntimeError as exc:
            self._pool = None
            raise RuntimeError("CUDA graph capture failed: an operation during the capture "
                               "waited for the GPU, copied to the host or otherwise broke the "
                               f"capture ({exc})") from exc
        finally:
            self._end_allocation()
        from ember import random
        # The recording reads and advances these states: a reseed must not free them under it.
        self._generators = tuple(g.xp_rng() for g in random._cuda_generators.values())

    def _end_allocation(self) -> None:
        self._allocator.__exit__(None, None, None)
        self._allocator = None
        _backend._deferred.clear()
        _backend._deferred.update(self._saved_checks)
        self._saved_checks = None

    def replay(self) -> None:
        """Run the captured work again, on the current stream."""
        if self._graph is None:
            raise RuntimeError("Called CUDAGraph.replay without a preceding successful capture.")
        self._graph.launch()

    def reset(self) -> None:
        """Delete the captured graph and let go of its memory pool."""
        self._graph = None
        self._pool = None
        self._generators = ()

    def pool(self) -> _GraphPool:
        """The token of this graph's memory pool, to share it with another capture."""
        if self._pool is None:
            raise RuntimeError("CUDAGraph.pool called before capture_begin")
        return self._pool

    def enable_debug_mode(self) -> None:
        """Not available: CuPy instantiates the graph at ``capture_end`` and keeps no
        ``cudaGraph_t`` to print."""
        raise NotImplementedError("CUDAGraph debug mode is not available in ember: CuPy keeps "
                                  "no cudaGraph_t after instantiation")

    def debug_dump(self, debug_path: str) -> None:
        """Not available (see ``enable_debug_mode``)."""
        raise NotImplementedError("CUDAGraph.debug_dump is not available in ember: CuPy keeps "
                                  "no cudaGraph_t after instantiation")


def _default_generator(cp) -> None:
    """Make the current GPU's default generator now: made during a capture, its state would
    be allocated and seeded only by the recording."""
    from ember.backend.device import Device
    from ember.random import generator_for
    generator_for(Device("cuda", cp.cuda.runtime.getDevice()))


def _capture_violation(exc: BaseException) -> bool:
    """Whether ``exc`` is CUDA refusing an operation because a stream is capturing (CuPy's
    CUDARuntimeError is a RuntimeError)."""
    return isinstance(exc, RuntimeError) and "captur" in str(exc).lower()


def _ember_call(tb) -> str | None:
    """The last ember function that code outside ember called on the way to ``tb``'s error
    (``Tensor.item``, say): the user's call that broke the capture. Closures are wrappers
    (the overrides' dispatch, step hooks): the name is that of the function they wrap."""
    name = None
    caller_outside = True
    while tb is not None:
        code = tb.tb_frame.f_code
        path = os.path.abspath(code.co_filename)
        qualname = getattr(code, "co_qualname", code.co_name)
        if not path.startswith(_EMBER_DIR) or path == _THIS_FILE:
            caller_outside = True
        elif "<locals>" not in qualname:
            if caller_outside:
                name = qualname
            caller_outside = False
        tb = tb.tb_next
    return name


class graph:
    """Context manager that captures the GPU work of its block into ``cuda_graph``.

    It synchronizes the GPU, collects garbage and empties the cache, then captures on
    ``stream`` (or an internal side stream). Run the block a few times on a side stream
    first (warm-up), as in PyTorch: kernels are compiled and lazily made state allocated
    outside the graph.

    Args:
        cuda_graph: the ``CUDAGraph`` to capture into.
        pool: a token from ``graph_pool_handle()`` or another graph's ``pool()``: share
            that memory pool (replay the graphs in the order of their capture).
        stream: the ``ember.cuda.Stream`` to capture on.
        capture_error_mode: "global", "thread_local" or "relaxed" (ember captures in relaxed
            mode; see ``CUDAGraph.capture_begin``).

    Example::

        >>> g = ember.cuda.CUDAGraph()
        >>> with ember.cuda.graph(g):
        ...     static_y = model(static_x)
        >>> static_x.copy_(batch); g.replay(); static_y
    """

    def __init__(self, cuda_graph: CUDAGraph, pool: Any = None, stream=None,
                 capture_error_mode: str = "global"):
        from ember import cuda
        cp = _backend.cupy()
        if stream is None:
            device = cp.cuda.runtime.getDevice()
            stream = _capture_streams.get(device)
            if stream is None:
                stream = _capture_streams[device] = cuda.Stream()
        self.cuda_graph = cuda_graph
        self.pool = pool
        self.capture_stream = stream
        self.capture_error_mode = capture_error_mode
        self._stream_ctx = cuda.stream(stream)

    def __enter__(self) -> None:
        from ember import cuda
        cuda.synchronize()
        gc.collect()
        cuda.empty_cache()
        self._stream_ctx.__enter__()
        try:
            self.cuda_graph.capture_begin(self.pool, capture_error_mode=self.capture_error_mode)
        except BaseException:
            self._stream_ctx.__exit__(None, None, None)
            raise

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc is None:
                self.cuda_graph.capture_end()
            else:
                try:
                    self.cuda_graph.capture_end()
                except RuntimeError:
                    pass  # the block's error broke the capture: report that error
        finally:
            self._stream_ctx.__exit__(None, None, None)
        if exc is not None and _capture_violation(exc):
            what = _ember_call(tb)
            what = f"{what}()" if what else "An operation"
            if "cublas" in str(exc).lower():
                raise RuntimeError(f"{what} runs a matrix product through cuBLAS, which CuPy "
                                   "cannot record in a CUDA graph; capture only work without "
                                   f"matrix products ({exc})") from exc
            raise RuntimeError(f"{what} waits for the GPU (or copies to the host), which is not "
                               "allowed while a CUDA graph is being captured; move it out of "
                               f"the captured block ({exc})") from exc


def _flatten(out) -> tuple:
    """The output tensors of a callable, and how to rebuild its output from them."""
    from ember._tensor import Tensor
    if isinstance(out, Tensor):
        return (out,), None
    if isinstance(out, (tuple, list)) and all(isinstance(o, Tensor) for o in out):
        return tuple(out), type(out)
    raise TypeError("make_graphed_callables: a callable must return a Tensor or a tuple or list "
                    f"of Tensors, got {type(out).__name__}")


def _surface_grads(outputs: tuple, surface: tuple, grad_outputs: tuple,
                   allow_unused: bool) -> tuple:
    """The gradients of ``outputs`` for each tensor of ``surface`` (the inputs, then the
    parameters): None for one that does not require grad."""
    from ember import autograd
    diff = tuple(o for o in outputs if o.requires_grad)
    wanted = tuple(t for t in surface if t.requires_grad)
    if not diff or not wanted:
        return (None,) * len(surface)
    grads = iter(autograd.grad(diff, wanted, grad_outputs=grad_outputs, only_inputs=True,
                               allow_unused=allow_unused))
    return tuple(next(grads) if t.requires_grad else None for t in surface)


def _graphed_function(fwd_graph: CUDAGraph, bwd_graph: CUDAGraph | None, surface: tuple,
                      outputs: tuple, grad_outputs: tuple, grad_inputs: tuple) -> type:
    """The autograd Function that replays a callable's graphs: forward copies its inputs into
    the static inputs (unless they are those) and replays the forward graph; backward copies
    the incoming gradients into the static ones and replays the backward graph. The results
    are the graphs' static tensors, overwritten by the next replay."""

    class Graphed(Function):
        @staticmethod
        def forward(ctx, *inputs):
            for static, given in zip(surface, inputs):
                if static.data_ptr() != given.data_ptr():
                    static.copy_(given)
            fwd_graph.replay()
            return tuple(o.detach() for o in outputs)

        @staticmethod
        @once_differentiable
        def backward(ctx, *grads):
            for static, given in zip(grad_outputs, grads):
                if static is None:
                    continue
                if given is None:
                    static.zero_()
                elif static.data_ptr() != given.data_ptr():
                    static.copy_(given)
            if bwd_graph is not None:
                bwd_graph.replay()
            return tuple(None if g is None else g.detach() for g in grad_inputs)

    return Graphed


def _graphed_forward(module, graphed: Callable) -> Callable:
    """A module's new forward: the graphs in the training mode they were captured in, the
    original forward in the other."""
    training = module.training
    original = module.forward

    def forward(*args):
        return graphed(*args) if module.training == training else original(*args)

    return forward


def make_graphed_callables(callables, sample_args: tuple, num_warmup_iters: int = 3,
                           allow_unused_input: bool = False, pool: Any = None):
    """Graphed versions of callables or modules: each call replays a CUDA graph of the
    forward pass and its backward replays a graph of the backward pass.

    Each callable runs ``num_warmup_iters`` times on a side stream (with a backward), then
    its forward and backward are captured once, all in one memory pool. Calls must pass
    tensors of the sample arguments' shapes, dtypes and ``requires_grad``; the outputs are
    the graph's static tensors, overwritten by the next call. A module comes back itself,
    its ``forward`` replaced by the graphed one while it is in the training mode it was
    graphed in; its parameters are inputs of the graphs (updating them in place is fine).

    Args:
        callables: a callable or ``nn.Module``, or a tuple of them (graphed in order, to be
            called in that order and their backward in reverse).
        sample_args: a tuple of tensors, or a tuple of such tuples for a tuple of callables.
        num_warmup_iters: warm-up runs before capture.
        allow_unused_input: allow inputs that do not reach the outputs (their grad is None).
        pool: a token from ``graph_pool_handle()`` to capture into; None for a new pool.

    Returns:
        the graphed callable or module, or a tuple of them.

    Example::

        >>> model = ember.cuda.make_graphed_callables(model, (torch.randn(8, 16, device="cuda"),))
        >>> loss_fn(model(x), y).backward()
    """
    from ember import cuda, empty_like
    from ember._tensor import Tensor
    from ember.nn import Module
    _backend.cupy()
    just_one = not isinstance(callables, tuple)
    if just_one:
        callables, sample_args = (callables,), (sample_args,)
    surfaces = []
    for c, args in zip(callables, sample_args):
        if isinstance(c, Module):
            if (c._forward_hooks or c._forward_pre_hooks or c._backward_hooks
                    or c._backward_pre_hooks):
                raise RuntimeError("Modules must not have hooks registered at the time they "
                                   "are passed to make_graphed_callables.")
            if any(b.requires_grad for b in c.buffers()):
                raise RuntimeError("In any Module passed to make_graphed_callables, only "
                                   "parameters may be trainable. All buffers must have "
                                   "requires_grad=False.")
        if not all(isinstance(a, Tensor) for a in args):
            raise TypeError("In the beta API, sample_args for each callable must contain only "
                            "Tensors. Other types are not allowed.")
        surfaces.append(tuple(args) + (tuple(c.parameters()) if isinstance(c, Module) else ()))
    mempool = graph_pool_handle() if pool is None else pool

    cuda.synchronize()
    with cuda.stream(cuda.Stream()):
        for c, args, surface in zip(callables, sample_args, surfaces):
            for _ in range(num_warmup_iters):
                outputs, _ = _flatten(c(*args))
                _surface_grads(outputs, surface,
                               tuple(empty_like(o) for o in outputs if o.requires_grad),
                               allow_unused_input)
    cuda.synchronize()

    forwards = []
    for c, args in zip(callables, sample_args):
        fwd = CUDAGraph()
        with graph(fwd, pool=mempool):
            outputs, rebuild = _flatten(c(*args))
        forwards.append((fwd, outputs, rebuild))

    graphed = [None] * len(callables)
    for i in reversed(range(len(callables))):  # backward graphs in the order backward runs
        fwd, outputs, rebuild = forwards[i]
        grad_outputs = tuple(empty_like(o) if o.requires_grad else None for o in outputs)
        bwd = None
        if any(o.requires_grad for o in outputs) and any(t.requires_grad for t in surfaces[i]):
            bwd = CUDAGraph()
            with graph(bwd, pool=mempool):
                grad_inputs = _surface_grads(outputs, surfaces[i],
                                             tuple(g for g in grad_outputs if g is not None),
                                             allow_unused_input)
        else:
            grad_inputs = (None,) * len(surfaces[i])
        function = _graphed_function(fwd, bwd, surfaces[i], outputs, grad_outputs, grad_inputs)
        params = surfaces[i][len(sample_args[i]):]
        graphed[i] = _apply_graphed(function, params, rebuild)

    results = []
    for c, fn in zip(callables, graphed):
        if isinstance(c, Module):
            c.forward = _graphed_forward(c, fn)
            results.append(c)
        else:
            results.append(fn)
    return results[0] if just_one else tuple(results)


def _apply_graphed(function: type, params: tuple, rebuild) -> Callable:
    """The graphed callable: ``function`` applied to the user's tensors and the parameters,
    its outputs put back in the callable's structure."""

    def graphed(*args):
        out = function.apply(*args, *params)
        return out[0] if rebuild is None else rebuild(out)

    return graphed
