"""The zip container of PyTorch checkpoints: stored (uncompressed) records, data 64-byte aligned.

Writing is done here rather than with ``zipfile`` so that each record's data starts on a
64-byte boundary (PyTorch pads the local header's extra field, so ``mmap`` views are aligned)
and so that a stream needs no seeking. Reading parses the central directory with ``zipfile``
but takes record data straight from the file, after checking every size and offset against
the file's length: a hostile archive can make ember raise, never allocate more than the file.

Every record's CRC-32 is checked as it is read (PyTorch checks none), so a bit flip in a
checkpoint raises instead of loading wrong weights. To keep that check from costing time, the
CRC is zlib-ng's (SIMD), and a large record of a file on disk is read in segments by several
threads at once, each reading and checksumming its own part (``os.preadv`` and the CRC
release the GIL), and the segments' CRCs are combined.
"""
from __future__ import annotations

import os
import struct
import zipfile
from concurrent.futures import ThreadPoolExecutor

# zlib-ng: zlib's API with a ~4x faster (SIMD) CRC-32, and crc32_combine, which Python's zlib
# lacks
from zlib_ng.zlib_ng import crc32, crc32_combine

ALIGNMENT = 64
_U32 = 0xFFFFFFFF
_DOS_DATE = (1 << 5) | 1  # 1980-01-01: zip has no earlier date, and a fixed one keeps builds
# reproducible
_PAD_ID = 0x4246  # "FB", the extra-field id PyTorch pads with
_CHUNK = 1 << 18  # fits in L2 cache, so checksumming a chunk just copied reads no RAM
_SEGMENT_MIN = 1 << 22  # smaller records are read by one thread, saving the hand-offs
_THREADS = min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else os.cpu_count() or 1)


class ZipWriter:
    """Appends stored records to a binary stream, then the central directory on ``close``."""

    def __init__(self, fp, prefix: str):
        self._fp = fp
        self._prefix = prefix
        self._pos = 0
        self._entries = []  # (name, crc, size, header offset)
        seekable = getattr(fp, "seekable", None)
        self._start = fp.tell() if seekable is not None and seekable() else None

    def _write(self, data) -> None:
        self._fp.write(data)
        self._pos += len(data) if isinstance(data, bytes) else data.nbytes

    def write_record(self, name: str, data) -> None:
        """Write ``data`` (bytes or a flat uint8 array) as ``<prefix>/<name>``."""
        fname = (self._prefix + "/" + name).encode()
        view = memoryview(data).cast("B")
        size = view.nbytes
        # A seekable file gets the CRC-32 patched into the header after the data, computed
        # chunk by chunk while each chunk is in cache (a third faster than a separate pass).
        patch = self._start is not None and size > _CHUNK
        crc = 0 if patch else crc32(view)
        offset = self._pos
        zip64 = size >= _U32
        extra = struct.pack("<HHQQ", 1, 16, size, size) if zip64 else b""
        fixed = 30 + len(fname) + len(extra) + 4
        pad = -(offset + fixed) % ALIGNMENT
        extra += struct.pack("<HH", _PAD_ID, pad) + b"Z" * pad
        header = struct.pack("<IHHHHHIIIHH", 0x04034B50, 45 if zip64 else 20, 0, 0, 0,
                             _DOS_DATE, crc, _U32 if zip64 else size,
                             _U32 if zip64 else size, len(fname), len(extra))
        self._write(header + fname + extra)
        if patch:
            for at in range(0, size, _CHUNK):
                chunk = view[at:at + _CHUNK]
                crc = crc32(chunk, crc)
                self._fp.write(chunk)
            self._pos += size
            self._fp.seek(self._start + offset + 14)
            self._fp.write(struct.pack("<I", crc))
            self._fp.seek(self._start + self._pos)
        else:
            self._write(view)
        self._entries.append((fname, crc, size, offset))

    def close(self) -> None:
        """Write the central directory and the end records (zip64 ones when needed)."""
        cd_start = self._pos
        for fname, crc, size, offset in self._entries:
            zip64 = size >= _U32 or offset >= _U32
            extra = struct.pack("<HHQQQ", 1, 24, size, size, offset) if zip64 else b""
            small = _U32 if zip64 else None
            self._write(struct.pack(
                "<IHHHHHHIIIHHHHHII", 0x02014B50, 45 if zip64 else 20, 45 if zip64 else 20, 0,
                0, 0, _DOS_DATE, crc, small or size, small or size, len(fname), len(extra), 0,
                0, 0, 0, small or offset) + fname + extra)
        cd_size = self._pos - cd_start
        count = len(self._entries)
        if count >= 0xFFFF or cd_start >= _U32 or cd_size >= _U32:
            eocd64 = self._pos
            self._write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count,
                                    cd_size, cd_start))
            self._write(struct.pack("<IIQI", 0x07064B50, 0, eocd64, 1))
            self._write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, _U32, _U32,
                                    0))
        else:
            self._write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, cd_size,
                                    cd_start, 0))


