"""report.md, figures and metrics.json for a run; comparison tables across runs.

A flare-forecast score means nothing without its setting (SCIENCE.md):
threshold, horizon, unit, split and its gap, test base rate, flux scale,
decision threshold and aggregation. `write_report` therefore opens
report.md with those settings, stated even when missing ("not stated"),
then the main table of the model against climatology, persistence and
"always no", with 95 % region-bootstrap intervals, the Bayes ceiling where
known, and the figures.

Every file is written atomically (a temporary file in the same folder, then
`os.replace`), so a run interrupted while reporting never leaves a half
written report.md or metrics.json that looks complete.

Figures are drawn with seaborn's plotting functions on
`matplotlib.figure.Figure` objects with the Agg canvas, without pyplot
figures, so reporting neither needs a display nor changes the backend of a
notebook that calls it. seaborn's theme (`seaborn.set_theme`) is applied inside
`matplotlib.rc_context`, so the caller's own style comes back afterwards.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

# json_safe and write_json_atomic live in flarekit.io; re-exported for callers.
from flarekit.io import (
    json_safe,
    save_figure,
    write_json_atomic,
    write_text_atomic,
)
from flarekit.metrics.aggregate import (
    aggregate_runs,
    format_interval,
    format_mean_sd,
    format_number,
    get_path,
)

__all__ = [
    "aggregate_runs",
    "comparison_table",
    "format_mean_sd",
    "json_safe",
    "write_json_atomic",
    "write_report",
    "write_text_atomic",
]

FORECASTER_LABELS = {
    "model": "model",
    "climatology": "climatology",
    "persistence": "persistence",
    "always_no": "always no",
}
# (key in the scores, column title) of the binary main table; SCIENCE.md
# trap 5: TSS is never shown without HSS2, false alarms, precision and BSS.
BINARY_TABLE_COLUMNS = (
    ("tss", "TSS"),
    ("hss2", "HSS2"),
    ("false_alarm_ratio", "false-alarm ratio FP/(TP+FP)"),
    ("precision", "precision"),
    ("pod", "POD"),
)
# Comparability settings printed first, in this order: (keys, title); the
# first key present in the settings is shown, "not stated" when none is.
SETTING_ROWS = (
    (("task",), "task"),
    (("threshold",), "event threshold"),
    (("classes", "class_names"), "classes"),
    (("horizon_hours",), "horizon (hours)"),
    (("window_rule", "window"), "window definition"),
    (("unit",), "unit"),
    (("dataset",), "dataset"),
    (("dataset_version",), "dataset version"),
    (("split",), "split"),
    (("gap_days",), "gap between splits (days)"),
    (("flux_scale",), "flux scale"),
    (("label_definition",), "label definition"),
    (("aggregation",), "aggregation"),
)


# ------------------------------------------------------------- writing ---




def _save_figure(figure: Figure, path: Path) -> Path:
    return save_figure(figure, path)


# ------------------------------------------------------------- figures ---


@contextlib.contextmanager
def seaborn_theme():
    """seaborn's report theme for the figures made inside; restored after.

    `seaborn.set_theme` changes matplotlib's global settings; `rc_context`
    gives them back on exit, so a notebook that calls the report keeps its
    own style.

    Example:
        >>> with seaborn_theme():
        ...     figure = plot_roc(roc, chosen, auc)
    """
    import seaborn as sns

    with matplotlib.rc_context():
        sns.set_theme(context="paper", style="whitegrid", palette="colorblind")
        yield sns


def plot_training_curves(history: pd.DataFrame) -> Figure | None:
    """One panel per metric, training and validation curves together.

    Args:
        history: history.csv as a DataFrame (columns epoch, loss, val_loss,
            ...; flarekit's run folders count epochs from 1).

    Returns:
        The figure, or None when there is nothing to plot.
    """
    if history is None or len(history) == 0:
        return None
    numeric = history.select_dtypes("number")
    epochs = (
        numeric["epoch"].to_numpy()
        if "epoch" in numeric
        else np.arange(1, len(numeric) + 1)
    )
    names = [c for c in numeric.columns if c != "epoch" and not c.startswith("val_")]
    names += [
        c
        for c in numeric.columns
        if c.startswith("val_") and c[len("val_") :] not in names
    ]
    names = [name for name in names if name not in ("learning_rate", "lr")][:6]
    if not names:
        return None
    with seaborn_theme() as sns:
        figure = Figure(
            figsize=(4.0 * min(len(names), 3), 3.2 * math.ceil(len(names) / 3))
        )
        for i, name in enumerate(names):
            axes = figure.add_subplot(
                math.ceil(len(names) / 3), min(len(names), 3), i + 1
            )
            for column in (name, f"val_{name}"):
                if column in numeric:
                    sns.lineplot(
                        x=epochs,
                        y=numeric[column].to_numpy(),
                        marker="o",
                        markersize=4,
                        estimator=None,
                        label=column,
                        ax=axes,
                    )
            axes.set_xlabel("epoch")
            axes.set_title(name)
            axes.legend(fontsize=8)
        figure.tight_layout()
    return figure


def plot_roc(roc: Mapping, chosen: Mapping | None, auc) -> Figure:
    """ROC curve with the chance diagonal and the chosen operating point."""
    with seaborn_theme() as sns:
        figure = Figure(figsize=(4.2, 4.2))
        axes = figure.add_subplot()
        # The curve in threshold order: estimator=None and sort=False keep
        # seaborn from averaging the several POD values at one POFD.
        sns.lineplot(
            x=np.asarray(roc["pofd"], dtype=float),
            y=np.asarray(roc["pod"], dtype=float),
            estimator=None,
            sort=False,
            label=f"model (AUC {format_number(auc)})",
            ax=axes,
        )
        axes.plot([0, 1], [0, 1], ls="--", color="grey", label="no skill")
        if chosen:
            sns.scatterplot(
                x=[chosen["pofd"]],
                y=[chosen["pod"]],
                color="C3",
                s=40,
                label=f"threshold {format_number(chosen['threshold'])}",
                ax=axes,
            )
        axes.set_xlabel("POFD (false-positive rate FP/N)")
        axes.set_ylabel("POD (TP/P)")
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1.01)
        axes.legend(loc="lower right", fontsize=8)
        figure.tight_layout()
    return figure


def plot_reliability(reliability: Mapping, climatology) -> Figure:
    """Reliability diagram over a histogram of forecasts, counts written in."""
    edges = np.asarray(reliability["bin_edges"], dtype=float)
    centres = 0.5 * (edges[:-1] + edges[1:])
    mean_probability = np.asarray(reliability["mean_probability"], dtype=float)
    frequency = np.asarray(reliability["observed_frequency"], dtype=float)
    counts = np.asarray(reliability["counts"], dtype=int)
    filled = counts > 0
    with seaborn_theme() as sns:
        figure = Figure(figsize=(4.5, 5.5))
        top = figure.add_axes((0.15, 0.38, 0.8, 0.56))
        bottom = figure.add_axes((0.15, 0.08, 0.8, 0.2), sharex=top)
        top.plot([0, 1], [0, 1], ls="--", color="grey", label="perfect reliability")
        if climatology is not None:
            top.axhline(float(climatology), ls=":", color="C2", label="climatology")
        sns.lineplot(
            x=mean_probability[filled],
            y=frequency[filled],
            marker="o",
            estimator=None,
            sort=False,
            label="model",
            ax=top,
        )
        for x, y, count in zip(mean_probability, frequency, counts):
            if count:
                top.annotate(
                    str(count),
                    (x, y),
                    textcoords="offset points",
                    xytext=(3, 4),
                    fontsize=7,
                )
        top.set_ylabel("observed frequency")
        top.set_xlim(0, 1)
        top.set_ylim(0, 1.02)
        top.legend(fontsize=8, loc="upper left")
        top.set_title("reliability (numbers: samples per bin)")
        # The forecasts per bin, drawn on the reliability bins themselves (a
        # list: seaborn 0.13 compares `bins` with "auto" when given weights).
        sns.histplot(
            x=centres,
            weights=counts,
            bins=edges.tolist(),
            shrink=0.9,
            color="C0",
            ax=bottom,
        )
        if counts.max() > 0:
            bottom.set_yscale("log")
        bottom.set_xlabel("forecast probability")
        bottom.set_ylabel("count")
    return figure


def plot_confusion_matrix(matrix, class_names: Sequence[str], title: str) -> Figure:
    """Counts with observed classes in rows and forecasts in columns."""
    matrix = np.asarray(matrix, dtype=int)
    size = 1.2 + 0.7 * len(class_names)
    with seaborn_theme() as sns:
        figure = Figure(figsize=(size + 0.8, size))
        axes = figure.add_subplot()
        sns.heatmap(
            matrix,
            annot=True,
            fmt="d",
            annot_kws={"fontsize": 8},
            cmap="Blues",
            square=True,
            cbar_kws={"fraction": 0.046},
            xticklabels=list(class_names),
            yticklabels=list(class_names),
            ax=axes,
        )
        axes.set_xlabel("forecast")
        axes.set_ylabel("observed")
        axes.set_title(title, fontsize=9)
        figure.tight_layout()
    return figure


def plot_regression(log_flux_true, log_flux_pred) -> Figure:
    """Predicted against true log10 peak flux, with the class boundaries."""
    with seaborn_theme() as sns:
        figure = Figure(figsize=(4.5, 4.5))
        axes = figure.add_subplot()
        sns.scatterplot(
            x=np.asarray(log_flux_true, dtype=float),
            y=np.asarray(log_flux_pred, dtype=float),
            s=8,
            alpha=0.5,
            linewidth=0,
            ax=axes,
        )
        low = min(np.min(log_flux_true), np.min(log_flux_pred), -9.0) - 0.2
        high = max(np.max(log_flux_true), np.max(log_flux_pred), -4.0) + 0.2
        axes.plot([low, high], [low, high], ls="--", color="grey")
        for edge, letter in zip(range(-8, -3), "ABCMX"):
            axes.axvline(edge, color="grey", lw=0.5)
            axes.axhline(edge, color="grey", lw=0.5)
            axes.text(edge + 0.05, low + 0.1, letter, fontsize=7)
        axes.set_xlabel("true log10 peak flux (W/m^2)")
        axes.set_ylabel("predicted log10 peak flux (W/m^2)")
        figure.tight_layout()
    return figure


# ------------------------------------------------------------ markdown ---


def _describe(value) -> str:
    if value is None:
        return "not stated"
    if isinstance(value, Mapping):
        return "; ".join(f"{key}: {_describe(item)}" for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_describe(item) for item in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value).replace("|", "/").replace("\n", " ")


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _settings_section(metrics: Mapping, settings: Mapping) -> list[str]:
    task_kind = metrics.get("task_kind", settings.get("task", "not stated"))
    rows = []
    for keys, title in SETTING_ROWS:
        if keys == ("classes", "class_names") and task_kind != "multiclass":
            continue
        value = next((settings[k] for k in keys if settings.get(k) is not None), None)
        if keys == ("task",) and value is None:
            value = task_kind
        rows.append((title, _describe(value)))
    base_rates = metrics.get("base_rates") or {}
    test_set = metrics.get("test_set") or {}
    binary = metrics.get("binary_at_threshold") or {}
    if not base_rates and binary:
        base_rates = binary.get("base_rates") or {}
    if base_rates:
        event = f" (>= {settings['threshold']})" if settings.get("threshold") else ""
        rows.append(
            (f"test base rate{event}", format_number(base_rates.get("test"), 4))
        )
        train_rate = format_number(base_rates.get("train"), 4)
        rows.append((f"training base rate{event} (climatology)", train_rate))
    if "class_frequencies" in metrics:
        frequencies = metrics["class_frequencies"].get("test") or []
        rows.append(
            (
                "test class frequencies",
                ", ".join(
                    f"{name} {format_number(f, 4)}"
                    for name, f in zip(metrics.get("class_names", []), frequencies)
                ),
            )
        )
    thresholds = metrics.get("decision_thresholds") or binary.get("decision_thresholds")
    if thresholds:
        tuned = (thresholds.get("validation_optimal") or {}).get("model")
        rows.append(
            (
                "decision thresholds",
                f"{format_number(thresholds.get('default'), 2)} (default) and "
                + (
                    f"{format_number(tuned, 4)} (TSS-maximising on validation)"
                    if tuned is not None
                    else "no tuned threshold (see notes)"
                ),
            )
        )
    rows.append(
        (
            "test set",
            f"{test_set.get('n_samples', 'n/a')} samples, "
            f"{test_set.get('n_regions', 'n/a')} regions",
        )
    )
    rows.append(("test-set hash (sha256)", f"`{test_set.get('hash', 'n/a')}`"))
    boot = metrics.get("bootstrap") or {}
    if boot:
        rows.append(
            (
                "intervals",
                f"{format_number(100 * boot.get('confidence', math.nan), 0)} % "
                "percentile "
                f"bootstrap, {boot.get('n_boot')} resamples of "
                f"{boot.get('n_groups')} {boot.get('resampled', 'regions')}, "
                f"seed {boot.get('seed')}",
            )
        )
    if settings.get("allow_leakage"):
        rows.append(("allow_leakage", "**True: random split, scores inflated**"))
    lines = ["## Comparability settings", ""]
    lines.append(_markdown_table(("setting", "value"), rows))
    return lines


def _forecaster_entries(metrics: Mapping) -> list[tuple[str, Mapping]]:
    """(table label, scores entry) of each forecaster the metrics hold, in the
    order of `FORECASTER_LABELS`; forecasters without an entry are left out."""
    forecasters = metrics.get("forecasters") or {}
    return [
        (label, forecasters[name])
        for name, label in FORECASTER_LABELS.items()
        if forecasters.get(name)
    ]


def _binary_table(binary: Mapping, which: str) -> str:
    header = ["forecaster"] + [title for _, title in BINARY_TABLE_COLUMNS] + ["BSS"]
    rows = []
    for label, entry in _forecaster_entries(binary):
        if not entry.get(which):
            continue
        scores = entry[which]
        intervals = (entry.get("intervals") or {}).get(which) or {}
        row = [label]
        for key, _ in BINARY_TABLE_COLUMNS:
            row.append(format_interval(scores.get(key), intervals.get(key)))
        row.append(
            format_interval(
                (entry.get("probabilistic") or {}).get("bss"),
                (entry.get("intervals") or {}).get("bss"),
            )
        )
        rows.append(row)
    return _markdown_table(header, rows)


def _binary_sections(binary: Mapping) -> list[str]:
    thresholds = binary.get("decision_thresholds") or {}
    tuned = (thresholds.get("validation_optimal") or {}).get("model")
    lines = ["## Main table", ""]
    if tuned is not None:
        lines += [
            f"Each forecaster at its decision threshold chosen on VALIDATION data "
            f"(TSS-maximising; the model's: {format_number(tuned, 4)}); "
            "95 % intervals in brackets.",
            "",
            _binary_table(binary, "at_validation_optimal"),
            "",
        ]
    lines += [
        f"At the default threshold {format_number(thresholds.get('default', 0.5), 2)}:",
        "",
        _binary_table(binary, "at_default"),
        "",
    ]
    ceiling = binary.get("bayes_ceiling")
    if ceiling:
        lines += [
            f"**Bayes ceiling** (true probability thresholded at "
            f"{format_number(ceiling['threshold'], 4)}): TSS "
            f"{format_number(ceiling['tss'])} on these outcomes, "
            f"{format_number(ceiling['expected_tss'])} in expectation. The model "
            f"reaches {_percent(ceiling.get('model_fraction_at_validation_optimal'))} "
            f"of it at the validation threshold, "
            f"{_percent(ceiling.get('model_fraction_at_default'))} at 0.5.",
            "",
        ]
    header = ["forecaster", "Brier", "BSS", "ROC AUC", "POFD (FP/N)", "HSS1", "F1"]
    rows = []
    which = "at_validation_optimal" if tuned is not None else "at_default"
    for label, entry in _forecaster_entries(binary):
        probabilistic = entry.get("probabilistic") or {}
        scores = entry.get(which) or {}
        rows.append(
            [
                label,
                format_number(probabilistic.get("brier"), 4),
                format_number(probabilistic.get("bss")),
                format_number(probabilistic.get("roc_auc")),
                format_number(scores.get("pofd")),
                format_number(scores.get("hss1")),
                format_number(scores.get("f1")),
            ]
        )
    lines += [
        "## Probabilistic and other scores",
        "",
        f"(yes/no scores at {'the validation threshold' if tuned else '0.5'})",
        "",
        _markdown_table(header, rows),
        "",
    ]
    return lines


def _percent(fraction) -> str:
    if fraction is None or not math.isfinite(float(fraction)):
        return "n/a"
    return f"{100 * float(fraction):.0f} %"


def _multiclass_sections(metrics: Mapping) -> list[str]:
    class_names = metrics.get("class_names", [])
    rows = []
    for label, entry in _forecaster_entries(metrics):
        scores, intervals = entry["scores"], entry.get("intervals") or {}
        rows.append(
            [label]
            + [
                format_interval(scores.get(key), intervals.get(key))
                for key in ("accuracy", "macro_f1", "gms")
            ]
        )
    lines = [
        "## Main table",
        "",
        "Most probable class; 95 % intervals in brackets.",
        "",
        _markdown_table(("forecaster", "accuracy", "macro-F1", "GMS"), rows),
        "",
        "Per-class skill of the model (one class against the rest):",
        "",
    ]
    per_class = metrics["forecasters"]["model"]["scores"]["per_class"]
    lines.append(
        _markdown_table(
            ("class", "support", "TSS", "POD", "precision", "F1"),
            [
                [
                    name,
                    str(per_class[name]["support"]),
                    format_number(per_class[name]["tss"]),
                    format_number(per_class[name]["pod"]),
                    format_number(per_class[name]["precision"]),
                    format_number(per_class[name]["f1"]),
                ]
                for name in class_names
            ],
        )
    )
    lines.append("")
    binary = metrics.get("binary_at_threshold")
    if binary:
        lines += [
            f"### As a yes/no forecast of {', '.join(binary['positive_classes'])} "
            "(summed class probabilities)",
            "",
        ]
        lines += [line.replace("## ", "#### ") for line in _binary_sections(binary)]
    return lines


def _regression_sections(metrics: Mapping) -> list[str]:
    rows = []
    for label, entry in _forecaster_entries(metrics):
        scores, intervals = entry["scores"], entry.get("intervals") or {}
        rows.append(
            [
                label,
                format_interval(scores["mae"], intervals.get("mae")),
                format_interval(scores["rmse"], intervals.get("rmse")),
                format_interval(
                    scores["sdo_benchmark_score"], intervals.get("sdo_benchmark_score")
                ),
                format_interval(scores["skill"]["C"]["tss"], intervals.get("tss_C")),
                format_interval(scores["skill"]["M"]["tss"], intervals.get("tss_M")),
                format_number(scores["skill"]["M"]["false_alarm_ratio"]),
            ]
        )
    model = metrics["forecasters"]["model"]["scores"]
    lines = [
        "## Main table",
        "",
        "Errors of log10 peak flux; TSS of the prediction thresholded at C1.0 and "
        "M1.0; 95 % intervals in brackets. SDO-Benchmark score: "
        f"{metrics.get('sdo_benchmark_grouping', '')}.",
        "",
        _markdown_table(
            (
                "forecaster",
                "MAE",
                "RMSE",
                "SDO-Benchmark score",
                "TSS >= C",
                "TSS >= M",
                "false-alarm ratio >= M",
            ),
            rows,
        ),
        "",
        "Per-group RMSE of the model (groups by true flux):",
        "",
        _markdown_table(
            ("group", "samples", "RMSE"),
            [
                [group, str(values["count"]), format_number(values["rmse"])]
                for group, values in model["per_group"].items()
            ],
        ),
        "",
    ]
    return lines


# --------------------------------------------------------------- report ---


def _test_rows(predictions: pd.DataFrame | None) -> pd.DataFrame | None:
    if predictions is None or len(predictions) == 0:
        return None
    if "split" in predictions.columns:
        return predictions[predictions["split"] == "test"]
    return predictions


def _figures(metrics, history, predictions, figures_dir: Path) -> dict[str, Path]:
    """Draw and save every figure that the inputs allow; name -> path."""
    saved = {}

    def save(name, figure):
        if figure is not None:
            saved[name] = _save_figure(figure, figures_dir / f"{name}.png")

    save("training_curves", plot_training_curves(history))
    task_kind = metrics.get("task_kind")
    binary = metrics if task_kind == "binary" else metrics.get("binary_at_threshold")
    if binary:
        model = binary["forecasters"]["model"]
        chosen = model.get("at_validation_optimal") or model["at_default"]
        if model.get("roc"):
            save(
                "roc",
                plot_roc(model["roc"], chosen, model["probabilistic"].get("roc_auc")),
            )
        save(
            "reliability",
            plot_reliability(
                model["reliability"], (binary.get("base_rates") or {}).get("train")
            ),
        )
        if task_kind == "binary":
            save(
                "confusion_matrix",
                plot_confusion_matrix(
                    [[chosen["tn"], chosen["fp"]], [chosen["fn"], chosen["tp"]]],
                    ["no flare", "flare"],
                    f"threshold {format_number(chosen['threshold'], 4)}",
                ),
            )
    if task_kind == "multiclass":
        scores = metrics["forecasters"]["model"]["scores"]
        save(
            "confusion_matrix",
            plot_confusion_matrix(
                scores["confusion_matrix"], scores["class_names"], "most probable class"
            ),
        )
    test = _test_rows(predictions)
    if task_kind == "regression" and test is not None:
        if {"log_flux_true", "log_flux_pred"} <= set(test.columns):
            true = test["log_flux_true"].to_numpy(dtype=float)
            pred = test["log_flux_pred"].to_numpy(dtype=float)
            save("regression", plot_regression(true, pred))
            from flarekit.data.goes import GOES_CLASSES, flux_to_class_index
            from flarekit.metrics.multiclass import confusion_matrix

            matrix = confusion_matrix(
                flux_to_class_index(10.0**true),
                flux_to_class_index(10.0**pred),
                len(GOES_CLASSES),
            )
            save(
                "confusion_matrix",
                plot_confusion_matrix(
                    matrix, GOES_CLASSES, "GOES class of true and predicted flux"
                ),
            )
    return saved


def write_report(
    run_dir,
    metrics: Mapping,
    settings: Mapping | None,
    history: pd.DataFrame | None,
    predictions: pd.DataFrame | None,
) -> Path:
    """Write report.md and figures/*.png for a run, atomically.

    Args:
        run_dir: the run folder (created if missing).
        metrics: the dict `flarekit.metrics.evaluate` returned.
        settings: the run's comparability settings (task, threshold,
            horizon_hours, unit, split, gap_days, flux_scale, aggregation,
            allow_leakage, ...); None uses metrics["settings"].
        history: history.csv as a DataFrame, or None (no training curves).
        predictions: predictions.csv as a DataFrame (used for the regression
            scatter), or None.

    Returns:
        Path of report.md.

    Raises:
        ValueError: metrics lacks task_kind or forecasters (not an
            `evaluate` result).

    Example:
        >>> write_report("runs/x", metrics, None, None, None)  # doctest: +SKIP
        PosixPath('runs/x/report.md')
    """
    if "task_kind" not in metrics or "forecasters" not in metrics:
        raise ValueError(
            "metrics must be the dict flarekit.metrics.evaluate returns (with "
            f"'task_kind' and 'forecasters'); got keys {sorted(metrics)}."
        )
    run_dir = Path(run_dir)
    settings = dict(settings if settings is not None else metrics.get("settings", {}))
    figures = _figures(metrics, history, predictions, run_dir / "figures")
    title = settings.get("experiment") or run_dir.name
    lines = [f"# Report: {title}", ""]
    if settings.get("allow_leakage"):
        lines += [
            "> **LEAKAGE WARNING: allow_leakage=True.** This run used a split that "
            "is not grouped by region and time; consecutive frames of one region "
            "can sit in both training and test. Its scores are inflated and not "
            "comparable with leakage-free runs (SCIENCE.md, trap 1).",
            "",
        ]
    lines += _settings_section(metrics, settings) + [""]
    task_kind = metrics["task_kind"]
    if task_kind == "binary":
        lines += _binary_sections(metrics)
    elif task_kind == "multiclass":
        lines += _multiclass_sections(metrics)
    else:
        lines += _regression_sections(metrics)
    notes = metrics.get("notes") or []
    if notes:
        lines += ["## Notes", ""] + [f"- {note}" for note in notes] + [""]
    lines += ["## Figures", ""]
    if not figures:
        lines.append("No figures (no history or predictions given).")
    for name, path in figures.items():
        lines += [f"![{name.replace('_', ' ')}](figures/{path.name})", ""]
    shown = {key for keys, _ in SETTING_ROWS for key in keys}
    shown |= {"experiment", "allow_leakage"}
    others = {k: v for k, v in settings.items() if k not in shown}
    if others:
        lines += ["## Other settings", ""]
        lines.append(
            _markdown_table(
                ("setting", "value"),
                [(str(k), _describe(v)) for k, v in others.items()],
            )
        )
        lines.append("")
    return write_text_atomic(run_dir / "report.md", "\n".join(lines))


# ----------------------------------------------------------- comparison ---


# A config's `architecture` value -> the model's name in comparison tables.
MODEL_NAMES = {
    "vit": "ViT",
    "cnn": "CNN",
    "factorised": "factorised video transformer",
    "video_swin": "VideoSwin",
    "frame_cnn": "last-frame CNN",
}


def model_name(run_dir, settings: Mapping | None = None) -> str:
    """The model a run trained, for a table row: its config's `architecture`
    (by `MODEL_NAMES`), else the experiment's name, else the folder's."""
    path = Path(run_dir) / "config.json"
    config = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    architecture = config.get("architecture")
    if architecture:
        return MODEL_NAMES.get(architecture, str(architecture))
    return (settings or {}).get("experiment") or Path(run_dir).name


def comparison_table(run_dirs: Sequence) -> pd.DataFrame:
    """One row per run from each run's metrics.json: settings and headline scores.

    `same_test_set` compares each run's test-set hash with the first run's;
    scores of runs with different test sets or settings are not comparable.

    Args:
        run_dirs: run folders, each holding metrics.json.

    Returns:
        DataFrame with columns model (`model_name`), run, task_kind,
        threshold, horizon_hours, unit,
        flux_scale, allow_leakage, n_test, test_base_rate, test_set_hash,
        same_test_set, then the run's headline scores (and, for binary runs,
        tss_low / tss_high of the model's headline interval).

    Raises:
        ValueError: a folder without metrics.json.
    """
    rows = []
    first_hash = None
    for run_dir in run_dirs:
        path = Path(run_dir) / "metrics.json"
        if not path.is_file():
            raise ValueError(f"No metrics.json in run folder {run_dir}.")
        metrics = json.loads(path.read_text(encoding="utf-8"))
        settings = metrics.get("settings") or {}
        test_hash = get_path(metrics, "test_set.hash")
        first_hash = test_hash if first_hash is None else first_hash
        row = {
            "model": model_name(run_dir, settings),
            "run": Path(run_dir).name,
            "task_kind": metrics.get("task_kind"),
            "threshold": settings.get("threshold"),
            "horizon_hours": settings.get("horizon_hours"),
            "unit": settings.get("unit"),
            "flux_scale": settings.get("flux_scale"),
            "allow_leakage": bool(settings.get("allow_leakage", False)),
            "n_test": get_path(metrics, "test_set.n_samples"),
            "test_base_rate": get_path(metrics, "base_rates.test"),
            "test_set_hash": test_hash,
            "same_test_set": test_hash == first_hash,
        }
        headline = metrics.get("headline") or {}
        row.update(headline)
        source = headline.get("threshold_source")
        if source:
            interval = get_path(
                metrics, f"forecasters.model.intervals.at_{source}.tss"
            ) or [None, None]
            row["tss_low"], row["tss_high"] = interval
        rows.append(row)
    return pd.DataFrame(rows)
