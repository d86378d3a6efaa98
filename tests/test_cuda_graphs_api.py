"""ember.cuda's CUDA graph API on any machine: the names exist, nothing is capturing outside a
capture, and without a GPU making a graph raises a RuntimeError, as PyTorch does without CUDA.
(Capture and replay are tested on a GPU in tests/cuda/test_cuda_graphs.py.)"""
import pytest

import ember
from ember.cuda import graphs

no_gpu = pytest.mark.skipif(ember.cuda.is_available(), reason="checks the behaviour without a GPU")


@pytest.mark.parametrize("name", ["CUDAGraph", "graph", "graph_pool_handle",
                                  "is_current_stream_capturing", "make_graphed_callables"])
def test_names_are_exported(name):
    assert getattr(ember.cuda, name) is getattr(graphs, name)
    assert name in graphs.__all__


def test_no_capture_outside_a_graph():
    assert ember.cuda.is_current_stream_capturing() is False


@no_gpu
@pytest.mark.parametrize("make", [
    lambda: ember.cuda.CUDAGraph(),
    lambda: ember.cuda.graph_pool_handle(),
    lambda: ember.cuda.graph(None),
    lambda: ember.cuda.make_graphed_callables(ember.nn.Linear(2, 2), (ember.zeros(1, 2),)),
], ids=["CUDAGraph", "graph_pool_handle", "graph", "make_graphed_callables"])
def test_without_cuda_raises_runtime_error(make):
    with pytest.raises(RuntimeError, match="CuPy or an NVIDIA GPU is missing"):
        make()


def test_capture_errors_name_the_ember_call():
    # How ``graph`` names the call that broke a capture: the ember function the user called.
    with pytest.raises(RuntimeError) as info:
        ember.zeros(2).item()
    assert graphs._ember_call(info.tb).endswith("item")  # Tensor.item (item on Python 3.10)
    assert graphs._capture_violation(RuntimeError(
        "cudaErrorStreamCaptureUnsupported: operation not permitted when stream is capturing"))
    assert not graphs._capture_violation(ValueError("capturing"))
