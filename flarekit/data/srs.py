"""A real forecasting check on the NOAA Solar Region Summary table.

The table (../shared/data/tables/AR_flare_ml_23_24.csv) has one row per
active region per day, as issued at 00:30 UT: McIntosh class, Mount Wilson
class (MAGTYPE), area, sunspot count, position, and the number of C, M and X
flares the region produced in the next 24 h (`C+`, `M+`, `X+` count flares
at or above each class, on the SWPC flux scale of the lists of the time).

`run_srs_baseline` develops on the years up to 2011 and tests on 2012
onwards, after a 27-day gap: the forecasters are fitted on 1996-2009, their
decision thresholds chosen on 2010-2011 (validation), and everything is
scored on the test years through `flarekit.metrics.evaluate` and
`flarekit.report.write_report`:

- climatology (the training base rate), persistence (the region flared at
  or above the threshold in the previous 24 h) and "always no", as every
  flarekit report shows;
- the McIntosh-class Poisson forecast of Bloomfield et al. (2012, ApJ 747,
  L41): each McIntosh class's mean number of flares per day in the training
  period, lambda, gives P(at least one flare in 24 h) = 1 - exp(-lambda);
- a small learned model: logistic regression on the region's descriptors.

Example:
    >>> summary = run_srs_baseline("AR_flare_ml_23_24.csv", "runs/srs_baseline")
    >>> summary["forecasters"]["mcintosh_poisson"]["at_validation_optimal"]["tss"]
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np

from flarekit.data import goes, splits

# Column of flare counts at or above each supported threshold.
COUNT_COLUMNS = {"C1.0": "C+", "M1.0": "M+", "X1.0": "X+"}
REQUIRED_COLUMNS = ("AR issue_date", "noaa_ar", "AREA", "McIntosh", "Longitude_extent",
                    "Latitude", "Longitude", "No_sunspots", "MAGTYPE", "C+", "M+", "X+")
MOUNT_WILSON = ("ALPHA", "BETA", "BETA-GAMMA", "BETA-GAMMA-DELTA", "BETA-DELTA",
                "GAMMA", "GAMMA-DELTA")
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

    Raises:
        ValueError: missing columns, naming them and the file.

    Example:
        >>> table = read_srs_table("AR_flare_ml_23_24.csv")
        >>> table.dropped
        {'bad_mcintosh': 0, 'bad_mount_wilson': 0, 'missing_numbers': 0, 'duplicate_region_day': 0}
    """
    import pandas as pd

    frame = pd.read_csv(path, index_col=0)
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; found {list(frame.columns)}.")
    dropped = {}
    good = frame["McIntosh"].astype(str).str.match(_MCINTOSH)
    dropped["bad_mcintosh"] = int((~good).sum())
    frame = frame[good]
    good = frame["MAGTYPE"].isin(MOUNT_WILSON)
    dropped["bad_mount_wilson"] = int((~good).sum())
    frame = frame[good]
    numbers = ["AREA", "Longitude_extent", "Latitude", "Longitude", "No_sunspots",
               "C+", "M+", "X+"]
    good = frame[numbers].notna().all(axis=1)
    dropped["missing_numbers"] = int((~good).sum())
    frame = frame[good].copy()
    issued = pd.to_datetime(frame["AR issue_date"])
    frame["day"] = issued.dt.floor("D")
    frame["timestamp"] = issued.astype("int64") // 10**9
    frame["region"] = frame["noaa_ar"].astype(int).astype(str)
    duplicated = frame.duplicated(["region", "day"])
    dropped["duplicate_region_day"] = int(duplicated.sum())
    frame = frame[~duplicated].sort_values(["timestamp", "region"]).reset_index(drop=True)
    frame["peak_flux"] = _class_floor(frame)
    previous = frame[["region", "day", "peak_flux"]].copy()
    previous["day"] = previous["day"] + pd.Timedelta(days=1)
    frame = frame.merge(previous.rename(columns={"peak_flux": "previous_peak_flux"}),
                        on=["region", "day"], how="left")
    return SRSTable(frame=frame, dropped=dropped, source=str(path))


def _class_floor(frame) -> np.ndarray:
    """Lower bound of the largest flare class from the C+/M+/X+ counts."""
    flux = np.full(len(frame), goes.QUIET_FLUX)
    for threshold, column in COUNT_COLUMNS.items():
        flux = np.where(frame[column].to_numpy() > 0, goes.class_to_flux(threshold), flux)
    return flux


