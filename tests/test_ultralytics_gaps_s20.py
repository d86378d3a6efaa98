"""What ultralytics' YOLO training needed of ember: ``torch.utils.deterministic``'s
``fill_uninitialized_memory`` (and the fill it controls), ``DataLoader._get_iterator`` (the hook
its InfiniteDataLoader keeps one iterator alive with) and ``load(weights_only=False)`` of a
checkpoint holding a ``SimpleNamespace`` subclass (its model's ``args``)."""
from __future__ import annotations

import pickle
import sys
import types

import numpy as np
import pytest

import ember
from ember.utils.data import DataLoader


@pytest.fixture
def deterministic():
    ember.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        ember.use_deterministic_algorithms(False)
        ember.utils.deterministic.fill_uninitialized_memory = True


@pytest.mark.parametrize("dtype, expected", [
    (ember.float32, np.nan), (ember.float16, np.nan), (ember.complex64, complex(np.nan, 0)),
    (ember.int8, 127), (ember.uint8, 255), (ember.int64, 2 ** 63 - 1), (ember.bool, True)])
def test_deterministic_mode_fills_uninitialised_memory(deterministic, dtype, expected):
    for t in (ember.empty(2, 3, dtype=dtype), ember.empty_strided((2, 3), (1, 2), dtype=dtype),
              ember.empty_like(ember.zeros(2, 3, dtype=dtype)),
              ember.zeros(1, dtype=dtype).new_empty((2, 3))):
        np.testing.assert_array_equal(t.numpy(), np.full((2, 3), expected, t.numpy().dtype))


def test_fill_uninitialized_memory_is_a_checked_bool(deterministic):
    assert ember.utils.deterministic.fill_uninitialized_memory is True
    ember.utils.deterministic.fill_uninitialized_memory = False
    assert ember.utils.deterministic.fill_uninitialized_memory is False
    with pytest.raises(RuntimeError, match="expected a bool"):
        ember.utils.deterministic.fill_uninitialized_memory = 1


class _RepeatingLoader(DataLoader):
    """ultralytics' InfiniteDataLoader pattern: one iterator over a sampler that never ends,
    ``len(self)`` batches taken from it per epoch."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.iterator = None

    def __iter__(self):
        if self.iterator is None:
            self.iterator = self._get_iterator()
        for _ in range(len(self)):
            yield next(self.iterator)


def test_get_iterator_is_a_fresh_pass_a_subclass_can_keep():
    loader = _RepeatingLoader(ember.arange(6), batch_size=4)
    assert [b.tolist() for b in loader] == [[0, 1, 2, 3], [4, 5]]
    first = loader.iterator
    assert [b.tolist() for b in DataLoader(ember.arange(6), batch_size=4)._get_iterator()] == \
        [[0, 1, 2, 3], [4, 5]]
    assert loader.iterator is first


class _Config(types.SimpleNamespace):
    """A SimpleNamespace subclass, as ultralytics' IterableSimpleNamespace (a model's args)."""

    def __iter__(self):
        return iter(vars(self).items())


def test_weights_only_false_loads_a_simple_namespace_subclass(tmp_path, monkeypatch):
    module = types.ModuleType("ember_test_config_module")
    _Config.__module__ = module.__name__
    module._Config = _Config
    monkeypatch.setitem(sys.modules, module.__name__, module)
    model = ember.nn.Linear(2, 1)
    model.args = _Config(imgsz=64, task="detect")
    path = tmp_path / "checkpoint.pt"
    ember.save({"model": model, "epoch": 1}, path)
    with pytest.raises(pickle.UnpicklingError, match="refused"):
        ember.load(path)
    loaded = ember.load(path, weights_only=False)["model"]
    assert type(loaded.args) is _Config and dict(loaded.args) == {"imgsz": 64, "task": "detect"}
    np.testing.assert_array_equal(loaded.weight.detach().numpy(), model.weight.detach().numpy())
