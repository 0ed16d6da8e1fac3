"""Train / validation / test splits that do not leak.

Consecutive observations of one active region are near duplicates, and a
region lives for days to weeks. A random split therefore puts the same region
on both sides and inflates every score (SCIENCE.md, trap 1: SolarNet's same
model scored TSS 0.446 on a chronological test and 0.790 on an interleaved
one). flarekit's splits are grouped by region and by time, with a gap between
parts (default one solar rotation, 27 days), and `check_leakage` fails loudly
on any split that lets a region or a time window cross parts.

Splits are computed on arrays of `timestamps` (Unix seconds UTC) and
`regions` (NOAA AR / HARP ids, or "disk" for full-disk samples). The result
assigns each sample a part name, or "" where it was dropped; every drop is
counted by reason in `SplitResult.dropped`, never silent.

Example:
    >>> split = chronological_split(timestamps, regions, gap_days=27)
    >>> train_mask = split.assignment == "train"
    >>> split.dropped
    {'gap': 412, 'region_crosses_parts': 37}
"""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np

DAY = 86400.0
DEFAULT_GAP_DAYS = 27.0
DEFAULT_NAMES = ("train", "validation", "test")
# Samples of this region id are whole-disk views: they share no region, only time.
DISK_REGION = "disk"


class LeakageError(ValueError):
    """A region or a time window appears in more than one part of a split."""


class EvaluationSetError(ValueError):
    """An operation that must never touch an evaluation set was asked to."""


@dataclasses.dataclass
class SplitResult:
    """Which part each sample belongs to, and how the split was made.

    Attributes:
        assignment: array of part names per sample; "" for dropped samples.
        names: the part names in chronological order.
        boundaries: part name -> (first, last) Unix time of its window.
        dropped: reason -> number of samples dropped.
        method: "chronological", "by_region" or "random".
        gap_days: the gap left between consecutive parts.
        allow_leakage: True only for a random split the user asked for.
    """

    assignment: np.ndarray
    names: tuple
    boundaries: dict
    dropped: dict
    method: str
    gap_days: float
    allow_leakage: bool = False

    def counts(self) -> dict:
        """Samples per part."""
        return {name: int(np.sum(self.assignment == name)) for name in self.names}

    def mask(self, name: str) -> np.ndarray:
        """Boolean mask of the samples of one part."""
        if name not in self.names:
            raise ValueError(f"Unknown split part {name!r}; parts are {self.names}.")
        return self.assignment == name

    def to_metadata(self) -> dict:
        """A JSON-serialisable description, for dataset metadata and reports."""
        return {
            "method": self.method,
            "names": list(self.names),
            "gap_days": float(self.gap_days),
            "boundaries": {
                name: [_as_int(start), _as_int(end)]
                for name, (start, end) in self.boundaries.items()
            },
            "counts": self.counts(),
            "dropped": {key: int(value) for key, value in self.dropped.items()},
            "allow_leakage": bool(self.allow_leakage),
        }


def _as_int(value):
    return int(value) if np.isfinite(value) else None


def _as_arrays(timestamps, regions):
    timestamps = np.asarray(timestamps, dtype=np.float64)
    regions = np.asarray(regions).astype(str)
    if timestamps.ndim != 1 or regions.shape != timestamps.shape:
        raise ValueError(
            "timestamps and regions must be 1-D and of equal length, got shapes "
            f"{timestamps.shape} and {regions.shape}."
        )
    if timestamps.size == 0:
        raise ValueError("Cannot split an empty dataset: no timestamps were given.")
    if not np.all(np.isfinite(timestamps)):
        bad = int(np.sum(~np.isfinite(timestamps)))
        raise ValueError(f"{bad} timestamps are NaN or infinite; fix or drop them first.")
    return timestamps, regions


def _check_fractions(fractions, names):
    fractions = np.asarray(fractions, dtype=np.float64)
    if len(fractions) != len(names):
        raise ValueError(
            f"Got {len(fractions)} fractions {tuple(fractions)} for {len(names)} parts "
            f"{tuple(names)}."
        )
    if np.any(fractions <= 0) or not np.isclose(fractions.sum(), 1.0):
        raise ValueError(
            f"Split fractions must be positive and sum to 1, got {tuple(fractions)}."
        )
    return fractions


