"""``torch.torch_version``: ``TorchVersion``, the version string that compares as a version.

Code written for PyTorch compares ``torch.__version__`` with strings (``>= "2.0"``), tuples
(``>= (1, 10)``) and ``packaging`` versions; a plain string would compare "2.13" below "2.9".
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from packaging.version import InvalidVersion, Version

__all__ = ["TorchVersion"]


class TorchVersion(str):
    """A ``str`` that compares with ``Version``, version strings and tuples of numbers.

    Example::

        >>> TorchVersion("2.13.0") > "2.9"
        True
        >>> TorchVersion("2.13.0") >= (2, 13)
        True
    """

    __slots__ = ()

    @staticmethod
    def _as_version(other: Any) -> Version:
        if isinstance(other, Version):
            return other
        if isinstance(other, str):
            return Version(other)
        if isinstance(other, Iterable):
            return Version(".".join(str(part) for part in other))
        raise InvalidVersion(other)

    def _compare(self, other: Any, method: str) -> bool:
        try:
            return getattr(Version(self), method)(self._as_version(other))
        except InvalidVersion:
            # not a version on one side ("parrot"): compare as the strings they are
            return getattr(str, method)(self, other)

    def __lt__(self, other: Any) -> bool:
        return self._compare(other, "__lt__")

    def __le__(self, other: Any) -> bool:
        return self._compare(other, "__le__")

    def __gt__(self, other: Any) -> bool:
        return self._compare(other, "__gt__")

    def __ge__(self, other: Any) -> bool:
        return self._compare(other, "__ge__")

    def __eq__(self, other: Any) -> bool:
        return self._compare(other, "__eq__")

    __hash__ = str.__hash__
