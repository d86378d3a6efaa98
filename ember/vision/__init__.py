"""``ember.vision``: torchvision's API (datasets, io, transforms, models, utils) on ember.

Pillow is needed for images and is imported only when an image is touched.
"""
from ember.vision import datasets, io, models, transforms, utils  # noqa: F401

__version__ = "0.1.0"
