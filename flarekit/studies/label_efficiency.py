"""Label efficiency: a pretrained encoder vs the same network from scratch.

For each label fraction (1 %, 10 %, 100 % of the training labels) and seed,
the fine-tuning experiment runs twice: once from the pretrained encoder, once
from the same architecture re-initialised (`encoder_weights="random"`), so
backbone, resolution, data subset, epochs and evaluation are the same on both
sides and only the starting weights differ (SolarNet's comparison changed
backbone and resolution at once). The seed picks the label subset (shared by
both arms) and the initialisation. Scores are aggregated as mean +- sd over
seeds (`flarekit.metrics.aggregate_runs`), never the best seed.

Writes `<output>/label_efficiency.md` (table + figure), `label_efficiency.csv`
(one row per run), `label_efficiency.json` and `figures/label_efficiency.png`.

Example:
    >>> folder = run_label_efficiency(
    ...     "runs/ssl/simclr_pretrain/<time>/encoder.keras",
    ...     output_dir="runs/label_efficiency")
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

ARMS = {
    "pretrained": "fine-tuned from SimCLR encoder",
    "random": "same network from scratch",
}
# Headline scores aggregated per (fraction, arm): TSS at the threshold chosen
# on validation data, and the scores SCIENCE.md says must come with it.
SCORE_KEYS = {
    "tss": "headline.tss",
    "hss2": "headline.hss2",
    "false_alarm_ratio": "headline.false_alarm_ratio",
    "bss": "headline.bss",
    "roc_auc": "headline.roc_auc",
}


def run_label_efficiency(
    encoder_path,
    experiment: str = "ssl/finetune_binary",
    fractions=(0.01, 0.1, 1.0),
    seeds=(0, 1, 2),
    arms=tuple(ARMS),
    output_dir=None,
    smoke: bool = False,
    **overrides,
) -> Path:
    """Run the grid fractions x arms x seeds and write the comparison report.

    Args:
        encoder_path: the pretrained `.keras` encoder.
        experiment: the fine-tuning experiment (name under network_models/ or
            a folder).
        fractions: label fractions.
        seeds: seeds (label subset and initialisation).
        arms: "pretrained" and/or "random".
        output_dir: folder of the report; the runs go under
            `<output_dir>/runs`.
        smoke: use the experiment's smoke overrides.
        **overrides: further config overrides for every run, e.g. `epochs`,
            `freeze_epochs`, `min_steps_per_epoch` (the same for every
            fraction: an epoch of a small subset is repeated up to
            `min_steps_per_epoch` steps, so that 1 % of the labels still gets
            enough optimizer steps, and validation runs once per epoch).

    Returns:
        The output folder.

    Raises:
        ValueError: an unknown arm or an empty grid.
    """
    from flarekit import experiments as fx

    unknown = [arm for arm in arms if arm not in ARMS]
    if unknown or not fractions or not seeds or not arms:
        raise ValueError(
            f"Need non-empty fractions, seeds and arms from {list(ARMS)}; got "
            f"fractions {fractions}, seeds {seeds}, arms {arms}."
        )
    folder = fx.find_experiment(experiment)
    output = Path(output_dir or "runs/label_efficiency").resolve()
    (output / "figures").mkdir(parents=True, exist_ok=True)
    config = fx.load_config(folder, smoke=smoke, overrides=overrides)
    rows = []
    for fraction in fractions:
        for seed in seeds:
            for arm in arms:
                started = time.perf_counter()
                run_overrides = {
                    **overrides,
                    "encoder_path": str(encoder_path),
                    "encoder_weights": arm,
                    "label_fraction": float(fraction),
                    "seed": int(seed),
                    "output_dir": str(output / "runs"),
                }
                run_dir = fx.run_experiment(
                    folder, smoke=smoke, fresh=True, **run_overrides
                )
                metrics = json.loads((Path(run_dir) / "metrics.json").read_text())
                settings = json.loads((Path(run_dir) / "config.json").read_text())
                rows.append(
                    {
                        "encoder_path": str(encoder_path),
                        "fraction": float(fraction),
                        "arm": arm,
                        "seed": int(seed),
                        "epochs": config.epochs,
                        "freeze_epochs": config.freeze_epochs
                        if arm == "pretrained"
                        else 0,
                        "steps": _steps(metrics),
                        "labelled_examples": _labelled_examples(metrics),
                        "wall_s": time.perf_counter() - started,
                        "run_dir": str(run_dir),
                        "dataset": settings["dataset"],
                        "threshold": settings["threshold"],
                        "metrics": metrics,
                    }
                )
    write_label_efficiency_report(rows, output)
    return output


def _protocol_line(run_dir) -> str:
    """The fine-tuning settings of a run, from its config.json."""
    path = Path(run_dir) / "config.json"
    if not path.exists():
        return "- protocol: (config.json not found)"
    config = json.loads(path.read_text())
    keys = (
        "batch_size",
        "learning_rate",
        "finetune_learning_rate",
        "freeze_epochs",
        "linear_probe",
        "min_steps_per_epoch",
        "normalize_features",
        "zero_init_head",
        "recalibrate_batch_norm",
        "dropout",
    )
    return "- protocol: " + ", ".join(
        f"{k} {config.get(k)}" for k in keys if k in config
    )


def rebuild_report(output) -> Path:
    """Re-write the report of a finished grid from its runs' own files.

    Args:
        output: the folder `run_label_efficiency` wrote (with
            label_efficiency.csv listing the run folders).

    Returns:
        Path of label_efficiency.md.
    """
    import pandas as pd

    output = Path(output)
    table = pd.read_csv(output / "label_efficiency.csv")
    rows = []
    for record in table.to_dict("records"):
        run_dir = Path(record["run_dir"])
        rows.append(
            {
                **{
                    key: record[key]
                    for key in (
                        "encoder_path",
                        "fraction",
                        "arm",
                        "seed",
                        "epochs",
                        "freeze_epochs",
                        "steps",
                        "labelled_examples",
                        "wall_s",
                        "run_dir",
                        "dataset",
                        "threshold",
                    )
                },
                "metrics": json.loads((run_dir / "metrics.json").read_text()),
            }
        )
    return write_label_efficiency_report(rows, output)


def pretraining_lines(encoder_path) -> list[str]:
    """What the encoder was pretrained on, from its SimCLR run folder.

    Reads `config.json` and `metrics.json` beside `encoder_path` (the run
    folder `network_models/ssl/simclr_pretrain` writes): dataset and split,
    number of images, epochs and steps, the online linear probe's validation
    accuracy against the majority class, and the training time.
    """
    from flarekit.metrics import format_number

    run_dir = Path(encoder_path).parent
    lines = [f"- encoder: `{Path(encoder_path).name}` of `{run_dir.name}`"]
    config_path, metrics_path = run_dir / "config.json", run_dir / "metrics.json"
    if not (config_path.exists() and metrics_path.exists()):
        return [*lines, "- pretraining: (run folder's config.json/metrics.json not found)"]
    config = json.loads(config_path.read_text())
    pretraining = json.loads(metrics_path.read_text()).get("pretraining", {})
    timings_path = run_dir / "timings.json"
    timings = {
        **pretraining.get("timings", {}),
        **(json.loads(timings_path.read_text()) if timings_path.exists() else {}),
    }
    probe = pretraining.get("probe_validation_accuracy")
    majority = pretraining.get("validation_majority_class_accuracy")
    lines += [
        f"- pretraining set: `{config.get('dataset')}` split "
        f"`{config.get('pretrain_split')}`, {pretraining.get('pretrain_examples', '?')} "
        f"unlabelled images, channels {list(config.get('channels', []))}, "
        f"{config.get('image_size')} px",
        f"- pretraining: SimCLR, {timings.get('epochs_trained', config.get('epochs'))} "
        f"epochs of {timings.get('images_per_epoch', '?')} images, batch "
        f"{config.get('batch_size')}, {config.get('optimizer')} rate "
        f"{config.get('learning_rate')}, temperature {config.get('temperature')}; "
        f"{format_number(timings.get('train_s'), 0)} s "
        f"({format_number(timings.get('images_per_s_after_first_epoch'), 0)} images/s "
        f"after the first epoch), precision "
        f"{timings.get('precision', config.get('mixed_precision'))}",
        f"- contrastive accuracy at the end "
        f"{format_number(pretraining.get('contrastive_accuracy'))}; online linear probe "
        f"(a flare >= {config.get('threshold')}) on validation: accuracy "
        f"{format_number(probe)} against {format_number(majority)} for the majority class",
    ]
    return lines


def _frozen_backbone(metrics) -> bool:
    """Whether the run kept its backbone frozen throughout (a linear probe)."""
    phases = metrics.get("settings", {}).get("transfer", {}).get("phases") or []
    return bool(phases) and not any(phase.get("backbone_trainable") for phase in phases)


def arm_label(entry) -> str:
    """The table's name of a summary entry's arm."""
    if entry["arm"] == "pretrained" and entry.get("frozen_backbone"):
        return "SimCLR encoder frozen, linear head trained"
    return ARMS[entry["arm"]]


def _steps(metrics) -> int | None:
    value = metrics.get("settings", {}).get("transfer", {}).get("optimizer_steps")
    return None if value is None else int(value)


def _labelled_examples(metrics) -> int | None:
    transfer = metrics.get("settings", {}).get("transfer", {})
    value = transfer.get("labelled_examples")
    return None if value is None else int(value)


def summarise(rows) -> list[dict]:
    """Mean +- sd over seeds of each score, per (fraction, arm)."""
    from flarekit.metrics import aggregate_runs

    groups = {}
    for row in rows:
        groups.setdefault((row["fraction"], row["arm"]), []).append(row)
    summary = []
    for (fraction, arm), members in sorted(groups.items()):
        stats = aggregate_runs(
            [m["metrics"] for m in members], list(SCORE_KEYS.values())
        )
        entry = {
            "fraction": fraction,
            "arm": arm,
            "frozen_backbone": all(_frozen_backbone(m["metrics"]) for m in members),
            "seeds": [m["seed"] for m in members],
            "labelled_examples": members[0]["labelled_examples"],
            "epochs": members[0]["epochs"],
            "steps": members[0]["steps"],
        }
        for name, key in SCORE_KEYS.items():
            entry[name] = stats[key]
        summary.append(entry)
    return summary


def plot_label_efficiency(summary, ceiling=None):
    """TSS (validation-chosen threshold) vs label fraction, mean +- sd, per arm,
    each seed as a dot; `ceiling` (the Bayes-ceiling TSS) as a dotted line."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.6, 4.0))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for arm, label in ARMS.items():
        entries = [e for e in summary if e["arm"] == arm]
        if not entries:
            continue
        fractions = [100 * e["fraction"] for e in entries]
        means = [e["tss"]["mean"] for e in entries]
        sds = [0.0 if np.isnan(e["tss"]["sd"]) else e["tss"]["sd"] for e in entries]
        line = axes.errorbar(
            fractions, means, yerr=sds, marker="o", capsize=4, label=label
        )
        colour = line[0].get_color()
        for e, x in zip(entries, fractions):
            values = e["tss"]["values"]
            axes.scatter([x] * len(values), values, s=10, alpha=0.5, color=colour)
    axes.set_xscale("log")
    axes.set_xlabel("labelled training examples used (%)")
    axes.set_ylabel("TSS (test, threshold chosen on validation)")
    axes.axhline(0, color="grey", lw=0.8, ls="--")
    if ceiling is not None and np.isfinite(ceiling):
        axes.axhline(
            ceiling, color="black", lw=0.8, ls=":", label="Bayes ceiling (test)"
        )
    axes.legend(fontsize=8)
    axes.set_title("Label efficiency: mean ± sd over seeds")
    figure.tight_layout()
    return figure


