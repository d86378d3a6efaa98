"""``DistributedOptimizer``: one local optimizer per worker that owns parameters, stepped with
the gradients of a distributed-autograd context."""
from __future__ import annotations

from ember.distributed import autograd as dist_autograd
from ember.distributed import rpc


class _LocalOptimizer:
    """On a parameters' owner: ``optimizer_class`` over the parameters of ``param_rrefs``."""

    def __init__(self, optimizer_class, param_rrefs: list, args: tuple, kwargs: dict) -> None:
        self._params = [rref.local_value() for rref in param_rrefs]
        self.optim = optimizer_class(self._params, *args, **kwargs)

    def step(self, context_id: int) -> None:
        grads = dist_autograd.get_gradients(context_id)
        saved = [p.grad for p in self._params]  # the step reads the context's, not .grad
        for p in self._params:
            p.grad = grads.get(p)
        try:
            self.optim.step()
        finally:
            for p, grad in zip(self._params, saved):
                p.grad = grad


def _new_local_optimizer(optimizer_class, param_rrefs: list, args: tuple,
                         kwargs: dict) -> _LocalOptimizer:
    return _LocalOptimizer(optimizer_class, param_rrefs, args, kwargs)


def _step(optimizer_rref: rpc.RRef, context_id: int) -> None:
    optimizer_rref.local_value().step(context_id)


class DistributedOptimizer:
    """``optimizer_class(params, *args, **kwargs)`` on each worker that owns some of
    ``params_rref`` (RRefs of parameters); ``step(context_id)`` steps all of them, each with
    the gradients that ``dist_autograd.backward`` left in that context on its worker.

    Example::

        >>> opt = DistributedOptimizer(optim.SGD, [rref1, rref2], lr=0.05)
        >>> with dist_autograd.context() as context_id:
        ...     dist_autograd.backward(context_id, [loss])
        ...     opt.step(context_id)
    """

    def __init__(self, optimizer_class, params_rref: list, *args, **kwargs) -> None:
        by_owner: dict = {}
        for rref in params_rref:
            by_owner.setdefault(rref.owner(), []).append(rref)
        self.remote_optimizers = [
            rpc.remote(owner, _new_local_optimizer, args=(optimizer_class, rrefs, args, kwargs))
            for owner, rrefs in by_owner.items()]

    def step(self, context_id: int) -> None:
        """Step every worker's optimizer with its gradients in ``context_id``."""
        dist_autograd._retrieve(context_id)  # a context of this worker's, as PyTorch checks
        futures = [rpc.rpc_async(opt.owner(), _step, args=(opt, context_id))
                   for opt in self.remote_optimizers]
        errors = []
        for future in futures:
            try:
                future.wait()
            except Exception as e:
                errors.append(e)
        if errors:
            raise errors[0]