def split_srs(frame, test_start="2012-01-01", validation_start="2010-01-01",
              gap_days: float = splits.DEFAULT_GAP_DAYS):
    """Train before `validation_start`, validation up to `test_start`, test after.

    Each part after the first starts `gap_days` after the previous one ends
    (rows in the gaps are dropped); a region is kept only in the part where
    it is first seen, so no region is in two parts. `check_leakage` passes.

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
        timestamps, regions, assignment, names)
    boundaries = {}
    for name in names:
        times = timestamps[assignment == name]
        boundaries[name] = (float(times.min()), float(times.max()))
    result = splits.SplitResult(assignment=assignment.astype(str), names=names,
                                boundaries=boundaries, dropped=dropped,
                                method="fixed_dates", gap_days=float(gap_days))
    splits.check_leakage(timestamps, regions, result.assignment, gap_days, names)
    return result


class McIntoshPoisson:
    """Flare probability from the McIntosh class's historical rate.

    Bloomfield et al. (2012), ApJ 747, L41: for each McIntosh class the mean
    number of flares per region-day at or above the threshold, lambda, in the
    training period; the probability of at least one such flare in the next
    24 h is 1 - exp(-lambda) (a Poisson process). Classes never seen in
    training fall back to the rate of their Zurich class (first letter),
    then to the overall rate; how many test rows needed each is recorded.

    Example:
        >>> model = McIntoshPoisson().fit(train, "M+")
        >>> model.predict(test)[:3]
    """

    def __init__(self):
        self.rates = {}
        self.zurich_rates = {}
        self.overall_rate = float("nan")
        self.counts = {}
        self.fallbacks = {"zurich": 0, "overall": 0}

    def fit(self, frame, count_column: str) -> McIntoshPoisson:
        grouped = frame.groupby("McIntosh")[count_column]
        self.rates = grouped.mean().to_dict()
        self.counts = grouped.size().to_dict()
        zurich = frame["McIntosh"].str[0]
        self.zurich_rates = frame.groupby(zurich)[count_column].mean().to_dict()
        self.overall_rate = float(frame[count_column].mean())
        return self

    def rate(self, mcintosh: str) -> float:
        if mcintosh in self.rates:
            return float(self.rates[mcintosh])
        if mcintosh[0] in self.zurich_rates:
            self.fallbacks["zurich"] += 1
            return float(self.zurich_rates[mcintosh[0]])
        self.fallbacks["overall"] += 1
        return self.overall_rate

    def predict(self, frame) -> np.ndarray:
        """P(at least one flare at or above the threshold in 24 h)."""
        rates = np.array([self.rate(name) for name in frame["McIntosh"]])
        return 1.0 - np.exp(-rates)

    def table(self):
        """Class, training region-days and rate, highest rate first."""
        import pandas as pd

        rows = [(name, self.counts[name], rate) for name, rate in self.rates.items()]
        frame = pd.DataFrame(rows, columns=["mcintosh", "region_days", "rate_per_day"])
        frame["probability_24h"] = 1.0 - np.exp(-frame["rate_per_day"])
        return frame.sort_values("rate_per_day", ascending=False).reset_index(drop=True)


def region_features(frame):
    """Descriptors of each region-day for the learned model, and their names.

    log area, log sunspot count, longitude extent, |latitude|, |longitude|
    (regions near the limb are measured worse), one-hot McIntosh letters and
    Mount Wilson class, and whether the region flared at or above C and M in
    the previous 24 h (0 when there is no previous day).
    """
    columns = {
        "log_area": np.log10(frame["AREA"].to_numpy(dtype=float) + 1.0),
        "log_sunspots": np.log10(frame["No_sunspots"].to_numpy(dtype=float) + 1.0),
        "longitude_extent": frame["Longitude_extent"].to_numpy(dtype=float),
        "abs_latitude": np.abs(frame["Latitude"].to_numpy(dtype=float)),
        "abs_longitude": np.abs(frame["Longitude"].to_numpy(dtype=float)),
    }
    for position, letters in enumerate(("ABCDEFH", "XRSAHK", "XOIC")):
        for letter in letters:
            key = f"mcintosh_{position}_{letter}"
            columns[key] = (frame["McIntosh"].str[position] == letter).to_numpy(dtype=float)
    for name in MOUNT_WILSON:
        columns[f"mount_wilson_{name}"] = (frame["MAGTYPE"] == name).to_numpy(dtype=float)
    previous = np.nan_to_num(frame["previous_peak_flux"].to_numpy(dtype=float), nan=0.0)
    for threshold in ("C1.0", "M1.0"):
        columns[f"previous_{threshold}"] = (
            previous >= goes.class_to_flux(threshold) * (1 - 1e-9)).astype(float)
    names = list(columns)
    return np.column_stack([columns[name] for name in names]), names


def fit_logistic(frame, labels, seed: int = 0):
    """Standardised logistic regression (sklearn), unweighted so that its
    probabilities stay calibrated to the training base rate."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features, _ = region_features(frame)
    model = make_pipeline(StandardScaler(),
                          LogisticRegression(C=1.0, max_iter=2000, random_state=seed))
    return model.fit(features, labels)


