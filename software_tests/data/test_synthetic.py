"""The synthetic Sun's physics, labels, determinism and splits.

SYNTHETIC_SUN.md asks the tests to pin the physics: Joy's tilt sign per
hemisphere, Hale polarity flipping with the cycle, the rotation rate at the
equator and at 30 deg, the limb-darkening profile, the power-law slope of
flare peak fluxes, base rates per class, and the calibration of the stored
true probability against realised outcomes. Every test uses a small
simulation (months, not years) so the file runs in well under a minute.
"""

from __future__ import annotations

import dataclasses
import itertools
import json

import numpy as np
import pytest

from flarekit.data import goes, splits, synthetic

# One small simulation near cycle maximum shared by most tests. The sample
# stride equals the 24 h horizon, so a region's forecast windows do not
# overlap and outcomes are independent given the rates (the calibration test
# relies on that).
SMALL = synthetic.SyntheticSunConfig(
    seed=7,
    duration_days=150.0,
    warmup_days=30.0,
    cycle_phase_at_start=0.35,
    active_region_stride_steps=15,
    full_disk_stride_steps=15,
    sequence_stride_steps=60,
    full_disk_size=48,
    patch_size=24,
    sequence_patch_size=12,
)


@pytest.fixture(scope="module")
def sun():
    return synthetic.simulate(SMALL)


def _polarity_centres(sun, index, day):
    """Flux-weighted (x, y) in Mm of the positive and negative field."""
    field, coordinates = sun.region_field(index, day)
    field = field[0]
    x = coordinates[None, :]
    y = coordinates[::-1, None]  # rows run north to south
    centres = {}
    for sign in (1, -1):
        weight = np.maximum(sign * field, 0.0)
        total = weight.sum()
        centres[sign] = np.array([(weight * x).sum(), (weight * y).sum()]) / total
    return centres


def _simple_regions_at_peak(sun, limit=80):
    """Single-bipole regions and the day of their peak flux."""
    regions = sun.regions
    simple = np.flatnonzero(regions.n_bipoles == 1)[:limit]
    rows = [sun._bipole_rows[i].start for i in simple]
    peak_day = sun.bipoles.start_day[rows] + sun.bipoles.growth_days[rows]
    return simple, peak_day


def test_joy_tilt_sign_per_hemisphere(sun):
    # Measured on each region's own field: the leading (western) polarity
    # sits nearer the equator, so it is south of the following one in the
    # north and north of it in the south; the mean tilt is ~0.5 |latitude|.
    regions = sun.regions
    simple, peak_day = _simple_regions_at_peak(sun)
    dy_by_hemisphere = {1: [], -1: []}
    tilt_ratio = []
    for index, day in zip(simple, peak_day):
        leading = regions.leading_polarity[index]
        centres = _polarity_centres(sun, index, day)
        lead, follow = centres[leading], centres[-leading]
        assert lead[0] > follow[0], "the leading polarity must be west"
        hemisphere = int(np.sign(regions.latitude[index]))
        dy_by_hemisphere[hemisphere].append(lead[1] - follow[1])
        tilt = np.degrees(
            np.arctan2(hemisphere * (follow[1] - lead[1]), lead[0] - follow[0])
        )
        tilt_ratio.append((tilt, abs(regions.latitude[index])))
    north, south = np.array(dy_by_hemisphere[1]), np.array(dy_by_hemisphere[-1])
    assert len(north) > 10 and len(south) > 10
    assert np.mean(north) < 0 < np.mean(south)
    assert np.mean(north < 0) > 0.7 and np.mean(south > 0) > 0.7
    tilt, latitude = np.array(tilt_ratio).T
    slope = np.sum(tilt * latitude) / np.sum(latitude**2)
    assert 0.35 < slope < 0.65


