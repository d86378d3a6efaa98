"""tests/autograd/graph_task_scenarios.py on ember and on PyTorch: multi-grad hooks, final
callbacks and gradient edges give the same calls and values."""
import pytest

import ember
from tests.autograd import graph_task_scenarios as scenarios

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("scenario", ["multi_grad_hook_all", "multi_grad_hook_any",
                                      "final_callbacks", "gradient_edges"])
def test_same_as_torch(scenario):
    run = getattr(scenarios, scenario)
    assert run(ember) == run(torch)
