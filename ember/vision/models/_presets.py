"""The evaluation transforms that pretrained weights were validated with (torchvision's
``transforms._presets``); ``Weights.transforms()`` builds one."""
from __future__ import annotations

from typing import Sequence

from ember import dtypes as _dt
from ember import nn, stack
from ember._tensor import Tensor
from ember.vision.transforms import functional as F
from ember.vision.transforms.functional import InterpolationMode

__all__ = ["ImageClassification", "ObjectDetection", "OpticalFlow", "SemanticSegmentation",
           "VideoClassification"]


class ImageClassification(nn.Module):
    """Resize the smaller edge to ``resize_size``, centre-crop ``crop_size``, scale to float
    [0, 1] and normalise per channel with ``mean`` / ``std`` (ImageNet's by default).

    Accepts a PIL image or a (C, H, W) / (N, C, H, W) tensor, uint8 or float.

    Example::

        >>> preprocess = ImageClassification(crop_size=224)
        >>> preprocess(ember.randint(0, 256, (3, 300, 400), dtype=ember.uint8)).shape
        torch.Size([3, 224, 224])
    """

    def __init__(self, *, crop_size: int, resize_size: int = 256,
                 mean: Sequence[float] = (0.485, 0.456, 0.406),
                 std: Sequence[float] = (0.229, 0.224, 0.225),
                 interpolation: InterpolationMode = InterpolationMode.BILINEAR,
                 antialias: bool | None = True) -> None:
        super().__init__()
        self.crop_size = [crop_size]
        self.resize_size = [resize_size]
        self.mean = list(mean)
        self.std = list(std)
        self.interpolation = interpolation
        self.antialias = antialias

    def forward(self, img) -> Tensor:
        if isinstance(img, Tensor) and img.ndim == 4:
            return stack([self.forward(one) for one in img.unbind(0)])
        img = F.resize(img, self.resize_size, interpolation=self.interpolation,
                       antialias=self.antialias)
        img = F.center_crop(img, self.crop_size)
        if not isinstance(img, Tensor):
            img = F.pil_to_tensor(img)
        img = F.convert_image_dtype(img, _dt.float32)
        return F.normalize(img, mean=self.mean, std=self.std)

    def __repr__(self) -> str:
        fields = (f"crop_size={self.crop_size}", f"resize_size={self.resize_size}",
                  f"mean={self.mean}", f"std={self.std}", f"interpolation={self.interpolation}")
        return self.__class__.__name__ + "(" + "".join(f"\n    {f}" for f in fields) + "\n)"

    def describe(self) -> str:
        return ("Accepts ``PIL.Image``, batched ``(B, C, H, W)`` and single ``(C, H, W)`` image "
                "``torch.Tensor`` objects. The images are resized to "
                f"``resize_size={self.resize_size}`` using ``interpolation={self.interpolation}``, "
                f"followed by a central crop of ``crop_size={self.crop_size}``. Finally the values "
                "are first rescaled to ``[0.0, 1.0]`` and then normalized using "
                f"``mean={self.mean}`` and ``std={self.std}``.")


class SemanticSegmentation(nn.Module):
    """Resize the smaller edge to ``resize_size`` (None: keep the size), scale to float [0, 1]
    and normalise per channel with ``mean`` / ``std`` (ImageNet's by default); no crop, so the
    prediction covers the whole image.

    Accepts a PIL image or a (C, H, W) / (N, C, H, W) tensor, uint8 or float.

    Example::

        >>> preprocess = SemanticSegmentation(resize_size=520)
        >>> preprocess(ember.randint(0, 256, (3, 300, 400), dtype=ember.uint8)).shape
        torch.Size([3, 520, 693])
    """

    def __init__(self, *, resize_size: int | None,
                 mean: Sequence[float] = (0.485, 0.456, 0.406),
                 std: Sequence[float] = (0.229, 0.224, 0.225),
                 interpolation: InterpolationMode = InterpolationMode.BILINEAR,
                 antialias: bool | None = True) -> None:
        super().__init__()
        self.resize_size = [resize_size] if resize_size is not None else None
        self.mean = list(mean)
        self.std = list(std)
        self.interpolation = interpolation
        self.antialias = antialias

    def forward(self, img) -> Tensor:
        if self.resize_size is not None:
            img = F.resize(img, self.resize_size, interpolation=self.interpolation,
                           antialias=self.antialias)
        if not isinstance(img, Tensor):
            img = F.pil_to_tensor(img)
        img = F.convert_image_dtype(img, _dt.float32)
        return F.normalize(img, mean=self.mean, std=self.std)

    def __repr__(self) -> str:
        fields = (f"resize_size={self.resize_size}", f"mean={self.mean}", f"std={self.std}",
                  f"interpolation={self.interpolation}")
        return self.__class__.__name__ + "(" + "".join(f"\n    {f}" for f in fields) + "\n)"

    def describe(self) -> str:
        return ("Accepts ``PIL.Image``, batched ``(B, C, H, W)`` and single ``(C, H, W)`` image "
                "``torch.Tensor`` objects. The images are resized to "
                f"``resize_size={self.resize_size}`` using ``interpolation={self.interpolation}``. "
                "Finally the values are first rescaled to ``[0.0, 1.0]`` and then normalized "
                f"using ``mean={self.mean}`` and ``std={self.std}``.")


