"""Augmentation layers for solar images, for contrastive pretraining and training.

Every layer works on raw physical values (Gauss, DN/s; NaN off the limb, as
the data contract writes them), so an augmenter runs equally inside
`tf.data` (`dataset.map(augmenter)`) or inside a model, before the model's own
`DiskMask -> LogScaling -> ChannelNormalization` preprocessing. Photometric
changes are defined in the log domain of `flarekit.layers.LogScaling` (same
floors, same signed channels), which is where brightness differences between
instruments, degradation and exposures are additive.

What is on by default, and why:

- `RandomResizedCrop`: views of different parts and scales of the Sun
  (Chen et al. 2020 found cropping the single most useful augmentation).
- small rotations about the image centre (keras core `RandomRotation`, which
  handles any number of channels): for full-disk images centred in the frame
  this is a rotation about the disk centre, i.e. a different position angle.
  Kept small because a rotation tilts every bipole by the same angle and
  Joy's law is about the tilt.
- `LogIntensityJitter`: gain (brightness) and contrast jitter and Gaussian
  noise in the log domain.

What is off by default (SCIENCE.md trap 7): mirror flips. An east-west flip
swaps leading and following polarities, which breaks Hale's polarity law and
Joy's tilt law; a plain north-south flip moves northern regions south with
the northern polarity order, which breaks Hale's law. `HemisphereFlip` (a
north-south flip that also inverts magnetogram polarity) preserves both laws
and is the one flip worth opting into; plain flips are available through
`build_augmenter(flip="any")` for comparison only.

Example:
    >>> channels = ("magnetogram", "euv_171")
    >>> augmenter = build_augmenter(
    ...     channels, synthetic.channel_declarations(channels), seed=1)
    >>> views = augmenter(images, training=True)

References:
    Chen, T. et al. 2020, "A Simple Framework for Contrastive Learning of
    Visual Representations", ICML (SimCLR; random resized crop).
    Hale, G. E. et al. 1919, ApJ 49, 153 (polarity and tilt laws).
"""

from __future__ import annotations

import math

import keras
from keras import ops

from flarekit.layers.preprocessing import (
    _log_floors,
    _signed_mask,
    channel_log_scaling,
)
from flarekit.layers.serialization import ConfigFromAttributes

FLIP_MODES = ("none", "hemisphere", "any")


def _as_batch(images):
    """(images as a 4-D batch, whether the input was one unbatched image)."""
    if len(images.shape) == 3:
        return ops.expand_dims(images, 0), True
    if len(images.shape) != 4:
        raise ValueError(
            f"Augmentation layers take [H, W, C] or [B, H, W, C] images, got shape "
            f"{tuple(images.shape)}."
        )
    return images, False


def _restore(images, unbatched: bool):
    return ops.squeeze(images, 0) if unbatched else images


