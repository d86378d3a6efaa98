"""``load`` under PyTorch's environment switches ``TORCH_FORCE_WEIGHTS_ONLY_LOAD`` and
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``: for every setting and every ``weights_only`` argument,
ember loads, refuses or raises exactly when ``torch.load`` does. The file holds a NumPy array,
which only a full (``weights_only=False``) load rebuilds."""
import itertools
import pickle
import warnings

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

SETTINGS = [{}, {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"},
            {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "YES"},
            {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "0"}, {"TORCH_FORCE_WEIGHTS_ONLY_LOAD": "true"},
            {"TORCH_FORCE_WEIGHTS_ONLY_LOAD": "y", "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}]
ARGUMENTS = [{}, {"weights_only": True}, {"weights_only": False}]


def _outcome(load, path) -> tuple:
    """(what happened, whether the switch's warning came), comparable across the libraries."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = load(path)
        except pickle.UnpicklingError:
            result = "refused"
        except RuntimeError as e:
            result = "both set" if "both were set" in str(e) else repr(e)
        else:
            assert isinstance(value, np.ndarray)
            np.testing.assert_array_equal(value, np.arange(6.0).reshape(2, 3))
            result = "loaded"
    warned = any("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD" in str(w.message) for w in caught)
    return result, warned


@pytest.mark.parametrize("env, kwargs", list(itertools.product(SETTINGS, ARGUMENTS)))
def test_load_follows_the_weights_only_switches(tmp_path, monkeypatch, env, kwargs):
    path = tmp_path / "array.pt"
    torch.save(np.arange(6.0).reshape(2, 3), path)
    for name in ("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    expected = _outcome(lambda p: torch.load(p, **kwargs), path)
    assert _outcome(lambda p: ember.load(p, **kwargs), path) == expected


def test_jit_load_ignores_the_switches(tmp_path, monkeypatch):
    """The switches govern ``load`` only: ``jit.load`` reads a saved module in both libraries."""
    monkeypatch.setenv("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "1")
    x = np.linspace(-1.0, 1.0, 6, dtype=np.float32).reshape(2, 3)
    outputs = []
    for lib in (torch, ember):
        lib.manual_seed(0)
        path = tmp_path / f"{lib.__name__}.pt"
        module = lib.nn.Linear(3, 2)
        lib.jit.save(lib.jit.script(module), path)
        loaded = lib.jit.load(path)
        outputs.append((module(lib.from_numpy(x)).detach().numpy(),
                        loaded(lib.from_numpy(x)).detach().numpy()))
    for saved, loaded in outputs:
        np.testing.assert_array_equal(loaded, saved)