def test_hale_polarity_flips_with_the_cycle():
    # A short artificial cycle (200 days) puts a cycle boundary inside a
    # 60-day run; regions keep emerging at minimum through emergence_rate_min.
    config = synthetic.SyntheticSunConfig(
        seed=3,
        duration_days=60.0,
        warmup_days=0.0,
        cycle_period_days=200.0,
        cycle_phase_at_start=0.85,
        emergence_rate_min=1.5,
        emergence_rate_max=0.5,
        north_leading_polarity=-1,
        complexity_probability_range=(0.0, 0.0),
    )
    hale = synthetic.SyntheticSun(config)
    regions = hale.regions
    simple, peak_day = _simple_regions_at_peak(hale, limit=200)
    seen = set()
    for index, day in zip(simple, peak_day):
        field, coordinates = hale.region_field(index, day)
        # Sign of the western polarity, from the field alone.
        west_sign = np.sign(np.sum(field[0] * coordinates[None, :]))
        hemisphere = int(np.sign(regions.latitude[index]))
        cycle = int(regions.cycle[index])
        expected = -1 * hemisphere * (-1) ** cycle
        assert west_sign == expected, (index, cycle, hemisphere)
        seen.add((cycle, hemisphere))
    assert seen == {(0, 1), (0, -1), (1, 1), (1, -1)}


def test_rotation_rate_at_equator_and_30_degrees(sun):
    assert synthetic.rotation_rate(0.0) == pytest.approx(14.713)
    assert synthetic.rotation_rate(30.0) == pytest.approx(
        14.713 - 2.396 / 4 - 1.787 / 16
    )
    assert synthetic.rotation_rate(-30.0) == synthetic.rotation_rate(30.0)
    # Regions move at the synodic rate; a disk crossing takes ~13-14 days.
    regions = sun.regions
    index = np.arange(len(regions))
    moved = _wrap(regions.longitude(index, 11.0) - regions.longitude(index, 10.0))
    expected = synthetic.rotation_rate(regions.latitude) - 0.9856
    np.testing.assert_allclose(moved, expected, atol=1e-9)
    crossing = 180.0 / synthetic.synodic_rotation_rate(np.array([0.0, 30.0]))
    assert 13.0 < crossing[0] < 13.3 and 13.6 < crossing[1] < 14.0


def _wrap(angle):
    return (angle + 180.0) % 360.0 - 180.0


def test_limb_darkening_profile_and_off_limb_nan():
    quiet = synthetic.SyntheticSunConfig(
        duration_days=3.0,
        warmup_days=0.0,
        emergence_rate_max=0.0,
        emergence_rate_min=0.0,
        full_disk_size=96,
    )
    image = synthetic.SyntheticSun(quiet).render_full_disk(0)
    magnetogram, continuum = image[..., 0], image[..., 1]
    size = quiet.full_disk_size
    coordinates = (np.arange(size) - (size - 1) / 2) / (
        quiet.disk_radius_fraction * size
    )
    x, y = np.meshgrid(coordinates, -coordinates)
    rho = np.hypot(x, y)
    on_disk = rho < 1
    assert np.all(np.isnan(magnetogram[~on_disk]))
    assert not np.any(np.isnan(magnetogram[on_disk]))
    assert np.all(continuum[~on_disk] == 0)
    for low, high in [(0.0, 0.2), (0.5, 0.6), (0.8, 0.85), (0.95, 0.98)]:
        ring = on_disk & (rho >= low) & (rho < high)
        mu = np.sqrt(1 - rho[ring] ** 2)
        expected = np.mean(1 - 0.6 * (1 - mu))
        assert np.mean(continuum[ring]) == pytest.approx(expected, abs=0.003)
    assert synthetic.limb_darkening(0.0, 0.6) == pytest.approx(0.4)
    # The optically thin EUV corona brightens towards the limb.
    euv = image[..., 2]
    assert euv[on_disk & (rho > 0.9)].mean() > 1.3 * euv[on_disk & (rho < 0.3)].mean()


def test_flare_peak_fluxes_follow_the_power_law(sun):
    # Below C1 no cut-off binds (the lowest cut-off is C1), so fluxes in
    # [A1, C1) follow the truncated power law exactly: fit its index by
    # maximum likelihood.
    from scipy import optimize

    low, high = 1e-8, 1e-6
    flux = sun.flares["peak_flux"]
    flux = flux[(flux >= low) & (flux < high)]
    assert flux.size > 20000
    mean_log = np.mean(np.log(flux))

    def negative_log_likelihood(index):
        norm = (low ** (1 - index) - high ** (1 - index)) / (index - 1)
        return np.log(norm) + index * mean_log

    fit = optimize.minimize_scalar(
        negative_log_likelihood, bounds=(1.2, 3.0), method="bounded"
    )
    assert fit.x == pytest.approx(SMALL.flare_power_law_index, abs=0.1)
    assert flux.min() >= SMALL.flare_min_flux
    # Large, complex regions (high R) make the X flares.
    x_rows = sun.flares["step_row"][sun.flares["peak_flux"] >= 1e-4]
    assert np.all(sun.step_cutoff[x_rows] >= 1e-4)