@keras.saving.register_keras_serializable(package="flarekit")
class RandomResizedCrop(ConfigFromAttributes, keras.layers.Layer):
    """Crop a random box of each image and resize it back to the input size.

    The box covers a share of the image area drawn uniformly from `area_range`,
    with an aspect ratio drawn log-uniformly from `aspect_ratio_range`, at a
    uniformly random position inside the image. Each image in a batch gets its
    own box. Bilinear resampling of a NaN pixel gives NaN, so missing data
    stays missing (`DiskMask` fills it later). Identity when `training` is
    False.

    Args:
        area_range: (min, max) share of the image area kept, in (0, 1].
        aspect_ratio_range: (min, max) width / height of the box.
        interpolation: "bilinear" or "nearest".
        seed: seed of the random boxes.

    Raises:
        ValueError: an area range outside (0, 1] or an empty ratio range.

    Example:
        >>> RandomResizedCrop(area_range=(0.25, 1.0), seed=0)(images, training=True)

    Reference:
        Szegedy, C. et al. 2015, "Going deeper with convolutions", CVPR
        (the crop); Chen et al. 2020 (its use in SimCLR).
    """

    config_attributes = ("area_range", "aspect_ratio_range", "interpolation", "seed")

    def __init__(
        self,
        area_range=(0.25, 1.0),
        aspect_ratio_range=(3 / 4, 4 / 3),
        interpolation: str = "bilinear",
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        area_range = tuple(float(v) for v in area_range)
        aspect_ratio_range = tuple(float(v) for v in aspect_ratio_range)
        if len(area_range) != 2 or not 0 < area_range[0] <= area_range[1] <= 1:
            raise ValueError(
                "area_range must be (min, max) with 0 < min <= max <= 1, got "
                f"{area_range}."
            )
        if (
            len(aspect_ratio_range) != 2
            or not 0 < aspect_ratio_range[0] <= aspect_ratio_range[1]
        ):
            raise ValueError(
                f"aspect_ratio_range must be (min, max) with 0 < min <= max, got "
                f"{aspect_ratio_range}."
            )
        if interpolation not in ("bilinear", "nearest"):
            raise ValueError(
                f"interpolation must be 'bilinear' or 'nearest', got {interpolation!r}."
            )
        self.area_range = area_range
        self.aspect_ratio_range = aspect_ratio_range
        self.interpolation = interpolation
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=True):
        if not training:
            return images
        images, unbatched = _as_batch(images)
        shape = ops.shape(images)
        batch = shape[0]
        height = ops.cast(shape[1], "float32")
        width = ops.cast(shape[2], "float32")
        area = keras.random.uniform(
            (batch,), *self.area_range, seed=self.seed_generator
        )
        log_ratio = keras.random.uniform(
            (batch,),
            math.log(self.aspect_ratio_range[0]),
            math.log(self.aspect_ratio_range[1]) + 1e-12,
            seed=self.seed_generator,
        )
        ratio = ops.exp(log_ratio)
        # Box sides as shares of the image sides; a box that would stick out
        # at an extreme ratio is clipped to the image.
        box_width = ops.minimum(ops.sqrt(area * ratio), 1.0)
        box_height = ops.minimum(ops.sqrt(area / ratio), 1.0)
        position = keras.random.uniform((batch, 2), seed=self.seed_generator)
        left = position[:, 0] * (1.0 - box_width) * width
        top = position[:, 1] * (1.0 - box_height) * height
        # Output pixel centre x maps to input coordinate
        # left + (x + 0.5) * box_width - 0.5 (pixel index coordinates).
        zeros = ops.zeros_like(box_width)
        transform = ops.stack(
            [
                box_width,
                zeros,
                left + 0.5 * box_width - 0.5,
                zeros,
                box_height,
                top + 0.5 * box_height - 0.5,
                zeros,
                zeros,
            ],
            axis=1,
        )
        outputs = ops.image.affine_transform(
            ops.cast(images, "float32"),
            transform,
            interpolation=self.interpolation,
            fill_mode="nearest",
        )
        return _restore(ops.cast(outputs, images.dtype), unbatched)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="flarekit")
