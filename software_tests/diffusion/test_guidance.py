"""Classifier-free guidance: the mix, and one call on a doubled batch."""

import numpy as np
import pytest
from keras import ops

from flarekit.diffusion import classifier_free_guidance, guide


def test_guide_is_unconditional_plus_scaled_difference():
    assert guide(2.0, 1.0, 3.0) == 4.0  # 1 + 3 * (2 - 1)
    assert guide(2.0, 1.0, 1.0) == 2.0  # scale 1 = conditional
    assert guide(2.0, 1.0, 0.0) == 1.0  # scale 0 = unconditional


def test_guidance_calls_the_network_once_with_condition_then_null():
    calls = []

    def predict(images, times, condition):
        calls.append(ops.convert_to_numpy(condition).tolist())
        # A "network" whose output is its condition, broadcast over the image.
        return ops.reshape(ops.cast(condition, "float32"), (-1, 1, 1, 1)) + 0 * images

    images = np.zeros((2, 1, 1, 1), "float32")
    guided = classifier_free_guidance(
        predict,
        images,
        np.array([0.5, 0.5], "float32"),
        np.array([4, 5]),
        np.array([6, 6]),
        2.0,
    )
    assert calls == [[4, 5, 6, 6]]
    # null + 2 * (class - null): 6 + 2 * (4 - 6) = 2, 6 + 2 * (5 - 6) = 4.
    np.testing.assert_allclose(ops.convert_to_numpy(guided).ravel(), [2.0, 4.0])


def test_guided_loop_needs_a_null_condition():
    from flarekit.diffusion import get_sampler, sample_loop

    with pytest.raises(ValueError, match="null_condition"):
        sample_loop(
            lambda x, t, c: x,
            get_sampler("ddim"),
            np.zeros((1, 1, 1, 1), "float32"),
            [1.0, 0.0],
            condition=np.array([1]),
            guidance_scale=2.0,
        )
