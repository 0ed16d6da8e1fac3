"""The leaderboard ranks runs only within one comparability setting and says
why the other groups are apart (hand-made metrics.json files, no training)."""

import json

import pandas as pd
import pytest

from flarekit.compare import leaderboard, write_leaderboard

HASH_A, HASH_B = "a" * 64, "b" * 64


def _binary_run(
    folder,
    tss,
    threshold="M1.0",
    test_hash=HASH_A,
    seed=0,
    leakage=False,
    quiet="no flare in the window",
):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    metrics = {
        "task_kind": "binary",
        "settings": {
            "experiment": "xray_flux_forecast/starting_point",
            "dataset": "synthetic_sun/x",
            "dataset_version": "1.0.0",
            "task": "binary",
            "threshold": threshold,
            "horizon_hours": 24.0,
            "window_rule": "peak in (t, t + 24 h]",
            "unit": "active-region patch",
            "flux_scale": "true",
            "split": {"method": "chronological", "gap_days": 27.0},
            "gap_days": 27.0,
            "allow_leakage": leakage,
            "aggregation": f"single run, seed {seed}",
            "label_definition": f">= {threshold} in (t, t + 24 h]; quiet = {quiet}",
        },
        "test_set": {"hash": test_hash, "n_samples": 100, "n_regions": 20},
        "base_rates": {"test": 0.05, "train": 0.04},
        "headline": {
            "tss": tss,
            "hss2": 0.3,
            "false_alarm_ratio": 0.6,
            "precision": 0.4,
            "bss": 0.1,
            "roc_auc": 0.8,
            "decision_threshold": 0.2,
            "threshold_source": "validation_optimal",
        },
        "forecasters": {
            "model": {
                "intervals": {
                    "at_validation_optimal": {"tss": [tss - 0.1, tss + 0.1]},
                    "bss": [0.0, 0.2],
                }
            }
        },
    }
    (folder / "metrics.json").write_text(json.dumps(metrics))
    return folder


def test_runs_are_ranked_only_within_their_setting(tmp_path):
    runs = tmp_path / "runs"
    _binary_run(runs / "r1", 0.50, seed=0)
    _binary_run(runs / "r2", 0.70, seed=1)  # seeds differ: still comparable
    _binary_run(runs / "r3", 0.60, seed=2)
    _binary_run(runs / "c1", 0.90, threshold="C1.0")
    _binary_run(runs / "other_test", 0.95, test_hash=HASH_B)
    _binary_run(runs / "leaky", 0.99, leakage=True)
    _binary_run(runs / "quiet_below", 0.97, quiet="below the threshold")
    (runs / "unfinished").mkdir()
    (runs / "unfinished" / "config.json").write_text("{}")
    board = leaderboard([runs])
    frame = board.frame.set_index("run_id")
    assert list(frame.loc[["r2", "r3", "r1"], "rank"]) == [1, 2, 3]
    assert set(frame.loc[["r1", "r2", "r3"], "group"]) == {"G1"}
    # The best TSS overall is never ranked above G1's runs: it is elsewhere.
    assert frame.loc["leaky", "group"] != "G1" and frame.loc["leaky", "rank"] == 1
    assert "event threshold: C1.0 here, M1.0 there" in frame.loc["c1", "why_separate"]
    assert "test-set hash" in frame.loc["other_test", "why_separate"]
    assert "allow_leakage: True here, False there" in frame.loc["leaky", "why_separate"]
    assert "label definition" in frame.loc["quiet_below", "why_separate"]
    assert frame.loc["r2", "why_separate"] == ""
    assert board.skipped == [
        (str(runs / "unfinished"), "no metrics.json (unfinished run)")
    ]
    markdown = board.markdown
    assert "5 comparability group(s)" in markdown
    assert "Not ranked against G1 because event threshold: C1.0 here" in markdown
    assert "0.700 [0.600, 0.800]" in markdown  # scores with their intervals
    assert "unfinished run" in markdown and "random split, scores inflated" in markdown
    markdown_path, csv_path = write_leaderboard(board, tmp_path / "out")
    assert markdown_path.read_text().startswith("# Leaderboard")
    assert len(pd.read_csv(csv_path)) == 7


def test_regression_ranks_lower_errors_first_and_nothing_is_an_error(tmp_path):
    for name, score in (("worse", 0.9), ("better", 0.4)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "metrics.json").write_text(
            json.dumps(
                {
                    "task_kind": "regression",
                    "settings": {"dataset": "d"},
                    "test_set": {"hash": HASH_A},
                    "headline": {
                        "sdo_benchmark_score": score,
                        "mae": score,
                        "rmse": score,
                    },
                }
            )
        )
    frame = leaderboard([tmp_path]).frame.set_index("run_id")
    assert frame.loc["better", "rank"] == 1 and frame.loc["worse", "rank"] == 2
    with pytest.raises(ValueError, match="No finished run"):
        leaderboard([tmp_path / "missing"])
