"""Random benchmark inputs, as ``torch.utils.benchmark``'s ``Fuzzer``.

A ``Fuzzer`` draws values for its ``FuzzedParameter``s (sizes, steps, dimensionality), keeps a
draw only when every ``FuzzedTensor`` it sizes respects its element / allocation limits and
every user constraint holds, then builds the tensors, some of them discontiguous (dims laid out
in a random order in memory, or strided by ``steps``). ``take(n)`` yields ``n`` such cases as
``(tensors, tensor_properties, params)``.

Example::

    >>> fuzzer = Fuzzer(parameters=[FuzzedParameter("k", minval=1, maxval=64,
    ...                                             distribution="loguniform")],
    ...                 tensors=[FuzzedTensor("x", size=("k", 8), probability_contiguous=0.5)],
    ...                 seed=0)
    >>> for tensors, properties, params in fuzzer.take(3):
    ...     print(params["k"], tensors["x"].shape, properties["x"]["is_contiguous"])
"""
from __future__ import annotations

import math
from typing import Callable, Iterator

import numpy as np

import ember

__all__ = ["FuzzedParameter", "FuzzedTensor", "Fuzzer", "ParameterAlias"]

_MAX_ATTEMPTS = 1000  # draws tried per case before the constraints are declared unsatisfiable


class ParameterAlias:
    """Stands for the value of the parameter named ``alias_to`` (drawn earlier), in a
    ``FuzzedParameter``'s distribution or a ``FuzzedTensor``'s size / steps."""

    def __init__(self, alias_to: str) -> None:
        self.alias_to = alias_to

    def __repr__(self) -> str:
        return f"ParameterAlias[alias_to: {self.alias_to}]"


class FuzzedParameter:
    """A value drawn for every case: ``"uniform"`` or ``"loguniform"`` between ``minval`` and
    ``maxval`` (integers when both bounds are), or one key of ``distribution`` given as
    ``{value: probability}`` (probabilities summing to 1; a value may be a ``ParameterAlias``).
    ``strict`` parameters must keep the drawn value: a case that breaks a constraint is drawn
    again as a whole, never patched."""

    def __init__(self, name: str, minval: int | float | None = None,
                 maxval: int | float | None = None,
                 distribution: str | dict | None = None, strict: bool = False) -> None:
        self.name = name
        self.strict = strict
        if isinstance(distribution, dict):
            if minval is not None or maxval is not None:
                raise ValueError("minval and maxval are not used with a discrete distribution")
            total = sum(distribution.values())
            if not math.isclose(total, 1.0, rel_tol=1e-6):
                raise ValueError(f"Distribution is not normalized (probabilities sum to {total})")
        elif distribution in ("uniform", "loguniform"):
            if minval is None or maxval is None or minval > maxval:
                raise ValueError(f"{distribution} needs minval <= maxval, got {minval}, {maxval}")
            if distribution == "loguniform" and minval <= 0:
                raise ValueError(f"loguniform needs minval > 0, got {minval}")
        else:
            raise ValueError(f"Unknown distribution: {distribution!r}")
        self._minval, self._maxval, self._distribution = minval, maxval, distribution

    @property
    def distribution(self):
        return self._distribution

    def sample(self, state: np.random.RandomState):
        dist = self._distribution
        if isinstance(dist, dict):
            keys = list(dist)
            return keys[state.choice(len(keys), p=np.asarray(list(dist.values())) /
                                     sum(dist.values()))]
        integral = isinstance(self._minval, int) and isinstance(self._maxval, int)
        if dist == "uniform":
            if integral:
                return int(state.randint(self._minval, self._maxval + 1))
            return float(state.uniform(self._minval, self._maxval))
        # loguniform: uniform in log space (integers: over [minval, maxval + 1), floored)
        high = self._maxval + 1 if integral else self._maxval
        value = math.exp(state.uniform(math.log(self._minval), math.log(high)))
        return min(int(value), self._maxval) if integral else value


def _resolve(value, params: dict):
    return params[value.alias_to] if isinstance(value, ParameterAlias) else \
        params[value] if isinstance(value, str) else value


