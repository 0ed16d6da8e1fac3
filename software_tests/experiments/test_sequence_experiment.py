"""The sequence k-fold trainer: hybrid split, test-block guard, mean +- sd of folds."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flarekit import experiments as fx
from flarekit.experiments.sequence_kfold import kfold_comparison_table
from flarekit.data.splits import EvaluationSetError

REPOSITORY = Path(__file__).resolve().parents[2]
STARTER = REPOSITORY / "network_models" / "sequences" / "video_transformer"


def test_starter_config_uses_the_kfold_trainer():
    config = fx.load_config(STARTER)
    assert config.trainer == "sequence_kfold" and config.task == "sequence"
    assert fx.trainer_class(config.trainer).__name__ == "SequenceKFoldExperiment"
    assert config.oversampling in ("none", "train", "train_and_validation")
    assert "flip" not in config.transforms


def test_oversampling_the_test_block_raises_before_any_data_is_read(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("FLAREKIT_RUNS_DIR", str(tmp_path / "runs"))
    # A dataset that does not exist: the protocol check must fail first.
    with pytest.raises(EvaluationSetError, match="test block"):
        fx.run_experiment(
            STARTER,
            smoke=True,
            oversampling="train_validation_test",
            dataset="synthetic_sun/no_such_config",
        )
    # Refused before anything was written: no stray run folder.
    assert not (tmp_path / "runs").exists()


def test_kfold_run_reports_mean_and_sd_over_folds(tmp_path, tfds_dir, monkeypatch):
    monkeypatch.setenv("FLAREKIT_RUNS_DIR", str(tmp_path / "runs"))
    run_dir = fx.run_experiment(STARTER, smoke=True, epochs=1)
    folds = [
        json.loads((run_dir / f"fold_{k}" / "metrics.json").read_text()) for k in (0, 1)
    ]
    summary = json.loads((run_dir / "metrics.json").read_text())
    # Every fold is scored on the same, untouched test block.
    assert folds[0]["test_set"]["hash"] == folds[1]["test_set"]["hash"]
    assert summary["test_set"]["hash"] == folds[0]["test_set"]["hash"]
    tss = [fold["headline"]["tss"] for fold in folds]
    stats = summary["scores"]["headline.tss"]
    assert stats["n"] == 2 and stats["values"] == pytest.approx(tss)
    assert stats["mean"] == pytest.approx(np.mean(tss))
    assert stats["sd"] == pytest.approx(np.std(tss, ddof=1))
    for key in ("headline.hss2", "headline.false_alarm_ratio"):
        assert summary["scores"][key]["n"] + summary["scores"][key]["n_missing"] == 2
    assert "never the best fold" in summary["aggregation"]
    assert summary["protocol"]["oversampled_parts"] == ["train"]
    # Costs live apart from scores: metrics.json of two runs compare exactly.
    assert "timings" not in summary and "timings" not in folds[0]["settings"]
    timings = json.loads((run_dir / "timings.json").read_text())
    assert timings["train_clips_per_s_mean"] > 0 and len(timings["folds"]) == 2
    fold_timings = json.loads((run_dir / "fold_0" / "timings.json").read_text())
    assert fold_timings["fit_s"] > 0 and fold_timings["epochs_trained"] == 1
    assert "epochs_trained" not in timings  # each fold's, not the last fold's at the top
    # The comparison table names the model and the epochs the folds ran.
    row = kfold_comparison_table([run_dir]).iloc[0]
    assert row["model"] == "factorised video transformer" and row["epochs run"] == "1 of 1"
    # Test rows are the test block as observed: no duplicated samples.
    predictions = pd.read_csv(run_dir / "fold_0" / "predictions.csv")
    test = predictions[predictions.split == "test"]
    assert len(test) == folds[0]["test_set"]["n_samples"]
    assert not test.duplicated(["timestamp", "region"]).any()
    report = (run_dir / "report.md").read_text()
    assert "mean ± sd over folds" in report and "| 1 |" in report
    assert list((run_dir / "figures").glob("attention_*.png"))
    # Restarted after the folds finished: nothing is retrained, same numbers.
    (run_dir / "metrics.json").unlink()
    history = (run_dir / "fold_1" / "history.csv").read_text()
    shutil.rmtree(run_dir / "fold_1" / "figures")
    assert fx.run_experiment(STARTER, smoke=True, epochs=1) == run_dir
    assert (run_dir / "fold_1" / "history.csv").read_text() == history
    assert (
        json.loads((run_dir / "metrics.json").read_text())["scores"]
        == summary["scores"]
    )
