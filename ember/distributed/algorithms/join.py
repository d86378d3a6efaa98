"""The generic join context manager for uneven inputs: ``Join``, ``Joinable``, ``JoinHook``.

NOTE [ Join: shadowing the collectives of the ranks still training ]
A rank that ran out of inputs leaves its training loop and enters ``Join.__exit__``. Every
iteration of a rank still training begins with ``Join.notify_join_context``: an all-reduce of
1 (SUM) on the join group. A joined rank answers each one with an all-reduce of 0 and, while
the sum is not 0 (some rank still trains), runs every joinable's ``main_hook``, which issues
the same collectives as one training iteration (DDP: the gradient all-reduces with zero
gradients; ZeroRedundancyOptimizer: its step's broadcasts). When the sum is 0 all ranks have
joined, and each ``post_hook`` runs once (DDP: every rank takes the model of the last rank to
join). Only the first joinable of a Join does the notifying all-reduce.
"""
from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from typing import Any, NamedTuple

import ember
from ember.distributed import collectives
from ember.distributed.process_group import get_rank

__all__ = ["Join", "JoinHook", "Joinable"]

# An uneven-input skew past this many iterations is worth a warning: the joined rank idles.
_SKEW_WARNING = 1000


class JoinHook:
    """What a joinable does inside ``Join``: ``main_hook`` once per iteration of the ranks
    still training (issue the same collectives as one of their iterations), ``post_hook``
    once after all ranks joined. Both do nothing by default."""

    def main_hook(self) -> None:
        """Shadow the collectives of one training iteration of the non-joined ranks."""

    def post_hook(self, is_last_joiner: bool) -> None:
        """Clean up once every rank joined; ``is_last_joiner`` says whether this rank was
        among the last to join."""


class _JoinConfig(NamedTuple):
    enable: bool
    throw_on_early_termination: bool
    is_first_joinable: bool


_DISABLED = _JoinConfig(enable=False, throw_on_early_termination=False, is_first_joinable=False)


class Joinable(ABC):
    """A class whose per-iteration collectives ``Join`` can shadow: it calls
    ``Join.notify_join_context(self)`` before each iteration's collectives and provides a
    ``join_hook``, a ``join_device`` and a ``join_process_group``."""

    @abstractmethod
    def __init__(self) -> None:
        super().__init__()
        self._join_config = _DISABLED

    @abstractmethod
    def join_hook(self, **kwargs: Any) -> JoinHook:
        """The JoinHook of this joinable (``kwargs`` are those given to ``Join``)."""

    @property
    @abstractmethod
    def join_device(self):
        """The device of the join all-reduces."""

    @property
    @abstractmethod
    def join_process_group(self):
        """The process group of the join all-reduces."""


class Join:
    """Context manager for training with uneven inputs across ranks (NOTE [ Join: shadowing
    the collectives of the ranks still training ]).

    Args:
        joinables: the Joinables of the loop (DDP model, ZeroRedundancyOptimizer, ...), all on
            one process group; the first one does the notifying all-reduce.
        enable: False makes the context do nothing.
        throw_on_early_termination: raise on every rank as soon as one rank runs out of
            inputs, instead of shadowing.
        **kwargs: passed to each ``joinable.join_hook``.

    Example::

        >>> model = DistributedDataParallel(net)
        >>> with Join([model]):
        ...     for x in my_shard_of_uneven_length:
        ...         model(x).sum().backward()
    """

    def __init__(self, joinables: list, enable: bool = True,
                 throw_on_early_termination: bool = False, **kwargs: Any) -> None:
        if len(joinables) == 0:
            raise ValueError("The join context manager requires at least one joinable")
        self._joinables = list(joinables)
        self._join_hooks = [j.join_hook(**kwargs) for j in self._joinables]
        self._enable = enable
        self._throw_on_early_termination = throw_on_early_termination
        for i, joinable in enumerate(self._joinables):
            joinable._join_config = _JoinConfig(enable, throw_on_early_termination, i == 0)
        self._process_group = self._joinables[0].join_process_group
        if any(j.join_process_group is not self._process_group for j in self._joinables):
            raise ValueError("Using join context manager with multiple process groups")
        self._device = self._joinables[0].join_device
        self._rank = get_rank(self._process_group)

    def __enter__(self) -> "Join":
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        """Shadow the other ranks' iterations until every rank joined, then run the post
        hooks; an exception inside the context propagates at once."""
        if not self._enable or exc_type is not None:
            return
        is_last_joiner = True
        iterations = 0
        while self._count(0.0) > 0:
            if iterations == _SKEW_WARNING + 1:
                warnings.warn(f"Detected uneven input skew of greater than {_SKEW_WARNING}. This "
                              f"means that rank {self._rank} has at least {_SKEW_WARNING} fewer "
                              "inputs than other currently-active ranks. This level of skew "
                              "could lead to performance degradation during training.",
                              stacklevel=2)
            if self._throw_on_early_termination:
                self._count(1.0)  # answers the check of notify_join_context, then raises
                raise RuntimeError(f"Rank {self._rank} exhausted all inputs.")
            for hook in self._join_hooks:
                hook.main_hook()
            is_last_joiner = False
            iterations += 1
        for hook in self._join_hooks:
            hook.post_hook(is_last_joiner)

    def _count(self, mine: float) -> float:
        """The sum over the join group of ``mine`` (blocking)."""
        t = ember.full((1,), mine, device=self._device)
        collectives.all_reduce(t, group=self._process_group)
        return t.item()

    @staticmethod
    def notify_join_context(joinable: Joinable):
        """Tell the joined ranks (if any) that this rank runs another iteration; call it
        before the iteration's collectives.

        Returns:
            For the first joinable of an enabled Join, the Work of the all-reduce that counts
            the ranks still training (its ``result()[0]`` holds the count); else None.
        """
        config = getattr(joinable, "_join_config", None)
        if config is None:
            raise AssertionError(f"Check that the {type(joinable)} constructor calls the "
                                 "``Joinable`` constructor")
        if not config.is_first_joinable or not config.enable:
            return None
        device, group = joinable.join_device, joinable.join_process_group
        work = collectives.all_reduce(ember.ones(1, device=device), group=group, async_op=True)
        if config.throw_on_early_termination:
            flag = ember.zeros(1, device=device)
            collectives.all_reduce(flag, group=group)
            if flag.item():
                raise RuntimeError("Detected at least one rank that exhausted inputs. Throwing "
                                   "across all ranks.")
        return work
