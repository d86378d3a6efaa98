"""VisionDataset: the base class holding root, transform and target_transform."""
from __future__ import annotations

import os
from typing import Any, Callable

from ember.utils.data import Dataset


class StandardTransform:
    def __init__(self, transform: Callable | None = None,
                 target_transform: Callable | None = None) -> None:
        self.transform = transform
        self.target_transform = target_transform

    def __call__(self, input: Any, target: Any) -> tuple:  # noqa: A002
        if self.transform is not None:
            input = self.transform(input)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return input, target


class VisionDataset(Dataset):
    """A data set under ``root`` whose samples pass through ``transform``/``target_transform``
    (or one joint ``transforms(image, target)``)."""

    _repr_indent = 4

    def __init__(self, root: str | None = None, transforms: Callable | None = None,
                 transform: Callable | None = None,
                 target_transform: Callable | None = None) -> None:
        self.root = os.path.expanduser(root) if isinstance(root, (str, os.PathLike)) else root
        if transforms is not None and (transform is not None or target_transform is not None):
            raise ValueError("Only transforms or transform/target_transform can be passed as "
                             "argument")
        self.transform = transform
        self.target_transform = target_transform
        if transforms is None:
            transforms = StandardTransform(transform, target_transform)
        self.transforms = transforms

    def __len__(self) -> int:
        raise NotImplementedError

    def _apply_transforms(self, img: Any, target: Any) -> tuple:
        """``(transform(img), target_transform(target))``, each only when set; read at call
        time so that assigning ``dataset.transform`` after construction takes effect."""
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def _array_sample(self, array: Any, target: Any, mode: str | None = None) -> tuple:
        """The sample of an in-memory data set: ``array`` (HxW or HxWxC uint8) as a PIL image,
        then both transforms."""
        from PIL import Image
        return self._apply_transforms(Image.fromarray(array, mode=mode), target)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"Number of datapoints: {self.__len__()}"]
        if self.root is not None:
            lines.append(f"Root location: {self.root}")
        lines += [line for line in self.extra_repr().splitlines() if line]
        if self.transform is not None:
            lines.append(f"Transform: {self.transform!r}".replace("\n", "\n    "))
        if self.target_transform is not None:
            lines.append(f"Target transform: {self.target_transform!r}")
        pad = " " * self._repr_indent
        return "\n".join([f"Dataset {self.__class__.__name__}"] + [pad + l for l in lines])


def not_found_error(hint: str) -> RuntimeError:
    """The error every data set raises when its files are missing or fail their check;
    ``hint`` says where the files are expected."""
    return RuntimeError("Dataset not found or corrupted. You can use download=True to download "
                        f"it, or {hint}")
