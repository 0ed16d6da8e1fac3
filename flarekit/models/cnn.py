"""The baseline convolutional network of flare forecasting.

A plain VGG-style stack (two 3x3 convolutions, batch norm, ReLU and 2x2 max
pooling per block), global average pooling and a small dense head: the shape
of the CNN baselines in SolarNet and SDO-Benchmark work, small enough to train
on a CPU.
"""

from __future__ import annotations

import keras
from keras import layers

from flarekit.models.inputs import IMAGE_AXES, check_input_shape, preprocessed_input


def build_cnn(
    input_shape,
    filters=(32, 64, 128),
    dense_units: int = 64,
    dropout: float = 0.3,
    preprocessing=(),
    head=None,
    name: str = "cnn",
) -> keras.Model:
    """A functional CNN from images to features (or to a task head).

    Args:
        input_shape: (height, width, channels), raw physical values.
        filters: convolution filters of each block; each block halves the size.
        dense_units: units of the dense layer before the head (0 for none).
        dropout: dropout rate before the head.
        preprocessing: layers applied first, in order (e.g. DiskMask,
            LogScaling, ChannelNormalization).
        head: a layer producing the outputs (see `build_head`); None returns
            the pooled features, for use as an encoder.
        name: model name.

    Returns:
        A `keras.Model`.

    Raises:
        ValueError: an input too small for the number of blocks.

    Example:
        >>> model = build_cnn((64, 64, 4), head=build_head(tasks.binary()))
    """
    input_shape = check_input_shape(input_shape, IMAGE_AXES, "build_cnn")
    if min(input_shape[:2]) < 2 ** len(filters):
        raise ValueError(
            f"Input {input_shape[:2]} is too small for {len(filters)} pooling blocks."
        )
    inputs, x = preprocessed_input(input_shape, preprocessing)
    for block, width in enumerate(filters):
        for conv in range(2):
            x = layers.Conv2D(
                width, 3, padding="same", use_bias=False, name=f"block{block}_conv{conv}"
            )(x)
            x = layers.BatchNormalization(name=f"block{block}_bn{conv}")(x)
            x = layers.Activation("relu", name=f"block{block}_relu{conv}")(x)
        x = layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    if dense_units:
        x = layers.Dense(dense_units, activation="relu", name="dense")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    outputs = head(x) if head is not None else x
    return keras.Model(inputs, outputs, name=name)


def build_head(task, name: str = "forecast") -> keras.layers.Layer:
    """The output layer a task needs: `task.head(name)` (kept for network.py files).

    Each task class owns its head (`flarekit.data.tasks`): binary, 1 sigmoid
    unit; multiclass, a softmax over its classes; regression, 1 linear unit
    (log10 flux); all in float32 even under mixed precision.

    Raises:
        ValueError: a task without a forecast head (generation).
    """
    return task.head(name=name)
