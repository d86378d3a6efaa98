"""The weight records the video classifiers share: Kinetics-400 checkpoints evaluated on
clips preprocessed by :class:`VideoClassification`."""
from __future__ import annotations

import functools
from typing import Any

from ember.vision.models._api import Weights
from ember.vision.models._meta import _KINETICS400_CATEGORIES
from ember.vision.models._presets import VideoClassification

_RECIPE = "https://github.com/pytorch/vision/tree/main/references/video_classification"


def _kinetics400_weights(url: str, num_params: int, crop_size: tuple[int, int],
                         resize_size: tuple[int, ...],
                         mean_std: tuple[tuple[float, ...], tuple[float, ...]] | None = None,
                         **meta: Any) -> Weights:
    """The record of a Kinetics-400 classifier's weights, evaluated on clips normalised with
    ``mean_std`` (default: the preset's); ``meta`` adds or overrides keys (``min_size``,
    ``min_temporal_size``, ``recipe``)."""
    normalization = {} if mean_std is None else {"mean": mean_std[0], "std": mean_std[1]}
    transforms = functools.partial(VideoClassification, crop_size=crop_size,
                                   resize_size=resize_size, **normalization)
    return Weights(url=url, transforms=transforms,
                   meta={"min_size": (1, 1), "categories": _KINETICS400_CATEGORIES,
                         "recipe": _RECIPE, "num_params": num_params, **meta})
