"""Preprocessing for generative models, and its inverse.

A generative model works on normalised images (binned, log-scaled, then
standardised per channel). `generation_preprocessing` is the standard chain
with an optional binning step; `invert_preprocessing` undoes it, so that
what a model generates can be shown, and scored by a classifier trained on
physical images, in physical units. It walks the layers backwards:
`ChannelNormalization` -> `x * std + mean`; `LogScaling` -> `10**y`
(unsigned) or `sign(y) * floor * (10**|y| - 1)` (signed); layers that lose
information (`DiskMask`, binning) pass values through. Values clipped at a
log floor come back as the floor.

keras.ops only, so it runs on any backend.

Example:
    >>> channels = ("magnetogram", "euv_94")
    >>> layers = generation_preprocessing(
    ...     channels, synthetic.channel_declarations(channels), bin_factor=2)
    >>> physical = invert_preprocessing(layers, normalised)
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from flarekit.layers.preprocessing import (
    ChannelNormalization,
    LogScaling,
    _per_channel,
    preprocessing_for,
)


def generation_preprocessing(
    channels, declarations, bin_factor: int = 1, dataset: str | None = None
) -> list:
    """`preprocessing_for(channels, declarations)` with `bin_factor` x
    `bin_factor` binning after the disk mask: [DiskMask, (AveragePooling2D),
    LogScaling, ChannelNormalization].

    Binning averages physical values (after NaN -> 0), as summing detector
    pixels would, before the log; `bin_pixels` does the same in numpy.

    Args:
        channels: channel names in input order.
        declarations: mapping channel name -> {"unit", "kind", "floor"}, the
            dataset's channel declarations (see `preprocessing_for`).
        bin_factor: side of the square of pixels averaged into one.
        dataset: the dataset's name, for error messages.

    Raises:
        ValueError: bin_factor < 1, or a channel without a valid declaration.

    Example:
        >>> channels = ("magnetogram", "euv_94")
        >>> generation_preprocessing(
        ...     channels, synthetic.channel_declarations(channels), bin_factor=2)
    """
    if int(bin_factor) < 1:
        raise ValueError(f"bin_factor must be >= 1, got {bin_factor!r}.")
    mask, log_scaling, normalization = preprocessing_for(
        channels, declarations, dataset=dataset
    )
    binning = []
    if int(bin_factor) > 1:
        binning = [keras.layers.AveragePooling2D(int(bin_factor), name="binning")]
    return [mask, *binning, log_scaling, normalization]


def bin_pixels(images, bin_factor: int) -> np.ndarray:
    """Numpy twin of DiskMask + AveragePooling2D: NaN -> 0, then block means.

    Args:
        images: [n, height, width, channels], height and width divisible by
            bin_factor.

    Raises:
        ValueError: a size not divisible by bin_factor.
    """
    images = np.nan_to_num(
        np.asarray(images, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0
    )
    if bin_factor == 1:
        return images
    n, height, width, channels = images.shape
    if height % bin_factor or width % bin_factor:
        raise ValueError(
            f"Image size {(height, width)} is not divisible by {bin_factor}."
        )
    blocks = images.reshape(
        n, height // bin_factor, bin_factor, width // bin_factor, bin_factor, channels
    )
    return blocks.mean(axis=(2, 4))


def invert_log_scaling(values, floors, signed):
    """Inverse of `LogScaling(floors, signed)` on [..., channels] values.

    Example:
        >>> invert_log_scaling([[1.0, 2.0]], floors=[10.0, 1.0], signed=[True, False])
        # [[90.0, 100.0]]: 10 * (10**1 - 1) G, and 10**2
    """
    values = ops.cast(ops.convert_to_tensor(values), "float32")
    channels = values.shape[-1]
    floor_values = ops.convert_to_tensor(
        np.asarray(_per_channel(floors, channels, "floors"), dtype="float32")
    )
    signed_mask = ops.convert_to_tensor(
        np.asarray(_per_channel(signed, channels, "signed"), dtype=bool)
    )
    unsigned = ops.power(10.0, values)
    signed_values = (
        ops.sign(values) * floor_values * (ops.power(10.0, ops.abs(values)) - 1.0)
    )
    return ops.where(signed_mask, signed_values, unsigned)


def invert_preprocessing(layers, images):
    """Physical values from images normalised by `layers` (applied in order).

    Args:
        layers: the preprocessing layers, in the order they were applied
            (e.g. `[DiskMask, LogScaling, ChannelNormalization]`); built,
            with normalisation statistics adapted.
        images: normalised images [..., channels].

    Returns:
        Images in the units the first layer received.
    """
    values = ops.cast(ops.convert_to_tensor(images), "float32")
    for layer in reversed(list(layers)):
        if isinstance(layer, ChannelNormalization):
            values = values * (layer.channel_std + layer.epsilon) + layer.channel_mean
        elif isinstance(layer, LogScaling):
            values = invert_log_scaling(values, layer.floors, layer.signed)
    return values
