"""A convolution with fewer filters than groups (none at all, say) is refused up front, with
PyTorch's message, instead of failing inside the kernel."""
import re

import pytest

import ember
import ember.nn.functional as F


@pytest.mark.parametrize("groups, weight_shape", [(1, (0, 8, 1, 1)), (2, (0, 4, 1, 1)),
                                                  (2, (1, 4, 1, 1))])
def test_conv2d_with_fewer_filters_than_groups(groups, weight_shape):
    message = (f"Given groups={groups}, expected weight to be at least {groups} at dimension 0, "
               f"but got weight of size {list(weight_shape)} instead")
    with pytest.raises(RuntimeError, match=re.escape(message)):
        F.conv2d(ember.randn(2, 8, 4, 4), ember.randn(*weight_shape), groups=groups)


def test_conv1d_without_filters():
    with pytest.raises(RuntimeError, match=r"expected weight to be at least 1 at dimension 0"):
        F.conv1d(ember.randn(2, 8, 4), ember.randn(0, 8, 3))
