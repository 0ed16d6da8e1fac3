"""evaluate(): thresholds from validation, baselines, intervals, provenance."""

import json

import numpy as np
import pandas as pd
import pytest

from flarekit.metrics import best_tss_threshold, evaluate, hash_test_set

SETTINGS = {
    "task": "binary",
    "threshold": "M1.0",
    "horizon_hours": 24,
    "unit": "active_region",
    "split": "chronological",
    "gap_days": 27.0,
    "flux_scale": "science",
    "n_boot": 200,
}


def fake_binary_predictions(n_regions=40, per_region=12, seed=0):
    """predictions.csv rows for a binary task; odd regions test, even validation."""
    rng = np.random.default_rng(seed)
    rows = []
    for region in range(n_regions):
        level = rng.beta(0.6, 4.0)
        for step in range(per_region):
            truth = float(np.clip(level * rng.lognormal(0.0, 0.3), 0.0, 1.0))
            label = int(rng.random() < truth)
            rows.append(
                {
                    "split": "test" if region % 2 else "validation",
                    "timestamp": 1_500_000_000 + 86_400 * region + 5_760 * step,
                    "region": f"AR{11000 + region}",
                    "peak_flux": 2e-5 if label else 1e-9,
                    "previous_peak_flux": 2e-5 if rng.random() < truth else 1e-9,
                    "goes_class": 4 if label else 0,
                    "true_probability": truth,
                    "label": label,
                    "probability": float(np.clip(truth + rng.normal(0, 0.05), 0, 1)),
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def predictions():
    return fake_binary_predictions()


@pytest.fixture(scope="module")
def binary_result(predictions):
    test = predictions[predictions["split"] == "test"]
    validation = predictions[predictions["split"] == "validation"]
    return evaluate("binary", test, validation, 0.12, SETTINGS)


def test_binary_result_structure(binary_result):
    assert {
        "task_kind",
        "settings",
        "test_set",
        "validation_set",
        "bootstrap",
        "base_rates",
        "decision_thresholds",
        "forecasters",
        "headline",
        "bayes_ceiling",
        "notes",
    } <= set(binary_result)
    assert set(binary_result["forecasters"]) == {
        "model",
        "climatology",
        "persistence",
        "always_no",
    }
    model = binary_result["forecasters"]["model"]
    for key in ("tss", "hss2", "false_alarm_ratio", "precision", "pod"):
        low, high = model["intervals"]["at_validation_optimal"][key]
        assert low <= model["at_validation_optimal"][key] <= high
    assert len(model["intervals"]["bss"]) == 2
    assert sum(model["reliability"]["counts"]) == binary_result["test_set"]["n_samples"]
    assert binary_result["settings"]["threshold"] == "M1.0"
    assert binary_result["bootstrap"]["resampled"] == "regions"
    # Plain Python values only: json can write it (NaN aside, handled later).
    json.dumps(binary_result)


def test_threshold_is_chosen_on_validation_not_test(predictions, binary_result):
    validation = predictions[predictions["split"] == "validation"]
    test = predictions[predictions["split"] == "test"]
    expected = best_tss_threshold(validation["label"], validation["probability"])
    tuned = binary_result["decision_thresholds"]["validation_optimal"]["model"]
    assert tuned == expected
    assert binary_result["headline"]["decision_threshold"] == expected
    # The test set's own optimum differs here, which is the point of the rule.
    assert best_tss_threshold(test["label"], test["probability"]) != expected


def test_base_rates_and_ceiling(predictions, binary_result):
    test = predictions[predictions["split"] == "test"]
    assert binary_result["base_rates"]["train"] == 0.12
    assert binary_result["base_rates"]["test"] == pytest.approx(test["label"].mean())
    ceiling = binary_result["bayes_ceiling"]
    tss = binary_result["forecasters"]["model"]["at_validation_optimal"]["tss"]
    assert ceiling["model_fraction_at_validation_optimal"] == pytest.approx(
        tss / ceiling["tss"]
    )
    # Climatology is the reference of the BSS, so its own BSS is 0.
    climatology = binary_result["forecasters"]["climatology"]
    assert climatology["probabilistic"]["bss"] == pytest.approx(0.0)
    assert binary_result["forecasters"]["always_no"]["at_default"]["pod"] == 0.0


def test_test_set_hash_ignores_order_and_sees_changes(predictions, binary_result):
    test = predictions[predictions["split"] == "test"]
    shuffled = test.sample(frac=1.0, random_state=0)
    assert (
        hash_test_set(shuffled["timestamp"], shuffled["region"])
        == (binary_result["test_set"]["hash"])
    )
    dropped = test.iloc[1:]
    assert (
        hash_test_set(dropped["timestamp"], dropped["region"])
        != (binary_result["test_set"]["hash"])
    )


def test_rows_of_other_splits_in_test_are_rejected(predictions):
    with pytest.raises(ValueError, match="validation"):
        evaluate("binary", predictions, None, 0.1, SETTINGS)


def test_missing_inputs_are_noted_not_silent(predictions):
    test = predictions[predictions["split"] == "test"].drop(
        columns=["previous_peak_flux", "true_probability"]
    )
    result = evaluate("binary", test, None, None, {"n_boot": 50})
    assert set(result["forecasters"]) == {"model", "always_no"}
    assert result["bayes_ceiling"] is None
    assert result["headline"]["threshold_source"] == "default"
    notes = " ".join(result["notes"])
    assert "persistence omitted" in notes
    assert "climatology omitted" in notes
    assert "never chosen on the test set" in notes


def test_leakage_is_noted(predictions):
    test = predictions[predictions["split"] == "test"]
    result = evaluate("binary", test, None, 0.1, {"allow_leakage": True, "n_boot": 20})
    assert any("allow_leakage" in note for note in result["notes"])


def test_multiclass_evaluation():
    rng = np.random.default_rng(2)
    names = ["quiet", "B", "C", "M", "X"]
    n = 240
    label = rng.choice(5, n, p=[0.5, 0.2, 0.15, 0.1, 0.05])
    logits = rng.normal(size=(n, 5))
    logits[np.arange(n), label] += 1.5
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    frame = pd.DataFrame(
        {
            "split": np.where(np.arange(n) % 2, "test", "validation"),
            "timestamp": np.arange(n) * 3600,
            "region": [f"AR{i // 6}" for i in range(n)],
            "previous_peak_flux": 10.0 ** rng.uniform(-9, -4, n),
            "label": label,
            **{f"prob_{c}": probs[:, i] for i, c in enumerate(names)},
        }
    )
    test = frame[frame["split"] == "test"]
    validation = frame[frame["split"] == "validation"]
    settings = dict(SETTINGS, task="multiclass")
    result = evaluate(
        "multiclass", test, validation, [0.5, 0.2, 0.15, 0.1, 0.05], settings
    )
    assert result["class_names"] == names
    model = result["forecasters"]["model"]
    assert np.sum(model["scores"]["confusion_matrix"]) == len(test)
    low, high = model["intervals"]["gms"]
    assert low <= model["scores"]["gms"] <= high
    # Climatology forecasts the most frequent training class, here quiet.
    assert result["forecasters"]["climatology"]["scores"]["confusion_matrix"][0][0] > 0
    binary = result["binary_at_threshold"]
    assert binary["positive_classes"] == ["M", "X"]
    assert binary["base_rates"]["train"] == pytest.approx(0.15)
    json.dumps(result)
    # M5.0 is no class boundary: summing class probabilities cannot give it.
    settings = dict(settings, threshold="M5.0", n_boot=10)
    result = evaluate("multiclass", test, validation, None, settings)
    assert result["binary_at_threshold"] is None
    assert any("M5.0" in note for note in result["notes"])


def test_regression_evaluation():
    rng = np.random.default_rng(4)
    n = 200
    true = np.where(rng.random(n) < 0.4, -9.0, rng.uniform(-7.5, -3.5, n))
    frame = pd.DataFrame(
        {
            "timestamp": np.arange(n) * 3600,
            "region": [f"AR{i // 5}" for i in range(n)],
            "previous_peak_flux": 10.0 ** rng.uniform(-9, -4, n),
            "log_flux_true": true,
            "log_flux_pred": true + rng.normal(0, 0.3, n),
        }
    )
    result = evaluate("regression", frame, None, -7.0, dict(SETTINGS, n_boot=50))
    model = result["forecasters"]["model"]
    assert set(result["forecasters"]) == {
        "model",
        "climatology",
        "persistence",
        "always_no",
    }
    assert (
        result["headline"]["sdo_benchmark_score"]
        == model["scores"]["sdo_benchmark_score"]
    )
    assert {"mae", "rmse", "sdo_benchmark_score", "tss_C", "tss_M"} <= set(
        model["intervals"]
    )
    assert model["scores"]["mae"] < result["forecasters"]["always_no"]["scores"]["mae"]
    with pytest.raises(ValueError, match="log10 peak flux"):
        evaluate("regression", frame, None, 0.3, SETTINGS)


def test_unknown_task_kind():
    with pytest.raises(ValueError, match="task_kind"):
        evaluate("ranking", pd.DataFrame(), None, 0.1, {})
