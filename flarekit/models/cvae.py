"""The encoder and decoder of a conditional variational autoencoder (CVAE).

The baseline that Ramunno & Csillaghy compared their diffusion model with:
a convolutional encoder q(z | x, c) and decoder p(x | z, c), both told the
condition c (GOES class or log10 flux) through the same `ConditionEmbedding`
the UNet uses. The algorithm (reparameterisation, the ELBO, sampling from the
prior) is `flarekit.training.ConditionalVAE`.

References:
    Kingma, D. & Welling, M. 2014, ICLR (the VAE).
    Sohn, K., Lee, H. & Yan, X. 2015, NeurIPS (the conditional VAE).
"""

from __future__ import annotations

import keras
from keras import layers

from flarekit.models.inputs import IMAGE_AXES, check_input_shape
from flarekit.models.unet import CONDITION_KINDS, ConditionEmbedding


def build_cvae(
    image_shape,
    latent_dim: int = 32,
    widths=(32, 64),
    condition: str = "goes_class",
    num_classes: int = 6,
    embedding_dim: int = 32,
    name: str = "cvae",
) -> tuple[keras.Model, keras.Model]:
    """Encoder `[images, condition] -> [z_mean, z_log_var]` and decoder
    `[z, condition] -> images`.

    Args:
        image_shape: (height, width, channels) of normalised images; height
            and width divisible by 2 ** len(widths).
        latent_dim: size of the latent vector z.
        widths: filters of the stride-2 convolutions (one per halving).
        condition: "goes_class" or "log_flux".
        num_classes: classes of a discrete condition.
        embedding_dim: size of the condition embedding.
        name: prefix of the two models' names.

    Returns:
        (encoder, decoder), functional `keras.Model`s.

    Raises:
        ValueError: a bad shape or condition kind.

    Example:
        >>> encoder, decoder = build_cvae((32, 32, 2), latent_dim=16)
        >>> z_mean, z_log_var = encoder([images, classes])
    """
    image_shape = check_input_shape(image_shape, IMAGE_AXES, "build_cvae")
    if condition not in CONDITION_KINDS:
        raise ValueError(
            f"condition must be one of {CONDITION_KINDS}, got {condition!r}."
        )
    factor = 2 ** len(widths)
    if image_shape[0] % factor or image_shape[1] % factor:
        raise ValueError(
            f"Image size {image_shape[:2]} is not divisible by {factor} ({len(widths)} "
            "stride-2 layers)."
        )
    condition_dtype = "int32" if condition == "goes_class" else "float32"

    images = keras.Input(shape=image_shape, name="images")
    encoder_condition = keras.Input(shape=(), dtype=condition_dtype, name="condition")
    embedded = ConditionEmbedding(
        condition, embedding_dim, num_classes=num_classes, name="condition_embedding"
    )(encoder_condition)
    # The condition enters as one extra constant channel per embedding unit
    # squeezed to a single map, so the first convolution can use it everywhere.
    condition_map = layers.Dense(image_shape[0] * image_shape[1], name="condition_map")(
        embedded
    )
    condition_map = layers.Reshape((*image_shape[:2], 1))(condition_map)
    x = layers.Concatenate()([images, condition_map])
    x = _stride_two_convolutions(x, enumerate(widths), layers.Conv2D, "encoder_conv")
    x = layers.Flatten()(x)
    x = layers.Concatenate()([x, embedded])
    x = layers.Dense(4 * latent_dim, activation="silu", name="encoder_dense")(x)
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
    encoder = keras.Model(
        [images, encoder_condition], [z_mean, z_log_var], name=f"{name}_encoder"
    )

    latent = keras.Input(shape=(latent_dim,), name="z")
    decoder_condition = keras.Input(shape=(), dtype=condition_dtype, name="condition")
    embedded = ConditionEmbedding(
        condition, embedding_dim, num_classes=num_classes, name="condition_embedding"
    )(decoder_condition)
    x = layers.Concatenate()([latent, embedded])
    low = (image_shape[0] // factor, image_shape[1] // factor)
    x = layers.Dense(
        low[0] * low[1] * widths[-1], activation="silu", name="decoder_dense"
    )(x)
    x = layers.Reshape((*low, widths[-1]))(x)
    x = _stride_two_convolutions(
        x, reversed(list(enumerate(widths))), layers.Conv2DTranspose, "decoder_deconv"
    )
    outputs = layers.Conv2D(
        image_shape[-1], 3, padding="same", dtype="float32", name="reconstruction"
    )(x)
    decoder = keras.Model([latent, decoder_condition], outputs, name=f"{name}_decoder")
    return encoder, decoder


def _stride_two_convolutions(x, levels, convolution, prefix: str):
    """3x3 SiLU convolutions of stride 2, one per (level, width) of `levels`.

    `convolution` is `layers.Conv2D` (each halves the image: the encoder) or
    `layers.Conv2DTranspose` (each doubles it: the decoder); the layers are
    named `<prefix><level>`, the names saved models know them by.
    """
    for level, width in levels:
        x = convolution(
            width,
            3,
            strides=2,
            padding="same",
            activation="silu",
            name=f"{prefix}{level}",
        )(x)
    return x
