"""Image transforms (torchvision.transforms): classes here, functions in ``functional``."""
from ember.vision.transforms import functional  # noqa: F401
from ember.vision.transforms.autoaugment import (
    AugMix,
    AutoAugment,
    AutoAugmentPolicy,
    RandAugment,
    TrivialAugmentWide,
)
from ember.vision.transforms.functional import InterpolationMode
from ember.vision.transforms.transforms import (
    CenterCrop,
    ColorJitter,
    Compose,
    ConvertImageDtype,
    ElasticTransform,
    FiveCrop,
    GaussianBlur,
    Grayscale,
    Lambda,
    LinearTransformation,
    Normalize,
    Pad,
    PILToTensor,
    RandomAdjustSharpness,
    RandomAffine,
    RandomApply,
    RandomAutocontrast,
    RandomChoice,
    RandomCrop,
    RandomEqualize,
    RandomErasing,
    RandomGrayscale,
    RandomHorizontalFlip,
    RandomInvert,
    RandomOrder,
    RandomPerspective,
    RandomPosterize,
    RandomResizedCrop,
    RandomRotation,
    RandomSolarize,
    RandomVerticalFlip,
    Resize,
    TenCrop,
    ToPILImage,
    ToTensor,
)

__all__ = ["AutoAugment", "AutoAugmentPolicy", "AugMix", "CenterCrop", "ColorJitter", "Compose",
           "ConvertImageDtype", "ElasticTransform", "FiveCrop", "GaussianBlur", "Grayscale",
           "InterpolationMode", "Lambda", "LinearTransformation", "Normalize", "PILToTensor",
           "Pad", "RandAugment", "RandomAdjustSharpness", "RandomAffine", "RandomApply",
           "RandomAutocontrast", "RandomChoice", "RandomCrop", "RandomEqualize", "RandomErasing",
           "RandomGrayscale", "RandomHorizontalFlip", "RandomInvert", "RandomOrder",
           "RandomPerspective", "RandomPosterize", "RandomResizedCrop", "RandomRotation",
           "RandomSolarize", "RandomVerticalFlip", "Resize", "TenCrop", "ToPILImage", "ToTensor",
           "TrivialAugmentWide"]


def __getattr__(name: str):
    # v2 works on tv_tensors, loaded on first use (see ember/vision/__init__.py)
    if name == "v2":
        import importlib
        return importlib.import_module("ember.vision.transforms.v2")
    raise AttributeError(f"module 'ember.vision.transforms' has no attribute {name!r}")
