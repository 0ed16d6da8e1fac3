"""Scores of forecasts over ordered categories (e.g. quiet < A < B < C < M < X).

Confusion matrices here have observed categories in rows and forecast
categories in columns.

References:
    Gandin, L. S. & Murphy, A. H. 1992, Mon. Weather Rev. 120, 361.
    Gerrity, J. P. 1992, Mon. Weather Rev. 120, 2709 (the scoring matrix used
    here).
    Jolliffe, I. T. & Stephenson, D. B. 2012, Forecast Verification, 2nd ed.,
    sec. 4.3.
    Crown, M. D. 2012, Space Weather 10, S06006 (GMS for flare classes).
"""

from __future__ import annotations

import numpy as np
from sklearn import metrics as sklearn_metrics

from flarekit.metrics.forecast import scores_from_table


def confusion_matrix(y_true, y_pred, n_classes: int) -> np.ndarray:
    """Counts of (observed, forecast) category pairs.

    Args:
        y_true: observed category indices, ints in [0, n_classes).
        y_pred: forecast category indices, ints in [0, n_classes).
        n_classes: number of categories.

    Returns:
        int array [n_classes, n_classes]; rows observed, columns forecast.

    Raises:
        ValueError: an index outside [0, n_classes) or arrays of different
            lengths.

    Example:
        >>> confusion_matrix([0, 1, 1], [0, 1, 0], 2).tolist()
        [[1, 0], [1, 1]]
    """
    observed = _as_indices(y_true, n_classes, "y_true")
    forecast = _as_indices(y_pred, n_classes, "y_pred")
    if observed.shape != forecast.shape:
        raise ValueError(
            f"y_true has {observed.size} samples but y_pred has {forecast.size}."
        )
    # scikit-learn's, with every category listed so that the matrix keeps its
    # shape when a category is never observed or never forecast.
    return sklearn_metrics.confusion_matrix(
        observed, forecast, labels=np.arange(n_classes)
    ).astype(np.int64)


