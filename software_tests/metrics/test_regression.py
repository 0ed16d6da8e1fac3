"""Peak-flux regression scores and the SDO-Benchmark score."""

import math

import numpy as np
import pytest

from flarekit.metrics import (
    regression_scores,
    sdo_benchmark_groups,
    sdo_benchmark_score,
)


def test_sdo_benchmark_groups_put_a_class_with_quiet():
    groups = sdo_benchmark_groups([-9.0, -7.5, -7.0, -6.0, -5.0, -4.0, -3.0])
    assert groups.tolist() == ["quiet", "quiet", "B", "C", "M", "X", "X"]


def test_sdo_benchmark_score_by_hand():
    # Classes: quiet, quiet, A (-7.5), C (-5.5), M (-5.0), M (-4.5), X (-3.9).
    true = [-9.0, -9.0, -7.5, -5.5, -5.0, -4.5, -3.9]
    pred = [-8.0, -9.0, -7.5, -5.0, -5.0, -5.5, -3.9]
    # quiet (incl. A): errors 1, 0, 0 -> RMSE sqrt(1/3); B: none;
    # C: 0.5 -> 0.5; M: 0, -1 -> sqrt(1/2); X: 0 -> 0.
    expected = (math.sqrt(1 / 3) + 0.5 + math.sqrt(0.5) + 0.0) / 4
    result = sdo_benchmark_score(true, pred)
    assert result["score"] == pytest.approx(expected)
    assert result["n_groups"] == 4
    assert result["per_group"]["B"]["count"] == 0
    assert math.isnan(result["per_group"]["B"]["rmse"])
    assert result["per_group"]["quiet"]["count"] == 3


def test_group_mean_is_not_the_overall_rmse():
    # 99 perfect quiet samples hide one bad M sample in the plain RMSE, not here.
    true = np.r_[np.full(99, -9.0), -5.0]
    pred = np.r_[np.full(99, -9.0), -7.0]
    scores = regression_scores(true, pred)
    assert scores["rmse"] == pytest.approx(math.sqrt(4 / 100))
    assert scores["sdo_benchmark_score"] == pytest.approx((0 + 2) / 2)


def test_regression_scores_mae_rmse_and_class_skill():
    # True classes quiet, C, M, M; predicted A, M, C, M.
    true = np.array([-9.0, -5.5, -4.5, -4.2])
    pred = np.array([-8.0, -4.5, -5.5, -4.2])
    scores = regression_scores(true, pred)
    assert scores["mae"] == pytest.approx(0.75)
    assert scores["rmse"] == pytest.approx(math.sqrt(3 / 4))
    assert scores["bias"] == pytest.approx(0.25)
    # >= C: observed [0,1,1,1], forecast [0,1,1,1] -> perfect.
    assert scores["skill"]["C"]["tss"] == pytest.approx(1.0)
    # >= M: observed [0,0,1,1], forecast [0,1,0,1] -> TP1 FP1 FN1 TN1, TSS 0.
    skill_m = scores["skill"]["M"]
    assert (skill_m["tp"], skill_m["fp"], skill_m["fn"], skill_m["tn"]) == (1, 1, 1, 1)
    assert skill_m["tss"] == pytest.approx(0.0)


def test_regression_rejects_linear_fluxes():
    with pytest.raises(ValueError, match="log10"):
        regression_scores([1e-6, 1e-5], [1e-6, 1e-5])
    with pytest.raises(ValueError, match="non-finite"):
        regression_scores([-6.0, -5.0], [-6.0, float("nan")])
