"""Stochastic Weight Averaging and exponential moving averages of a model's weights.

``AveragedModel`` keeps a copy of a model whose parameters are a running average (equal weights
by default, or an EMA through ``get_ema_multi_avg_fn``) of the model's parameters at each
``update_parameters`` call; ``SWALR`` anneals the learning rate towards a fixed SWA value;
``update_bn`` recomputes BatchNorm statistics for the averaged weights with one pass over data.

Example::

    >>> swa_model = AveragedModel(model)
    >>> scheduler = SWALR(optimizer, swa_lr=0.05)
    >>> for epoch in range(epochs):
    ...     train_one_epoch(model, optimizer)
    ...     swa_model.update_parameters(model)
    ...     scheduler.step()
    >>> update_bn(loader, swa_model)
"""
from __future__ import annotations

import copy
import itertools
import math
from typing import Callable, Iterable

from ember._creation import tensor
from ember._tensor import Tensor
from ember.autograd.grad_mode import no_grad
from ember.dtypes import long
from ember.nn.modules.module import Module
from ember.nn.modules.normalization import _BatchNorm
from ember.optim.lr_scheduler import LRScheduler, _format_param
from ember.optim.optimizer import Optimizer

__all__ = ["AveragedModel", "SWALR", "get_ema_avg_fn", "get_ema_multi_avg_fn",
           "get_swa_avg_fn", "get_swa_multi_avg_fn", "update_bn"]


def get_ema_multi_avg_fn(decay: float = 0.999) -> Callable:
    """An in-place EMA update of lists of averaged parameters: ``ema = lerp(ema, p, 1 - decay)``."""
    @no_grad()
    def ema_update(ema_params: list, current_params: list, num_averaged) -> None:
        for ema, current in zip(ema_params, current_params):
            if ema.is_floating_point() or ema.is_complex():
                ema.lerp_(current, 1 - decay)
            else:
                ema.copy_(ema * decay + current * (1 - decay))
    return ema_update


def get_swa_multi_avg_fn() -> Callable:
    """An in-place equal-weight running mean of lists of parameters:
    ``avg += (p - avg) / (num_averaged + 1)``."""
    @no_grad()
    def swa_update(averaged_params: list, current_params: list, num_averaged) -> None:
        for averaged, current in zip(averaged_params, current_params):
            step = (current - averaged) / (num_averaged + 1)
            if averaged.is_floating_point() or averaged.is_complex():
                averaged.add_(step)
            else:  # an integer buffer (num_batches_tracked) takes the mean truncated
                averaged.copy_(averaged + step)
    return swa_update


def get_ema_avg_fn(decay: float = 0.999) -> Callable:
    """``avg_fn`` for one parameter: the EMA ``decay * ema + (1 - decay) * p``."""
    @no_grad()
    def ema_update(ema_param: Tensor, current_param: Tensor, num_averaged) -> Tensor:
        return decay * ema_param + (1 - decay) * current_param
    return ema_update


def get_swa_avg_fn() -> Callable:
    """``avg_fn`` for one parameter: the running mean ``avg + (p - avg) / (n + 1)``."""
    @no_grad()
    def swa_update(averaged_param: Tensor, current_param: Tensor, num_averaged) -> Tensor:
        return averaged_param + (current_param - averaged_param) / (num_averaged + 1)
    return swa_update


