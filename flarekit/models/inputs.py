"""The input end every network builder shares: shape check and preprocessing.

Each `build_*` function takes the shape of one example and a sequence of
preprocessing layers (`flarekit.layers.preprocessing_for`); these helpers
check the shape with an error that names the builder, and make the
`keras.Input` with the preprocessing applied in order.
"""

from __future__ import annotations

import keras

IMAGE_AXES = ("height", "width", "channels")
CLIP_AXES = ("frames", "height", "width", "channels")


def check_input_shape(input_shape, axes: tuple, builder: str) -> tuple:
    """`input_shape` as a tuple of ints, one per name in `axes`.

    Args:
        input_shape: the shape of one example, without the batch axis.
        axes: the axis names the builder expects, e.g. `IMAGE_AXES`.
        builder: what needs the shape, for the message ("build_cnn").

    Returns:
        The shape as a tuple of ints.

    Raises:
        ValueError: a shape of another length, naming the axes expected.

    Example:
        >>> check_input_shape([64, 64, 4], IMAGE_AXES, "build_cnn")
        (64, 64, 4)
    """
    input_shape = tuple(int(v) for v in input_shape)
    if len(input_shape) != len(axes):
        raise ValueError(f"{builder} needs ({', '.join(axes)}), got {input_shape}.")
    return input_shape


def preprocessed_input(input_shape, preprocessing=(), name: str = "image") -> tuple:
    """A `keras.Input` and the tensor after the preprocessing layers.

    Args:
        input_shape: the shape of one example (checked by the caller).
        preprocessing: layers applied first, in order.
        name: the input's name ("image", "frames"), the key of the batches.

    Returns:
        (inputs, x): the model input and the preprocessed tensor.

    Example:
        >>> inputs, x = preprocessed_input((64, 64, 4), preprocessing_for(channels))
    """
    inputs = keras.Input(shape=input_shape, name=name)
    x = inputs
    for layer in preprocessing:
        x = layer(x)
    return inputs, x


def check_sizes(value, count: int, name: str) -> tuple:
    """`count` positive ints from one int (repeated) or a sequence of `count`.

    Args:
        value: an int, or a sequence of `count` ints (a patch or window size).
        count: how many sizes, one per axis (2 for a patch, 3 for a tubelet).
        name: the argument's name, for the message.

    Returns:
        A tuple of `count` ints.

    Raises:
        ValueError: a sequence of another length, or a size that is not a
            positive whole number, showing the value received.

    Example:
        >>> check_sizes(8, 2, "patch_size")
        (8, 8)
    """
    sizes = (value,) * count if isinstance(value, int) else tuple(value)
    if len(sizes) != count or any(int(v) != v or v < 1 for v in sizes):
        raise ValueError(
            f"{name} must be a positive int or {count} of them, got {value!r}."
        )
    return tuple(int(v) for v in sizes)
