"""Encoders: the ResNet and CNN backbones, any-size inputs, one-call loading,
heads, freezing, and a re-initialised clone for from-scratch comparisons."""

import keras
import numpy as np
import pytest

from flarekit import models
from flarekit.data import synthetic
from flarekit.layers import ChannelNormalization

CHANNELS = ("magnetogram", "euv_171")
DECLARATIONS = synthetic.channel_declarations(CHANNELS)


def _images(count=4, size=24, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.lognormal(3, 1, (count, size, size, 2)).astype("float32")
    images[..., 0] *= rng.choice([-1.0, 1.0], images.shape[:3])
    images[:, 0, 0, 0] = np.nan
    return images


def test_build_resnet_shapes_and_errors():
    resnet = models.build_resnet(
        (32, 32, 2), stem_filters=8, filters=(8, 16, 32), blocks_per_stage=(1, 2, 1)
    )
    assert resnet.output_shape == (None, 32)
    # Stage 2 halves twice: 32 -> 16 -> 8, and has two residual blocks.
    assert resnet.get_layer("stage2_block0_add").output.shape[1:3] == (8, 8)
    assert resnet.get_layer("stage1_block1_add") is not None
    with pytest.raises(ValueError, match="same length"):
        models.build_resnet((32, 32, 2), filters=(8, 16), blocks_per_stage=(1,))


@pytest.mark.parametrize("backbone", ["cnn", "resnet"])
def test_encoder_takes_any_size_and_loads_in_one_call(backbone, tmp_path):
    encoder = models.build_encoder(
        CHANNELS, DECLARATIONS, image_size=16, backbone=backbone, filters=(8, 16)
    )
    normalization = [
        layer for layer in encoder.layers if isinstance(layer, ChannelNormalization)
    ]
    assert len(normalization) == 1 and encoder.get_layer("backbone") is not None
    small, large = _images(size=16), _images(size=40)
    assert encoder.predict(small, verbose=0).shape == (4, 16)
    features = encoder.predict(large, verbose=0)
    assert features.shape == (4, 16) and np.all(np.isfinite(features))
    encoder.save(tmp_path / "encoder.keras")
    loaded = models.load_encoder(tmp_path / "encoder.keras")
    np.testing.assert_allclose(loaded.predict(large, verbose=0), features, atol=1e-5)
    assert (
        not loaded.trainable
        and models.load_encoder(tmp_path / "encoder.keras", trainable=True).trainable
    )


def test_load_encoder_refuses_an_image_model_and_a_missing_file(tmp_path):
    image_to_image = keras.Sequential(
        [keras.Input((8, 8, 2)), keras.layers.Conv2D(2, 1)]
    )
    image_to_image.save(tmp_path / "image_to_image.keras")
    with pytest.raises(FileNotFoundError, match="nothing.keras"):
        models.load_encoder(tmp_path / "nothing.keras")
    with pytest.raises(ValueError, match=r"an encoder outputs \[B, D\]"):
        models.load_encoder(tmp_path / "image_to_image.keras")


def test_attach_head_freezes_and_clones():
    encoder = models.build_encoder(CHANNELS, DECLARATIONS, image_size=16, filters=(8, 16))
    classifier = models.attach_head(
        encoder, keras.layers.Dense(1, name="forecast"), dropout=0.1
    )
    assert classifier.get_layer("channel_normalization") is encoder.get_layer(
        "channel_normalization"
    )
    total = len(classifier.trainable_weights)
    models.set_backbone_trainable(classifier, False)
    assert len(classifier.trainable_weights) == 2  # the head's kernel and bias
    models.set_backbone_trainable(classifier, True)
    assert len(classifier.trainable_weights) == total
    with pytest.raises(ValueError, match="no layer 'backbone'"):
        models.set_backbone_trainable(keras.Sequential([keras.layers.Dense(1)]), False)
    clone = keras.models.clone_model(encoder)
    assert [w.shape for w in clone.weights] == [w.shape for w in encoder.weights]
    kernels = [
        (a, b)
        for a, b in zip(clone.get_weights(), encoder.get_weights())
        if a.ndim == 4
    ]
    assert kernels and not any(np.allclose(a, b) for a, b in kernels)


def test_head_options_normalise_features_and_start_at_zero():
    encoder = models.build_encoder(CHANNELS, DECLARATIONS, image_size=16, filters=(8, 16))
    head = keras.layers.Dense(1, name="forecast")
    classifier = models.attach_head(
        encoder, head, normalize_features=True, zero_init_head=True
    )
    assert classifier.get_layer("feature_normalization").ignore_value is None
    assert not np.any(head.get_weights()[0])
    outputs = classifier.predict(_images(), verbose=0)
    # No dependence on the image yet.
    np.testing.assert_allclose(outputs, np.broadcast_to(outputs[:1], outputs.shape))


def test_batch_norm_recalibration_sets_the_statistics_of_the_images():
    inputs = keras.Input((4, 4, 2))
    norm = keras.layers.BatchNormalization(name="bn")
    model = keras.Model(inputs, norm(inputs))
    norm.trainable = False  # a frozen backbone's batch norm
    images = np.random.default_rng(0).normal(5.0, 2.0, (64, 4, 4, 2)).astype("float32")
    assert models.recalibrate_batch_norm(model, images) == 1
    np.testing.assert_allclose(
        norm.moving_mean.numpy(), images.mean(axis=(0, 1, 2)), rtol=1e-5
    )
    np.testing.assert_allclose(
        norm.moving_variance.numpy(), images.var(axis=(0, 1, 2)), rtol=1e-3
    )
    assert not norm.trainable and norm.momentum == 0.99
