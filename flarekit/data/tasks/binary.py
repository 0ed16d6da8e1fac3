"""Binary flare forecast: at least one flare >= a GOES class in the window."""

from __future__ import annotations

import dataclasses

import numpy as np

from flarekit.data import goes
from flarekit.data.tasks.base import FLUX_TOLERANCE, Task, register_task


def auc_thresholds(count: int = 1023, log_odds: float = 16.0) -> list:
    """`count` probabilities evenly spaced in log-odds over [-log_odds, log_odds]
    (about 1e-7 to 1 - 1e-7): thresholds at which the training AUC metric
    resolves forecasts near 0 and 1 as finely as those near 0.5."""
    return (1.0 / (1.0 + np.exp(-np.linspace(-log_odds, log_odds, count)))).tolist()


@register_task
@dataclasses.dataclass(frozen=True)
class BinaryTask(Task):
    """Target 1 if the window's peak flux is >= `threshold`, else 0.

    Attributes:
        threshold: GOES class string, e.g. "M1.0" (inclusive).
    """

    name = "binary"
    evaluation = "binary"
    threshold: str = "M1.0"

    def __post_init__(self):
        super().__post_init__()
        goes.threshold_flux(self.threshold)  # a malformed class raises here

    @classmethod
    def from_config(cls, config, channel_indices: tuple) -> BinaryTask:
        return cls(threshold=config["threshold"], channel_indices=channel_indices)

    @property
    def threshold_flux(self) -> float:
        return goes.threshold_flux(self.threshold)

    def targets(self, features):
        import tensorflow as tf

        peak_flux = tf.cast(features["peak_flux"], tf.float32)
        slack = peak_flux * (1 + FLUX_TOLERANCE)
        return tf.cast(slack >= self.threshold_flux, tf.float32)[..., None]

    def labels_from_flux(self, peak_flux) -> np.ndarray:
        peak_flux = np.asarray(peak_flux, dtype=np.float64)
        return (peak_flux * (1 + FLUX_TOLERANCE) >= self.threshold_flux).astype(
            np.int64
        )

    def balanced_class_weight(self, base_rate) -> dict:
        # Each class carries half of the loss, whatever its share of samples.
        return {0: 0.5 / (1 - base_rate), 1: 0.5 / base_rate}

    def true_probability(self, probabilities, thresholds):
        if probabilities is None:
            return np.nan
        fluxes = [goes.class_to_flux(t) for t in thresholds]
        matches = [
            i for i, flux in enumerate(fluxes) if np.isclose(flux, self.threshold_flux)
        ]
        if not matches:
            return np.nan
        return np.asarray(probabilities)[:, matches[0]]

    def head(self, name: str = "forecast"):
        """One sigmoid unit: the probability of a flare >= threshold."""
        import keras

        return keras.layers.Dense(1, activation="sigmoid", dtype="float32", name=name)

    def loss(self):
        return "binary_crossentropy"

    def metrics(self) -> list:
        """ROC AUC over thresholds spaced evenly in log-odds (`auc_thresholds`):
        Keras's default 200 thresholds, evenly spaced in probability, put every
        forecast below 0.005 in one bin, so a forecaster of a rare event that
        grows confident reads AUC 0.5 however well it ranks (seen with the
        last-frame CNN, whose validation forecasts fell below 0.002)."""
        import keras

        return [keras.metrics.AUC(name="auc", thresholds=auc_thresholds())]

    def prediction_columns(self, frame, outputs, labels):
        frame["label"] = labels
        frame["probability"] = outputs[:, 0]
        return frame

    def label_definition(self, horizon_hours) -> str:
        quiet = "no flare in the window (peak_flux 1e-9 W/m^2)"
        return (
            f"1 if the largest flare peaking in (t, t + {horizon_hours} h] is >= "
            f"{self.threshold}, else 0; quiet = {quiet}"
        )
