"""Tasks: turn data-contract features into Keras `(inputs, targets)`, and own
everything else that depends on what is forecast.

One module per task, each a `Task` subclass that registers itself under its
config name (`task = "binary"` in an experiment's config.py):

- `binary`: at least one flare >= a GOES class in the window (0/1);
- `multiclass`: the largest flare class in the window;
- `regression`: log10 of the window's peak flux;
- `sequence`: `binary` over a `frames` sequence, labelled at the last frame;
- `generation`: images with their condition, for generative models;
- `feature_class` (built by its trainer, not registered): classes read from
  an integer feature such as the Mount Wilson class.

A task's `__call__` is a pure TensorFlow function over one example's (or a
batch's) feature dict, so it runs inside `tf.data.map` with no Python in the
hot path. The same task turns the numpy columns of a finished evaluation back
into labels (`labels_from_flux`), so that the labels in predictions.csv and
the labels the model was trained on are made by one rule. It also builds the
network's output layer (`head`), chooses the loss and training metrics, writes
its predictions.csv columns, states its label definition and declares the
`evaluation` kind that `flarekit.metrics.evaluate` and `flarekit.report` score
it as. A new task is one new module (or one class in an experiment's
network.py) decorated with `register_task`; nothing else is edited.

Example:
    >>> task = binary(threshold="M1.0")
    >>> inputs, target = task({"image": image, "peak_flux": 3e-5})
    >>> float(target)
    1.0
"""

from __future__ import annotations

import importlib
import pkgutil

from flarekit.data.tasks.base import (
    FLUX_TOLERANCE,
    TASKS,
    Task,
    register_task,
)
from flarekit.data.tasks.binary import BinaryTask
from flarekit.data.tasks.feature_class import MOUNT_WILSON_CLASSES, FeatureClassTask
from flarekit.data.tasks.generation import GenerationTask
from flarekit.data.tasks.multiclass import DEFAULT_MULTICLASS, MulticlassTask
from flarekit.data.tasks.regression import RegressionTask
from flarekit.data.tasks.sequence import SequenceTask


# Import every module of the package, so that a task added as one file here
# registers itself without an import line.
for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")


def registered_names() -> tuple:
    """The config `task` values there is a task class for, sorted."""
    return tuple(sorted(TASKS))


def binary(
    threshold: str = "M1.0", input_key: str = "image", channel_indices=()
) -> BinaryTask:
    """At least one flare >= `threshold` in the forecast window: target 0/1.

    Raises:
        ValueError: a malformed threshold class string.
    """
    return BinaryTask(
        threshold=threshold, input_key=input_key, channel_indices=channel_indices
    )


def multiclass(
    class_names=DEFAULT_MULTICLASS, input_key: str = "image", channel_indices=()
) -> MulticlassTask:
    """Largest flare class in the window; fluxes below the second class are 'quiet'.

    Args:
        class_names: e.g. ("quiet", "C", "M", "X"): "quiet" first, then letters
            (or class strings such as "M5") in increasing flux.

    Raises:
        ValueError: unknown or unordered classes.
    """
    return MulticlassTask(
        class_names=class_names, input_key=input_key, channel_indices=channel_indices
    )


def regression(input_key: str = "image", channel_indices=()) -> RegressionTask:
    """log10 of the peak flux in the window (quiet = log10(1e-9) = -9)."""
    return RegressionTask(input_key=input_key, channel_indices=channel_indices)


def sequence(threshold: str = "M1.0", channel_indices=()) -> SequenceTask:
    """Binary forecast from a `frames` sequence, labelled at the last frame."""
    return SequenceTask(threshold=threshold, channel_indices=channel_indices)


def generation(condition: str = "goes_class", channel_indices=()) -> GenerationTask:
    """Images with their condition, for conditional generative models.

    Args:
        condition: "goes_class" (index into GOES_CLASSES) or "log_flux".

    Raises:
        ValueError: another condition.
    """
    return GenerationTask(condition=condition, channel_indices=channel_indices)


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
    return FeatureClassTask(
        class_names=class_names,
        input_key=input_key,
        channel_indices=channel_indices,
        label_feature=label_feature,
    )


def from_config(config, channel_names=()) -> Task:
    """The task an experiment config asks for.

    Reads `task` (a registered name: "binary", "multiclass", "regression",
    "sequence", "generation", or one a network.py registered), `channels`
    (names; () for all) and the task's own keys (`threshold`, `classes`,
    `condition`, ...). Channel names are looked up in `channel_names`, the
    dataset's metadata.

    Raises:
        ValueError: an unregistered task (the message lists the registered
            ones) or a channel the dataset does not have.
    """
    name = config["task"]
    if name not in TASKS:
        raise ValueError(
            f"Config field 'task' is {name!r}; expected one of the registered "
            f"tasks {list(registered_names())}."
        )
    channel_indices = channel_indices_for(config.get("channels", ()), channel_names)
    return TASKS[name].from_config(config, channel_indices)


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


__all__ = [
    "DEFAULT_MULTICLASS",
    "FLUX_TOLERANCE",
    "MOUNT_WILSON_CLASSES",
    "TASKS",
    "BinaryTask",
    "FeatureClassTask",
    "GenerationTask",
    "MulticlassTask",
    "RegressionTask",
    "SequenceTask",
    "Task",
    "binary",
    "channel_indices_for",
    "feature_class",
    "from_config",
    "generation",
    "multiclass",
    "register_task",
    "registered_names",
    "regression",
    "sequence",
]