def chronological_split(
    timestamps,
    regions,
    fractions=(0.7, 0.15, 0.15),
    gap_days: float = DEFAULT_GAP_DAYS,
    names=DEFAULT_NAMES,
) -> SplitResult:
    """Split by time into consecutive parts with a gap between them.

    The time span is divided so that each part's window has its fraction of
    the time left after the gaps. Samples inside a gap are dropped. Each
    region then belongs to the part in which it was first seen; its samples
    that fall into a later part are dropped ("region_crosses_parts"), so no
    region is in two parts even if it lives longer than the gap.

    Args:
        timestamps: Unix seconds UTC, one per sample.
        regions: region id per sample; "disk" samples are grouped by time only.
        fractions: share of the usable time span of each part, oldest first.
        gap_days: days left out between consecutive parts.
        names: part names, oldest first.

    Returns:
        A `SplitResult`; `check_leakage` passes on it by construction.

    Raises:
        ValueError: mismatched inputs, bad fractions, or gaps longer than the data.
    """
    timestamps, regions = _as_arrays(timestamps, regions)
    names = tuple(names)
    fractions = _check_fractions(fractions, names)
    if gap_days < 0:
        raise ValueError(f"gap_days must be >= 0, got {gap_days}.")
    start, end = float(timestamps.min()), float(timestamps.max())
    gap = gap_days * DAY
    usable = (end - start) - gap * (len(names) - 1)
    if usable <= 0:
        raise ValueError(
            f"The data span {(end - start) / DAY:.1f} days, too short for "
            f"{len(names) - 1} gaps of {gap_days} days."
        )
    assignment = np.full(timestamps.shape, "", dtype=object)
    boundaries = {}
    cursor = start
    for index, (name, fraction) in enumerate(zip(names, fractions)):
        window_end = end + 1 if index == len(names) - 1 else cursor + fraction * usable
        inside = (timestamps >= cursor) & (timestamps < window_end)
        assignment[inside] = name
        boundaries[name] = (cursor, min(window_end, end))
        cursor = window_end + gap
    dropped = {"gap": int(np.sum(assignment == ""))}
    dropped["region_crosses_parts"] = _drop_regions_crossing_parts(
        timestamps, regions, assignment, names
    )
    return SplitResult(
        assignment=assignment.astype(str),
        names=names,
        boundaries=boundaries,
        dropped=dropped,
        method="chronological",
        gap_days=float(gap_days),
    )


def _drop_regions_crossing_parts(timestamps, regions, assignment, names) -> int:
    """Keep each region in the part where it was first seen; count the rest."""
    rank = {name: order for order, name in enumerate(names)}
    dropped = 0
    kept = assignment != ""
    for region in np.unique(regions[kept]):
        if region == DISK_REGION:
            continue
        members = np.flatnonzero((regions == region) & kept)
        first = members[np.argmin(timestamps[members])]
        home = assignment[first]
        away = members[[rank[assignment[m]] != rank[home] for m in members]]
        assignment[away] = ""
        dropped += len(away)
    return dropped


def region_split(
    regions,
    fractions=(0.7, 0.15, 0.15),
    seed: int = 0,
    names=DEFAULT_NAMES,
    timestamps=None,
) -> SplitResult:
    """Split by region: every sample of a region goes to the same part.

    Regions are shuffled with `seed` and dealt to parts until each holds its
    fraction of the samples. Parts overlap in time, so this split is for
    region-level samples (patches, sequences); full-disk samples need
    `chronological_split`.

    Raises:
        ValueError: full-disk samples (their only group is time), bad fractions.
    """
    timestamps = np.zeros(len(regions)) if timestamps is None else timestamps
    timestamps, regions = _as_arrays(timestamps, regions)
    names = tuple(names)
    fractions = _check_fractions(fractions, names)
    if np.any(regions == DISK_REGION):
        raise ValueError(
            "region_split cannot split full-disk samples (region 'disk'): they share "
            "one region; use chronological_split."
        )
    unique, sizes = np.unique(regions, return_counts=True)
    order = np.random.default_rng(seed).permutation(len(unique))
    targets = np.cumsum(fractions) * len(regions)
    assignment = np.empty(len(regions), dtype=object)
    filled, part = 0, 0
    for index in order:
        while part < len(names) - 1 and filled >= targets[part]:
            part += 1
        assignment[regions == unique[index]] = names[part]
        filled += sizes[index]
    boundaries = {
        name: (
            float(timestamps[assignment == name].min(initial=np.inf)),
            float(timestamps[assignment == name].max(initial=-np.inf)),
        )
        for name in names
    }
    return SplitResult(
        assignment=assignment.astype(str),
        names=names,
        boundaries=boundaries,
        dropped={},
        method="by_region",
        gap_days=0.0,
    )


