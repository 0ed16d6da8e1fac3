"""Preprocessing layers that run inside the model.

Dataset builders write raw physical values (Gauss, DN/s); these layers turn
them into network inputs. Because they are layers, they are saved in the
`.keras` file with the network, run on the accelerator, and a model loaded
for prediction applies exactly the preprocessing it was trained with.

Order in a network: `DiskMask` (non-finite pixels and off-disk pixels to a
fill value) -> `LogScaling` (compress the dynamic range, signed for
magnetograms) -> `ChannelNormalization` (per-channel mean and standard
deviation, adapted on the training split only: SCIENCE.md trap 3).

All three use `keras.ops` only, so they run on the TensorFlow, JAX and
PyTorch backends. They compute in float32 even under a mixed-precision policy
(log10 of values up to ~1e4 in bfloat16 would lose the precision that
normalisation needs); the next layer casts to the compute dtype.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from flarekit.layers.serialization import ConfigFromAttributes


def _per_channel(value, channels: int, name: str) -> list:
    values = list(value) if isinstance(value, (list, tuple)) else [value] * channels
    if len(values) != channels:
        raise ValueError(
            f"{name} has {len(values)} entries {values} for {channels} channels."
        )
    return values


def _log_floors(floors, channels: int) -> np.ndarray:
    """The log floor of each channel (float32), from one for all or one each.

    Raises:
        ValueError: a floor <= 0, or a count that fits no channel count.
    """
    floors = _per_channel(floors, channels, "floors")
    if any(f <= 0 for f in floors):
        raise ValueError(f"Log-scaling floors must be > 0, got {floors}.")
    return np.asarray(floors, dtype="float32")


def _signed_mask(signed, channels: int) -> np.ndarray:
    """Whether each channel is signed (bool), from one for all or one each."""
    return np.asarray(_per_channel(signed, channels, "signed"), dtype=bool)


@keras.saving.register_keras_serializable(package="flarekit")
class DiskMask(ConfigFromAttributes, keras.layers.Layer):
    """Replace non-finite pixels (NaN off the limb in HMI) and, optionally, the
    pixels outside the solar disk with `fill_value`.

    Args:
        fill_value: value written where pixels are masked.
        radius_fraction: for full-disk images centred in the frame, the disk
            radius as a fraction of half the image width; pixels farther out
            are masked. None masks non-finite pixels only (patches).

    Example:
        >>> DiskMask(radius_fraction=0.9)(images)
    """

    config_attributes = ("fill_value", "radius_fraction")

    def __init__(self, fill_value: float = 0.0, radius_fraction: float | None = None, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if radius_fraction is not None and not 0 < radius_fraction <= 1.5:
            raise ValueError(
                f"radius_fraction must be in (0, 1.5], got {radius_fraction!r}."
            )
        self.fill_value = float(fill_value)
        self.radius_fraction = radius_fraction

    def call(self, inputs):
        inputs = ops.cast(inputs, self.compute_dtype)
        fill = ops.cast(self.fill_value, inputs.dtype)
        outputs = ops.where(ops.isfinite(inputs), inputs, fill)
        if self.radius_fraction is None:
            return outputs
        height, width = inputs.shape[-3], inputs.shape[-2]
        rows = (np.arange(height) + 0.5 - height / 2) / (height / 2)
        cols = (np.arange(width) + 0.5 - width / 2) / (width / 2)
        inside = (rows[:, None] ** 2 + cols[None, :] ** 2) <= self.radius_fraction**2
        inside = ops.convert_to_tensor(inside[..., None])
        return ops.where(inside, outputs, fill)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="flarekit")
class LogScaling(ConfigFromAttributes, keras.layers.Layer):
    """Log-compress each channel, with a floor.

    Unsigned channels (intensities): `log10(max(x, floor))`. Signed channels
    (magnetograms): `sign(x) * log10(1 + |x| / floor)`, which is linear below
    the floor (noise, about 10 G for HMI) and logarithmic above, and keeps the
    polarity that Hale's law is written in.

    Args:
        floors: one floor per channel (or one for all), in the channel's units.
        signed: one bool per channel (or one for all).

    Example:
        >>> LogScaling(floors=[10.0, 0.01, 1.0, 1.0], signed=[True, False, False, False])
    """

    config_attributes = ("floors", "signed")

    def __init__(self, floors=1.0, signed=False, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.floors = floors
        self.signed = signed

    def build(self, input_shape):
        self._floor_values = _log_floors(self.floors, input_shape[-1])
        self._signed_mask = _signed_mask(self.signed, input_shape[-1])

    def call(self, inputs):
        inputs = ops.cast(inputs, "float32")
        floors = ops.convert_to_tensor(self._floor_values)
        unsigned = ops.log10(ops.maximum(inputs, floors))
        signed = ops.sign(inputs) * ops.log10(1.0 + ops.abs(inputs) / floors)
        outputs = ops.where(ops.convert_to_tensor(self._signed_mask), signed, unsigned)
        return ops.cast(outputs, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="flarekit")
class ChannelNormalization(ConfigFromAttributes, keras.layers.Layer):
    """Per-channel `(x - mean) / std`, with statistics from the training split.

    The statistics are weights of the layer, so checkpoints and `.keras` files
    carry them. `adapt` computes them from a dataset of inputs to this layer;
    pixels equal to `ignore_value` (what `DiskMask` wrote off the disk) are
    left out, so the sky does not dilute the disk's statistics.

    Args:
        mean: per-channel means, or None to adapt.
        std: per-channel standard deviations, or None to adapt.
        ignore_value: input value not counted by `adapt` (None counts all).
        epsilon: added to `std`.
    """

    config_attributes = ("mean", "std", "ignore_value", "epsilon")

    def __init__(self, mean=None, std=None, ignore_value: float | None = 0.0, epsilon: float = 1e-6, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.mean = None if mean is None else [float(v) for v in np.ravel(mean)]
        self.std = None if std is None else [float(v) for v in np.ravel(std)]
        self.ignore_value = ignore_value
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        channels = input_shape[-1]
        for name, value in (("mean", self.mean), ("std", self.std)):
            if value is not None and len(value) != channels:
                raise ValueError(
                    f"ChannelNormalization {name} has {len(value)} values for "
                    f"{channels} channels."
                )
        self.channel_mean = self.add_weight(
            name="channel_mean",
            shape=(channels,),
            initializer=keras.initializers.Constant(self.mean or 0.0),
            trainable=False,
        )
        self.channel_std = self.add_weight(
            name="channel_std",
            shape=(channels,),
            initializer=keras.initializers.Constant(self.std or 1.0),
            trainable=False,
        )

    def call(self, inputs):
        inputs = ops.cast(inputs, "float32")
        outputs = (inputs - self.channel_mean) / (self.channel_std + self.epsilon)
        return ops.cast(outputs, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def adapt(self, batches, max_batches: int | None = None):
        """Set mean and std from an iterable of input batches (numpy or tensors).

        Uses float64 running sums, so the result does not depend on the batch
        size. Returns (mean, std) as lists.

        Raises:
            ValueError: no pixel was counted (empty data or everything masked).
        """
        total = total_sq = count = None
        for index, batch in enumerate(batches):
            if max_batches is not None and index >= max_batches:
                break
            values = np.asarray(batch, dtype=np.float64)
            values = values.reshape(-1, values.shape[-1])
            valid = np.isfinite(values)
            if self.ignore_value is not None:
                valid &= values != self.ignore_value
            values = np.where(valid, values, 0.0)
            if total is None:
                total = np.zeros(values.shape[-1])
                total_sq = np.zeros(values.shape[-1])
                count = np.zeros(values.shape[-1])
            total += values.sum(axis=0)
            total_sq += (values**2).sum(axis=0)
            count += valid.sum(axis=0)
        if count is None or np.any(count == 0):
            raise ValueError(
                "ChannelNormalization.adapt counted no valid pixel in some channel "
                f"(counts {None if count is None else count.tolist()}): the data is "
                "empty or fully masked."
            )
        mean = total / count
        std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
        std = np.where(std > 0, std, 1.0)
        if not self.built:
            self.build((None, len(mean)))
        self.channel_mean.assign(mean.astype("float32"))
        self.channel_std.assign(std.astype("float32"))
        self.mean, self.std = mean.tolist(), std.tolist()
        return self.mean, self.std


# The kinds of channel a dataset may declare (metadata "channel_declarations"):
# a signed channel is a field with a polarity (a magnetogram, in Gauss), log
# scaled as sign(x) log10(1 + |x| / floor) so that negative polarity survives;
# a positive channel is an intensity (DN/s), log scaled as log10(max(x, floor)).
CHANNEL_KINDS = ("signed", "positive")


def _declaration_error(dataset, message: str) -> ValueError:
    where = f"Dataset {dataset}" if dataset else "The channel declarations given"
    return ValueError(f"{where}: {message}")


def channel_log_scaling(channels, declarations, dataset: str | None = None) -> tuple:
    """`LogScaling`'s (floors, signed) for `channels`, from a dataset's declarations.

    Each dataset's metadata declares, under "channel_declarations", every channel
    it writes: `{"unit": "G", "kind": "signed", "floor": 10.0}`, with `kind` one
    of `CHANNEL_KINDS` and `floor` (> 0, in `unit`) the level below which
    values are noise. How a channel is log scaled follows from that
    declaration, never from its name.

    Args:
        channels: channel names in input order, e.g. ("magnetogram", "euv_171").
        declarations: mapping channel name -> declaration (the metadata's
            "channel_declarations", or `flarekit.data.pipeline.channel_declarations`).
        dataset: the dataset's name, for error messages.

    Returns:
        (floors, signed): two lists, one entry per channel.

    Raises:
        ValueError: no channels, a channel the declarations lack, or a
            declaration without a valid unit, kind or floor; each names the
            dataset, the channel and the field.

    Example:
        >>> channel_log_scaling(
        ...     ["hmi_bz"], {"hmi_bz": {"unit": "G", "kind": "signed", "floor": 10.0}})
        ([10.0], [True])
    """
    channels = tuple(channels)
    if not channels:
        raise ValueError("Log scaling needs the channel names of the input.")
    if not hasattr(declarations, "get"):
        raise _declaration_error(
            dataset,
            "channel declarations must be a mapping of channel name -> "
            f"{{unit, kind, floor}}; got {type(declarations).__name__} "
            f"{declarations!r}.",
        )
    floors, signed = [], []
    for name in channels:
        declaration = declarations.get(name)
        if declaration is None:
            raise _declaration_error(
                dataset,
                f"channel {name!r} is not declared (metadata 'channel_declarations' "
                f"declares {list(declarations)}); expected a declaration "
                "{unit, kind, floor} for every input channel.",
            )
        kind = declaration.get("kind")
        if kind not in CHANNEL_KINDS:
            raise _declaration_error(
                dataset,
                f"channel {name!r} has 'kind' {kind!r}; expected one of "
                f"{CHANNEL_KINDS}.",
            )
        floor = declaration.get("floor")
        is_number = isinstance(floor, (int, float)) and not isinstance(floor, bool)
        if not is_number or not floor > 0:
            raise _declaration_error(
                dataset,
                f"channel {name!r} has 'floor' {floor!r}; expected a number > 0 "
                f"in the channel's unit.",
            )
        if not isinstance(declaration.get("unit"), str) or not declaration["unit"]:
            raise _declaration_error(
                dataset,
                f"channel {name!r} has 'unit' {declaration.get('unit')!r}; expected "
                "the physical unit as text (e.g. 'G', 'DN/s').",
            )
        floors.append(float(floor))
        signed.append(kind == "signed")
    return floors, signed


def preprocessing_for(
    channels,
    declarations,
    radius_fraction: float | None = None,
    dataset: str | None = None,
) -> list:
    """The standard preprocessing layers for images with these channels.

    Args:
        channels: channel names in input order, e.g. ("magnetogram", "euv_171").
        declarations: mapping channel name -> {"unit", "kind", "floor"}, as the
            dataset's metadata declares it (`flarekit.data.pipeline.
            channel_declarations(config.dataset, config.channels)`); a signed
            channel keeps its sign through the log scaling.
        radius_fraction: for full-disk images, mask pixels outside this
            fraction of the half-width; None for patches.
        dataset: the dataset's name, for error messages.

    Returns:
        [DiskMask, LogScaling, ChannelNormalization] (normalisation to be
        adapted on the training split).

    Raises:
        ValueError: no channels, or a channel without a valid declaration
            (see `channel_log_scaling`).

    Example:
        >>> preprocessing_for(
        ...     ["hmi_bz"], {"hmi_bz": {"unit": "G", "kind": "signed", "floor": 10.0}})
    """
    channels = tuple(channels)
    if not channels:
        raise ValueError("preprocessing_for needs the channel names of the input.")
    floors, signed = channel_log_scaling(channels, declarations, dataset)
    return [
        DiskMask(radius_fraction=radius_fraction, name="disk_mask"),
        LogScaling(floors=floors, signed=signed, name="log_scaling"),
        ChannelNormalization(name="channel_normalization"),
    ]
