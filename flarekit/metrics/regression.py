"""Scores of peak-flux regression in log10 space.

The SDO-Benchmark score (i4Ds SDOBenchmark, docs/02_benchmark.rst) is the
mean over five groups of the per-group root mean squared error of log10 peak
flux. Samples are grouped by their TRUE flux: B, C, M and X flares each form
a group and "non-flaring" samples the fifth. flarekit's choice, stated in
every report: "non-flaring" means below B1.0, so quiet windows (no flare,
1e-9 W/m^2) and A-class peaks (1e-8 to 1e-7 W/m^2) share the "quiet" group,
since the benchmark names no A group and its lowest flare group is B.
Averaging per group stops the many quiet samples from dominating the score.

Groups use the fluxes on the scale they are given on; for the benchmark's own
number, pass log10 of its `peak_flux` (SWPC flux / 0.85) unchanged.
"""

from __future__ import annotations

import numpy as np

from flarekit.data.goes import GOES_CLASSES, flux_to_class_index
from flarekit.metrics.forecast import contingency_table, scores_from_table

# The benchmark's five groups, and the group each GOES class joins.
SDO_BENCHMARK_GROUPS = ("quiet", "B", "C", "M", "X")
_GROUP_OF_CLASS = {
    "quiet": "quiet",
    "A": "quiet",
    "B": "B",
    "C": "C",
    "M": "M",
    "X": "X",
}

# Classification skill of the regression, at these class thresholds.
SKILL_THRESHOLDS = ("C", "M")


def _check_log_flux(log_flux_true, log_flux_pred) -> tuple[np.ndarray, np.ndarray]:
    true = np.asarray(log_flux_true, dtype=np.float64)
    pred = np.asarray(log_flux_pred, dtype=np.float64)
    if true.ndim != 1 or true.shape != pred.shape:
        raise ValueError(
            "log_flux_true and log_flux_pred must be 1-D of equal length, got "
            f"shapes {true.shape} and {pred.shape}."
        )
    if true.size == 0:
        raise ValueError("No samples: log_flux_true is empty.")
    for name, values in (("log_flux_true", true), ("log_flux_pred", pred)):
        if not np.isfinite(values).all():
            raise ValueError(
                f"{name} holds {int((~np.isfinite(values)).sum())} non-finite "
                "values; log10 peak fluxes must be finite (quiet = -9)."
            )
    if true.max() > 0:
        raise ValueError(
            f"log_flux_true reaches {true.max()}: expected log10 of W/m^2 "
            "(about -9 to -3), not a flux or a class index."
        )
    return true, pred


def sdo_benchmark_groups(log_flux) -> np.ndarray:
    """SDO-Benchmark group name ("quiet", "B", "C", "M", "X") of each log10 flux.

    Args:
        log_flux: log10 peak fluxes in W/m^2.

    Returns:
        array of str, same shape; A-class peaks are in "quiet".

    Example:
        >>> sdo_benchmark_groups([-9.0, -7.5, -6.7, -4.0]).tolist()
        ['quiet', 'quiet', 'B', 'X']
    """
    indices = flux_to_class_index(10.0 ** np.asarray(log_flux, dtype=np.float64))
    names = np.array([_GROUP_OF_CLASS[name] for name in GOES_CLASSES])
    return names[np.atleast_1d(indices)]


def sdo_benchmark_score(log_flux_true, log_flux_pred) -> dict:
    """Mean over the groups quiet/B/C/M/X of per-group RMSE of log10 flux.

    Groups absent from the data are left out of the mean; `n_groups` says
    how many entered it, so a score over fewer than five groups is visible.

    Args:
        log_flux_true: true log10 peak flux (W/m^2), shape [n].
        log_flux_pred: predicted log10 peak flux, shape [n].

    Returns:
        dict `score`, `n_groups`, `per_group` (group -> dict `rmse`, `count`;
        rmse NaN for an empty group).

    Raises:
        ValueError: shapes differ, non-finite values, or fluxes not in log10.

    Example:
        >>> sdo_benchmark_score([-9.0, -9.0, -5.0], [-8.0, -9.0, -5.5])["score"]
        0.6035533905932737
    """
    true, pred = _check_log_flux(log_flux_true, log_flux_pred)
    groups = sdo_benchmark_groups(true)
    per_group = {}
    rmses = []
    for group in SDO_BENCHMARK_GROUPS:
        members = groups == group
        count = int(members.sum())
        rmse = (
            float(np.sqrt(np.mean((pred[members] - true[members]) ** 2)))
            if count
            else float("nan")
        )
        per_group[group] = {"rmse": rmse, "count": count}
        if count:
            rmses.append(rmse)
    return {
        "score": float(np.mean(rmses)),
        "n_groups": len(rmses),
        "per_group": per_group,
    }


def regression_scores(log_flux_true, log_flux_pred) -> dict:
    """MAE, RMSE, bias, SDO-Benchmark score and class skill of a flux regression.

    The classification skill thresholds both the prediction and the truth at
    C1.0 and M1.0 ("yes" when the flux is at or above), as a yes/no forecast
    made from the regression.

    Args:
        log_flux_true: true log10 peak flux (W/m^2), shape [n].
        log_flux_pred: predicted log10 peak flux, shape [n].

    Returns:
        dict `mae`, `rmse`, `bias` (mean of prediction - truth),
        `sdo_benchmark_score`, `sdo_benchmark_n_groups`, `per_group`
        (see `sdo_benchmark_score`), `skill` ("C" / "M" -> `scores_from_table`
        of the thresholded forecast), `n`.

    Raises:
        ValueError: see `sdo_benchmark_score`.

    Example:
        >>> regression_scores([-9.0, -5.0], [-8.0, -5.5])["mae"]
        0.75
    """
    true, pred = _check_log_flux(log_flux_true, log_flux_pred)
    errors = pred - true
    benchmark = sdo_benchmark_score(true, pred)
    true_class = flux_to_class_index(10.0**true)
    pred_class = flux_to_class_index(10.0**pred)
    skill = {}
    for letter in SKILL_THRESHOLDS:
        index = GOES_CLASSES.index(letter)
        table = contingency_table(true_class >= index, pred_class >= index)
        skill[letter] = scores_from_table(**table)
    return {
        "mae": float(np.mean(np.abs(errors))),
        "rmse": float(np.sqrt(np.mean(errors**2))),
        "bias": float(np.mean(errors)),
        "sdo_benchmark_score": benchmark["score"],
        "sdo_benchmark_n_groups": benchmark["n_groups"],
        "per_group": benchmark["per_group"],
        "skill": skill,
        "n": int(true.size),
    }
