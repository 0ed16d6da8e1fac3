import numpy as np
import pytest

from flarekit.data import splits

DAY = 86400


def _regions_over(days=400, per_day=3, lifetime=20, seed=0):
    """Synthetic bookkeeping: regions born each day that live `lifetime` days."""
    rng = np.random.default_rng(seed)
    times, regions = [], []
    for birth in range(days):
        for k in range(per_day):
            name = f"AR{birth:04d}{k}"
            life = rng.integers(3, lifetime)
            for day in range(birth, min(days, birth + life)):
                times.append(day * DAY)
                regions.append(name)
    return np.array(times), np.array(regions)


def test_chronological_split_leaves_gap_and_no_region_crosses():
    times, regions = _regions_over()
    result = splits.chronological_split(times, regions, gap_days=27)
    splits.check_leakage(times, regions, result.assignment, gap_days=27, names=result.names)
    train, val, test = (times[result.mask(n)] for n in result.names)
    assert train.max() + 27 * DAY <= val.min()
    assert val.max() + 27 * DAY <= test.min()
    assert result.dropped["gap"] > 0
    # Regions born near the end of train live on; their later samples are dropped.
    assert result.dropped["region_crosses_parts"] >= 0
    assert sum(result.counts().values()) + sum(result.dropped.values()) == len(times)
    meta = result.to_metadata()
    assert meta["gap_days"] == 27 and meta["method"] == "chronological"


def test_long_lived_region_stays_in_its_first_part():
    # One region living 100 days straddles every boundary of a 0-gap split.
    times = np.arange(300) * DAY * 1.0
    regions = np.array(["long"] * 100 + [f"r{i}" for i in range(200)])
    result = splits.chronological_split(times, regions, gap_days=0)
    assert set(result.assignment[:100]) <= {"train", ""}
    splits.check_leakage(times, regions, result.assignment, gap_days=0)


def test_leakage_check_fails_on_shared_region_and_on_short_gap():
    times = np.array([0, 1, 2, 40, 41]) * DAY
    regions = np.array(["a", "b", "c", "a", "d"])
    assignment = np.array(["train", "train", "train", "test", "test"])
    with pytest.raises(splits.LeakageError, match="'a'"):
        splits.check_leakage(times, regions, assignment)
    regions = np.array(["a", "b", "c", "d", "e"])
    splits.check_leakage(times, regions, assignment, gap_days=27)
    with pytest.raises(splits.LeakageError, match="days apart"):
        splits.check_leakage(times, regions, assignment, gap_days=45)


def test_random_split_requires_allow_leakage_and_is_stamped():
    times, regions = _regions_over(days=60)
    with pytest.raises(splits.LeakageError, match="allow_leakage"):
        splits.random_split(times, regions)
    result = splits.random_split(times, regions, allow_leakage=True)
    assert result.to_metadata()["allow_leakage"] is True
    with pytest.raises(splits.LeakageError):
        splits.check_leakage(times, regions, result.assignment)


def test_region_split_keeps_regions_whole():
    times, regions = _regions_over(days=60)
    result = splits.region_split(regions, seed=1, timestamps=times)
    splits.check_leakage(times, regions, result.assignment)
    counts = result.counts()
    assert counts["train"] > counts["validation"] > 0 and counts["test"] > 0


@pytest.mark.parametrize("split", ["test", "validation", "test[:50%]"])
def test_evaluation_sets_refuse_resampling(split):
    with pytest.raises(splits.EvaluationSetError, match="oversampling"):
        splits.ensure_not_evaluation_split(split, "oversampling")
    splits.ensure_not_evaluation_split("train", "oversampling")


def test_bad_inputs_get_clear_errors():
    with pytest.raises(ValueError, match="empty"):
        splits.chronological_split([], [])
    with pytest.raises(ValueError, match="sum to 1"):
        splits.chronological_split([0, DAY * 100], ["a", "b"], fractions=(0.5, 0.2, 0.2))
    with pytest.raises(ValueError, match="too short"):
        splits.chronological_split([0, DAY * 10], ["a", "b"], gap_days=27)
    with pytest.raises(ValueError, match="NaN"):
        splits.chronological_split([0, np.nan], ["a", "b"])


def test_hash_is_order_independent_and_content_sensitive():
    a = splits.hash_samples([1, 2, 3], ["x", "y", "z"])
    assert a == splits.hash_samples([3, 1, 2], ["z", "x", "y"])
    assert a != splits.hash_samples([1, 2, 4], ["x", "y", "z"])
