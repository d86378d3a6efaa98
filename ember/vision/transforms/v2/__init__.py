"""``ember.vision.transforms.v2`` (torchvision.transforms.v2): transforms over whole samples
(any pytree of images, videos, masks, boxes and other values), with the kernels in
``functional``. PIL images give v1's (PIL's) results for the same parameters; tensor images
follow torchvision v2's own kernels, whose colour arithmetic and fill blending can round a
level away from v1's. Random transforms draw as v1's do."""
from ember.vision.transforms.functional import InterpolationMode
from ember.vision.transforms.v2 import functional  # noqa: F401
from ember.vision.transforms.v2._augment import JPEG, CutMix, MixUp, RandomErasing
from ember.vision.transforms.v2._auto_augment import (
    AugMix,
    AutoAugment,
    AutoAugmentPolicy,
    RandAugment,
    TrivialAugmentWide,
)
from ember.vision.transforms.v2._color import (
    RGB,
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
    ElasticTransform,
    FiveCrop,
    Pad,
    RandomAffine,
    RandomCrop,
    RandomHorizontalFlip,
    RandomIoUCrop,
    RandomPerspective,
    RandomResize,
    RandomResizedCrop,
    RandomRotation,
    RandomShortestSize,
    RandomVerticalFlip,
    RandomZoomOut,
    Resize,
    ScaleJitter,
    TenCrop,
)
from ember.vision.transforms.v2._misc import (
    ClampBoundingBoxes,
    ClampKeyPoints,
    ConvertBoundingBoxFormat,
    ConvertImageDtype,
    GaussianNoise,
    Identity,
    Lambda,
    LinearTransformation,
    Normalize,
    PILToTensor,
    SanitizeBoundingBoxes,
    SanitizeKeyPoints,
    SetClampingMode,
    ToDtype,
    ToImage,
    ToPILImage,
    ToPureTensor,
    ToTensor,
    UniformTemporalSubsample,
)
from ember.vision.transforms.v2._transform import Transform
from ember.vision.transforms.v2._utils import (
    check_type,
    get_bounding_boxes,
    get_keypoints,
    has_all,
    has_any,
    query_chw,
    query_size,
)

__all__ = ["AugMix", "AutoAugment", "AutoAugmentPolicy", "CenterCrop", "ClampBoundingBoxes",
           "ClampKeyPoints", "ColorJitter", "Compose", "ConvertBoundingBoxFormat",
           "ConvertImageDtype", "CutMix", "ElasticTransform", "FiveCrop", "GaussianBlur",
           "GaussianNoise", "Grayscale", "Identity", "InterpolationMode", "JPEG", "Lambda",
           "LinearTransformation", "MixUp", "Normalize", "PILToTensor", "Pad", "RGB",
           "RandAugment", "RandomAdjustSharpness", "RandomAffine", "RandomApply",
           "RandomAutocontrast", "RandomChannelPermutation", "RandomChoice", "RandomCrop",
           "RandomEqualize", "RandomErasing", "RandomGrayscale", "RandomHorizontalFlip",
           "RandomInvert", "RandomIoUCrop", "RandomOrder", "RandomPerspective",
           "RandomPhotometricDistort", "RandomPosterize", "RandomResize", "RandomResizedCrop",
           "RandomRotation", "RandomShortestSize", "RandomSolarize", "RandomVerticalFlip",
           "RandomZoomOut", "Resize", "SanitizeBoundingBoxes", "SanitizeKeyPoints", "ScaleJitter",
           "SetClampingMode", "TenCrop", "ToDtype", "ToImage", "ToPILImage", "ToPureTensor",
           "ToTensor", "Transform", "TrivialAugmentWide", "UniformTemporalSubsample", "check_type",
           "get_bounding_boxes", "get_keypoints", "has_all", "has_any", "query_chw", "query_size"]
