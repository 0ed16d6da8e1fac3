"""Embeddings: features with class colours, t-SNE keeps separated groups apart."""

import numpy as np
import pytest

from flarekit.interpret import embeddings as interpret_embeddings


def test_tsne_separates_well_separated_groups_and_plots(tmp_path):
    rng = np.random.default_rng(0)
    features = np.concatenate([rng.normal(0, 1, (15, 8)), rng.normal(12, 1, (15, 8))])
    labels = np.repeat([0, 1], 15)
    points = interpret_embeddings.tsne_embedding(features, seed=0)
    assert points.shape == (30, 2)
    centres = [points[labels == k].mean(axis=0) for k in (0, 1)]
    spread = max(points[labels == k].std(axis=0).max() for k in (0, 1))
    assert np.linalg.norm(centres[0] - centres[1]) > 3 * spread
    labelled = {
        "goes_class": (labels, ("quiet", "A")),
        "mount_wilson": (1 - labels, ("alpha", "beta")),
    }
    figure = interpret_embeddings.plot_embedding(
        points, labelled, tmp_path / "tsne.png"
    )
    assert (tmp_path / "tsne.png").stat().st_size > 1000 and len(figure.axes) == 2
    with pytest.raises(ValueError, match="at least 3"):
        interpret_embeddings.tsne_embedding(features[:2])


def test_encode_reads_features_and_class_labels(smoke_builder):
    from flarekit import models
    from flarekit.data import pipeline

    encoder = models.build_encoder(
        ("magnetogram", "continuum", "euv_171", "euv_94"),
        pipeline.channel_declarations(smoke_builder),
        image_size=8,
        filters=(4,),
    )
    features, labelled = interpret_embeddings.encode(
        encoder, smoke_builder, "validation", max_examples=20
    )
    assert features.shape == (20, 4)
    assert set(labelled) == {"goes_class", "mount_wilson"}
    labels, names = labelled["mount_wilson"]
    assert len(labels) == 20 and names[0] == "alpha"


def test_encode_gives_a_channel_subset_encoder_its_channels(smoke_builder):
    from flarekit import models
    from flarekit.data import pipeline, tasks

    encoder = models.build_encoder(
        ("magnetogram", "euv_94"),
        pipeline.channel_declarations(smoke_builder, ("magnetogram", "euv_94")),
        image_size=8,
        filters=(4,),
    )
    indices = tasks.channel_indices_for(
        ("magnetogram", "euv_94"), pipeline.channel_names(smoke_builder)
    )
    features, _ = interpret_embeddings.encode(
        encoder, smoke_builder, "validation", max_examples=10, channel_indices=indices
    )
    assert features.shape == (10, 4) and np.isfinite(features).all()
    with pytest.raises(ValueError, match="takes 2 channels but would get 4"):
        interpret_embeddings.encode(
            encoder, smoke_builder, "validation", max_examples=4
        )
