"""Optical flow models (torchvision's ``models.optical_flow``): two (N, 3, H, W) images in,
a list of (N, 2, H, W) flow fields out, one per refinement step."""
from ember.vision.models.optical_flow.raft import (
    RAFT,
    Raft_Large_Weights,
    Raft_Small_Weights,
    raft_large,
    raft_small,
)

__all__ = ["RAFT", "Raft_Large_Weights", "Raft_Small_Weights", "raft_large", "raft_small"]
