"""report.md, figures, atomic JSON and comparison tables on fake predictions."""

import json
import os

import numpy as np
import pandas as pd
import pytest

from flarekit.metrics import evaluate
from flarekit.report import (
    aggregate_runs,
    comparison_table,
    write_json_atomic,
    write_report,
)

SETTINGS = {
    "experiment": "fake_cnn",
    "task": "binary",
    "threshold": "M1.0",
    "horizon_hours": 24,
    "window_rule": "largest flare peaking in (t, t + horizon]",
    "unit": "active_region",
    "dataset": "synthetic_sun/active_region_smoke",
    "split": "chronological by region",
    "gap_days": 27.0,
    "flux_scale": "science (no SWPC 0.7 factor)",
    "aggregation": "single run, seed 0",
    "bootstrap_samples": 100,
    "timings": {"fit_s": 12.5},
}


def fake_predictions(seed=0, n_regions=30, per_region=10):
    """predictions.csv rows of a binary task, test and validation."""
    rng = np.random.default_rng(seed)
    rows = []
    for region in range(n_regions):
        level = rng.beta(0.7, 4.0)
        for step in range(per_region):
            truth = float(np.clip(level * rng.lognormal(0.0, 0.3), 0.0, 1.0))
            label = int(rng.random() < truth)
            rows.append(
                {
                    "split": "test" if region % 2 else "validation",
                    "timestamp": 1_500_000_000 + 86_400 * region + 5_760 * step,
                    "region": f"AR{12000 + region}",
                    "peak_flux": 2e-5 if label else 1e-9,
                    "previous_peak_flux": 2e-5 if rng.random() < truth else 1e-9,
                    "goes_class": 4 if label else 0,
                    "true_probability": truth,
                    "label": label,
                    "probability": float(np.clip(truth + rng.normal(0, 0.05), 0, 1)),
                }
            )
    return pd.DataFrame(rows)


def run_binary(run_dir, settings=SETTINGS, seed=0, n_regions=30, with_report=True):
    predictions = fake_predictions(seed, n_regions=n_regions)
    metrics = evaluate(
        "binary",
        predictions[predictions["split"] == "test"],
        predictions[predictions["split"] == "validation"],
        0.12,
        settings,
    )
    history = pd.DataFrame(
        {
            "epoch": range(1, 5),
            "loss": [0.9, 0.7, 0.6, 0.55],
            "val_loss": [1.0, 0.8, 0.75, 0.74],
            "auc": [0.6, 0.7, 0.75, 0.78],
            "val_auc": [0.58, 0.66, 0.7, 0.71],
        }
    )
    write_json_atomic(run_dir / "metrics.json", metrics)
    if not with_report:
        return None, metrics
    path = write_report(run_dir, metrics, settings, history, predictions)
    return path, metrics


def test_report_leads_with_settings_and_has_figures(tmp_path):
    path, metrics = run_binary(tmp_path)
    text = path.read_text(encoding="utf-8")
    assert path == tmp_path / "report.md"
    settings_part = text.split("## Main table")[0]
    for expected in (
        "M1.0",
        "horizon (hours) | 24",
        "active_region",
        "chronological by region",
        "gap between splits (days) | 27",
        "science (no SWPC 0.7 factor)",
        "single run, seed 0",
        "test base rate",
        "largest flare peaking in (t, t + horizon]",
        "100 resamples",
        "TSS-maximising on validation",
        metrics["test_set"]["hash"],
    ):
        assert expected in settings_part, expected
    assert "LEAKAGE" not in text
    # Settings outside the comparability list are still listed, at the end.
    assert "| timings | fit_s: 12.5 |" in text.split("## Other settings")[1]
    for row in ("| model |", "| climatology |", "| persistence |", "| always no |"):
        assert row in text
    for column in ("TSS", "HSS2", "false-alarm ratio", "precision", "POD", "BSS"):
        assert column in text
    assert "Bayes ceiling" in text
    for name in ("training_curves", "roc", "reliability", "confusion_matrix"):
        figure = tmp_path / "figures" / f"{name}.png"
        assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"figures/{name}.png" in text
    # Nothing but the finished files: no temporary files left behind.
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def test_unstated_settings_are_visible_and_leakage_is_stamped(tmp_path):
    settings = {"threshold": "M1.0", "allow_leakage": True, "n_boot": 20}
    path, _ = run_binary(tmp_path, settings)
    text = path.read_text(encoding="utf-8")
    assert "LEAKAGE WARNING" in text.split("## Comparability settings")[0]
    assert "horizon (hours) | not stated" in text
    assert "flux scale | not stated" in text


def test_write_json_atomic_writes_nan_as_null(tmp_path):
    path = write_json_atomic(
        tmp_path / "sub" / "metrics.json",
        {"tss": float("nan"), "n": np.int64(3), "pair": (np.float32(0.5), np.inf)},
    )
    assert json.loads(path.read_text()) == {"tss": None, "n": 3, "pair": [0.5, None]}


