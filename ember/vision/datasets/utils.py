"""Downloading, verifying and unpacking data set files (torchvision's helpers)."""
from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import pickle
import shutil
import tarfile
import urllib.error
import zipfile

from ember.vision.datasets._helpers import iterable_to_str, list_dir, list_files, verify_str_arg

__all__ = ["calculate_md5", "check_md5", "check_integrity", "download_url",
           "download_file_from_google_drive",
           "extract_archive", "download_and_extract_archive", "safe_unpickle",
           "iterable_to_str", "list_dir", "list_files", "verify_str_arg"]


def calculate_md5(fpath: str, chunk_size: int = 1024 * 1024) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            md5.update(chunk)
    return md5.hexdigest()


def check_md5(fpath: str, md5: str) -> bool:
    return md5 == calculate_md5(fpath)


def check_integrity(fpath: str, md5: str | None = None) -> bool:
    """Whether ``fpath`` exists and (if ``md5`` is given) has that MD5 sum."""
    if not os.path.isfile(fpath):
        return False
    return md5 is None or check_md5(fpath, md5)


def download_url(url: str, root: str, filename: str | None = None, md5: str | None = None,
                 max_redirect_hops: int = 3) -> None:
    """Download ``url`` to ``root/filename`` unless a file with the right MD5 is there.

    Raises:
        RuntimeError: the downloaded file's MD5 differs from ``md5``.
        urllib.error.URLError: the server cannot be reached.
    """
    root = os.path.expanduser(root)
    filename = filename or os.path.basename(url)
    fpath = os.path.join(root, filename)
    os.makedirs(root, exist_ok=True)
    if check_integrity(fpath, md5):
        print(f"Using downloaded and verified file: {fpath}")
        return
    if os.path.isfile(fpath):
        raise RuntimeError(f"File {fpath} exists but its MD5 is {calculate_md5(fpath)}, "
                           f"not {md5}: it is corrupt or truncated; delete it and retry.")
    print(f"Downloading {url} to {fpath}")
    from ember.hub import download_url_to_file  # atomic: a partial file never appears
    download_url_to_file(url, fpath, progress=False)
    if not check_integrity(fpath, md5):
        raise RuntimeError(f"File not found or corrupted: {fpath} (MD5 mismatch after "
                           "download).")


def download_file_from_google_drive(file_id: str, root: str, filename: str | None = None,
                                    md5: str | None = None) -> None:
    """Download the Google Drive file ``file_id`` to ``root/filename`` (default: the id) with
    gdown, unless a file with the right MD5 is there.

    Raises:
        RuntimeError: gdown is not installed, or the downloaded file's MD5 differs.
    """
    try:
        import gdown
    except ModuleNotFoundError:
        raise RuntimeError("To download files from GDrive, 'gdown' is required. You can "
                           "install it with 'pip install gdown'.") from None
    root = os.path.expanduser(root)
    fpath = os.path.join(root, filename or file_id)
    os.makedirs(root, exist_ok=True)
    if check_integrity(fpath, md5):
        print(f"Using downloaded {'and verified ' if md5 else ''}file: {fpath}")
        return
    gdown.download(id=file_id, output=fpath, quiet=False)
    if not check_integrity(fpath, md5):
        raise RuntimeError(f"The MD5 checksum of the download file {fpath} does not match the "
                           "one on record. Please delete the file and try again.")


_COMPRESSED = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


def extract_archive(from_path: str, to_path: str | None = None,
                    remove_finished: bool = False) -> str:
    """Unpack a .tar(.gz/.bz2/.xz), .tgz, .zip, or a single .gz/.bz2/.xz file; return the
    folder (archives) or the file (single compressed files) written."""
    to_path = to_path or os.path.dirname(from_path)
    os.makedirs(to_path, exist_ok=True)
    name = from_path.lower()
    if name.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz")):
        with tarfile.open(from_path, "r:*") as tar:
            tar.extractall(to_path, filter="data")
        out = to_path
    elif name.endswith(".zip"):
        with zipfile.ZipFile(from_path) as z:
            for member in z.namelist():
                target = os.path.realpath(os.path.join(to_path, member))
                if not target.startswith(os.path.realpath(to_path)):
                    raise RuntimeError(f"{from_path}: member {member} escapes the target folder")
            z.extractall(to_path)
        out = to_path
    else:
        ext = os.path.splitext(name)[1]
        if ext not in _COMPRESSED:
            raise RuntimeError(f"Extraction of {from_path} not supported")
        out = os.path.join(to_path, os.path.splitext(os.path.basename(from_path))[0])
        try:
            with _COMPRESSED[ext](from_path, "rb") as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst)
        except (EOFError, OSError, lzma.LZMAError) as e:
            if os.path.exists(out):
                os.remove(out)
            raise RuntimeError(f"{from_path} is corrupt or truncated: {e}") from e
    if remove_finished:
        os.remove(from_path)
    return out


def download_and_extract_archive(url: str, download_root: str,
                                 extract_root: str | None = None, filename: str | None = None,
                                 md5: str | None = None, remove_finished: bool = False) -> None:
    download_root = os.path.expanduser(download_root)
    filename = filename or os.path.basename(url)
    download_url(url, download_root, filename, md5)
    archive = os.path.join(download_root, filename)
    print(f"Extracting {archive} to {extract_root or download_root}")
    extract_archive(archive, extract_root or download_root, remove_finished)


def download_from_mirrors(mirrors: list, filename: str, raw_folder: str, md5: str) -> None:
    """Try each mirror in turn (a local verified file short-cuts all of them)."""
    errors = []
    for mirror in mirrors:
        url = f"{mirror}{filename}"
        try:
            download_and_extract_archive(url, raw_folder, filename=filename, md5=md5)
            return
        except urllib.error.URLError as e:
            errors.append(f"{url}: {e}")
    raise RuntimeError(f"Error downloading {filename}: no mirror answered "
                       f"({'; '.join(errors)}). Without network access, place the file in "
                       f"{raw_folder}.")


# NumPy's reconstruction functions, the only globals a data-set pickle may name.
_SAFE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _SAFE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: data-set pickles may "
                                     "hold only arrays, lists, dicts, numbers and strings")


def safe_unpickle(fpath: str, encoding: str = "latin1"):
    """Load a data-set pickle (CIFAR batches) without running any code it names."""
    with open(fpath, "rb") as f:
        blob = f.read()
    try:
        return _RestrictedUnpickler(io.BytesIO(blob), encoding=encoding).load()
    except (EOFError, ValueError, pickle.UnpicklingError) as e:
        raise RuntimeError(f"{fpath} is corrupt, truncated or not a data pickle: {e}") from e
