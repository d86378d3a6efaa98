"""``ember.functional`` is ``torch.functional``: the same functions as the top-level names
(``import torch.functional as F`` appears in PyTorch's tutorials)."""
import ember
import ember.functional as F
from ember.compat import torch_is_ember


def test_names_are_the_top_level_functions():
    assert F.__all__ and all(getattr(F, n) is getattr(ember, n) for n in F.__all__)
    x = ember.tensor([[1., 2.], [3., 4.]])
    assert ember.equal(F.einsum("ij,jk->ik", x, x), x @ x)


def test_importable_as_torch_functional():
    with torch_is_ember():
        import torch.functional as tf
        assert tf.meshgrid is ember.meshgrid
