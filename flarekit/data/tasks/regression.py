"""Peak-flux regression: log10 of the window's peak flux."""

from __future__ import annotations

import dataclasses

import numpy as np

from flarekit.data import goes
from flarekit.data.tasks.base import Task, log10_flux, register_task


@register_task
@dataclasses.dataclass(frozen=True)
class RegressionTask(Task):
    """Target: log10 of the peak flux in the window (quiet = log10(1e-9) = -9)."""

    name = "regression"
    evaluation = "regression"

    def targets(self, features):
        import tensorflow as tf

        return log10_flux(tf.cast(features["peak_flux"], tf.float32))[..., None]

    def labels_from_flux(self, peak_flux) -> np.ndarray:
        peak_flux = np.asarray(peak_flux, dtype=np.float64)
        return np.log10(np.maximum(peak_flux, goes.QUIET_FLUX))

    def head(self, name: str = "forecast"):
        """One linear unit: log10 flux."""
        import keras

        # Start near the quiet level so early epochs do not chase a 9-decade offset.
        return keras.layers.Dense(
            1,
            dtype="float32",
            bias_initializer=keras.initializers.Constant(-7.0),
            name=name,
        )

    def loss(self):
        return "mean_squared_error"

    def metrics(self) -> list:
        return ["mean_absolute_error"]

    def prediction_columns(self, frame, outputs, labels):
        frame["log_flux_true"] = labels
        frame["log_flux_pred"] = outputs[:, 0]
        return frame

    def label_definition(self, horizon_hours) -> str:
        return (
            f"log10 of the largest peak flux in (t, t + {horizon_hours} h]; quiet = -9"
        )
