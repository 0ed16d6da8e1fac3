"""Yes/no skill scores pinned against hand-worked contingency tables."""

import math

import numpy as np
import pytest

from flarekit.metrics import (
    best_tss_threshold,
    binary_scores,
    contingency_table,
    scores_from_table,
    tss_curve,
)


def test_contingency_table_counts_each_cell():
    observed = [1, 1, 1, 0, 0, 0, 0]
    forecast = [1, 1, 0, 1, 0, 0, 0]
    assert contingency_table(observed, forecast) == {"tp": 2, "fp": 1, "fn": 1, "tn": 3}


def test_scores_on_a_hand_worked_table():
    # TP=20, FP=30, FN=10, TN=940: P=30, N=970, n=1000.
    scores = scores_from_table(tp=20, fp=30, fn=10, tn=940)
    pod = 20 / 30
    pofd = 30 / 970
    assert scores["pod"] == pytest.approx(pod)
    assert scores["pofd"] == pytest.approx(pofd)
    assert scores["tss"] == pytest.approx(pod - pofd)  # 0.635739...
    assert scores["tss"] == pytest.approx(0.6357388316)
    # False-alarm RATIO FP/(TP+FP) and false-positive RATE FP/N are different.
    assert scores["false_alarm_ratio"] == pytest.approx(30 / 50)
    assert scores["false_positive_rate"] == pytest.approx(30 / 970)
    # HSS2 = 2(TP TN - FN FP) / [(TP+FN)(FN+TN) + (TP+FP)(FP+TN)]
    #      = 2(18800 - 300) / (30 * 950 + 50 * 970) = 37000 / 77000.
    assert scores["hss2"] == pytest.approx(37000 / 77000)
    # HSS1 = POD (2 - 1/precision) = (2/3)(2 - 50/20) = -1/3.
    assert scores["hss1"] == pytest.approx(-1 / 3)
    assert scores["precision"] == pytest.approx(0.4)
    assert scores["f1"] == pytest.approx(40 / 80)  # 2TP / (2TP + FP + FN)
    assert scores["csi"] == pytest.approx(20 / 60)
    assert scores["accuracy"] == pytest.approx(0.96)
    assert scores["balanced_accuracy"] == pytest.approx(0.5 * (2 / 3 + 940 / 970))
    assert scores["n"] == 1000


def test_hss1_matches_bobra_couvidat_form_with_hits():
    scores = scores_from_table(tp=8, fp=2, fn=4, tn=50)
    pod, precision = 8 / 12, 8 / 10
    assert scores["hss1"] == pytest.approx(pod * (2 - 1 / precision))


def test_undefined_scores_are_nan_not_zero():
    # Never forecasting "yes": precision and false-alarm ratio are undefined.
    scores = scores_from_table(tp=0, fp=0, fn=5, tn=95)
    assert math.isnan(scores["precision"])
    assert math.isnan(scores["false_alarm_ratio"])
    assert scores["tss"] == 0.0
    assert scores["hss2"] == 0.0
    assert scores["hss1"] == 0.0


def test_negative_count_is_rejected():
    with pytest.raises(ValueError, match="fp"):
        scores_from_table(tp=1, fp=-1, fn=0, tn=1)


def test_binary_scores_threshold_is_inclusive():
    scores = binary_scores([1, 0, 1, 0], [0.5, 0.49, 0.7, 0.2], threshold=0.5)
    assert (scores["tp"], scores["fp"], scores["fn"], scores["tn"]) == (2, 0, 0, 2)
    assert scores["base_rate"] == 0.5
    assert scores["threshold"] == 0.5


def test_binary_scores_rejects_bad_labels_and_nan():
    with pytest.raises(ValueError, match="only 0 and 1"):
        binary_scores([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="NaN"):
        binary_scores([0, 1], [0.1, float("nan")])


def test_best_tss_threshold_on_hand_worked_case():
    # Sorted: 0.9(1) 0.7(1) 0.6(0) 0.4(1) 0.3(0) 0.1(0); P=3, N=3.
    # TSS after k samples "yes": 1/3, 2/3, 1/3, 2/3, 1/3, 0; the best, 2/3,
    # first at k=2, so the threshold lies between 0.7 and 0.6.
    y_true = [1, 0, 1, 0, 0, 1]
    y_prob = [0.9, 0.6, 0.7, 0.3, 0.1, 0.4]
    threshold = best_tss_threshold(y_true, y_prob)
    assert threshold == pytest.approx(0.65)
    assert binary_scores(y_true, y_prob, threshold)["tss"] == pytest.approx(2 / 3)


def test_best_tss_threshold_is_the_brute_force_maximum():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 2, 200)
    y_prob = np.round(np.clip(0.3 * y_true + rng.random(200) * 0.7, 0, 1), 2)
    threshold = best_tss_threshold(y_true, y_prob)
    candidates = np.unique(np.r_[y_prob, 2.0])
    brute = max(binary_scores(y_true, y_prob, t)["tss"] for t in candidates)
    assert binary_scores(y_true, y_prob, threshold)["tss"] == pytest.approx(brute)


def test_best_tss_threshold_never_says_yes_without_skill():
    # A constant forecast has TSS 0 at every threshold; the highest wins.
    threshold = best_tss_threshold([0, 1, 0, 1], [0.2, 0.2, 0.2, 0.2])
    assert threshold > 0.2
    assert binary_scores([0, 1, 0, 1], [0.2] * 4, threshold)["pod"] == 0.0


def test_tss_curve_needs_both_classes():
    with pytest.raises(ValueError, match="both events and non-events"):
        tss_curve([0, 0, 0], [0.1, 0.2, 0.3])


def test_tss_curve_groups_ties():
    curve = tss_curve([1, 0, 1, 0], [0.8, 0.8, 0.3, 0.1])
    # Candidates: none, {0.8, 0.8}, +0.3, +0.1.
    assert len(curve["thresholds"]) == 4
    assert curve["tss"].tolist() == pytest.approx([0.0, 0.0, 0.5, 0.0])
