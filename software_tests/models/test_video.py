"""Video transformers (factorised, VideoSwin) and the last-frame CNN baseline."""

import keras
import numpy as np
import pytest

from flarekit.models.video import (
    FactorisedSpaceTimeBlock,
    TubeletEmbedding,
    build_frame_baseline,
    build_video_transformer,
)

RNG = np.random.default_rng(0)
CLIP_SHAPE = (8, 16, 16, 2)


def _head():
    return keras.layers.Dense(1, activation="sigmoid", name="forecast")


def test_tubelet_embedding_grid():
    tokens = TubeletEmbedding((2, 8, 8), 12)(np.zeros((3, *CLIP_SHAPE), "float32"))
    assert tokens.shape == (3, 4, 4, 12)  # 8/2 time steps x (16/8)^2 positions
    with pytest.raises(ValueError, match=r"not a multiple of tubelet_size \(3, 8, 8\)"):
        TubeletEmbedding((3, 8, 8), 12)(np.zeros((1, *CLIP_SHAPE), "float32"))


def test_factorised_block_attends_within_time_then_across_time():
    tokens = RNG.normal(size=(2, 4, 5, 8)).astype("float32")  # B, T, N, D
    block = FactorisedSpaceTimeBlock(num_heads=2, mlp_dim=16)
    outputs, (spatial, temporal) = block(tokens, return_attention_scores=True)
    assert outputs.shape == tokens.shape
    assert spatial.shape == (2, 4, 2, 5, 5) and temporal.shape == (2, 5, 2, 4, 4)
    # Changing only time step 0 leaves the spatial attention of other steps alone.
    changed = tokens.copy()
    changed[:, 0] += 1.0
    _, (spatial_changed, _) = block(changed, return_attention_scores=True)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(spatial_changed)[:, 1:],
        keras.ops.convert_to_numpy(spatial)[:, 1:],
        rtol=1e-5,
    )


@pytest.mark.parametrize("architecture", ["factorised", "video_swin"])
def test_video_transformer_round_trip(architecture, tmp_path):
    model = build_video_transformer(
        CLIP_SHAPE,
        architecture,
        tubelet_size=(2, 4, 4),
        hidden_dim=8,
        num_layers=1,
        num_heads=2,
        mlp_dim=16,
        swin_depths=(1,),
        swin_num_heads=(2,),
        swin_window_size=(2, 2, 2),
        head=_head(),
    )
    clips = RNG.normal(size=(2, *CLIP_SHAPE)).astype("float32")
    outputs = model.predict(clips, verbose=0)
    assert outputs.shape == (2, 1) and np.all((outputs > 0) & (outputs < 1))
    model.save(tmp_path / "video.keras")
    loaded = keras.models.load_model(tmp_path / "video.keras")
    np.testing.assert_allclose(
        loaded.predict(clips, verbose=0), outputs, rtol=1e-5, atol=1e-6
    )


def test_unknown_architecture_and_bad_shapes():
    with pytest.raises(ValueError, match="'mvit'"):
        build_video_transformer(CLIP_SHAPE, "mvit")
    with pytest.raises(ValueError, match=r"\(frames, height, width, channels\)"):
        build_video_transformer((16, 16, 2))
    with pytest.raises(ValueError, match="frame_index 8"):
        build_frame_baseline(CLIP_SHAPE, frame_index=8)


def test_frame_baseline_sees_only_the_last_frame():
    # Seeded, and wide enough that no initialisation leaves every ReLU dead
    # (with 4 units some did: a flat output whatever the input).
    keras.utils.set_random_seed(0)
    model = build_frame_baseline(
        CLIP_SHAPE, filters=(8,), dense_units=16, dropout=0.0, head=_head()
    )
    clips = RNG.normal(size=(2, *CLIP_SHAPE)).astype("float32")
    earlier_changed = clips.copy()
    earlier_changed[:, :-1] = 0.0
    np.testing.assert_allclose(
        model.predict(clips, verbose=0),
        model.predict(earlier_changed, verbose=0),
        rtol=1e-6,
    )
    last_changed = clips.copy()
    last_changed[:, -1] += 3.0
    assert not np.allclose(
        model.predict(clips, verbose=0), model.predict(last_changed, verbose=0)
    )
