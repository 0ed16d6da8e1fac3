"""Mean +- sd of scores over seeds or folds, and number formatting for tables.

SCIENCE.md asks for mean +- sd over >= 5 seeds or folds, never the best fold
(trap 4). These helpers work on the dicts `evaluate` returns (or any nested
dicts), so label-efficiency tables, rebalancing studies and k-fold sequence
experiments all aggregate the same way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np


def get_path(metrics: Mapping, key: str):
    """Value at a dotted path in nested dicts, or None when absent.

    Args:
        metrics: nested dicts (e.g. a metrics.json).
        key: dotted path such as "headline.tss" or
            "forecasters.model.at_validation_optimal.tss".

    Returns:
        The value, or None if any step is missing.

    Example:
        >>> get_path({"headline": {"tss": 0.5}}, "headline.tss")
        0.5
    """
    value = metrics
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _as_float(value) -> float:
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"Cannot aggregate non-numeric value {value!r}; choose keys that point "
            "at numbers."
        ) from None


def aggregate_runs(metric_dicts: Sequence[Mapping], keys: Sequence[str]) -> dict:
    """Mean and sample standard deviation of each key over several runs.

    Runs where a key is missing, None or NaN are left out of that key's
    statistics and counted in `n_missing`, so a fold that failed to produce
    a score is visible instead of silently shrinking n.

    Args:
        metric_dicts: one dict per seed or fold (e.g. loaded metrics.json).
        keys: dotted paths into those dicts (see `get_path`).

    Returns:
        dict key -> {"mean", "sd" (ddof=1; NaN for fewer than 2 values),
        "n", "n_missing", "values" (the per-run values, NaN where missing)}.

    Raises:
        ValueError: no runs, or a key that points at something non-numeric.

    Example:
        >>> runs = [{"headline": {"tss": 0.5}}, {"headline": {"tss": 0.7}}]
        >>> stats = aggregate_runs(runs, ["headline.tss"])["headline.tss"]
        >>> round(stats["mean"], 3), round(stats["sd"], 4), stats["n"]
        (0.6, 0.1414, 2)
    """
    if len(metric_dicts) == 0:
        raise ValueError("aggregate_runs needs at least one run.")
    result = {}
    for key in keys:
        values = np.array([_as_float(get_path(m, key)) for m in metric_dicts])
        finite = values[np.isfinite(values)]
        result[key] = {
            "mean": float(finite.mean()) if finite.size else math.nan,
            "sd": float(finite.std(ddof=1)) if finite.size >= 2 else math.nan,
            "n": int(finite.size),
            "n_missing": int(values.size - finite.size),
            "values": values.tolist(),
        }
    return result


def format_number(value, digits: int = 3) -> str:
    """A number with fixed digits, or "n/a" for None / NaN."""
    if value is None:
        return "n/a"
    value = float(value)
    if math.isnan(value):
        return "n/a"
    text = f"{value:.{digits}f}"
    # Print -0.000 (a tiny negative rounded away) as 0.000.
    return text.lstrip("-") if float(text) == 0 else text


def format_mean_sd(mean, sd, digits: int = 3) -> str:
    """ "0.620 ± 0.040"; the sd part is left out when it is NaN (single run).

    Example:
        >>> format_mean_sd(0.62, 0.04)
        '0.620 ± 0.040'
    """
    text = format_number(mean, digits)
    if sd is None or (isinstance(sd, float) and math.isnan(sd)) or text == "n/a":
        return text
    return f"{text} ± {format_number(sd, digits)}"


def format_interval(value, interval, digits: int = 3) -> str:
    """ "0.620 [0.550, 0.690]"; the interval is left out when undefined.

    Example:
        >>> format_interval(0.62, [0.55, 0.69])
        '0.620 [0.550, 0.690]'
    """
    text = format_number(value, digits)
    if interval is None or len(interval) != 2 or text == "n/a":
        return text
    low, high = (format_number(bound, digits) for bound in interval)
    if "n/a" in (low, high):
        return text
    return f"{text} [{low}, {high}]"
