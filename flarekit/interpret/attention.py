"""Attention maps of flarekit's transformers: scores, rollout, figures.

Raw attention of one layer shows what one layer mixes, not what the output
depends on. Attention rollout (Abnar & Zuidema 2020) follows attention
through the network: each layer's head-averaged weights W are mixed with the
residual connection as A = (I + W) / 2, rows renormalised, and the layers'
matrices multiplied, A_L ... A_1. Row i of the product says how much token i
of the last layer draws on each input token. The model's output reads the
class token (row 0) or the mean of all tokens (mean of the rows); that row is
the map.

- ViT (`flarekit.models.vit`): one map per image on the patch grid.
- Factorised video transformer (`flarekit.models.video`): spatial attention
  acts within a time step and temporal attention across time at one
  position; written as matrices over all (time, position) tokens, both roll
  out together, giving one relevance per tubelet: a spatial map per time
  step, and, summed over positions, the share of each time step.

keras-cv's VideoSwin uses shifted 3-D windows whose weights do not map onto
one token grid; `video_attention_maps` refuses it with a ValueError.

Figures are drawn on `matplotlib.figure.Figure` with the Agg canvas (no
pyplot) and written atomically.

References:
    Abnar, S. & Zuidema, W. 2020, ACL, "Quantifying Attention Flow in
    Transformers" (attention rollout).
"""

from __future__ import annotations


import numpy as np



def _blocks(model, layer_class, kind: str) -> list:
    blocks = [layer for layer in model.layers if isinstance(layer, layer_class)]
    if not blocks:
        raise ValueError(
            f"Model {model.name!r} has no {layer_class.__name__} layers: attention "
            "maps "
            f"need a {kind} built by flarekit (got layers "
            f"{[layer.name for layer in model.layers][:12]})."
        )
    return blocks


def _run_blocks(model, blocks, inputs, batch_size: int):
    """Each block's attention weights for `inputs`, as numpy, batch by batch."""
    import keras

    embed = keras.Model(model.input, blocks[0].input)
    collected = []
    for start in range(0, len(inputs), batch_size):
        tokens = embed(inputs[start : start + batch_size], training=False)
        per_block = []
        for block in blocks:
            tokens, weights = block(
                tokens, training=False, return_attention_scores=True
            )
            per_block.append(weights)
        collected.append(per_block)
    return collected


def vit_attention_scores(model, images, batch_size: int = 32) -> list:
    """Attention weights of every encoder block of a flarekit ViT.

    Args:
        model: a model from `flarekit.models.build_vit`.
        images: [B, H, W, C] inputs as the model takes them.
        batch_size: images per forward pass.

    Returns:
        list over blocks of arrays [B, heads, tokens, tokens].

    Raises:
        ValueError: a model without flarekit `TransformerBlock` layers.
    """
    from keras import ops

    from flarekit.models.vit import TransformerBlock

    blocks = _blocks(model, TransformerBlock, "ViT")
    batches = _run_blocks(model, blocks, np.asarray(images), batch_size)
    return [
        np.concatenate([ops.convert_to_numpy(batch[i]) for batch in batches])
        for i in range(len(blocks))
    ]


def attention_rollout(matrices, residual: float = 0.5) -> np.ndarray:
    """Attention rollout through layers (Abnar & Zuidema 2020).

    Args:
        matrices: list over layers, first layer first, of attention weights
            [B, heads, N, N] or head-averaged [B, N, N].
        residual: weight of the identity (the residual path), in [0, 1).

    Returns:
        [B, N, N]: row i = how much output token i draws on each input token;
        rows sum to 1.

    Raises:
        ValueError: no layers, mismatched shapes or a bad residual.

    Example:
        >>> weights = np.full((1, 1, 2, 2), 0.5)
        >>> attention_rollout([weights, weights])[0].round(2).tolist()
        [[0.5, 0.5], [0.5, 0.5]]
    """
    if not 0 <= residual < 1:
        raise ValueError(f"residual must be in [0, 1), got {residual!r}.")
    if len(matrices) == 0:
        raise ValueError("attention_rollout needs the weights of at least one layer.")
    rollout = None
    for index, weights in enumerate(matrices):
        weights = np.asarray(weights, dtype=np.float64)
        if weights.ndim == 4:
            weights = weights.mean(axis=1)
        if weights.ndim != 3 or weights.shape[1] != weights.shape[2]:
            raise ValueError(
                f"Layer {index}: attention weights must be [B, heads, N, N] or "
                f"[B, N, N], got shape {weights.shape}."
            )
        mixed = residual * np.eye(weights.shape[-1]) + (1 - residual) * weights
        mixed = mixed / mixed.sum(axis=-1, keepdims=True)
        if rollout is not None and rollout.shape != mixed.shape:
            raise ValueError(
                f"Layer {index} has attention shape {mixed.shape}, layer 0 "
                f"{rollout.shape}."
            )
        rollout = mixed if rollout is None else mixed @ rollout
    return rollout