def random_split(
    timestamps,
    regions,
    fractions=(0.7, 0.15, 0.15),
    seed: int = 0,
    names=DEFAULT_NAMES,
    allow_leakage: bool = False,
) -> SplitResult:
    """Split samples at random. Leaks; exists to measure how much.

    Raises:
        LeakageError: unless `allow_leakage=True`. The result carries the flag,
            and reports stamp it next to every score.
    """
    if not allow_leakage:
        raise LeakageError(
            "A random split puts near-duplicate frames of one region on both sides "
            "and inflates scores (SCIENCE.md trap 1). Use chronological_split or "
            "region_split, or pass allow_leakage=True to measure the inflation."
        )
    timestamps, regions = _as_arrays(timestamps, regions)
    names = tuple(names)
    fractions = _check_fractions(fractions, names)
    edges = np.cumsum(fractions)[:-1] * len(timestamps)
    order = np.random.default_rng(seed).permutation(len(timestamps))
    assignment = np.empty(len(timestamps), dtype=object)
    for name, part in zip(names, np.split(order, edges.astype(int))):
        assignment[part] = name
    return SplitResult(
        assignment=assignment.astype(str),
        names=names,
        boundaries={name: (np.nan, np.nan) for name in names},
        dropped={},
        method="random",
        gap_days=0.0,
        allow_leakage=True,
    )


def check_leakage(timestamps, regions, assignment, gap_days=None, names=None):
    """Fail loudly if a region or a time window crosses parts of a split.

    Args:
        timestamps: Unix seconds per sample.
        regions: region id per sample ("disk" is exempt from the region check).
        assignment: part name per sample ("" = not used).
        gap_days: when given, consecutive parts (in `names` order, or ordered
            by their first sample) must be separated by at least this many
            days: the last sample of one part and the first of the next.
        names: the part names in chronological order.

    Raises:
        LeakageError: naming the region or the parts and times that overlap.
    """
    timestamps, regions = _as_arrays(timestamps, regions)
    assignment = np.asarray(assignment).astype(str)
    used = assignment != ""
    parts = [name for name in (names or np.unique(assignment[used])) if name]
    part_of = {}
    for region, part in zip(regions[used], assignment[used]):
        if region == DISK_REGION:
            continue
        if part_of.setdefault(region, part) != part:
            raise LeakageError(
                f"Region {str(region)!r} appears in parts {str(part_of[region])!r} and "
                f"{str(part)!r}: its near-duplicate frames would leak between them."
            )
    if gap_days is None:
        return
    windows = []
    for part in parts:
        times = timestamps[assignment == part]
        if times.size:
            windows.append((times.min(), times.max(), part))
    if names is None:
        windows.sort()
    for (_, end, first), (start, _, second) in zip(windows, windows[1:]):
        gap = (start - end) / DAY
        if gap < gap_days:
            raise LeakageError(
                f"Parts {str(first)!r} and {str(second)!r} are {gap:.2f} days apart "
                f"(last {first} sample to first {second} sample), less than the "
                f"required gap of {gap_days} days."
            )


def ensure_not_evaluation_split(split: str, operation: str) -> None:
    """Refuse oversampling, class filtering or augmentation of an evaluation set.

    Resampling or augmenting the test set inflates scores (SCIENCE.md trap 2).
    Validation sets are refused too, because thresholds are chosen on them.

    Raises:
        EvaluationSetError: for "test" or "validation" (or any split whose name
            starts with them, such as "test[:50%]").
    """
    base = str(split).split("[")[0].strip().lower()
    if base in ("test", "validation", "valid", "val") or base.startswith("test"):
        raise EvaluationSetError(
            f"Refusing to apply {operation} to the {split!r} split: evaluation sets "
            "are scored as observed, never oversampled, filtered or augmented "
            "(SCIENCE.md trap 2)."
        )


