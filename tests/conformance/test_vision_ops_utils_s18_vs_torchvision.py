"""split_normalization_params against torchvision's: the same parameters, in the same order."""
import pytest

import ember.vision as ember_vision
from ember.vision.ops._utils import split_normalization_params
from tests.conformance.real_torchvision import real_torchvision


@pytest.mark.parametrize("arch", ["resnet18", "mobilenet_v3_small"])
def test_split_normalization_params_matches_torchvision(arch):
    tv = real_torchvision()
    from torchvision.ops._utils import split_normalization_params as tv_split
    ours, theirs = ember_vision.models.get_model(arch), tv.models.get_model(arch)
    our_names = {id(p): n for n, p in ours.named_parameters()}
    their_names = {id(p): n for n, p in theirs.named_parameters()}
    for our_group, their_group in zip(split_normalization_params(ours), tv_split(theirs),
                                      strict=True):
        assert [our_names[id(p)] for p in our_group] == [their_names[id(p)] for p in their_group]
