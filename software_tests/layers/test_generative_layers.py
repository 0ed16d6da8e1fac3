"""Binning and the inverse of the preprocessing chain."""

import numpy as np
import pytest
from keras import ops

from flarekit.data import synthetic
from flarekit.layers import bin_pixels, generation_preprocessing, invert_preprocessing
from flarekit.layers.generative import invert_log_scaling
from flarekit.layers.preprocessing import LogScaling


def test_invert_log_scaling_hand_values():
    # Signed, floor 10: 10 * (10**1 - 1) = 90 G; unsigned: 10**2 = 100.
    values = ops.convert_to_numpy(
        invert_log_scaling([[1.0, 2.0]], [10.0, 1.0], [True, False])
    )
    np.testing.assert_allclose(values, [[90.0, 100.0]], rtol=1e-6)


def test_log_scaling_then_its_inverse_is_the_identity_above_the_floor():
    layer = LogScaling(floors=[10.0, 1.0], signed=[True, False])
    values = np.array([[[[-350.0, 5.0], [0.5, 1200.0]]]], "float32")
    back = invert_preprocessing([layer], layer(values))
    np.testing.assert_allclose(ops.convert_to_numpy(back), values, rtol=1e-5)


def test_bin_pixels_is_the_twin_of_disk_mask_plus_pooling():
    images = np.arange(32, dtype="float32").reshape(1, 4, 4, 2)
    images[0, 0, 0, 0] = np.nan
    channels = ("magnetogram", "euv_94")
    layers = generation_preprocessing(
        channels, synthetic.channel_declarations(channels), bin_factor=2
    )
    pooled = images
    for layer in layers[:2]:  # DiskMask, binning
        pooled = layer(pooled)
    np.testing.assert_allclose(bin_pixels(images, 2), ops.convert_to_numpy(pooled))
    # The NaN counts as 0: top-left block of channel 0 is (0 + 2 + 8 + 10) / 4 = 5.
    assert bin_pixels(images, 2)[0, 0, 0, 0] == pytest.approx(5.0)


def test_bad_binning_raises():
    with pytest.raises(ValueError, match="0"):
        generation_preprocessing(
            ("euv_94",), synthetic.channel_declarations(("euv_94",)), bin_factor=0
        )
    with pytest.raises(ValueError, match="divisible"):
        bin_pixels(np.zeros((1, 5, 5, 1)), 2)
