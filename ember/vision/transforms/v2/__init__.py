"""``ember.vision.transforms.v2`` (torchvision.transforms.v2): transforms over whole samples
(any pytree of images, videos, masks, boxes and other values), with the kernels in
``functional``. On plain tensors and PIL images they give v1's results for the same
parameters, and their random transforms draw as v1's do."""
from ember.vision.transforms.functional import InterpolationMode
from ember.vision.transforms.v2 import functional  # noqa: F401
from ember.vision.transforms.v2._augment import CutMix, MixUp
from ember.vision.transforms.v2._color import (
    ColorJitter,
    GaussianBlur,
    Grayscale,
    RandomAdjustSharpness,
    RandomAutocontrast,
    RandomChannelPermutation,
    RandomEqualize,
    RandomGrayscale,
    RandomInvert,
    RandomPhotometricDistort,
    RandomPosterize,
    RandomSolarize,
)
from ember.vision.transforms.v2._container import (
    Compose,
    RandomApply,
    RandomChoice,
    RandomOrder,
)
from ember.vision.transforms.v2._geometry import (
    CenterCrop,
    Pad,
    RandomAffine,
    RandomCrop,
    RandomHorizontalFlip,
    RandomIoUCrop,
    RandomResize,
    RandomResizedCrop,
    RandomRotation,
    RandomShortestSize,
    RandomVerticalFlip,
    RandomZoomOut,
    Resize,
    ScaleJitter,
)
from ember.vision.transforms.v2._misc import (
    ClampBoundingBoxes,
    ConvertBoundingBoxFormat,
    Identity,
    Lambda,
    Normalize,
    PILToTensor,
    SanitizeBoundingBoxes,
    SetClampingMode,
    ToDtype,
    ToImage,
    ToPILImage,
    ToPureTensor,
)
from ember.vision.transforms.v2._transform import Transform
from ember.vision.transforms.v2._utils import get_bounding_boxes, query_chw, query_size

__all__ = ["CenterCrop", "ClampBoundingBoxes", "ColorJitter", "Compose",
           "ConvertBoundingBoxFormat", "CutMix", "GaussianBlur", "Grayscale", "Identity",
           "InterpolationMode", "Lambda", "MixUp", "Normalize", "PILToTensor", "Pad",
           "RandomAdjustSharpness", "RandomAffine", "RandomApply", "RandomAutocontrast",
           "RandomChannelPermutation", "RandomChoice", "RandomCrop", "RandomEqualize",
           "RandomGrayscale", "RandomHorizontalFlip", "RandomInvert", "RandomIoUCrop",
           "RandomOrder", "RandomPhotometricDistort", "RandomPosterize", "RandomResize",
           "RandomResizedCrop", "RandomRotation", "RandomShortestSize", "RandomSolarize",
           "RandomVerticalFlip", "RandomZoomOut", "Resize", "SanitizeBoundingBoxes",
           "ScaleJitter", "SetClampingMode", "ToDtype", "ToImage", "ToPILImage", "ToPureTensor",
           "Transform", "get_bounding_boxes", "query_chw", "query_size"]
