"""``loss_parallel``: cross entropy on logits sharded on the class dimension without gathering
them (each rank's classes reduced with a max and a sum over the mesh)."""
from __future__ import annotations

import contextlib

from ember.distributed.tensor import _nn_ops

__all__ = ["loss_parallel"]


@contextlib.contextmanager
def loss_parallel():
    """Within the context, ``F.cross_entropy`` (and ``nll_loss`` of its ``log_softmax``) on a
    DTensor of logits sharded on the class dimension (``Shard(-1)`` of a 2-d input, the
    ``Shard(1)`` of ``ColwiseParallel(use_local_output=False)``) with a replicated target runs
    shard by shard, as PyTorch's: the loss is replicated and the logits' gradient sharded like
    them. Other inputs are gathered as outside the context.

    Example::

        >>> with loss_parallel():
        ...     loss = F.cross_entropy(sharded_logits, labels)
        ...     loss.backward()
    """
    previous = _nn_ops.LOSS_PARALLEL[0]
    _nn_ops.LOSS_PARALLEL[0] = True
    try:
        yield
    finally:
        _nn_ops.LOSS_PARALLEL[0] = previous
