"""An Optimizer subclass that wraps another without running ``Optimizer.__init__`` (as
accelerate's AcceleratedOptimizer does) steps like PyTorch's: PyTorch installs the step hooks
in ``__init__``, so the wrapper's own step runs without them, and the wrapped optimizer's
hooks still run around its step."""
import ember


class Wrapper(ember.optim.Optimizer):
    def __init__(self, optimizer):
        self.optimizer = optimizer

    @property
    def param_groups(self):
        return self.optimizer.param_groups

    def step(self, closure=None):
        return self.optimizer.step(closure)


def test_wrapper_without_optimizer_init_steps_its_inner_optimizer():
    weight = ember.nn.Parameter(ember.ones(3))
    inner = ember.optim.SGD([weight], lr=0.5)
    calls = []
    inner.register_step_pre_hook(lambda opt, args, kwargs: calls.append("pre"))
    inner.register_step_post_hook(lambda opt, args, kwargs: calls.append("post"))
    weight.grad = ember.full((3,), 2.0)
    Wrapper(inner).step()
    assert weight.tolist() == [0.0, 0.0, 0.0] and calls == ["pre", "post"]
