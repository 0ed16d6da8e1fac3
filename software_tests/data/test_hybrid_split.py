"""hybrid_kfold_split: k folds over the first block in time, a chronological test block."""

import itertools

import numpy as np
import pytest

from flarekit.data.splits import DAY, check_leakage, hybrid_kfold_split


def _regions_over_years(n_regions=120, days=1500, samples_per_region=12, seed=0):
    # Regions live about 10 days, sampled every 96 minutes x 12 as SHARP
    # sequences are; start days are spread over ~4 years.
    rng = np.random.default_rng(seed)
    starts = np.sort(rng.uniform(0, days, n_regions)) * DAY
    timestamps, regions = [], []
    for number, start in enumerate(starts):
        for step in range(samples_per_region):
            timestamps.append(1.3e9 + start + step * 0.8 * DAY)
            regions.append(f"HARP{1000 + number}")
    return np.array(timestamps), np.array(regions)


def test_test_block_is_last_and_separated_by_the_gap():
    timestamps, regions = _regions_over_years()
    split = hybrid_kfold_split(timestamps, regions, n_folds=5, test_fraction=0.2,
                               gap_days=27)
    test = split.development.assignment == "test"
    development = split.development.assignment == "development"
    assert test.sum() > 0 and development.sum() > 0
    assert timestamps[test].min() - timestamps[development].max() >= 27 * DAY
    assert split.development.dropped["gap"] > 0
    for fold in split.folds:
        np.testing.assert_array_equal(fold.assignment == "test", test)


def test_time_folds_are_contiguous_and_leak_free():
    timestamps, regions = _regions_over_years()
    split = hybrid_kfold_split(timestamps, regions, n_folds=4, gap_days=10)
    assert len(split.folds) == 4
    # Every development sample validates exactly once, unless its region
    # crosses a fold edge (dropped from the fold that is not its home).
    validated = np.zeros(len(timestamps), dtype=int)
    for fold in split.folds:
        train, validation = fold.mask("train"), fold.mask("validation")
        check_leakage(timestamps, regions, fold.assignment)
        gap = np.min(np.abs(timestamps[train][:, None] - timestamps[validation][None, :]))
        assert gap >= 10 * DAY
        assert fold.dropped["gap"] > 0
        validated += validation
    assert validated.max() == 1
    fold_windows = [(timestamps[f.mask("validation")].min(),
                     timestamps[f.mask("validation")].max()) for f in split.folds]
    assert all(a[1] < b[0] for a, b in itertools.pairwise(fold_windows))
    counts = np.bincount(split.fold_of[split.fold_of >= 0])
    assert counts.max() - counts.min() <= 1  # equal-count folds


def test_region_folds_group_regions():
    timestamps, regions = _regions_over_years()
    split = hybrid_kfold_split(timestamps, regions, n_folds=5, fold_by="region", seed=3)
    for fold in split.folds:
        check_leakage(timestamps, regions, fold.assignment)
        assert fold.dropped == {"gap": 0, "region_crosses_parts": 0}
    folds_of_region = {}
    for region, fold in zip(regions, split.fold_of):
        if fold >= 0:
            folds_of_region.setdefault(region, set()).add(int(fold))
    assert all(len(folds) == 1 for folds in folds_of_region.values())


def test_hand_worked_case():
    # Two regions per 100-day block, one sample a day for 10 days; five blocks.
    # Test fraction 0.2 of the usable span; 5-day gaps.
    timestamps, regions = [], []
    for block in range(5):
        for offset in (0, 50):
            for day in range(10):
                timestamps.append((block * 100 + offset + day) * DAY)
                regions.append(f"R{block}{offset}")
    split = hybrid_kfold_split(np.array(timestamps), np.array(regions), n_folds=2,
                               test_fraction=0.2, gap_days=5)
    metadata = split.to_metadata()
    assert metadata["method"] == "hybrid_kfold_time" and metadata["n_folds"] == 2
    # Usable span 459 - 5 = 454 days; the test block starts at 0.8 * 454 + 5.
    test_regions = set(np.array(regions)[split.development.assignment == "test"])
    assert test_regions == {"R40", "R450"}
    assert metadata["folds"][0]["counts"]["validation"] == 40


def test_bad_arguments():
    timestamps, regions = _regions_over_years(n_regions=10)
    with pytest.raises(ValueError, match="n_folds must be >= 2"):
        hybrid_kfold_split(timestamps, regions, n_folds=1)
    with pytest.raises(ValueError, match="fold_by must be"):
        hybrid_kfold_split(timestamps, regions, fold_by="month")
    with pytest.raises(ValueError, match="cannot fold full-disk"):
        hybrid_kfold_split(timestamps, np.full(len(timestamps), "disk"), fold_by="region")
    with pytest.raises(ValueError, match="no training samples"):
        hybrid_kfold_split(timestamps, regions, n_folds=2, gap_days=400)