class FuzzedTensor:
    """A tensor built for every case, of shape ``size`` (ints or parameter names; only the
    first ``params[dim_parameter]`` dims when given). With probability
    ``1 - probability_contiguous`` its dims are stored in a random order; ``steps`` (ints or
    names) stride it inside a larger allocation. A draw is rejected when its number of elements
    is outside ``[min_elements, max_elements]`` or the allocation exceeds
    ``max_allocation_bytes``. ``tensor_constructor(size=, dtype=, **params)`` replaces the
    default random values."""

    def __init__(self, name: str, size: tuple, steps: tuple | None = None,
                 probability_contiguous: float = 0.5, min_elements: int | None = None,
                 max_elements: int | None = None, max_allocation_bytes: int | None = None,
                 dim_parameter: str | None = None, roll_parameter: str | None = None,
                 dtype=None, cuda: bool = False,
                 tensor_constructor: Callable | None = None) -> None:
        if roll_parameter is not None:
            raise NotImplementedError("FuzzedTensor: roll_parameter is not supported by ember")
        self.name = name
        self._size = tuple(size)
        self._steps = tuple(steps) if steps is not None else None
        self._probability_contiguous = probability_contiguous
        self._min_elements = min_elements
        self._max_elements = max_elements
        self._max_allocation_bytes = max_allocation_bytes
        self._dim_parameter = dim_parameter
        self._dtype = dtype if dtype is not None else ember.float32
        self._device = "cuda" if cuda else "cpu"
        self._tensor_constructor = tensor_constructor

    def _shape(self, params: dict) -> tuple[tuple, tuple]:
        size = tuple(int(_resolve(s, params)) for s in self._size)
        steps = tuple(int(_resolve(s, params)) for s in self._steps) if self._steps else \
            (1,) * len(size)
        if self._dim_parameter is not None:
            ndim = int(params[self._dim_parameter])
            size, steps = size[:ndim], steps[:ndim]
        return size, steps

    def satisfies_constraints(self, params: dict) -> bool:
        size, steps = self._shape(params)
        numel = math.prod(size)
        allocation = math.prod(s * k for s, k in zip(size, steps)) * self._dtype.itemsize
        return ((self._min_elements is None or numel >= self._min_elements)
                and (self._max_elements is None or numel <= self._max_elements)
                and (self._max_allocation_bytes is None
                     or allocation <= self._max_allocation_bytes))

    def _make_tensor(self, params: dict, state: np.random.RandomState):
        size, steps = self._shape(params)
        allocation = tuple(s * k for s, k in zip(size, steps))
        order = tuple(range(len(size)))
        if state.uniform() >= self._probability_contiguous:
            order = tuple(int(i) for i in state.permutation(len(size)))
        stored = tuple(allocation[i] for i in order)  # the allocation, dims in memory order
        if self._tensor_constructor is not None:
            raw = self._tensor_constructor(size=stored, dtype=self._dtype, **params)
        elif self._dtype.is_floating_point or self._dtype.is_complex:
            raw = ember.from_numpy(state.standard_normal(stored)).to(self._dtype)
        else:
            raw = ember.from_numpy(state.randint(0, 128, stored)).to(self._dtype)
        raw = raw.to(self._device)
        tensor = raw.permute(*np.argsort(order).tolist()) if order else raw
        tensor = tensor[tuple(slice(None, None, k) for k in steps)]
        properties = {"numel": tensor.numel(), "order": order, "steps": steps,
                      "is_contiguous": tensor.is_contiguous()}
        return tensor, properties


def _flat(items) -> list:
    out = []
    for item in items:
        out.extend(_flat(item) if isinstance(item, (list, tuple)) else [item])
    return out


class Fuzzer:
    """Draws benchmark cases from ``parameters`` (``FuzzedParameter``s, nested lists allowed)
    and builds ``tensors`` (``FuzzedTensor``s) from them; ``constraints`` are callables of
    the parameter dict that must all return True. ``seed`` makes the cases reproducible."""

    def __init__(self, parameters, tensors=(), constraints=None, seed: int | None = None):
        self._parameters = _flat(parameters)
        self._tensors = _flat(tensors)
        names = [p.name for p in self._parameters]
        if len(set(names)) != len(names):
            raise ValueError(f"Duplicate parameter names: {names}")
        self._constraints = list(constraints or ())
        self._seed = seed if seed is not None else int(np.random.randint(0, 2 ** 31 - 1))
        self._rejections = 0
        self._total_generated = 0

    def take(self, n: int) -> Iterator[tuple[dict, dict, dict]]:
        """``n`` cases: ``(tensors, tensor_properties, params)``, each a dict by name."""
        state = np.random.RandomState(self._seed)
        for _ in range(n):
            params = self._draw(state)
            tensors, properties = {}, {}
            for t in self._tensors:
                tensors[t.name], properties[t.name] = t._make_tensor(params, state)
            yield tensors, properties, params

    @property
    def rejection_rate(self) -> float:
        """The fraction of draws rejected so far by the tensors' limits and the constraints."""
        return self._rejections / self._total_generated if self._total_generated else 0.0

    def _draw(self, state: np.random.RandomState) -> dict:
        for _ in range(_MAX_ATTEMPTS):
            self._total_generated += 1
            params = {}
            for p in self._parameters:
                value = p.sample(state)
                params[p.name] = params[value.alias_to] if isinstance(value, ParameterAlias) \
                    else value
            if all(t.satisfies_constraints(params) for t in self._tensors) and \
                    all(c(params) for c in self._constraints):
                return params
            self._rejections += 1
        raise ValueError(f"Fuzzer: no case satisfied the constraints in {_MAX_ATTEMPTS} draws")