def _normalise(maps: np.ndarray, axes) -> np.ndarray:
    low = maps.min(axis=axes, keepdims=True)
    high = maps.max(axis=axes, keepdims=True)
    return (maps - low) / np.where(high > low, high - low, 1.0)


def vit_attention_maps(model, images, batch_size: int = 32) -> np.ndarray:
    """Attention-rollout map of each image on the ViT's patch grid, in [0, 1].

    Reads the class-token row when the model has a class token, else the mean
    of all rows (global average pooling reads every token equally).

    Args:
        model: a model from `flarekit.models.build_vit`.
        images: [B, H, W, C].

    Returns:
        [B, rows, columns] of the patch grid, each map scaled to [0, 1].
    """
    from flarekit.models.vit import ClassToken, PatchEmbedding

    rollout = attention_rollout(vit_attention_scores(model, images, batch_size))
    embedding = _blocks(model, PatchEmbedding, "ViT")[0]
    rows, columns = embedding.grid_shape(embedding.input.shape)
    if any(isinstance(layer, ClassToken) for layer in model.layers):
        relevance = rollout[:, 0, 1:]
    else:
        relevance = rollout.mean(axis=1)
    return _normalise(relevance.reshape(-1, rows, columns), (1, 2))


def video_attention_scores(model, clips, batch_size: int = 16) -> list:
    """(spatial, temporal) attention weights of each factorised space-time block.

    Returns:
        list over blocks of (spatial [B, T', heads, N, N], temporal
        [B, N, heads, T', T']), T' time steps and N positions of the token grid.

    Raises:
        ValueError: a model without `FactorisedSpaceTimeBlock` layers (e.g.
            VideoSwin or the frame CNN).
    """
    from keras import ops

    from flarekit.models.video import FactorisedSpaceTimeBlock

    blocks = _blocks(model, FactorisedSpaceTimeBlock, "factorised video transformer")
    batches = _run_blocks(model, blocks, np.asarray(clips), batch_size)
    return [
        tuple(
            np.concatenate([ops.convert_to_numpy(batch[i][part]) for batch in batches])
            for part in (0, 1)
        )
        for i in range(len(blocks))
    ]


def _joint_matrices(spatial: np.ndarray, temporal: np.ndarray) -> tuple:
    """Head-averaged spatial and temporal weights as [B, T'N, T'N] matrices over
    tokens ordered (time, position)."""
    spatial = spatial.mean(axis=2)  # [B, T, N, N]
    temporal = temporal.mean(axis=2)  # [B, N, T, T]
    batch, steps, positions = spatial.shape[:3]
    size = steps * positions
    # Spatial: token (t, n) mixes tokens (t, m); block-diagonal over time.
    joint_spatial = np.einsum("btnm,tu->btnum", spatial, np.eye(steps))
    # Temporal: token (t, n) mixes tokens (u, n); block-diagonal over position.
    joint_temporal = np.einsum("bntu,nm->btnum", temporal, np.eye(positions))
    return joint_spatial.reshape(batch, size, size), joint_temporal.reshape(
        batch, size, size
    )


def video_attention_maps(model, clips, batch_size: int = 16) -> dict:
    """Joint space-time attention rollout of a factorised video transformer.

    Args:
        model: a "factorised" model from `build_video_transformer`.
        clips: [B, T, H, W, C].

    Returns:
        dict with
        - "spatial": [B, T', rows, columns], relevance of each tubelet, each
          clip scaled to [0, 1] over all its time steps;
        - "temporal": [B, T'], share of the relevance in each time step (sums
          to 1);
        - "frames_per_step": frames per token time step (the tubelet depth).

    Raises:
        ValueError: a model that is not a flarekit factorised transformer.
    """
    from flarekit.models.video import TubeletEmbedding

    scores = video_attention_scores(model, clips, batch_size)
    embedding = _blocks(model, TubeletEmbedding, "factorised video transformer")[0]
    steps, rows, columns = embedding.grid_shape(embedding.input.shape)
    matrices = []
    for spatial, temporal in scores:
        matrices.extend(_joint_matrices(spatial, temporal))
    rollout = attention_rollout(matrices)
    # The model averages all tokens, so every row of the rollout counts equally.
    relevance = rollout.mean(axis=1).reshape(-1, steps, rows, columns)
    temporal = relevance.sum(axis=(2, 3))
    return {
        "spatial": _normalise(relevance, (1, 2, 3)),
        "temporal": temporal / temporal.sum(axis=1, keepdims=True),
        "frames_per_step": int(embedding.tubelet_size[0]),
    }


