"""Tasks: turn data-contract features into Keras `(inputs, targets)`.

A task is a small frozen object whose `__call__` is a pure TensorFlow
function over one example's feature dict, so it runs inside `tf.data.map`
with no Python in the hot path. The same task also turns the numpy columns of
a finished evaluation back into labels (`labels_from_flux`), so that the
labels in `predictions.csv` and the labels the model was trained on are made
by one rule.

Example:
    >>> task = binary(threshold="M1.0")
    >>> inputs, target = task({"image": image, "peak_flux": 3e-5})
    >>> float(target)
    1.0
"""

from __future__ import annotations

import dataclasses

import numpy as np

from flarekit.data import goes

TASK_KINDS = ("binary", "multiclass", "regression", "generation")
# The class ladder prior multiclass work used: everything below C is "quiet".
DEFAULT_MULTICLASS = ("quiet", "C", "M", "X")
# Fluxes are stored as float32: float32(1e-5) is 9.99999975e-6, which must
# still count as M1.0. Every labelling rule compares with this relative slack.
FLUX_TOLERANCE = 1e-6


@dataclasses.dataclass(frozen=True)
class Task:
    """A mapping from features to `(inputs, targets)`.

    Attributes:
        kind: "binary", "multiclass", "regression" or "generation".
        input_key: "image" for single observations, "frames" for sequences.
        threshold: GOES class string of the binary threshold (binary only).
        class_names: the classes of a multiclass task, lowest flux first.
        channel_indices: channels kept from the input, () for all.
        condition: "goes_class" or "log_flux" (generation only).
    """

    kind: str
    input_key: str = "image"
    threshold: str | None = None
    class_names: tuple = ()
    channel_indices: tuple = ()
    condition: str | None = None

    def __post_init__(self):
        if self.kind not in TASK_KINDS:
            raise ValueError(f"Unknown task kind {self.kind!r}; expected one of {TASK_KINDS}.")
        if self.input_key not in ("image", "frames"):
            raise ValueError(
                f"input_key must be 'image' or 'frames', got {self.input_key!r}."
            )

    @property
    def threshold_flux(self) -> float:
        return goes.threshold_flux(self.threshold)

    @property
    def class_edges(self) -> np.ndarray:
        """Lower flux edge of each class of a multiclass task."""
        return np.array(
            [0.0 if name == "quiet" else goes.class_to_flux(name) for name in self.class_names]
        )

    @property
    def num_outputs(self) -> int:
        return len(self.class_names) if self.kind == "multiclass" else 1

    def labels_from_flux(self, peak_flux) -> np.ndarray:
        """The targets of this task for an array of peak fluxes (numpy)."""
        peak_flux = np.asarray(peak_flux, dtype=np.float64)
        if self.kind == "binary":
            return (peak_flux * (1 + FLUX_TOLERANCE) >= self.threshold_flux).astype(np.int64)
        if self.kind == "multiclass":
            edges = self.class_edges
            return np.searchsorted(edges, peak_flux * (1 + FLUX_TOLERANCE), side="right") - 1
        if self.kind == "regression":
            return np.log10(np.maximum(peak_flux, goes.QUIET_FLUX))
        raise ValueError(f"Task kind {self.kind!r} has no flux labels.")

    def select_channels(self, image):
        import tensorflow as tf

        if not self.channel_indices:
            return image
        return tf.gather(image, list(self.channel_indices), axis=-1)

    def __call__(self, features):
        """Map one example (or a batch) of features to `(inputs, targets)`."""
        import tensorflow as tf

        if self.input_key not in features:
            raise ValueError(
                f"The {self.kind} task reads feature {self.input_key!r}, which this "
                f"dataset does not have; it has {sorted(features)}."
            )
        inputs = self.select_channels(tf.cast(features[self.input_key], tf.float32))
        peak_flux = tf.cast(features["peak_flux"], tf.float32)
        if self.kind == "binary":
            slack = peak_flux * (1 + FLUX_TOLERANCE)
            target = tf.cast(slack >= self.threshold_flux, tf.float32)[..., None]
        elif self.kind == "multiclass":
            edges = tf.constant(self.class_edges[1:], tf.float32)
            target = tf.reduce_sum(
                tf.cast(peak_flux[..., None] * (1 + FLUX_TOLERANCE) >= edges, tf.int64),
                axis=-1,
            )
        elif self.kind == "regression":
            target = (
                tf.math.log(tf.maximum(peak_flux, goes.QUIET_FLUX)) / np.log(10.0)
            )[..., None]
        else:  # generation
            if self.condition == "goes_class":
                condition = tf.cast(features["goes_class"], tf.int32)
            else:
                condition = tf.math.log(tf.maximum(peak_flux, goes.QUIET_FLUX)) / np.log(
                    10.0
                )
            return {"images": inputs, "condition": condition}, condition
        return inputs, target

    def describe(self) -> dict:
        """JSON-serialisable description for config.json and reports."""
        return {
            "kind": self.kind,
            "input_key": self.input_key,
            "threshold": self.threshold,
            "class_names": list(self.class_names),
            "channel_indices": list(self.channel_indices),
            "condition": self.condition,
        }


def binary(threshold: str = "M1.0", input_key: str = "image", channel_indices=()) -> Task:
    """At least one flare >= `threshold` in the forecast window: target 0/1.

    Raises:
        ValueError: a malformed threshold class string.
    """
    goes.threshold_flux(threshold)
    return Task("binary", input_key, threshold=threshold, channel_indices=tuple(channel_indices))


