"""Calling a transform runs its ``forward`` (torchvision's transforms are modules): a subclass
overriding ``forward`` and calling ``super().forward`` (pytorchvideo's Normalize of (C, T, H, W)
videos, which permutes to (T, C, H, W) around torchvision's) changes what the call does."""
from __future__ import annotations

import numpy as np

import ember
from ember.vision import transforms


class _VideoNormalize(transforms.Normalize):
    def forward(self, video):
        return super().forward(video.permute(1, 0, 2, 3)).permute(1, 0, 2, 3)


def test_a_subclass_forward_is_what_the_call_runs():
    video = np.random.default_rng(0).random((3, 4, 2, 5)).astype(np.float32)  # (C, T, H, W)
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)
    got = _VideoNormalize(mean, std)(ember.tensor(video))
    expected = (video - np.array(mean)[:, None, None, None]) / np.array(std)[:, None, None, None]
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6, atol=1e-6)


def test_compose_and_forward_agree():
    image = ember.tensor(np.random.default_rng(1).random((3, 4, 4)).astype(np.float32))
    normalize = transforms.Normalize((0.5, 0.5, 0.5), (0.2, 0.2, 0.2))
    np.testing.assert_array_equal(transforms.Compose([normalize])(image).numpy(),
                                  normalize.forward(image).numpy())
