"""The Mount Wilson ViT starter: labels from a feature, multiclass report, attention."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flarekit import experiments as fx

REPOSITORY = Path(__file__).resolve().parents[2]
STARTER = REPOSITORY / "network_models" / "active_regions" / "vit"


def test_starter_config():
    config = fx.load_config(STARTER)
    assert config.trainer == "feature_class" and config.label_feature == "mount_wilson"
    assert config.classes == ("alpha", "beta", "beta-gamma", "beta-gamma-delta")
    with pytest.raises(fx.ConfigError, match="unknown config key 'label'"):
        fx.load_config(STARTER, overrides={"label": "mount_wilson"})


def test_vit_starter_trains_scores_mount_wilson_and_draws_attention(
    tmp_path, tfds_dir, monkeypatch
):
    from flarekit.data import pipeline

    monkeypatch.setenv("FLAREKIT_RUNS_DIR", str(tmp_path / "runs"))
    run_dir = fx.run_experiment(STARTER, smoke=True, epochs=1)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["task_kind"] == "multiclass"
    assert metrics["class_names"] == ["alpha", "beta", "beta-gamma", "beta-gamma-delta"]
    for key in ("accuracy", "macro_f1", "gms"):
        assert np.isfinite(metrics["headline"][key])
    # Labels are the dataset's Mount Wilson classes, not flare classes.
    predictions = pd.read_csv(run_dir / "predictions.csv")
    test = predictions[predictions.split == "test"].sort_values(["timestamp", "region"])
    builder = pipeline.get_builder("synthetic_sun/active_region_smoke", tfds_dir)
    truth = pipeline.read_columns(
        builder, "test", ["timestamp", "region", "mount_wilson"]
    )
    truth = truth.sort_values(["timestamp", "region"])
    np.testing.assert_array_equal(
        test["label"].to_numpy(), truth["mount_wilson"].to_numpy()
    )
    probabilities = test[[f"prob_{name}" for name in metrics["class_names"]]].to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-4)
    for figure in ("confusion_matrix.png", "attention_rollout.png"):
        assert (run_dir / "figures" / figure).stat().st_size > 0
    report = (run_dir / "report.md").read_text()
    assert "## Attention maps" in report and "macro-F1" in report
    assert "timings" not in metrics["settings"]
    timings = json.loads((run_dir / "timings.json").read_text())
    assert timings["train_images_per_s"] > 0
