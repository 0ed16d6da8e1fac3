"""Reference forecasters printed next to every model (SCIENCE.md).

- climatology: the constant base rate of the TRAINING period;
- persistence: "what happened in the previous window happens again": yes if
  this region (or the disk) had a flare at or above the threshold in the
  window of the same length before the forecast time, from the data
  contract's `previous_peak_flux`;
- always no: never forecast a flare (its accuracy is the fraction of quiet
  samples, which is why accuracy alone says little).

A model that does not beat persistence has learned little: for full-disk
>= M forecasts, NOAA SWPC's operational TSS 0.44 sits below persistence's
0.46 (SCIENCE.md, anchors).
"""

from __future__ import annotations

import numpy as np

from flarekit.data.goes import GOES_CLASSES, QUIET_FLUX, class_to_flux, threshold_flux

# The relative tolerance of flux_to_class_index, so that 1e-5 stored as float32
# (9.99999975e-6, as the data contract stores fluxes) still counts as M1.0.
_TOLERANCE = 1 + 1e-6


def _check_previous(previous_peak_flux, missing_as_no: bool) -> tuple[np.ndarray, int]:
    """Previous-window fluxes with NaN replaced by quiet when allowed.

    Returns the fluxes and the number of NaN values replaced.
    """
    flux = np.asarray(previous_peak_flux, dtype=np.float64)
    if flux.ndim != 1:
        raise ValueError(f"previous_peak_flux must be 1-D, got shape {flux.shape}.")
    missing = np.isnan(flux)
    n_missing = int(missing.sum())
    if n_missing and not missing_as_no:
        raise ValueError(
            f"previous_peak_flux has {n_missing} NaN values (no previous window); "
            "pass missing_as_no=True to forecast 'no flare' for them."
        )
    if (flux[~missing] < 0).any():
        raise ValueError("previous_peak_flux holds negative fluxes.")
    return np.where(missing, QUIET_FLUX, flux), n_missing


def climatology_forecast(n_samples: int, train_base_rate: float) -> np.ndarray:
    """Constant probability equal to the training base rate.

    Args:
        n_samples: number of forecasts.
        train_base_rate: event frequency in the TRAINING period, in [0, 1].

    Returns:
        float array [n_samples].

    Raises:
        ValueError: base rate outside [0, 1].

    Example:
        >>> climatology_forecast(3, 0.1).tolist()
        [0.1, 0.1, 0.1]
    """
    rate = float(train_base_rate)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"train_base_rate must be in [0, 1], got {train_base_rate!r}.")
    return np.full(int(n_samples), rate)


def persistence_forecast(
    previous_peak_flux, threshold, missing_as_no: bool = False
) -> np.ndarray:
    """1.0 where the previous window had a flare at or above `threshold`, else 0.0.

    Args:
        previous_peak_flux: largest flux (W/m^2) in the window (t - H, t]
            before each forecast time t, on the same flux scale as the labels.
        threshold: class string ("M1.0") or flux in W/m^2.
        missing_as_no: treat NaN (no previous window observed) as quiet;
            otherwise NaN raises.

    Returns:
        float array of 0.0 / 1.0, usable as a probability.

    Raises:
        ValueError: NaN without `missing_as_no`, negative fluxes, bad threshold.

    Example:
        >>> persistence_forecast([1e-9, 2e-5, 9e-6], "M1.0").tolist()
        [0.0, 1.0, 0.0]
    """
    flux, _ = _check_previous(previous_peak_flux, missing_as_no)
    return (flux * _TOLERANCE >= threshold_flux(threshold)).astype(np.float64)


def always_no_forecast(n_samples: int) -> np.ndarray:
    """Probability 0 for every sample."""
    return np.zeros(int(n_samples))


def class_lower_edges(class_names) -> np.ndarray:
    """Lowest flux (W/m^2) of each named GOES class; "quiet" starts at 0.

    Args:
        class_names: "quiet", GOES letters or class strings ("M5"), in
            increasing order; a subset is allowed ("quiet", "C", "M", "X":
            quiet then means below C).

    Returns:
        float array of lower edges.

    Raises:
        ValueError: an unknown name, or names out of order.
    """
    edges = []
    for name in class_names:
        try:
            edges.append(0.0 if name == "quiet" else class_to_flux(name))
        except ValueError:
            raise ValueError(
                f"Class name {name!r} is not a GOES class; expected 'quiet', a "
                f"letter of {GOES_CLASSES[1:]} or a class string such as 'M5'."
            ) from None
    edges = np.asarray(edges)
    if (np.diff(edges) <= 0).any():
        raise ValueError(f"class_names must be in increasing order, got {class_names}.")
    return edges


def flux_to_named_class(flux, class_names) -> np.ndarray:
    """Index into `class_names` of each flux: the highest class whose edge it reaches.

    Fluxes below the first class's edge go to the first class.

    Example:
        >>> flux_to_named_class([1e-9, 5e-7, 2e-5], ["quiet", "C", "M", "X"]).tolist()
        [0, 0, 2]
    """
    edges = class_lower_edges(class_names)
    values = np.asarray(flux, dtype=np.float64) * _TOLERANCE
    indices = np.searchsorted(edges, values, side="right") - 1
    return np.clip(indices, 0, len(edges) - 1).astype(np.int64)


def persistence_class_forecast(
    previous_peak_flux, class_names, missing_as_no: bool = False
) -> np.ndarray:
    """Class of the previous window's peak flux, as an index into `class_names`.

    Args:
        previous_peak_flux: largest flux (W/m^2) in the previous window.
        class_names: GOES class names of the task, increasing.
        missing_as_no: treat NaN as quiet; otherwise NaN raises.

    Returns:
        int array of class indices.
    """
    flux, _ = _check_previous(previous_peak_flux, missing_as_no)
    return flux_to_named_class(flux, class_names)


def persistence_log_flux(previous_peak_flux, missing_as_no: bool = False) -> np.ndarray:
    """log10 of the previous window's peak flux, quiet (1e-9) as the floor.

    Args:
        previous_peak_flux: largest flux (W/m^2) in the previous window.
        missing_as_no: treat NaN as quiet; otherwise NaN raises.

    Returns:
        float array of log10 flux.
    """
    flux, _ = _check_previous(previous_peak_flux, missing_as_no)
    return np.log10(np.maximum(flux, QUIET_FLUX))
