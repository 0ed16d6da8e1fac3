"""The preprocessing layers' contract: same output called directly, inside
tf.data unbatched and batched, and after a save/load round trip."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from flarekit.data import synthetic
from flarekit.layers import ChannelNormalization, DiskMask, LogScaling, preprocessing_for


def _images(batch=4, size=8, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.normal(0, 300, (batch, size, size, channels)).astype("float32")
    images[..., 1:] = np.abs(images[..., 1:])  # intensities are positive
    images[:, 0, 0, 0] = np.nan  # HMI writes NaN off the limb
    return images


LAYERS = {
    "disk_mask": lambda: DiskMask(radius_fraction=0.8),
    "log_scaling": lambda: LogScaling(floors=[10.0, 1.0, 1.0], signed=[True, False, False]),
    "normalization": lambda: ChannelNormalization(mean=[1.0, 2.0, 3.0], std=[2.0, 3.0, 4.0]),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_same_output_direct_unbatched_and_batched(name):
    layer = LAYERS[name]()
    images = np.nan_to_num(_images()) if name != "disk_mask" else _images()
    direct = keras.ops.convert_to_numpy(layer(images))
    unbatched = np.stack(
        list(tf.data.Dataset.from_tensor_slices(images).map(layer).as_numpy_iterator())
    )
    batched = np.concatenate(
        list(tf.data.Dataset.from_tensor_slices(images).batch(3).map(layer).as_numpy_iterator())
    )
    np.testing.assert_allclose(unbatched, direct, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(batched, direct, rtol=1e-6, atol=1e-6)
    assert np.all(np.isfinite(direct))


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_config_round_trip(name):
    layer = LAYERS[name]()
    clone = type(layer).from_config(layer.get_config())
    images = np.nan_to_num(_images())
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(clone(images)), keras.ops.convert_to_numpy(layer(images))
    )


def test_disk_mask_values():
    images = np.ones((1, 4, 4, 1), "float32")
    images[0, 1, 1, 0] = np.nan
    out = keras.ops.convert_to_numpy(DiskMask(fill_value=-1.0)(images))
    assert out[0, 1, 1, 0] == -1.0 and out[0, 2, 2, 0] == 1.0
    # Corners of a 4x4 frame lie outside a disk of radius 0.9 half-widths.
    out = keras.ops.convert_to_numpy(DiskMask(radius_fraction=0.9)(np.ones((1, 4, 4, 1), "float32")))
    assert out[0, 0, 0, 0] == 0.0 and out[0, 1, 1, 0] == 1.0


def test_log_scaling_hand_worked():
    layer = LogScaling(floors=[10.0, 1.0], signed=[True, False])
    x = np.array([[[[-990.0, 100.0], [0.0, 0.5]]]], "float32")
    out = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(out[0, 0, 0], [-2.0, 2.0], rtol=1e-6)  # -log10(1+99), log10(100)
    np.testing.assert_allclose(out[0, 0, 1], [0.0, 0.0], atol=1e-7)  # sign(0)=0; floor 1 -> 0


def test_normalization_adapt_ignores_masked_pixels():
    layer = ChannelNormalization(ignore_value=0.0)
    data = np.zeros((10, 4, 4, 2), "float32")
    data[:, :2] = np.array([3.0, -1.0])  # half the pixels carry values, half are "sky"
    data[5:, :2] = np.array([5.0, 1.0])
    mean, std = layer.adapt([data[:5], data[5:]])
    np.testing.assert_allclose(mean, [4.0, 0.0])
    np.testing.assert_allclose(std, [1.0, 1.0])
    with pytest.raises(ValueError, match="no valid pixel"):
        ChannelNormalization().adapt([np.zeros((2, 2, 2, 1))])


def test_model_with_preprocessing_saves_and_loads(tmp_path):
    channels = ["magnetogram", "continuum", "euv_171"]
    layers = preprocessing_for(channels, synthetic.channel_declarations(channels))
    inputs = keras.Input((8, 8, 3))
    x = inputs
    for layer in layers:
        x = layer(x)
    outputs = keras.layers.Dense(1)(keras.layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    layers[-1].adapt([keras.ops.convert_to_numpy(keras.Model(inputs, layers[-1].input)(np.nan_to_num(_images())))])
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    images = _images()
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(images)), keras.ops.convert_to_numpy(model(images)), rtol=1e-5
    )


def test_bad_config_errors_name_the_value():
    with pytest.raises(ValueError, match="radius_fraction"):
        DiskMask(radius_fraction=-1)
    with pytest.raises(ValueError, match="floors"):
        LogScaling(floors=[1.0, 2.0])(np.ones((1, 2, 2, 3), "float32"))
    with pytest.raises(ValueError, match="channel names"):
        preprocessing_for([], {})


def test_preprocessing_stays_float32_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        channels = ["magnetogram", "euv_94"]
        layers = preprocessing_for(channels, synthetic.channel_declarations(channels))
        layers[-1].adapt([np.abs(_images(channels=2)) + 1.0])
        x = np.abs(_images(channels=2)) + 1.0
        for layer in layers:
            x = layer(x)
        assert keras.backend.standardize_dtype(x.dtype) == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")
