"""ember.futures (torch.futures): collect_all completes once every future has; wait_all returns
their results in order (oracle: the values set)."""
import ember
from ember.futures import Future, collect_all, wait_all


def test_collect_all_and_wait_all():
    a, b = Future(), Future()
    both = collect_all([a, b])
    assert not both.done()
    a.set_result(1)
    assert not both.done()
    b.set_result(2)
    assert both.done() and [f.wait() for f in both.wait()] == [1, 2]
    assert wait_all([a, b]) == [1, 2]
    assert collect_all([]).wait() == []


def test_future_is_generic_and_a_top_level_name():
    # libraries annotate ``-> Future[Tensor]`` at import time and check
    # ``isinstance(x, torch.Future)`` (captum's common utilities and ablations)
    alias = Future[ember.Tensor]
    assert alias.__origin__ is Future and alias.__args__ == (ember.Tensor,)
    assert ember.Future is Future