def predictions_frame(frame, probability, labels, split: str):
    """The rows of predictions.csv (INTERFACES) for one part."""
    import pandas as pd

    return pd.DataFrame({
        "split": split,
        "timestamp": frame["timestamp"].to_numpy(),
        "region": frame["region"].to_numpy(),
        "peak_flux": frame["peak_flux"].to_numpy(),
        "previous_peak_flux": frame["previous_peak_flux"].to_numpy(),
        "goes_class": goes.flux_to_class_index(frame["peak_flux"].to_numpy()),
        "true_probability": np.nan,
        "label": np.asarray(labels, dtype=np.int64),
        "probability": np.asarray(probability, dtype=np.float64),
    })


def run_srs_baseline(path, out_dir, threshold: str = "M1.0", n_boot: int = 1000,
                     seed: int = 0, test_start="2012-01-01",
                     validation_start="2010-01-01", gap_days: float = 27.0) -> dict:
    """Train, forecast, score and report the SRS baselines.

    Args:
        path: the SRS table CSV.
        out_dir: folder for `mcintosh_poisson/` and `logistic_regression/`
            run folders (report.md, metrics.json, predictions.csv, figures)
            and the combined `srs_baseline.md` / `summary.json`.
        threshold: "C1.0", "M1.0" or "X1.0" (the table counts these).
        n_boot: region-bootstrap resamples for the intervals.
        seed: seed of the learned model and the bootstrap.
        test_start, validation_start, gap_days: the split (`split_srs`).

    Returns:
        JSON-able summary: settings, split, drops, per-forecaster scores.

    Raises:
        ValueError: an unsupported threshold.
    """
    if threshold not in COUNT_COLUMNS:
        raise ValueError(f"threshold must be one of {sorted(COUNT_COLUMNS)}, got {threshold!r}.")
    import pandas as pd

    from flarekit.metrics import evaluate
    from flarekit.report import write_json_atomic, write_report

    table = read_srs_table(path)
    frame = table.frame
    split = split_srs(frame, test_start, validation_start, gap_days)
    column = COUNT_COLUMNS[threshold]
    labels = (frame[column].to_numpy() > 0).astype(np.int64)
    parts = {name: split.mask(name) for name in split.names}
    train = frame[parts["train"]]
    train_rate = float(labels[parts["train"]].mean())
    poisson = McIntoshPoisson().fit(train, column)
    logistic = fit_logistic(train, labels[parts["train"]], seed)
    settings = {
        "task": "binary", "threshold": threshold, "horizon_hours": 24.0,
        "window_rule": "flares in the 24 h after the SRS issue time (00:30 UT), "
        "counted per region in the source table",
        "unit": "active region per day (NOAA SRS)",
        "dataset": Path(str(path)).name,
        "split": f"train < {validation_start}, validation to {test_start}, test after; "
        "regions kept where first seen",
        "gap_days": gap_days, "flux_scale": "swpc (NOAA event lists before 2020)",
        "label_definition": f"{column} > 0", "aggregation": "single run, test set",
        "n_boot": n_boot, "bootstrap_seed": seed,
    }
    out_dir = Path(out_dir)
    results = {}
    for name, model in (("mcintosh_poisson", poisson.predict),
                        ("logistic_regression",
                         lambda rows: logistic.predict_proba(region_features(rows)[0])[:, 1])):
        frames = {part: predictions_frame(frame[parts[part]], model(frame[parts[part]]),
                                          labels[parts[part]], part)
                  for part in ("validation", "test")}
        metrics = evaluate("binary", frames["test"], frames["validation"], train_rate,
                           {**settings, "experiment": f"srs_baseline/{name}"})
        run_dir = out_dir / name
        run_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(run_dir / "metrics.json", metrics)
        frames_all = pd.concat([frames["validation"], frames["test"]], ignore_index=True)
        frames_all.to_csv(run_dir / "predictions.csv", index=False)
        write_report(run_dir, metrics, {**settings, "experiment": f"srs_baseline/{name}"},
                     None, frames_all)
        results[name] = metrics
    summary = _summary(results, settings, split, table, train_rate, poisson)
    write_json_atomic(out_dir / "summary.json", summary)
    (out_dir / "srs_baseline.md").write_text(srs_markdown(summary), encoding="utf-8")
    poisson.table().to_csv(out_dir / "mcintosh_rates.csv", index=False)
    return summary


