"""``ember.hub``: torch.hub's cache folder, downloads and checkpoints by URL, and the ``tqdm``
that PyTorch code imports from it (``from torch.hub import tqdm``).

``load``, ``list`` and ``help`` fetch a GitHub repository and run its ``hubconf.py``; ember never
runs code that a download chooses, so they raise and say so.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import urllib.request
from urllib.parse import urlparse

__all__ = ["download_url_to_file", "get_dir", "help", "list", "load",
           "load_state_dict_from_url", "set_dir"]

_hub_dir: str | None = None
# A file name's hash prefix, as in resnet18-f37072fd.pth (torch.hub's convention).
HASH_REGEX = re.compile(r"-([a-f0-9]*)\.")


def get_dir() -> str:
    """Where downloads are cached: ``set_dir``'s folder, else ``$TORCH_HOME/hub``, else
    ``$XDG_CACHE_HOME/torch/hub`` (``~/.cache/torch/hub``), shared with PyTorch."""
    if _hub_dir is not None:
        return _hub_dir
    cache = os.getenv("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    home = os.getenv("TORCH_HOME", os.path.join(cache, "torch"))
    return os.path.join(os.path.expanduser(home), "hub")


def set_dir(d) -> None:
    global _hub_dir
    _hub_dir = os.path.expanduser(os.fspath(d))


def download_url_to_file(url: str, dst: str, hash_prefix: str | None = None,
                         progress: bool = True) -> None:
    """Download ``url`` to ``dst`` atomically (a temporary file, renamed when complete).

    Raises:
        RuntimeError: the file's SHA-256 does not start with ``hash_prefix``.
    """
    dst = os.path.expanduser(os.fspath(dst))
    folder = os.path.dirname(os.path.abspath(dst))
    os.makedirs(folder, exist_ok=True)
    sha256 = hashlib.sha256()
    request = urllib.request.Request(url, headers={"User-Agent": "ember"})
    with tempfile.NamedTemporaryFile(delete=False, dir=folder, suffix=".partial") as tmp:
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                total = response.headers.get("Content-Length")
                bar = _progress(int(total) if total else None, progress)
                while chunk := response.read(1 << 16):
                    tmp.write(chunk)
                    sha256.update(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
                if bar is not None:
                    bar.close()
            tmp.close()
            digest = sha256.hexdigest()
            if hash_prefix is not None and not digest.startswith(hash_prefix):
                raise RuntimeError(f'invalid hash value (expected "{hash_prefix}", got '
                                   f'"{digest}") for {url}')
            shutil.move(tmp.name, dst)
        finally:
            if os.path.exists(tmp.name):
                os.remove(tmp.name)


def _progress(total: int | None, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is optional: no bar then
        return None
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024)


def load_state_dict_from_url(url: str, model_dir: str | None = None, map_location=None,
                             progress: bool = True, check_hash: bool = False,
                             file_name: str | None = None, weights_only: bool = False):
    """``ember.load`` of the checkpoint at ``url``, downloaded once into ``model_dir``
    (default ``get_dir()/checkpoints``). With ``check_hash``, the file name's ``-<hex>.``
    part must prefix the file's SHA-256."""
    from ember.serialization import load
    model_dir = model_dir or os.path.join(get_dir(), "checkpoints")
    os.makedirs(model_dir, exist_ok=True)
    filename = file_name or os.path.basename(urlparse(url).path)
    cached = os.path.join(model_dir, filename)
    if not os.path.exists(cached):
        match = HASH_REGEX.search(filename) if check_hash else None
        download_url_to_file(url, cached, match.group(1) if match else None, progress)
    return load(cached, map_location=map_location, weights_only=weights_only)


def _runs_repository_code(name: str):
    def refuse(*args, **kwargs):
        raise RuntimeError(f"ember.hub.{name} would run a repository's hubconf.py, and ember "
                           "does not run downloaded code; build the model in your code and "
                           "load its weights with ember.hub.load_state_dict_from_url")
    refuse.__name__ = name
    return refuse


load = _runs_repository_code("load")
list = _runs_repository_code("list")  # noqa: A001 - torch.hub's name
help = _runs_repository_code("help")  # noqa: A001 - torch.hub's name


def __getattr__(name: str):
    if name == "tqdm":  # ``from torch.hub import tqdm``; tqdm is an optional dependency
        from tqdm import tqdm
        return tqdm
    raise AttributeError(f"module 'ember.hub' has no attribute '{name}'")
