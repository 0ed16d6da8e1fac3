"""Embeddings of encoder features: extract, project with t-SNE, and plot.

What an encoder learned without labels shows in how its features arrange the
images: a t-SNE map coloured by the GOES class of the next day's largest
flare and by the Mount Wilson class of the most complex region tells whether
flare-relevant structure is there before any fine-tuning. t-SNE keeps local
neighbourhoods, not distances between clusters: read it for "are the classes
mixed or grouped", not for how far apart groups are.

Example:
    >>> features, columns = encode(encoder, builder, "validation")
    >>> points = tsne_embedding(features, seed=0)
    >>> figure = plot_embedding(points, columns, path="figures/tsne.png")

Reference:
    van der Maaten, L., Hinton, G. 2008, "Visualizing Data using t-SNE",
    JMLR 9, 2579.
"""

from __future__ import annotations

import numpy as np

from flarekit.io import save_figure

# Features coloured in the plots, with the class names of each (data contract).
COLOUR_FEATURES = ("goes_class", "mount_wilson")


def encode(
    encoder,
    builder,
    split: str,
    batch_size: int = 64,
    max_examples: int | None = None,
    channel_indices=None,
):
    """Encoder features of a split, with the class features used for colouring.

    Args:
        encoder: raw images -> features [B, D] (e.g. `load_encoder`).
        builder: a prepared TFDS builder (data contract features).
        split: split to encode (only read, never trained on).
        batch_size: images per forward pass.
        max_examples: keep the first this many (None: all).
        channel_indices: the image channels the encoder takes, in its order
            (`tasks.channel_indices_for`); None: all of the dataset's.

    Raises:
        ValueError: the encoder takes another number of channels than it is given.

    Returns:
        (features [N, D] float32, dict name -> (int labels [N], class names)) for
        each of COLOUR_FEATURES the dataset has.
    """
    features_info = builder.info.features
    keys = [key for key in COLOUR_FEATURES if key in features_info]
    given = (
        len(channel_indices)
        if channel_indices is not None
        else features_info["image"].shape[-1]
    )
    expected = encoder.inputs[0].shape[-1]
    if expected is not None and expected != given:
        raise ValueError(
            f"Encoder {encoder.name!r} takes {expected} channels but would get {given} "
            f"from {builder.info.full_name}; pass channel_indices "
            "(tasks.channel_indices_for(config.channels, ...))."
        )
    dataset = builder.as_dataset(split=split, shuffle_files=False)
    if max_examples is not None:
        dataset = dataset.take(int(max_examples))
    dataset = dataset.batch(batch_size)
    outputs, columns = [], {key: [] for key in keys}
    for batch in dataset.as_numpy_iterator():
        images = batch["image"]
        if channel_indices is not None:
            images = images[..., list(channel_indices)]
        outputs.append(np.asarray(encoder.predict_on_batch(images), dtype=np.float32))
        for key in keys:
            columns[key].append(batch[key])
    features = np.concatenate(outputs) if outputs else np.zeros((0, 0), np.float32)
    labelled = {
        key: (np.concatenate(values).astype(int), tuple(features_info[key].names))
        for key, values in columns.items()
    }
    return features, labelled


def tsne_embedding(features, perplexity: float = 30.0, seed: int = 0) -> np.ndarray:
    """2-D t-SNE of standardised features (scikit-learn, PCA initialisation).

    The perplexity is capped below the number of samples, which t-SNE needs.

    Args:
        features: [N, D] array, N >= 3.
        perplexity: effective number of neighbours.
        seed: random state.

    Returns:
        [N, 2] array.

    Raises:
        ValueError: fewer than 3 samples.
    """
    from sklearn.manifold import TSNE

    features = np.asarray(features, dtype=np.float64)
    if len(features) < 3:
        raise ValueError(f"t-SNE needs at least 3 samples, got {len(features)}.")
    scale = features.std(axis=0)
    standardised = (features - features.mean(axis=0)) / np.where(scale > 0, scale, 1.0)
    perplexity = float(min(perplexity, (len(features) - 1) / 3))
    return TSNE(
        n_components=2, perplexity=perplexity, init="pca", random_state=seed
    ).fit_transform(standardised)


def plot_embedding(
    points, labelled: dict, path=None, title: str = "t-SNE of encoder features"
):
    """One scatter panel per colouring (GOES class, Mount Wilson class).

    Args:
        points: [N, 2] embedding.
        labelled: name -> (int labels [N], class names), as `encode` returns.
        path: where to save the PNG (None: not saved).
        title: figure title.

    Returns:
        The matplotlib Figure.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = list(labelled) or ["(none)"]
    figure = Figure(figsize=(5.2 * len(names), 4.6))
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(names), squeeze=False)
    for axis, name in zip(axes[0], names):
        if name not in labelled:
            axis.scatter(points[:, 0], points[:, 1], s=8)
            continue
        labels, class_names = labelled[name]
        for index, class_name in enumerate(class_names):
            chosen = labels == index
            if chosen.any():
                axis.scatter(
                    points[chosen, 0],
                    points[chosen, 1],
                    s=10,
                    alpha=0.8,
                    label=f"{class_name} ({int(chosen.sum())})",
                )
        axis.set_title(f"coloured by {name}")
        axis.set_xticks([])
        axis.set_yticks([])
        axis.legend(fontsize=7, markerscale=1.5, loc="best")
    figure.suptitle(title)
    figure.tight_layout()
    if path is not None:
        save_figure(figure, path)
    return figure
