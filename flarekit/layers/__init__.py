"""Keras layers that run inside flarekit models (preprocessing, augmentation)."""

from flarekit.layers.preprocessing import (
    ChannelNormalization,
    DiskMask,
    LogScaling,
    preprocessing_for,
)

__all__ = ["ChannelNormalization", "DiskMask", "LogScaling", "preprocessing_for"]
