"""``torch.futures``: the Future that asynchronous collectives and DDP communication hooks
return (ember.distributed.work.Future), with ``collect_all`` and ``wait_all``."""
from __future__ import annotations

from ember.distributed.work import Future

__all__ = ["Future", "collect_all", "wait_all"]


def collect_all(futures: list) -> Future:
    """A Future that completes, with the list of ``futures``, once all of them have."""
    combined = Future()
    pending = [len(futures)]

    def one_done(_):
        pending[0] -= 1
        if pending[0] == 0:
            combined.set_result(list(futures))

    if not futures:
        combined.set_result([])
    for fut in futures:
        fut.add_done_callback(one_done)
    return combined


def wait_all(futures: list) -> list:
    """The results of ``futures``, waiting for each in turn."""
    return [fut.wait() for fut in futures]