class ObjectDetection(nn.Module):
    """Scale an image to float [0, 1]; the detection models normalise and resize it themselves.

    Accepts a PIL image or a (C, H, W) / (N, C, H, W) tensor, uint8 or float.

    Example::

        >>> ObjectDetection()(ember.full((3, 2, 2), 255, dtype=ember.uint8)).max()
        tensor(1.)
    """

    def forward(self, img) -> Tensor:
        if not isinstance(img, Tensor):
            img = F.pil_to_tensor(img)
        return F.convert_image_dtype(img, _dt.float32)

    def __repr__(self) -> str:
        return self.__class__.__name__ + "()"

    def describe(self) -> str:
        return ("Accepts ``PIL.Image``, batched ``(B, C, H, W)`` and single ``(C, H, W)`` image "
                "``torch.Tensor`` objects. The images are rescaled to ``[0.0, 1.0]``.")


class VideoClassification(nn.Module):
    """Resize every frame to ``resize_size`` (without antialiasing, as the video weights were
    validated), centre-crop ``crop_size``, scale to float [0, 1], normalise per channel with
    ``mean`` / ``std`` (Kinetics-400's by default) and move time after channels.

    Accepts a (T, C, H, W) or (N, T, C, H, W) tensor, uint8 or float; returns (C, T, h, w) or
    (N, C, T, h, w).

    Example::

        >>> preprocess = VideoClassification(crop_size=(112, 112), resize_size=(128, 171))
        >>> preprocess(ember.randint(0, 256, (4, 3, 140, 180), dtype=ember.uint8)).shape
        torch.Size([3, 4, 112, 112])
    """

    def __init__(self, *, crop_size: tuple[int, int], resize_size: tuple[int] | tuple[int, int],
                 mean: tuple[float, ...] = (0.43216, 0.394666, 0.37645),
                 std: tuple[float, ...] = (0.22803, 0.22145, 0.216989),
                 interpolation: InterpolationMode = InterpolationMode.BILINEAR) -> None:
        super().__init__()
        self.crop_size = list(crop_size)
        self.resize_size = list(resize_size)
        self.mean = list(mean)
        self.std = list(std)
        self.interpolation = interpolation

    def forward(self, vid: Tensor) -> Tensor:
        single = vid.ndim < 5
        if single:
            vid = vid.unsqueeze(0)
        n, t, c = vid.shape[:3]
        frames = vid.reshape(-1, c, *vid.shape[3:])
        frames = F.resize(frames, self.resize_size, interpolation=self.interpolation,
                          antialias=False)
        frames = F.center_crop(frames, self.crop_size)
        frames = F.convert_image_dtype(frames, _dt.float32)
        frames = F.normalize(frames, mean=self.mean, std=self.std)
        vid = frames.reshape(n, t, c, *self.crop_size).permute(0, 2, 1, 3, 4)
        return vid.squeeze(0) if single else vid

    def __repr__(self) -> str:
        fields = (f"crop_size={self.crop_size}", f"resize_size={self.resize_size}",
                  f"mean={self.mean}", f"std={self.std}", f"interpolation={self.interpolation}")
        return self.__class__.__name__ + "(" + "".join(f"\n    {f}" for f in fields) + "\n)"

    def describe(self) -> str:
        return ("Accepts batched ``(B, T, C, H, W)`` and single ``(T, C, H, W)`` video frame "
                "``torch.Tensor`` objects. The frames are resized to "
                f"``resize_size={self.resize_size}`` using ``interpolation={self.interpolation}``, "
                f"followed by a central crop of ``crop_size={self.crop_size}``. Finally the values "
                "are first rescaled to ``[0.0, 1.0]`` and then normalized using "
                f"``mean={self.mean}`` and ``std={self.std}``. Finally the output dimensions are "
                "permuted to ``(..., C, T, H, W)`` tensors.")


class OpticalFlow(nn.Module):
    """Scale both images of a pair to float and map [0, 1] to [-1, 1] (the RAFT weights' input).

    Accepts PIL images or (C, H, W) / (N, C, H, W) tensors, uint8 or float.

    Example::

        >>> img1, img2 = OpticalFlow()(ember.zeros(3, 8, 8), ember.ones(3, 8, 8))
        >>> img1.min(), img2.max()
        (tensor(-1.), tensor(1.))
    """

    def forward(self, img1, img2) -> tuple[Tensor, Tensor]:
        return self._one(img1), self._one(img2)

    @staticmethod
    def _one(img) -> Tensor:
        if not isinstance(img, Tensor):
            img = F.pil_to_tensor(img)
        img = F.convert_image_dtype(img, _dt.float32)
        return F.normalize(img, mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5]).contiguous()

    def __repr__(self) -> str:
        return self.__class__.__name__ + "()"

    def describe(self) -> str:
        return ("Accepts ``PIL.Image``, batched ``(B, C, H, W)`` and single ``(C, H, W)`` image "
                "``torch.Tensor`` objects. The images are rescaled to ``[-1.0, 1.0]``.")
