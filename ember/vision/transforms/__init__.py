"""Image transforms (torchvision.transforms): classes here, functions in ``functional``."""
from ember.vision.transforms import functional  # noqa: F401
from ember.vision.transforms.functional import InterpolationMode
from ember.vision.transforms.transforms import (
                                                CenterCrop,
                                                ColorJitter,
                                                Compose,
                                                ConvertImageDtype,
                                                GaussianBlur,
                                                Grayscale,
                                                Lambda,
                                                Normalize,
                                                Pad,
                                                PILToTensor,
                                                RandomAffine,
                                                RandomApply,
                                                RandomChoice,
                                                RandomCrop,
                                                RandomErasing,
                                                RandomGrayscale,
                                                RandomHorizontalFlip,
                                                RandomOrder,
                                                RandomResizedCrop,
                                                RandomRotation,
                                                RandomVerticalFlip,
                                                Resize,
                                                ToPILImage,
                                                ToTensor,
)

__all__ = ["CenterCrop", "ColorJitter", "Compose", "ConvertImageDtype", "GaussianBlur",
           "Grayscale",
           "InterpolationMode", "Lambda", "Normalize", "PILToTensor", "Pad", "RandomAffine",
           "RandomApply",
           "RandomChoice", "RandomCrop", "RandomErasing", "RandomGrayscale",
           "RandomHorizontalFlip", "RandomOrder", "RandomResizedCrop", "RandomRotation",
           "RandomVerticalFlip", "Resize", "ToPILImage", "ToTensor"]
