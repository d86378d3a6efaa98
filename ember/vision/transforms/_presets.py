"""The inference presets that pretrained weights' ``transforms()`` return, where torchvision
keeps them (``torchvision.transforms._presets``)."""
from ember.vision.models._presets import (
    ImageClassification,
    ObjectDetection,
    OpticalFlow,
    SemanticSegmentation,
    VideoClassification,
)

__all__ = ["ImageClassification", "ObjectDetection", "OpticalFlow", "SemanticSegmentation",
           "VideoClassification"]
