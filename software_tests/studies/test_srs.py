"""The SRS study (flarekit.studies.srs): McIntosh rates and history features by
hand, a leakage test, thresholds, a synthetic end-to-end run, and the real table."""

import importlib.util
import io
import math

import numpy as np
import pandas as pd
import pytest

from flarekit.data.real_files import REPOSITORY_ROOT
from flarekit.data.srs_table import read_srs_table
from flarekit.studies import srs

HEADER = (
    "AR issue_date,noaa_ar,Carrington_long,AREA,McIntosh,Longitude_extent,Latitude,"
    "Longitude,No_sunspots,MAGTYPE,LOCATION,C,M,X,C+,M+,X+"
)
# Three regions over five days of March 2011: (day, region, area, McIntosh,
# sunspots, Mount Wilson, C+, M+, X+). Region 200 has no row on day 3;
# region 300 appears on day 3.
HAND_ROWS = [
    (1, 100, 100, "CAO", 5, "BETA", 1, 0, 0),
    (2, 100, 200, "DAI", 10, "BETA-GAMMA", 2, 1, 0),
    (3, 100, 150, "DAI", 8, "BETA-GAMMA", 0, 0, 0),
    (4, 100, 400, "EKC", 20, "BETA-GAMMA-DELTA", 3, 2, 1),
    (5, 100, 300, "EKC", 18, "BETA-GAMMA-DELTA", 1, 0, 0),
    (1, 200, 50, "BXO", 3, "BETA", 0, 0, 0),
    (2, 200, 60, "BXO", 4, "BETA", 1, 0, 0),
    (4, 200, 90, "CRO", 6, "BETA", 0, 0, 0),
    (5, 200, 90, "CRO", 6, "BETA", 0, 0, 0),
    (3, 300, 10, "AXX", 1, "ALPHA", 0, 0, 0),
    (4, 300, 20, "HSX", 1, "ALPHA", 1, 0, 0),
    (5, 300, 30, "HSX", 1, "ALPHA", 1, 1, 0),
]


def _csv(rows):
    lines = [HEADER]
    for index, (day, region, area, mcintosh, spots, magtype, c, m, x) in enumerate(
        rows
    ):
        lines.append(
            f"{index},2011-03-{day:02d} 00:30,{region},100,{area},{mcintosh},5,-10,"
            f"0,{spots},{magtype},S10E00,{c - m},{m - x},{x},{c},{m},{x}"
        )
    return io.StringIO("\n".join(lines) + "\n")


def _hand_frame():
    return read_srs_table(_csv(HAND_ROWS)).frame


def _row(frame, region, day):
    match = (frame["region"] == str(region)) & (frame["day"].dt.day == day)
    (index,) = np.flatnonzero(match.to_numpy())
    return index


def test_mcintosh_poisson_by_hand():
    train = pd.DataFrame(
        {
            "McIntosh": ["DAI", "DAI", "DAI", "DAI", "HSX", "HSX"],
            "M+": [0, 2, 0, 0, 0, 0],
        }
    )
    model = srs.McIntoshPoisson().fit(train, "M+")
    # DAI: 2 flares in 4 region-days, lambda = 0.5; P = 1 - exp(-0.5) = 0.3935.
    test = pd.DataFrame({"McIntosh": ["DAI", "HSX", "DSO", "FKC"]})
    probability = model.predict(test)
    assert probability[0] == pytest.approx(1 - math.exp(-0.5))
    assert probability[1] == 0.0
    # DSO unseen: the Zurich class D's rate (0.5); FKC: the overall rate (1/3).
    assert probability[2] == pytest.approx(1 - math.exp(-0.5))
    assert probability[3] == pytest.approx(1 - math.exp(-1 / 3))
    assert model.fallbacks == {"zurich": 1, "overall": 1}
    assert model.table()["mcintosh"].tolist() == ["DAI", "HSX"]


def test_descriptor_features_are_finite():
    features, names = srs.region_features(_hand_frame())
    assert features.shape == (12, len(names)) and np.isfinite(features).all()
    assert features[0, names.index("mcintosh_0_C")] == 1.0
    assert features[0, names.index("previous_M1.0")] == 0.0


