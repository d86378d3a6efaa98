"""PyTorch's pickle dialect: a pickler that names PyTorch's globals, and a restricted unpickler.

# NOTE [ Checkpoint pickles ]
# A checkpoint's ``data.pkl`` refers to tensors through PyTorch's own globals
# (``torch._utils._rebuild_tensor_v2``, ``torch FloatStorage``, ...) and to their bytes through
# persistent ids ``('storage', storage_type, key, location, numel)``; the bytes live in the
# record ``data/<key>``. ember writes those exact names with ``pickle``'s Python pickler (its
# ``save_global`` can be overridden, the C one cannot) and reads them with an unpickler whose
# every opcode that could call or build an arbitrary object is either refused or routed to an
# allow-list of data-only constructors. Nothing a file names is ever imported.
"""
from __future__ import annotations

import argparse
import collections
import copyreg
import functools
import pickle
import sys
import types
from typing import Callable

import numpy as np

from ember import _quantized as _q
from ember import dtypes as _dt
from ember._tensor import Size, Tensor, _make
from ember.backend.device import (
    Device,
    MetaArray,
    array_device,
    get_array_module,
    meta_array,
    to_device,
)
from ember.nn.parameter import Parameter
from ember.storage import TypedStorage, UntypedStorage, array_ptr, root_array, root_bytes


class TorchGlobal:
    """A name in PyTorch's namespace, pickled as ``GLOBAL module name``; never callable."""

    __slots__ = ("module", "name")

    def __init__(self, module: str, name: str):
        self.module = module
        self.name = name

    def __call__(self, *args, **kwargs):
        raise pickle.UnpicklingError(f"ember.load refused to call {self!r}")

    def __repr__(self) -> str:
        return f"{self.module}.{self.name}"


# dtypes PyTorch still writes with a legacy typed storage (``_rebuild_tensor_v2``); the rest
# go through an UntypedStorage and ``_rebuild_tensor_v3``, which names the dtype.
_STORAGE_NAMES = {
    _dt.float64: "DoubleStorage", _dt.float32: "FloatStorage", _dt.float16: "HalfStorage",
    _dt.bfloat16: "BFloat16Storage", _dt.int64: "LongStorage", _dt.int32: "IntStorage",
    _dt.int16: "ShortStorage", _dt.int8: "CharStorage", _dt.uint8: "ByteStorage",
    _dt.bool: "BoolStorage", _dt.complex64: "ComplexFloatStorage",
    _dt.complex128: "ComplexDoubleStorage", _dt.qint8: "QInt8Storage",
    _dt.quint8: "QUInt8Storage", _dt.qint32: "QInt32Storage", _dt.quint4x2: "QUInt4x2Storage"}
_STORAGE_TYPES = {name: TorchGlobal("torch", name) for name in _STORAGE_NAMES.values()}
_STORAGE_DTYPES = {name: d for d, name in _STORAGE_NAMES.items()}
_UNTYPED = TorchGlobal("torch.storage", "UntypedStorage")
_REBUILD_V2 = TorchGlobal("torch._utils", "_rebuild_tensor_v2")
_REBUILD_V3 = TorchGlobal("torch._utils", "_rebuild_tensor_v3")
_REBUILD_META = TorchGlobal("torch._utils", "_rebuild_meta_tensor_no_storage")
_REBUILD_PARAMETER = TorchGlobal("torch._utils", "_rebuild_parameter")
_REBUILD_PARAMETER_STATE = TorchGlobal("torch._utils", "_rebuild_parameter_with_state")
_REBUILD_FROM_TYPE = TorchGlobal("torch._tensor", "_rebuild_from_type_v2")
_REBUILD_QTENSOR = TorchGlobal("torch._utils", "_rebuild_qtensor")
_TENSOR = TorchGlobal("torch", "Tensor")
_PARAMETER = TorchGlobal("torch.nn.parameter", "Parameter")
_SIZE = TorchGlobal("torch", "Size")
_DEVICE = TorchGlobal("torch", "device")


