"""The `Task` base class and the registry every task registers itself in.

A task owns everything that depends on what is forecast: how features become
`(inputs, targets)` (pure TensorFlow, for `tf.data.map`), how a finished
evaluation's peak fluxes become labels again (numpy), the network's output
layer, the loss and training metrics, the columns it writes into
predictions.csv, the label definition the report states, and any report
section of its own. It also declares `evaluation`, the kind string that
`flarekit.metrics.evaluate` and `flarekit.report` dispatch on ("binary",
"multiclass" or "regression"), so that scoring code never imports tasks and a
new task that is scored like an existing one needs no edit outside its file.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import ClassVar

import numpy as np

from flarekit.data import goes
from flarekit.registry import register_named_class

# Fluxes are stored as float32: float32(1e-5) is 9.99999975e-6, which must
# still count as M1.0. Every labelling rule compares with this relative slack.
FLUX_TOLERANCE = 1e-6
INPUT_KEYS = ("image", "frames")

# Registry key (the config's `task = "..."`) -> Task subclass.
TASKS: dict[str, type] = {}


def register_task(cls):
    """Class decorator: make a `Task` subclass available as `task = cls.name`.

    Defining the same class again (a re-imported experiment file, a re-run
    notebook cell) replaces the earlier definition; a different class that
    claims a name already taken is an error.

    Example:
        >>> @register_task
        ... @dataclasses.dataclass(frozen=True)
        ... class StormTask(Task):
        ...     name = "storm"
        ...     ...

    Raises:
        TypeError: `cls` is not a Task subclass.
        ValueError: `cls` has no name, or its name is taken by another class.
    """
    return register_named_class(TASKS, cls, Task, "Task")


def log10_flux(peak_flux):
    """log10 of a peak flux tensor with the quiet floor (TensorFlow)."""
    import tensorflow as tf

    return tf.math.log(tf.maximum(peak_flux, goes.QUIET_FLUX)) / np.log(10.0)


@dataclasses.dataclass(frozen=True)
class Task(abc.ABC):
    """A mapping from features to `(inputs, targets)`, and what goes with it.

    Subclasses set the class attributes `name` and `evaluation`, implement
    `targets`, and override the methods of the capabilities they have; a
    capability a task lacks (a generation task has no forecast head) raises
    ValueError naming the task.

    Attributes:
        name: registry key, the config's `task` value (class attribute).
        evaluation: the kind string `flarekit.metrics.evaluate` and
            `flarekit.report` score it as, or None when runs of this task are
            not scored there (class attribute).
        threshold: GOES class of the event threshold, or None (the settings
            echo it).
        class_names: classes of a class task, lowest first, or ().
        input_key: "image" for single observations, "frames" for sequences.
        channel_indices: channels kept from the input, () for all.
    """

    name: ClassVar[str] = ""
    evaluation: ClassVar[str | None] = None
    threshold: ClassVar[str | None] = None
    class_names: ClassVar[tuple] = ()
    input_key: str = "image"
    channel_indices: tuple = ()

    def __post_init__(self):
        if self.input_key not in INPUT_KEYS:
            raise ValueError(
                f"input_key must be one of {INPUT_KEYS}, got {self.input_key!r}."
            )
        object.__setattr__(self, "channel_indices", tuple(self.channel_indices))

    @classmethod
    def from_config(cls, config, channel_indices: tuple) -> Task:
        """This task as an experiment config asks for it (its own keys only)."""
        return cls(channel_indices=channel_indices)

    @property
    def kind(self) -> str:
        """Read-only alias of `evaluation` (or `name` when there is none), for
        code that asks whether targets are 0/1 (oversampling positives)."""
        return self.evaluation or self.name

    @property
    def num_outputs(self) -> int:
        """Width of the network's output."""
        return 1

    # ---- features -> (inputs, targets), TensorFlow --------------------------
    def select_channels(self, image):
        import tensorflow as tf

        if not self.channel_indices:
            return image
        return tf.gather(image, list(self.channel_indices), axis=-1)

    def read_inputs(self, features):
        """The network's input from one example (or a batch) of features.

        Raises:
            ValueError: the dataset lacks the feature this task reads.
        """
        import tensorflow as tf

        if self.input_key not in features:
            raise ValueError(
                f"The {self.name} task reads feature {self.input_key!r}, which this "
                f"dataset does not have; it has {sorted(features)}."
            )
        return self.select_channels(tf.cast(features[self.input_key], tf.float32))

    @abc.abstractmethod
    def targets(self, features):
        """The training targets of one example (or a batch), TensorFlow."""

    def __call__(self, features):
        """Map one example (or a batch) of features to `(inputs, targets)`."""
        return self.read_inputs(features), self.targets(features)

    # ---- labels, numpy ----------------------------------------------------
    def labels_from_flux(self, peak_flux) -> np.ndarray:
        """The targets of this task for an array of peak fluxes (numpy).

        Raises:
            ValueError: this task's labels do not come from a flux.
        """
        raise ValueError(f"Task {self.name!r} has no flux labels.")

    def base_rate(self, labels):
        """What climatology forecasts, from the training labels (the mean)."""
        return float(np.mean(labels))

    def balanced_class_weight(self, base_rate) -> dict | None:
        """Keras class weights that balance the classes; None where this task
        has no such weighting (only 0/1 targets have one here)."""
        return None

    def true_probability(self, probabilities, thresholds):
        """The dataset's true event probability for this task, else NaN.

        Args:
            probabilities: [n, k] true probabilities for the dataset's
                `probability_thresholds` (GOES classes), or None.
            thresholds: those k GOES classes.
        """
        return np.nan

    # ---- model ------------------------------------------------------------
    def head(self, name: str = "forecast"):
        """The network's output layer, in float32 even under mixed precision.

        Raises:
            ValueError: this task has no forecast head.
        """
        raise ValueError(
            f"Task {self.name!r} has no forecast head; its trainer builds the model."
        )

    def loss(self):
        """The training loss (a Keras loss or its name)."""
        raise ValueError(f"Task {self.name!r} has no forecast loss.")

    def metrics(self) -> list:
        """Metrics Keras reports during training (history.csv)."""
        raise ValueError(f"Task {self.name!r} has no forecast metrics.")

    # ---- evaluation and report ----------------------------------------------
    def prediction_columns(self, frame, outputs, labels):
        """Add this task's label and output columns to a predictions frame.

        Args:
            frame: pandas DataFrame, one row per sample (changed in place).
            outputs: the model's outputs, [n, num_outputs].
            labels: `labels_from_flux` (or the task's own labels) of the rows.

        Returns:
            `frame`.
        """
        raise ValueError(f"Task {self.name!r} writes no predictions.")

    def label_definition(self, horizon_hours) -> str:
        """One line for the report: what a label means."""
        raise ValueError(f"Task {self.name!r} has no label definition.")

    def report_sections(self, metrics) -> list[str]:
        """Markdown lines this task adds to report.md after the common ones."""
        return []

    def describe(self) -> dict:
        """JSON-serialisable description for config.json, summaries and reports."""
        fields = {
            field.name: list(value) if isinstance(value, tuple) else value
            for field in dataclasses.fields(self)
            for value in [getattr(self, field.name)]
        }
        return {"name": self.name, "evaluation": self.evaluation, **fields}
