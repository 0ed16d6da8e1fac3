"""Confusion matrix, per-class TSS, macro-F1 and the Gandin-Murphy-Gerrity score."""

import math

import numpy as np
import pytest
from sklearn.metrics import f1_score

from flarekit.metrics import (
    confusion_matrix,
    gandin_murphy_gerrity_score,
    gerrity_scoring_matrix,
    multiclass_scores,
    scores_from_table,
)

# Rows observed, columns forecast; n = 20, observed frequencies 0.4, 0.3, 0.3.
TABLE_3X3 = [[5, 2, 1], [1, 4, 1], [0, 1, 5]]


def test_gerrity_scoring_matrix_by_hand():
    # D1 = 0.4 -> a1 = 1.5; D2 = 0.7 -> a2 = 3/7; K - 1 = 2.
    a1, a2 = 1.5, 3 / 7
    expected = np.array(
        [
            [(a1 + a2) / 2, (-1 + a2) / 2, -2 / 2],
            [(-1 + a2) / 2, (1 / a1 + a2) / 2, (1 / a1 - 1) / 2],
            [-2 / 2, (1 / a1 - 1) / 2, (1 / a1 + 1 / a2) / 2],
        ]
    )
    assert gerrity_scoring_matrix([0.4, 0.3, 0.3]) == pytest.approx(expected)


def test_gms_on_hand_worked_3x3_table():
    # s11 = 27/28, s22 = 23/42, s33 = 3/2, s12 = -2/7, s13 = -1, s23 = -1/6.
    # GMS = [5*27/28 + 4*23/42 + 5*3/2 + 3*(-2/7) + 1*(-1) + 2*(-1/6)] / 20
    #     = (345/28) / 20 = 69/112.
    assert gandin_murphy_gerrity_score(TABLE_3X3) == pytest.approx(69 / 112)


def test_gms_equals_tss_for_two_categories():
    table = [[40, 10], [5, 15]]  # rows observed no/yes
    tss = scores_from_table(tp=15, fp=10, fn=5, tn=40)["tss"]
    assert gandin_murphy_gerrity_score(table) == pytest.approx(tss)


def test_gms_is_equitable_and_perfect_is_one():
    # Always forecasting one category scores 0 whatever the category.
    constant = [[8, 0, 0], [6, 0, 0], [6, 0, 0]]
    assert gandin_murphy_gerrity_score(constant) == pytest.approx(0.0)
    assert gandin_murphy_gerrity_score(np.diag([8, 6, 6])) == pytest.approx(1.0)


def test_gms_tolerates_an_unobserved_category():
    # No X observed (last row empty) but some X forecast: still finite.
    table = [[10, 2, 1], [3, 6, 1], [0, 0, 0]]
    assert math.isfinite(gandin_murphy_gerrity_score(table))
    assert math.isnan(gandin_murphy_gerrity_score([[5, 1], [0, 0]]))


def test_confusion_matrix_rows_are_observed():
    matrix = confusion_matrix([0, 0, 1, 2], [0, 1, 1, 0], 3)
    assert matrix.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 0]]
    with pytest.raises(ValueError, match="expected \\[0, 2\\]"):
        confusion_matrix([0, 3], [0, 1], 3)


def test_multiclass_scores_per_class_tss_and_macro_f1():
    observed = np.repeat([0, 1, 2], [8, 6, 6])
    forecast = np.concatenate(
        [
            np.repeat([0, 1, 2], [5, 2, 1]),
            np.repeat([0, 1, 2], [1, 4, 1]),
            np.repeat([0, 1, 2], [0, 1, 5]),
        ]
    )
    scores = multiclass_scores(observed, forecast, ["quiet", "C", "M"])
    assert scores["confusion_matrix"] == TABLE_3X3
    assert scores["accuracy"] == pytest.approx(14 / 20)
    assert scores["gms"] == pytest.approx(69 / 112)
    # Class M one-vs-rest: TP 5, FN 1, FP 2, TN 12 -> TSS 5/6 - 2/14.
    assert scores["per_class"]["M"]["tss"] == pytest.approx(5 / 6 - 2 / 14)
    assert scores["per_class"]["M"]["support"] == 6
    assert scores["macro_f1"] == pytest.approx(
        f1_score(observed, forecast, average="macro")
    )


def test_multiclass_scores_take_probabilities():
    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3]])
    scores = multiclass_scores([0, 2, 2], probabilities, ["a", "b", "c"])
    assert scores["confusion_matrix"] == [[1, 0, 0], [0, 0, 0], [0, 1, 1]]
    with pytest.raises(ValueError, match="3 columns"):
        multiclass_scores([0, 1, 1], probabilities, ["a", "b"])
