"""``ember.vision.transforms.v2`` (torchvision.transforms.v2): transforms over whole samples
(any pytree of images, videos, masks, boxes and other values), with the kernels in
``functional``. On plain tensors and PIL images they give v1's results for the same
parameters, and their random transforms draw as v1's do."""
from ember.vision.transforms.functional import InterpolationMode
from ember.vision.transforms.v2 import functional  # noqa: F401
from ember.vision.transforms.v2._color import (
    ColorJitter,
    GaussianBlur,
    Grayscale,
    RandomAdjustSharpness,
    RandomAutocontrast,
    RandomEqualize,
    RandomGrayscale,
    RandomInvert,
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
    RandomResizedCrop,
    RandomRotation,
    RandomVerticalFlip,
    Resize,
)
from ember.vision.transforms.v2._misc import (
    ClampBoundingBoxes,
    ConvertBoundingBoxFormat,
    Identity,
    Lambda,
    Normalize,
    PILToTensor,
    SanitizeBoundingBoxes,
    ToDtype,
    ToImage,
    ToPILImage,
    ToPureTensor,
)
from ember.vision.transforms.v2._transform import Transform

__all__ = ["CenterCrop", "ClampBoundingBoxes", "ColorJitter", "Compose",
           "ConvertBoundingBoxFormat", "GaussianBlur", "Grayscale", "Identity",
           "InterpolationMode", "Lambda", "Normalize", "PILToTensor", "Pad",
           "RandomAdjustSharpness", "RandomAffine", "RandomApply", "RandomAutocontrast",
           "RandomChoice", "RandomCrop", "RandomEqualize", "RandomGrayscale",
           "RandomHorizontalFlip", "RandomInvert", "RandomOrder", "RandomPosterize",
           "RandomResizedCrop", "RandomRotation", "RandomSolarize", "RandomVerticalFlip",
           "Resize", "SanitizeBoundingBoxes", "ToDtype", "ToImage", "ToPILImage",
           "ToPureTensor", "Transform"]
