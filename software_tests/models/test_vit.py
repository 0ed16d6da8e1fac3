"""build_vit: shapes, the small-data options, saving and loading, attention scores."""

import keras
import numpy as np
import pytest

from flarekit.models.vit import (
    MultiHeadSelfAttention,
    PatchEmbedding,
    TransformerBlock,
    build_vit,
)

RNG = np.random.default_rng(0)


def _tiny_vit(**options):
    defaults = {
        "patch_size": 4,
        "hidden_dim": 16,
        "num_layers": 2,
        "num_heads": 2,
        "mlp_dim": 32,
        "head": keras.layers.Dense(4, activation="softmax"),
    }
    return build_vit((16, 16, 3), **{**defaults, **options})


@pytest.mark.parametrize("pooling", ["class_token", "average"])
@pytest.mark.parametrize("small_data", [False, True])
def test_vit_outputs_class_probabilities(pooling, small_data):
    model = _tiny_vit(
        pooling=pooling,
        shifted_patch_tokenization=small_data,
        locality_self_attention=small_data,
    )
    probabilities = model.predict(RNG.normal(size=(3, 16, 16, 3)), verbose=0)
    assert probabilities.shape == (3, 4)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    tokens = model.get_layer("encoder_block_0").output.shape
    assert tokens[1] == 16 + (pooling == "class_token")  # 4 x 4 patches (+ class token)


def test_patch_embedding_orders_patches_row_major():
    # Each 2x2 patch of this image is filled with its patch index: a Dense
    # projection with all-ones weights then sums 4 copies of that index.
    image = np.repeat(np.repeat(np.arange(9.0).reshape(3, 3), 2, 0), 2, 1)[
        None, ..., None
    ]
    embedding = PatchEmbedding(2, 1)
    embedding.build(image.shape)
    embedding.projection.set_weights([np.ones((4, 1)), np.zeros(1)])
    tokens = keras.ops.convert_to_numpy(embedding(image.astype("float32")))
    np.testing.assert_allclose(tokens[0, :, 0], 4 * np.arange(9.0))


def test_shifted_patches_see_their_neighbours():
    # A single bright pixel in patch (0, 0), near its edge with patch (0, 1):
    # with shifted tokenisation patch (0, 1) sees it; without, it does not.
    image = np.zeros((1, 8, 8, 1), "float32")
    image[0, 1, 3] = 1.0
    for shifted, expected in ((False, 0.0), (True, 1.0)):
        layer = PatchEmbedding(4, 1, shifted=shifted)
        copies = layer._shifted_copies(image) if shifted else image
        patch_01 = keras.ops.convert_to_numpy(copies)[0, 0:4, 4:8]
        assert patch_01.max() == expected


def test_locality_attention_masks_the_diagonal_and_learns_temperature():
    tokens = RNG.normal(size=(2, 5, 8)).astype("float32")
    plain = MultiHeadSelfAttention(num_heads=2)
    local = MultiHeadSelfAttention(num_heads=2, locality=True)
    _, plain_weights = plain(tokens, return_attention_scores=True)
    outputs, weights = local(tokens, return_attention_scores=True)
    weights = keras.ops.convert_to_numpy(weights)
    assert outputs.shape == (2, 5, 8) and weights.shape == (2, 2, 5, 5)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-5)
    assert np.all(np.diagonal(weights, axis1=-2, axis2=-1) < 1e-6)
    assert (
        np.diagonal(keras.ops.convert_to_numpy(plain_weights), axis1=-2, axis2=-1).min()
        > 0
    )
    assert [w.name for w in local.trainable_weights].count("log_temperature") == 1
    assert "log_temperature" not in [w.name for w in plain.trainable_weights]


def test_bad_arguments_name_the_value():
    with pytest.raises(ValueError, match="not a multiple of patch_size"):
        build_vit((18, 18, 3), patch_size=4, hidden_dim=16, num_heads=2)
    with pytest.raises(ValueError, match="not divisible by num_heads=3"):
        build_vit((16, 16, 3), patch_size=4, hidden_dim=16, num_heads=3)
    with pytest.raises(ValueError, match="'mean'"):
        build_vit((16, 16, 3), patch_size=4, pooling="mean")


def test_saved_and_loaded_vit_gives_the_same_outputs(tmp_path):
    model = _tiny_vit(shifted_patch_tokenization=True, locality_self_attention=True)
    images = RNG.normal(size=(2, 16, 16, 3)).astype("float32")
    model.save(tmp_path / "vit.keras")
    loaded = keras.models.load_model(tmp_path / "vit.keras")
    np.testing.assert_allclose(
        loaded.predict(images, verbose=0),
        model.predict(images, verbose=0),
        rtol=1e-5,
        atol=1e-6,
    )
    block = loaded.get_layer("encoder_block_1")
    assert (
        isinstance(block, TransformerBlock) and block.get_config()["locality"] is True
    )