def test_base_rates_per_class_are_plausible(sun):
    samples = sun.samples("active_region")
    rate = {t: samples.outcomes(t).mean() for t in synthetic.PROBABILITY_THRESHOLDS}
    assert 0.08 < rate["C1.0"] < 0.5
    assert 0.01 < rate["M1.0"] < 0.12
    assert rate["X1.0"] < rate["M1.0"] / 3
    counts = np.bincount(samples.goes_class, minlength=len(goes.GOES_CLASSES))
    assert counts[: goes.GOES_CLASSES.index("M") + 1].min() > 0
    assert np.all(samples.goes_class == goes.flux_to_class_index(samples.peak_flux))
    # Mount Wilson classes: all four occur; simple regions are the majority.
    classes = np.bincount(samples.mount_wilson, minlength=4) / len(samples)
    assert classes.min() > 0 and classes[0] + classes[1] > 0.5
    # Complex regions flare more: delta regions have the highest M rate.
    outcome = samples.outcomes("M1.0")
    assert outcome[samples.mount_wilson == 3].mean() > 3 * outcome.mean()


def test_true_probability_is_calibrated(sun):
    # Reliability within sampling error: per bin of the true probability the
    # observed frequency matches the mean probability (z < 4), and so do the
    # totals; the windows of one region do not overlap (stride = horizon).
    samples = sun.samples("active_region")
    assert np.all(np.diff(np.sort(samples.step)) >= 0)
    for threshold in ("C1.0", "M1.0"):
        probability = samples.true_probability(threshold)
        outcome = samples.outcomes(threshold)
        expected, variance = probability.sum(), np.sum(probability * (1 - probability))
        assert abs(outcome.sum() - expected) < 4 * np.sqrt(variance) + 1
        edges = [0.0, 0.02, 0.1, 0.3, 0.6, 1.0]
        for low, high in itertools.pairwise(edges):
            chosen = (probability >= low) & (probability < high)
            if chosen.sum() < 30:
                continue
            p = probability[chosen]
            spread = np.sqrt(np.sum(p * (1 - p))) + 1
            assert abs(outcome[chosen].sum() - p.sum()) < 4 * spread, (threshold, low)
    # Forecast skill is real but bounded: the Bayes ceiling is well below 1.
    tss = _best_tss(samples.true_probability("M1.0"), samples.outcomes("M1.0"))
    assert 0.5 < tss < 0.97


def _best_tss(probability, outcome):
    best = -1.0
    for threshold in np.unique(probability):
        forecast = probability >= threshold
        pod = np.mean(forecast[outcome == 1])
        pofd = np.mean(forecast[outcome == 0])
        best = max(best, pod - pofd)
    return best


def test_persistence_window_precedes_the_forecast_window(sun):
    # previous_peak_flux at t is the largest flare in (t - H, t]: for a
    # region sampled every H, it equals peak_flux of its previous sample.
    samples = sun.samples("active_region")
    horizon = SMALL.horizon_steps
    same = {}
    for index in range(len(samples)):
        same[(samples.region_index[index], samples.step[index])] = index
    checked = 0
    for (region, step), index in same.items():
        before = same.get((region, step - horizon))
        if before is not None:
            assert samples.previous_peak_flux[index] == samples.peak_flux[before]
            checked += 1
    assert checked > 100


def test_same_seed_gives_the_same_arrays(sun):
    again = synthetic.SyntheticSun(SMALL)
    np.testing.assert_array_equal(again.regions.latitude, sun.regions.latitude)
    np.testing.assert_array_equal(again.flares["peak_flux"], sun.flares["peak_flux"])
    first = next(sun.examples("active_region", "test"))
    second = next(again.examples("active_region", "test"))
    assert first.keys() == second.keys()
    for name in first:
        np.testing.assert_array_equal(first[name], second[name])
    other = synthetic.SyntheticSun(dataclasses.replace(SMALL, seed=8))
    assert not np.array_equal(
        other.flares["peak_flux"][:100], sun.flares["peak_flux"][:100]
    )


