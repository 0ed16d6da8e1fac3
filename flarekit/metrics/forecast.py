"""Skill scores of yes/no flare forecasts from a 2x2 contingency table.

Notation (SCIENCE.md): TP hits, FP false alarms, FN misses, TN correct
negatives; P = TP + FN observed events, N = FP + TN observed non-events.

Two quantities are both called "FAR" in the flare literature and are kept
apart here: the false-alarm *ratio* FP / (TP + FP) (the fraction of "yes"
forecasts that were wrong) and the false-positive *rate* FP / N (= POFD, the
fraction of non-events that were forecast "yes").

A score whose denominator is zero (e.g. precision with no "yes" forecast) is
NaN, never 0, so that a degenerate forecaster is not mistaken for a bad one;
the JSON writer turns NaN into null.

References:
    Woodcock, F. 1976, Mon. Weather Rev. 104, 1209 (TSS as Hanssen-Kuipers).
    Bobra, M. G. & Couvidat, S. 2015, ApJ 798, 135 (HSS1, HSS2, TSS for flares).
    Bloomfield, D. S. et al. 2012, ApJL 747, L41 (TSS for flare forecasts).
"""

from __future__ import annotations

import numpy as np

# Keys of `scores_from_table`, in the order reports print them.
SCORE_NAMES = (
    "tss",
    "hss2",
    "hss1",
    "pod",
    "pofd",
    "false_alarm_ratio",
    "false_positive_rate",
    "precision",
    "f1",
    "csi",
    "accuracy",
    "balanced_accuracy",
)


def _as_binary(values, name: str) -> np.ndarray:
    """Return `values` as a 1-D bool array, refusing anything but 0/1."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}.")
    if array.dtype == bool:
        return array
    if array.size and not np.all(np.isin(array, (0, 1))):
        bad = array[~np.isin(array, (0, 1))][:5]
        raise ValueError(f"{name} must hold only 0 and 1, found e.g. {bad.tolist()}.")
    return array.astype(bool)


def _as_probability(values, name: str = "y_prob") -> np.ndarray:
    """Return `values` as a 1-D float array without NaN."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}.")
    if np.isnan(array).any():
        raise ValueError(
            f"{name} holds {int(np.isnan(array).sum())} NaN values; a forecast "
            "must give a number for every sample."
        )
    return array


