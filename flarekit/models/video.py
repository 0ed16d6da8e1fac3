"""Video transformers for [T, H, W, C] sequences, and a last-frame CNN baseline.

Two architectures, chosen by `build_video_transformer(architecture=...)`:

- "factorised": flarekit's own space-time transformer. Non-overlapping
  tubelets (t x p x p voxels) are projected to tokens on a (T/t) x (H/p x
  W/p) grid (Arnab et al. 2021, "tubelet embedding"); learned position
  embeddings are separable (one per time index plus one per spatial
  position); each block attends first within each time step (spatial),
  then across time at each spatial position (temporal), then applies an
  MLP (ViViT's factorised self-attention, TimeSformer's divided
  space-time attention). Attending over space and time separately costs
  O(T N^2 + N T^2) instead of O((T N)^2), and gives per-time spatial maps and
  per-position temporal maps that `flarekit.interpret.attention` turns into figures.
- "video_swin": keras-cv's `VideoSwinBackbone` (Liu et al. 2022, shifted 3-D
  windows), built from explicit arguments: keras-cv 0.9's presets download
  weights and fail here.

`build_frame_baseline` is the control: the same input and preprocessing, but a
CNN that sees only one frame (the last by default, the frame the label is
attached to). Trained on the same samples, the gap between it and a video
model measures what the sequence carries that the last frame lacks.

References:
    Arnab, A. et al. 2021, ICCV, "ViViT: A Video Vision Transformer".
    Bertasius, G., Wang, H. & Torresani, L. 2021, ICML, "Is Space-Time
    Attention All You Need for Video Understanding?" (TimeSformer).
    Liu, Z. et al. 2022, CVPR, "Video Swin Transformer".
    Lopes Grim, L. F. & Gradvohl, A. L. S., "Solar flare forecasting based on
    magnetogram sequences learning with multiscale vision transformers and
    data augmentation techniques" (code: github.com/lfgrim/SFF_MagSeq_MViTs),
    the protocol flarekit's sequence experiments follow.
"""

from __future__ import annotations

import warnings

import keras
from keras import layers, ops

from flarekit.layers.serialization import ConfigFromAttributes
from flarekit.models.cnn import build_cnn
from flarekit.models.inputs import (
    CLIP_AXES,
    check_input_shape,
    check_sizes,
    preprocessed_input,
)
from flarekit.models.vit import PositionEmbedding, PreNormBlock

ARCHITECTURES = ("factorised", "video_swin")