def _as_indices(values, n_classes: int, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D class indices, got shape {array.shape}.")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        if not np.all(np.mod(array, 1) == 0):
            raise ValueError(f"{name} must hold integer class indices.")
    array = array.astype(np.int64)
    if array.size and (array.min() < 0 or array.max() >= n_classes):
        raise ValueError(
            f"{name} holds class indices in [{array.min()}, {array.max()}], "
            f"expected [0, {n_classes - 1}]."
        )
    return array


def gerrity_scoring_matrix(observed_frequencies) -> np.ndarray:
    """Gerrity (1992) scoring weights s_ij for K ordered categories.

    With D_r the cumulative observed frequency of categories 1..r and
    a_r = (1 - D_r) / D_r:
    s_ii = [sum_{r<i} 1/a_r + sum_{r>=i} a_r] / (K - 1),
    s_ij = [sum_{r<i} 1/a_r - (j - i) + sum_{r>=j} a_r] / (K - 1) for i < j,
    s_ji = s_ij; sums over r run to K - 1.

    Weights that involve a category nobody observed can be infinite; they
    only ever multiply a zero frequency, which `gandin_murphy_gerrity_score`
    skips.

    Args:
        observed_frequencies: relative frequency of each observed category,
            shape [K], K >= 2, summing to 1.

    Returns:
        float array [K, K], symmetric.

    Raises:
        ValueError: fewer than 2 categories.
    """
    frequencies = np.asarray(observed_frequencies, dtype=np.float64)
    n_categories = frequencies.size
    if n_categories < 2:
        raise ValueError(f"GMS needs >= 2 categories, got {n_categories}.")
    cumulative = np.cumsum(frequencies)[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        odds = (1.0 - cumulative) / cumulative  # a_r, r = 1..K-1
        inverse_odds = 1.0 / odds
    scores = np.empty((n_categories, n_categories))
    for i in range(n_categories):
        for j in range(i, n_categories):
            # Zero-based: categories r < i and r >= j, r in 0..K-2.
            below = inverse_odds[:i].sum()
            above = odds[j:].sum()
            scores[i, j] = scores[j, i] = (below - (j - i) + above) / (n_categories - 1)
    return scores


def gandin_murphy_gerrity_score(confusion) -> float:
    """Gandin-Murphy-Gerrity score of an ordered-category confusion matrix.

    Equitable (random and constant forecasts score 0), rewards near misses
    over far misses, and equals TSS for two categories.

    Args:
        confusion: counts [K, K], rows observed, columns forecast.

    Returns:
        The GMS (1 perfect); NaN when fewer than two categories are observed.

    Raises:
        ValueError: not a square matrix, or negative counts.

    Example:
        >>> round(gandin_murphy_gerrity_score([[5, 2, 1], [1, 4, 1], [0, 1, 5]]), 6)
        0.616071
    """
    counts = np.asarray(confusion, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"confusion must be square, got shape {counts.shape}.")
    if (counts < 0).any():
        raise ValueError("confusion holds negative counts.")
    total = counts.sum()
    observed = counts.sum(axis=1)
    if total == 0 or np.count_nonzero(observed) < 2:
        return float("nan")
    weights = gerrity_scoring_matrix(observed / total)
    occupied = counts > 0
    return float(np.sum(counts[occupied] * weights[occupied]) / total)


def multiclass_scores(y_true, y_pred_prob_or_index, class_names) -> dict:
    """Confusion matrix, accuracy, macro-F1, GMS and one-vs-rest skill per class.

    Args:
        y_true: observed class indices, shape [n].
        y_pred_prob_or_index: either class probabilities [n, K] (the forecast
            is the most probable class) or forecast class indices [n].
        class_names: names of the K classes, in index order (ordered from
            weakest to strongest, as GMS assumes).

    Returns:
        dict with `class_names`, `confusion_matrix` (list of lists, rows
        observed), `accuracy`, `macro_f1` (mean F1 over the classes observed
        or forecast at least once, as scikit-learn's default), `gms`,
        `per_class` (name -> `scores_from_table` one-vs-rest, with `tss`,
        `pod`, `precision`, `f1`, ... and `support`), `n`.

    Raises:
        ValueError: shapes disagree with `class_names`, or bad indices.

    Example:
        >>> multiclass_scores([0, 1, 2], [0, 1, 1], ["quiet", "C", "M"])["accuracy"]
        0.6666666666666666
    """
    class_names = [str(name) for name in class_names]
    n_classes = len(class_names)
    if n_classes < 2:
        raise ValueError(f"Need >= 2 classes, got class_names={class_names!r}.")
    forecast = np.asarray(y_pred_prob_or_index)
    if forecast.ndim == 2:
        if forecast.shape[1] != n_classes:
            raise ValueError(
                f"Probabilities have {forecast.shape[1]} columns but "
                f"{n_classes} class names were given: {class_names}."
            )
        forecast = np.argmax(forecast, axis=1)
    matrix = confusion_matrix(y_true, forecast, n_classes)
    total = int(matrix.sum())
    per_class = {}
    f1_values = []
    for k, name in enumerate(class_names):
        tp = int(matrix[k, k])
        fn = int(matrix[k, :].sum()) - tp
        fp = int(matrix[:, k].sum()) - tp
        tn = total - tp - fn - fp
        scores = scores_from_table(tp=tp, fp=fp, fn=fn, tn=tn)
        scores["support"] = tp + fn
        per_class[name] = scores
        if tp + fn + fp > 0:
            f1_values.append(scores["f1"])
    return {
        "class_names": class_names,
        "confusion_matrix": matrix.astype(int).tolist(),
        "accuracy": float(np.trace(matrix) / total) if total else float("nan"),
        "macro_f1": float(np.mean(f1_values)) if f1_values else float("nan"),
        "gms": gandin_murphy_gerrity_score(matrix),
        "per_class": per_class,
        "n": total,
    }
