"""Many ``fused.update``s as a few CUDA launches, like PyTorch's ``foreach`` kernels.

An optimizer step runs one fused update per parameter. On a GPU each is a launch costing
microseconds of Python and driver work, more than the update itself for all but large
parameters. ``prepare_updates`` groups the updates that run the same statements over the same
operand dtypes with equal scalars (an optimizer's learning rate, momentum, bias corrections:
equal across a parameter group at one step) and runs each group as one ``cupy.RawKernel``.

The kernel is generated from ``fused.cuda_source``'s per-element operation, the code that the
per-tensor ``ElementwiseKernel`` runs, bound to the same names and types and compiled with the
same (CuPy's default) options, so every element gets the same arithmetic, bit for bit. Its
argument is a table of rows, one per thread block: a row holds the count of values the block
updates (at most ``CHUNK``) and, for each array operand, the address of its first value; a
tensor spans as many rows as it has chunks (PyTorch's ``multi_tensor_apply`` walks such
chunks too). The table reaches the GPU in one copy per launch.

Only updates whose array operands are C-contiguous CuPy arrays of one shape, on the current
device, of float16/32/64 or bool, qualify; the others, and groups of one, run the per-tensor
kernel, as do all updates while the current stream captures a CUDA graph. An update that reads
or writes an array that an earlier update of the pending groups writes (the same parameter
listed twice) waits for those groups' launches, so the updates run as if one after another.

On the CPU the cost is the same in kind: a small parameter's update is a handful of ufunc calls
of a microsecond each, plus the binding of its kernel. ``prepare_host_updates`` groups small
NumPy updates the same way, gathers each array operand of a group into one flat array
(``np.concatenate``, in C), runs the update once over the flat arrays and copies the assigned
ones back: the same ufuncs on the same values, so the same results. Large arrays are left alone
(gathering them would double their memory traffic).
"""
from __future__ import annotations

import functools
import math
import operator
from typing import Callable

import numpy as np

from ember.backend import fused

__all__ = ["CHUNK", "HOST_SMALL", "THREADS", "chunk_table", "multi_tensor_source",
           "prepare_host_updates", "prepare_updates"]

CHUNK = 1 << 14  # values per thread block: 10M values make ~600 blocks, all resident at once
THREADS = 256
# NumPy updates of at most this many values are gathered: measured, gathering saves 20-40% of
# an SGD or Adam step at 256 to 1024 values, breaks even at 2048 and loses above.
HOST_SMALL = 1 << 10

_CTYPES = {"float16": "float16", "float32": "float", "float64": "double", "bool": "bool"}

# CuPy's ElementwiseKernel spells a half value ``float16``: read through ``(float) x``, written
# as ``float16(v)``. Here it is 16 bits converted in registers (round to nearest even, as
# CuPy's ``__half`` does), which needs no CUDA header.
_HALF = """\
struct float16 {
    unsigned short bits;
    __device__ float16(float v) { asm("cvt.rn.f16.f32 %0, %1;" : "=h"(bits) : "f"(v)); }
    __device__ operator float() const {
        float f;
        asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(bits));
        return f;
    }
};
"""


