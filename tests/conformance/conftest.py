"""Conformance tests compare ember with real PyTorch. Each module starts with
``torch = pytest.importorskip("torch")`` so that the suite skips cleanly without it."""
import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        if "conformance" in str(item.fspath):
            item.add_marker(pytest.mark.conformance)
