"""ember's FlopCounterMode and ModuleTracker against PyTorch's: the same FLOPs per module for
matrix products, linear layers and convolutions, forward and backward (ember keys them by
function name, PyTorch by ATen operator, so per-module totals are compared), and the same module
parents seen during forward and backward."""
import pytest

import ember

torch = pytest.importorskip("torch")


def run(lib):
    from importlib import import_module
    FlopCounterMode = import_module(f"{lib.__name__}.utils.flop_counter").FlopCounterMode
    lib.manual_seed(0)
    nn, F = lib.nn, lib.nn.functional
    convolutions = nn.Sequential(nn.Unflatten(1, (1, 16)), nn.Conv1d(1, 4, 3, stride=2),
                                 nn.ConvTranspose1d(4, 2, 3), nn.Flatten(), nn.Linear(18, 5))
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), convolutions)
    with FlopCounterMode(display=False) as counter:
        model(lib.randn(3, 8)).sum().backward()  # backward: the weights' gradients only
        lib.randn(2, 3, 4) @ lib.randn(4, 5)
        lib.randn(4) @ lib.randn(4, 3)
        lib.randn(3, 4) @ lib.randn(4)
        lib.randn(2, 1, 3, 4) @ lib.randn(5, 4, 2)
        lib.baddbmm(lib.randn(2, 3, 5), lib.randn(2, 3, 4), lib.randn(2, 4, 5))
        a = lib.randn(2, 3, 4, requires_grad=True)
        (a @ lib.randn(4, 5)).sum().backward()
        lib.mm(lib.randn(3, 4, requires_grad=True), lib.randn(4, 2, requires_grad=True)).sum(
            ).backward()
        F.conv2d(lib.randn(1, 4, 5, 5), lib.randn(6, 2, 3, 3), groups=2, stride=2, padding=1)
        F.conv3d(lib.randn(2, 5, 5, 5), lib.randn(3, 2, 2, 2, 2), dilation=2)
    return counter.get_total_flops(), {module: sum(counts.values())
                                       for module, counts in counter.get_flop_counts().items()}


def test_flops_per_module_match_torch():
    assert run(ember) == run(torch)
