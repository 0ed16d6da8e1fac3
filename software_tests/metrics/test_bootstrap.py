"""Bootstrap intervals resample whole regions, seeded, percentile."""

import math

import numpy as np
import pytest

from flarekit.metrics import (
    GroupResampler,
    bootstrap_interval,
    bootstrap_intervals,
    percentile_interval,
)


def test_resamples_keep_groups_whole():
    groups = np.repeat(["AR1", "AR2", "AR3"], [2, 3, 5])
    resampler = GroupResampler(groups, seed=1)
    for _ in range(50):
        indices = resampler.draw()
        drawn = groups[indices]
        for name, size in (("AR1", 2), ("AR2", 3), ("AR3", 5)):
            # A region is drawn whole, possibly several times.
            assert np.sum(drawn == name) % size == 0
            for index in np.flatnonzero(groups == name):
                assert np.sum(indices == index) == np.sum(drawn == name) // size


def test_group_and_sample_bootstrap_differ_predictably():
    # Two regions of 50 identical samples each: 0 for one, 1 for the other.
    # Drawing two regions gives a mean of 0, 0.5 or 1 with probability
    # 1/4, 1/2, 1/4, so the 95 % interval is exactly [0, 1]. Treating the 100
    # samples as independent gives mean ~ Binomial(100, 0.5) / 100, sd 0.05,
    # so roughly [0.4, 0.6]: far too narrow for two regions.
    values = np.repeat([0.0, 1.0], 50)
    regions = np.repeat(["AR1", "AR2"], 50)
    by_region = bootstrap_interval(np.mean, [values], groups=regions, seed=0)
    by_sample = bootstrap_interval(np.mean, [values], groups=None, seed=0)
    assert by_region == (0.0, 1.0)
    assert 0.35 < by_sample[0] < 0.45
    assert 0.55 < by_sample[1] < 0.65


def test_same_seed_same_interval_other_seed_differs():
    rng = np.random.default_rng(3)
    values = rng.normal(size=300)
    regions = np.repeat(np.arange(60), 5)
    first = bootstrap_interval(np.mean, [values], regions, n_boot=200, seed=7)
    again = bootstrap_interval(np.mean, [values], regions, n_boot=200, seed=7)
    other = bootstrap_interval(np.mean, [values], regions, n_boot=200, seed=8)
    assert first == again
    assert first != other


def test_several_statistics_share_resamples():
    values = np.arange(10.0)
    regions = np.repeat(np.arange(5), 2)

    def statistic(x):
        return {"mean": x.mean(), "twice_mean": 2 * x.mean()}

    intervals = bootstrap_intervals(statistic, [values], regions, n_boot=100)
    assert intervals["twice_mean"][0] == pytest.approx(2 * intervals["mean"][0])
    assert intervals["twice_mean"][1] == pytest.approx(2 * intervals["mean"][1])


def test_undefined_resamples_are_dropped_or_reported():
    assert percentile_interval([1.0, 2.0, 3.0, float("nan")], 0.5) == (1.5, 2.5)
    low, high = percentile_interval([1.0, float("nan"), float("nan")])
    assert math.isnan(low) and math.isnan(high)
    with pytest.raises(ValueError, match="confidence"):
        percentile_interval([1.0], confidence=95)


def test_mismatched_lengths_are_rejected():
    with pytest.raises(ValueError, match="groups"):
        bootstrap_interval(np.mean, [np.zeros(4)], groups=[0, 1, 2])
    with pytest.raises(ValueError, match="differ in length"):
        bootstrap_interval(lambda a, b: 0.0, [np.zeros(4), np.zeros(3)])
