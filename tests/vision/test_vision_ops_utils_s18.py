"""torchvision.ops._utils.split_normalization_params: normalization-layer parameters apart."""
import pytest

import ember
from ember import nn
from ember.vision.ops._utils import split_normalization_params


class _WithOwnParameter(nn.Module):
    """A container holding a parameter of its own beside its children."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(ember.ones(3))
        self.conv = nn.Conv2d(3, 3, 1)
        self.bn = nn.BatchNorm2d(3)
        self.gn = nn.GroupNorm(1, 3)
        self.frozen = nn.LayerNorm(3)
        self.frozen.weight.requires_grad_(False)


def _ids(params):
    return [id(p) for p in params]


def test_split_puts_norm_leaves_apart_and_skips_frozen():
    model = _WithOwnParameter()
    norm, other = split_normalization_params(model)
    assert _ids(norm) == _ids([model.bn.weight, model.bn.bias, model.gn.weight, model.gn.bias,
                               model.frozen.bias])
    assert _ids(other) == _ids([model.scale, model.conv.weight, model.conv.bias])


def test_split_with_given_classes():
    model = _WithOwnParameter()
    norm, other = split_normalization_params(model, [nn.Conv2d])
    assert _ids(norm) == _ids([model.conv.weight, model.conv.bias])
    assert len(other) == 1 + 4 + 1
    with pytest.raises(ValueError, match="not a subclass of nn.Module"):
        split_normalization_params(model, [int])