class AveragedModel(Module):
    """A deep copy of ``model`` whose parameters average the model's over
    ``update_parameters`` calls, like ``torch.optim.swa_utils.AveragedModel``.

    Args:
        model: the model to average.
        device: where the copy lives (default: where the model is).
        avg_fn: ``avg_fn(averaged, current, num_averaged) -> new averaged`` per parameter.
        multi_avg_fn: an in-place update of lists of parameters (default: the running mean).
        use_buffers: average the buffers too (else they are copied from the model).
    """

    n_averaged: Tensor

    def __init__(self, model: Module, device=None, avg_fn: Callable | None = None,
                 multi_avg_fn: Callable | None = None, use_buffers: bool = False) -> None:
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", tensor(0, dtype=long, device=device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def _averaged(self, model: Module) -> Iterable:
        if self.use_buffers:
            return itertools.chain(model.parameters(), model.buffers())
        return model.parameters()

    def update_parameters(self, model: Module) -> None:
        """Fold ``model``'s current parameters into the average (the first call copies them)."""
        averaged = [p.detach() for p in self._averaged(self.module)]
        current = [p.detach().to(a.device) for p, a in zip(self._averaged(model), averaged)]
        n = int(self.n_averaged.item())
        with no_grad():
            if n == 0:
                for a, c in zip(averaged, current):
                    a.copy_(c)
            elif self.avg_fn is not None:
                for a, c in zip(averaged, current):
                    a.copy_(self.avg_fn(a, c, self.n_averaged.to(a.device)))
            else:
                multi = self.multi_avg_fn or get_swa_multi_avg_fn()
                for key, group in _by_device_and_dtype(averaged, current).items():
                    multi(group[0], group[1], self.n_averaged.to(key[0]))
            if not self.use_buffers:  # keep the copy's buffers (BatchNorm statistics) in step
                for b_avg, b_model in zip(self.module.buffers(), model.buffers()):
                    b_avg.detach().copy_(b_model.detach().to(b_avg.device))
            self.n_averaged += 1


def _by_device_and_dtype(averaged: list, current: list) -> dict:
    """The parameter pairs grouped by (device, dtype) of the averaged side, in order."""
    groups: dict = {}
    for a, c in zip(averaged, current):
        lists = groups.setdefault((a.device, a.dtype), ([], []))
        lists[0].append(a)
        lists[1].append(c)
    return groups


@no_grad()
def update_bn(loader: Iterable, model: Module, device=None) -> None:
    """Recompute the BatchNorm running statistics of ``model`` with one pass over ``loader``
    (a cumulative average over its batches; a batch that is a list or tuple gives its first
    element as the input)."""
    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    for batch in loader:
        if isinstance(batch, (list, tuple)):
            batch = batch[0]
        if device is not None:
            batch = batch.to(device)
        model(batch)
    for module, momentum in momenta.items():
        module.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each group's learning rate to ``swa_lr`` over ``anneal_epochs`` epochs (cosine
    or linear), then hold it, like ``torch.optim.swa_utils.SWALR``."""

    def __init__(self, optimizer: Optimizer, swa_lr, anneal_epochs: int = 10,
                 anneal_strategy: str = "cos", last_epoch: int = -1) -> None:
        for lr, group in zip(_format_param("swa_lr", optimizer, swa_lr), optimizer.param_groups):
            group["swa_lr"] = lr
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError("anneal_strategy must by one of 'cos' or 'linear', instead got "
                             f"{anneal_strategy}")
        self.anneal_func = _cosine_anneal if anneal_strategy == "cos" else _linear_anneal
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _get_initial_lr(lr: float, swa_lr: float, alpha: float) -> float:
        """The lr the annealing started from, given the lr ``alpha`` of the way to ``swa_lr``."""
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self) -> list:
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_alpha = self.anneal_func(max(0, min(1, (step - 1) / max(1, self.anneal_epochs))))
        groups = self.optimizer.param_groups
        prev_lrs = [self._get_initial_lr(g["lr"], g["swa_lr"], prev_alpha) for g in groups]
        alpha = self.anneal_func(max(0, min(1, step / max(1, self.anneal_epochs))))
        return [g["swa_lr"] * alpha + lr * (1 - alpha) for g, lr in zip(groups, prev_lrs)]


def _linear_anneal(t: float) -> float:
    return t


def _cosine_anneal(t: float) -> float:
    return (1 - math.cos(math.pi * t)) / 2