@functools.lru_cache(maxsize=None)
def multi_tensor_source(statements: str, **dtypes: str | None) -> str:
    """The CUDA code of the kernel ``ember_multi_fused`` that runs ``fused.update``'s
    ``statements`` over many tensors: its arguments are the table of rows (``long long``: the
    count of values, then each array operand's address, in the order the statements first name
    them) and the scalars (``x_<name>``, in the compute dtype, in that order). A pure function.

    Args:
        statements: what ``fused.update`` takes.
        dtypes: each operand's NumPy dtype name (float16/32/64 or bool), or None for a scalar.

    Example::

        >>> "ember_multi_fused" in multi_tensor_source("p = p * s", p="float32", s=None)
        True
    """
    program = fused._parse(statements)
    if program.statements[0][0] == fused._RESULT:
        raise ValueError(f"multi-tensor kernels run statements, not an expression: "
                         f"{statements!r}")
    operation, preamble = fused.cuda_source(statements, **dtypes)[2:]
    compute = fused._CTYPES[fused._compute_dtype([dtypes[n] for n in program.names]).name]
    if any(dtypes[n] not in (None, *_CTYPES) for n in program.names):
        raise TypeError(f"multi-tensor kernels take float16/32/64 and bool arrays: {dtypes}")
    if compute == "double" and "float16" in dtypes.values():
        raise TypeError("multi-tensor kernels do not mix float16 with float64")
    targets = fused._targets(program)
    arrays = [n for n in program.names if dtypes[n] is not None]
    scalars = "".join(f", const {compute} x_{n}" for n in program.names if dtypes[n] is None)
    lines = [f"extern \"C\" __global__ void ember_multi_fused(const long long* ember_table"
             f"{scalars}) {{",
             f"    const long long* ember_row = ember_table + (long long)blockIdx.x * "
             f"{len(arrays) + 1};",
             "    const int ember_n = (int)ember_row[0];"]
    for k, n in enumerate(arrays):
        lines.append(f"    {_CTYPES[dtypes[n]]}* ember_a{k} = "
                     f"({_CTYPES[dtypes[n]]}*)ember_row[{k + 1}];")
    lines.append("    for (int ember_i = threadIdx.x; ember_i < ember_n; "
                 "ember_i += blockDim.x) {")
    for k, n in enumerate(arrays):  # bound as the ElementwiseKernel binds them
        const = "" if n in targets else "const "
        lines.append(f"        {const}{_CTYPES[dtypes[n]]} &x_{n} = ember_a{k}[ember_i];")
    lines += ["        " + line for line in operation.split("\n")]
    lines += ["    }", "}", ""]
    half = _HALF if "float16" in dtypes.values() else ""
    return preamble + half + "\n".join(lines)


