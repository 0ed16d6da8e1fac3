"""Attention maps: rollout pinned by hand, map shapes of the ViT and the video model."""

import numpy as np
import pytest

from flarekit.interpret import attention
from flarekit.io import save_figure
from flarekit.models.video import build_frame_baseline, build_video_transformer
from flarekit.models.vit import build_vit

RNG = np.random.default_rng(0)


def test_rollout_hand_worked_case():
    # One layer, two tokens, token 0 attends fully to token 1: with the
    # residual mixed in, A = 0.5 I + 0.5 W = [[0.5, 0.5], [0, 1]].
    weights = np.array([[[[0.0, 1.0], [0.0, 1.0]]]])
    np.testing.assert_allclose(
        attention.attention_rollout([weights])[0], [[0.5, 0.5], [0.0, 1.0]]
    )
    # Two such layers: A @ A = [[0.25, 0.75], [0, 1]].
    np.testing.assert_allclose(
        attention.attention_rollout([weights, weights])[0], [[0.25, 0.75], [0.0, 1.0]]
    )
    with pytest.raises(ValueError, match="at least one layer"):
        attention.attention_rollout([])


@pytest.mark.parametrize("pooling", ["class_token", "average"])
def test_vit_attention_maps_cover_the_patch_grid(pooling, tmp_path):
    model = build_vit(
        (16, 24, 2),
        patch_size=4,
        hidden_dim=8,
        num_layers=2,
        num_heads=2,
        mlp_dim=8,
        pooling=pooling,
        locality_self_attention=True,
    )
    images = RNG.normal(size=(3, 16, 24, 2)).astype("float32")
    scores = attention.vit_attention_scores(model, images, batch_size=2)
    tokens = 24 + (pooling == "class_token")
    assert [s.shape for s in scores] == [(3, 2, tokens, tokens)] * 2
    maps = attention.vit_attention_maps(model, images)
    assert maps.shape == (3, 4, 6) and maps.min() == 0.0 and maps.max() == 1.0
    figure = attention.plot_vit_attention(images, maps, ["a", "b", "c"])
    assert save_figure(figure, tmp_path / "vit.png").stat().st_size > 0


def test_video_attention_maps_per_time_step(tmp_path):
    model = build_video_transformer(
        (8, 16, 16, 2),
        tubelet_size=(2, 8, 8),
        hidden_dim=8,
        num_layers=2,
        num_heads=2,
        mlp_dim=8,
    )
    clips = RNG.normal(size=(2, 8, 16, 16, 2)).astype("float32")
    maps = attention.video_attention_maps(model, clips)
    assert maps["spatial"].shape == (2, 4, 2, 2)
    assert maps["temporal"].shape == (2, 4) and maps["frames_per_step"] == 2
    np.testing.assert_allclose(maps["temporal"].sum(axis=1), 1.0)
    figure = attention.plot_video_attention(clips[1], maps, index=1, title="clip 1")
    assert save_figure(figure, tmp_path / "video.png").stat().st_size > 0


def test_models_without_flarekit_attention_are_refused():
    cnn = build_frame_baseline((4, 8, 8, 1), filters=(4,), dense_units=0)
    with pytest.raises(ValueError, match="no FactorisedSpaceTimeBlock"):
        attention.video_attention_maps(cnn, np.zeros((1, 4, 8, 8, 1), "float32"))
