"""A leaderboard of runs that ranks only what is comparable: `flarekit compare`.

Flare-forecast scores are comparable only on the same setting (SCIENCE.md):
task, event threshold, horizon and window rule, unit (patch, full disk),
dataset and its version, split method and gap, the test set itself (its
hash), flux scale, leakage, and aggregation (a single run vs mean +- sd; best
fold is never comparable). `leaderboard` reads each run's metrics.json,
builds that comparability key, groups runs by it, ranks runs within a group
only, and for every other group says which settings differ from the largest
group's, so a reader sees why two numbers are not in one ranking.

Ranking score: binary, TSS at the run's headline decision threshold (chosen
on validation data); multiclass, macro-F1; regression, the SDO-Benchmark
score (lower is better). Every score is shown with its 95 % region-bootstrap
interval; TSS never alone (HSS2, false-alarm ratio, precision, BSS beside
it, SCIENCE.md trap 5).

Example:
    >>> board = leaderboard(["runs/xray_flux_forecast"])
    >>> print(board.markdown)
    >>> board.frame.to_csv("leaderboard.csv", index=False)
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pandas as pd

from flarekit.metrics.aggregate import format_interval, format_number, get_path

# (column, title) of the comparability key, in the order shown.
KEY_COLUMNS = (
    ("task", "task"),
    ("threshold", "event threshold"),
    ("classes", "classes"),
    ("label_definition", "label definition"),
    ("horizon_hours", "horizon (h)"),
    ("window_rule", "window rule"),
    ("unit", "unit"),
    ("dataset", "dataset"),
    ("dataset_version", "dataset version"),
    ("split_method", "split method"),
    ("gap_days", "gap (days)"),
    ("test_set_hash", "test-set hash"),
    ("flux_scale", "flux scale"),
    ("allow_leakage", "allow_leakage"),
    ("aggregation", "aggregation"),
)
# Per task: (score key in headline, title, interval path template or None).
SCORES = {
    "binary": (
        ("tss", "TSS", "forecasters.model.intervals.at_{source}.tss"),
        ("hss2", "HSS2", "forecasters.model.intervals.at_{source}.hss2"),
        (
            "false_alarm_ratio",
            "false-alarm ratio",
            "forecasters.model.intervals.at_{source}.false_alarm_ratio",
        ),
        ("precision", "precision", "forecasters.model.intervals.at_{source}.precision"),
        ("bss", "BSS", "forecasters.model.intervals.bss"),
        ("roc_auc", "ROC AUC", None),
    ),
    "multiclass": (
        ("macro_f1", "macro-F1", "forecasters.model.intervals.macro_f1"),
        ("accuracy", "accuracy", "forecasters.model.intervals.accuracy"),
        ("gms", "GMS", "forecasters.model.intervals.gms"),
    ),
    "regression": (
        (
            "sdo_benchmark_score",
            "SDO-Benchmark score",
            "forecasters.model.intervals.sdo_benchmark_score",
        ),
        ("mae", "MAE log flux", "forecasters.model.intervals.mae"),
        ("rmse", "RMSE log flux", "forecasters.model.intervals.rmse"),
    ),
}
# The first score of each task ranks; regression errors rank ascending.
LOWER_IS_BETTER = {"regression"}


@dataclasses.dataclass
class Leaderboard:
    """What `leaderboard` returns.

    Attributes:
        frame: one row per run (group, rank, settings, base rates, scores and
            interval bounds, why_separate).
        markdown: the leaderboard as Markdown (groups, rankings, reasons).
        skipped: (path, reason) of folders that were not runs or unfinished.
    """

    frame: pd.DataFrame
    markdown: str
    skipped: list


def find_runs(paths) -> tuple:
    """Run folders under `paths` (a folder holding config.json or metrics.json).

    Returns:
        (finished run folders with metrics.json, skipped [(path, reason)]).
    """
    finished, skipped, seen = [], [], set()
    for path in map(Path, paths):
        if not path.exists():
            skipped.append((str(path), "does not exist"))
            continue
        candidates = (
            [path]
            if (path / "config.json").exists() or (path / "metrics.json").exists()
            else sorted(
                {
                    p.parent
                    for name in ("config.json", "metrics.json")
                    for p in path.rglob(name)
                }
            )
        )
        if not candidates:
            skipped.append((str(path), "no run folder (config.json) under it"))
        for folder in candidates:
            if folder.resolve() in seen:
                continue
            seen.add(folder.resolve())
            if (folder / "metrics.json").is_file():
                finished.append(folder)
            else:
                skipped.append((str(folder), "no metrics.json (unfinished run)"))
    return finished, skipped


def _aggregation(value) -> str:
    text = str(value or "single run")
    # Seeds differ between runs that are meant to be compared.
    return "single run" if text.startswith("single run") else text


def _key_value(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "not stated"
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def run_record(run_dir) -> dict:
    """One run's comparability settings, base rates and scores, flat.

    Raises:
        ValueError: metrics.json is not valid JSON or lacks task_kind.
    """
    run_dir = Path(run_dir)
    try:
        metrics = json.loads((run_dir / "metrics.json").read_text())
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{run_dir / 'metrics.json'}: not valid JSON ({error})."
        ) from None
    if "task_kind" not in metrics:
        raise ValueError(
            f"{run_dir / 'metrics.json'}: no task_kind; not a flarekit run."
        )
    settings = metrics.get("settings") or {}
    split = settings.get("split") if isinstance(settings.get("split"), dict) else {}
    task = metrics["task_kind"]
    classes = settings.get("classes") or settings.get("class_names")
    record = {
        "run": str(run_dir),
        "run_id": run_dir.name,
        "experiment": settings.get("experiment") or run_dir.parent.name,
        "smoke": bool(settings.get("smoke", False)),
        "task_kind": task,
        "task": settings.get("task") or task,
        "threshold": settings.get("threshold") if task != "regression" else "log flux",
        "classes": ", ".join(map(str, classes)) if classes else None,
        "label_definition": settings.get("label_definition"),
        "horizon_hours": settings.get("horizon_hours"),
        "window_rule": settings.get("window_rule"),
        "unit": settings.get("unit"),
        "dataset": settings.get("dataset"),
        "dataset_version": settings.get("dataset_version"),
        "split_method": split.get("method") if split else settings.get("split"),
        "gap_days": settings.get("gap_days", split.get("gap_days") if split else None),
        "test_set_hash": get_path(metrics, "test_set.hash"),
        "flux_scale": settings.get("flux_scale"),
        "allow_leakage": bool(settings.get("allow_leakage", False)),
        "aggregation": _aggregation(settings.get("aggregation")),
        "n_test": get_path(metrics, "test_set.n_samples"),
        "n_test_regions": get_path(metrics, "test_set.n_regions"),
        "test_base_rate": get_path(metrics, "base_rates.test"),
        "train_base_rate": get_path(metrics, "base_rates.train"),
        "decision_threshold": get_path(metrics, "headline.decision_threshold"),
        "threshold_source": get_path(metrics, "headline.threshold_source"),
    }
    for column, _ in KEY_COLUMNS:
        record[column] = _key_value(record[column])
    source = record["threshold_source"] or "default"
    for key, _, interval_path in SCORES.get(task, ()):
        record[key] = get_path(metrics, f"headline.{key}")
        interval = (
            get_path(metrics, interval_path.format(source=source))
            if (interval_path)
            else None
        )
        low, high = (
            interval
            if isinstance(interval, list) and len(interval) == 2
            else (None, None)
        )
        record[f"{key}_low"], record[f"{key}_high"] = low, high
    return record


def _differences(record: dict, reference: dict) -> list:
    """'threshold: C1.0 here, M1.0 in G1' for each key that differs."""
    lines = []
    for column, title in KEY_COLUMNS:
        mine, theirs = record[column], reference[column]
        if mine != theirs:
            if column == "test_set_hash":
                mine, theirs = str(mine)[:12], str(theirs)[:12]
            lines.append(f"{title}: {mine} here, {theirs} there")
    return lines


def _rank_score(record: dict) -> float:
    task = record["task_kind"]
    scores = SCORES.get(task)
    if not scores:
        return math.nan
    value = record.get(scores[0][0])
    value = math.nan if value is None else float(value)
    return -value if task in LOWER_IS_BETTER else value


def leaderboard(paths) -> Leaderboard:
    """Group runs by their comparability key, rank within groups, explain the rest.

    Args:
        paths: run folders, or folders searched for run folders.

    Returns:
        A `Leaderboard` (frame, markdown, skipped).

    Raises:
        ValueError: no finished run was found.
    """
    folders, skipped = find_runs(paths)
    records = []
    for folder in folders:
        try:
            records.append(run_record(folder))
        except ValueError as error:
            skipped.append((str(folder), str(error)))
    if not records:
        reasons = (
            "; ".join(f"{path}: {why}" for path, why in skipped) or "nothing given"
        )
        raise ValueError(f"No finished run to compare ({reasons}).")
    groups: dict = {}
    for record in records:
        key = tuple(record[column] for column, _ in KEY_COLUMNS)
        groups.setdefault(key, []).append(record)
    # The largest group is the reference; ties go to the group seen first.
    ordered = sorted(groups.values(), key=lambda rows: -len(rows))
    reference = ordered[0][0]
    for number, rows in enumerate(ordered, start=1):
        rows.sort(
            key=lambda r: (
                math.isnan(_rank_score(r)),
                -_rank_score(r) if not math.isnan(_rank_score(r)) else 0.0,
            )
        )
        reasons = [] if number == 1 else _differences(rows[0], reference)
        for rank, record in enumerate(rows, start=1):
            record["group"] = f"G{number}"
            record["rank"] = rank if not math.isnan(_rank_score(record)) else None
            record["why_separate"] = "; ".join(reasons)
    frame = pd.DataFrame([r for rows in ordered for r in rows])
    first = ["group", "rank", "run_id", "experiment", "smoke"]
    frame = frame[first + [c for c in frame.columns if c not in first]]
    return Leaderboard(
        frame=frame, markdown=_markdown(ordered, skipped), skipped=skipped
    )


def _group_header(number: int, rows: list) -> list:
    record = rows[0]
    setting = "; ".join(
        f"{title} {_describe(record[column], column)}" for column, title in KEY_COLUMNS
    )
    lines = [f"## Group G{number} ({len(rows)} run{'s' if len(rows) > 1 else ''})", ""]
    lines.append(f"Setting: {setting}.")
    lines.append(
        f"Test set: {record['n_test']} samples, {record['n_test_regions']} regions, "
        f"base rate {format_number(record['test_base_rate'], 4)} (training base rate "
        f"{format_number(record['train_base_rate'], 4)})."
        if record["task_kind"] == "binary"
        else f"Test set: {record['n_test']} samples, "
        f"{record['n_test_regions']} regions."
    )
    if record["allow_leakage"] is True:
        lines.append(
            "**allow_leakage=True: random split, scores inflated; ranked only "
            "against other leaky runs on the same test set.**"
        )
    return lines + [""]


def _describe(value, column: str) -> str:
    if column == "test_set_hash" and value != "not stated":
        return f"`{str(value)[:12]}`"
    return str(value)


def _markdown(ordered: list, skipped: list) -> str:
    total = sum(len(rows) for rows in ordered)
    lines = [
        "# Leaderboard",
        "",
        f"{total} run(s) in {len(ordered)} comparability group(s). Runs are ranked "
        "only against runs of the same group: same task, event threshold, horizon, "
        "window rule, unit, dataset and version, split method and gap, test set "
        "(hash), flux scale, leakage and aggregation (SCIENCE.md). 95 % "
        "region-bootstrap intervals in brackets.",
        "",
    ]
    for number, rows in enumerate(ordered, start=1):
        lines += _group_header(number, rows)
        if number > 1:
            lines += [f"Not ranked against G1 because {rows[0]['why_separate']}.", ""]
        task = rows[0]["task_kind"]
        scores = SCORES.get(task, ())
        direction = "lower is better" if task in LOWER_IS_BETTER else "higher is better"
        if scores:
            lines += [f"Ranked by {scores[0][1]} ({direction}).", ""]
        header = ["rank", "run", "experiment"] + [title for _, title, _ in scores]
        if task == "binary":
            header.append("decision threshold")
        header.append("smoke")
        table = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for record in rows:
            cells = [
                str(record["rank"] or "-"),
                f"`{record['run_id']}`",
                str(record["experiment"]),
            ]
            for key, _, _ in scores:
                interval = (record[f"{key}_low"], record[f"{key}_high"])
                cells.append(
                    format_interval(
                        record[key], interval if None not in interval else None
                    )
                )
            if task == "binary":
                cells.append(
                    f"{format_number(record['decision_threshold'], 3)} "
                    f"({record['threshold_source'] or 'default'})"
                )
            cells.append("yes" if record["smoke"] else "no")
            table.append("| " + " | ".join(cells) + " |")
        lines += table + [""]
    if skipped:
        lines += ["## Not compared", ""]
        lines += [f"- `{path}`: {reason}" for path, reason in skipped] + [""]
    return "\n".join(lines)


def write_leaderboard(board: Leaderboard, output_dir) -> tuple:
    """Write leaderboard.md and leaderboard.csv (atomically) into `output_dir`."""
    from flarekit.io import write_csv_atomic, write_text_atomic

    output_dir = Path(output_dir)
    markdown = write_text_atomic(output_dir / "leaderboard.md", board.markdown + "\n")
    table = write_csv_atomic(output_dir / "leaderboard.csv", board.frame)
    return markdown, table
