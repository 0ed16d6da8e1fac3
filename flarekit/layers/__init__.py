"""Keras layers that run inside flarekit models (preprocessing, augmentation)."""

from flarekit.layers.augmentation import (
    HemisphereFlip,
    LogIntensityJitter,
    RandomResizedCrop,
    build_augmenter,
)
from flarekit.layers.generative import (
    bin_pixels,
    generation_preprocessing,
    invert_preprocessing,
)
from flarekit.layers.preprocessing import (
    CHANNEL_KINDS,
    ChannelNormalization,
    DiskMask,
    LogScaling,
    channel_log_scaling,
    preprocessing_for,
)

__all__ = [
    "CHANNEL_KINDS",
    "ChannelNormalization",
    "DiskMask",
    "HemisphereFlip",
    "LogIntensityJitter",
    "LogScaling",
    "RandomResizedCrop",
    "bin_pixels",
    "build_augmenter",
    "channel_log_scaling",
    "generation_preprocessing",
    "invert_preprocessing",
    "preprocessing_for",
]
