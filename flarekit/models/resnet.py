"""A small pre-activation ResNet (ResNetV2), built from explicit arguments.

keras-cv's `ResNetV2Backbone` would be the natural choice, but keras-cv 0.9
is frozen: its preset constructors try to download weights, and even built
from explicit arguments the backbone fails under Keras 3.15 ("The name
'v2_stack_0_block1_use_preactivation_bn' is used 2 times in the model").
This builder makes the same architecture family (pre-activation residual
blocks, He et al. 2016) in a few dozen lines, sized for CPU work on
64 x 64 solar images, and downloads nothing.

Reference:
    He, K., Zhang, X., Ren, S., Sun, J. 2016, "Identity Mappings in Deep
    Residual Networks", ECCV.
"""

from __future__ import annotations

import keras
from keras import layers

from flarekit.models.inputs import IMAGE_AXES, check_input_shape, preprocessed_input


def _preactivation_block(x, filters: int, stride: int, name: str):
    """BN-ReLU-conv3x3-BN-ReLU-conv3x3, plus the (projected) shortcut."""
    preactivated = layers.BatchNormalization(name=f"{name}_preact_bn")(x)
    preactivated = layers.Activation("relu", name=f"{name}_preact_relu")(preactivated)
    if stride != 1 or x.shape[-1] != filters:
        # The projection takes the pre-activated input, as in ResNetV2.
        shortcut = layers.Conv2D(
            filters, 1, strides=stride, use_bias=False, name=f"{name}_shortcut"
        )(preactivated)
    else:
        shortcut = x
    y = layers.Conv2D(
        filters, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv1"
    )(preactivated)
    y = layers.BatchNormalization(name=f"{name}_bn2")(y)
    y = layers.Activation("relu", name=f"{name}_relu2")(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(
        y
    )
    return layers.Add(name=f"{name}_add")([shortcut, y])


def build_resnet(
    input_shape,
    stem_filters: int = 16,
    filters=(16, 32, 64),
    blocks_per_stage=(1, 1, 1),
    preprocessing=(),
    head=None,
    name: str = "resnet",
) -> keras.Model:
    """A functional pre-activation ResNet from images to pooled features.

    Stem: one 3x3 convolution (no max pooling: solar inputs here are small).
    Stage i has `blocks_per_stage[i]` residual blocks of `filters[i]`
    filters; every stage after the first halves the image size.

    Args:
        input_shape: (height, width, channels).
        stem_filters: filters of the stem convolution.
        filters: filters of each stage.
        blocks_per_stage: residual blocks in each stage (same length as
            `filters`).
        preprocessing: layers applied first, in order (see `build_cnn`).
        head: output layer (see `build_head`); None returns the pooled
            features, for use as an encoder.
        name: model name.

    Returns:
        A `keras.Model`.

    Raises:
        ValueError: mismatched `filters` / `blocks_per_stage`, a non-positive
            count, or an input too small for the stages.

    Example:
        >>> backbone = build_resnet((64, 64, 4), filters=(16, 32, 64))
        >>> backbone.output_shape
        (None, 64)
    """
    input_shape = check_input_shape(input_shape, IMAGE_AXES, "build_resnet")
    filters, blocks_per_stage = tuple(filters), tuple(blocks_per_stage)
    if not filters or len(filters) != len(blocks_per_stage):
        raise ValueError(
            f"filters {filters} and blocks_per_stage {blocks_per_stage} must be "
            "non-empty and of the same length."
        )
    if min(filters) < 1 or min(blocks_per_stage) < 1 or stem_filters < 1:
        raise ValueError(
            f"Filters and block counts must be >= 1, got stem {stem_filters}, "
            f"filters {filters}, blocks {blocks_per_stage}."
        )
    if min(input_shape[:2]) < 2 ** (len(filters) - 1):
        raise ValueError(
            f"Input {input_shape[:2]} is too small for {len(filters)} stages."
        )
    inputs, x = preprocessed_input(input_shape, preprocessing)
    x = layers.Conv2D(
        stem_filters, 3, padding="same", use_bias=False, name="stem_conv"
    )(x)
    for stage, (width, blocks) in enumerate(zip(filters, blocks_per_stage)):
        for block in range(blocks):
            stride = 2 if stage > 0 and block == 0 else 1
            x = _preactivation_block(
                x, width, stride, name=f"stage{stage}_block{block}"
            )
    # Pre-activation nets end with the BN-ReLU the last block left out.
    x = layers.BatchNormalization(name="post_bn")(x)
    x = layers.Activation("relu", name="post_relu")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = head(x) if head is not None else x
    return keras.Model(inputs, outputs, name=name)
