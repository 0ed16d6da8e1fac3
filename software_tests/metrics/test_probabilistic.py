"""Brier score, Brier skill score, ROC and reliability on hand-worked cases."""

import math

import numpy as np
import pytest

from flarekit.metrics import (
    brier_score,
    brier_skill_score,
    probabilistic_scores,
    reliability_curve,
    roc_auc,
    roc_curve,
)


def test_brier_and_bss_by_hand():
    y_true = [1, 0, 0, 0]
    y_prob = [0.6, 0.2, 0.0, 0.2]
    # BS = (0.16 + 0.04 + 0 + 0.04) / 4 = 0.06.
    assert brier_score(y_true, y_prob) == pytest.approx(0.06)
    # Climatology 0.1 from the TRAINING period (not the test rate 0.25):
    # BS_clim = (0.81 + 3 * 0.01) / 4 = 0.21; BSS = 1 - 0.06 / 0.21.
    assert brier_skill_score(y_true, y_prob, 0.1) == pytest.approx(1 - 0.06 / 0.21)
    scores = probabilistic_scores(y_true, y_prob, climatology=0.1)
    assert scores["brier_climatology"] == pytest.approx(0.21)
    assert scores["bss"] == pytest.approx(1 - 0.06 / 0.21)


def test_climatology_has_zero_skill_against_itself():
    assert brier_skill_score([1, 0, 0], [0.3, 0.3, 0.3], 0.3) == pytest.approx(0.0)


def test_bss_undefined_when_reference_is_perfect():
    assert math.isnan(brier_skill_score([0, 0], [0.1, 0.2], 0.0))


def test_probabilities_outside_unit_interval_are_rejected():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        brier_score([0, 1], [-0.1, 0.5])
    with pytest.raises(ValueError, match="climatology"):
        brier_skill_score([0, 1], [0.1, 0.5], 1.5)


def test_roc_auc_by_hand():
    # Pairs (event, non-event): (0.8, 0.1) (0.8, 0.6) (0.4, 0.1) (0.4, 0.6):
    # 3 of 4 ranked correctly.
    assert roc_auc([1, 1, 0, 0], [0.8, 0.4, 0.1, 0.6]) == pytest.approx(0.75)
    assert math.isnan(roc_auc([0, 0], [0.1, 0.2]))


def test_roc_curve_ends_at_corners_and_is_json_safe():
    curve = roc_curve([1, 1, 0, 0], [0.8, 0.4, 0.1, 0.6])
    assert curve["pofd"][0] == 0 and curve["pod"][0] == 0
    assert curve["pofd"][-1] == 1 and curve["pod"][-1] == 1
    assert all(math.isfinite(t) for t in curve["thresholds"])


def test_reliability_curve_counts_per_bin():
    y_true = [0, 0, 1, 1, 1, 0]
    y_prob = [0.05, 0.15, 0.15, 0.85, 1.0, 0.95]
    curve = reliability_curve(y_true, y_prob, n_bins=4)
    assert curve["bin_edges"] == pytest.approx([0, 0.25, 0.5, 0.75, 1.0])
    # Probability exactly 1 falls in the last bin.
    assert curve["counts"] == [3, 0, 0, 3]
    assert curve["mean_probability"][0] == pytest.approx(0.35 / 3)
    assert curve["observed_frequency"][0] == pytest.approx(1 / 3)
    assert curve["observed_frequency"][3] == pytest.approx(2 / 3)
    assert np.isnan(curve["mean_probability"][1])


def test_reliability_curve_rejects_zero_bins():
    with pytest.raises(ValueError, match="n_bins"):
        reliability_curve([0, 1], [0.1, 0.9], n_bins=0)


def test_reliability_bins_follow_calibration_curve_and_keep_empty_bins():
    # 0.25 and 0.5 lie on inner edges: calibration_curve puts them in the bin
    # below; an empty bin between keeps its place with a count of 0.
    y_true = [0, 1, 1, 0]
    y_prob = [0.0, 0.25, 0.5, 0.8]
    curve = reliability_curve(y_true, y_prob, n_bins=4)
    assert curve["counts"] == [2, 1, 0, 1]
    assert curve["mean_probability"][0] == pytest.approx(0.125)
    assert curve["observed_frequency"][:2] == pytest.approx([0.5, 1.0])
    assert np.isnan(curve["observed_frequency"][2])


def test_brier_scores_a_set_without_events():
    # X-class test sets often hold no event; the score is still defined.
    assert brier_score([0, 0], [0.1, 0.3]) == pytest.approx(0.05)
    assert brier_skill_score([0, 0], [0.1, 0.3], 0.2) == pytest.approx(1 - 0.05 / 0.04)
