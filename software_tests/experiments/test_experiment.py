"""Experiments as a user runs them: a starter, a copied folder, resume, config errors."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from flarekit import experiments as fx

REPOSITORY = Path(__file__).resolve().parents[2]
STARTER = REPOSITORY / "network_models" / "xray_flux_forecast" / "starting_point"


def test_load_config_rejects_unknown_keys_and_type_changes():
    config = fx.load_config(STARTER)
    assert config.task == "binary" and config.threshold == "M1.0"
    with pytest.raises(fx.ConfigError, match="unknown config key 'epoch'"):
        fx.load_config(STARTER, overrides={"epoch": 3})
    with pytest.raises(fx.ConfigError, match="'epochs' is int"):
        fx.load_config(STARTER, overrides={"epochs": "three"})
    assert fx.load_config(STARTER, overrides={"learning_rate": 1}).learning_rate == 1.0
    smoke = fx.load_config(STARTER, smoke=True)
    assert smoke.smoke and smoke.dataset.endswith("_smoke")


def test_config_file_with_bad_smoke_key_names_the_file(tmp_path):
    folder = tmp_path / "broken"
    shutil.copytree(STARTER, folder)
    text = (folder / "config.py").read_text().replace("epochs=2", "epochz=2")
    (folder / "config.py").write_text(text)
    with pytest.raises(fx.ConfigError, match=r"config.py \(smoke\): unknown config key 'epochz'"):
        fx.load_config(folder, smoke=True)


def test_override_parsing():
    assert fx.parse_override("epochs=3") == ("epochs", 3)
    assert fx.parse_override("threshold=M1.0") == ("threshold", "M1.0")
    assert fx.parse_override("filters=(8, 16)") == ("filters", (8, 16))
    with pytest.raises(fx.ConfigError):
        fx.parse_override("epochs")


def _run_starter(folder, tmp_path, *args, env_extra=None):
    env = {
        **__import__("os").environ,
        "FLAREKIT_RUNS_DIR": str(tmp_path / "runs"),
        **(env_extra or {}),
    }
    return subprocess.run(
        [sys.executable, str(folder / "network.py"), "--smoke", *args],
        capture_output=True, text=True, env=env, timeout=600,
    )


@pytest.mark.parametrize("experiment", ["starting_point", "multiclass", "peak_flux_regression"])
def test_copied_starter_trains_evaluates_and_reports(experiment, tmp_path, tfds_dir):
    # A user copies a starter folder and runs its network.py: same as the original.
    folder = tmp_path / "network_models" / "xray_flux_forecast" / f"my_{experiment}"
    shutil.copytree(REPOSITORY / "network_models" / "xray_flux_forecast" / experiment, folder)
    result = _run_starter(folder, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    runs = list((tmp_path / "runs" / "xray_flux_forecast" / f"my_{experiment}").iterdir())
    assert len(runs) == 1
    run_dir = runs[0]
    for name in ("config.json", "summary.txt", "history.csv", "metrics.json",
                 "predictions.csv", "report.md", "checkpoints/last.keras"):
        assert (run_dir / name).exists(), name
    assert list((run_dir / "figures").glob("*.png"))
    assert list((run_dir / "tensorboard").rglob("*"))
    history = pd.read_csv(run_dir / "history.csv")
    assert list(history.epoch) == [1, 2]
    predictions = pd.read_csv(run_dir / "predictions.csv")
    assert set(predictions.split) == {"validation", "test"}
    report = (run_dir / "report.md").read_text()
    assert "synthetic_sun/active_region_smoke" in report
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics  # the content is pinned by the metrics tests
    # Keras progress bars are shown while training.
    assert "Epoch 1/2" in result.stdout


def test_interrupted_run_resumes_from_its_checkpoint(tmp_path, tfds_dir):
    folder = tmp_path / "network_models" / "xray_flux_forecast" / "resume"
    shutil.copytree(STARTER, folder)
    # Simulate a kill after epoch 1: run one epoch, then remove what only a
    # finished run has, leaving the checkpoint of epoch 1.
    first = _run_starter(folder, tmp_path, "--set", "epochs=1")
    assert first.returncode == 0, first.stderr[-3000:]
    (run_dir,) = list((tmp_path / "runs" / "xray_flux_forecast" / "resume").iterdir())
    (run_dir / "metrics.json").unlink()
    config = json.loads((run_dir / "config.json").read_text())
    config["epochs"] = 2
    (run_dir / "config.json").write_text(json.dumps(config))
    second = _run_starter(folder, tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "resuming unfinished run" in second.stdout
    assert "Epoch 2/2" in second.stdout and "Epoch 1/2" not in second.stdout
    assert list(pd.read_csv(run_dir / "history.csv").epoch) == [1, 2]
    assert (run_dir / "metrics.json").exists()
    # --fresh starts a new folder instead.
    third = _run_starter(folder, tmp_path, "--fresh", "--set", "epochs=1")
    assert third.returncode == 0
    assert len(list(run_dir.parent.iterdir())) == 2