# ------------------------------------------------------------- figures ---


def _display(image: np.ndarray) -> np.ndarray:
    """A finite 2-D image for display (NaN off the limb -> the median)."""
    image = np.asarray(image, dtype=np.float64)
    finite = np.isfinite(image)
    return np.where(finite, image, np.median(image[finite]) if finite.any() else 0.0)


def _upsample(grid_map: np.ndarray, height: int, width: int) -> np.ndarray:
    rows, columns = grid_map.shape
    return np.kron(grid_map, np.ones((height // rows, width // columns)))


def plot_vit_attention(
    images, maps, titles=None, channel: int = 0, channel_name: str = ""
):
    """Images (one channel) above the same images with their attention maps.

    Args:
        images: [B, H, W, C] raw inputs.
        maps: [B, rows, columns] from `vit_attention_maps`.
        titles: one title per image (e.g. "true beta / predicted beta").
        channel: the channel shown.
        channel_name: its name, for the row label.

    Returns:
        A matplotlib Figure.
    """
    from matplotlib.figure import Figure

    images, maps = np.asarray(images), np.asarray(maps)
    count = len(images)
    figure = Figure(figsize=(2.1 * count, 4.4))
    for index in range(count):
        picture = _display(images[index, ..., channel])
        overlay = _upsample(maps[index], *picture.shape)
        _draw_overlay_pair(
            figure.add_subplot(2, count, index + 1),
            figure.add_subplot(2, count, count + index + 1),
            picture,
            overlay,
            titles[index] if titles else f"sample {index}",
            (channel_name or f"channel {channel}", "attention rollout")
            if index == 0
            else None,
        )
    figure.tight_layout()
    return figure


def _draw_overlay_pair(top, bottom, picture, overlay, title: str, row_labels=None):
    """The picture on `top`, and under its relevance `overlay` (in [0, 1]) on
    `bottom`, without ticks; `row_labels` = (top, bottom) labels the rows, for
    the first column of a figure."""
    top.imshow(picture, cmap="gray")
    top.set_title(title, fontsize=7)
    bottom.imshow(picture, cmap="gray")
    bottom.imshow(overlay, cmap="inferno", alpha=0.55, vmin=0, vmax=1)
    for axes in (top, bottom):
        axes.set_xticks([])
        axes.set_yticks([])
    if row_labels is not None:
        top.set_ylabel(row_labels[0], fontsize=8)
        bottom.set_ylabel(row_labels[1], fontsize=8)


def plot_video_attention(
    clip,
    maps: dict,
    index: int = 0,
    title: str = "",
    channel: int = 0,
    channel_name: str = "",
):
    """One clip: the last frame of each token time step, its spatial relevance,
    and the share of relevance per time step.

    Args:
        clip: [T, H, W, C] raw frames of one sample.
        maps: the dict from `video_attention_maps` (for a batch).
        index: which sample of that batch `clip` is.
        title: figure title.
        channel, channel_name: the channel shown.

    Returns:
        A matplotlib Figure.
    """
    from matplotlib.figure import Figure

    clip = np.asarray(clip)
    spatial, temporal = maps["spatial"][index], maps["temporal"][index]
    per_step = int(maps["frames_per_step"])
    steps = spatial.shape[0]
    figure = Figure(figsize=(1.6 * steps, 5.2))
    grid = figure.add_gridspec(3, steps, height_ratios=(1, 1, 0.8))
    for step in range(steps):
        frame = (step + 1) * per_step - 1
        picture = _display(clip[frame, ..., channel])
        _draw_overlay_pair(
            figure.add_subplot(grid[0, step]),
            figure.add_subplot(grid[1, step]),
            picture,
            _upsample(spatial[step], *picture.shape),
            f"frame {frame + 1}",
            (channel_name or f"channel {channel}", "rollout") if step == 0 else None,
        )
    bars = figure.add_subplot(grid[2, :])
    bars.bar(np.arange(1, steps + 1) * per_step, temporal, width=0.8 * per_step)
    bars.set_xlabel("frame (end of token time step; label at the last)")
    bars.set_ylabel("share of relevance")
    if title:
        figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    return figure