def _summary(results, settings, split, table, train_rate, poisson) -> dict:
    first = results["mcintosh_poisson"]
    forecasters = {name: first["forecasters"][name]
                   for name in ("climatology", "persistence", "always_no")
                   if name in first["forecasters"]}
    for name, metrics in results.items():
        forecasters[name] = metrics["forecasters"]["model"]
    return {
        "settings": settings,
        "split": split.to_metadata(),
        "rows_dropped_reading": table.dropped,
        "train_base_rate": train_rate,
        "base_rates": first["base_rates"],
        "test_set": first["test_set"],
        "mcintosh_fallbacks": dict(poisson.fallbacks),
        "forecasters": {name: {key: value for key, value in entry.items()
                               if key in ("at_default", "at_validation_optimal",
                                          "probabilistic", "intervals")}
                        for name, entry in forecasters.items()},
        "notes": first["notes"],
    }


_TABLE_LABELS = {"climatology": "climatology", "persistence": "persistence",
                 "always_no": "always no", "mcintosh_poisson": "McIntosh Poisson",
                 "logistic_regression": "logistic regression"}


def srs_markdown(summary: dict) -> str:
    """The combined comparison table, in the style of flarekit reports."""
    settings = summary["settings"]
    base = summary["base_rates"]
    split = summary["split"]
    test_set = summary["test_set"]
    lines = [
        "# SRS baseline: NOAA Solar Region Summary, next-24-h flares",
        "",
        (f"Event: a flare >= {settings['threshold']} ({settings['label_definition']}) "
         f"in the 24 h after the 00:30 UT issue; unit: {settings['unit']}; flux "
         f"scale: {settings['flux_scale']}."),
        (f"Split: {settings['split']}; gap {settings['gap_days']} days. Counts: "
         f"{split['counts']}; dropped {split['dropped']}."),
        (f"Base rates: train {base['train']:.4f}, validation {base['validation']:.4f}, "
         f"test {base['test']:.4f}. Test set sha256 {test_set['hash'][:12]}..., "
         f"{test_set['n_samples']} region-days, {test_set['n_regions']} regions."),
        "",
        ("| forecaster | threshold | TSS [95 % CI] | HSS2 | false-alarm ratio "
         "| precision | POD | BSS | ROC AUC |"),
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, entry in summary["forecasters"].items():
        probabilistic = entry["probabilistic"]
        for source in ("at_default", "at_validation_optimal"):
            scores = entry.get(source)
            if not scores:
                continue
            interval = (entry.get("intervals") or {}).get(source, {}).get("tss")
            tss = f"{scores['tss']:.3f}"
            if interval:
                tss += f" [{interval[0]:.3f}, {interval[1]:.3f}]"
            lines.append(
                f"| {_TABLE_LABELS.get(name, name)} | {scores['threshold']:.3f} "
                f"({'0.5' if source == 'at_default' else 'validation'}) | {tss} | "
                f"{scores['hss2']:.3f} | {_number(scores['false_alarm_ratio'])} | "
                f"{_number(scores['precision'])} | {scores['pod']:.3f} | "
                f"{_number(probabilistic.get('bss'))} | {_number(probabilistic.get('roc_auc'))} |"
            )
    lines += [
        "",
        ("Bloomfield et al. (2012, ApJ 747, L41) report TSS 0.54 for the "
         "McIntosh-class Poisson forecast of >= M1 flares on their data period, with "
         "the TSS-maximising threshold; the numbers above are on this table's "
         "2012-2018 test set with the threshold chosen on 2010-2011."),
        "",
    ]
    return "\n".join(lines)


def _number(value) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a"
    return f"{value:.3f}"
