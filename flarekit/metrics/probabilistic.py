"""Scores of probability forecasts: Brier, Brier skill, ROC, reliability.

The Brier skill score compares with climatology, the constant forecast of the
base rate of the TRAINING period (SCIENCE.md): using the test set's own base
rate would hand the reference forecaster knowledge of the future.

References:
    Brier, G. W. 1950, Mon. Weather Rev. 78, 1.
    Wilks, D. S. 2011, Statistical Methods in the Atmospheric Sciences,
    3rd ed., ch. 8 (Brier skill score, reliability diagram).
    Leka, K. D. et al. 2019, ApJS 243, 36 (these scores for flare forecasts).
"""

from __future__ import annotations

import numpy as np
from sklearn import calibration as sklearn_calibration
from sklearn import metrics as sklearn_metrics

from flarekit.metrics.forecast import _as_binary, _as_probability


def _check_pair(y_true, y_prob) -> tuple[np.ndarray, np.ndarray]:
    observed = _as_binary(y_true, "y_true")
    probability = _as_probability(y_prob)
    if observed.shape != probability.shape:
        raise ValueError(
            f"y_true has {observed.size} samples but y_prob has {probability.size}."
        )
    if observed.size == 0:
        raise ValueError("No samples: y_true and y_prob are empty.")
    if probability.min() < 0 or probability.max() > 1:
        raise ValueError(
            "Probabilities must lie in [0, 1]; got values in "
            f"[{probability.min()}, {probability.max()}]."
        )
    return observed.astype(np.float64), probability


def brier_score(y_true, y_prob) -> float:
    """Mean squared difference between probability and outcome.

    Args:
        y_true: observed outcomes, 0/1, shape [n].
        y_prob: forecast probabilities in [0, 1], shape [n].

    Returns:
        The Brier score (0 is perfect).

    Raises:
        ValueError: bad shapes, labels or probabilities outside [0, 1].

    Example:
        >>> brier_score([1, 0], [0.8, 0.4])
        0.1
    """
    observed, probability = _check_pair(y_true, y_prob)
    return _brier(observed, probability)


def _brier(observed, probability) -> float:
    # scikit-learn's; pos_label is explicit so that a set without events (all
    # 0, common for X-class thresholds) is scored rather than refused.
    return float(
        sklearn_metrics.brier_score_loss(
            observed.astype(np.int64), probability, pos_label=1
        )
    )


def brier_skill_score(y_true, y_prob, climatology: float) -> float:
    """BSS = 1 - BS / BS_climatology.

    Args:
        y_true: observed outcomes, 0/1, shape [n].
        y_prob: forecast probabilities in [0, 1], shape [n].
        climatology: the reference probability, the TRAINING base rate.

    Returns:
        The BSS (1 perfect, 0 no better than climatology, < 0 worse); NaN
        when the climatological Brier score is 0.

    Raises:
        ValueError: `climatology` outside [0, 1], or bad inputs.
    """
    climatology = _check_climatology(climatology)
    observed, probability = _check_pair(y_true, y_prob)
    reference = _brier(observed, np.full_like(probability, climatology))
    if reference == 0:
        return float("nan")
    return 1.0 - _brier(observed, probability) / reference


def _check_climatology(climatology) -> float:
    value = float(climatology)
    if not 0.0 <= value <= 1.0:
        raise ValueError(
            f"climatology must be a base rate in [0, 1], got {climatology!r}."
        )
    return value


