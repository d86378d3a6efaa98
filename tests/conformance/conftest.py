"""Conformance tests compare ember with real PyTorch; without torch they skip."""
import pytest

torch = pytest.importorskip("torch")


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.conformance)
