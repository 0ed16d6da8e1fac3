"""One call that scores a run's predictions the way SCIENCE.md asks.

`evaluate` takes the test and validation rows of predictions.csv and returns
a JSON-able dict with, for the model and for the reference forecasters
(climatology, persistence, always no): the scores at the default decision
threshold 0.5 and at a threshold chosen on VALIDATION data (never on the
test set), probabilistic scores, bootstrap intervals that resample regions,
the base rates, the Bayes ceiling when the true probability is known, a hash
of the test set and the settings echoed, so that a number is never read
without the setting that produced it.

NaN marks a score that is undefined (e.g. precision of a forecaster that
never says yes); `flarekit.report.write_json_atomic` writes it as null.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from flarekit.data.goes import QUIET_FLUX, threshold_flux
from flarekit.metrics.baselines import (
    always_no_forecast,
    class_lower_edges,
    climatology_forecast,
    flux_to_named_class,
    persistence_class_forecast,
    persistence_forecast,
    persistence_log_flux,
)
from flarekit.metrics.bootstrap import bootstrap_intervals
from flarekit.metrics.ceiling import bayes_ceiling, fraction_of_ceiling
from flarekit.metrics.forecast import (
    best_tss_threshold,
    binary_scores,
    contingency_table,
    scores_from_table,
)
from flarekit.metrics.multiclass import (
    confusion_matrix,
    gandin_murphy_gerrity_score,
    multiclass_scores,
)
from flarekit.metrics.probabilistic import (
    probabilistic_scores,
    reliability_curve,
    roc_curve,
)
from flarekit.metrics.regression import SKILL_THRESHOLDS, regression_scores

# The evaluation kinds a task can declare (`Task.evaluation` in
# flarekit.data.tasks): scoring is keyed by this string, never by the task
# itself, so that a new task scored like an existing one needs no edit here.
TASK_KINDS = ("binary", "multiclass", "regression")
DEFAULT_THRESHOLD = 0.5
# Scores that get bootstrap intervals in binary tasks (SCIENCE.md, trap 5:
# TSS is never reported without the false-alarm ratio, precision and BSS).
BINARY_INTERVAL_SCORES = ("tss", "hss2", "false_alarm_ratio", "precision", "pod")
BASELINE_NAMES = ("climatology", "persistence", "always_no")
_REQUIRED_COLUMNS = {
    "binary": ("timestamp", "region", "label", "probability"),
    "multiclass": ("timestamp", "region", "label"),
    "regression": ("timestamp", "region", "log_flux_true", "log_flux_pred"),
}


def hash_test_set(timestamps, regions) -> str:
    """SHA-256 of the sorted (timestamp, region) pairs of a test set.

    Two runs evaluated on the same samples share the hash whatever the row
    order, so a report proves its test set was not resampled, filtered or
    augmented (SCIENCE.md, trap 2).

    Args:
        timestamps: Unix seconds (int) or datetimes, shape [n].
        regions: region ids, shape [n].

    Returns:
        64 hex characters; the hashed text is one "timestamp,region" line
        per sample, sorted.

    Raises:
        ValueError: lengths differ.

    Example:
        >>> hash_test_set([2, 1], ["b", "a"]) == hash_test_set([1, 2], ["a", "b"])
        True
    """
    seconds = _unix_seconds(timestamps)
    regions = [str(region) for region in np.asarray(regions).tolist()]
    if len(seconds) != len(regions):
        raise ValueError(
            f"{len(seconds)} timestamps but {len(regions)} regions for the test hash."
        )
    lines = sorted(f"{int(t)},{r}\n" for t, r in zip(seconds.tolist(), regions))
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def _unix_seconds(timestamps) -> np.ndarray:
    series = pd.Series(timestamps)
    if pd.api.types.is_datetime64_any_dtype(series):
        if series.dt.tz is None:
            series = series.dt.tz_localize("UTC")
        return (series - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    return series.to_numpy().astype(np.int64)


def _plain(value):
    """Recursively turn numpy and pandas values into JSON-able Python values.

    NaN floats are kept (the JSON writer maps them to null); tuples become
    lists; unknown objects (paths, dataclasses) become their str().
    """
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, np.ndarray):
        return [_plain(item) for item in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if value is None or isinstance(value, str):
        return value
    return str(value)


def _check_frame(frame, task_kind: str, split: str) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(
            f"The {split} predictions must be a pandas DataFrame, got "
            f"{type(frame).__name__}."
        )
    missing = [c for c in _REQUIRED_COLUMNS[task_kind] if c not in frame.columns]
    if missing:
        raise ValueError(
            f"The {split} predictions lack columns {missing} needed for a "
            f"{task_kind} task; found {list(frame.columns)}."
        )
    if "split" in frame.columns:
        other = sorted(set(frame["split"].astype(str)) - {split})
        if other:
            raise ValueError(
                f"The {split} predictions contain rows of split(s) {other}; pass "
                f"only rows with split == {split!r} (filter predictions.csv first)."
            )
    if len(frame) == 0:
        raise ValueError(f"The {split} predictions are empty.")
    return frame.reset_index(drop=True)


def _set_summary(frame: pd.DataFrame) -> dict:
    return {"n_samples": len(frame), "n_regions": int(frame["region"].nunique())}


def _bootstrap_settings(settings: Mapping) -> dict:
    # "bootstrap_samples" is the experiment config's name for n_boot.
    n_boot = settings.get("n_boot", settings.get("bootstrap_samples")) or 1000
    return {
        "n_boot": int(n_boot),
        "confidence": float(settings.get("confidence", 0.95)),
        "seed": int(settings.get("bootstrap_seed", 0)),
    }


def evaluate(
    task_kind: str,
    test: pd.DataFrame,
    validation: pd.DataFrame | None,
    train_base_rate,
    settings: Mapping,
) -> dict:
    """Score a run's test predictions with baselines, intervals and provenance.

    Args:
        task_kind: the evaluation kind the run's task declares
            (`Task.evaluation`): "binary", "multiclass" or "regression".
        test: the test rows of predictions.csv (columns in INTERFACES:
            timestamp, region, peak_flux, previous_peak_flux, goes_class,
            true_probability, and the task's label / probability columns).
        validation: the validation rows, same columns; used only to choose
            decision thresholds. None skips the tuned threshold (noted).
        train_base_rate: what climatology forecasts, from the TRAINING
            period: binary, the event rate (float); multiclass, the class
            frequencies (sequence in class order, or dict name -> frequency);
            regression, the mean log10 peak flux (float). None leaves
            climatology out (noted).
        settings: the run's comparability settings, echoed into the result:
            threshold (e.g. "M1.0", needed for persistence), horizon_hours,
            unit, split, gap_days, flux_scale, allow_leakage, aggregation,
            ... Optional knobs read here: n_boot or bootstrap_samples
            (1000), confidence (0.95), bootstrap_seed (0),
            n_reliability_bins (10), class_names or classes (multiclass;
            default: the prob_<class> columns in order).

    Returns:
        JSON-able dict; keys common to all tasks: task_kind, settings,
        test_set (hash, hash_method, n_samples, n_regions), validation_set,
        bootstrap, forecasters (model, climatology, persistence, always_no;
        a baseline that cannot be computed is absent and explained in notes),
        headline (the model's main scores, flat), notes. Binary adds
        base_rates, decision_thresholds, bayes_ceiling; multiclass adds
        class_names, class_frequencies, binary_at_threshold; regression adds
        sdo_benchmark_grouping.

    Raises:
        ValueError: unknown task_kind, missing columns, rows of another
            split in `test`, NaN predictions, or bad train_base_rate.

    Example:
        >>> result = evaluate("binary", test, validation, 0.05,  # doctest: +SKIP
        ...                   {"threshold": "M1.0", "horizon_hours": 24})
        >>> result["headline"]["tss"]  # doctest: +SKIP
    """
    if task_kind not in TASK_KINDS:
        raise ValueError(f"task_kind must be one of {TASK_KINDS}, got {task_kind!r}.")
    settings = dict(settings or {})
    test = _check_frame(test, task_kind, "test")
    if validation is not None and len(validation) == 0:
        validation = None
    if validation is not None:
        validation = _check_frame(validation, task_kind, "validation")
    boot = _bootstrap_settings(settings)
    result = {
        "task_kind": task_kind,
        "settings": _plain(settings),
        "test_set": {
            "hash": hash_test_set(test["timestamp"], test["region"]),
            "hash_method": "sha256 of sorted 'timestamp,region' lines",
            **_set_summary(test),
        },
        "validation_set": None if validation is None else _set_summary(validation),
        "bootstrap": {
            **boot,
            "resampled": "regions",
            "method": "percentile",
            "n_groups": int(test["region"].nunique()),
        },
        "notes": [],
    }
    if settings.get("allow_leakage"):
        result["notes"].append(
            "allow_leakage=True: the split was not grouped by region and time; "
            "scores are not comparable with leakage-free splits."
        )
    result.update(_EVALUATORS[task_kind](test, validation, train_base_rate, settings))
    notes = result.pop("notes") + result.pop("_notes", [])
    result["notes"] = notes
    return _plain(result)


# ---------------------------------------------------------------- binary ---


def _binary_arrays(frame: pd.DataFrame, train_base_rate, settings, notes, split):
    """Forecast probabilities of the model and each baseline for one split."""
    forecasts = {"model": frame["probability"].to_numpy(dtype=np.float64)}
    n = len(frame)
    if train_base_rate is not None:
        forecasts["climatology"] = climatology_forecast(n, train_base_rate)
    if settings.get("threshold") is None:
        notes.append(f"persistence omitted ({split}): settings has no 'threshold'.")
    else:
        previous = _previous_flux(frame, notes, split)
        if previous is not None:
            forecasts["persistence"] = persistence_forecast(
                previous, settings["threshold"], missing_as_no=True
            )
    forecasts["always_no"] = always_no_forecast(n)
    return forecasts


def _previous_flux(frame, notes, split):
    """previous_peak_flux of a split, or None with a note saying why."""
    if "previous_peak_flux" not in frame.columns:
        notes.append(f"persistence omitted ({split}): no previous_peak_flux column.")
        return None
    previous = frame["previous_peak_flux"].to_numpy(dtype=np.float64)
    n_missing = int(np.isnan(previous).sum())
    if n_missing == len(previous):
        notes.append(f"persistence omitted ({split}): previous_peak_flux is all NaN.")
        return None
    if n_missing:
        notes.append(
            f"persistence ({split}): {n_missing} samples without a previous window "
            "forecast as 'no flare'."
        )
    return previous


def _check_binary_labels(frame: pd.DataFrame, split: str) -> np.ndarray:
    labels = frame["label"].to_numpy()
    if not np.isin(labels, (0, 1)).all():
        raise ValueError(
            f"{split} labels must be 0/1 for a binary task; found "
            f"{sorted(set(labels.tolist()))[:6]}."
        )
    return labels.astype(np.int64)


def _evaluate_binary(test, validation, train_base_rate, settings) -> dict:
    notes: list[str] = []
    if train_base_rate is None:
        notes.append("climatology omitted: no training base rate given.")
        climatology = None
    else:
        climatology = float(train_base_rate)
        if not 0.0 <= climatology <= 1.0:
            raise ValueError(
                f"train_base_rate must be in [0, 1] for a binary task, got "
                f"{train_base_rate!r}."
            )
    y_test = _check_binary_labels(test, "test")
    test_forecasts = _binary_arrays(test, climatology, settings, notes, "test")
    tuned = _validation_thresholds(
        validation, climatology, settings, notes, test_forecasts.keys()
    )
    n_bins = int(settings.get("n_reliability_bins", 10))
    boot = _bootstrap_settings(settings)
    intervals = _binary_intervals(
        y_test, test_forecasts, tuned, climatology, test["region"].to_numpy(), boot
    )
    forecasters = {}
    for name, probability in test_forecasts.items():
        entry = {
            "at_default": binary_scores(y_test, probability, DEFAULT_THRESHOLD),
            "at_validation_optimal": (
                binary_scores(y_test, probability, tuned[name])
                if name in tuned
                else None
            ),
            "probabilistic": (
                probabilistic_scores(y_test, probability, climatology)
                if climatology is not None
                else {"brier": float(np.mean((probability - y_test) ** 2))}
            ),
            "intervals": intervals[name],
        }
        forecasters[name] = entry
    model = forecasters["model"]
    model_probability = test_forecasts["model"]
    model["reliability"] = reliability_curve(y_test, model_probability, n_bins)
    if 0 < y_test.sum() < len(y_test):
        model["roc"] = roc_curve(y_test, model_probability)
    else:
        notes.append("ROC curve omitted: the test set has only one outcome class.")
    headline_source = "validation_optimal" if "model" in tuned else "default"
    headline_scores = model[f"at_{headline_source}"]
    headline = {
        key: headline_scores[key]
        for key in ("tss", "hss2", "false_alarm_ratio", "precision", "pod", "pofd")
    }
    headline.update(
        decision_threshold=headline_scores["threshold"],
        threshold_source=headline_source,
        bss=model["probabilistic"].get("bss", float("nan")),
        brier=model["probabilistic"]["brier"],
        roc_auc=model["probabilistic"].get("roc_auc", float("nan")),
    )
    result = {
        "base_rates": {
            "train": climatology,
            "validation": (
                float(_check_binary_labels(validation, "validation").mean())
                if validation is not None
                else None
            ),
            "test": float(y_test.mean()),
        },
        "decision_thresholds": {
            "default": DEFAULT_THRESHOLD,
            "validation_optimal": tuned,
            "chosen_on": "validation" if tuned else None,
        },
        "forecasters": forecasters,
        "headline": headline,
        "bayes_ceiling": _binary_ceiling(test, y_test, model, notes),
        "_notes": notes,
    }
    return result


def _validation_thresholds(validation, climatology, settings, notes, names) -> dict:
    """TSS-maximising threshold of each forecaster, chosen on validation data."""
    if validation is None:
        notes.append(
            "No validation predictions: scores at a tuned threshold are omitted "
            "(a threshold is never chosen on the test set)."
        )
        return {}
    y_validation = _check_binary_labels(validation, "validation")
    if y_validation.min() == y_validation.max():
        notes.append(
            "Validation set has only one outcome class: no TSS-optimal threshold; "
            "scores at a tuned threshold are omitted."
        )
        return {}
    forecasts = _binary_arrays(validation, climatology, settings, [], "validation")
    return {
        name: best_tss_threshold(y_validation, forecasts[name])
        for name in names
        if name in forecasts
    }


def _binary_intervals(y_test, forecasts, tuned, climatology, regions, boot) -> dict:
    """Region-resampled intervals for every forecaster at both thresholds."""

    def scores_of(name, y, probability):
        values = {}
        observed = y.astype(bool)
        thresholds = {"at_default": DEFAULT_THRESHOLD}
        if name in tuned:
            thresholds["at_validation_optimal"] = tuned[name]
        for label, threshold in thresholds.items():
            scores = scores_from_table(
                **contingency_table(observed, probability >= threshold)
            )
            for key in BINARY_INTERVAL_SCORES:
                values[f"{label}|{key}"] = scores[key]
        if climatology is not None:
            reference_brier = np.mean((climatology - y) ** 2)
            brier = np.mean((probability - y) ** 2)
            values["bss"] = (
                1.0 - brier / reference_brier if reference_brier else math.nan
            )
        return values

    intervals = _forecaster_intervals(scores_of, y_test, forecasts, regions, boot)
    # "at_default|tss" -> {"at_default": {"tss": ...}}; "bss" stays flat.
    for name, by_key in intervals.items():
        nested = {}
        for key, interval in by_key.items():
            label, _, score = key.rpartition("|")
            if label:
                nested.setdefault(label, {})[score] = interval
            else:
                nested[score] = interval
        intervals[name] = nested
    return intervals


def _scored_forecasters(scores_of, all_scores, y, forecasts, test, settings) -> dict:
    """{name: {"scores": all_scores(y, prediction), "intervals": ...}} of every
    forecaster, the intervals those of `scores_of` over the test regions (see
    `_forecaster_intervals`)."""
    intervals = _forecaster_intervals(
        scores_of,
        y,
        forecasts,
        test["region"].to_numpy(),
        _bootstrap_settings(settings),
    )
    return {
        name: {"scores": all_scores(y, prediction), "intervals": intervals[name]}
        for name, prediction in forecasts.items()
    }


def _forecaster_intervals(scores_of, y, forecasts, regions, boot) -> dict:
    """Region-resampled intervals of every forecaster's scores.

    Args:
        scores_of: (name, y, prediction) -> {score key: value}, the scores of
            forecaster `name` on one resample.
        y: observed values of the test rows.
        forecasts: forecaster name -> predictions of the test rows.
        regions: the region of each test row (the resampled unit).
        boot: `_bootstrap_settings`.

    Returns:
        {forecaster name: {score key: [low, high]}}.
    """
    names = list(forecasts)

    def statistic(y, *predictions):
        values = {}
        for name, prediction in zip(names, predictions):
            for key, value in scores_of(name, y, prediction).items():
                values[f"{name}|{key}"] = value
        return values

    raw = bootstrap_intervals(
        statistic,
        [y, *(forecasts[name] for name in names)],
        groups=regions,
        n_boot=boot["n_boot"],
        confidence=boot["confidence"],
        seed=boot["seed"],
    )
    intervals = {name: {} for name in names}
    for key, interval in raw.items():
        name, _, score = key.partition("|")
        intervals[name][score] = list(interval)
    return intervals


def _binary_ceiling(test, y_test, model, notes) -> dict | None:
    if "true_probability" not in test.columns:
        return None
    truth = test["true_probability"].to_numpy(dtype=np.float64)
    if np.isnan(truth).all():
        return None
    if np.isnan(truth).any():
        notes.append(
            f"Bayes ceiling omitted: true_probability is NaN for "
            f"{int(np.isnan(truth).sum())} of {len(truth)} test samples."
        )
        return None
    if y_test.min() == y_test.max():
        notes.append("Bayes ceiling omitted: the test set has one outcome class.")
        return None
    ceiling = bayes_ceiling(truth, y_test)
    tuned = model["at_validation_optimal"]
    ceiling["model_fraction_at_default"] = fraction_of_ceiling(
        model["at_default"]["tss"], ceiling["tss"]
    )
    ceiling["model_fraction_at_validation_optimal"] = (
        fraction_of_ceiling(tuned["tss"], ceiling["tss"]) if tuned else math.nan
    )
    return ceiling


# ------------------------------------------------------------ multiclass ---


def _class_names(test: pd.DataFrame, settings: Mapping) -> list[str]:
    given = settings.get("class_names") or settings.get("classes")
    if given:
        names = [str(name) for name in given]
    else:
        names = [c[len("prob_") :] for c in test.columns if c.startswith("prob_")]
    if len(names) < 2:
        raise ValueError(
            "A multiclass evaluation needs >= 2 classes: give settings['class_names'] "
            f"or prob_<class> columns; found columns {list(test.columns)}."
        )
    return names


def _are_goes_classes(class_names) -> bool:
    """Whether the class names map onto fluxes ("quiet", "C", "M5", ...)."""
    try:
        class_lower_edges(class_names)
    except ValueError:
        return False
    return True


def _class_frequencies(train_base_rate, class_names) -> list[float] | None:
    if train_base_rate is None:
        return None
    if isinstance(train_base_rate, Mapping):
        unknown = set(train_base_rate) - set(class_names)
        if unknown:
            raise ValueError(
                f"train_base_rate names classes {sorted(unknown)} not in {class_names}."
            )
        frequencies = [float(train_base_rate.get(name, 0.0)) for name in class_names]
    elif isinstance(train_base_rate, Sequence | np.ndarray):
        frequencies = [float(f) for f in train_base_rate]
    else:
        raise ValueError(
            "train_base_rate for a multiclass task must be the training class "
            f"frequencies (sequence or dict), got {train_base_rate!r}."
        )
    if len(frequencies) != len(class_names) or not math.isclose(
        sum(frequencies), 1.0, abs_tol=1e-6
    ):
        raise ValueError(
            f"train_base_rate must give {len(class_names)} class frequencies summing "
            f"to 1 for classes {class_names}, got {frequencies}."
        )
    return frequencies


def _multiclass_forecasts(frame, class_names, frequencies, settings, notes, split):
    """Forecast class indices of the model and each baseline for one split."""
    columns = [f"prob_{name}" for name in class_names]
    if all(c in frame.columns for c in columns):
        probabilities = frame[columns].to_numpy(dtype=np.float64)
        if np.isnan(probabilities).any():
            raise ValueError(f"{split} class probabilities contain NaN.")
        model = np.argmax(probabilities, axis=1)
    elif "prediction" in frame.columns:
        model = frame["prediction"].to_numpy(dtype=np.int64)
    else:
        raise ValueError(
            f"{split} predictions need columns {columns} (or 'prediction'); found "
            f"{list(frame.columns)}."
        )
    n = len(frame)
    forecasts = {"model": model}
    if frequencies is not None:
        # The climatological category forecast is the most frequent training class.
        forecasts["climatology"] = np.full(n, int(np.argmax(frequencies)))
    if _are_goes_classes(class_names):
        previous = _previous_flux(frame, notes, split)
        if previous is not None:
            forecasts["persistence"] = persistence_class_forecast(
                previous, class_names, missing_as_no=True
            )
    else:
        notes.append(
            f"persistence omitted ({split}): class names {class_names} are not GOES "
            "classes, so previous_peak_flux cannot be mapped to them."
        )
    forecasts["always_no"] = np.zeros(n, dtype=np.int64)
    return forecasts


def _evaluate_multiclass(test, validation, train_base_rate, settings) -> dict:
    notes: list[str] = []
    class_names = _class_names(test, settings)
    n_classes = len(class_names)
    frequencies = _class_frequencies(train_base_rate, class_names)
    if frequencies is None:
        notes.append("climatology omitted: no training class frequencies given.")
    y_test = test["label"].to_numpy(dtype=np.int64)
    forecasts = _multiclass_forecasts(
        test, class_names, frequencies, settings, notes, "test"
    )

    def scores_of(name, y, prediction):
        matrix = confusion_matrix(y, prediction, n_classes)
        f1s = []
        for k in range(n_classes):
            tp = matrix[k, k]
            fn, fp = matrix[k].sum() - tp, matrix[:, k].sum() - tp
            if tp + fn + fp:
                f1s.append(2 * tp / (2 * tp + fp + fn))
        return {
            "accuracy": np.trace(matrix) / matrix.sum(),
            "macro_f1": np.mean(f1s) if f1s else math.nan,
            "gms": gandin_murphy_gerrity_score(matrix),
        }

    forecasters = _scored_forecasters(
        scores_of,
        lambda y, prediction: multiclass_scores(y, prediction, class_names),
        y_test,
        forecasts,
        test,
        settings,
    )
    model_scores = forecasters["model"]["scores"]
    headline = {key: model_scores[key] for key in ("accuracy", "macro_f1", "gms")}
    headline.update(
        {f"tss_{name}": model_scores["per_class"][name]["tss"] for name in class_names}
    )
    test_frequencies = np.bincount(y_test, minlength=n_classes) / len(y_test)
    result = {
        "class_names": class_names,
        "class_frequencies": {
            "train": frequencies,
            "validation": (
                (
                    np.bincount(
                        validation["label"].to_numpy(dtype=np.int64),
                        minlength=n_classes,
                    )
                    / len(validation)
                ).tolist()
                if validation is not None
                else None
            ),
            "test": test_frequencies.tolist(),
        },
        "forecasters": forecasters,
        "headline": headline,
        "binary_at_threshold": _multiclass_as_binary(
            test, validation, class_names, frequencies, settings, notes
        ),
        "_notes": notes,
    }
    return result


def _multiclass_as_binary(test, validation, class_names, frequencies, settings, notes):
    """Binary evaluation of P(class >= threshold) summed from the class probabilities.

    Lets a multiclass model be compared with binary models at the task's
    threshold (settings['threshold'], e.g. "M1.0").
    """
    threshold = settings.get("threshold")
    columns = [f"prob_{name}" for name in class_names]
    if threshold is None or not all(c in test.columns for c in columns):
        return None
    if not _are_goes_classes(class_names):
        notes.append(
            f"binary_at_threshold omitted: class names {class_names} are not GOES "
            "classes."
        )
        return None
    first = int(flux_to_named_class([threshold_flux(threshold)], class_names)[0])
    edge = class_lower_edges(class_names)[first]
    if not math.isclose(edge, threshold_flux(threshold), rel_tol=1e-6):
        notes.append(
            f"binary_at_threshold omitted: threshold {threshold!r} is not the lower "
            f"edge of one of the classes {class_names}."
        )
        return None

    def as_binary(frame):
        converted = frame.copy()
        converted["probability"] = np.clip(
            frame[columns[first:]].to_numpy(dtype=np.float64).sum(axis=1), 0.0, 1.0
        )
        converted["label"] = (frame["label"].to_numpy() >= first).astype(np.int64)
        return converted

    train_rate = None if frequencies is None else float(sum(frequencies[first:]))
    binary_test = as_binary(test)
    binary_validation = None if validation is None else as_binary(validation)
    binary = _evaluate_binary(binary_test, binary_validation, train_rate, settings)
    notes.extend(f"binary_at_threshold: {note}" for note in binary.pop("_notes"))
    binary["positive_classes"] = class_names[first:]
    return binary


# ------------------------------------------------------------ regression ---


def _evaluate_regression(test, train_base_rate, settings) -> dict:
    notes: list[str] = []
    true = test["log_flux_true"].to_numpy(dtype=np.float64)
    n = len(test)
    forecasts = {"model": test["log_flux_pred"].to_numpy(dtype=np.float64)}
    if train_base_rate is None:
        notes.append("climatology omitted: no training mean log10 peak flux given.")
    else:
        mean_log_flux = float(train_base_rate)
        if not -12.0 < mean_log_flux < 0.0:
            raise ValueError(
                "train_base_rate for a regression task is the training mean of "
                f"log10 peak flux (about -9 to -5), got {train_base_rate!r}."
            )
        forecasts["climatology"] = np.full(n, mean_log_flux)
    previous = _previous_flux(test, notes, "test")
    if previous is not None:
        forecasts["persistence"] = persistence_log_flux(previous, missing_as_no=True)
    forecasts["always_no"] = np.full(n, math.log10(QUIET_FLUX))

    def scores_of(name, y, prediction):
        scores = regression_scores(y, prediction)
        values = {key: scores[key] for key in ("mae", "rmse", "sdo_benchmark_score")}
        for letter in SKILL_THRESHOLDS:
            values[f"tss_{letter}"] = scores["skill"][letter]["tss"]
        return values

    forecasters = _scored_forecasters(
        scores_of, regression_scores, true, forecasts, test, settings
    )
    model_scores = forecasters["model"]["scores"]
    headline = {
        key: model_scores[key] for key in ("mae", "rmse", "bias", "sdo_benchmark_score")
    }
    headline.update(
        {
            f"tss_{letter}": model_scores["skill"][letter]["tss"]
            for letter in SKILL_THRESHOLDS
        }
    )
    return {
        "forecasters": forecasters,
        "headline": headline,
        "sdo_benchmark_grouping": (
            "mean over groups quiet/B/C/M/X of per-group RMSE of log10 flux; groups "
            "by true flux; quiet = below B1.0 (no flare and A-class peaks)"
        ),
        "_notes": notes,
    }


# One scorer per evaluation kind, called as (test, validation, train_base_rate,
# settings); regression chooses no threshold, so it has no use for validation.
_EVALUATORS = {
    "binary": _evaluate_binary,
    "multiclass": _evaluate_multiclass,
    "regression": lambda test, validation, train_base_rate, settings: (
        _evaluate_regression(test, train_base_rate, settings)
    ),
}
