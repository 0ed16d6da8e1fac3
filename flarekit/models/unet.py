"""A conditional UNet for diffusion models (DDPM's network, small enough for a CPU).

The network maps (noisy images, diffusion times, condition) to a prediction
of the same shape as the images: noise, clean image or velocity, as the
`DiffusionModel` that trains it chooses. Its parts follow Ho et al. (2020)
and the keras-io DDIM example:

- a sinusoidal embedding of the diffusion time, then a two-layer MLP;
- a condition embedding added to it: the discrete GOES class (quiet, A, B,
  C, M, X) through a table with one extra learned row, the null class, or the
  continuous log10 peak flux through a small MLP with a learned null vector
  used where the flux is NaN. The null embedding is what classifier-free
  guidance's unconditional branch sees;
- residual blocks (group norm, SiLU, 3x3 convolutions; the embedding is
  added between the two convolutions);
- self-attention at the low resolutions only, where it is cheap;
- a final convolution initialised at zero, so training starts from "predict
  zero", which is the mean of every prediction target.

References:
    Ho, J., Jain, A. & Abbeel, P. 2020, NeurIPS (the UNet of DDPM).
    Ronneberger, O. et al. 2015, MICCAI (UNet).
    Vaswani, A. et al. 2017, NeurIPS (sinusoidal embeddings, attention).
    Ho, J. & Salimans, T. 2022, arXiv:2207.12598 (the null condition).
"""

from __future__ import annotations

import math

import keras
from keras import layers, ops

from flarekit.layers.serialization import ConfigFromAttributes
from flarekit.models.inputs import IMAGE_AXES, check_input_shape

CONDITION_KINDS = ("goes_class", "log_flux")


@keras.saving.register_keras_serializable(package="flarekit")
class SinusoidalEmbedding(ConfigFromAttributes, layers.Layer):
    """Diffusion time t in [0, 1] -> [sin(f_k t'), cos(f_k t')], t' = time_scale t.

    Frequencies are geometric from 1 to 1 / max_period (Vaswani et al. 2017);
    `time_scale` = 1000 puts t on DDPM's integer-step scale, so the lowest
    frequencies still resolve single steps.

    Args:
        embedding_dim: output size (even).
        max_period: longest period, in scaled time units.
        time_scale: factor applied to t before embedding.

    Raises:
        ValueError: an odd or non-positive embedding_dim.

    Example:
        >>> SinusoidalEmbedding(32)(ops.ones((4,))).shape
        (4, 32)
    """

    config_attributes = ("embedding_dim", "max_period", "time_scale")

    def __init__(
        self,
        embedding_dim: int,
        max_period: float = 10_000.0,
        time_scale: float = 1000.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if embedding_dim <= 0 or embedding_dim % 2:
            raise ValueError(
                f"embedding_dim must be a positive even number, got {embedding_dim!r}."
            )
        self.embedding_dim = int(embedding_dim)
        self.max_period = float(max_period)
        self.time_scale = float(time_scale)

    def call(self, diffusion_times):
        times = ops.reshape(ops.cast(diffusion_times, "float32"), (-1, 1))
        half = self.embedding_dim // 2
        exponents = ops.arange(half, dtype="float32") / half
        frequencies = ops.exp(-math.log(self.max_period) * exponents)
        angles = self.time_scale * times * frequencies[None, :]
        return ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.embedding_dim)


