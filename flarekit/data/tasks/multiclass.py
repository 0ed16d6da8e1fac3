"""Multiclass flare forecast: the largest flare class in the window."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from flarekit.data import goes
from flarekit.data.tasks.base import FLUX_TOLERANCE, Task, register_task

# The class ladder prior multiclass work used: everything below C is "quiet".
DEFAULT_MULTICLASS = ("quiet", "C", "M", "X")


@register_task
@dataclasses.dataclass(frozen=True)
class MulticlassTask(Task):
    """Target: index of the window's largest flare among `class_names`.

    Attributes:
        class_names: "quiet" first, then GOES letters or class strings
            ("M5") in increasing flux; fluxes below the second class are quiet.
    """

    name = "multiclass"
    evaluation = "multiclass"
    class_names: tuple = DEFAULT_MULTICLASS

    def __post_init__(self):
        super().__post_init__()
        class_names = tuple(self.class_names)
        if not class_names or class_names[0] != "quiet":
            raise ValueError(
                f"Multiclass classes must start with 'quiet', got {class_names}."
            )
        fluxes = [goes.class_to_flux(name) for name in class_names[1:]]
        if any(b <= a for a, b in itertools.pairwise(fluxes)):
            raise ValueError(
                f"Classes must be in increasing flux order, got {class_names}."
            )
        object.__setattr__(self, "class_names", class_names)

    @classmethod
    def from_config(cls, config, channel_indices: tuple) -> MulticlassTask:
        return cls(
            class_names=config.get("classes", DEFAULT_MULTICLASS),
            channel_indices=channel_indices,
        )

    @property
    def class_edges(self) -> np.ndarray:
        """Lower flux edge of each class."""
        return np.array(
            [
                0.0 if name == "quiet" else goes.class_to_flux(name)
                for name in self.class_names
            ]
        )

    @property
    def num_outputs(self) -> int:
        return len(self.class_names)

    def targets(self, features):
        import tensorflow as tf

        peak_flux = tf.cast(features["peak_flux"], tf.float32)
        edges = tf.constant(self.class_edges[1:], tf.float32)
        return tf.reduce_sum(
            tf.cast(peak_flux[..., None] * (1 + FLUX_TOLERANCE) >= edges, tf.int64),
            axis=-1,
        )

    def labels_from_flux(self, peak_flux) -> np.ndarray:
        peak_flux = np.asarray(peak_flux, dtype=np.float64)
        return (
            np.searchsorted(
                self.class_edges, peak_flux * (1 + FLUX_TOLERANCE), side="right"
            )
            - 1
        )

    def base_rate(self, labels) -> list[float]:
        """Training frequency of each class, in class order."""
        labels = np.asarray(labels)
        return [float(np.mean(labels == k)) for k in range(self.num_outputs)]

    def head(self, name: str = "forecast"):
        """Softmax over the classes."""
        import keras

        return keras.layers.Dense(
            self.num_outputs, activation="softmax", dtype="float32", name=name
        )

    def loss(self):
        return "sparse_categorical_crossentropy"

    def metrics(self) -> list:
        return ["accuracy"]

    def prediction_columns(self, frame, outputs, labels):
        frame["label"] = labels
        for index, class_name in enumerate(self.class_names):
            frame[f"prob_{class_name}"] = outputs[:, index]
        return frame

    def label_definition(self, horizon_hours) -> str:
        return (
            f"class of the largest flare peaking in (t, t + {horizon_hours} h] among "
            f"{list(self.class_names)} (below {self.class_names[1]} = quiet)"
        )