def chunk_table(sizes: np.ndarray, addresses: np.ndarray, itemsizes: np.ndarray) -> np.ndarray:
    """The kernel's table for tensors of ``sizes`` (T,) whose array operands start at
    ``addresses`` (T, A) and hold values of ``itemsizes`` (A,) bytes: a (blocks, 1 + A) int64
    array, a row per chunk of at most ``CHUNK`` values; empty tensors get no row."""
    counts = -(-sizes // CHUNK)
    tensor = np.repeat(np.arange(len(sizes)), counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    start = (np.arange(len(tensor)) - first) * CHUNK
    table = np.empty((len(tensor), 1 + addresses.shape[1]), np.int64)
    table[:, 0] = np.minimum(sizes[tensor] - start, CHUNK)
    table[:, 1:] = addresses[tensor] + start[:, None] * itemsizes
    return table


def prepare_updates(updates: list) -> list[Callable]:
    """Bind ``fused.update``s of CuPy arrays, ``updates`` a list of ``(statements,
    operands)``, as multi-tensor launches and per-tensor kernels: callables to run in order,
    with the effect of running the updates one after another.

    Example::

        >>> run = prepare_updates([("p = p * s", dict(p=a, s=0.5)),
        ...                        ("p = p * s", dict(p=b, s=0.5))])   # one launch
        >>> for launch in run: launch()
    """
    from ember.backend import cuda

    cp = cuda.cupy()
    if cp.cuda.get_current_stream().is_capturing():
        # A CUDA graph would record the table's copy from host memory that is gone at replay
        return [fused.prepare_update(source, **operands) for source, operands in updates]
    device = cp.cuda.runtime.getDevice()

    def classify(source: str, operands: dict) -> tuple:
        key, addresses, targets, size = _classify(cp, device, source, operands)
        if key is None:
            arrays = [v.data.ptr for v in operands.values() if isinstance(v, cp.ndarray)]
            return None, arrays, arrays, None
        if not size:  # (CuPy gives empty arrays the address 0)
            return key, (), (), (operands, size, addresses)
        return key, addresses, targets, (operands, size, addresses)
    return _grouped(updates, classify, lambda key, members: _launch(key[0], members))


def _grouped(updates: list, classify: Callable, bind: Callable) -> list[Callable]:
    """The grouping both engines share. ``classify(source, operands)`` gives ``(key, arrays,
    targets, member)``: the group's key, or None for an update that runs alone; what identifies
    the arrays the update touches and those it assigns. ``bind(key, members)`` makes a group's
    callables. A group runs where its first member stood, so an update that touches what the
    pending groups write, or writes what they touch, first closes them: the callables have the
    effect of the updates run one after another."""
    out: list = []
    groups: dict = {}  # key: [member], in order of first use
    written: set = set()  # what the pending groups assign
    touched: set = set()  # ... what they read or assign
    for source, operands in updates:
        key, arrays, targets, member = classify(source, operands)
        if not (written.isdisjoint(arrays) and touched.isdisjoint(targets)):
            for pending in groups.items():
                out += bind(*pending)
            groups.clear()
            written.clear()
            touched.clear()
        if key is None:
            out.append(fused.prepare_update(source, **operands))
            continue
        written.update(targets)
        touched.update(arrays)
        members = groups.get(key)
        if members is None:
            members = groups[key] = []
        members.append(member)
    for pending in groups.items():
        out += bind(*pending)
    return out


def _scalar_key(v):
    """A scalar operand in a group's key: its value, a zero with its sign (-0.0 == 0.0)."""
    return v if v or v != v else (v, math.copysign(1.0, v))


@functools.lru_cache(maxsize=None)
def _statements(source: str) -> tuple | None:
    """The operand names of ``source``, and the set of those it assigns; None for an
    expression (``fused.update`` rejects it)."""
    program = fused._parse(source)
    if program.statements[0][0] == fused._RESULT:
        return None
    return program.names, frozenset(fused._targets(program))


_DTYPES = {np.dtype(name): name for name in _CTYPES}  # (dtype.name takes microseconds)
_SCALARS = (int, float, np.generic)


def _classify(cp, device: int, source: str, operands: dict) -> tuple:
    """``(key, addresses, target addresses, size)`` of an update that may join a multi-tensor
    launch, else ``(None, None, None, None)``. The key: the source, then each operand's dtype
    (arrays) or value (scalars; a zero with its sign, as -0.0 == 0.0)."""
    no = None, None, None, None
    parsed = _statements(source)
    if parsed is None:
        return no
    names, targets = parsed
    key = [source]
    addresses = []
    written = []
    shape = None
    ndarray = cp.ndarray
    for n in names:
        v = operands.get(n, operands)  # the operands dict itself stands for a missing name
        if not isinstance(v, ndarray):
            if not isinstance(v, _SCALARS):
                return no
            key.append(_scalar_key(v))
            continue
        if v.dtype not in _DTYPES:
            return no
        if shape is None:
            shape = v.shape
        elif v.shape != shape:
            return no
        data = v.data
        if data.device_id != device or not v.flags.c_contiguous:
            return no
        key.append(v.dtype)
        address = data.ptr
        addresses.append(address)
        if n in targets:
            written.append(address)
    if shape is None:
        return no
    size = math.prod(shape)
    if size and len(set(addresses)) < len(addresses):
        return no  # one array as two operands (ElementwiseKernel copies one)
    return tuple(key), addresses, written, size


def _launch(source: str, members: list) -> list:
    """The launches of a group: one kernel, or per-tensor kernels for a group of one (or of
    dtypes that the multi-tensor kernel does not take)."""
    first = members[0][0]
    names = _statements(source)[0]
    dtypes = tuple((n, None if isinstance(first[n], _SCALARS) else _DTYPES[first[n].dtype])
                   for n in names)
    kernel, cast = _kernel(source, dtypes) if len(members) > 1 else (None, None)
    if kernel is None:
        return [fused.prepare_update(source, **operands) for operands, _, _ in members]
    sizes = np.array([size for _, size, _ in members], np.int64)
    if not sizes.any():
        return []
    from ember.backend import cuda

    itemsizes = np.array([np.dtype(d).itemsize for _, d in dtypes if d is not None], np.int64)
    addresses = np.array([a for _, _, a in members], np.int64)
    table = cuda.cupy().asarray(chunk_table(sizes, addresses, itemsizes))
    scalars = [cast(first[n]) for n, d in dtypes if d is None]
    return [functools.partial(kernel, (len(table),), (THREADS,), (table, *scalars))]


_kernels: dict = {}


def _kernel(source: str, dtypes: tuple) -> tuple:
    """The RawKernel of ``source`` for operands of ``dtypes`` (name, dtype name or None)
    and its scalars' type; (None, None) where the multi-tensor kernel does not apply."""
    entry = _kernels.get((source, dtypes))
    if entry is None:
        from ember.backend import cuda

        try:
            code = multi_tensor_source(source, **dict(dtypes))
        except TypeError:  # the per-tensor kernel runs it, or raises the error
            entry = None, None
        else:
            kernel = cuda.cupy().RawKernel(code, "ember_multi_fused")
            compute = fused._compute_dtype([d for _, d in dtypes]).type
            entry = kernel, compute
        _kernels[source, dtypes] = entry
    return entry


# ----------------------------------------------------------------------------------------------
# NumPy arrays: small updates gathered into flat arrays.

def prepare_host_updates(updates: list) -> list[Callable]:
    """Bind ``fused.update``s of NumPy arrays, ``updates`` a list of ``(statements,
    operands)``: the updates that share statements, operand dtypes and scalars become one
    update over flat copies of their arrays, whose assigned arrays are copied back. Callables to
    run in order, with the effect of running the updates one after another.

    Example::

        >>> run = prepare_host_updates([("p = p * s", dict(p=a, s=0.5)),
        ...                             ("p = p * s", dict(p=b, s=0.5))])   # one update
        >>> for update in run: update()
    """
    def classify(source: str, operands: dict) -> tuple:
        return (*_host_key(source, operands), operands)
    return _grouped(updates, classify, lambda key, members: [_gathered(key[0], members)])


def _host_key(source: str, operands: dict) -> tuple:
    """``(key, ids of the array operands, ids of the assigned ones)``. The key (as
    ``_classify``'s): the source, then each operand's dtype (arrays) or value (scalars; a zero
    with its sign, as -0.0 == 0.0); None where the update runs alone: an expression, a missing
    name, operands other than NumPy arrays and scalars, or arrays of several shapes."""
    values_of, targets_of = _host_plan(source)
    try:
        values = None if values_of is None else values_of(operands)
    except KeyError:  # a missing name: fused.update raises
        values = None
    if values is None:  # (or an expression)
        ids = list(map(id, operands.values()))
        return None, ids, ids
    key = [source]
    ids = []
    shape = None
    for v in values:  # a plain loop: measured faster here than map/itemgetter pipelines
        if v.__class__ is np.ndarray:
            if shape is not None and v.shape != shape:
                ids = list(map(id, operands.values()))
                return None, ids, ids
            shape = v.shape
            key.append(v.dtype)
            ids.append(id(v))
        elif isinstance(v, _SCALARS):
            key.append(_scalar_key(v))
        else:
            ids = list(map(id, operands.values()))
            return None, ids, ids
    if shape is None:
        return None, ids, ids
    return tuple(key), ids, list(map(id, targets_of(values)))


def _getter(positions: list) -> Callable:
    """A callable giving the tuple of the items at ``positions``."""
    if len(positions) == 1:
        i = positions[0]
        return lambda values: (values[i],)
    return operator.itemgetter(*positions)


@functools.lru_cache(maxsize=None)
def _host_plan(source: str) -> tuple:
    """Getters of ``source``'s operands (in order of first use) and of the assigned ones
    among them; (None, None) for an expression."""
    parsed = _statements(source)
    if parsed is None:
        return None, None
    names, targets = parsed
    return _getter(names), _getter([names.index(t) for t in targets])


def _gathered(source: str, members: list) -> Callable:
    """One update for a group: over flat copies of the members' arrays (gathered when it runs,
    after the updates before it), then copied back."""
    if len(members) == 1:
        return fused.prepare_update(source, **members[0])
    names, assigned = _statements(source)
    targets = [n for n in names if n in assigned]
    first = members[0]
    arrays = [n for n in names if first[n].__class__ is np.ndarray]

    def update() -> None:
        flat = dict(first)
        for n in arrays:
            flat[n] = np.concatenate([m[n] for m in members], axis=None)
        fused.update(source, **flat)
        start = 0
        for m in members:
            like = m[targets[0]]  # all of a member's arrays have one shape
            end = start + like.size
            for n in targets:
                m[n][...] = flat[n][start:end].reshape(like.shape)
            start = end

    return update