@keras.saving.register_keras_serializable(package="flarekit")
class ConditionEmbedding(ConfigFromAttributes, layers.Layer):
    """A GOES class index or a log10 flux -> a vector, with a learned null.

    Discrete (`kind="goes_class"`): an embedding table of `num_classes + 1`
    rows; index `num_classes` is the null condition. Continuous
    (`kind="log_flux"`): `(log_flux - flux_center) / flux_scale` through a
    two-layer MLP; NaN marks the null condition and selects a learned vector.

    Args:
        kind: "goes_class" or "log_flux".
        embedding_dim: output size.
        num_classes: classes of the discrete condition (6: quiet, A, B, C, M, X).
        flux_center: log10 flux mapped to 0 (continuous only).
        flux_scale: log10 decades mapped to 1 (continuous only).

    Raises:
        ValueError: an unknown kind or a non-positive size.

    Example:
        >>> embed = ConditionEmbedding("goes_class", 64, num_classes=6)
        >>> embed(ops.array([0, 4, 6])).shape   # quiet, M, null
        (3, 64)
    """

    config_attributes = (
        "kind",
        "embedding_dim",
        "num_classes",
        "flux_center",
        "flux_scale",
    )

    def __init__(
        self,
        kind: str = "goes_class",
        embedding_dim: int = 128,
        num_classes: int = 6,
        flux_center: float = -6.0,
        flux_scale: float = 1.5,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if kind not in CONDITION_KINDS:
            raise ValueError(
                f"Condition kind must be one of {CONDITION_KINDS}, got {kind!r}."
            )
        if embedding_dim <= 0 or num_classes <= 0 or flux_scale <= 0:
            raise ValueError(
                "ConditionEmbedding needs positive sizes, got "
                f"embedding_dim={embedding_dim!r}, num_classes={num_classes!r}, "
                f"flux_scale={flux_scale!r}."
            )
        self.kind = kind
        self.embedding_dim = int(embedding_dim)
        self.num_classes = int(num_classes)
        self.flux_center = float(flux_center)
        self.flux_scale = float(flux_scale)
        if kind == "goes_class":
            self.table = layers.Embedding(
                self.num_classes + 1, self.embedding_dim, name="class_table"
            )
        else:
            self.hidden = layers.Dense(
                self.embedding_dim, activation="silu", name="flux_hidden"
            )
            self.projection = layers.Dense(self.embedding_dim, name="flux_projection")

    def build(self, input_shape):
        if self.kind == "goes_class":
            self.table.build(input_shape)
        else:
            self.hidden.build((None, 1))
            self.projection.build((None, self.embedding_dim))
            self.null_vector = self.add_weight(
                name="null_vector",
                shape=(self.embedding_dim,),
                initializer="zeros",
            )

    @property
    def null_condition(self):
        """The value that selects the null embedding (index or NaN)."""
        return self.num_classes if self.kind == "goes_class" else float("nan")

    def call(self, condition):
        if self.kind == "goes_class":
            indices = ops.clip(
                ops.cast(ops.reshape(condition, (-1,)), "int32"), 0, self.num_classes
            )
            return self.table(indices)
        flux = ops.reshape(ops.cast(condition, "float32"), (-1, 1))
        is_null = ops.isnan(flux)
        # Zero the NaNs before the MLP: NaN * 0 in its backward pass would
        # poison the weight gradients even where the null vector is chosen.
        scaled = ops.where(is_null, 0.0, (flux - self.flux_center) / self.flux_scale)
        embedded = self.projection(self.hidden(scaled))
        null = ops.broadcast_to(self.null_vector[None, :], ops.shape(embedded))
        return ops.where(is_null, null, embedded)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.embedding_dim)


def _groups(width: int, groups: int) -> int:
    """The largest group count <= `groups` that divides `width`."""
    for count in range(min(groups, width), 0, -1):
        if width % count == 0:
            return count
    return 1


def _residual_block(x, embedding, width: int, groups: int, dropout: float, name: str):
    """GroupNorm-SiLU-Conv, + embedding, GroupNorm-SiLU-Dropout-Conv, + skip."""
    skip = x
    if x.shape[-1] != width:
        skip = layers.Conv2D(width, 1, name=f"{name}_skip")(x)
    h = layers.GroupNormalization(_groups(x.shape[-1], groups), name=f"{name}_norm1")(x)
    h = layers.Activation("silu", name=f"{name}_act1")(h)
    h = layers.Conv2D(width, 3, padding="same", name=f"{name}_conv1")(h)
    shift = layers.Dense(width, name=f"{name}_embedding")(embedding)
    h = layers.Add(name=f"{name}_add_embedding")(
        [h, layers.Reshape((1, 1, width))(shift)]
    )
    h = layers.GroupNormalization(_groups(width, groups), name=f"{name}_norm2")(h)
    h = layers.Activation("silu", name=f"{name}_act2")(h)
    if dropout:
        h = layers.Dropout(dropout, name=f"{name}_dropout")(h)
    h = layers.Conv2D(width, 3, padding="same", name=f"{name}_conv2")(h)
    return layers.Add(name=f"{name}_out")([h, skip])


