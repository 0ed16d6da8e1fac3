"""Classes read from an integer feature (the Mount Wilson class of a patch),
not from a flare flux."""

from __future__ import annotations

import dataclasses

import numpy as np

from flarekit.data.tasks.multiclass import MulticlassTask

MOUNT_WILSON_CLASSES = ("alpha", "beta", "beta-gamma", "beta-gamma-delta")


@dataclasses.dataclass(frozen=True)
class FeatureClassTask(MulticlassTask):
    """A class task whose target is an integer ClassLabel feature of the
    dataset, scored, headed and reported as a multiclass forecast.

    Not in the config registry: the "feature_class" trainer builds it from
    its `label_feature` and `classes` keys (`tasks.feature_class`), because
    the flux-labelled trainers cannot read its labels.

    Attributes:
        label_feature: the feature holding the class index.
    """

    name = "feature_class"
    class_names: tuple = MOUNT_WILSON_CLASSES
    label_feature: str = "mount_wilson"

    def __post_init__(self):
        # Not MulticlassTask's checks: these classes are not GOES classes.
        super(MulticlassTask, self).__post_init__()
        class_names = tuple(self.class_names)
        if len(class_names) < 2:
            raise ValueError(f"A class task needs >= 2 classes, got {class_names}.")
        object.__setattr__(self, "class_names", class_names)

    @property
    def class_edges(self) -> np.ndarray:
        raise ValueError(
            f"The classes of this task come from feature {self.label_feature!r}; "
            "they have no flux edges."
        )

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

    def targets(self, features):
        import tensorflow as tf

        return tf.cast(features[self.label_feature], tf.int64)

    def __call__(self, features):
        for key in (self.input_key, self.label_feature):
            if key not in features:
                raise ValueError(
                    f"The {self.label_feature} task reads feature {key!r}, which this "
                    f"dataset does not have; it has {sorted(features)}."
                )
        return self.read_inputs(features), self.targets(features)

    def label_definition(self, horizon_hours=None) -> str:
        return (
            f"{self.label_feature} of the sample as the dataset measures it "
            f"(classes {list(self.class_names)}); no flare window"
        )
