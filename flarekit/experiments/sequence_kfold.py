"""K-fold experiments on sequences: the hybrid split, oversampling variants, mean +- sd.

Grim & Gradvohl forecast >= M flares within 24 h and 48 h from 16-frame
SHARP magnetogram sequences with MViTv2, cross-validating over the first
block in time and testing on the last block. flarekit runs that protocol
with the traps closed:

- the split is `flarekit.data.splits.hybrid_kfold_split` over all samples
  of the dataset (its train, validation and test splits pooled): a
  chronological test block at the end, a gap before it, k folds over the
  development block with gaps and region grouping between train and
  validation;
- oversampling (config `oversampling`: "none", "train",
  "train_and_validation") makes `oversample_copies` copies of each positive
  by physically valid transforms only (time shifts, noise; never flips);
  any variant naming the test block raises `EvaluationSetError` before
  anything is read;
- each fold chooses its decision threshold on its own validation fold and
  scores the same untouched test block; the run reports mean +- sd over the
  folds of TSS, HSS2 and the false-alarm ratio (with precision, POD, BSS,
  ROC AUC) with `flarekit.metrics.aggregate_runs`: never the best fold
  (SCIENCE.md trap 4);
- the per-fold table is printed too, all folds, in fold order.

Each fold is resumable (its own `fold_<k>/checkpoints/`), and a finished
fold is not retrained when the run is restarted. Attention maps of the
first fold's model (factorised transformer) go to `figures/`.

Registered as trainer "sequence_kfold" in `flarekit.experiments.config.TRAINERS`.
Config keys beside the common ones: `SequenceKFoldExperiment.DEFAULTS`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from flarekit.experiments.checkpoints import (
    STATE_FILE,
    load_saved_model,
    resume_point,
)
from flarekit.experiments.config import ConfigError
from flarekit.experiments.runner import TIMINGS_FILE, Experiment, set_seed
from flarekit.io import write_csv_atomic, write_json_atomic, write_text_atomic

if TYPE_CHECKING:
    import pandas as pd

# Scores aggregated over folds: (dotted key in a fold's metrics.json, title).
AGGREGATED_SCORES = (
    ("headline.tss", "TSS"),
    ("headline.hss2", "HSS2"),
    ("headline.false_alarm_ratio", "false-alarm ratio"),
    ("headline.precision", "precision"),
    ("headline.pod", "POD"),
    ("headline.bss", "BSS"),
    ("headline.roc_auc", "ROC AUC"),
    ("headline.decision_threshold", "decision threshold (from validation fold)"),
    ("forecasters.model.at_default.tss", "TSS at 0.5"),
    ("forecasters.model.at_default.hss2", "HSS2 at 0.5"),
    ("forecasters.model.at_default.false_alarm_ratio", "false-alarm ratio at 0.5"),
    ("bayes_ceiling.tss", "Bayes-ceiling TSS"),
    ("bayes_ceiling.model_fraction_at_validation_optimal", "TSS / ceiling"),
)
BASELINE_SCORES = ("tss", "hss2", "false_alarm_ratio")
TABLE_SCORES = ("headline.tss", "headline.hss2", "headline.false_alarm_ratio")


class SequenceKFoldExperiment(Experiment):
    """Hybrid k-fold training and evaluation of a binary sequence forecaster."""

    # The validation AUC picks each fold's checkpoint (and stops it early): with
    # positives oversampled in training only, the validation log loss mostly
    # measures how far the forecast's base rate is from the fold's, and keeps
    # falling while the network overfits (in the 24 h study it fell from 0.37 to
    # 0.25 over 13 epochs while the validation AUC fell from 0.72 to 0.54).
    monitor = "val_auc"

    DEFAULTS = {
        "n_folds": 5,
        "test_fraction": 0.2,
        "fold_gap_days": 27.0,
        "fold_by": "time",
        "oversampling": "train",
        "oversample_copies": 5,
        "transforms": ("time_shift", "noise"),
        "max_time_shift": 3,
        "noise_level": 0.02,
        "attention_samples": 3,
    }

    @classmethod
    def check_config(cls, config) -> None:
        """Refuse a forbidden oversampling variant, or a task not scored as a
        binary forecast, before a run folder is made."""
        from flarekit.data import sequences, tasks

        task_class = tasks.TASKS.get(config.get("task"))
        if task_class is not None and task_class.evaluation != "binary":
            # Oversampling copies positives and the folds aggregate TSS, HSS2
            # and the false-alarm ratio: all of it needs 0/1 targets.
            raise ConfigError(
                f"config key 'task' is {config.get('task')!r}, scored as "
                f"{task_class.evaluation!r}; the k-fold sequence trainer needs a task "
                "scored as 'binary', such as 'sequence'."
            )
        try:
            sequences.oversampled_parts(config.oversampling)
            sequences.check_transforms(config.transforms)
        except ValueError as error:
            # EvaluationSetError is a ValueError: the protocol is refused
            # before anything is read, as a config error of its own kind.
            if type(error) is not ValueError:
                raise
            raise ConfigError(
                f"config key 'oversampling'/'transforms': {error}"
            ) from None

    # ---- data -------------------------------------------------------------
    def check_protocol(self) -> tuple:
        """Oversampled parts and transforms; raises before any data is read.

        Raises:
            EvaluationSetError: an oversampling variant that names the test block.
            ValueError: an unknown variant, or a flip / rotation transform.
        """
        from flarekit.data import sequences

        parts = sequences.oversampled_parts(self.config["oversampling"])
        transforms = sequences.check_transforms(self.config["transforms"])
        return parts, transforms

    def prepare_data(self):
        from flarekit.data import pipeline, sequences, splits, tasks

        config = self.config
        self.oversampled, self.transforms = self.check_protocol()
        self.load_dataset()
        self.task = tasks.from_config(config, self.channel_names)
        wanted = [
            "timestamp",
            "region",
            "peak_flux",
            "previous_peak_flux",
            "goes_class",
        ]
        wanted = [key for key in wanted if key in self.builder.info.features]
        self.samples = pipeline.read_columns(
            self.builder, sequences.POOLED_SPLITS, wanted
        )
        self.keys = sequences.sample_keys(
            self.samples["timestamp"], self.samples["region"]
        )
        # Read once, filtered into every fold's parts (see sequences.pooled_dataset).
        self.pool = sequences.pooled_dataset(self.builder)
        self.split = splits.hybrid_kfold_split(
            self.samples["timestamp"].to_numpy(),
            self.samples["region"].to_numpy(),
            n_folds=int(self.config["n_folds"]),
            test_fraction=float(self.config["test_fraction"]),
            gap_days=float(self.config["fold_gap_days"]),
            fold_by=self.config["fold_by"],
            seed=config.seed,
        )
        self.labels = self.task.labels_from_flux(self.samples["peak_flux"].to_numpy())

    def part(self, fold: int, name: str, oversample: bool = True, **kwargs):
        """tf.data of one part of fold `fold`; oversampled when the variant says so
        (and `oversample` is True)."""
        from flarekit.data import sequences

        resampled = oversample and name in self.oversampled
        copies = int(self.config["oversample_copies"]) if resampled else 0
        mask = self.split.folds[fold].mask(name)
        kwargs.setdefault(
            "num_examples", int(mask.sum() + copies * self.labels[mask].sum())
        )
        # The pool is cached in memory; a part is a quick filter of it.
        kwargs.setdefault("cache", False)
        return sequences.part_dataset(
            self.builder,
            self.task,
            self.keys[mask],
            name,
            seed=self.config.seed + fold,
            oversample_copies=copies,
            transforms=self.transforms,
            max_time_shift=int(self.config["max_time_shift"]),
            noise_level=float(self.config["noise_level"]),
            source=self.pool,
            **kwargs,
        )

    def input_shape(self) -> tuple:
        shape = list(self.builder.info.features[self.task.input_key].shape)
        if self.task.channel_indices:
            shape[-1] = len(self.task.channel_indices)
        return tuple(shape)

    # ---- one fold ---------------------------------------------------------
    def adapt_fold_normalization(self, model, fold: int) -> None:
        """Fit ChannelNormalization on the fold's training samples only (trap 3)."""
        count = int(self.split.folds[fold].mask("train").sum())
        stride = max(1, count // max(1, self.config.normalization_samples))
        # Statistics of the observed samples, not of the oversampled copies.
        data = self.part(fold, "train", oversample=False, batch_size=None, cache=False)
        self.adapt_normalization(model, data.shard(stride, 0).batch(64))

    def fold_base_rate(self, fold: int) -> float:
        """Event rate of the fold's training samples, before oversampling."""
        return float(np.mean(self.labels[self.split.folds[fold].mask("train")]))

    def clips_per_epoch(self, fold: int) -> int:
        """Training clips per epoch: the fold's samples plus the oversampled copies."""
        labels = self.labels[self.split.folds[fold].mask("train")]
        copies = (
            int(self.config["oversample_copies"]) if "train" in self.oversampled else 0
        )
        return int(len(labels) + copies * labels.sum())

    def fold_class_weight(self, fold: int):
        if self.config.class_weight == "none":
            return None
        if self.config.class_weight != "balanced":
            raise ValueError(
                f"Config key 'class_weight' is {self.config.class_weight!r}; expected "
                "'none' or 'balanced'."
            )
        rate = self.fold_base_rate(fold)
        return {0: 0.5 / (1 - rate), 1: 0.5 / rate}

    def fold_predictions(self, model, fold: int, name: str):
        """predictions.csv rows of one part (the validation part as the model saw
        it: oversampled under "train_and_validation")."""
        keep = self.kept_features()
        data = self.part(
            fold,
            name,
            batch_size=self.config.batch_size * 4,
            cache=False,
            keep_features=keep,
        )
        return self.prediction_frame(model, data, name, keep)

    def fold_settings(self, fold: int) -> dict:
        settings = self.settings()
        fold_split = self.split.folds[fold]
        settings.update(
            split=fold_split.to_metadata(),
            split_counts=fold_split.counts(),
            gap_days=fold_split.gap_days,
            aggregation=f"fold {fold} of {len(self.split.folds)} (one of the runs "
            "aggregated as mean +- sd)",
            fold=fold,
        )
        return settings

    def run_fold(self, fold: int) -> dict:
        """Train fold `fold` (resuming if interrupted), score it, return its metrics."""
        import pandas as pd

        from flarekit import metrics, report

        config = self.config
        fold_dir = self.run_dir / f"fold_{fold}"
        checkpoints = fold_dir / "checkpoints"
        if (fold_dir / "metrics.json").exists():
            return json.loads((fold_dir / "metrics.json").read_text())
        checkpoints.mkdir(parents=True, exist_ok=True)
        (fold_dir / "figures").mkdir(exist_ok=True)
        state, model_path = resume_point(checkpoints)
        set_seed(config.seed + fold, config.deterministic)
        with self.strategy.scope():
            if state:
                model = load_saved_model(model_path)
            else:
                model = self.build_network(config)
                self.adapt_fold_normalization(model, fold)
                self.compile(model)
        self.timings = {"replicas": int(model.distribute_strategy.num_replicas_in_sync)}
        train = self.part(fold, "train", batch_size=config.batch_size, shuffle=True)
        validation = self.part(fold, "validation", batch_size=config.batch_size)
        timer = _TrainTimer()
        seconds = self.fit(
            model,
            state,
            train=train,
            validation=validation,
            run_dir=fold_dir,
            extra_callbacks=[timer()],
            class_weight=self.fold_class_weight(fold),
            steps_per_epoch=None,
        )
        timings = {"replicas": self.timings["replicas"]}
        if seconds:
            timings["fit_s"] = seconds
            for key in ("epochs_trained", "stopped_early_after_epoch"):
                if key in self.timings:
                    timings[key] = self.timings[key]
            timings["train_clips_per_epoch"] = self.clips_per_epoch(fold)
            timings.update(timer.clips_per_second(self.clips_per_epoch(fold)))
        if (checkpoints / "best.keras").exists():
            model = load_saved_model(checkpoints / "best.keras")
        validation_rows = self.fold_predictions(model, fold, "validation")
        test_rows = self.fold_predictions(model, fold, "test")
        predictions = pd.concat([validation_rows, test_rows], ignore_index=True)
        write_csv_atomic(fold_dir / "predictions.csv", predictions)
        # Costs apart from scores (timings.json), as in every run folder.
        self.write_timings_file(fold_dir, timings)
        settings = self.fold_settings(fold)
        result = metrics.evaluate(
            self.task.evaluation,
            test_rows,
            validation_rows,
            train_base_rate=self.fold_base_rate(fold),
            settings=settings,
        )
        history = (
            pd.read_csv(fold_dir / "history.csv")
            if (fold_dir / "history.csv").exists()
            else None
        )
        report.write_report(fold_dir, result, settings, history, predictions)
        if fold == 0:
            self.write_attention_maps(model)
        write_json_atomic(fold_dir / "metrics.json", result)
        return result

    # ---- the run's hooks --------------------------------------------------
    def train_model(self, state: dict, model_path) -> list:
        """Every fold in turn (a finished fold is read back, not retrained);
        returns the folds' metrics, which `finish` aggregates."""
        checkpoints = self.run_dir / "checkpoints"
        write_json_atomic(self.run_dir / "split.json", self.split.to_metadata())
        checkpoints.mkdir(exist_ok=True)
        if not (checkpoints / STATE_FILE).exists():
            write_json_atomic(
                checkpoints / STATE_FILE, {"kind": "kfold", "folds_done": 0}
            )
        with self.strategy.scope():
            self._write_summary(self.build_network(self.config))
        fold_metrics = []
        for fold in range(len(self.split.folds)):
            fold_metrics.append(self.run_fold(fold))
            # The run-level state marks the run resumable (find_resumable_run).
            write_json_atomic(
                checkpoints / STATE_FILE,
                {
                    "kind": "kfold",
                    "folds_done": fold + 1,
                    "n_folds": len(self.split.folds),
                },
            )
        return fold_metrics

    def finish(self, fold_metrics: list) -> None:
        self.write_aggregate(fold_metrics)

    def write_aggregate(self, fold_metrics: list) -> dict:
        """metrics.json and report.md of the whole run: mean +- sd over folds."""
        from flarekit import metrics

        hashes = {m["test_set"]["hash"] for m in fold_metrics}
        if len(hashes) != 1:
            raise RuntimeError(
                f"The folds were scored on {len(hashes)} different test sets; the test "
                "block must be the same untouched samples in every fold."
            )
        keys = [key for key, _ in AGGREGATED_SCORES]
        baseline_keys = [
            f"forecasters.{name}.at_validation_optimal.{score}"
            for name in ("climatology", "persistence")
            for score in BASELINE_SCORES
        ] + [
            f"forecasters.{name}.at_default.{score}"
            for name in ("persistence", "always_no")
            for score in BASELINE_SCORES
        ]
        aggregate = metrics.aggregate_runs(fold_metrics, keys + baseline_keys)
        timings = [self.fold_timings(fold) for fold in range(len(fold_metrics))]
        speeds = [t["train_clips_per_s"] for t in timings if t.get("train_clips_per_s")]
        first = fold_metrics[0]
        result = {
            "task_kind": self.task.evaluation,
            "aggregation": (
                f"mean +- sd (ddof=1) over {len(fold_metrics)} folds, each scored on "
                "the "
                "same untouched test block at its own validation-chosen threshold; "
                "never the best fold"
            ),
            "n_folds": len(fold_metrics),
            "scores": aggregate,
            "per_fold": [
                {key: metrics.get_path(m, key) for key in keys} for m in fold_metrics
            ],
            "test_set": first["test_set"],
            "base_rates": {
                "test": metrics.get_path(first, "base_rates.test"),
                "train_per_fold": [
                    metrics.get_path(m, "base_rates.train") for m in fold_metrics
                ],
            },
            "protocol": self.protocol(),
            "settings": {
                key: value
                for key, value in first["settings"].items()
                if key not in ("fold", "timings", "split", "split_counts")
            },
            "headline": {
                "tss": aggregate["headline.tss"]["mean"],
                "tss_sd": aggregate["headline.tss"]["sd"],
                "hss2": aggregate["headline.hss2"]["mean"],
                "hss2_sd": aggregate["headline.hss2"]["sd"],
                "false_alarm_ratio": aggregate["headline.false_alarm_ratio"]["mean"],
                "false_alarm_ratio_sd": aggregate["headline.false_alarm_ratio"]["sd"],
            },
        }
        run_timings = {
            # The run's own costs; each fold's (fit_s, epochs, early stop) are
            # under "folds", not the last fold's at the top.
            "replicas": self.timings.get("replicas", 1),
            "train_clips_per_s_mean": float(np.mean(speeds)) if speeds else None,
            "train_clips_per_s_per_fold": speeds,
            "folds": timings,
        }
        self.write_timings_file(self.run_dir, run_timings)
        write_text_atomic(self.run_dir / "report.md",
                          self.aggregate_report(result, run_timings))
        # metrics.json last: its presence marks the run finished (find_resumable_run).
        write_json_atomic(self.run_dir / "metrics.json", result)
        print(f"flarekit: k-fold report written to {self.run_dir / 'report.md'}")
        return result

    def protocol(self) -> dict:
        return {
            "split": "hybrid k-fold (flarekit.data.splits.hybrid_kfold_split)",
            "n_folds": int(self.config["n_folds"]),
            "fold_by": self.config["fold_by"],
            "test_fraction": float(self.config["test_fraction"]),
            "gap_days": float(self.config["fold_gap_days"]),
            "oversampling": self.config["oversampling"],
            "oversampled_parts": list(self.oversampled),
            "oversample_copies": int(self.config["oversample_copies"]),
            "transforms": list(self.transforms),
            "max_time_shift_frames": int(self.config["max_time_shift"]),
            "noise_level": float(self.config["noise_level"]),
            "test_block": "never oversampled, augmented or used for a choice",
            "architecture": self.config.get("architecture", "unstated"),
        }

    def fold_timings(self, fold: int) -> dict:
        """The costs of one fold (its timings.json; {} where none was written)."""
        path = self.run_dir / f"fold_{fold}" / TIMINGS_FILE
        return json.loads(path.read_text()) if path.is_file() else {}

    def write_timings_file(self, folder, timings: dict) -> None:
        write_json_atomic(Path(folder) / TIMINGS_FILE, {**timings, **self.precision})

    def aggregate_report(self, result: dict, timings: dict) -> str:
        from flarekit.metrics import format_mean_sd, format_number

        scores, settings = result["scores"], result["settings"]
        lines = [
            (
                f"# Report: {settings.get('experiment', self.name)} "
                f"({result['n_folds']}-fold)"
            ),
            "",
            f"**Aggregation: {result['aggregation']}.**",
            "",
            "| setting | value |",
            "|---|---|",
        ]
        rows = {
            "dataset": settings.get("dataset"),
            "task": f"binary, >= {settings.get('threshold')} within "
            f"{settings.get('horizon_hours')} h ({settings.get('window_rule')})",
            "unit": settings.get("unit"),
            "flux scale": settings.get("flux_scale"),
            "architecture": result["protocol"]["architecture"],
            "split": f"{result['protocol']['split']}, folds by "
            f"{result['protocol']['fold_by']}, "
            f"test block = last {result['protocol']['test_fraction']:.0%} of time, "
            f"{result['protocol']['gap_days']:g}-day gaps",
            "oversampling": f"{result['protocol']['oversampling']} "
            f"(parts {result['protocol']['oversampled_parts'] or 'none'}, "
            f"{result['protocol']['oversample_copies']} copies per positive by "
            f"{', '.join(result['protocol']['transforms'])}; no flips or rotations)",
            "test block": f"{result['test_set']['n_samples']} samples, "
            f"{result['test_set']['n_regions']} regions, base rate "
            f"{format_number(result['base_rates']['test'])}, sha256 "
            f"{result['test_set']['hash'][:16]}...",
            "decision threshold": "TSS-maximising on each fold's validation part",
            "training clips/s": format_number(timings["train_clips_per_s_mean"], 1),
        }
        lines += [f"| {key} | {value} |" for key, value in rows.items()]
        lines += [
            "",
            "## Scores on the test block (mean ± sd over folds)",
            "",
            "| score | mean ± sd | n |",
            "|---|---|---|",
        ]
        for key, title in AGGREGATED_SCORES:
            stats = scores[key]
            lines.append(
                f"| {title} | {format_mean_sd(stats['mean'], stats['sd'])} "
                f"| {stats['n']} |"
            )
        lines += [
            "",
            "## Reference forecasters (mean ± sd over folds)",
            "",
            "| forecaster | TSS | HSS2 | false-alarm ratio |",
            "|---|---|---|---|",
        ]
        for name, where in (
            ("climatology", "at_validation_optimal"),
            ("persistence", "at_default"),
            ("always_no", "at_default"),
        ):
            cells = []
            for score in BASELINE_SCORES:
                stats = scores.get(f"forecasters.{name}.{where}.{score}", {})
                cells.append(format_mean_sd(stats.get("mean"), stats.get("sd")))
            lines.append(f"| {name.replace('_', ' ')} | " + " | ".join(cells) + " |")
        lines += [
            "",
            "## Every fold (not a choice: all folds count)",
            "",
            "| fold | TSS | HSS2 | false-alarm ratio | threshold | report |",
            "|---|---|---|---|---|---|",
        ]
        for fold, row in enumerate(result["per_fold"]):
            cells = [format_number(row[key]) for key in TABLE_SCORES]
            cells.append(format_number(row["headline.decision_threshold"]))
            lines.append(
                f"| {fold} | "
                + " | ".join(cells)
                + f" | [fold_{fold}](fold_{fold}/report.md) |"
            )
        figures = sorted((self.run_dir / "figures").glob("attention*.png"))
        lines += ["", "## Attention maps", ""]
        if figures:
            lines.append(
                "Joint space-time attention rollout of fold 0's model on test-block "
                "sequences: spatial relevance per token time step, and the share of "
                "relevance per time step (the label belongs to the last frame)."
            )
            lines += [""] + [f"![{path.stem}](figures/{path.name})" for path in figures]
        else:
            lines.append(
                "No attention maps: the model has no factorised space-time blocks "
                "(VideoSwin windows or a CNN)."
            )
        return "\n".join(lines) + "\n"

    def write_attention_maps(self, model) -> None:
        """Attention figures of a factorised transformer on test sequences
        (positives first); nothing for other models."""
        from flarekit.interpret import attention
        from flarekit.io import save_figure
        from flarekit.models.video import FactorisedSpaceTimeBlock

        if not any(
            isinstance(layer, FactorisedSpaceTimeBlock) for layer in model.layers
        ):
            return
        count = int(self.config["attention_samples"])
        data = self.part(0, "test", batch_size=None, cache=False)
        positives, negatives = [], []
        for inputs, target in data:
            (positives if float(target[0]) > 0.5 else negatives).append(inputs.numpy())
            if len(positives) >= count and len(negatives) >= count:
                break
        chosen = (positives + negatives)[:count]
        if not chosen:
            return
        clips = np.stack(chosen)
        maps = attention.video_attention_maps(model, clips)
        probabilities = model.predict_on_batch(clips)[:, 0]
        for index in range(len(clips)):
            outcome = "flare" if index < len(positives) else "no flare"
            figure = attention.plot_video_attention(
                clips[index],
                maps,
                index,
                title=f"test sequence {index}: {outcome} >= {self.task.threshold}; "
                f"forecast {probabilities[index]:.2f}",
                channel=0,
                channel_name=(list(self.config.channels) or list(self.channel_names))[
                    0
                ],
            )
            save_figure(figure, self.run_dir / "figures" / f"attention_{index}.png")


class _TrainTimer:
    """Keras callback factory timing the training batches of each epoch (from
    the epoch's start to its last training batch: the validation pass and
    checkpointing are left out), for clips/s."""

    def __init__(self):
        self.epoch_seconds = []

    def __call__(self):
        import keras

        owner = self

        class _Timer(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                owner._started = owner._last = time.perf_counter()

            def on_train_batch_end(self, batch, logs=None):
                owner._last = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                owner.epoch_seconds.append(owner._last - owner._started)

        return _Timer()

    def clips_per_second(self, clips_per_epoch: int) -> dict:
        """Overall and steady-state (epochs after the first, which also traces
        the graph and fills the cache) clips/s."""
        seconds = self.epoch_seconds
        if not seconds:
            return {}
        result = {
            "train_clips_per_s_all_epochs": clips_per_epoch
            * len(seconds)
            / sum(seconds)
        }
        steady = seconds[1:] or seconds
        result["train_clips_per_s"] = clips_per_epoch * len(steady) / sum(steady)
        return result


def _epochs_run(run_dir: Path, folds: int) -> str:
    """'min-max of N' epochs the folds trained (history.csv rows), e.g. '7-12 of 25'."""
    import pandas as pd

    counts = [
        len(pd.read_csv(path))
        for path in (Path(run_dir) / f"fold_{k}" / "history.csv" for k in range(folds))
        if path.is_file()
    ]
    config_path = Path(run_dir) / "config.json"
    config = json.loads(config_path.read_text()) if config_path.is_file() else {}
    if not counts:
        return "?"
    low, high = min(counts), max(counts)
    span = str(low) if low == high else f"{low}-{high}"
    return f"{span} of {config.get('epochs', '?')}"


def kfold_comparison_table(run_dirs) -> pd.DataFrame:
    """One row per k-fold run: the model's name, dataset, architecture,
    oversampling, epochs the folds ran (early stopping), and the mean +- sd of
    TSS, HSS2 and false-alarm ratio over folds, with clips/s.

    `same_test_block` compares each run's test-block hash with the first
    run's: rows with different test blocks are not comparable.

    Args:
        run_dirs: run folders of `SequenceKFoldExperiment` runs.

    Returns:
        A pandas DataFrame.

    Raises:
        ValueError: a folder without a k-fold metrics.json.

    Example:
        >>> kfold_comparison_table([run_24h_video, run_24h_frame])  # doctest: +SKIP
    """
    import pandas as pd

    from flarekit.metrics import format_mean_sd, format_number
    from flarekit.report import model_name

    rows, first_hash = [], None
    for run_dir in run_dirs:
        path = Path(run_dir) / "metrics.json"
        metrics = json.loads(path.read_text()) if path.is_file() else {}
        if "scores" not in metrics or "protocol" not in metrics:
            raise ValueError(f"No k-fold metrics.json in run folder {run_dir}.")
        test_hash = metrics["test_set"]["hash"]
        first_hash = first_hash or test_hash
        settings, scores = metrics["settings"], metrics["scores"]
        row = {
            "model": model_name(run_dir, settings),
            "dataset": settings.get("dataset"),
            "horizon_hours": settings.get("horizon_hours"),
            "architecture": metrics["protocol"]["architecture"],
            "oversampling": metrics["protocol"]["oversampling"],
            "folds": metrics["n_folds"],
            "epochs run": _epochs_run(run_dir, metrics["n_folds"]),
        }
        for key, title in (
            ("headline.tss", "TSS"),
            ("headline.hss2", "HSS2"),
            ("headline.false_alarm_ratio", "false-alarm ratio"),
            ("headline.roc_auc", "ROC AUC"),
        ):
            row[title] = format_mean_sd(scores[key]["mean"], scores[key]["sd"])
        row["test base rate"] = format_number(metrics["base_rates"]["test"])
        row["Bayes-ceiling TSS"] = format_number(scores["bayes_ceiling.tss"]["mean"])
        timings_path = Path(run_dir) / TIMINGS_FILE
        timings = json.loads(timings_path.read_text()) if timings_path.is_file() else {}
        row["train clips/s"] = format_number(timings.get("train_clips_per_s_mean"), 1)
        row["same_test_block"] = test_hash == first_hash
        row["run"] = str(run_dir)
        rows.append(row)
    return pd.DataFrame(rows)
