"""The conditional UNet and the CVAE builders: shapes, conditions, saving."""

import keras
import numpy as np
import pytest
from keras import ops

from flarekit.models import build_cvae, build_unet
from flarekit.models.unet import ConditionEmbedding, SinusoidalEmbedding

TINY = {
    "widths": (8, 16),
    "blocks_per_level": 1,
    "attention_resolution": 4,
    "embedding_dim": 16,
    "groups": 4,
}


def inputs(condition="goes_class", batch=3):
    rng = np.random.default_rng(0)
    images = rng.normal(size=(batch, 8, 8, 2)).astype("float32")
    times = np.linspace(0.1, 0.9, batch).astype("float32")
    if condition == "goes_class":
        return [images, times, np.array([0, 4, 6])[:batch]]
    return [images, times, np.array([-5.0, np.nan, -8.0], "float32")[:batch]]


def perturbed(model):
    """The final convolution starts at zero; move every weight off its init."""
    rng = np.random.default_rng(1)
    for weight in model.weights:
        weight.assign(weight + 0.05 * rng.normal(size=weight.shape).astype("float32"))
    return model


@pytest.mark.parametrize("condition", ["goes_class", "log_flux"])
def test_unet_predicts_the_image_shape_and_starts_at_zero(condition):
    unet = build_unet((8, 8, 2), condition=condition, **TINY)
    output = ops.convert_to_numpy(unet(inputs(condition)))
    assert output.shape == (3, 8, 8, 2)
    np.testing.assert_array_equal(output, 0.0)  # zero-initialised head


@pytest.mark.parametrize("condition", ["goes_class", "log_flux"])
def test_saved_and_loaded_unet_gives_the_same_outputs(tmp_path, condition):
    unet = perturbed(build_unet((8, 8, 2), condition=condition, **TINY))
    path = tmp_path / "unet.keras"
    unet.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(
        ops.convert_to_numpy(loaded(inputs(condition))),
        ops.convert_to_numpy(unet(inputs(condition))),
        atol=1e-6,
    )


def test_condition_changes_the_prediction():
    unet = perturbed(build_unet((8, 8, 2), **TINY))
    images, times, _ = inputs()
    quiet = ops.convert_to_numpy(unet([images, times, np.array([0, 0, 0])]))
    flaring = ops.convert_to_numpy(unet([images, times, np.array([4, 4, 4])]))
    assert np.abs(quiet - flaring).max() > 1e-4


def test_discrete_null_condition_is_its_own_learned_row():
    embed = ConditionEmbedding("goes_class", 8, num_classes=6)
    vectors = ops.convert_to_numpy(embed(np.array([0, 5, 6])))
    assert embed.null_condition == 6 and vectors.shape == (3, 8)
    assert not np.allclose(vectors[2], vectors[0]) and not np.allclose(
        vectors[2], vectors[1]
    )


def test_continuous_null_condition_is_the_null_vector_and_has_finite_gradients():
    import tensorflow as tf

    embed = ConditionEmbedding("log_flux", 4)
    embed.build((None,))
    embed.null_vector.assign(np.arange(4, dtype="float32"))
    with tf.GradientTape() as tape:
        vectors = embed(np.array([-5.0, np.nan], "float32"))
        loss = tf.reduce_sum(vectors**2)
    np.testing.assert_allclose(ops.convert_to_numpy(vectors)[1], [0, 1, 2, 3])
    gradients = tape.gradient(loss, embed.trainable_weights)
    assert all(np.all(np.isfinite(g.numpy())) for g in gradients)


def test_sinusoidal_embedding_is_sin_and_cos_of_scaled_time():
    embedding = ops.convert_to_numpy(
        SinusoidalEmbedding(4, max_period=100.0, time_scale=1.0)(
            np.array([0.5], "float32")
        )
    )
    # frequencies 1 and 100**-0.5 = 0.1: [sin(0.5), sin(0.05), cos(0.5), cos(0.05)].
    np.testing.assert_allclose(
        embedding[0], [np.sin(0.5), np.sin(0.05), np.cos(0.5), np.cos(0.05)], rtol=1e-5
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"image_shape": (6, 6, 2), "widths": (8, 16, 32)}, "divisible"),
        ({"image_shape": (8, 8, 2), "condition": "mount_wilson"}, "mount_wilson"),
        ({"image_shape": (8, 8)}, r"\(8, 8\)"),
    ],
)
def test_bad_unet_arguments_raise_value_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_unet(**kwargs)


def test_cvae_encoder_and_decoder_shapes():
    encoder, decoder = build_cvae((8, 8, 2), latent_dim=4, widths=(8,), embedding_dim=8)
    images, _, classes = inputs()
    z_mean, z_log_var = encoder([images, classes])
    assert tuple(z_mean.shape) == (3, 4) and tuple(z_log_var.shape) == (3, 4)
    assert tuple(decoder([ops.convert_to_numpy(z_mean), classes]).shape) == (3, 8, 8, 2)
