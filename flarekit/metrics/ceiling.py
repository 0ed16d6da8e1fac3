"""The Bayes ceiling: the best TSS any forecaster could reach on a sample set.

When the true flare probability of every sample is known (the synthetic Sun
stores it), no forecaster can do better than the truth itself. Thresholding
the true probability at its TSS-maximising value gives the ceiling, and a
model's TSS divided by it says how much of the reachable skill the model
has (SYNTHETIC_SUN.md). The outcomes are random (Poisson), so the ceiling is
well below 1.

Two versions are returned. `tss` follows the definition above on the
realised outcomes (the threshold is tuned on the same outcomes, so it is the
most favourable value for this sample set). `expected_tss` replaces each
outcome by its probability, which removes the outcome noise: TSS in
expectation is maximised by thresholding at the mean probability, since a
sample with probability p adds p / P - (1 - p) / N to the expected TSS
(P, N the expected numbers of events and non-events), positive exactly when
p > P / (P + N).
"""

from __future__ import annotations

import numpy as np

from flarekit.metrics.forecast import (
    _as_binary,
    _as_probability,
    best_tss_threshold,
    binary_scores,
)


def bayes_ceiling(probabilities, outcomes) -> dict:
    """Best TSS reachable on these samples: the true probability, thresholded.

    Args:
        probabilities: true probability of the event for each sample, in
            [0, 1], shape [n].
        outcomes: realised outcomes, 0/1, shape [n], both classes present.

    Returns:
        dict `tss` (ceiling on the realised outcomes), `threshold` (the
        TSS-maximising threshold on the true probability), `expected_tss`
        (ceiling in expectation, see the module docstring),
        `expected_threshold` (the mean probability), `base_rate`, `n`.

    Raises:
        ValueError: probabilities outside [0, 1], only one outcome class, or
            lengths that differ.

    Example:
        >>> result = bayes_ceiling([0.9, 0.6, 0.4, 0.1], [1, 1, 0, 0])
        >>> result["tss"], result["threshold"]
        (1.0, 0.5)
    """
    probability = _as_probability(probabilities, "probabilities")
    observed = _as_binary(outcomes, "outcomes")
    if probability.shape != observed.shape:
        raise ValueError(
            f"probabilities has {probability.size} samples but outcomes has "
            f"{observed.size}."
        )
    if probability.size and (probability.min() < 0 or probability.max() > 1):
        raise ValueError(
            "True probabilities must lie in [0, 1]; got values in "
            f"[{probability.min()}, {probability.max()}]."
        )
    threshold = best_tss_threshold(observed, probability)
    realised = binary_scores(observed, probability, threshold)
    expected_events = probability.sum()
    expected_non_events = probability.size - expected_events
    expected_threshold = float(probability.mean())
    chosen = probability > expected_threshold
    if expected_events > 0 and expected_non_events > 0:
        expected_tss = float(
            probability[chosen].sum() / expected_events
            - (1.0 - probability[chosen]).sum() / expected_non_events
        )
    else:
        expected_tss = float("nan")
    return {
        "tss": realised["tss"],
        "threshold": threshold,
        "expected_tss": expected_tss,
        "expected_threshold": expected_threshold,
        "base_rate": realised["base_rate"],
        "n": int(probability.size),
    }


def fraction_of_ceiling(tss: float, ceiling_tss: float) -> float:
    """A model's TSS as a fraction of the Bayes ceiling; NaN if undefined.

    Args:
        tss: the model's TSS on the same samples.
        ceiling_tss: `bayes_ceiling(...)["tss"]`.

    Returns:
        tss / ceiling_tss, or NaN when the ceiling is not positive or either
        value is NaN.
    """
    tss, ceiling_tss = float(tss), float(ceiling_tss)
    if not np.isfinite(tss) or not np.isfinite(ceiling_tss) or ceiling_tss <= 0:
        return float("nan")
    return tss / ceiling_tss
