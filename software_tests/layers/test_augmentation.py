"""Augmentation layers: same output called directly, in tf.data unbatched and
batched (same seed), configs round-trip, and what each does to solar images."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from flarekit.data import synthetic
from flarekit.layers import (
    HemisphereFlip,
    LogIntensityJitter,
    LogScaling,
    RandomResizedCrop,
    build_augmenter,
)

CHANNELS = ("magnetogram", "continuum", "euv_171")
DECLARATIONS = synthetic.channel_declarations(CHANNELS)
SIGNED = [True, False, False]
FLOORS = [10.0, 0.01, 1.0]


def _images(batch=3, size=12, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.lognormal(3.0, 1.0, (batch, size, size, 3)).astype("float32")
    images[..., 0] *= rng.choice([-1.0, 1.0], (batch, size, size))  # signed field
    images[:, 0, 0, 0] = np.nan  # off the limb
    return images


LAYERS = {
    "crop": lambda: RandomResizedCrop(area_range=(0.3, 1.0), seed=7),
    "jitter": lambda: LogIntensityJitter(FLOORS, SIGNED, 0.2, 0.3, 0.05, seed=7),
    "hemisphere_flip": lambda: HemisphereFlip(SIGNED, rate=0.5, seed=7),
    "augmenter": lambda: build_augmenter(CHANNELS, DECLARATIONS, flip="hemisphere", seed=7),
}


def _numpy(tensor):
    return keras.ops.convert_to_numpy(tensor)


def _assert_same(a, b):
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_allclose(np.nan_to_num(a), np.nan_to_num(b), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_same_output_direct_unbatched_and_batched(name):
    # Random layers: a fresh layer with the same seed draws the same numbers,
    # so a batch (or one image) comes out the same whichever way it is called.
    images = _images()
    direct = _numpy(LAYERS[name]()(images, training=True))
    layer = LAYERS[name]()
    batched = next(
        tf.data.Dataset.from_tensor_slices(images)
        .batch(3)
        .map(lambda x: layer(x, training=True))
        .as_numpy_iterator()
    )
    _assert_same(batched, direct)
    one = _numpy(LAYERS[name]()(images[0], training=True))
    layer = LAYERS[name]()
    unbatched = next(
        tf.data.Dataset.from_tensor_slices(images[:1])
        .map(lambda x: layer(x, training=True))
        .as_numpy_iterator()
    )
    assert one.shape == images[0].shape
    _assert_same(unbatched, one)
    # And the augmentation does something.
    assert not np.allclose(np.nan_to_num(direct), np.nan_to_num(images))


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_identity_when_not_training_and_config_round_trip(name):
    layer = LAYERS[name]()
    images = _images()
    _assert_same(_numpy(layer(images, training=False)), images)
    if name == "augmenter":
        clone = keras.Sequential.from_config(layer.get_config())
    else:
        clone = type(layer).from_config(layer.get_config())
    _assert_same(
        _numpy(clone(images, training=True)),
        _numpy(LAYERS[name]()(images, training=True)),
    )


def test_crop_of_whole_image_is_identity_and_crops_zoom_in():
    images = _images()
    whole = RandomResizedCrop(
        area_range=(1.0, 1.0), aspect_ratio_range=(1.0, 1.0), seed=0
    )
    _assert_same(_numpy(whole(images)), images)
    # A quarter-area crop of a linear ramp spans half the ramp's range.
    ramp = np.tile(np.arange(64, dtype="float32")[None, :, None], (64, 1, 1))[None]
    quarter = RandomResizedCrop(
        area_range=(0.25, 0.25), aspect_ratio_range=(1.0, 1.0), seed=3
    )
    out = _numpy(quarter(ramp))[0, :, :, 0]
    assert np.ptp(out[32]) == pytest.approx(63 / 2, rel=0.05)


def test_jitter_is_what_it_says_in_the_log_domain():
    images = np.nan_to_num(_images(seed=1), nan=50.0)
    images[..., 1:] += 20.0  # intensities above their floors
    log = LogScaling(floors=FLOORS, signed=SIGNED)
    # Gain only: every intensity pixel moves by the same number of dex.
    gain = LogIntensityJitter(
        FLOORS, SIGNED, brightness_dex=0.3, contrast=0.0, noise_dex=0.0, seed=1
    )
    shift = _numpy(log(gain(images))) - _numpy(log(images))
    per_image = shift[..., 1:].reshape(3, -1, 2)
    assert np.allclose(per_image, per_image[:, :1, :], atol=1e-4)
    assert np.all(np.abs(per_image) <= 0.3 + 1e-5) and np.ptp(per_image) > 0.01
    # Contrast only: the magnetogram's log value is scaled about 0, keeping signs.
    stretch = LogIntensityJitter(
        FLOORS, SIGNED, brightness_dex=0.0, contrast=0.4, noise_dex=0.0, seed=2
    )
    before, after = _numpy(log(images))[..., 0], _numpy(log(stretch(images)))[..., 0]
    ratio = after / before
    assert np.allclose(ratio, ratio[:, :1, :1], rtol=1e-3) and np.all(
        ratio > 0.6 - 1e-4
    )
    assert np.array_equal(np.sign(stretch(images))[..., 0], np.sign(images[..., 0]))
    # Off-limb NaN stays NaN; pixels at the floor of an intensity channel stay put.
    dark = _images(seed=2)
    dark[:, 1, 1, 1] = 0.0
    out = _numpy(LogIntensityJitter(FLOORS, SIGNED, seed=3)(dark))
    assert np.isnan(out[:, 0, 0, 0]).all() and (out[:, 1, 1, 1] == 0.0).all()


def test_hemisphere_flip_keeps_hale_and_joy():
    # A northern bipole: leading (west, right) positive, nearer the equator.
    image = np.zeros((1, 8, 8, 3), "float32")
    image[0, 2, 5, 0], image[0, 1, 2, 0] = 100.0, -100.0  # rows 0-3 north
    image[..., 1:] = 1.0
    out = _numpy(HemisphereFlip(SIGNED, rate=1.0, seed=0)(image, training=True))[0, :, :, 0]
    # Now southern (rows 4-7), leading still west and nearer the equator
    # (row 5 vs row 6), with the opposite leading polarity (Hale's law).
    assert out[5, 5] == -100.0 and out[6, 2] == 100.0
    assert _numpy(HemisphereFlip(SIGNED, rate=0.0)(image, training=True)).tolist() == (
        image.tolist())
    # Not in training unless asked: a model with the flip inside, called as
    # model(x) (no training argument), forecasts from the image as given.
    assert _numpy(HemisphereFlip(SIGNED, rate=1.0)(image)).tolist() == image.tolist()
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, HemisphereFlip(SIGNED, rate=1.0)(inputs))
    assert _numpy(model(image)).tolist() == image.tolist()


def test_flips_are_opt_in_and_bad_arguments_are_refused():
    names = [layer.name for layer in build_augmenter(CHANNELS, DECLARATIONS).layers]
    assert names == ["crop", "rotation", "log_jitter"]
    assert "flip" in [
        layer.name for layer in build_augmenter(CHANNELS, DECLARATIONS, flip="any").layers
    ]
    assert build_augmenter(CHANNELS, DECLARATIONS, image_size=8).layers[0].name == "resize"
    assert _numpy(build_augmenter(CHANNELS, DECLARATIONS, image_size=8)(_images())).shape == (
        3,
        8,
        8,
        3,
    )
    with pytest.raises(ValueError, match="'sideways'"):
        build_augmenter(CHANNELS, DECLARATIONS, flip="sideways")
    with pytest.raises(ValueError, match=r"\(0.0, 1.0\)"):
        RandomResizedCrop(area_range=(0.0, 1.0))
    with pytest.raises(ValueError, match="1.5"):
        LogIntensityJitter(contrast=1.5)
