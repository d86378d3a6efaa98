"""``torch.distributed.rpc.functions``: ``async_execution``."""
from __future__ import annotations

__all__ = ["async_execution"]


def async_execution(fn):
    """Mark ``fn`` as returning a ``torch.futures.Future``: run as the function of an RPC, its
    reply is sent once that Future completes (the worker thread is free meanwhile), with the
    Future's value. Stack it under ``@staticmethod`` or ``@classmethod``.

    Example::

        >>> @rpc.functions.async_execution
        ... def async_add(to, x, y):
        ...     return rpc.rpc_async(to, torch.add, args=(x, y)).then(lambda f: f.wait() + 1)
    """
    fn._wrapped_async_rpc_function = fn
    return fn
