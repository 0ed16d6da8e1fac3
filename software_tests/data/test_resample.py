"""One resampler for every route: block means for whole factors, NaN-aware
box filter and bilinear otherwise, edges clamped or missing as asked."""

import numpy as np
import pytest

from flarekit.data.resample import resample, sample_plane


def test_whole_factors_take_block_means_without_the_nan_pixels():
    image = np.arange(16, dtype=np.float64).reshape(4, 4)
    np.testing.assert_allclose(resample(image, 2, 2), [[2.5, 4.5], [10.5, 12.5]])
    image[0, 0] = np.nan
    small = resample(image, 2, 2)
    assert small[0, 0] == pytest.approx((1 + 4 + 5) / 3)
    image[:2, :2] = np.nan
    assert np.isnan(resample(image, 2, 2)[0, 0])
    # Channels resample alike and apart.
    stack = np.stack([np.ones((6, 6)), 2 * np.ones((6, 6))], axis=-1)
    np.testing.assert_allclose(resample(stack, 3, 3), np.stack(
        [np.ones((3, 3)), 2 * np.ones((3, 3))], axis=-1))


def test_other_sizes_interpolate_and_keep_a_smooth_field():
    rows, cols = np.mgrid[:30, :40].astype(np.float64)
    plane = 3 * rows + 2 * cols
    small = resample(plane, 12, 16)  # 2.5 x: box filter then bilinear
    assert small.shape == (12, 16) and small.dtype == np.float32
    # A linear field stays linear away from the clamped edges.
    expected = 3 * ((np.arange(12) + 0.5) * 2.5 - 0.5)[:, None] + 2 * (
        (np.arange(16) + 0.5) * 2.5 - 0.5)[None, :]
    np.testing.assert_allclose(small[2:-2, 2:-2], expected[2:-2, 2:-2], rtol=1e-6)
    large = resample(plane, 60, 80)
    assert np.isfinite(large).all() and large.min() >= plane.min() - 1e-9


def test_outside_the_image_is_clamped_or_missing():
    plane = np.ones((8, 8))
    rows = np.array([[-3.0, 4.0, 20.0]])
    cols = np.array([[4.0, 4.0, 4.0]])
    np.testing.assert_allclose(sample_plane(plane, rows, cols, 1.0), [[1, 1, 1]])
    missing = sample_plane(plane, rows, cols, 1.0, outside="constant")
    assert np.isnan(missing[0, 0]) and missing[0, 1] == 1 and np.isnan(missing[0, 2])


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="shape"):
        resample(np.zeros((2, 2, 2, 2)), 1, 1)
    with pytest.raises(ValueError, match="size >= 1"):
        resample(np.zeros((4, 4)), 0, 2)
    with pytest.raises(ValueError, match="outside"):
        sample_plane(np.zeros((4, 4)), np.zeros(1), np.zeros(1), 1.0, outside="wrap")