def write_label_efficiency_report(rows, output) -> Path:
    """label_efficiency.md / .csv / .json and the figure, atomically.

    Args:
        rows: one dict per run (fraction, arm, seed, epochs, metrics, ...).
        output: the report folder.

    Returns:
        Path of label_efficiency.md.
    """
    import pandas as pd

    from flarekit.io import (
        save_figure,
        write_csv_atomic,
        write_json_atomic,
        write_text_atomic,
    )
    from flarekit.metrics import format_mean_sd, format_number, get_path

    output = Path(output)
    summary = summarise(rows)
    flat = pd.DataFrame(
        [
            {
                **{k: row[k] for k in row if k != "metrics"},
                **{
                    name: get_path(row["metrics"], key)
                    for name, key in SCORE_KEYS.items()
                },
            }
            for row in rows
        ]
    )
    write_csv_atomic(output / "label_efficiency.csv", flat)
    write_json_atomic(output / "label_efficiency.json", {"summary": summary})
    ceiling = get_path(rows[0]["metrics"], "bayes_ceiling.tss")
    figure = plot_label_efficiency(summary, None if ceiling is None else float(ceiling))
    figure_path = output / "figures" / "label_efficiency.png"
    save_figure(figure, figure_path)
    first = rows[0]
    settings = first["metrics"].get("settings", {})
    lines = [
        "# Label efficiency: SimCLR-pretrained encoder vs the same network "
        "from scratch",
        "",
        f"- dataset `{first['dataset']}`, task: a flare >= {first['threshold']} within "
        f"{settings.get('horizon_hours', '?')} h, unit: {settings.get('unit', '?')}",
        f"- test split: {settings.get('split_counts', {}).get('test', '?')} samples, "
        "scored whole; thresholds chosen on the whole validation split",
        "- both arms: same encoder architecture and input resolution, same label "
        "subset per seed, same epochs; the pretrained arm trains its head alone "
        "for the first epochs (backbone frozen), then everything at a lower rate",
        *(pretraining_lines(first["encoder_path"]) if first.get("encoder_path") else []),
        _protocol_line(first["run_dir"]),
        f"- seeds: {sorted({r['seed'] for r in rows})}; "
        "mean ± sd (sample sd) over seeds",
        f"- test base rate {format_number(get_path(first['metrics'], 'base_rates.test'))}; "
        "Bayes-ceiling TSS on the test set (the true probability thresholded "
        f"optimally) {format_number(get_path(first['metrics'], 'bayes_ceiling.tss'))}",
        "",
        "| labels | examples | epochs (steps) | arm | TSS | HSS2 "
        "| false-alarm ratio | BSS | ROC AUC |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for entry in summary:
        cells = [
            format_mean_sd(entry[name]["mean"], entry[name]["sd"])
            for name in SCORE_KEYS
        ]
        lines.append(
            f"| {100 * entry['fraction']:g} % | {entry['labelled_examples']} | "
            f"{entry['epochs']} ({entry['steps']}) | {arm_label(entry)} | "
            + " | ".join(cells)
            + " |"
        )
    missing = [e for e in summary if e["tss"]["n_missing"]]
    if missing:
        lines += [
            "",
            f"Undefined TSS in {sum(e['tss']['n_missing'] for e in missing)} run(s) "
            "(no positive or no negative forecast); left out of the mean.",
        ]
    probe_path = output / "probe.json"
    if probe_path.exists():  # written by tools/ssl_measurement.py
        lines += probe_lines(json.loads(probe_path.read_text()))
    lines += [
        "",
        "![label efficiency](figures/label_efficiency.png)",
        "",
        f"Runs: {len(rows)}, total wall time "
        f"{sum(r['wall_s'] for r in rows) / 60:.1f} min; "
        "per-run folders and reports are under `runs/`.",
    ]
    return write_text_atomic(output / "label_efficiency.md", "\n".join(lines) + "\n")


def frozen_linear_probe(
    encoder_path,
    dataset: str = "synthetic_sun/active_region",
    threshold: str = "C1.0",
    data_dir: str | None = None,
    batch_size: int = 256,
    seed: int = 0,
) -> dict:
    """Does the encoder's frozen feature space hold the flare signal?

    A logistic regression (scikit-learn, standardised features, L2, C = 1) on
    the frozen features of every labelled training example, scored on
    validation (accuracy against the majority class, ROC AUC, log loss against
    the base-rate forecast's) and on test (TSS at the threshold that maximises
    it on validation). The same probe on the same architecture with fresh
    random weights (`keras.models.clone_model`) is the control: a probe above
    the majority class is no evidence of learning if random features get
    there too.

    Args:
        encoder_path: the pretrained `.keras` encoder (raw images -> [B, D]).
        dataset: a labelled dataset with the encoder's input channels.
        threshold: the class a flare must reach.
        data_dir: TFDS data folder.
        batch_size: images per forward pass.
        seed: seed of the random control's weights.

    Returns:
        {"pretrained": scores, "random": scores, "examples": {split: n}}.
    """
    import keras
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss, roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from flarekit import models
    from flarekit.data import pipeline, tasks
    from flarekit.metrics.forecast import best_tss_threshold, binary_scores

    task = tasks.binary(threshold)
    data = {
        split: pipeline.make_dataset(
            dataset, split, task=task, batch_size=batch_size, data_dir=data_dir
        )
        for split in ("train", "validation", "test")
    }
    labels = {
        split: np.concatenate([np.asarray(y).ravel() for _, y in batches])
        for split, batches in data.items()
    }
    pretrained = models.load_encoder(encoder_path)
    keras.utils.set_random_seed(seed)
    encoders = {"pretrained": pretrained, "random": keras.models.clone_model(pretrained)}
    result = {"examples": {split: len(y) for split, y in labels.items()}}
    for name, encoder in encoders.items():
        features = {
            split: np.concatenate(
                [np.asarray(encoder(x, training=False), np.float64) for x, _ in batches]
            )
            for split, batches in data.items()
        }
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        probe.fit(features["train"], labels["train"])
        p_val = probe.predict_proba(features["validation"])[:, 1]
        p_test = probe.predict_proba(features["test"])[:, 1]
        y_val, y_test = labels["validation"], labels["test"]
        base_rate = float(labels["train"].mean())
        cut = best_tss_threshold(y_val, p_val)
        result[name] = {
            "validation_accuracy": float(np.mean((p_val >= 0.5) == y_val)),
            "validation_majority_accuracy": float(max(y_val.mean(), 1 - y_val.mean())),
            "validation_roc_auc": float(roc_auc_score(y_val, p_val)),
            "validation_log_loss": float(log_loss(y_val, p_val)),
            "validation_base_rate_log_loss": float(
                log_loss(y_val, np.full(len(y_val), base_rate))
            ),
            "test_roc_auc": float(roc_auc_score(y_test, p_test)),
            "test_tss": float(binary_scores(y_test, p_test, cut)["tss"]),
            "threshold": float(cut),
            "features": int(features["train"].shape[1]),
        }
    return result


def probe_lines(probe: dict) -> list[str]:
    """Markdown table rows of `frozen_linear_probe`'s result."""
    from flarekit.metrics import format_number

    lines = [
        "",
        "Frozen linear probe (logistic regression on the encoder's features of all "
        f"{probe['examples']['train']} labelled training patches; validation "
        f"{probe['examples']['validation']}, test {probe['examples']['test']}):",
        "",
        "| encoder | val accuracy | val majority class | val ROC AUC | val log loss "
        "(base rate's) | test ROC AUC | test TSS |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, label in (("pretrained", "SimCLR-pretrained"), ("random", "same, random weights")):
        s = probe[name]
        lines.append(
            f"| {label} | {format_number(s['validation_accuracy'])} | "
            f"{format_number(s['validation_majority_accuracy'])} | "
            f"{format_number(s['validation_roc_auc'])} | "
            f"{format_number(s['validation_log_loss'])} "
            f"({format_number(s['validation_base_rate_log_loss'])}) | "
            f"{format_number(s['test_roc_auc'])} | {format_number(s['test_tss'])} |"
        )
    return lines