class LogIntensityJitter(ConfigFromAttributes, keras.layers.Layer):
    """Gain, contrast and noise jitter in the log domain of `LogScaling`.

    With `y = LogScaling(x)` (signed `sign(x) log10(1 + |x|/floor)` for
    magnetograms, `log10(max(x, floor))` for intensities), each image and
    channel gets:

    - a gain `10**d`, `d ~ U(-brightness_dex, brightness_dex)`, applied to the
      raw values: `d` dex added to `log10` of every intensity above its floor
      (instrument degradation, exposure); for magnetograms a calibration gain;
    - a contrast `c ~ U(1 - contrast, 1 + contrast)`: `y -> m + c (y - m)`,
      `m` the image's mean `y` for intensities and 0 for signed channels (so
      polarity and the sign of the field are kept);
    - Gaussian noise of `noise_dex` (standard deviation, in log10 units) on
      every pixel.

    The result is mapped back to physical values, so the layer's output is
    again raw data. Non-finite pixels (off the limb) stay as they are, and so
    do intensity pixels at or below their floor (their log value is the floor
    whatever the jitter). Identity when `training` is False.

    Args:
        floors: per-channel log floors (or one for all), as in `LogScaling`.
        signed: per-channel bools (or one for all), as in `LogScaling`.
        brightness_dex: largest gain change, in dex (0 turns it off).
        contrast: largest relative contrast change (0 turns it off).
        noise_dex: noise standard deviation in log10 units (0 turns it off).
        seed: seed of the random draws.

    Raises:
        ValueError: a negative magnitude, a contrast >= 1, or floors <= 0.

    Example:
        >>> LogIntensityJitter(floors=[10.0, 1.0], signed=[True, False],
        ...                    brightness_dex=0.1, contrast=0.2, noise_dex=0.02)
    """

    config_attributes = (
        "floors",
        "signed",
        "brightness_dex",
        "contrast",
        "noise_dex",
        "seed",
    )

    def __init__(
        self,
        floors=1.0,
        signed=False,
        brightness_dex: float = 0.1,
        contrast: float = 0.2,
        noise_dex: float = 0.02,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (
            ("brightness_dex", brightness_dex),
            ("noise_dex", noise_dex),
        ):
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value!r}.")
        if not 0 <= contrast < 1:
            raise ValueError(f"contrast must be in [0, 1), got {contrast!r}.")
        self.floors = floors
        self.signed = signed
        self.brightness_dex = float(brightness_dex)
        self.contrast = float(contrast)
        self.noise_dex = float(noise_dex)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        self._floor_values = _log_floors(self.floors, input_shape[-1])
        self._signed_mask = _signed_mask(self.signed, input_shape[-1])

    def call(self, images, training=True):
        if not training:
            return images
        images, unbatched = _as_batch(images)
        x = ops.cast(images, "float32")
        shape = ops.shape(x)
        channels = x.shape[-1]
        floors = ops.convert_to_tensor(self._floor_values)
        signed = ops.convert_to_tensor(self._signed_mask)
        finite = ops.isfinite(x)
        x = ops.where(finite, x, 0.0)
        draw = (shape[0], 1, 1, channels)
        gain_dex = keras.random.uniform(
            draw,
            -self.brightness_dex,
            self.brightness_dex + 1e-12,
            seed=self.seed_generator,
        )
        stretch = keras.random.uniform(
            draw,
            1.0 - self.contrast,
            1.0 + self.contrast + 1e-12,
            seed=self.seed_generator,
        )
        noise = self.noise_dex * keras.random.normal(shape, seed=self.seed_generator)
        x = x * ops.power(10.0, gain_dex)
        log_signed = ops.sign(x) * ops.log10(1.0 + ops.abs(x) / floors)
        log_unsigned = ops.log10(ops.maximum(x, floors))
        y = ops.where(signed, log_signed, log_unsigned)
        counted = ops.cast(finite, "float32")
        mean = ops.sum(y * counted, axis=(1, 2), keepdims=True) / ops.maximum(
            ops.sum(counted, axis=(1, 2), keepdims=True), 1.0
        )
        reference = ops.where(signed, 0.0, mean)
        y = reference + stretch * (y - reference) + noise
        back_signed = ops.sign(y) * floors * (ops.power(10.0, ops.abs(y)) - 1.0)
        back_unsigned = ops.power(10.0, y)
        outputs = ops.where(signed, back_signed, back_unsigned)
        kept = ops.logical_or(signed, x > floors)
        outputs = ops.where(ops.logical_and(finite, kept), outputs, images)
        return _restore(ops.cast(outputs, images.dtype), unbatched)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="flarekit")
class HemisphereFlip(ConfigFromAttributes, keras.layers.Layer):
    """North-south flip with magnetogram polarity inversion: a flip that keeps
    Hale's and Joy's laws.

    For images with solar north along the rows (north up, as HMI/AIA level
    1.5 and the synthetic Sun), a north-south mirror moves each region to
    the other hemisphere at the same distance from the equator and the same
    east-west order, so Joy's law (leading spot nearer the equator) holds.
    The two hemispheres have opposite leading polarities in a cycle (Hale's
    law), so the signed channels are negated as well. What it does not keep:
    any real difference between the hemispheres (one more active than the
    other), so it is opt-in.

    Args:
        signed: per-channel bools (or one for all): channels whose sign is
            inverted (magnetograms).
        rate: probability that an image is flipped.
        seed: seed of the draws.

    Raises:
        ValueError: a rate outside [0, 1].

    Example:
        >>> HemisphereFlip(signed=[True, False, False, False], seed=0)
    """

    config_attributes = ("signed", "rate", "seed")

    def __init__(
        self, signed=False, rate: float = 0.5, seed: int | None = None, **kwargs
    ):
        super().__init__(**kwargs)
        if not 0 <= rate <= 1:
            raise ValueError(f"rate must be in [0, 1], got {rate!r}.")
        self.signed = signed
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        self._signed_mask = _signed_mask(self.signed, input_shape[-1])

    def call(self, images, training=False):
        # Off unless asked: a forecaster called as model(x) must not flip its
        # input (fit passes training=True; SimCLR's augmenter asks explicitly).
        if not training:
            return images
        images, unbatched = _as_batch(images)
        flipped = ops.flip(images, axis=1)
        flipped = ops.where(ops.convert_to_tensor(self._signed_mask), -flipped, flipped)
        draw = keras.random.uniform(
            (ops.shape(images)[0], 1, 1, 1), seed=self.seed_generator
        )
        outputs = ops.where(draw < self.rate, flipped, images)
        return _restore(outputs, unbatched)

    def compute_output_shape(self, input_shape):
        return input_shape


