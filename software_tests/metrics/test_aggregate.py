"""Mean +- sd over seeds or folds, and table formatting."""

import math

import pytest

from flarekit.metrics import aggregate_runs, format_interval, format_mean_sd


def test_aggregate_runs_mean_and_sample_sd():
    runs = [{"headline": {"tss": v}} for v in (0.5, 0.6, 0.7, 0.8, 0.9)]
    stats = aggregate_runs(runs, ["headline.tss"])["headline.tss"]
    assert stats["mean"] == pytest.approx(0.7)
    # Sample sd (ddof=1): sqrt(0.1 / 4).
    assert stats["sd"] == pytest.approx(math.sqrt(0.025))
    assert stats["n"] == 5 and stats["n_missing"] == 0


def test_aggregate_runs_counts_missing_folds():
    runs = [
        {"headline": {"tss": 0.4}},
        {"headline": {"tss": None}},  # NaN written as null
        {"headline": {}},
        {"headline": {"tss": 0.6}},
    ]
    stats = aggregate_runs(runs, ["headline.tss"])["headline.tss"]
    assert stats["mean"] == pytest.approx(0.5)
    assert stats["n"] == 2 and stats["n_missing"] == 2


def test_aggregate_runs_rejects_non_numbers_and_no_runs():
    with pytest.raises(ValueError, match="non-numeric"):
        aggregate_runs([{"task_kind": "binary"}], ["task_kind"])
    with pytest.raises(ValueError, match="at least one"):
        aggregate_runs([], ["headline.tss"])


def test_formatting():
    assert format_mean_sd(0.62, 0.04) == "0.620 ± 0.040"
    assert format_mean_sd(0.62, float("nan")) == "0.620"
    assert format_interval(0.62, [0.55, 0.69], digits=2) == "0.62 [0.55, 0.69]"
    assert format_interval(float("nan"), [0.1, 0.2]) == "n/a"
    assert format_interval(-1e-9, None) == "0.000"