@keras.saving.register_keras_serializable(package="flarekit")
class TubeletEmbedding(ConfigFromAttributes, layers.Layer):
    """Project non-overlapping t x p x p tubelets of a clip to tokens.

    Args:
        tubelet_size: (frames, height, width) of a tubelet; the clip's sides
            must be multiples of it.
        hidden_dim: token size.

    Input: [B, T, H, W, C]. Output: [B, T / t, (H / p) * (W / p), hidden_dim],
    spatial positions in row-major order.

    Example:
        >>> TubeletEmbedding((2, 8, 8), 64)(keras.ops.zeros((1, 16, 32, 32, 4))).shape
        (1, 8, 16, 64)
    """

    config_attributes = ("tubelet_size", "hidden_dim")

    def __init__(self, tubelet_size=(2, 8, 8), hidden_dim: int = 64, **kwargs):
        super().__init__(**kwargs)
        self.tubelet_size = check_sizes(tubelet_size, 3, "tubelet_size")
        if int(hidden_dim) < 1:
            raise ValueError(f"hidden_dim must be >= 1, got {hidden_dim!r}.")
        self.hidden_dim = int(hidden_dim)
        self.projection = layers.Conv3D(
            self.hidden_dim,
            self.tubelet_size,
            strides=self.tubelet_size,
            padding="valid",
            name="projection",
        )

    def grid_shape(self, input_shape) -> tuple:
        """(time steps, rows, columns) of the token grid for a clip shape."""
        sizes = tuple(int(v) for v in input_shape[1:4])
        grid = tuple(size // tube for size, tube in zip(sizes, self.tubelet_size))
        if any(
            g * tube != size for g, tube, size in zip(grid, self.tubelet_size, sizes)
        ):
            raise ValueError(
                f"Clip size (T, H, W) = {sizes} is not a multiple of tubelet_size "
                f"{self.tubelet_size}."
            )
        return grid

    def build(self, input_shape):
        self.grid_shape(input_shape)
        self.projection.build(input_shape)

    def call(self, clips):
        steps, rows, columns = self.grid_shape(clips.shape)
        tokens = self.projection(clips)
        return ops.reshape(tokens, (-1, steps, rows * columns, self.hidden_dim))

    def compute_output_shape(self, input_shape):
        steps, rows, columns = self.grid_shape(input_shape)
        return (input_shape[0], steps, rows * columns, self.hidden_dim)


@keras.saving.register_keras_serializable(package="flarekit")
class SeparablePositionEmbedding(ConfigFromAttributes, layers.Layer):
    """Learned position embeddings for [B, T, N, D] tokens: one per time step
    plus one per spatial position, so T + N vectors instead of T x N.

    Args:
        stddev: standard deviation of the initial embeddings.
    """

    config_attributes = ("stddev",)

    def __init__(self, stddev: float = 0.02, **kwargs):
        super().__init__(**kwargs)
        self.stddev = float(stddev)
        self.temporal = PositionEmbedding(self.stddev, name="temporal")
        self.spatial = PositionEmbedding(self.stddev, name="spatial")

    def build(self, input_shape):
        batch, steps, positions, hidden_dim = input_shape
        self.temporal.build((batch, steps, 1, hidden_dim))
        self.spatial.build((batch, 1, positions, hidden_dim))

    def call(self, tokens):
        return self.spatial(self.temporal(tokens))

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="flarekit")
class FactorisedSpaceTimeBlock(PreNormBlock):
    """Pre-norm block on [B, T, N, D]: spatial attention, temporal attention, MLP.

    x += MHSA_space(LN(x)) within each time step; x += MHSA_time(LN(x)) at
    each spatial position; x += MLP(LN(x)).

    Args:
        num_heads, mlp_dim, dropout, attention_dropout: as `PreNormBlock`
            (the heads are those of both attentions, and must divide D).

    Call args:
        tokens: [B, T, N, D].
        return_attention_scores: also return (spatial [B, T, heads, N, N],
            temporal [B, N, heads, T, T]) weights.
    """

    def __init__(self, *args, **kwargs):
        # The arguments are `PreNormBlock`'s; this block adds only sublayers.
        super().__init__(*args, **kwargs)
        self.spatial_norm = layers.LayerNormalization(epsilon=1e-6, name="spatial_norm")
        self.spatial_attention = self.attention_sublayer("spatial_attention")
        self.temporal_norm = layers.LayerNormalization(
            epsilon=1e-6, name="temporal_norm"
        )
        self.temporal_attention = self.attention_sublayer("temporal_attention")
        self.spatial_dropout = layers.Dropout(self.dropout)
        self.temporal_dropout = layers.Dropout(self.dropout)

    def build(self, input_shape):
        _, steps, positions, hidden_dim = (None, *(int(v) for v in input_shape[1:]))
        self.spatial_norm.build(input_shape)
        self.temporal_norm.build(input_shape)
        self.spatial_attention.build((None, positions, hidden_dim))
        self.temporal_attention.build((None, steps, hidden_dim))
        self.build_mlp(input_shape)

    def call(self, tokens, training=None, return_attention_scores: bool = False):
        steps, positions, hidden_dim = tokens.shape[1], tokens.shape[2], tokens.shape[3]
        # Space: each time step's N tokens attend to each other.
        spatial_in = ops.reshape(self.spatial_norm(tokens), (-1, positions, hidden_dim))
        spatial_out, spatial_weights = self.spatial_attention(
            spatial_in, training=training, return_attention_scores=True
        )
        spatial_out = ops.reshape(spatial_out, (-1, steps, positions, hidden_dim))
        tokens = tokens + self.spatial_dropout(spatial_out, training=training)
        # Time: each spatial position's T tokens attend to each other.
        temporal_in = ops.transpose(self.temporal_norm(tokens), (0, 2, 1, 3))
        temporal_in = ops.reshape(temporal_in, (-1, steps, hidden_dim))
        temporal_out, temporal_weights = self.temporal_attention(
            temporal_in, training=training, return_attention_scores=True
        )
        temporal_out = ops.reshape(temporal_out, (-1, positions, steps, hidden_dim))
        temporal_out = ops.transpose(temporal_out, (0, 2, 1, 3))
        tokens = tokens + self.temporal_dropout(temporal_out, training=training)
        tokens = self.mlp_residual(tokens, training=training)
        if not return_attention_scores:
            return tokens
        heads = self.num_heads
        spatial_weights = ops.reshape(
            spatial_weights, (-1, steps, heads, positions, positions)
        )
        temporal_weights = ops.reshape(
            temporal_weights, (-1, positions, heads, steps, steps)
        )
        return tokens, (spatial_weights, temporal_weights)


