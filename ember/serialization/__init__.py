"""``ember.save`` / ``ember.load``: PyTorch's checkpoint format, loaded safely, written atomically.

Files go both ways: ``ember.save`` writes PyTorch's zip format (``archive/data.pkl`` plus one
64-byte-aligned stored record per storage), which ``torch.load(weights_only=True)`` reads, and
``ember.load`` reads what ``torch.save`` writes, including the legacy non-zip format. Loading
never runs code the file chooses (see NOTE [ Checkpoint pickles ] in ``_pickle.py``); with
``weights_only=False`` whole pickled models load too, but only as instances of nn.Module
classes the program has already imported. Saving to a
path writes a temporary file in the same directory, fsyncs it and renames it over the target,
so an interrupted save leaves the previous file intact.

``save_safetensors`` / ``load_safetensors`` and ``save_npz`` / ``load_npz`` read and write
dicts of tensors in those formats.
"""
from __future__ import annotations

import contextlib
import io
import mmap as _mmap
import os
import pickle
import secrets
import struct
import sys
import warnings
from typing import IO, Any, BinaryIO, Callable, Union

import numpy as np

from ember.backend.device import Device
from ember.serialization import _pickle
from ember.serialization._pickle import (
    FullUnpickler,
    SafeUnpickler,
    StorageTable,
    TorchPickler,
)
from ember.serialization._zip import ZipReader, ZipWriter, read_exactly
from ember.storage import UntypedStorage

FILE_LIKE = Union[str, os.PathLike, BinaryIO, IO[bytes]]
MAP_LOCATION = Union[None, str, Device, dict, Callable]

DEFAULT_PROTOCOL = 2  # torch.serialization.DEFAULT_PROTOCOL: save's pickle protocol
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_MAPPED_MIN = 1 << 22  # NumPy requests huge pages for arrays from 4 MB
_POPULATE = getattr(_mmap, "MAP_POPULATE", None)  # Linux only


# ----------------------------------------------------------------------------------------------
# Files


