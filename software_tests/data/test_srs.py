"""SRS baselines (flarekit.data.srs): hand-worked McIntosh rates, split, and the real table."""

import importlib.util
import io
import math

import numpy as np
import pandas as pd
import pytest

from flarekit.data import srs
from flarekit.data.real_files import REPOSITORY_ROOT, shared_data_file
from flarekit.data.splits import DAY

HEADER = ("AR issue_date,noaa_ar,Carrington_long,AREA,McIntosh,Longitude_extent,Latitude,"
          "Longitude,No_sunspots,MAGTYPE,LOCATION,C,M,X,C+,M+,X+")


def _table(rows):
    text = HEADER + "\n" + "\n".join(f"{i},{row}" for i, row in enumerate(rows)) + "\n"
    return io.StringIO(text)


def test_reading_drops_are_counted_and_previous_day_joined():
    table = srs.read_srs_table(_table([
        "2011-02-14 00:30,11158,30,300,DAI,10,-20,-10,20,BETA-GAMMA,S20E10,1,1,0,2,1,0",
        "2011-02-15 00:30,11158,30,500,EKC,12,-20,3,30,BETA-GAMMA-DELTA,S20W03,0,0,1,1,1,1",
        "2011-02-15 00:30,11158,30,500,EKC,12,-20,3,30,BETA-GAMMA-DELTA,S20W03,0,0,1,1,1,1",
        "2011-02-15 00:30,11159,40,10,ZZZ,1,10,3,1,ALPHA,N10W03,0,0,0,0,0,0",
        "2011-02-15 00:30,11160,40,10,AXX,1,10,3,1,OMEGA,N10W03,0,0,0,0,0,0",
    ]))
    assert table.dropped == {"bad_mcintosh": 1, "bad_mount_wilson": 1, "missing_numbers": 0,
                             "duplicate_region_day": 1}
    frame = table.frame
    assert frame["region"].tolist() == ["11158", "11158"]
    # Day one had an M flare (M+ = 1): its lower bound is M1.0; day two an X.
    assert frame["peak_flux"].tolist() == [1e-5, 1e-4]
    assert math.isnan(frame["previous_peak_flux"][0]) and frame["previous_peak_flux"][1] == 1e-5


def test_mcintosh_poisson_by_hand():
    train = pd.DataFrame({"McIntosh": ["DAI", "DAI", "DAI", "DAI", "HSX", "HSX"],
                          "M+": [0, 2, 0, 0, 0, 0]})
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


def test_split_has_gaps_and_no_shared_region():
    days = pd.date_range("2009-10-01", "2012-03-31", freq="5D")
    frame = pd.DataFrame({"day": days, "timestamp": days.astype("int64") // 10**9,
                          "region": [str(10000 + i // 4) for i in range(len(days))]})
    split = srs.split_srs(frame, gap_days=27)
    times = {name: frame["timestamp"][split.mask(name)] for name in split.names}
    assert times["train"].max() < pd.Timestamp("2010-01-01").timestamp()
    assert times["validation"].min() >= times["train"].max() + 27 * DAY
    assert times["test"].min() >= pd.Timestamp("2012-01-28").timestamp()
    assert split.dropped["gap"] > 0


def test_features_are_finite():
    table = srs.read_srs_table(_table([
        "2011-02-14 00:30,11158,30,300,DAI,10,-20,-10,20,BETA-GAMMA,S20E10,1,1,0,2,1,0",
    ]))
    features, names = srs.region_features(table.frame)
    assert features.shape == (1, len(names)) and np.isfinite(features).all()
    assert features[0, names.index("mcintosh_0_D")] == 1.0
    assert features[0, names.index("previous_M1.0")] == 0.0


def test_unsupported_threshold(tmp_path):
    with pytest.raises(ValueError, match="threshold must be one of"):
        srs.run_srs_baseline("unused.csv", tmp_path, threshold="M5.0")


@pytest.mark.shared_data
def test_real_table_baselines_and_report(tmp_path):
    path = shared_data_file("tables/AR_flare_ml_23_24.csv")
    if path is None:
        pytest.skip("../shared/data/tables/AR_flare_ml_23_24.csv is absent.")
    spec = importlib.util.spec_from_file_location(
        "srs_baseline", REPOSITORY_ROOT / "tools" / "srs_baseline.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    summary = tool.main(["--table", str(path), "--out", str(tmp_path), "--bootstrap", "20"])
    assert summary["rows_dropped_reading"] == {"bad_mcintosh": 0, "bad_mount_wilson": 0,
                                               "missing_numbers": 0, "duplicate_region_day": 0}
    assert 0.03 < summary["base_rates"]["test"] < 0.04  # M+ base rate ~3.5 %
    scores = {name: entry["at_validation_optimal"]["tss"]
              for name, entry in summary["forecasters"].items()}
    # Bloomfield et al. (2012): TSS 0.54 for the McIntosh Poisson forecast.
    assert 0.45 < scores["mcintosh_poisson"] < 0.62
    assert scores["logistic_regression"] > scores["persistence"] > scores["climatology"]
    for name in ("mcintosh_poisson", "logistic_regression"):
        assert (tmp_path / name / "report.md").is_file()
    assert "McIntosh Poisson" in (tmp_path / "srs_baseline.md").read_text()
