"""Reading and splitting the NOAA Solar Region Summary active-region-day table.

The table (../shared/data/tables/AR_flare_ml_23_24.csv) has one row per
active region per day, as issued at 00:30 UT: McIntosh class, Mount Wilson
class (MAGTYPE), area, sunspot count, position, and the number of C, M and X
flares the region produced in the next 24 h (`C+`, `M+`, `X+` count flares
at or above each class, on the SWPC flux scale of the lists of the time).

Only parsing and the split live here, so that `flarekit.data` imports
nothing above itself; the forecasters and the study that scores them are
`flarekit.studies.srs`.

Example:
    >>> table = read_srs_table("AR_flare_ml_23_24.csv")
    >>> split = split_srs(table.frame)
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from flarekit.data import goes, splits

# Column of flare counts at or above each supported threshold.
COUNT_COLUMNS = {"C1.0": "C+", "M1.0": "M+", "X1.0": "X+"}
REQUIRED_COLUMNS = (
    "AR issue_date",
    "noaa_ar",
    "AREA",
    "McIntosh",
    "Longitude_extent",
    "Latitude",
    "Longitude",
    "No_sunspots",
    "MAGTYPE",
    "C+",
    "M+",
    "X+",
)
MOUNT_WILSON = (
    "ALPHA",
    "BETA",
    "BETA-GAMMA",
    "BETA-GAMMA-DELTA",
    "BETA-DELTA",
    "GAMMA",
    "GAMMA-DELTA",
)
_MCINTOSH = re.compile(r"^[ABCDEFH][XRSAHK][XOIC]$")


@dataclasses.dataclass
class SRSTable:
    """The parsed table with the columns flarekit's scoring needs.

    Attributes:
        frame: one row per region-day: the source columns plus timestamp
            (Unix s of issue), region (NOAA number as text), day,
            peak_flux (lower bound of the largest class in the next 24 h
            from the counts, 1e-9 if none), previous_peak_flux (the same for
            the previous day's row of the region, NaN when it has none).
        dropped: reason -> rows left out.
        source: the file read.
    """

    frame: object
    dropped: dict
    source: str


def read_srs_table(path) -> SRSTable:
    """Read and check the Solar Region Summary table.

    Rows with a McIntosh class that is not three valid letters, a Mount
    Wilson class outside `MOUNT_WILSON`, or missing numbers are dropped and
    counted; a duplicated (region, day) keeps its first row.

    Args:
        path: the CSV (first column a pandas index), or an open text stream.

    Returns:
        `SRSTable`, rows sorted by issue time then region.

    Raises:
        ValueError: missing columns, naming them and the file.

    Example:
        >>> table = read_srs_table("AR_flare_ml_23_24.csv")
        >>> table.dropped["bad_mcintosh"], table.dropped["duplicate_region_day"]
        (0, 0)
    """
    import pandas as pd

    frame = pd.read_csv(path, index_col=0)
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        raise ValueError(
            f"{path}: missing column(s) {missing}; found {list(frame.columns)}."
        )
    dropped = {}
    good = frame["McIntosh"].astype(str).str.match(_MCINTOSH)
    dropped["bad_mcintosh"] = int((~good).sum())
    frame = frame[good]
    good = frame["MAGTYPE"].isin(MOUNT_WILSON)
    dropped["bad_mount_wilson"] = int((~good).sum())
    frame = frame[good]
    numbers = [
        "AREA",
        "Longitude_extent",
        "Latitude",
        "Longitude",
        "No_sunspots",
        "C+",
        "M+",
        "X+",
    ]
    good = frame[numbers].notna().all(axis=1)
    dropped["missing_numbers"] = int((~good).sum())
    frame = frame[good].copy()
    issued = pd.to_datetime(frame["AR issue_date"])
    frame["day"] = issued.dt.floor("D")
    frame["timestamp"] = issued.astype("int64") // 10**9
    frame["region"] = frame["noaa_ar"].astype(int).astype(str)
    duplicated = frame.duplicated(["region", "day"])
    dropped["duplicate_region_day"] = int(duplicated.sum())
    frame = (
        frame[~duplicated].sort_values(["timestamp", "region"]).reset_index(drop=True)
    )
    frame["peak_flux"] = class_floor(frame)
    previous = frame[["region", "day", "peak_flux"]].copy()
    previous["day"] = previous["day"] + pd.Timedelta(days=1)
    frame = frame.merge(
        previous.rename(columns={"peak_flux": "previous_peak_flux"}),
        on=["region", "day"],
        how="left",
    )
    return SRSTable(frame=frame, dropped=dropped, source=str(path))


def class_floor(frame) -> np.ndarray:
    """Lower bound of the largest flare class from the C+/M+/X+ counts.

    Args:
        frame: rows with the columns `C+`, `M+`, `X+`.

    Returns:
        W/m^2 per row: 1e-4 when X+ > 0, else 1e-5 when M+ > 0, else 1e-6
        when C+ > 0, else `goes.QUIET_FLUX`.
    """
    flux = np.full(len(frame), goes.QUIET_FLUX)
    for threshold, column in COUNT_COLUMNS.items():
        flux = np.where(
            frame[column].to_numpy() > 0, goes.class_to_flux(threshold), flux
        )
    return flux


def split_srs(
    frame,
    test_start="2012-01-01",
    validation_start="2010-01-01",
    gap_days: float = splits.DEFAULT_GAP_DAYS,
):
    """Train before `validation_start`, validation up to `test_start`, test after.

    Each part after the first starts `gap_days` after the previous one ends
    (rows in the gaps are dropped); a region is kept only in the part where
    it is first seen, so no region is in two parts. `check_leakage` passes.

    Args:
        frame: rows with `day`, `timestamp` and `region` (`read_srs_table`).
        test_start, validation_start: first days of the test and validation
            periods (before the gap).
        gap_days: days dropped at the start of validation and test.

    Returns:
        `flarekit.data.splits.SplitResult` with parts train, validation, test.
    """
    import pandas as pd

    day = pd.to_datetime(frame["day"])
    gap = pd.Timedelta(days=gap_days)
    edges = [pd.Timestamp(validation_start), pd.Timestamp(test_start)]
    assignment = np.full(len(frame), "", dtype=object)
    assignment[day < edges[0]] = "train"
    assignment[(day >= edges[0] + gap) & (day < edges[1])] = "validation"
    assignment[day >= edges[1] + gap] = "test"
    dropped = {"gap": int(np.sum(assignment == ""))}
    timestamps = frame["timestamp"].to_numpy(dtype=np.float64)
    regions = frame["region"].to_numpy().astype(str)
    names = ("train", "validation", "test")
    dropped["region_crosses_parts"] = splits._drop_regions_crossing_parts(
        timestamps, regions, assignment, names
    )
    boundaries = {}
    for name in names:
        times = timestamps[assignment == name]
        boundaries[name] = (float(times.min()), float(times.max()))
    result = splits.SplitResult(
        assignment=assignment.astype(str),
        names=names,
        boundaries=boundaries,
        dropped=dropped,
        method="fixed_dates",
        gap_days=float(gap_days),
    )
    splits.check_leakage(timestamps, regions, result.assignment, gap_days, names)
    return result