@contextlib.contextmanager
def atomic_write(path):
    """A binary file that replaces ``path`` only once it is completely written and on disk.

    The data goes to a temporary file beside the target (same file system, so the final
    ``os.replace`` is atomic); on any error, or if the process dies, the target is untouched.
    """
    target = os.path.realpath(os.fspath(path))  # write through a symlink, as open() would
    directory, name = os.path.split(target)
    tmp = os.path.join(directory, f".{name}.{secrets.token_hex(6)}.tmp")
    # 0o666 lets the umask decide the permissions, like a plain open(path, "wb")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with open(fd, "wb") as fp:
            yield fp
            fp.flush()
            os.fsync(fp.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable (POSIX only)
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _is_path(f) -> bool:
    return isinstance(f, (str, os.PathLike))


@contextlib.contextmanager
def _writable(f):
    if _is_path(f):
        with atomic_write(f) as fp:
            yield fp
    else:
        if not hasattr(f, "write"):
            raise AttributeError(f"expected 'f' to be a path or a binary file object, got "
                                 f"{type(f).__name__}")
        yield f


@contextlib.contextmanager
def _readable(f):
    if _is_path(f):
        with open(f, "rb") as fp:
            yield fp
    else:
        if not hasattr(f, "read"):
            raise AttributeError(f"expected 'f' to be a path or a binary file object, got "
                                 f"{type(f).__name__}")
        seekable = getattr(f, "seekable", None)
        yield f if seekable is not None and seekable() else io.BytesIO(f.read())


# ----------------------------------------------------------------------------------------------
# Saving


def save(obj: Any, f: FILE_LIKE, pickle_module: Any = pickle,
         pickle_protocol: int = DEFAULT_PROTOCOL,
         _use_new_zipfile_serialization: bool = True,
         _disable_byteorder_record: bool = False) -> None:
    """Save an object (tensors, state_dicts, nested containers) in PyTorch's checkpoint format.

    Args:
        obj: what to save. Tensors and Parameters are stored by storage (views sharing memory
            are stored once); other objects are pickled. Only tensors, numbers, strings and
            containers can be loaded back (by ``ember.load`` or ``torch.load(weights_only=True)``).
        f: a path (written atomically) or a writable binary file object.
        pickle_module: must be ``pickle`` (accepted for PyTorch compatibility).
        pickle_protocol: the pickle protocol of ``data.pkl`` (PyTorch's default 2).
        _use_new_zipfile_serialization: False writes PyTorch's legacy non-zip format.

    Example::

        >>> ember.save({"w": ember.ones(2, 3)}, "/tmp/ckpt.pt")
        >>> ember.load("/tmp/ckpt.pt")["w"].shape
        torch.Size([2, 3])
    """
    if pickle_module is not pickle:
        raise ValueError("ember.save: pickle_module must be the standard pickle module")
    if pickle_protocol < 1:
        raise ValueError("ember.save: pickle_protocol must be at least 1 (protocol 0 cannot "
                         "hold PyTorch's persistent ids)")
    with _writable(f) as fp:
        if _use_new_zipfile_serialization:
            _save_zip(obj, fp, pickle_protocol, not _disable_byteorder_record)
        else:
            _save_legacy(obj, fp, pickle_protocol)


def _save_zip(obj, fp, protocol: int, byteorder: bool) -> None:
    table = StorageTable()
    buf = io.BytesIO()
    TorchPickler(buf, protocol, table).dump(obj)
    writer = ZipWriter(fp, "archive")
    writer.write_record("data.pkl", buf.getvalue())
    writer.write_record(".format_version", b"1")
    writer.write_record(".storage_alignment", b"64")
    if byteorder:
        writer.write_record("byteorder", sys.byteorder.encode())
    for storage in table.storages:
        writer.write_record(f"data/{storage.key}", storage.host_bytes())
    writer.write_record("version", b"3\n")
    writer.close()


def _save_legacy(obj, fp, protocol: int) -> None:
    pickle.dump(_LEGACY_MAGIC, fp, protocol=protocol)
    pickle.dump(_LEGACY_PROTOCOL, fp, protocol=protocol)
    pickle.dump({"protocol_version": _LEGACY_PROTOCOL, "little_endian": sys.byteorder == "little",
                 "type_sizes": {"short": 2, "int": 4, "long": 4}}, fp, protocol=protocol)
    table = StorageTable(legacy=True)
    TorchPickler(fp, protocol, table).dump(obj)
    pickle.dump([s.key for s in table.storages], fp, protocol=protocol)
    for storage in table.storages:
        item = 1 if storage.dtype is None else storage.dtype.itemsize
        data = storage.host_bytes()
        fp.write(struct.pack("<q", data.nbytes // item))
        fp.write(memoryview(data))


# ----------------------------------------------------------------------------------------------
# Loading


def _default_restore(storage: UntypedStorage, location) -> UntypedStorage:
    try:
        device = Device(str(location))
    except RuntimeError:
        raise RuntimeError(f"don't know how to restore data location {location!r}") from None
    if device.type == "cuda":
        from ember import cuda
        if not cuda.is_available():
            raise RuntimeError(
                "Attempting to deserialize object on a CUDA device but torch.cuda.is_available() "
                "is False. If you are running on a CPU-only machine, please use torch.load with "
                "map_location=torch.device('cpu') to map your storages to the CPU.")
        if (device.index or 0) >= cuda.device_count():
            raise RuntimeError(f"Attempting to deserialize object on CUDA device {device.index} "
                               f"but torch.cuda.device_count() is {cuda.device_count()}")
    return storage.to(device=device)  # "meta" keeps shapes and dtypes, no data


def _restore_function(map_location: MAP_LOCATION) -> Callable:
    """``(storage, location) -> storage`` for each form of ``map_location``."""
    if map_location is None:
        return _default_restore
    if isinstance(map_location, dict):
        return lambda s, loc: _default_restore(s, map_location.get(loc, loc))
    if isinstance(map_location, (str, Device)):
        return lambda s, loc: _default_restore(s, map_location)
    if callable(map_location):
        def restore(storage, location):
            result = map_location(storage, location)
            if result is None:
                return _default_restore(storage, location)
            if not isinstance(result, UntypedStorage):
                raise TypeError("map_location must return a storage or None, got "
                                f"{type(result).__name__}")
            return result
        return restore
    raise TypeError(f"map_location must be a device, a string, a dict or a callable, got "
                    f"{type(map_location).__name__}")


def load(f: FILE_LIKE, map_location: MAP_LOCATION = None, pickle_module: Any = None, *,
         weights_only: bool | None = None, mmap: bool | None = None,
         **pickle_load_args: Any) -> Any:
    """Load an object saved by ``ember.save`` or ``torch.save``.

    By default (``weights_only`` None or True, PyTorch's default since 2.6) no code from the
    file runs: only tensors, Parameters, numbers, strings, bytes, lists, tuples, dicts,
    OrderedDicts, sets and PyTorch's dtypes, devices and sizes are rebuilt; anything else raises
    ``pickle.UnpicklingError`` naming what was refused. ``weights_only=False`` also rebuilds a
    model saved whole with ``save(model, f)``: instances of nn.Module (and Tensor) subclasses
    from modules already imported, ``torch.*`` names resolved to ``ember.*``; nothing is
    imported and no function the file names is called.

    Args:
        f: a path or a readable binary file object.
        map_location: where storages go: a device or string (all storages), a dict remapping
            saved locations (``{"cuda:1": "cuda:0"}``), or ``fn(storage, location)`` returning
            a storage (or None for the default). Default: where they were saved.
        weights_only: False to also rebuild whole nn.Module objects (see above). The
            environment variables ``TORCH_FORCE_WEIGHTS_ONLY_LOAD`` and
            ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` override it as they do PyTorch's.
        mmap: map the file's storages into memory instead of reading them (zip format only;
            the tensors are copy-on-write views of the file).
        pickle_load_args: ``encoding`` for Python 2 strings in old files.

    Example::

        >>> ember.save([ember.arange(3)], "/tmp/ckpt.pt")
        >>> ember.load("/tmp/ckpt.pt", map_location="cpu")
        [tensor([0, 1, 2])]
    """
    if pickle_module not in (None, pickle):
        raise ValueError("ember.load: pickle_module must be None or the standard pickle module")
    encoding = pickle_load_args.pop("encoding", "utf-8")
    if pickle_load_args:
        raise TypeError(f"ember.load got unexpected arguments {sorted(pickle_load_args)}")
    full = _weights_only_from_environment(weights_only) is False
    return _load_checkpoint(f, map_location, full, bool(mmap), encoding)


def _load_checkpoint(f: FILE_LIKE, map_location: MAP_LOCATION, full: bool, mmap: bool = False,
                     encoding: str = "utf-8") -> Any:
    """``load`` without its argument checks and environment switches: ``full`` is
    ``weights_only=False``. For ember's own readers (``jit.load``), which PyTorch's switches do
    not govern."""
    restore = _restore_function(map_location)
    with _readable(f) as fp:
        start = fp.tell()
        magic = fp.read(8)
        fp.seek(start)
        unpickler_cls = FullUnpickler if full else SafeUnpickler
        if magic[:4] == b"PK\x03\x04":
            return _load_zip(fp, restore, mmap, encoding, unpickler_cls)
        if mmap:
            raise RuntimeError("mmap can only be used with files saved with "
                               "`torch.save(_use_new_zipfile_serialization=True)`")
        if magic[:2] == b"\x80\x02" or magic[:2] == b"\x80\x01":
            return _load_legacy(fp, restore, encoding, unpickler_cls)
        if len(magic) == 8 and magic[7:8] == b"\x00" and _looks_like_safetensors(fp):
            raise RuntimeError("ember.load: this is a safetensors file; use "
                               "ember.serialization.load_safetensors")
        raise pickle.UnpicklingError("ember.load: not a checkpoint (no zip or pickle header)")


def _env_flag(name: str) -> bool:
    return os.getenv(name, "0").lower() in ("1", "y", "yes", "true")


def _weights_only_from_environment(weights_only: bool | None) -> bool | None:
    """PyTorch's switches, read on every call: ``TORCH_FORCE_WEIGHTS_ONLY_LOAD`` makes every
    load safe; ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` turns the default (not an explicit
    ``weights_only=True``) into ``weights_only=False``, with a warning."""
    force_safe = _env_flag("TORCH_FORCE_WEIGHTS_ONLY_LOAD")
    force_full = _env_flag("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD")
    if force_safe and force_full:
        raise RuntimeError("Only one of `TORCH_FORCE_WEIGHTS_ONLY_LOAD` or "
                           "`TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD` should be set, but both were set.")
    if force_safe:
        return True
    if force_full and weights_only is None:
        warnings.warn("Environment variable TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD detected: "
                      "`weights_only` was not passed to `load`, so weights_only=False.",
                      UserWarning, stacklevel=4)  # the caller of ember.load
        return False
    return weights_only


def _looks_like_safetensors(fp) -> bool:
    start = fp.tell()
    head = fp.read(10)
    fp.seek(start)
    return len(head) == 10 and head[8:10] == b'{"'


def _unpickle(unpickler: SafeUnpickler):
    """Run an unpickler, turning any failure of a malformed stream into UnpicklingError."""
    try:
        return unpickler.load()
    except (pickle.UnpicklingError, RuntimeError):
        raise
    except Exception as e:  # EOFError, KeyError (bad opcode), ValueError, MemoryError, ...
        raise pickle.UnpicklingError(
            f"ember.load: corrupt pickle data ({type(e).__name__}: {e})") from e


def _file_descriptor(fp) -> int | None:
    """The OS file under ``fp`` if ``fp`` is a plain ``open()`` file, whose positions are that
    file's (a wrapper such as ``gzip.GzipFile`` also has a ``fileno``, of other bytes)."""
    raw = fp.raw if isinstance(fp, (io.BufferedReader, io.BufferedRandom)) else fp
    return raw.fileno() if isinstance(raw, io.FileIO) else None


def _fresh_bytes(size: int):
    """A flat uint8 array for a storage's bytes, about to be written once in full.

    On Linux a large one is mapped straight from the OS with its pages populated in one call
    (~45% less time than faulting them in one by one) and without NumPy's request for huge
    pages: on a VM whose host reclaims free guest memory, faulting in fresh huge pages measured
    2-5x slower than small ones and made load times erratic (0.2-2.5 s for 500 MB).
    """
    if size < _MAPPED_MIN or _POPULATE is None:
        return np.empty(size, np.uint8)
    flags = _mmap.MAP_PRIVATE | _mmap.MAP_ANONYMOUS | _POPULATE
    return np.frombuffer(_mmap.mmap(-1, size, flags=flags), np.uint8)


def _load_zip(fp, restore: Callable, use_mmap: bool, encoding: str, unpickler_cls: type):
    start = fp.tell()
    file_size = fp.seek(0, os.SEEK_END)
    fp.seek(start)
    with ZipReader(fp, file_size, _file_descriptor(fp)) as reader:
        pkl = [n for n in reader.names if n.endswith("/data.pkl") and n.count("/") == 1]
        if not pkl:
            if any(n.endswith(".npy") for n in reader.names):
                raise RuntimeError("ember.load: this is an .npz file; use "
                                   "ember.serialization.load_npz")
            raise RuntimeError("ember.load: the zip archive has no data.pkl; not a checkpoint")
        prefix = pkl[0][:-len("data.pkl")]
        byteorder = b"little"
        if prefix + "byteorder" in reader.names:
            byteorder = reader.read(prefix + "byteorder")
            if byteorder not in (b"little", b"big"):
                raise RuntimeError(f"ember.load: unknown byteorder {byteorder[:16]!r}")
        mapped = None
        if use_mmap:
            try:
                fileno = fp.fileno()
            except (AttributeError, OSError) as e:  # io.UnsupportedOperation is an OSError
                raise RuntimeError("ember.load: mmap=True needs a file on disk, not an in-memory "
                                   "file object") from e
            mapped = _mmap.mmap(fileno, 0, access=_mmap.ACCESS_COPY)

        loaded = 0  # bytes of all storages so far: records that overlap could repeat the
        # file's bytes any number of times, a zip bomb without compression

        def load_storage(key: str, location: str, nbytes: int) -> UntypedStorage:
            nonlocal loaded
            name = f"{prefix}data/{key}"
            offset, size, _ = reader.locate(name)
            if size != nbytes:
                raise RuntimeError(f"ember.load: storage '{key}' declares {nbytes} bytes but its "
                                   f"record '{name}' holds {size}")
            loaded += size
            if loaded > file_size:
                raise RuntimeError(f"ember.load: the storages' records overlap (together they "
                                   f"hold more than the {file_size}-byte file)")
            if mapped is not None:  # no CRC check: it would read the whole file
                array = np.frombuffer(mapped, np.uint8, size, offset)
            else:
                array = _fresh_bytes(size)
                reader.readinto(name, array)
            return restore(UntypedStorage._wrap(array), location)

        unpickler = unpickler_cls(io.BytesIO(reader.read(prefix + "data.pkl")), load_storage,
                                  encoding)
        unpickler.byteswap = byteorder.decode() != sys.byteorder
        return _unpickle(unpickler)


class _Bounded:
    """A file whose reads stop at its end: a pickle may declare any length, and a buffered
    file would allocate all of it before finding out the data is not there."""

    def __init__(self, fp, end: int):
        self._fp = fp
        self._end = end

    def read(self, n: int = -1) -> bytes:
        left = self._end - self._fp.tell()
        return self._fp.read(left if n is None or n < 0 else min(n, left))

    def readline(self) -> bytes:
        return self._fp.readline()


def _load_legacy(fp, restore: Callable, encoding: str, unpickler_cls: type):
    start = fp.tell()
    end = fp.seek(0, os.SEEK_END)
    file_size = end - start
    fp.seek(start)
    bounded = _Bounded(fp, end)
    pending = {}  # key -> (storage, nbytes, location), filled after the main pickle

    def no_storage(*args):
        raise pickle.UnpicklingError("ember.load: storage reference in a legacy header")

    def header():
        return _unpickle(SafeUnpickler(bounded, no_storage, encoding))

    if header() != _LEGACY_MAGIC:
        raise pickle.UnpicklingError("ember.load: not a checkpoint (bad legacy magic number)")
    if header() != _LEGACY_PROTOCOL:
        raise RuntimeError("ember.load: unsupported legacy checkpoint protocol")
    sys_info = header()
    if not isinstance(sys_info, dict):
        raise pickle.UnpicklingError("ember.load: corrupt legacy header")

    def load_storage(key: str, location: str, nbytes: int) -> UntypedStorage:
        if nbytes > file_size:  # the data comes later: check before allocating
            raise RuntimeError(f"ember.load: storage '{key}' declares {nbytes} bytes, more than "
                               f"the {file_size}-byte file")
        storage = UntypedStorage._wrap(_fresh_bytes(nbytes))
        pending[key] = (storage, location)
        return storage

    unpickler = unpickler_cls(bounded, load_storage, encoding)
    unpickler.byteswap = sys_info.get("little_endian", True) != (sys.byteorder == "little")
    result = _unpickle(unpickler)
    keys = header()
    if not isinstance(keys, list) or set(keys) != set(pending):
        raise pickle.UnpicklingError("ember.load: legacy storage keys do not match the data")
    for key in keys:
        storage, location = pending[key]
        count = fp.read(8)
        if len(count) != 8:
            raise RuntimeError("ember.load: legacy checkpoint is truncated")
        (numel,) = struct.unpack("<q", count)
        nbytes = storage.nbytes()
        if numel <= 0 and nbytes or numel > 0 and nbytes % numel:
            raise RuntimeError(f"ember.load: storage '{key}' has a bad element count {numel}")
        read_exactly(fp, storage._array, f"storage '{key}'")
        # tensors already view these CPU bytes, so a restore may not move them
        if restore(storage, location) is not storage:
            raise NotImplementedError("ember.load: legacy-format checkpoints load on the CPU; "
                                      "pass map_location='cpu' and move the tensors after")
    return result


# ----------------------------------------------------------------------------------------------
# Globals trusted by weights-only loading


def add_safe_globals(safe_globals: list) -> None:
    """Mark globals as safe for ``load(weights_only=True)``: a file may then name these
    functions and classes, call them and set the state of instances of them. Each entry is a
    function or class, found in a file by ``{__module__}.{__qualname__}``, or a pair
    ``(global, "full.path")`` naming it as the file does."""
    _pickle.marked_safe_globals.update(safe_globals)


def get_safe_globals() -> list:
    """The globals marked by ``add_safe_globals`` (in no particular order)."""
    return list(_pickle.marked_safe_globals)


def clear_safe_globals() -> None:
    """Unmark every global ``add_safe_globals`` marked."""
    _pickle.marked_safe_globals.clear()


class safe_globals:  # noqa: N801 - PyTorch's name
    """``with safe_globals([...]):`` marks the globals safe inside the block only."""

    def __init__(self, safe_globals: list):
        self.safe_globals = safe_globals

    def __enter__(self) -> None:
        add_safe_globals(self.safe_globals)

    def __exit__(self, *exc) -> None:
        _pickle.marked_safe_globals.difference_update(self.safe_globals)


from ember.serialization._formats import load_npz, load_safetensors, save_npz, save_safetensors  # noqa: E402

__all__ = ["DEFAULT_PROTOCOL", "save", "load", "save_safetensors", "load_safetensors", "save_npz",
           "load_npz", "atomic_write", "add_safe_globals", "get_safe_globals", "clear_safe_globals",
           "safe_globals"]