def multiclass(
    class_names=DEFAULT_MULTICLASS, input_key: str = "image", channel_indices=()
) -> Task:
    """Largest flare class in the window; fluxes below the second class are 'quiet'.

    Args:
        class_names: e.g. ("quiet", "C", "M", "X"): "quiet" first, then letters
            (or class strings such as "M5") in increasing flux.

    Raises:
        ValueError: unknown or unordered classes.
    """
    class_names = tuple(class_names)
    if not class_names or class_names[0] != "quiet":
        raise ValueError(f"Multiclass classes must start with 'quiet', got {class_names}.")
    fluxes = [goes.class_to_flux(name) for name in class_names[1:]]
    if any(b <= a for a, b in zip(fluxes, fluxes[1:])):
        raise ValueError(f"Classes must be in increasing flux order, got {class_names}.")
    return Task(
        "multiclass", input_key, class_names=class_names, channel_indices=tuple(channel_indices)
    )


def regression(input_key: str = "image", channel_indices=()) -> Task:
    """log10 of the peak flux in the window (quiet = log10(1e-9) = -9)."""
    return Task("regression", input_key, channel_indices=tuple(channel_indices))


def sequence(threshold: str = "M1.0", channel_indices=()) -> Task:
    """Binary forecast from a `frames` sequence, labelled at the last frame."""
    return binary(threshold, input_key="frames", channel_indices=channel_indices)


def generation(condition: str = "goes_class", channel_indices=()) -> Task:
    """Images with their condition, for conditional generative models.

    Args:
        condition: "goes_class" (index into GOES_CLASSES) or "log_flux".
    """
    if condition not in ("goes_class", "log_flux"):
        raise ValueError(
            f"condition must be 'goes_class' or 'log_flux', got {condition!r}."
        )
    return Task("generation", condition=condition, channel_indices=tuple(channel_indices))


def from_config(config, channel_names=()) -> Task:
    """The task an experiment config asks for.

    Reads `task` ("binary" | "multiclass" | "regression" | "sequence"),
    `threshold`, `classes` and `channels` (names; () for all). Channel names are
    looked up in `channel_names`, the dataset's metadata.

    Raises:
        ValueError: an unknown task or a channel the dataset does not have.
    """
    channel_indices = channel_indices_for(config.get("channels", ()), channel_names)
    kind = config["task"]
    if kind == "binary":
        return binary(config["threshold"], channel_indices=channel_indices)
    if kind == "sequence":
        return sequence(config["threshold"], channel_indices=channel_indices)
    if kind == "multiclass":
        return multiclass(config.get("classes", DEFAULT_MULTICLASS), channel_indices=channel_indices)
    if kind == "regression":
        return regression(channel_indices=channel_indices)
    raise ValueError(
        f"Config field 'task' is {kind!r}; expected binary, multiclass, regression or sequence."
    )


def channel_indices_for(wanted, available) -> tuple:
    """Indices of the `wanted` channel names among the dataset's `available` ones.

    Raises:
        ValueError: naming the missing channel and the channels the dataset has.
    """
    wanted, available = tuple(wanted), tuple(available)
    missing = [name for name in wanted if name not in available]
    if missing:
        raise ValueError(
            f"Config field 'channels' asks for {missing}, which the dataset does not "
            f"have; its channels are {available}."
        )
    return tuple(available.index(name) for name in wanted)


# ---- classes read from a feature (e.g. Mount Wilson), not from a flux ----

MOUNT_WILSON_CLASSES = ("alpha", "beta", "beta-gamma", "beta-gamma-delta")


@dataclasses.dataclass(frozen=True)
class FeatureClassTask(Task):
    """A multiclass task whose target is an integer ClassLabel feature of the
    dataset (the Mount Wilson class of an active region), not a flare flux.

    Attributes:
        label_feature: the feature holding the class index.
    """

    label_feature: str = "mount_wilson"

    def labels_from_flux(self, peak_flux) -> np.ndarray:
        raise ValueError(
            f"The labels of this task come from feature {self.label_feature!r}, not "
            "from a flux; use labels_from_features."
        )

    def labels_from_features(self, values) -> np.ndarray:
        """The targets for an array of `label_feature` values (numpy).

        Raises:
            ValueError: a value outside [0, number of classes).
        """
        labels = np.asarray(values).astype(np.int64)
        bad = labels[(labels < 0) | (labels >= len(self.class_names))]
        if bad.size:
            raise ValueError(
                f"Feature {self.label_feature!r} holds {bad[:5].tolist()}, outside the "
                f"{len(self.class_names)} classes {self.class_names}."
            )
        return labels

    def __call__(self, features):
        import tensorflow as tf

        for key in (self.input_key, self.label_feature):
            if key not in features:
                raise ValueError(
                    f"The {self.label_feature} task reads feature {key!r}, which this "
                    f"dataset does not have; it has {sorted(features)}."
                )
        inputs = self.select_channels(tf.cast(features[self.input_key], tf.float32))
        return inputs, tf.cast(features[self.label_feature], tf.int64)

    def describe(self) -> dict:
        return {**super().describe(), "label_feature": self.label_feature}


def feature_class(
    label_feature: str = "mount_wilson",
    class_names=MOUNT_WILSON_CLASSES,
    input_key: str = "image",
    channel_indices=(),
) -> FeatureClassTask:
    """Classes read from an integer feature, e.g. the Mount Wilson class of a patch.

    Example:
        >>> task = feature_class("mount_wilson")
        >>> task.class_names
        ('alpha', 'beta', 'beta-gamma', 'beta-gamma-delta')

    Raises:
        ValueError: fewer than two classes.
    """
    class_names = tuple(class_names)
    if len(class_names) < 2:
        raise ValueError(f"A class task needs >= 2 classes, got {class_names}.")
    return FeatureClassTask(
        "multiclass",
        input_key,
        class_names=class_names,
        channel_indices=tuple(channel_indices),
        label_feature=label_feature,
    )