def _attention_block(x, heads: int, groups: int, name: str):
    """Self-attention over all pixels of a (small) feature map, residual."""
    height, width, channels = x.shape[1], x.shape[2], x.shape[3]
    h = layers.GroupNormalization(_groups(channels, groups), name=f"{name}_norm")(x)
    h = layers.Reshape((height * width, channels), name=f"{name}_flatten")(h)
    h = layers.MultiHeadAttention(
        heads, max(1, channels // heads), name=f"{name}_attention"
    )(h, h)
    h = layers.Reshape((height, width, channels), name=f"{name}_unflatten")(h)
    return layers.Add(name=f"{name}_out")([x, h])


def build_unet(
    image_shape,
    widths=(32, 64, 128),
    blocks_per_level: int = 2,
    attention_resolution: int = 16,
    attention_heads: int = 4,
    condition: str = "goes_class",
    num_classes: int = 6,
    embedding_dim: int = 128,
    groups: int = 8,
    dropout: float = 0.0,
    name: str = "unet",
) -> keras.Model:
    """A conditional UNet: (noisy images, diffusion times, condition) -> prediction.

    Args:
        image_shape: (height, width, channels) of the normalised images;
            height and width divisible by 2 ** (len(widths) - 1).
        widths: channels at each resolution level, highest resolution first;
            each further level halves the resolution.
        blocks_per_level: residual blocks per level on the way down (one more
            on the way up, as in DDPM).
        attention_resolution: self-attention at levels whose feature maps are
            at most this size (and always in the middle).
        attention_heads: heads of each attention layer.
        condition: "goes_class" (class index input, int) or "log_flux"
            (log10 peak flux input, float; NaN = no condition).
        num_classes: classes of the discrete condition; index `num_classes`
            is the learned null class.
        embedding_dim: size of the time and condition embeddings.
        groups: group-norm groups (fewer where a width is not divisible).
        dropout: dropout rate in the residual blocks.
        name: model name.

    Returns:
        A functional `keras.Model` with inputs `noisy_images` [H, W, C],
        `diffusion_times` [] (float) and `condition` [] and output [H, W, C].

    Raises:
        ValueError: a bad shape, an image size not divisible by the number of
            levels, or an unknown condition kind.

    Example:
        >>> unet = build_unet((64, 64, 2), widths=(32, 64, 128), condition="goes_class")
        >>> prediction = unet([noisy_images, diffusion_times, goes_classes])
    """
    image_shape = check_input_shape(image_shape, IMAGE_AXES, "build_unet")
    if condition not in CONDITION_KINDS:
        raise ValueError(
            f"condition must be one of {CONDITION_KINDS}, got {condition!r}."
        )
    widths = tuple(int(w) for w in widths)
    if not widths:
        raise ValueError("build_unet needs at least one width.")
    factor = 2 ** (len(widths) - 1)
    if image_shape[0] % factor or image_shape[1] % factor:
        raise ValueError(
            f"Image size {image_shape[:2]} is not divisible by {factor} "
            f"({len(widths)} levels of widths {widths})."
        )
    noisy_images = keras.Input(shape=image_shape, name="noisy_images")
    diffusion_times = keras.Input(shape=(), name="diffusion_times")
    condition_input = keras.Input(
        shape=(),
        dtype="int32" if condition == "goes_class" else "float32",
        name="condition",
    )

    time_embedding = SinusoidalEmbedding(embedding_dim, name="time_sinusoid")(
        diffusion_times
    )
    time_embedding = layers.Dense(embedding_dim, activation="silu", name="time_mlp1")(
        time_embedding
    )
    time_embedding = layers.Dense(embedding_dim, name="time_mlp2")(time_embedding)
    condition_embedding = ConditionEmbedding(
        condition, embedding_dim, num_classes=num_classes, name="condition_embedding"
    )(condition_input)
    embedding = layers.Add(name="embedding_sum")([time_embedding, condition_embedding])
    embedding = layers.Activation("silu", name="embedding_act")(embedding)

    x = layers.Conv2D(widths[0], 3, padding="same", name="stem")(noisy_images)
    skips = [x]
    for level, width in enumerate(widths):
        attend = image_shape[0] // 2**level <= attention_resolution
        for block in range(blocks_per_level):
            x = _residual_block(
                x, embedding, width, groups, dropout, f"down{level}_{block}"
            )
            if attend:
                x = _attention_block(
                    x, attention_heads, groups, f"down{level}_{block}_attn"
                )
            skips.append(x)
        if level < len(widths) - 1:
            x = layers.Conv2D(
                width, 3, strides=2, padding="same", name=f"down{level}_pool"
            )(x)
            skips.append(x)

    x = _residual_block(x, embedding, widths[-1], groups, dropout, "middle_0")
    x = _attention_block(x, attention_heads, groups, "middle_attn")
    x = _residual_block(x, embedding, widths[-1], groups, dropout, "middle_1")

    for level in reversed(range(len(widths))):
        width = widths[level]
        attend = image_shape[0] // 2**level <= attention_resolution
        for block in range(blocks_per_level + 1):
            x = layers.Concatenate(name=f"up{level}_{block}_concat")([x, skips.pop()])
            x = _residual_block(
                x, embedding, width, groups, dropout, f"up{level}_{block}"
            )
            if attend:
                x = _attention_block(
                    x, attention_heads, groups, f"up{level}_{block}_attn"
                )
        if level > 0:
            x = layers.UpSampling2D(
                2, interpolation="nearest", name=f"up{level}_upsample"
            )(x)
            x = layers.Conv2D(width, 3, padding="same", name=f"up{level}_conv")(x)

    x = layers.GroupNormalization(_groups(widths[0], groups), name="head_norm")(x)
    x = layers.Activation("silu", name="head_act")(x)
    outputs = layers.Conv2D(
        image_shape[-1],
        3,
        padding="same",
        kernel_initializer="zeros",
        dtype="float32",
        name="prediction",
    )(x)
    return keras.Model(
        [noisy_images, diffusion_times, condition_input], outputs, name=name
    )