def hash_samples(timestamps, regions) -> str:
    """sha256 of the sorted (timestamp, region) pairs, to prove a test set unchanged."""
    timestamps, regions = _as_arrays(timestamps, regions)
    pairs = sorted(zip(timestamps.astype(np.int64).tolist(), regions.tolist()))
    digest = hashlib.sha256()
    for timestamp, region in pairs:
        digest.update(f"{timestamp}:{region};".encode())
    return digest.hexdigest()


# ---------------------------------------------------------------------------
# Hybrid split: k-fold cross-validation over the first block in time, the
# last block a chronological test set (Grim & Gradvohl's SHARP-sequence
# protocol, SCIENCE.md "Data formats"). Appended; reuses the helpers above.
# ---------------------------------------------------------------------------

HYBRID_NAMES = ("train", "validation", "test")


@dataclasses.dataclass
class HybridSplit:
    """A held-out chronological test block and k folds over what precedes it.

    Attributes:
        development: `SplitResult` with parts ("development", "test"): the
            test block, the gap before it and regions that cross into it.
        folds: one `SplitResult` per fold, parts ("train", "validation",
            "test"); the "test" samples are the same in every fold.
        fold_of: fold index of each development sample, -1 elsewhere.
        fold_by: "time" (contiguous time blocks) or "region" (grouped).
    """

    development: SplitResult
    folds: list
    fold_of: np.ndarray
    fold_by: str

    def to_metadata(self) -> dict:
        """JSON-serialisable description for dataset metadata and reports."""
        return {
            "method": f"hybrid_kfold_{self.fold_by}",
            "n_folds": len(self.folds),
            "development": self.development.to_metadata(),
            "folds": [fold.to_metadata() for fold in self.folds],
        }


def hybrid_kfold_split(
    timestamps,
    regions,
    n_folds: int = 5,
    test_fraction: float = 0.2,
    gap_days: float = DEFAULT_GAP_DAYS,
    fold_by: str = "time",
    seed: int = 0,
) -> HybridSplit:
    """K-fold over the first block in time, the last block a chronological test.

    First the time span is cut in two, as `chronological_split` does: the
    last `test_fraction` of the usable time is the test block, `gap_days`
    before it are dropped, and regions first seen before the test block are
    dropped from it. Then the development block is cut into `n_folds` folds:

    - ``fold_by="time"``: contiguous time blocks holding equal numbers of
      samples. For fold k the validation part is block k; training samples
      within `gap_days` of the validation window (on either side) are dropped
      ("gap"), and so is every sample of a region outside its home fold (the
      fold where the region is first seen): "region_crosses_parts".
    - ``fold_by="region"``: regions shuffled with `seed` and dealt to folds
      to balance sample counts (grouped k-fold); folds overlap in time, so
      no gap can be kept between train and validation.

    Generic over (timestamps, regions): SHARP sequences, synthetic
    sequences, any region-level samples; full-disk samples ("disk") are
    allowed with ``fold_by="time"`` only.

    Args:
        timestamps: Unix seconds UTC per sample (last frame of a sequence).
        regions: region id per sample.
        n_folds: number of folds (>= 2).
        test_fraction: share of the usable time span in the test block.
        gap_days: days left out between parts.
        fold_by: "time" or "region".
        seed: shuffling seed for ``fold_by="region"``.

    Returns:
        A `HybridSplit`; every fold passes `check_leakage` on regions, and
        with ``fold_by="time"`` train and validation are `gap_days` apart.

    Raises:
        ValueError: bad arguments, too few samples for the folds, or "disk"
            samples with ``fold_by="region"``.

    Example:
        >>> split = hybrid_kfold_split(timestamps, regions, n_folds=5)
        >>> for fold in split.folds:
        ...     train, validation = fold.mask("train"), fold.mask("validation")
    """
    timestamps, regions = _as_arrays(timestamps, regions)
    if int(n_folds) < 2:
        raise ValueError(f"n_folds must be >= 2, got {n_folds}.")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}.")
    if fold_by not in ("time", "region"):
        raise ValueError(f"fold_by must be 'time' or 'region', got {fold_by!r}.")
    if fold_by == "region" and np.any(regions == DISK_REGION):
        raise ValueError(
            "fold_by='region' cannot fold full-disk samples (region 'disk'); use "
            "fold_by='time'."
        )
    development = chronological_split(
        timestamps, regions, fractions=(1 - test_fraction, test_fraction),
        gap_days=gap_days, names=("development", "test"),
    )
    in_development = np.flatnonzero(development.assignment == "development")
    if len(in_development) < n_folds:
        raise ValueError(
            f"Only {len(in_development)} development samples for {n_folds} folds."
        )
    fold_of = np.full(len(timestamps), -1, dtype=np.int64)
    if fold_by == "time":
        fold_of[in_development] = _time_folds(timestamps[in_development], n_folds)
    else:
        fold_of[in_development] = _region_folds(regions[in_development], n_folds, seed)
    folds = [
        _hybrid_fold(timestamps, regions, fold_of, development, fold, gap_days, fold_by)
        for fold in range(n_folds)
    ]
    return HybridSplit(development=development, folds=folds, fold_of=fold_of,
                       fold_by=fold_by)


