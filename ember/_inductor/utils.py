"""``torch._inductor.utils``: the cache helpers that benchmarks and recipes enter around a
cold-start measurement. ember compiles nothing, so there is no kernel cache to empty."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["fresh_cache", "fresh_inductor_cache"]


@contextlib.contextmanager
def fresh_cache(cache_entries: dict[str, Any] | None = None, dir: str | None = None,  # noqa: A002
                delete: bool = True) -> Iterator[None]:
    """Run the block against an empty compile cache: ember has none, so the block just runs.

    Example::

        >>> with ember._inductor.utils.fresh_cache():
        ...     y = ember.compile(lambda x: x + 1)(ember.ones(2))
    """
    yield


fresh_inductor_cache = fresh_cache  # the name recipes written for PyTorch 2.5 and earlier use
