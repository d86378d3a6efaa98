"""The models' building blocks live in :mod:`ember.vision.ops` (torchvision's ``ops.misc`` and
``ops.stochastic_depth``); this module keeps the models' imports short."""
from ember.vision.ops.misc import MLP, Conv2dNormActivation, Permute, SqueezeExcitation
from ember.vision.ops.stochastic_depth import StochasticDepth, stochastic_depth

__all__ = ["Conv2dNormActivation", "MLP", "Permute", "SqueezeExcitation", "StochasticDepth",
           "stochastic_depth"]
