"""Reading and splitting the SRS table (flarekit.data.srs_table), by hand."""

import io
import math

import pandas as pd
import pytest

from flarekit.data import srs_table
from flarekit.data.splits import DAY

HEADER = (
    "AR issue_date,noaa_ar,Carrington_long,AREA,McIntosh,Longitude_extent,Latitude,"
    "Longitude,No_sunspots,MAGTYPE,LOCATION,C,M,X,C+,M+,X+"
)


def _table(rows):
    text = HEADER + "\n" + "\n".join(f"{i},{row}" for i, row in enumerate(rows)) + "\n"
    return io.StringIO(text)


def test_reading_drops_are_counted_and_previous_day_joined():
    table = srs_table.read_srs_table(
        _table(
            [
                "2011-02-14 00:30,11158,30,300,DAI,10,-20,-10,20,BETA-GAMMA,S20E10,1,1,0,2,1,0",
                "2011-02-15 00:30,11158,30,500,EKC,12,-20,3,30,BETA-GAMMA-DELTA,S20W03,0,0,1,1,1,1",
                "2011-02-15 00:30,11158,30,500,EKC,12,-20,3,30,BETA-GAMMA-DELTA,S20W03,0,0,1,1,1,1",
                "2011-02-15 00:30,11159,40,10,ZZZ,1,10,3,1,ALPHA,N10W03,0,0,0,0,0,0",
                "2011-02-15 00:30,11160,40,10,AXX,1,10,3,1,OMEGA,N10W03,0,0,0,0,0,0",
            ]
        )
    )
    assert table.dropped == {
        "bad_mcintosh": 1,
        "bad_mount_wilson": 1,
        "missing_numbers": 0,
        "duplicate_region_day": 1,
    }
    frame = table.frame
    assert frame["region"].tolist() == ["11158", "11158"]
    # Day one had an M flare (M+ = 1): its lower bound is M1.0; day two an X.
    assert frame["peak_flux"].tolist() == [1e-5, 1e-4]
    assert (
        math.isnan(frame["previous_peak_flux"][0])
        and frame["previous_peak_flux"][1] == 1e-5
    )


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match=r"missing column\(s\) \['MAGTYPE'\]"):
        srs_table.read_srs_table(
            io.StringIO(
                HEADER.replace("MAGTYPE,", "") + "\n"
                "0,2011-02-14 00:30,11158,30,300,DAI,10,-20,-10,20,S20E10,1,1,0,2,1,0\n"
            )
        )


def test_split_has_gaps_and_no_shared_region():
    days = pd.date_range("2009-10-01", "2012-03-31", freq="5D")
    frame = pd.DataFrame(
        {
            "day": days,
            "timestamp": days.astype("int64") // 10**9,
            "region": [str(10000 + i // 4) for i in range(len(days))],
        }
    )
    split = srs_table.split_srs(frame, gap_days=27)
    times = {name: frame["timestamp"][split.mask(name)] for name in split.names}
    assert times["train"].max() < pd.Timestamp("2010-01-01").timestamp()
    assert times["validation"].min() >= times["train"].max() + 27 * DAY
    assert times["test"].min() >= pd.Timestamp("2012-01-28").timestamp()
    assert split.dropped["gap"] > 0