def _time_folds(times, n_folds):
    # Equal-count contiguous blocks: fold edges at time quantiles, so that a
    # quiet stretch does not leave one fold nearly empty.
    order = np.argsort(times, kind="stable")
    folds = np.empty(len(times), dtype=np.int64)
    folds[order] = np.arange(len(times)) * n_folds // len(times)
    return folds


def _region_folds(regions, n_folds, seed):
    unique, sizes = np.unique(regions, return_counts=True)
    order = np.random.default_rng(seed).permutation(len(unique))
    load = np.zeros(n_folds, dtype=np.int64)
    folds = np.empty(len(regions), dtype=np.int64)
    for index in order:
        fold = int(np.argmin(load))
        folds[regions == unique[index]] = fold
        load[fold] += sizes[index]
    return folds


def _hybrid_fold(timestamps, regions, fold_of, development, fold, gap_days, fold_by):
    assignment = np.full(len(timestamps), "", dtype=object)
    assignment[development.assignment == "test"] = "test"
    validation = fold_of == fold
    training = (fold_of >= 0) & ~validation
    assignment[validation] = "validation"
    assignment[training] = "train"
    dropped = {"gap": 0, "region_crosses_parts": 0}
    start = float(timestamps[validation].min())
    end = float(timestamps[validation].max())
    if fold_by == "time":
        near = training & (timestamps > start - gap_days * DAY) & (
            timestamps < end + gap_days * DAY)
        assignment[near] = ""
        dropped["gap"] = int(near.sum())
        # A region belongs to the fold where it is first seen; its samples in
        # any other fold would leak between train and validation.
        for region in np.unique(regions[fold_of >= 0]):
            if region == DISK_REGION:
                continue
            members = np.flatnonzero((regions == region) & (fold_of >= 0))
            home = fold_of[members[np.argmin(timestamps[members])]]
            touches_validation = home == fold or np.any(fold_of[members] == fold)
            if not touches_validation:
                continue
            away = members[(fold_of[members] != home) & (assignment[members] != "")]
            assignment[away] = ""
            dropped["region_crosses_parts"] += len(away)
    if not np.any(assignment == "train"):
        raise ValueError(
            f"Fold {fold} has no training samples left after the {gap_days}-day gaps "
            "and region grouping; use fewer folds or a shorter gap."
        )
    boundaries = {
        "train": _span(timestamps[assignment == "train"]),
        "validation": (start, end),
        "test": development.boundaries["test"],
    }
    return SplitResult(
        assignment=assignment.astype(str),
        names=HYBRID_NAMES,
        boundaries=boundaries,
        dropped=dropped,
        method=f"hybrid_kfold_{fold_by}[fold {fold}]",
        gap_days=float(gap_days),
    )


def _span(times):
    return (float(times.min()), float(times.max()))
