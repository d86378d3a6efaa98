"""``torchvision.models.mobilenet``: the module that gathers MobileNetV2's and MobileNetV3's
public names under one name, as torchvision's does."""
from ember.vision.models.mobilenetv2 import *  # noqa: F401, F403
from ember.vision.models.mobilenetv2 import __all__ as _v2_names
from ember.vision.models.mobilenetv3 import *  # noqa: F401, F403
from ember.vision.models.mobilenetv3 import __all__ as _v3_names

__all__ = _v2_names + _v3_names