def test_history_features_by_hand():
    frame = _hand_frame()
    features, names = srs.region_history_features(frame)
    assert features.shape == (12, len(srs.HISTORY_FEATURE_NAMES))

    def value(region, day, name):
        return features[_row(frame, region, day), names.index(name)]

    log1p = math.log1p
    # Region 100, day 5: history is days 1-4; the window is days 2-4.
    assert value(100, 5, "days_since_first_seen") == 4
    assert value(100, 5, "has_previous_day") == 1
    assert value(100, 5, "previous_day_log_count_M+") == pytest.approx(log1p(2))
    assert value(100, 5, "previous_day_log_count_X+") == pytest.approx(log1p(1))
    assert value(100, 5, "window_log_count_C+") == pytest.approx(log1p(2 + 0 + 3))
    assert value(100, 5, "total_log_count_C+") == pytest.approx(log1p(1 + 2 + 0 + 3))
    assert value(100, 5, "total_log_count_M+") == pytest.approx(log1p(3))
    assert value(100, 5, "days_since_M+") == 1
    assert value(100, 5, "max_previous_log_flux") == pytest.approx(-4.0)  # X on day 4
    assert value(100, 5, "change_log_area") == pytest.approx(
        math.log10(301) - math.log10(401)
    )
    assert value(100, 5, "mcintosh_changed") == 0
    # Region 100, day 4: DAI -> EKC, BETA-GAMMA -> BETA-GAMMA-DELTA.
    assert value(100, 4, "change_zurich") == 1  # D -> E
    assert value(100, 4, "change_penumbra") == 2  # A -> K
    assert value(100, 4, "change_compactness") == 1  # I -> C
    assert value(100, 4, "mcintosh_changed") == 1
    assert value(100, 4, "change_mount_wilson") == 2
    assert value(100, 4, "gained_delta") == 1
    assert value(100, 4, "days_since_M+") == 2
    assert value(100, 4, "max_previous_log_flux") == pytest.approx(-5.0)  # M on day 2
    # Region 100, day 1: no past at all.
    assert value(100, 1, "total_log_count_C+") == 0
    assert value(100, 1, "days_since_C+") == srs.DAYS_SINCE_CAP
    assert value(100, 1, "max_previous_log_flux") == pytest.approx(-9.0)
    # Region 200, day 4: no row on day 3, so no previous day; the window and
    # the changes still see day 2.
    assert value(200, 4, "has_previous_day") == 0
    assert value(200, 4, "previous_day_log_count_C+") == 0
    assert value(200, 4, "window_log_count_C+") == pytest.approx(log1p(1))
    assert value(200, 4, "days_since_C+") == 2
    assert value(200, 4, "change_log_area") == pytest.approx(
        math.log10(91) - math.log10(61)
    )
    assert value(200, 4, "change_zurich") == 1  # B -> C
    # Region 300, day 5 had an M flare; its own day never counts.
    assert value(300, 3, "days_since_first_seen") == 0
    assert value(300, 5, "days_since_first_seen") == 2
    assert value(300, 5, "total_log_count_M+") == 0
    assert value(300, 5, "days_since_M+") == srs.DAYS_SINCE_CAP
    assert value(300, 5, "days_since_C+") == 1


def test_history_features_use_no_row_of_the_forecast_day_or_later():
    """Each row's features, recomputed from a table holding only earlier days
    and the row itself with its flare counts replaced, must not change."""
    frame = _hand_frame()
    full, names = srs.region_history_features(frame)
    for index in range(len(frame)):
        day = frame["day"].iloc[index]
        past = frame[frame["day"] < day]
        own = frame.iloc[[index]].copy()
        own[["C", "M", "X", "C+", "M+", "X+"]] = [7, 5, 3, 15, 8, 3]
        truncated = pd.concat([past, own], ignore_index=True)
        features, _ = srs.region_history_features(truncated)
        np.testing.assert_allclose(
            features[-1],
            full[index],
            err_msg=(
                f"row {index} (region {frame['region'].iloc[index]}, {day:%Y-%m-%d})"
            ),
        )
    # The check can fail: a change to an earlier day does reach a later row.
    earlier = frame.copy()
    earlier.loc[_row(frame, 100, 2), "M+"] = 0
    changed, _ = srs.region_history_features(earlier)
    assert (
        changed[_row(frame, 100, 5), names.index("total_log_count_M+")]
        != full[_row(frame, 100, 5), names.index("total_log_count_M+")]
    )


