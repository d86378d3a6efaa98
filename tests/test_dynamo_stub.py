"""ember._dynamo (``torch._dynamo``): reset and disable keep PyTorch code that manages
TorchDynamo running; nothing is compiled, so functions stay themselves."""
import ember
import ember._dynamo as dynamo


def test_reset_and_disable():
    def f(x):
        return x * 2
    assert dynamo.reset() is None
    assert dynamo.disable(f).__wrapped__ is f
    assert dynamo.disable(recursive=False)(f)(3) == 6
    compiled = ember.compile(f)
    dynamo.reset()  # a compiled function still runs after a reset
    assert compiled(ember.tensor([1.0, 2.0])).tolist() == [2.0, 4.0]