def roc_curve(y_true, y_prob) -> dict:
    """Receiver operating characteristic: POD against POFD.

    Args:
        y_true: observed outcomes, 0/1, both classes present.
        y_prob: forecast probabilities.

    Returns:
        dict of lists `pofd` (false-positive rate), `pod`, `thresholds`
        (the first threshold, above every probability, is stored as
        +infinity by scikit-learn and is replaced by 1 + max probability so
        that it survives JSON).

    Raises:
        ValueError: only one class is observed, or bad inputs.
    """
    observed, probability = _check_pair(y_true, y_prob)
    if observed.min() == observed.max():
        raise ValueError("An ROC curve needs both events and non-events.")
    pofd, pod, thresholds = sklearn_metrics.roc_curve(observed, probability)
    thresholds = np.where(np.isfinite(thresholds), thresholds, probability.max() + 1)
    return {
        "pofd": pofd.tolist(),
        "pod": pod.tolist(),
        "thresholds": thresholds.tolist(),
    }


def roc_auc(y_true, y_prob) -> float:
    """Area under the ROC curve; NaN when only one class is observed."""
    observed, probability = _check_pair(y_true, y_prob)
    if observed.min() == observed.max():
        return float("nan")
    return float(sklearn_metrics.roc_auc_score(observed, probability))


def reliability_curve(y_true, y_prob, n_bins: int = 10) -> dict:
    """Observed frequency against mean forecast probability, per bin.

    Bins are equal-width on [0, 1], as scikit-learn's `calibration_curve`
    (strategy "uniform") draws them, which computes the means here: a
    probability on an inner edge falls in the bin below it, and 0 and 1 in
    the first and last bins. scikit-learn leaves empty bins out; here they
    keep a count of 0 and NaN means, so that the counts (which show where a
    reliability diagram can be trusted) stay aligned with the bin edges.

    Args:
        y_true: observed outcomes, 0/1, shape [n].
        y_prob: forecast probabilities in [0, 1], shape [n].
        n_bins: number of bins, >= 1.

    Returns:
        dict of lists `bin_edges` (n_bins + 1), `mean_probability`,
        `observed_frequency`, `counts` (n_bins each).

    Raises:
        ValueError: `n_bins` < 1, or bad inputs.

    Example:
        >>> reliability_curve([0, 1, 1], [0.1, 0.8, 0.9], n_bins=2)["counts"]
        [1, 2]
    """
    if int(n_bins) < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins!r}.")
    n_bins = int(n_bins)
    observed, probability = _check_pair(y_true, y_prob)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # The bin rule of calibration_curve (which returns no counts).
    counts = np.bincount(np.searchsorted(edges[1:-1], probability), minlength=n_bins)
    frequency, mean = sklearn_calibration.calibration_curve(
        observed.astype(np.int64),
        probability,
        n_bins=n_bins,
        strategy="uniform",
        pos_label=1,
    )
    mean_probability = np.full(n_bins, np.nan)
    observed_frequency = np.full(n_bins, np.nan)
    mean_probability[counts > 0] = mean
    observed_frequency[counts > 0] = frequency
    return {
        "bin_edges": edges.tolist(),
        "mean_probability": mean_probability.tolist(),
        "observed_frequency": observed_frequency.tolist(),
        "counts": counts.astype(int).tolist(),
    }


def probabilistic_scores(y_true, y_prob, climatology: float) -> dict:
    """Brier score, Brier skill score against climatology, ROC AUC.

    Args:
        y_true: observed outcomes, 0/1, shape [n].
        y_prob: forecast probabilities in [0, 1], shape [n].
        climatology: the TRAINING base rate.

    Returns:
        dict `brier`, `brier_climatology`, `bss`, `roc_auc`, `climatology`.

    Raises:
        ValueError: bad inputs (see `brier_score`).

    Example:
        >>> probabilistic_scores([1, 0], [0.8, 0.4], climatology=0.5)["bss"]
        0.6
    """
    climatology = _check_climatology(climatology)
    observed, _ = _check_pair(y_true, y_prob)
    return {
        "brier": brier_score(y_true, y_prob),
        "brier_climatology": _brier(observed, np.full(observed.shape, climatology)),
        "bss": brier_skill_score(y_true, y_prob, climatology),
        "roc_auc": roc_auc(y_true, y_prob),
        "climatology": climatology,
    }