def test_history_features_refuse_two_rows_on_one_day():
    frame = _hand_frame()
    doubled = pd.concat([frame, frame.iloc[[0]]], ignore_index=True)
    with pytest.raises(ValueError, match="region 100 has two rows on one day"):
        srs.region_history_features(doubled)


def test_thresholds_maximise_tss_and_hss2_on_a_worked_case():
    # Two events in ten. Saying yes to the top 5 catches both (TSS 1 - 3/8 =
    # 0.625, HSS2 0.4); saying yes to the top 1 catches one with no false
    # alarm (TSS 0.5, HSS2 = 2 * 8 / (2 * 9 + 1 * 8) = 0.615).
    y = [1, 0, 0, 0, 1, 0, 0, 0, 0, 0]
    p = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05]
    thresholds = srs.validation_thresholds(y, p)
    assert thresholds["tss"] == pytest.approx(0.45)
    assert thresholds["hss2"] == pytest.approx(0.85)
    scores = srs.score_on_test(y, p, thresholds, 0.2)
    assert scores["at_tss_threshold"]["tss"] == pytest.approx(0.625)
    assert scores["at_hss2_threshold"]["hss2"] == pytest.approx(16 / 26)


def test_region_bootstrap_pairs_forecasters():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    regions = np.repeat(np.arange(40), 5)
    good = np.clip(y * 0.6 + rng.uniform(0, 0.4, 200), 0, 1)
    noise = rng.uniform(0, 1, 200)
    thresholds = {
        "good": {"tss": 0.5, "hss2": 0.5},
        "noise": {"tss": 0.5, "hss2": 0.5},
        "copy": {"tss": 0.5, "hss2": 0.5},
    }
    result = srs.region_bootstrap(
        y,
        {"good": good, "noise": noise, "copy": noise},
        thresholds,
        regions,
        0.5,
        [("good", "noise", "roc_auc"), ("copy", "noise", "tss_threshold.tss")],
        n_boot=50,
        progress=False,
    )
    assert result["intervals"]["good"]["roc_auc"][0] > 0.9
    better, same = result["differences"]
    assert better["fraction_better"] == 1.0 and better["interval"][0] > 0.3
    assert same["interval"] == [0.0, 0.0] and same["fraction_better"] == 0.0