def _ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, NaN when the denominator is zero."""
    return float(numerator) / float(denominator) if denominator else float("nan")


def contingency_table(y_true, y_pred) -> dict:
    """Count hits, false alarms, misses and correct negatives.

    Args:
        y_true: observed outcomes, 0/1 or bool, shape [n].
        y_pred: yes/no forecasts, 0/1 or bool, shape [n].

    Returns:
        dict with int `tp`, `fp`, `fn`, `tn`.

    Raises:
        ValueError: the arrays differ in length or hold values other than 0/1.

    Example:
        >>> contingency_table([1, 1, 0, 0], [1, 0, 1, 0])
        {'tp': 1, 'fp': 1, 'fn': 1, 'tn': 1}
    """
    observed = _as_binary(y_true, "y_true")
    forecast = _as_binary(y_pred, "y_pred")
    if observed.shape != forecast.shape:
        raise ValueError(
            f"y_true has {observed.size} samples but y_pred has {forecast.size}."
        )
    return {
        "tp": int(np.sum(observed & forecast)),
        "fp": int(np.sum(~observed & forecast)),
        "fn": int(np.sum(observed & ~forecast)),
        "tn": int(np.sum(~observed & ~forecast)),
    }


def scores_from_table(tp: int, fp: int, fn: int, tn: int) -> dict:
    """All yes/no skill scores of one contingency table.

    HSS1 is Bobra & Couvidat's (2015) "HSS1 = POD (2 - 1/precision)", computed
    in its equivalent form (TP - FP) / P so that it is defined (and equal to
    -FP/P) when there are no hits. HSS2 is the usual Heidke skill score
    against random chance.

    Args:
        tp, fp, fn, tn: the four counts of `contingency_table`.

    Returns:
        dict with the keys of `SCORE_NAMES` (floats, NaN where a denominator
        is zero) plus the counts and `n`.

    Raises:
        ValueError: a negative count.

    Example:
        >>> round(scores_from_table(tp=8, fp=4, fn=2, tn=86)["tss"], 4)
        0.7556
    """
    counts = {"tp": tp, "fp": fp, "fn": fn, "tn": tn}
    for name, value in counts.items():
        if value < 0:
            raise ValueError(f"Contingency count {name} must be >= 0, got {value}.")
    tp, fp, fn, tn = (float(v) for v in (tp, fp, fn, tn))
    positives, negatives = tp + fn, fp + tn
    total = positives + negatives
    pod = _ratio(tp, positives)
    pofd = _ratio(fp, negatives)
    precision = _ratio(tp, tp + fp)
    hss2_denominator = (tp + fn) * (fn + tn) + (tp + fp) * (fp + tn)
    scores = {
        "tss": pod - pofd,
        "hss2": _ratio(2.0 * (tp * tn - fn * fp), hss2_denominator),
        "hss1": _ratio(tp - fp, positives),
        "pod": pod,
        "pofd": pofd,
        "false_alarm_ratio": _ratio(fp, tp + fp),
        "false_positive_rate": pofd,
        "precision": precision,
        "f1": _ratio(2.0 * tp, 2.0 * tp + fp + fn),
        "csi": _ratio(tp, tp + fp + fn),
        "accuracy": _ratio(tp + tn, total),
        "balanced_accuracy": 0.5 * (pod + _ratio(tn, negatives)),
    }
    scores.update({name: int(value) for name, value in counts.items()})
    scores["n"] = int(total)
    return scores


def binary_scores(y_true, y_prob, threshold: float = 0.5) -> dict:
    """Skill scores of probabilities turned into yes/no at `threshold`.

    A sample is forecast "yes" when its probability is >= `threshold`.

    Args:
        y_true: observed outcomes, 0/1, shape [n].
        y_prob: forecast probabilities (or any score), shape [n].
        threshold: decision threshold.

    Returns:
        `scores_from_table` of the thresholded forecast, plus `threshold`
        and `base_rate` (P / n).

    Raises:
        ValueError: bad shapes, labels other than 0/1, NaN probabilities or a
            NaN threshold.

    Example:
        >>> binary_scores([1, 0, 1, 0], [0.9, 0.2, 0.4, 0.6])["pod"]
        0.5
    """
    threshold = float(threshold)
    if np.isnan(threshold):
        raise ValueError("threshold is NaN; pass a number.")
    observed = _as_binary(y_true, "y_true")
    probability = _as_probability(y_prob)
    table = contingency_table(observed, probability >= threshold)
    scores = scores_from_table(**table)
    scores["threshold"] = threshold
    scores["base_rate"] = _ratio(observed.sum(), observed.size)
    return scores


def tss_curve(y_true, y_prob) -> dict:
    """TSS for every distinct decision threshold of a forecast.

    Candidate k makes the k highest distinct probabilities "yes" (k = 0 means
    never "yes"). Its threshold lies halfway between the k-th and (k+1)-th
    distinct value, so that it does not sit exactly on a sample and transfers
    to new data; k = 0 uses the next float above the maximum and k = all uses
    the minimum.

    Args:
        y_true: observed outcomes, 0/1, shape [n], with both classes present.
        y_prob: forecast probabilities, shape [n].

    Returns:
        dict of arrays `thresholds` (decreasing), `tss`, `pod`, `pofd`.

    Raises:
        ValueError: only one class is observed (TSS undefined), or bad inputs.
    """
    observed = _as_binary(y_true, "y_true")
    probability = _as_probability(y_prob)
    if observed.shape != probability.shape:
        raise ValueError(
            f"y_true has {observed.size} samples but y_prob has {probability.size}."
        )
    positives = int(observed.sum())
    negatives = int(observed.size - positives)
    if positives == 0 or negatives == 0:
        raise ValueError(
            f"TSS needs both events and non-events; got {positives} events and "
            f"{negatives} non-events."
        )
    order = np.argsort(-probability, kind="stable")
    sorted_probability = probability[order]
    sorted_observed = observed[order]
    # Cumulative hits and false alarms after each sample; keep only the last
    # sample of each run of equal probabilities, since ties go together.
    hits = np.cumsum(sorted_observed)
    false_alarms = np.cumsum(~sorted_observed)
    last_of_value = np.r_[sorted_probability[1:] != sorted_probability[:-1], True]
    values = sorted_probability[last_of_value]
    pod = np.r_[0.0, hits[last_of_value] / positives]
    pofd = np.r_[0.0, false_alarms[last_of_value] / negatives]
    midpoints = 0.5 * (values[:-1] + values[1:])
    thresholds = np.r_[np.nextafter(values[0], np.inf), midpoints, values[-1]]
    return {"thresholds": thresholds, "tss": pod - pofd, "pod": pod, "pofd": pofd}


def best_tss_threshold(y_true, y_prob) -> float:
    """Decision threshold that maximises TSS on the data given.

    Call it on VALIDATION data and apply the result to the test set; choosing
    it on the test set inflates the score (SCIENCE.md, trap 4). Ties go to the
    highest threshold (fewest "yes" forecasts, so fewest false alarms); a
    forecaster without skill therefore gets a threshold above its maximum and
    never says "yes".

    Args:
        y_true: observed outcomes, 0/1, shape [n], both classes present.
        y_prob: forecast probabilities, shape [n].

    Returns:
        The threshold t; forecast "yes" where probability >= t.

    Raises:
        ValueError: only one class observed, or bad inputs.

    Example:
        >>> best_tss_threshold([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        0.6000000000000001
    """
    curve = tss_curve(y_true, y_prob)
    return _threshold_of_best(curve["thresholds"], curve["tss"])


def best_hss2_threshold(y_true, y_prob) -> float:
    """Decision threshold that maximises HSS2 on the data given.

    The candidates are those of `tss_curve` (one between each pair of
    distinct probabilities); ties go to the highest threshold. Arguments,
    return value, errors and the advice to call it on VALIDATION data are
    those of `best_tss_threshold`.

    Example:
        >>> best_hss2_threshold([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        0.6000000000000001
    """
    curve = tss_curve(y_true, y_prob)
    positives = float(np.sum(np.asarray(y_true) == 1))
    negatives = float(np.size(y_true)) - positives
    tp = curve["pod"] * positives
    fp = curve["pofd"] * negatives
    fn = positives - tp
    tn = negatives - fp
    # Never zero: both classes are present (tss_curve checked).
    denominator = positives * (fn + tn) + (tp + fp) * negatives
    hss2 = 2.0 * (tp * tn - fn * fp) / denominator
    return _threshold_of_best(curve["thresholds"], hss2)


def _threshold_of_best(thresholds, scores) -> float:
    """The threshold of the highest score; ties go to the highest threshold."""
    # tss_curve lists thresholds from high to low and argmax returns the first
    # maximum; round off float noise so that equal scores computed differently
    # still tie.
    return float(thresholds[int(np.argmax(np.round(scores, 12)))])
