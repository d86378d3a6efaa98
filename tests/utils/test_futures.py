"""ember.futures (torch.futures): collect_all completes once every future has; wait_all returns
their results in order (oracle: the values set)."""
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