class ZipReader:
    """Validated access to the stored records of a zip archive in a seekable binary file.

    ``fd``, the OS file descriptor of ``fp`` when ``fp`` is a plain file, lets large records
    be read by several threads; call ``close`` (or use ``with``) to stop them.
    """

    def __init__(self, fp, file_size: int, fd: int | None = None):
        self._fp = fp
        self.file_size = file_size
        self._fd = fd if hasattr(os, "preadv") else None
        self._pool = None
        try:
            with zipfile.ZipFile(fp) as zf:
                infos = zf.infolist()
        except Exception as e:  # BadZipFile, struct.error, UnicodeDecodeError of a name, ...
            raise RuntimeError(f"ember.load: not a valid zip checkpoint ({e})") from e
        self._infos = {}
        for info in infos:
            self._infos.setdefault(info.filename, info)
        self.names = list(self._infos)

    def __enter__(self) -> "ZipReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def locate(self, name: str) -> tuple[int, int, int]:
        """(data offset, size, crc32) of a record, checked to lie inside the file."""
        info = self._infos.get(name)
        if info is None:
            raise RuntimeError(f"ember.load: the checkpoint has no record '{name}'")
        if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 1:
            raise RuntimeError(f"ember.load: record '{name}' is compressed or encrypted; "
                               "checkpoints store records uncompressed")
        if info.compress_size != info.file_size:
            raise RuntimeError(f"ember.load: record '{name}' declares {info.file_size} bytes "
                               f"but stores {info.compress_size}")
        if not 0 <= info.header_offset <= self.file_size - 30:
            raise RuntimeError(f"ember.load: record '{name}' starts past the end of the file")
        self._fp.seek(info.header_offset)
        header = self._fp.read(30)
        if len(header) != 30 or header[:4] != b"PK\x03\x04":
            raise RuntimeError(f"ember.load: record '{name}' has a corrupt local header")
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        start = info.header_offset + 30 + name_len + extra_len
        if start + info.file_size > self.file_size:
            raise RuntimeError(f"ember.load: record '{name}' ({info.file_size} bytes at offset "
                               f"{start}) runs past the end of the {self.file_size}-byte file")
        return start, info.file_size, info.CRC

    def read(self, name: str, check_crc: bool = True) -> bytes:
        """A small record's bytes."""
        start, size, crc = self.locate(name)
        self._fp.seek(start)
        data = self._fp.read(size)
        if len(data) != size:
            raise RuntimeError(f"ember.load: record '{name}' is truncated")
        if check_crc and crc32(data) != crc:
            raise RuntimeError(f"ember.load: record '{name}' is corrupt (CRC-32 mismatch)")
        return data

    def readinto(self, name: str, buffer) -> None:
        """Read a record into a writable buffer of exactly its size and check its CRC-32."""
        start, size, expected = self.locate(name)
        view = memoryview(buffer).cast("B")
        if view.nbytes != size:
            raise ValueError(f"readinto: buffer of {view.nbytes} bytes for a {size}-byte record")
        parts = min(_THREADS, size // _SEGMENT_MIN) if self._fd is not None else 1
        if parts > 1:
            crc = self._read_segments(name, view, start, parts)
        else:
            self._fp.seek(start)
            crc = 0
            for at in range(0, size, _CHUNK):
                chunk = view[at:at + _CHUNK]
                read_exactly(self._fp, chunk, f"record '{name}'")
                crc = crc32(chunk, crc)
        if crc != expected:
            raise RuntimeError(f"ember.load: record '{name}' is corrupt (CRC-32 mismatch)")

    def _read_segments(self, name: str, view, start: int, parts: int) -> int:
        """Read ``parts`` consecutive segments of a record at once, one per thread (this one
        included), and return the record's CRC-32."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(_THREADS - 1, thread_name_prefix="ember.load")
        size = view.nbytes
        bounds = [size * i // parts // _CHUNK * _CHUNK for i in range(parts)] + [size]
        futures = [self._pool.submit(self._read_segment, name, view[a:b], start + a)
                   for a, b in zip(bounds[1:-1], bounds[2:])]
        try:
            crc = self._read_segment(name, view[:bounds[1]], start)
        finally:  # never leave a thread writing into a buffer the caller may drop
            for future in futures:
                future.exception()
        for future, a, b in zip(futures, bounds[1:-1], bounds[2:]):
            crc = crc32_combine(crc, future.result(), b - a)
        return crc

    def _read_segment(self, name: str, view, offset: int) -> int:
        """Positional reads (no shared file position), each chunk checksummed while cached."""
        crc = 0
        for at in range(0, view.nbytes, _CHUNK):
            chunk = view[at:at + _CHUNK]
            got = 0
            while got < chunk.nbytes:
                n = os.preadv(self._fd, [chunk[got:]], offset + at + got)
                if not n:
                    raise RuntimeError(f"ember.load: record '{name}' is truncated")
                got += n
            crc = crc32(chunk, crc)
        return crc


def read_exactly(fp, buffer, what: str) -> None:
    """Fill ``buffer`` from ``fp``; raw files may return short reads, so loop."""
    view = memoryview(buffer).cast("B")
    got = 0
    while got < view.nbytes:
        n = fp.readinto(view[got:])
        if not n:
            raise RuntimeError(f"ember.load: {what} is truncated")
        got += n
