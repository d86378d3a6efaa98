"""``torch.utils.deterministic.fill_uninitialized_memory`` on ember against PyTorch: what
``empty`` and its kin hold under ``use_deterministic_algorithms(True)``, with the flag on and
off, for each dtype family."""
from __future__ import annotations

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("name", ["float32", "float64", "bfloat16", "complex128", "int16",
                                  "uint8", "int32", "bool"])
def test_deterministic_empty_matches_torch(name):
    made = {}
    for lib in (torch, ember):
        lib.use_deterministic_algorithms(True)
        try:
            dtype = getattr(lib, name)
            made[lib] = [t.float() if name == "bfloat16" else t for t in (
                lib.empty(3, dtype=dtype), lib.empty_strided((2, 2), (1, 2), dtype=dtype),
                lib.ones(2, dtype=dtype).new_empty(3))]
            lib.utils.deterministic.fill_uninitialized_memory = False
            assert lib.empty(3, dtype=dtype).shape == (3,)  # left uninitialised
        finally:
            lib.utils.deterministic.fill_uninitialized_memory = True
            lib.use_deterministic_algorithms(False)
    for expected, got in zip(made[torch], made[ember]):
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
