"""The Bayes ceiling and the reference forecasters."""

import math

import numpy as np
import pytest

from flarekit.metrics import (
    always_no_forecast,
    bayes_ceiling,
    climatology_forecast,
    flux_to_named_class,
    fraction_of_ceiling,
    persistence_class_forecast,
    persistence_forecast,
    persistence_log_flux,
)


def test_bayes_ceiling_on_crafted_case():
    # True probabilities 0.8 (x4, 3 flared), 0.5 (x2, 1 flared), 0.1 (x4, 0).
    probabilities = [0.8] * 4 + [0.5] * 2 + [0.1] * 4
    outcomes = [1, 1, 1, 0] + [1, 0] + [0, 0, 0, 0]
    # P = 4, N = 6. Yes for 0.8 only: POD 3/4, POFD 1/6 -> 0.5833.
    # Yes for 0.8 and 0.5: POD 4/4, POFD 2/6 -> 0.6667 (the best).
    # Yes for all: 0.
    result = bayes_ceiling(probabilities, outcomes)
    assert result["tss"] == pytest.approx(2 / 3)
    assert result["threshold"] == pytest.approx(0.3)  # between 0.5 and 0.1
    # In expectation: P = 4.6, N = 5.4, threshold at the mean 0.46 keeps
    # 0.8 and 0.5: (3.2 + 1.0) / 4.6 - (0.8 + 1.0) / 5.4.
    assert result["expected_threshold"] == pytest.approx(0.46)
    assert result["expected_tss"] == pytest.approx(4.2 / 4.6 - 1.8 / 5.4)
    assert result["base_rate"] == pytest.approx(0.4)


def test_fraction_of_ceiling():
    assert fraction_of_ceiling(0.5, 0.8) == pytest.approx(0.625)
    assert math.isnan(fraction_of_ceiling(0.5, 0.0))
    assert math.isnan(fraction_of_ceiling(float("nan"), 0.8))


def test_bayes_ceiling_rejects_bad_probabilities():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        bayes_ceiling([1.2, 0.1], [1, 0])


def test_persistence_yes_when_previous_window_reached_threshold():
    previous = np.array([1e-9, 9.9e-6, 1e-5, 3e-4], dtype=np.float32)
    assert persistence_forecast(previous, "M1.0").tolist() == [0, 0, 1, 1]
    assert persistence_forecast(previous, 1e-6).tolist() == [0, 1, 1, 1]


def test_persistence_missing_previous_window():
    with pytest.raises(ValueError, match="NaN"):
        persistence_forecast([np.nan, 2e-5], "M1.0")
    forecast = persistence_forecast([np.nan, 2e-5], "M1.0", missing_as_no=True)
    assert forecast.tolist() == [0.0, 1.0]


def test_climatology_and_always_no():
    assert climatology_forecast(2, 0.04).tolist() == [0.04, 0.04]
    assert always_no_forecast(3).tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="train_base_rate"):
        climatology_forecast(2, 4.0)


def test_persistence_for_classes_and_log_flux():
    previous = [1e-9, 5e-8, 3e-7, 2e-6, 4e-5, 2e-4]
    names = ["quiet", "B", "C", "M", "X"]
    assert persistence_class_forecast(previous, names).tolist() == [0, 0, 1, 2, 3, 4]
    assert persistence_log_flux([1e-9, 1e-5, 0.0]).tolist() == pytest.approx(
        [-9, -5, -9]
    )
    # Class strings work as boundaries too, as in tasks.multiclass("quiet", "C", "M5").
    names = ["quiet", "C", "M5"]
    assert flux_to_named_class([2e-6, 2e-5, 6e-5], names).tolist() == [1, 1, 2]
    with pytest.raises(ValueError, match="not a GOES class"):
        flux_to_named_class([1e-6], ["quiet", ">=M"])