def channel_log_domain(channels, declarations, dataset: str | None = None) -> tuple:
    """(floors, signed) of `LogScaling` for these channels, from the dataset's
    channel declarations (`flarekit.layers.channel_log_scaling`)."""
    return channel_log_scaling(channels, declarations, dataset)


def build_augmenter(
    channels,
    declarations,
    crop_area=(0.25, 1.0),
    rotation_degrees: float = 10.0,
    brightness_dex: float = 0.1,
    contrast: float = 0.2,
    noise_dex: float = 0.02,
    flip: str = "none",
    image_size: int | None = None,
    seed: int | None = None,
    name: str = "augmenter",
) -> keras.Sequential:
    """The standard augmentation pipeline for raw solar images.

    Order: (resize) -> (opt-in flip) -> random resized crop -> small rotation
    about the image centre -> log-domain gain, contrast and noise. Each stage
    is left out when its magnitude is 0 (`crop_area=(1, 1)` for no crop).

    Args:
        channels: channel names in input order.
        declarations: mapping channel name -> {"unit", "kind", "floor"}, the
            dataset's channel declarations (they set the log domain and which
            channels a hemisphere flip negates).
        crop_area: (min, max) share of the image area kept by the crop.
        rotation_degrees: largest rotation, degrees, either way. Keep it
            small: every bipole turns with the image (Joy's law is a tilt).
        brightness_dex, contrast, noise_dex: see `LogIntensityJitter`.
        flip: "none" (default: mirror flips break Hale's and Joy's laws,
            SCIENCE.md trap 7), "hemisphere" (`HemisphereFlip`, which keeps
            both laws) or "any" (keras `RandomFlip` "horizontal_and_vertical",
            physics-breaking, for ablations only).
        image_size: resize to this side first (keras `Resizing`, antialiased)
            when the encoder works at a lower resolution than the data:
            augmenting 64 x 64 instead of 128 x 128 images is 3x cheaper.
            None keeps the input size.
        seed: base seed; each stage gets its own seed derived from it.
        name: name of the Sequential.

    Returns:
        A `keras.Sequential` that maps raw [B, H, W, C] (or [H, W, C]) images
        to augmented raw images of the same shape (or `image_size`); identity
        (apart from the resize) when `training=False`.

    Raises:
        ValueError: an unknown flip mode or empty channels.

    Example:
        >>> augmenter = build_augmenter(
        ...     ("magnetogram", "continuum"), synthetic.channel_declarations(), seed=0)
        >>> train = train.map(lambda x, y: (augmenter(x, training=True), y))
    """
    channels = tuple(channels)
    if not channels:
        raise ValueError("build_augmenter needs the channel names of the input.")
    if flip not in FLIP_MODES:
        raise ValueError(f"flip must be one of {FLIP_MODES}, got {flip!r}.")
    floors, signed = channel_log_domain(channels, declarations)

    def stage_seed(offset):
        return None if seed is None else int(seed) + offset

    stages = []
    if image_size:
        size = int(image_size)
        stages.append(keras.layers.Resizing(size, size, antialias=True, name="resize"))
    if flip == "hemisphere":
        stages.append(
            HemisphereFlip(signed=signed, seed=stage_seed(0), name="hemisphere_flip")
        )
    elif flip == "any":
        stages.append(
            keras.layers.RandomFlip(
                "horizontal_and_vertical", seed=stage_seed(0), name="flip"
            )
        )
    if tuple(crop_area) != (1.0, 1.0):
        stages.append(
            RandomResizedCrop(area_range=crop_area, seed=stage_seed(1), name="crop")
        )
    if rotation_degrees:
        # keras core RandomRotation: `factor` is a share of a full turn; the
        # corners it uncovers are filled with NaN, i.e. "no data".
        stages.append(
            keras.layers.RandomRotation(
                rotation_degrees / 360.0,
                fill_mode="constant",
                fill_value=float("nan"),
                seed=stage_seed(2),
                name="rotation",
            )
        )
    if brightness_dex or contrast or noise_dex:
        stages.append(
            LogIntensityJitter(
                floors=floors,
                signed=signed,
                brightness_dex=brightness_dex,
                contrast=contrast,
                noise_dex=noise_dex,
                seed=stage_seed(3),
                name="log_jitter",
            )
        )
    return keras.Sequential(stages, name=name)
