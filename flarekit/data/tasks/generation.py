"""Images with their condition, for class- or flux-conditional generative models."""

from __future__ import annotations

import dataclasses

from flarekit.data.tasks.base import Task, log10_flux, register_task

CONDITIONS = ("goes_class", "log_flux")


@register_task
@dataclasses.dataclass(frozen=True)
class GenerationTask(Task):
    """`({"images", "condition"}, condition)` for a conditional generator.

    Runs of this task are scored by the generation trainer (FID, per-class
    statistics), not by `flarekit.metrics.evaluate`: `evaluation` is None and
    it has no forecast head, loss or prediction columns.

    Attributes:
        condition: "goes_class" (index into GOES_CLASSES) or "log_flux".
    """

    name = "generation"
    condition: str = "goes_class"

    def __post_init__(self):
        super().__post_init__()
        if self.condition not in CONDITIONS:
            raise ValueError(
                f"condition must be 'goes_class' or 'log_flux', got {self.condition!r}."
            )

    @classmethod
    def from_config(cls, config, channel_indices: tuple) -> GenerationTask:
        return cls(
            condition=config.get("condition", "goes_class"),
            channel_indices=channel_indices,
        )

    def targets(self, features):
        import tensorflow as tf

        if self.condition == "goes_class":
            return tf.cast(features["goes_class"], tf.int32)
        return log10_flux(tf.cast(features["peak_flux"], tf.float32))

    def __call__(self, features):
        images = self.read_inputs(features)
        condition = self.targets(features)
        return {"images": images, "condition": condition}, condition