@pytest.mark.parametrize("kind", synthetic.SAMPLE_KINDS)
def test_split_has_no_leakage(sun, kind):
    samples = sun.samples(kind)
    result = sun.split(kind)
    splits.check_leakage(
        samples.timestamp,
        samples.region,
        result.assignment,
        gap_days=SMALL.split_gap_days,
        names=result.names,
    )
    parts = {
        name: set(samples.region[result.assignment == name]) for name in result.names
    }
    assert all(len(parts[name]) > 0 for name in result.names)
    if kind != "full_disk":
        assert not parts["train"] & parts["validation"]
        assert not parts["train"] & parts["test"]
        assert not parts["validation"] & parts["test"]
    # The forecast window of the last training sample ends inside the gap.
    last_train = samples.timestamp[result.assignment == "train"].max()
    first_validation = samples.timestamp[result.assignment == "validation"].min()
    assert last_train + SMALL.horizon_hours * 3600 < first_validation


@pytest.mark.parametrize("kind", synthetic.SAMPLE_KINDS)
def test_examples_follow_the_data_contract(sun, kind):
    example = next(synthetic.examples(SMALL, kind, "validation"))
    common = {
        "timestamp",
        "region",
        "peak_flux",
        "goes_class",
        "previous_peak_flux",
        "probability",
        "mount_wilson",
    }
    assert common <= set(example)
    channels = len(synthetic.CHANNELS)
    if kind == "full_disk":
        assert example["image"].shape == (48, 48, channels)
        assert example["region"] == "disk"
        assert np.isnan(example["image"][0, 0, 0])  # the corner is off the limb
    elif kind == "active_region":
        assert example["image"].shape == (24, 24, channels)
    else:
        assert example["frames"].shape == (16, 12, 12, channels)
    if kind != "full_disk":
        for name in ("total_flux", "r_value", "pil_length", "latitude", "longitude"):
            assert np.isfinite(example[name])
        assert example["region"].startswith("SR")
    image = example.get("image", example.get("frames"))
    assert image.dtype == np.float32
    assert example["probability"].shape == (3,)
    assert np.all(np.diff(example["probability"]) <= 0)  # P(>=C) >= P(>=M) >= P(>=X)
    assert example["peak_flux"] >= goes.QUIET_FLUX
    assert isinstance(example["timestamp"], np.int64)
    metadata = sun.metadata(kind)
    json.dumps(metadata)
    assert metadata["channels"] == list(synthetic.CHANNELS)
    assert metadata["probability_thresholds"] == ["C1.0", "M1.0", "X1.0"]
    assert set(metadata["base_rates"]) == {"train", "validation", "test"}


def test_flares_brighten_the_hot_channel_most(sun):
    # Right after a big flare the 94-like channel brightens by a larger
    # factor than the 171-like channel, and the glow fades within hours.
    glow = sun.step_flare_glow
    row = int(np.argmax(glow))
    region = int(sun.step_region[row])
    step = int(sun.step_index[row])
    bright = sun.render_patch(region, step)
    later = sun.render_patch(region, step + 4)  # 6.4 h later: glow e^-6.4 fainter
    gain = bright.max(axis=(0, 1)) / np.maximum(later.max(axis=(0, 1)), 1e-9)
    assert gain[3] > gain[2] > 1.0


def test_config_rejects_bad_values(sun):
    with pytest.raises(ValueError, match="duration_days"):
        synthetic.SyntheticSunConfig(duration_days=-1.0)
    with pytest.raises(ValueError, match="horizon_hours"):
        synthetic.SyntheticSunConfig(horizon_hours=25.0)
    with pytest.raises(ValueError, match="channels"):
        synthetic.SyntheticSunConfig(channels=("magnetogram", "h_alpha"))
    with pytest.raises(ValueError, match="movie"):
        sun.samples("movie")
    with pytest.raises(ValueError, match="holdout"):
        sun.split_samples("active_region", "holdout")