@keras.saving.register_keras_serializable(package="flarekit")
class FrameSelection(ConfigFromAttributes, layers.Layer):
    """One frame of a clip: [B, T, H, W, C] -> [B, H, W, C].

    Args:
        index: frame index; -1 (default) is the last frame, the one the
            label of a sequence sample is attached to.
    """

    config_attributes = ("index",)

    def __init__(self, index: int = -1, **kwargs):
        super().__init__(**kwargs)
        self.index = int(index)

    def call(self, clips):
        return clips[:, self.index]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *input_shape[2:])


def build_video_transformer(
    input_shape,
    architecture: str = "factorised",
    tubelet_size=(2, 8, 8),
    hidden_dim: int = 64,
    num_layers: int = 4,
    num_heads: int = 4,
    mlp_dim: int = 128,
    dropout: float = 0.1,
    attention_dropout: float = 0.0,
    swin_depths=(2, 2),
    swin_num_heads=(2, 4),
    swin_window_size=(4, 4, 4),
    drop_path_rate: float = 0.1,
    preprocessing=(),
    head=None,
    name: str = "video_transformer",
) -> keras.Model:
    """A functional video transformer from clips to features (or a task head).

    Args:
        input_shape: (frames, height, width, channels), raw physical values.
        architecture: "factorised" (flarekit's space-time transformer) or
            "video_swin" (keras-cv's VideoSwinBackbone).
        tubelet_size: (frames, height, width) per token; for "video_swin" its
            patch size.
        hidden_dim: token size ("video_swin": embedding size of stage 1).
        num_layers: factorised space-time blocks ("factorised" only).
        num_heads: attention heads per block ("factorised" only).
        mlp_dim: MLP hidden units ("factorised"); for "video_swin" the MLP
            ratio is mlp_dim / hidden_dim.
        dropout: dropout in the blocks and before the head.
        attention_dropout: dropout on attention weights.
        swin_depths: Swin blocks per stage ("video_swin" only).
        swin_num_heads: heads per stage ("video_swin" only).
        swin_window_size: 3-D attention window ("video_swin" only).
        drop_path_rate: stochastic depth ("video_swin" only).
        preprocessing: layers applied first, in order; they work on
            [B, T, H, W, C] as on images.
        head: output layer (see `flarekit.models.build_head`); None returns
            the pooled features.
        name: model name.

    Returns:
        A `keras.Model`. In the factorised model the blocks are
        `FactorisedSpaceTimeBlock` layers named `space_time_block_<i>`.

    Raises:
        ValueError: an unknown architecture, a bad shape, or sizes that do not
            divide.

    Example:
        >>> model = build_video_transformer((16, 32, 32, 4), "factorised",
        ...     tubelet_size=(2, 8, 8), hidden_dim=64, num_layers=4, num_heads=4,
        ...     mlp_dim=128, head=build_head(tasks.sequence("M1.0")))
    """
    input_shape = check_input_shape(input_shape, CLIP_AXES, "build_video_transformer")
    if architecture not in ARCHITECTURES:
        raise ValueError(
            f"architecture must be one of {ARCHITECTURES}, got {architecture!r}."
        )
    if hidden_dim % num_heads:
        raise ValueError(
            f"hidden_dim={hidden_dim} is not divisible by num_heads={num_heads}."
        )
    inputs, x = preprocessed_input(input_shape, preprocessing, name="frames")
    if architecture == "factorised":
        if int(num_layers) < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers!r}.")
        x = TubeletEmbedding(tubelet_size, hidden_dim, name="tubelet_embedding")(x)
        x = SeparablePositionEmbedding(name="position_embedding")(x)
        x = layers.Dropout(dropout, name="embedding_dropout")(x)
        for index in range(int(num_layers)):
            x = FactorisedSpaceTimeBlock(
                num_heads,
                mlp_dim,
                dropout,
                attention_dropout,
                name=f"space_time_block_{index}",
            )(x)
        x = layers.LayerNormalization(epsilon=1e-6, name="encoder_norm")(x)
        # Average over all space-time tokens: every tubelet counts equally.
        x = layers.GlobalAveragePooling2D(name="pool")(x)
    else:
        depths = [int(v) for v in swin_depths]
        stage_heads = [int(v) for v in swin_num_heads]
        if len(depths) != len(stage_heads) or not depths:
            raise ValueError(
                f"swin_depths {depths} and swin_num_heads {stage_heads} must be "
                "non-empty and of equal length (one entry per stage)."
            )
        x = _video_swin_backbone(
            include_rescaling=False,
            input_shape=input_shape,
            embed_dim=int(hidden_dim),
            patch_size=list(check_sizes(tubelet_size, 3, "tubelet_size")),
            window_size=list(check_sizes(swin_window_size, 3, "swin_window_size")),
            mlp_ratio=float(mlp_dim) / float(hidden_dim),
            drop_rate=float(dropout),
            attn_drop_rate=float(attention_dropout),
            drop_path_rate=float(drop_path_rate),
            depths=depths,
            num_heads=stage_heads,
        )(x)
        x = layers.GlobalAveragePooling3D(name="pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name="head_dropout")(x)
    outputs = head(x) if head is not None else x
    return keras.Model(inputs, outputs, name=name)


def _video_swin_backbone(**options):
    """keras-cv's `VideoSwinBackbone` from explicit options (its presets
    download weights, which fails here); keras-cv is imported only when a
    video Swin model is built."""
    from keras_cv.models import VideoSwinBackbone

    # keras-cv 0.9's window attention warns, at every trace, that it drops a
    # Keras mask its own padding attached; nothing downstream uses a mask.
    warnings.filterwarnings(
        "ignore",
        message=r"Layer 'video_swin_window_attention.*does not support masking",
    )
    return VideoSwinBackbone(**options, name="video_swin_backbone")


def build_frame_baseline(
    input_shape,
    frame_index: int = -1,
    filters=(32, 64, 128),
    dense_units: int = 64,
    dropout: float = 0.3,
    preprocessing=(),
    head=None,
    name: str = "frame_cnn",
) -> keras.Model:
    """The single-frame control of a video model: one frame of the clip into a CNN.

    Takes the same [T, H, W, C] input as the video model (so it trains and is
    scored on the same samples), keeps frame `frame_index`, applies the same
    preprocessing to it and runs `flarekit.models.build_cnn` on it.

    Args:
        input_shape: (frames, height, width, channels).
        frame_index: the frame kept; -1 = the last (the label's frame).
        filters, dense_units, dropout: as in `build_cnn`.
        preprocessing: per-pixel layers applied to the kept frame.
        head: output layer; None returns the CNN's features.
        name: model name.

    Returns:
        A `keras.Model` with input `frames`.

    Example:
        >>> model = build_frame_baseline((16, 32, 32, 4), filters=(16, 32),
        ...                              head=build_head(tasks.sequence()))
    """
    input_shape = check_input_shape(input_shape, CLIP_AXES, "build_frame_baseline")
    if not -input_shape[0] <= frame_index < input_shape[0]:
        raise ValueError(
            f"frame_index {frame_index} is outside a clip of {input_shape[0]} frames."
        )
    inputs = keras.Input(shape=input_shape, name="frames")
    # Selecting first is exact (the preprocessing is per pixel) and 16x cheaper.
    x = FrameSelection(frame_index, name="frame_selection")(inputs)
    for layer in preprocessing:
        x = layer(x)
    cnn = build_cnn(
        input_shape[1:], filters, dense_units, dropout, head=head, name="frame_cnn_body"
    )
    return keras.Model(inputs, cnn(x), name=name)