def test_failed_write_leaves_old_file_intact(tmp_path, monkeypatch):
    path = write_json_atomic(tmp_path / "metrics.json", {"tss": 0.5})

    def broken_replace(source, destination):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_json_atomic(path, {"tss": 0.9})
    monkeypatch.undo()
    assert json.loads(path.read_text()) == {"tss": 0.5}
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_multiclass_and_regression_reports(tmp_path):
    rng = np.random.default_rng(5)
    names = ["quiet", "B", "C", "M", "X"]
    n = 120
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
    settings = dict(SETTINGS, task="multiclass", n_boot=30)
    metrics = evaluate(
        "multiclass",
        frame[frame["split"] == "test"],
        frame[frame["split"] == "validation"],
        [0.5, 0.2, 0.15, 0.1, 0.05],
        settings,
    )
    text = write_report(tmp_path / "mc", metrics, settings, None, frame).read_text()
    assert "GMS" in text and "macro-F1" in text
    assert (tmp_path / "mc" / "figures" / "confusion_matrix.png").is_file()
    assert not (tmp_path / "mc" / "figures" / "training_curves.png").exists()

    true = np.where(rng.random(n) < 0.4, -9.0, rng.uniform(-7.5, -3.5, n))
    regression = pd.DataFrame(
        {
            "split": "test",
            "timestamp": np.arange(n) * 3600,
            "region": [f"AR{i // 6}" for i in range(n)],
            "previous_peak_flux": 10.0 ** rng.uniform(-9, -4, n),
            "log_flux_true": true,
            "log_flux_pred": true + rng.normal(0, 0.3, n),
        }
    )
    settings = dict(SETTINGS, task="regression", n_boot=30)
    metrics = evaluate("regression", regression, None, -7.0, settings)
    text = write_report(tmp_path / "rg", metrics, settings, None, regression)
    text = text.read_text()
    assert "SDO-Benchmark score" in text and "A-class" in text
    assert (tmp_path / "rg" / "figures" / "regression.png").is_file()


def test_comparison_table_and_aggregation(tmp_path):
    runs = []
    # Three seeds on the same test samples, and one run on a smaller test set.
    for seed, n_regions in ((0, 30), (1, 30), (2, 30), (3, 26)):
        run_dir = tmp_path / f"seed{seed}"
        run_binary(run_dir, dict(SETTINGS, n_boot=20), seed, n_regions, False)
        runs.append(run_dir)
    # Every row names its model: the config's architecture, else the experiment.
    (runs[0] / "config.json").write_text(json.dumps({"architecture": "vit"}))
    (runs[1] / "config.json").write_text(json.dumps({"architecture": "video_swin"}))
    table = comparison_table(runs)
    assert list(table["run"]) == ["seed0", "seed1", "seed2", "seed3"]
    assert table.columns[0] == "model"
    assert list(table["model"][:2]) == ["ViT", "VideoSwin"]
    assert table["model"][2] == (SETTINGS.get("experiment") or "seed2")
    assert {"tss", "hss2", "false_alarm_ratio", "bss", "tss_low", "tss_high"} <= set(
        table.columns
    )
    assert (table["threshold"] == "M1.0").all()
    # The hash depends on the (timestamp, region) pairs, not on predictions.
    assert table["same_test_set"].tolist() == [True, True, True, False]
    metrics = [json.loads((r / "metrics.json").read_text()) for r in runs[:3]]
    stats = aggregate_runs(metrics, ["headline.tss"])["headline.tss"]
    assert stats["mean"] == pytest.approx(table["tss"][:3].mean())
    assert stats["sd"] == pytest.approx(table["tss"][:3].std(ddof=1))
    with pytest.raises(ValueError, match="metrics.json"):
        comparison_table([tmp_path / "missing"])


def test_figures_are_seaborn_drawn_and_leave_the_callers_style():
    import matplotlib

    from flarekit import report

    grid_before = matplotlib.rcParams["axes.grid"]
    face_before = matplotlib.rcParams["axes.facecolor"]
    figure = report.plot_confusion_matrix([[3, 1], [0, 12]], ["no flare", "flare"], "t")
    # seaborn's heatmap writes each count in its cell, rows observed.
    assert [text.get_text() for text in figure.axes[0].texts] == ["3", "1", "0", "12"]
    roc = report.plot_roc(
        {"pofd": [0.0, 0.0, 0.5, 1.0], "pod": [0.0, 0.5, 1.0, 1.0]},
        {"pofd": 0.0, "pod": 0.5, "threshold": 0.5},
        0.875,
    )
    axes = roc.axes[0]
    # The whitegrid theme drew the grid; the curve keeps threshold order
    # (two POD values at POFD 0 are not averaged into one).
    assert axes.xaxis.get_gridlines()[0].get_visible()
    np.testing.assert_allclose(axes.lines[0].get_ydata(), [0.0, 0.5, 1.0, 1.0])
    assert matplotlib.rcParams["axes.grid"] == grid_before
    assert matplotlib.rcParams["axes.facecolor"] == face_before
