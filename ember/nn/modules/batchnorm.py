"""PyTorch's module path for the batch-norm classes (``nn.modules.batchnorm._BatchNorm`` is used
in ``isinstance`` checks): BatchNorm*d live in ``normalization.py``, the lazy ones in ``lazy.py``;
SyncBatchNorm is here."""
# ruff: noqa: I001
from __future__ import annotations

from ember._tensor import Tensor
from ember.autograd.function import Function
from ember.autograd.grad_mode import no_grad
from ember.nn.modules.module import Module
from ember.nn.modules.normalization import (BatchNorm1d, BatchNorm2d, BatchNorm3d,  # noqa: F401
                                            _BatchNorm, _NormBase)
from ember.nn.modules.lazy import (LazyBatchNorm1d, LazyBatchNorm2d,  # noqa: F401
                                   LazyBatchNorm3d)

__all__ = ["SyncBatchNorm"]


def _summed(t: Tensor, group) -> Tensor:
    from ember import distributed as dist
    dist.all_reduce(t, group=group)
    return t


class _SyncBatchNormTrain(Function):
    """Training-mode batch norm whose statistics, and the two sums its input gradient needs,
    are summed over the processes of ``group``. The variance takes a second pass over the
    deviations from the global mean, which stays accurate where E[x^2] - E[x]^2 would not."""

    @staticmethod
    def forward(ctx, input, weight, bias, eps, group, stats):
        dims = [0] + list(range(2, input.ndim))
        shape = [1, -1] + [1] * (input.ndim - 2)
        sums = input.sum(dims)
        count = _summed(sums.new_full((1,), float(input.numel() // input.shape[1])), group)
        total = float(count[0])
        mean = _summed(sums, group) / total
        centred = input - mean.reshape(shape)
        var = _summed((centred * centred).sum(dims), group) / total
        invstd = (var + eps).rsqrt()
        xhat = centred * invstd.reshape(shape)
        ctx.save_for_backward(xhat, invstd, weight)
        ctx.args = (dims, shape, total, group, bias is not None)
        stats.extend((mean, var, total))
        out = xhat if weight is None else xhat * weight.reshape(shape)
        return out if bias is None else out + bias.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        xhat, invstd, weight = ctx.saved_tensors
        dims, shape, total, group, has_bias = ctx.args
        sum_dy = grad.sum(dims)
        sum_dy_xhat = (grad * xhat).sum(dims)
        # parameter gradients stay local: DistributedDataParallel averages them
        grad_weight = sum_dy_xhat.clone() if weight is not None else None
        grad_bias = sum_dy.clone() if has_bias else None
        mean_dy = _summed(sum_dy, group) / total
        mean_dy_xhat = _summed(sum_dy_xhat, group) / total
        scale = invstd if weight is None else invstd * weight
        gx = grad - mean_dy.reshape(shape) - xhat * mean_dy_xhat.reshape(shape)
        return gx * scale.reshape(shape), grad_weight, grad_bias, None, None, None


def _distributed_world(group) -> int:
    """The number of processes to synchronise with: 1 unless ember.distributed is initialised."""
    from ember import distributed as dist
    if not (dist.is_available() and dist.is_initialized()):
        return 1
    return dist.get_world_size(group)


class SyncBatchNorm(_BatchNorm):
    """Batch normalization over (N, C, *) whose training statistics are those of the whole
    batch across the processes of ``process_group`` (all of them by default).

    Without an initialised ``ember.distributed`` (or with one process) it is ``BatchNorm``;
    with several, the batch mean and variance, and the sums the input gradient needs, are
    all-reduced, so every process normalises by the global statistics. Evaluation uses the
    running statistics, as BatchNorm does.

    Example::

        >>> model = SyncBatchNorm.convert_sync_batchnorm(model)  # every BatchNorm*d replaced
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, process_group=None,
                 device=None, dtype=None, *, bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype, bias=bias)
        self.process_group = process_group

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        if input.shape[1] == 0:
            raise ValueError("SyncBatchNorm number of input channels should be non-zero")
        if not self.training or _distributed_world(self.process_group) == 1:
            return super().forward(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked)
        stats: list = []
        out = _SyncBatchNormTrain.apply(input, self.weight, self.bias, self.eps,
                                        self.process_group, stats)
        if self.track_running_stats:
            mean, var, total = stats
            with no_grad():
                self.running_mean.mul_(1 - factor).add_(mean * factor)
                self.running_var.mul_(1 - factor).add_(var * (factor * total / (total - 1)))
        return out

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group=None) -> Module:
        """``module`` with every ``BatchNorm*d`` inside it replaced by a SyncBatchNorm that
        shares its parameters and buffers (``module`` itself if it is one)."""
        out = module
        if isinstance(module, _BatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine,
                      module.track_running_stats, process_group)
            if module.affine:
                with no_grad():
                    out.weight = module.weight
                    out.bias = module.bias
            out.running_mean = module.running_mean
            out.running_var = module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.training = module.training
            if hasattr(module, "qconfig"):
                out.qconfig = module.qconfig
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return out

