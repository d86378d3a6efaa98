"""Transforms made of transforms: Compose, RandomApply, RandomChoice, RandomOrder."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ember.vision.transforms.transforms import _rng, _uniform
from ember.vision.transforms.v2._transform import Transform


def _run(transforms: Sequence[Callable], inputs: tuple) -> Any:
    """Chain ``transforms`` over the sample, unpacking it again when it came as several
    arguments."""
    unpack = len(inputs) > 1
    for t in transforms:
        outputs = t(*inputs)
        inputs = outputs if unpack else (outputs,)
    return outputs if transforms else (inputs if unpack else inputs[0])


def _as_modules(transforms: Sequence[Callable]) -> list:
    if not isinstance(transforms, Sequence):
        raise TypeError("Argument transforms should be a sequence of callables")
    return list(transforms)


class Compose(Transform):
    """Apply ``transforms`` one after another.

    Example::

        >>> t = Compose([ToImage(), ToDtype(ember.float32, scale=True)])
    """

    def __init__(self, transforms: Sequence[Callable]) -> None:
        super().__init__()
        self.transforms = _as_modules(transforms)
        if not self.transforms:
            raise ValueError("Pass at least one transform")

    def forward(self, *inputs: Any) -> Any:
        return _run(self.transforms, inputs)


class RandomApply(Transform):
    """Apply all of ``transforms``, in order, with probability ``p``."""

    def __init__(self, transforms: Sequence[Callable], p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError("`p` should be a floating point value in the interval [0.0, 1.0].")
        self.transforms = _as_modules(transforms)
        self.p = p

    def forward(self, *inputs: Any) -> Any:
        if _uniform(0, 1) >= self.p:
            return inputs if len(inputs) > 1 else inputs[0]
        return _run(self.transforms, inputs)


class RandomChoice(Transform):
    """Apply one of ``transforms``, picked with probabilities ``p`` (uniform by default)."""

    def __init__(self, transforms: Sequence[Callable], p: list | None = None) -> None:
        super().__init__()
        self.transforms = _as_modules(transforms)
        if p is None:
            p = [1] * len(self.transforms)
        elif len(p) != len(self.transforms):
            raise ValueError(f"Length of p doesn't match the number of transforms: {len(p)} != "
                             f"{len(self.transforms)}")
        total = sum(p)
        self.p = [prob / total for prob in p]

    def forward(self, *inputs: Any) -> Any:
        # torch.multinomial(torch.tensor(p), 1), as torchvision's v2 picks
        index = int(_rng().multinomial(np.array([self.p], np.float32), 1, True)[0, 0])
        return _run([self.transforms[index]], inputs)


class RandomOrder(Transform):
    """Apply all of ``transforms`` in a random order."""

    def __init__(self, transforms: Sequence[Callable]) -> None:
        super().__init__()
        self.transforms = _as_modules(transforms)

    def forward(self, *inputs: Any) -> Any:
        order = _rng().permutation(len(self.transforms)).tolist()  # torch.randperm
        return _run([self.transforms[i] for i in order], inputs)


__all__ = ["Compose", "RandomApply", "RandomChoice", "RandomOrder"]
