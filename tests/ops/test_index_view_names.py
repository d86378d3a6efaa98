"""The node a basic-indexing view records is named as PyTorch names it (tutorials print
``grad_fn=<SelectBackward0>`` for ``weight[:, i]``): the last step that changes something."""
import pytest

import ember


@pytest.mark.parametrize("index,name", [
    ((slice(None), 3), "SelectBackward0"), (slice(None, 2), "SliceBackward0"),
    (slice(None), "SliceBackward0"), ((slice(None), slice(1, 3)), "SliceBackward0"),
    ((1, slice(None, 2)), "SliceBackward0"), ((slice(None, 2), 1), "SelectBackward0"),
    ((Ellipsis, 1), "SelectBackward0"), (None, "UnsqueezeBackward0"),
    ((1, None), "UnsqueezeBackward0"), (Ellipsis, "AliasBackward0"),
    ((slice(None), slice(None)), "AliasBackward0"), ((slice(0, 3), slice(0, 5)), "AliasBackward0")])
def test_view_node_name(index, name):
    p = ember.nn.Parameter(ember.ones(3, 5))
    view = p[index]
    assert view.grad_fn.name() == name
    view.sum().backward()  # every one of them is still the same differentiable view
    assert p.grad.sum().item() == view.numel()
