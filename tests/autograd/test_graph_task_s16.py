"""The backward pass's bookkeeping: ``register_multi_grad_hook``, final callbacks
(``Variable._execution_engine.queue_callback``) and ``GradientEdge``s, with gradients derived
by hand (tests/conformance/test_graph_task_s16_vs_torch.py runs the same scenarios on
PyTorch)."""
import pytest

import ember
from tests.autograd import graph_task_scenarios as scenarios


def test_multi_grad_hook_all_waits_for_what_this_backward_computes():
    # c = a * b: dc = 1, da = b, db = a; d is not in the graph; with inputs=(a,) b's grad is
    # not computed; grad() refuses to count leaves; after remove() nothing is called
    seen = scenarios.multi_grad_hook_all(ember)
    assert seen[:2] == [[[3.0, 4.0], [1.0, 2.0], [1.0, 1.0], None],
                        [[3.0, 4.0], None, [1.0, 1.0], None]]
    assert "currently running autograd.grad()" in seen[2] and len(seen) == 3


def test_multi_grad_hook_any_calls_once_per_backward_with_the_first_gradient():
    # c = b^2, b = 3a: c's gradient (ones) is computed first
    assert scenarios.multi_grad_hook_any(ember) == [[1.0, 1.0], [1.0, 1.0]]


def test_final_callbacks_run_after_the_leaves_accumulate():
    log = scenarios.final_callbacks(ember)
    assert log == [("hook", [1.0, 1.0]), ("first", [4.0, 10.0]), ("second", [4.0, 10.0]),
                   ("outside", "Final callbacks can only be installed during backward pass.")]


def test_gradient_edges_as_inputs_and_outputs():
    out = scenarios.gradient_edges(ember)
    assert out["wrt_y"] == [[3.0, 3.0, 3.0]]
    assert out["wrt_x_edge_and_y"] == [[6.0, -12.0, 18.0], [3.0, 3.0, 3.0]]
    assert out["from_edge_of_y"] == [[2.0, -4.0, 6.0]]
    assert out["output_nr"] == 0
    assert "does not require gradients" in out["no_grad_error"]


def test_engine_queries_outside_backward():
    assert ember._C._current_graph_task_id() == -1
    with pytest.raises(RuntimeError, match="only be called during the backward pass"):
        ember._C._will_engine_execute_node(ember.ones(1, requires_grad=True).grad_fn)
    with pytest.raises(ValueError, match="Expects mode to be one of"):
        ember.autograd.graph.register_multi_grad_hook([], print, mode="some")


def test_backward_passes_in_two_threads_are_tasks_of_their_own():
    """A thread's backward pass is not the running task of another thread (PyTorch runs each
    thread's backward as its own graph task)."""
    import threading
    in_hook, release = threading.Event(), threading.Event()
    seen = {}

    def hook_of_other_thread(grad):
        seen["other"] = ember._C._current_graph_task_id()
        in_hook.set()
        release.wait(10)
        return grad

    def other_thread():
        y = ember.ones(2, requires_grad=True) * 2
        y.register_hook(hook_of_other_thread)
        y.sum().backward()

    thread = threading.Thread(target=other_thread)
    thread.start()
    in_hook.wait(10)
    seen["main before"] = ember._C._current_graph_task_id()
    z = ember.ones(2, requires_grad=True) * 3
    z.register_hook(lambda g: seen.update(main=ember._C._current_graph_task_id()))
    z.sum().backward()
    release.set()
    thread.join()
    assert seen["main before"] == -1
    assert seen["main"] >= 0 and seen["other"] >= 0 and seen["main"] != seen["other"]
