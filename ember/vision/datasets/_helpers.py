"""torchvision.datasets.utils helpers that ember's utils.py lacks (argument checks, listings),
and the MAT-file reader that SVHN and Flowers102 share.

NOTE: ember.vision.datasets.utils should re-export these names (torchvision has them there).
"""
from __future__ import annotations

import os
from typing import Iterable


def iterable_to_str(iterable: Iterable) -> str:
    """``'a', 'b', 'c'``: the items quoted and comma-separated, as error messages show them."""
    return "'" + "', '".join(str(item) for item in iterable) + "'"


def verify_str_arg(value: str, arg: str | None = None, valid_values: Iterable | None = None,
                   custom_msg: str | None = None) -> str:
    """Return ``value`` if it is a string among ``valid_values`` (any string when None).

    Raises:
        ValueError: ``value`` is not a string, or not one of ``valid_values``.
    """
    if not isinstance(value, str):
        where = "" if arg is None else f" for argument {arg}"
        raise ValueError(f"Expected type str{where}, but got type {type(value)}.")
    if valid_values is None or value in valid_values:
        return value
    raise ValueError(custom_msg or f"Unknown value '{value}' for argument {arg}. Valid values "
                     f"are {{{iterable_to_str(valid_values)}}}.")


def list_dir(root: str, prefix: bool = False) -> list:
    """The folder names directly inside ``root`` (joined to ``root`` if ``prefix``), sorted so
    that class indices built from them do not depend on the file system's order."""
    root = os.path.expanduser(root)
    names = sorted(e.name for e in os.scandir(root) if e.is_dir())
    return [os.path.join(root, n) for n in names] if prefix else names


def list_files(root: str, suffix: str | tuple, prefix: bool = False) -> list:
    """The sorted file names directly inside ``root`` ending with ``suffix``."""
    root = os.path.expanduser(root)
    names = sorted(e.name for e in os.scandir(root) if e.is_file() and e.name.endswith(suffix))
    return [os.path.join(root, n) for n in names] if prefix else names


def load_mat(path: str, squeeze_me: bool = False) -> dict:
    """The variables of a MATLAB v5 file (plain arrays: loading it runs nothing).

    Raises:
        RuntimeError: the file is truncated, corrupt, or not MAT v4/v5 (v7.3 is HDF5).
    """
    import scipy.io
    try:
        return scipy.io.loadmat(path, squeeze_me=squeeze_me)
    except (scipy.io.matlab.MatReadError, ValueError, TypeError, IndexError, OSError,
            NotImplementedError) as e:  # scipy's parser raises all of these on bad bytes
        raise RuntimeError(f"{path} is corrupt or not a MAT v5 file: {e}") from e


def open_image(path: str):
    """The image file at ``path`` as a PIL image of its own mode (as ``Image.open`` gives it),
    read in full so that a truncated or corrupt file fails here, naming the file."""
    from PIL import Image, UnidentifiedImageError
    try:
        with open(path, "rb") as f:
            img = Image.open(f)
            img.load()
            return img
    except (UnidentifiedImageError, OSError) as e:
        raise RuntimeError(f"{path}: cannot read the image (corrupt or truncated): {e}") from e