# ----------------------------------------------------------------------------------------------
# Saving


class _Storage:
    """One storage being saved: the root array owning the memory, its key, dtype and location."""

    __slots__ = ("key", "root", "dtype", "location")

    def __init__(self, key: str, root, dtype):
        self.key = key
        self.root = root
        self.dtype = dtype  # None for a storage saved untyped
        device = array_device(root)
        self.location = "cpu" if device.type == "cpu" else f"cuda:{device.index or 0}"

    def host_bytes(self):
        """The storage's bytes on the host as a flat uint8 array."""
        return root_bytes(to_device(self.root, Device("cpu")))


class _StorageRef:
    """A reference to a ``_Storage`` as one dtype; the pickler turns it into a persistent id."""

    __slots__ = ("storage", "dtype", "legacy")

    def __init__(self, storage: _Storage, dtype, legacy: bool):
        self.storage = storage
        self.dtype = dtype
        self.legacy = legacy

    def persistent_id(self) -> tuple:
        s = self.storage
        if self.dtype is None:
            pid = ("storage", _UNTYPED, s.key, s.location, s.root.nbytes)
        else:
            pid = ("storage", _STORAGE_TYPES[_STORAGE_NAMES[self.dtype]], s.key, s.location,
                   s.root.nbytes // self.dtype.itemsize)
        return pid + (None,) if self.legacy else pid


class StorageTable:
    """The storages of the objects being saved, each stored once however many tensors view it."""

    def __init__(self, legacy: bool = False):
        self.storages: list[_Storage] = []
        self._by_root: dict[int, _Storage] = {}
        self._legacy = legacy

    def _storage(self, root, dtype) -> _Storage:
        s = self._by_root.get(id(root))
        if s is None:
            s = _Storage(str(len(self.storages)), root, dtype)
            self.storages.append(s)
            self._by_root[id(root)] = s
        elif dtype is not None and s.dtype is not None and s.dtype is not dtype:
            raise RuntimeError("Cannot save multiple tensors or storages that view the same data "
                               f"as different types ({s.dtype} and {dtype})")
        elif s.dtype is None:
            s.dtype = dtype
        return s

    def untyped(self, storage: UntypedStorage) -> _StorageRef:
        root = root_array(storage._array)
        return _StorageRef(self._storage(root, None), None, self._legacy)

    def tensor(self, t: Tensor) -> tuple:
        """(storage reference, storage offset, size, stride) of a tensor, as PyTorch writes them."""
        x = t._data
        item = x.itemsize
        root = root_array(x)
        ok = root.flags.c_contiguous or root.flags.f_contiguous
        stride = []
        for n, s in zip(x.shape, x.strides):
            if s % item or (s < 0 and n > 1):
                ok = False
            stride.append(s // item if s >= 0 and s % item == 0 else 1)
        offset = array_ptr(x) - array_ptr(root) if ok else -1
        if not (0 <= offset and offset % item == 0 and root.nbytes % item == 0):
            # negative strides or a storage that is not one block: save a compact copy
            root = get_array_module(x).ascontiguousarray(x)
            offset = 0
            stride = [s // item for s in root.strides]
        dtype = t.dtype
        if self._legacy and dtype not in _STORAGE_NAMES:
            raise RuntimeError(f"the legacy checkpoint format cannot store {dtype} tensors; "
                               "save with _use_new_zipfile_serialization=True")
        storage = self._storage(root, dtype)
        ref = _StorageRef(storage, None if dtype not in _STORAGE_NAMES else dtype, self._legacy)
        return ref, offset // item, tuple(x.shape), tuple(stride)


class _PlainTensor:
    """A Parameter's data, pickled as a plain tensor inside ``_rebuild_parameter``."""

    __slots__ = ("tensor",)

    def __init__(self, tensor: Tensor):
        self.tensor = tensor


class TorchPickler(pickle._Pickler):
    """Pickles ember objects under PyTorch's names, tensors' bytes into ``table``."""

    # functions go through ``save_global`` below too (the base table holds its own)
    dispatch = {**pickle._Pickler.dispatch,
                types.FunctionType: lambda self, obj: self.save_global(obj)}

    def __init__(self, file, protocol: int, table: StorageTable):
        super().__init__(file, protocol)
        self._table = table

    def persistent_id(self, obj):
        cls = obj.__class__
        if cls is _StorageRef:
            return obj.persistent_id()
        if cls is UntypedStorage:
            return self._table.untyped(obj).persistent_id()
        if cls is TypedStorage:
            ref = self._table.untyped(obj.untyped())
            dtype = obj.dtype if obj.dtype in _STORAGE_NAMES else None
            return _StorageRef(ref.storage, dtype, ref.legacy).persistent_id()
        return None

    def reducer_override(self, obj):
        cls = obj.__class__
        if cls is TorchGlobal or cls is _dt.dtype or cls is _q.qscheme:
            return obj.name  # a bare name sends the object to save_global below
        if cls is _PlainTensor:
            return self._reduce_tensor(obj.tensor, False, plain=True)
        if isinstance(obj, Tensor):
            return self._reduce_tensor(obj, obj.requires_grad)
        if cls is Size:
            return (_SIZE, (tuple(obj),))
        if cls is Device:
            return (_DEVICE, (obj.type,) if obj.index is None else (obj.type, obj.index))
        return NotImplemented

    def _reduce_tensor(self, t: Tensor, requires_grad: bool, plain: bool = False):
        hooks = collections.OrderedDict()
        if t.is_quantized:  # integers plus the quantizer, as PyTorch's _rebuild_qtensor takes
            ref, offset, size, stride = self._table.tensor(t)
            return (_REBUILD_QTENSOR, (ref, offset, size, stride, _q.quantizer_params(t),
                                       requires_grad, hooks))
        state = dict(t.__dict__) if type(t) in (Tensor, Parameter) and not plain else None
        if isinstance(t, Parameter) and not plain:
            if state:
                return (_REBUILD_PARAMETER_STATE, (_PlainTensor(t), t.requires_grad, hooks, state))
            return (_REBUILD_PARAMETER, (_PlainTensor(t), t.requires_grad, hooks))
        if t._data.__class__ is MetaArray:  # no storage to write: dtype, size and stride only
            rebuild, args = _REBUILD_META, (t.dtype, tuple(t.shape), t.stride(), requires_grad)
            if state:
                return (_REBUILD_FROM_TYPE, (rebuild, _TENSOR, args, state))
            return (rebuild, args)
        ref, offset, size, stride = self._table.tensor(t)
        if ref.dtype is None:
            rebuild, args = _REBUILD_V3, (ref, offset, size, stride, requires_grad, hooks,
                                          t.dtype)
        else:
            rebuild, args = _REBUILD_V2, (ref, offset, size, stride, requires_grad, hooks)
        if state:
            return (_REBUILD_FROM_TYPE, (rebuild, _TENSOR, args, state))
        return (rebuild, args)

    def save_global(self, obj, name=None):
        cls = obj.__class__
        if cls is TorchGlobal:
            module, name = obj.module, obj.name
        elif cls is _dt.dtype or cls is _q.qscheme:
            module, name = "torch", obj.name
        else:
            module = _pytorch_home(obj)
            if module is None or name is not None:
                return super().save_global(obj, name)
            name = obj.__name__
        self.write(pickle.GLOBAL + f"{module}\n{name}\n".encode())
        self.memoize(obj)


# ember's modules under the names of the PyTorch packages they stand for: a whole pickled model
# names its classes as PyTorch's modules hold them (``torch.nn.BatchNorm2d``: ember's module
# files are not all PyTorch's), so that PyTorch loads it; loading maps the names back
# (``ember_module``).
@functools.cache
def _packages() -> tuple:
    """(ember's module, PyTorch's package): the alias table of ``python -m ember.compat``
    (imported on first use: loading it costs ``import ember`` time), deepest module first."""
    from ember.compat import ALIASES
    return tuple(sorted(((ours, theirs) for theirs, ours in ALIASES.items()),
                        key=lambda pair: -pair[0].count(".")))
_PUBLIC = ("ember.nn", "ember.nn.functional", "ember.optim")


def _pytorch_home(obj) -> str | None:
    """The PyTorch module to name ember's class or function ``obj`` by: a public namespace
    that holds it, else its own module's counterpart; None for objects not ember's."""
    module = pytorch_module(getattr(obj, "__module__", None) or "")
    if module is None or "." in obj.__qualname__:
        return None
    for namespace in _PUBLIC:
        if getattr(sys.modules.get(namespace), obj.__name__, None) is obj:
            return pytorch_module(namespace)
    return module


def pytorch_module(module: str) -> str | None:
    """PyTorch's name for ember's module ``module`` (None for a module not ember's)."""
    for ours, theirs in _packages():
        if module == ours or module.startswith(ours + "."):
            return theirs + module[len(ours):]
    return None


def ember_module(module: str) -> str:
    """ember's module for PyTorch's ``module`` (``module`` itself if not PyTorch's)."""
    for ours, theirs in _packages():
        if module == theirs or module.startswith(theirs + "."):
            return ours + module[len(theirs):]
    return module


# ----------------------------------------------------------------------------------------------
# Loading


def _refuse(what: str):
    raise pickle.UnpicklingError(
        f"ember.load refused {what}: checkpoints may only hold tensors, numbers, strings and "
        "containers of them (ember never runs code from a file)")


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise pickle.UnpicklingError(f"ember.load: malformed checkpoint ({what})")


def _is_int(x) -> bool:
    return type(x) is int


def _safe_ordered_dict(items=()):
    _check(isinstance(items, (list, tuple)), "OrderedDict of a non-list")
    return collections.OrderedDict(items)


def _safe_counter(counts=None):
    # Counter pickles as Counter(dict) (an LR scheduler's milestones)
    _check(counts is None or type(counts) is dict, "Counter of a non-dict")
    return collections.Counter(counts)


def _safe_set(items=()):
    _check(type(items) in (list, tuple), "set of a non-list")
    return set(items)


def _safe_frozenset(items=()):
    _check(type(items) in (list, tuple), "frozenset of a non-list")
    return frozenset(items)


def _safe_complex(real=0.0, imag=0.0):
    _check(type(real) in (int, float) and type(imag) in (int, float), "complex of non-numbers")
    return complex(real, imag)


def _safe_slice(*args):
    _check(len(args) <= 3 and all(a is None or _is_int(a) for a in args), "bad slice")
    return slice(*args)


def _safe_encode(text, encoding="utf-8"):
    # protocol 2 writes bytes as _codecs.encode(str, "latin1")
    _check(type(text) is str and encoding in ("latin1", "latin-1", "utf-8"), "bad bytes")
    return text.encode(encoding)


def _safe_size(dims=()):
    _check(type(dims) in (list, tuple) and all(_is_int(d) for d in dims), "bad torch.Size")
    return Size(dims)


def _safe_device(type, index=None):  # noqa: A002 - PyTorch's argument name
    _check(isinstance(type, str) and (index is None or _is_int(index)), "bad torch.device")
    try:
        return Device(type, index)
    except RuntimeError as e:
        raise pickle.UnpicklingError(f"ember.load: {e}") from None


_CONTAINERS = {
    ("collections", "OrderedDict"): _safe_ordered_dict, ("collections", "Counter"): _safe_counter,
    ("builtins", "set"): _safe_set, ("builtins", "frozenset"): _safe_frozenset,
    ("builtins", "complex"): _safe_complex, ("builtins", "slice"): _safe_slice,
    ("_codecs", "encode"): _safe_encode,
    ("torch", "Size"): _safe_size, ("torch", "device"): _safe_device,
    ("torch", "Tensor"): _TENSOR, ("torch.nn.parameter", "Parameter"): _PARAMETER,
    ("torch.nn", "Parameter"): _PARAMETER,
    ("torch.storage", "UntypedStorage"): _UNTYPED, ("torch", "UntypedStorage"): _UNTYPED,
}
_REBUILDERS = {"_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_meta_tensor_no_storage",
               "_rebuild_parameter", "_rebuild_parameter_with_state", "_rebuild_qtensor"}

# Globals the program trusts beyond the data-only set (``ember.serialization.add_safe_globals``):
# callables or ``(callable, "module.qualname")`` pairs, as PyTorch keeps them. A file may name
# these, call them and build instances of these classes; the file still chooses nothing else.
marked_safe_globals: set = set()


def user_allowed_globals() -> dict:
    """The marked globals by the full name a pickle gives them: ``module.qualname``, or the name
    given with the global."""
    named = {}
    for entry in marked_safe_globals:
        if isinstance(entry, tuple):
            if len(entry) != 2:
                raise ValueError("Expected tuple of length 2 (global, str of callable full "
                                 f"path), but got tuple of length: {len(entry)}")
            if type(entry[1]) is not str:
                raise TypeError("Expected second item in tuple to be str of callable full "
                                f"path, but got: {type(entry[1])}")
            named[entry[1]] = entry[0]
        else:
            named[f"{entry.__module__}.{entry.__qualname__}"] = entry
    return named


def _is_user_allowed(obj) -> bool:
    return any(obj is allowed for allowed in user_allowed_globals().values())


def _strided_view(flat, offset: int, size: tuple, strides: tuple):
    """A strided view of a flat array whose ``.base`` chain leads back to it."""
    if flat.__class__ is MetaArray:  # no data to view (``map_location="meta"``)
        return meta_array(size, flat.dtype)
    if isinstance(flat, np.ndarray):
        # unlike as_strided, whose base is a stand-in object, so storage_offset() would be lost
        return np.ndarray(size, flat.dtype, buffer=flat, offset=offset * flat.itemsize,
                          strides=strides)
    return get_array_module(flat).lib.stride_tricks.as_strided(flat[offset:], size, strides)


def _set_state(obj, state) -> None:
    """Attributes PyTorch saved on a tensor (``t.__dict__``); never ones its class defines."""
    if type(state) is tuple and len(state) == 2 and state[1] is None:
        state = state[0]
    _check(state is None or type(state) is dict, "tensor state is not a dict")
    for key in state or ():
        _check(type(key) is str, "tensor state key is not a string")
        if hasattr(type(obj), key):
            _refuse(f"to set attribute '{key}' of a {type(obj).__name__}")
    obj.__dict__.update(state or {})


def _set_allowed_state(inst, state) -> None:
    """BUILD on an instance of a marked class: its ``__setstate__``, else pickle's default
    (the ``__dict__`` part, then the ``__slots__`` part)."""
    setstate = getattr(inst, "__setstate__", None)
    if setstate is not None:
        setstate(state)
        return
    slots = None
    if isinstance(state, tuple) and len(state) == 2:
        state, slots = state
    if state:
        inst.__dict__.update(state)
    for key, value in (slots or {}).items():
        setattr(inst, key, value)


class SafeUnpickler(pickle._Unpickler):
    """Rebuilds only data: see NOTE [ Checkpoint pickles ].

    Args:
        file: the pickle stream.
        load_storage: ``(storage_type, key, location, nbytes) -> UntypedStorage`` for a
            persistent id (called once per key; results are cached here).
        encoding: how to decode Python 2 strings (PyTorch's default is utf-8).
    """

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file, load_storage: Callable, encoding: str = "utf-8"):
        super().__init__(file, encoding=encoding)
        self._load_storage = load_storage
        self._storages: dict[str, UntypedStorage] = {}
        self._swapped: set = set()
        self.byteswap = False

    def load(self):
        try:
            return super().load()
        finally:
            # the memo holds this unpickler's bound rebuild methods: left filled, that cycle
            # would keep every loaded tensor alive after its last use, until the cyclic GC ran
            self.memo.clear()
            self._storages.clear()

    def find_class(self, module: str, name: str):
        module = {"__builtin__": "builtins"}.get(module, module)
        found = _CONTAINERS.get((module, name))
        if found is not None:
            return found
        if module == "torch._utils" and name in _REBUILDERS:
            return getattr(self, name)
        if (module, name) == ("torch._tensor", "_rebuild_from_type_v2"):
            return self._rebuild_from_type_v2
        if module == "torch":
            if name in _STORAGE_TYPES:
                return _STORAGE_TYPES[name]
            if name in _dt._BY_NAME:
                return _dt._BY_NAME[name]
            if name in _q.QSCHEMES:
                return _q.QSCHEMES[name]
        allowed = user_allowed_globals().get(f"{module}.{name}")
        if allowed is not None:
            return allowed
        return self._find_other(module, name)

    def _find_other(self, module: str, name: str):
        _refuse(f"the global '{module}.{name}'")

    def persistent_load(self, pid):
        _check(type(pid) is tuple and len(pid) in (5, 6) and pid[0] == "storage",
               "bad persistent id")
        stype, key, location, numel = pid[1:5]
        _check(stype is _UNTYPED or stype in _STORAGE_TYPES.values(), "bad storage type")
        _check(type(key) is str and type(location) is str and _is_int(numel) and numel >= 0,
               "bad storage key, location or size")
        _check(len(pid) == 5 or pid[5] is None, "storage views are not supported")
        dtype = None if stype is _UNTYPED else _STORAGE_DTYPES[stype.name]
        nbytes = numel * (1 if dtype is None else dtype.itemsize)
        storage = self._storages.get(key)
        if storage is None:
            storage = self._load_storage(key, location, nbytes)
            self._storages[key] = storage
        elif storage.nbytes() != nbytes:
            raise pickle.UnpicklingError(f"ember.load: storage '{key}' is declared with two "
                                         "different sizes")
        return storage if dtype is None else TypedStorage(wrap_storage=storage, dtype=dtype)

    # -- opcodes that could build arbitrary objects ---------------------------------------------

    def _load_build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        if type(inst) is collections.OrderedDict and type(state) is dict:
            # a state_dict's ``_metadata`` attribute
            _check(all(type(k) is str for k in state), "non-string attribute name")
            inst.__dict__.update(state)
            return
        if _is_user_allowed(type(inst)):
            _set_allowed_state(inst, state)
            return
        _refuse(f"to set the state of a {type(inst).__name__}")

    def _load_newobj(self):
        args = self.stack.pop()
        cls = self.stack.pop()
        if cls in (_safe_ordered_dict, _safe_set, _safe_frozenset, _safe_complex):
            self.append(cls(*args))
            return
        if _is_user_allowed(cls):
            self.append(cls.__new__(cls, *args))
            return
        _refuse(f"to construct {cls!r}")

    def _load_forbidden(self):
        _refuse("an opcode that instantiates classes (INST/OBJ/EXT/NEWOBJ_EX)")

    dispatch[pickle.BUILD[0]] = _load_build
    dispatch[pickle.NEWOBJ[0]] = _load_newobj
    for _op in (pickle.INST, pickle.OBJ, pickle.EXT1, pickle.EXT2, pickle.EXT4,
                pickle.NEWOBJ_EX):
        dispatch[_op[0]] = _load_forbidden
    del _op

    # -- PyTorch's rebuild functions -----------------------------------------------------------

    def _typed(self, storage: UntypedStorage, dtype):
        """The storage's elements as a flat array of ``dtype`` (byte-swapped once if needed)."""
        raw = storage._array
        _check(raw.size % dtype.itemsize == 0, f"storage of {raw.size} bytes holds no whole "
               f"number of {dtype} elements")
        flat = raw.view(dtype.np_dtype)
        if self.byteswap and id(storage) not in self._swapped and dtype.itemsize > 1:
            self._swapped.add(id(storage))
            flat.byteswap(inplace=True)
        return flat

    def _tensor(self, storage, dtype, offset, size, stride, requires_grad) -> Tensor:
        _check(type(size) in (tuple, list, Size) and type(stride) in (tuple, list),
               "size and stride must be tuples")
        size, stride = tuple(size), tuple(stride)
        _check(len(size) == len(stride) and all(_is_int(s) and s >= 0 for s in size + stride)
               and _is_int(offset) and offset >= 0, f"bad size {size}, stride {stride} or "
               f"offset {offset}")
        _check(type(requires_grad) is bool, "requires_grad is not a bool")
        flat = self._typed(storage, dtype)
        numel = 1
        for s in size:
            numel *= s
        last = offset + sum((n - 1) * st for n, st in zip(size, stride)) if numel else offset - 1
        if last >= flat.size:
            raise pickle.UnpicklingError(
                f"ember.load: tensor of size {size}, stride {stride} and offset {offset} reaches "
                f"past its storage of {flat.size} elements")
        contiguous, expect = True, 1
        for n, st in zip(reversed(size), reversed(stride)):
            contiguous = contiguous and (n == 1 or st == expect)
            expect *= n
        if contiguous:
            array = flat[offset:offset + numel].reshape(size)
        else:
            array = _strided_view(flat, offset, size, tuple(s * dtype.itemsize for s in stride))
        t = _make(array)
        if requires_grad:
            _check(dtype.is_floating_point or dtype.is_complex, "integer tensor requires grad")
            t.requires_grad = True
        return t

    def _rebuild_tensor_v2(self, storage, storage_offset, size, stride, requires_grad,
                           backward_hooks, metadata=None):
        _check(isinstance(storage, TypedStorage), "_rebuild_tensor_v2 of a non-storage")
        return self._tensor(storage.untyped(), storage.dtype, storage_offset, size, stride,
                            requires_grad)

    def _rebuild_tensor_v3(self, storage, storage_offset, size, stride, requires_grad,
                           backward_hooks, dtype, metadata=None):
        _check(isinstance(storage, UntypedStorage) and dtype.__class__ is _dt.dtype,
               "_rebuild_tensor_v3 of a non-storage")
        return self._tensor(storage, dtype, storage_offset, size, stride, requires_grad)

    def _rebuild_meta_tensor_no_storage(self, dtype, size, stride, requires_grad):
        """A meta tensor, saved without storage; it stays meta whatever ``map_location`` says,
        as in PyTorch (there are no values to move)."""
        _check(dtype.__class__ is _dt.dtype and type(size) in (tuple, list, Size)
               and all(_is_int(n) and n >= 0 for n in size) and type(requires_grad) is bool,
               "bad meta tensor")
        t = _make(meta_array(tuple(size), dtype.np_dtype))
        if requires_grad:
            _check(dtype.is_floating_point or dtype.is_complex, "integer tensor requires grad")
            t.requires_grad = True
        return t

    def _rebuild_qtensor(self, storage, storage_offset, size, stride, quantizer_params,
                         requires_grad, backward_hooks):
        _check(isinstance(storage, TypedStorage) and storage.dtype in _q.QUANTIZED_DTYPES,
               "_rebuild_qtensor of a non-quantized storage")
        t = self._tensor(storage.untyped(), storage.dtype, storage_offset, size, stride, False)
        return _q.from_quantizer_params(t._data, storage.dtype, quantizer_params)

    def _rebuild_parameter(self, data, requires_grad, backward_hooks):
        _check(isinstance(data, Tensor) and type(requires_grad) is bool, "bad Parameter")
        return Parameter(data, requires_grad)

    def _rebuild_parameter_with_state(self, data, requires_grad, backward_hooks, state):
        param = self._rebuild_parameter(data, requires_grad, backward_hooks)
        _set_state(param, state)
        return param

    def _rebuild_from_type_v2(self, func, new_type, args, state):
        _check(getattr(func, "__self__", None) is self
               and func.__name__ in ("_rebuild_tensor_v2", "_rebuild_tensor_v3",
                                     "_rebuild_meta_tensor_no_storage"),
               "_rebuild_from_type_v2 of an unknown function")
        _check(new_type in (_TENSOR, _PARAMETER) and type(args) is tuple,
               "_rebuild_from_type_v2 of an unknown type")
        t = func(*args)
        if new_type is _PARAMETER:
            t = Parameter(t, t.requires_grad)
        _set_state(t, state)
        return t


class FullUnpickler(SafeUnpickler):
    """Also rebuilds whole pickled models (``torch.save(model)``), for
    ``load(weights_only=False)``, still without running code the file chooses: beyond the safe
    set it accepts only NumPy arrays, ``nn.Module`` and Tensor subclasses, pruning methods,
    distribution constraints (a Pyro param store saves each parameter's), the attribute bags
    ``argparse.Namespace`` / ``types.SimpleNamespace`` and their subclasses (a training
    script's saved ``args``, a model's config) and the plain-object machinery that rebuilds
    them, from modules the program has ALREADY imported. Nothing is imported, and no function
    named by the file is called. ``torch.*`` and ``torchvision.*`` names resolve to ember's
    modules (see ``ember_module``).
    """

    dispatch = dict(pickle._Unpickler.dispatch)

    def _find_other(self, module: str, name: str):
        if (module, name) in _OBJECT_MACHINERY:
            return _OBJECT_MACHINERY[(module, name)]
        if (module, name) in _NUMPY_ARRAYS:
            return _NUMPY_ARRAYS[(module, name)]
        if (module, name) in _PLAIN_RECORDS:
            return _PLAIN_RECORDS[(module, name)]
        module = ember_module(module)
        loaded = sys.modules.get(module)
        found = getattr(loaded, name, None) if loaded is not None else None
        if isinstance(found, type) and issubclass(found, _safe_class_bases()):
            return found
        if module == "ember.nn.functional" and callable(found):
            return found  # a layer's activation (TransformerEncoderLayer.activation = F.relu)
        if loaded is None:
            _refuse(f"the global '{module}.{name}' (its module is not imported: import the "
                    "module that defines the model class before loading)")
        _refuse(f"the global '{module}.{name}' (only nn.Module and Tensor subclasses are "
                "rebuilt)")


# copyreg's helpers rebuild plain objects through object.__new__ and __setstate__/__dict__.
_OBJECT_MACHINERY = {("copyreg", "_reconstructor"): copyreg._reconstructor,
                     ("copy_reg", "_reconstructor"): copyreg._reconstructor,
                     ("builtins", "object"): object,
                     ("__builtin__", "object"): object}

# Attribute bags that training scripts save beside the weights (the ``args`` of a checkpoint):
# building one runs no code of the file's choosing, only the bag's own attribute setting.
_PLAIN_RECORDS = {("argparse", "Namespace"): argparse.Namespace,
                  ("types", "SimpleNamespace"): types.SimpleNamespace}

# NumPy arrays and scalars, as ``torch.load(weights_only=False)`` rebuilds them: NumPy's own
# reconstructors only allocate (an ndarray subclass is required) and take their contents from
# the same restricted stream, so they run no code the file chooses.
_NUMPY_ARRAYS = {(prefix + "multiarray", name): found
                 for prefix in ("numpy.core.", "numpy._core.")
                 for name, found in (("_reconstruct", np._core.multiarray._reconstruct),
                                     ("scalar", np._core.multiarray.scalar))}
_NUMPY_ARRAYS.update({("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype})


def _safe_class_bases() -> tuple:
    from ember.distributions.constraints import Constraint
    from ember.nn import Module
    from ember.nn.utils.prune import BasePruningMethod  # a pruned module's forward pre-hook
    # an attribute bag's subclass (ultralytics' IterableSimpleNamespace, a model's ``args``)
    # only adds methods to read the bag
    return (Module, Tensor, BasePruningMethod, Constraint, argparse.Namespace,
            types.SimpleNamespace)
