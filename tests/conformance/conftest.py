"""Conformance tests compare ember with real PyTorch. Each module starts with
``torch = pytest.importorskip("torch")`` so that the suite skips cleanly without it."""
import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        if "conformance" in str(item.fspath):
            item.add_marker(pytest.mark.conformance)


@pytest.fixture(autouse=True)
def _torch_einsum_without_opt_einsum():
    """PyTorch's einsum hands its equation to opt_einsum where that package is installed (Pyro
    needs it), which changes its errors (ValueError for RuntimeError) and contraction order;
    the oracle is PyTorch's own einsum, as where opt_einsum is absent."""
    import sys
    torch = sys.modules.get("torch")
    backend = getattr(getattr(torch, "backends", None), "opt_einsum", None)
    if backend is None or not hasattr(backend, "enabled"):
        yield
        return
    before, backend.enabled = backend.enabled, False
    try:
        yield
    finally:
        backend.enabled = before