def _synthetic_table(path, n_regions=400, seed=0):
    """An SRS-like table 1996-2014 whose M-flare rate grows with area."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("1996-08-01", "2014-12-31", freq="D")
    rows = []
    for region in range(n_regions):
        start = rng.integers(0, len(days) - 15)
        area = rng.lognormal(4.5, 1.0)
        for offset in range(int(rng.integers(3, 12))):
            area *= rng.lognormal(0.0, 0.2)
            big = area > 300
            mcintosh, magtype = ("EKC", "BETA-GAMMA-DELTA") if big else ("CSO", "BETA")
            m = rng.poisson(min(area / 800.0, 2.0))
            c = m + rng.poisson(0.3)
            rows.append(
                (
                    days[start + offset],
                    10000 + region,
                    round(area),
                    mcintosh,
                    magtype,
                    c,
                    m,
                )
            )
    lines = [HEADER]
    for index, (day, region, area, mcintosh, magtype, c, m) in enumerate(rows):
        lines.append(
            f"{index},{day:%Y-%m-%d} 00:30,{region},100,{area},{mcintosh},5,-10,"
            f"0,{max(1, area // 20)},{magtype},S10E00,{c - m},{m},0,{c},{m},0"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def test_study_end_to_end_on_a_synthetic_table(tmp_path):
    table = _synthetic_table(tmp_path / "srs.csv")
    out = tmp_path / "study"
    summary = srs.run_srs_baseline(
        table,
        out,
        n_boot=10,
        seeds=(0, 1),
        forecasters=("logistic_history", "gradient_boosting_history"),
        progress=False,
    )
    assert set(summary["forecasters"]) == {
        "climatology",
        "persistence",
        "mcintosh_poisson",
        "logistic_history",
        "gradient_boosting_history",
    }
    boosted = summary["forecasters"]["gradient_boosting_history"]
    assert (
        boosted["seeds"] == [0, 1] and len(boosted["scores"]["roc_auc"]["values"]) == 2
    )
    # Area drives the flare rate, so the learned forecaster has skill.
    assert boosted["scores"]["roc_auc"]["mean"] > 0.7
    assert set(summary["goal"]["gradient_boosting_history"]) == {
        "tss_threshold.tss",
        "bss",
        "roc_auc",
        "hss2_threshold.hss2",
        "met",
        "met_with_intervals",
    }
    assert summary["costs"]["gradient_boosting_history"][0]["trees"] >= 1
    markdown = (out / "srs_baseline.md").read_text()
    assert "| gradient boosting (+ region history) | HSS2 |" in markdown
    assert "CPU cost" in markdown and "mean ± sd over seeds [0, 1]" in markdown
    for name in ("mcintosh_poisson", "logistic_history", "gradient_boosting_history"):
        assert (out / name / "report.md").is_file()
        assert (out / "figures" / f"reliability_{name}.png").stat().st_size > 1000


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="threshold must be one of"):
        srs.run_srs_baseline("unused.csv", tmp_path, threshold="M5.0")
    with pytest.raises(ValueError, match=r"forecasters \['random_forest'\] unknown"):
        srs.run_srs_baseline("unused.csv", tmp_path, forecasters=("random_forest",))
    with pytest.raises(ValueError, match="feature_set must be"):
        srs.feature_matrix(_hand_frame(), "images")


def _tool():
    spec = importlib.util.spec_from_file_location(
        "srs_baseline", REPOSITORY_ROOT / "tools" / "srs_baseline.py"
    )
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


@pytest.mark.shared_data
def test_real_table_baselines_and_report(tmp_path, shared_data):
    path = shared_data / "tables" / "AR_flare_ml_23_24.csv"
    summary = _tool().main(
        [
            "--table",
            str(path),
            "--out",
            str(tmp_path),
            "--bootstrap",
            "20",
            "--seeds",
            "0",
            "--forecasters",
            "logistic_regression,logistic_history",
        ]
    )
    assert summary["rows_dropped_reading"] == {
        "bad_mcintosh": 0,
        "bad_mount_wilson": 0,
        "missing_numbers": 0,
        "duplicate_region_day": 0,
    }
    assert 0.03 < summary["base_rates"]["test"] < 0.04  # M+ base rate ~3.5 %
    tss = {
        name: entry["scores"]["tss_threshold.tss"]["mean"]
        for name, entry in summary["forecasters"].items()
    }
    # Bloomfield et al. (2012): TSS 0.54 for the McIntosh Poisson forecast.
    assert 0.45 < tss["mcintosh_poisson"] < 0.62
    assert tss["logistic_regression"] > tss["persistence"] > tss["climatology"]
    hss2 = {
        name: entry["scores"]["hss2_threshold.hss2"]["mean"]
        for name, entry in summary["forecasters"].items()
    }
    # The region's history lifts HSS2 above persistence's (0.355).
    assert hss2["logistic_history"] > hss2["persistence"] > 0.3
    for name in ("mcintosh_poisson", "logistic_regression", "logistic_history"):
        assert (tmp_path / name / "report.md").is_file()
    assert "McIntosh Poisson" in (tmp_path / "srs_baseline.md").read_text()


@pytest.mark.slow
@pytest.mark.shared_data
def test_real_table_gradient_boosting_meets_the_goal(tmp_path, shared_data):
    path = shared_data / "tables" / "AR_flare_ml_23_24.csv"
    summary = srs.run_srs_baseline(
        path,
        tmp_path,
        n_boot=100,
        forecasters=("gradient_boosting_history",),
        write_reports=False,
        progress=False,
    )
    goal = summary["goal"]["gradient_boosting_history"]
    assert goal["met"] and goal["met_with_intervals"], goal
