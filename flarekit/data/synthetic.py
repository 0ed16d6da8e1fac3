"""The synthetic Sun: a physical toy Sun with known flare probabilities.

The embedded default dataset (SYNTHETIC_SUN.md is its specification). One
seed drives a simulation of active regions over simulated years: an 11-year
activity cycle sets how often regions emerge; they emerge at Sporer's-law
latitudes with Hale's-law polarity and Joy's-law tilt, grow for days, decay
for weeks and rotate across the disk with Snodgrass differential rotation.
Some gain extra bipoles, a few of them pushed against the main bipole so that
opposite polarities touch (delta spots). From each region's own magnetic
field the simulation measures what forecasters measure (total unsigned flux,
Schrijver's R value, polarity-inversion-line length, Mount Wilson class), and
the flare rate follows from them:

    lambda = lambda0 * (R_eff / R0)**a * (1 + b * max(dPhi/dt, 0) / Phi)

with R_eff = R + 0.007 * Phi (a weak background, `r_value_flux_share`, so
that simple regions without strong-gradient inversion lines still make small
flares). Each flare's peak flux is drawn from dN/dF ~ F**-2 between A1 and a
cut-off that grows with R_eff. A flare counts (for labels and truth) when
its region faces Earth. Because the generator knows every rate, it knows each
sample's true probability of a flare >= C1, M1 and X1 in the forecast window,
and so the best skill any forecaster could reach (the Bayes ceiling).

Images (magnetogram in Gauss with NaN off the limb, limb-darkened continuum,
two EUV-like channels in DN/s-like units with loops and flare brightening)
are rendered on demand for three kinds of samples: `full_disk`,
`active_region` patches and `sequence`s of patches. `examples` yields them as
dicts with the data contract's feature names, without TensorFlow.

Example:
    >>> config = SyntheticSunConfig(duration_days=120.0)
    >>> sun = simulate(config)
    >>> samples = sun.samples("active_region")
    >>> example = next(sun.examples("active_region", split="train"))
    >>> example["image"].shape
    (64, 64, 4)

References:
    Schrijver, C. J. 2007, ApJ 655, L117 (the R value).
    Snodgrass, H. B. 1983, ApJ 270, 288 (differential rotation).
    Hale, G. E. et al. 1919, ApJ 49, 153 (polarity and tilt laws).
    Kunzel, H. 1960, Astron. Nachr. 285, 271 (delta spots).
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime
import functools
import itertools
import sys
from collections.abc import Iterator

import numpy as np

from flarekit.data import goes

SPEC_VERSION = "1.0.0"
CHANNELS = ("magnetogram", "continuum", "euv_171", "euv_94")
CHANNEL_UNITS = ("G", "relative intensity", "DN/s", "DN/s")
# What each channel is, for `flarekit.layers` (metadata "channel_declarations"):
# the magnetogram is a signed field whose noise is about 10 G; the others are
# intensities, floored below their quiet-Sun level (continuum ~1, EUV ~10 DN/s).
CHANNEL_DECLARATIONS = {
    "magnetogram": {"unit": "G", "kind": "signed", "floor": 10.0},
    "continuum": {"unit": "relative intensity", "kind": "positive", "floor": 0.01},
    "euv_171": {"unit": "DN/s", "kind": "positive", "floor": 1.0},
    "euv_94": {"unit": "DN/s", "kind": "positive", "floor": 1.0},
}
MOUNT_WILSON_CLASSES = ("alpha", "beta", "beta-gamma", "beta-gamma-delta")
PROBABILITY_THRESHOLDS = ("C1.0", "M1.0", "X1.0")
SAMPLE_KINDS = ("full_disk", "active_region", "sequence")
FLUX_SCALE = "true (science-quality, no SWPC 0.7 factor)"
DISK_REGION = "disk"

SUN_RADIUS_MM = 695.7
# Earth's mean orbital rate; a sidereal solar rotation rate minus this is the
# synodic rate seen from Earth.
EARTH_ORBITAL_RATE_DEG_PER_DAY = 0.9856
# The Carrington rate seen from Earth (synodic period 27.2753 days); the weak
# network field is carried round at this rate.
CARRINGTON_SYNODIC_RATE_DEG_PER_DAY = 360.0 / 27.2753
_MM_TO_CM = 1e8
_SECONDS_PER_DAY = 86400


@dataclasses.dataclass(frozen=True)
class SyntheticSunConfig:
    """Every number of the synthetic Sun, with its default and unit.

    Defaults are tuned (and measured, see the dataset README) so that about
    5 % of active-region samples see a flare >= M1 in the next 24 h, and the
    Bayes-ceiling TSS for that task is about 0.8. Change a field with
    `dataclasses.replace(config, field=value)`.

    Attributes:
        seed: the one seed all randomness flows from.
        start_date: first observation, ISO date (UTC midnight), e.g.
            "2011-03-01".
        duration_days: simulated observing time, days.
        cadence_minutes: time step of the simulation and of the frames of a
            sequence, minutes (96 as SHARP sequences).
        warmup_days: regions emerge from this many days before `start_date`,
            so the disk is already populated at the start.

        cycle_period_days: length of an activity cycle (11 years).
        cycle_phase_at_start: cycle phase at `start_date`, 0 (minimum) to 1
            (next minimum); the activity envelope is sin^2(pi * phase).
        north_leading_polarity: sign (+1 or -1) of the leading polarity in
            the northern hemisphere during the cycle running at
            `start_date`; it flips with each new cycle (Hale's law).
        emergence_rate_max: active regions emerging per day at cycle maximum.
        emergence_rate_min: active regions emerging per day at minimum.

        latitude_start_deg: mean |latitude| of emergence at cycle start
            (Sporer's law).
        latitude_end_deg: mean |latitude| of emergence at cycle end.
        latitude_scatter_deg: standard deviation of |latitude| around it.
        joy_coefficient: mean tilt per degree of |latitude| (Joy's law).
        tilt_scatter_deg: standard deviation of the tilt, degrees.

        log_flux_mean: mean of log10 of the main bipole's peak unsigned
            flux, Mx.
        log_flux_sigma: standard deviation of that log10 flux.
        flux_min: lower truncation of the peak unsigned flux, Mx.
        flux_max: upper truncation of the peak unsigned flux, Mx.
        separation_mm_at_1e22: pole separation of a 1e22 Mx bipole at full
            growth, Mm; it scales with sqrt(flux).
        spot_width_mm: Gaussian width of the core of a 1e21 Mx pole, Mm.
        spot_width_exponent: the core width scales as (pole flux)**this.
        plage_width_factor: width of a pole's diffuse part / its core width.
        leading_core_fraction: share of the leading pole's flux in its core.
        following_core_range: range of the following pole's core share (a
            small share makes a diffuse following polarity, an alpha region).
        following_width_factor: following core width / leading core width.
        decay_spread: relative growth of pole widths over the decay phase.
        growth_days_range: days from emergence to peak flux (uniform).
        decay_days_range: days from peak flux to disappearance (uniform).

        rotation_coefficients: Snodgrass (1983) sidereal rotation
            A, B, C in Omega = A + B sin^2(lat) + C sin^4(lat), deg/day.

        complexity_probability_range: probability that a region gains extra
            bipoles at flux_min and at flux_max (log-linear in between).
        extra_bipoles_mean: mean number of extra bipoles beyond the first in
            a complex region (Poisson).
        extra_bipoles_max: cap on extra bipoles per region.
        delta_probability: share of extra bipoles placed against an
            opposite main pole (a delta configuration).
        extra_flux_fraction_range: extra bipole flux / main bipole flux.
        extra_growth_days_range: growth time of extra bipoles, days.
        delta_distance_range: distance between the touching opposite poles
            in units of the sum of their core widths.

        diagnostic_pixel_mm: pixel size of the de-projected grid on which R,
            PIL length, flux and Mount Wilson class are measured, Mm.
        diagnostic_every_steps: measure every this many cadence steps and
            interpolate in between (regions change over hours, not minutes).
        diagnostic_max_pixels: cap on the diagnostic grid's side.
        r_value_threshold_gauss: field strength on both sides of a strong-
            gradient polarity inversion line (Schrijver 2007: 150 G).
        r_value_kernel_fwhm_mm: FWHM of the Gaussian that weights flux near
            the inversion lines (Schrijver 2007: 15 Mm).
        spot_threshold_gauss: field above which a pole counts as a spot for
            the Mount Wilson class.
        umbra_threshold_gauss: field above which a spot counts as an umbra
            for the delta test.
        delta_max_distance_mm: umbrae of opposite polarity this close (edge
            to edge) form a delta spot.
        gamma_misplaced_fraction: share of strong flux on the wrong side of
            the best straight dividing line above which a region is gamma.
        alpha_minor_fraction: a region is alpha when the weaker polarity
            holds less than this share of the spot flux.

        flare_rate_per_day: lambda0, flares >= A1 per day at R = R0 and no
            emergence.
        r_value_flux_share: share of the total unsigned flux added to R in
            the rate and cut-off (R + share * Phi), a weak background that
            lets simple regions without strong-gradient inversion lines
            still make small flares, as real ones do.
        r_value_reference: R0, Mx.
        r_value_exponent: a.
        emergence_coefficient: b, days (multiplies dPhi/dt / Phi in 1/day).
        flare_min_flux: lower end of the flare peak-flux power law (A1),
            W/m^2.
        flare_power_law_index: alpha in dN/dF ~ F**-alpha.
        flare_cutoff_at_r0: upper cut-off of peak fluxes at R = R0, W/m^2.
        flare_cutoff_exponent: the cut-off scales as (R / R0)**this.
        flare_cutoff_range: (lowest, highest) cut-off, W/m^2.
        flare_decay_hours: e-folding time of flare EUV brightening, hours.

        horizon_hours: forecast window (t, t + horizon], hours.
        max_central_meridian_deg: region samples are taken within this many
            degrees of the central meridian (projection effects beyond).
        sample_min_flux: region samples need at least this much unsigned
            flux at the sample time, Mx.
        full_disk_stride_steps: cadence steps between full-disk samples.
        active_region_stride_steps: cadence steps between patches of one
            region.
        sequence_stride_steps: cadence steps between sequences of one region.
        full_disk_size: full-disk image side, pixels.
        disk_radius_fraction: solar radius / image side in full-disk images.
        patch_size: active-region patch side, pixels.
        patch_fov_mm: field of view of patches and sequence frames, Mm at
            disk centre.
        sequence_length: frames per sequence (oldest first).
        sequence_patch_size: side of each sequence frame, pixels.
        channels: channels to render, a subset of `CHANNELS`, in order.

        limb_darkening_u: u in I(mu) = 1 - u (1 - mu).
        magnetogram_noise_gauss: standard deviation of magnetogram noise, G.
        network_field_gauss: rms of the weak network field, G.
        penumbra_gauss: (start, end) of the field range over which the
            continuum darkens to penumbral intensity.
        umbra_gauss: (start, end) of the field range of umbral darkening.
        penumbra_intensity: continuum of a penumbra / quiet Sun.
        umbra_intensity: continuum of an umbra / quiet Sun.
        continuum_noise: relative continuum noise.
        corona_171: quiet-corona 171-like brightness at disk centre, DN/s.
        corona_94: quiet-corona 94-like brightness at disk centre, DN/s.
        limb_brightening: EUV brightening factor per unit of (1/mu - 1).
        corona_scale_height: off-limb EUV scale height, solar radii.
        loop_gain_171: 171-like loop brightness per G of loop field.
        loop_gain_94: 94-like loop brightness per G**loop_exponent_94.
        loop_exponent_94: hot loops brighten faster with field.
        flare_gain_171: 171-like flare brightening per W/m^2 of GOES flux.
        flare_gain_94: 94-like flare brightening per W/m^2 (the hot channel
            brightens most).
        flare_width_mm: width of the flare brightening, Mm.
        euv_noise_fraction: relative EUV noise (shot-noise-like).
        euv_read_noise: EUV read noise, DN/s.
        cosmic_ray_hits: mean cosmic-ray hits per EUV image (robustness
            tests; 0 = none).
        missing_frame_probability: chance a sequence frame is missing (all
            NaN; robustness tests; 0 = none).

        split_fractions: train / validation / test shares of the time span.
        split_gap_days: days left out between split parts (one rotation).
    """

    seed: int = 0
    start_date: str = "2011-03-01"
    duration_days: float = 420.0
    cadence_minutes: float = 96.0
    warmup_days: float = 60.0

    cycle_period_days: float = 4018.0
    cycle_phase_at_start: float = 0.3
    north_leading_polarity: int = -1
    emergence_rate_max: float = 2.0
    emergence_rate_min: float = 0.05

    latitude_start_deg: float = 30.0
    latitude_end_deg: float = 8.0
    latitude_scatter_deg: float = 4.0
    joy_coefficient: float = 0.5
    tilt_scatter_deg: float = 10.0

    log_flux_mean: float = 21.9
    log_flux_sigma: float = 0.45
    flux_min: float = 1e21
    flux_max: float = 1e23
    separation_mm_at_1e22: float = 45.0
    spot_width_mm: float = 3.0
    spot_width_exponent: float = 0.35
    plage_width_factor: float = 2.5
    leading_core_fraction: float = 0.6
    following_core_range: tuple = (0.3, 0.6)
    following_width_factor: float = 1.2
    decay_spread: float = 1.0
    growth_days_range: tuple = (1.0, 5.0)
    decay_days_range: tuple = (7.0, 42.0)

    rotation_coefficients: tuple = (14.713, -2.396, -1.787)

    complexity_probability_range: tuple = (0.05, 0.9)
    extra_bipoles_mean: float = 0.7
    extra_bipoles_max: int = 4
    delta_probability: float = 0.5
    extra_flux_fraction_range: tuple = (0.15, 0.6)
    extra_growth_days_range: tuple = (0.5, 2.5)
    delta_distance_range: tuple = (0.8, 1.5)

    diagnostic_pixel_mm: float = 3.0
    diagnostic_every_steps: int = 4
    diagnostic_max_pixels: int = 96
    r_value_threshold_gauss: float = 150.0
    r_value_kernel_fwhm_mm: float = 15.0
    spot_threshold_gauss: float = 400.0
    umbra_threshold_gauss: float = 800.0
    delta_max_distance_mm: float = 10.0
    gamma_misplaced_fraction: float = 0.1
    alpha_minor_fraction: float = 0.1

    flare_rate_per_day: float = 150.0
    r_value_flux_share: float = 0.007
    r_value_reference: float = 3e20
    r_value_exponent: float = 1.5
    emergence_coefficient: float = 6.0
    flare_min_flux: float = 1e-8
    flare_power_law_index: float = 2.0
    flare_cutoff_at_r0: float = 2e-4
    flare_cutoff_exponent: float = 2.0
    flare_cutoff_range: tuple = (1e-6, 1e-3)
    flare_decay_hours: float = 1.0

    horizon_hours: float = 24.0
    max_central_meridian_deg: float = 70.0
    sample_min_flux: float = 1e21
    full_disk_stride_steps: int = 8
    active_region_stride_steps: int = 5
    sequence_stride_steps: int = 30
    full_disk_size: int = 128
    disk_radius_fraction: float = 0.45
    patch_size: int = 64
    patch_fov_mm: float = 200.0
    sequence_length: int = 16
    sequence_patch_size: int = 32
    channels: tuple = CHANNELS

    limb_darkening_u: float = 0.6
    magnetogram_noise_gauss: float = 10.0
    network_field_gauss: float = 20.0
    penumbra_gauss: tuple = (300.0, 900.0)
    umbra_gauss: tuple = (900.0, 1800.0)
    penumbra_intensity: float = 0.7
    umbra_intensity: float = 0.2
    continuum_noise: float = 0.003
    corona_171: float = 150.0
    corona_94: float = 3.0
    limb_brightening: float = 0.3
    corona_scale_height: float = 0.05
    loop_gain_171: float = 1.5
    loop_gain_94: float = 0.02
    loop_exponent_94: float = 1.3
    flare_gain_171: float = 3e7
    flare_gain_94: float = 2e8
    flare_width_mm: float = 6.0
    euv_noise_fraction: float = 0.03
    euv_read_noise: float = 1.0
    cosmic_ray_hits: float = 0.0
    missing_frame_probability: float = 0.0

    split_fractions: tuple = (0.7, 0.15, 0.15)
    split_gap_days: float = 27.0

    def __post_init__(self):
        _check_config(self)

    @property
    def step_days(self) -> float:
        """The cadence in days."""
        return self.cadence_minutes / 1440.0

    @property
    def horizon_steps(self) -> int:
        """The forecast window in cadence steps."""
        return round(self.horizon_hours * 60.0 / self.cadence_minutes)

    @property
    def n_steps(self) -> int:
        """Cadence steps in the simulated span (both ends included)."""
        return int(np.floor(self.duration_days / self.step_days + 1e-9)) + 1

    @property
    def start_timestamp(self) -> int:
        """`start_date` as Unix seconds UTC."""
        return _parse_date(self.start_date)

    def to_metadata(self) -> dict:
        """The config as a JSON-serialisable dict (tuples become lists)."""
        return {
            field.name: _jsonable(getattr(self, field.name))
            for field in dataclasses.fields(self)
        }


def channel_declarations(channels=CHANNELS) -> dict:
    """The synthetic Sun's declaration of each of `channels`, in that order.

    Args:
        channels: names from `CHANNELS`.

    Returns:
        dict channel name -> {"unit", "kind", "floor"} (copies), as the
        dataset's metadata "channel_declarations" holds it.

    Raises:
        ValueError: a name that is not a synthetic channel.

    Example:
        >>> channel_declarations(("magnetogram",))
        {'magnetogram': {'unit': 'G', 'kind': 'signed', 'floor': 10.0}}
    """
    unknown = [name for name in channels if name not in CHANNEL_DECLARATIONS]
    if unknown:
        raise ValueError(
            f"The synthetic Sun has no channel {unknown}; its channels are {CHANNELS}."
        )
    return {name: dict(CHANNEL_DECLARATIONS[name]) for name in channels}


def _jsonable(value):
    if isinstance(value, tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def _parse_date(text: str) -> int:
    try:
        date = datetime.datetime.fromisoformat(str(text))
    except ValueError:
        raise ValueError(
            f"SyntheticSunConfig.start_date must be an ISO date like '2011-03-01', "
            f"got {text!r}."
        ) from None
    if date.tzinfo is not None:
        date = date.astimezone(datetime.UTC).replace(tzinfo=None)
    return calendar.timegm(date.timetuple())


def _check_config(config: SyntheticSunConfig) -> None:
    """Reject settings the simulation cannot honour; name the field and value."""

    def fail(field, expected):
        raise ValueError(
            f"SyntheticSunConfig.{field} must be {expected}, got "
            f"{getattr(config, field)!r}."
        )

    _parse_date(config.start_date)
    positive = (
        "duration_days",
        "cadence_minutes",
        "cycle_period_days",
        "flux_min",
        "flux_max",
        "separation_mm_at_1e22",
        "spot_width_mm",
        "plage_width_factor",
        "diagnostic_pixel_mm",
        "r_value_reference",
        "flare_min_flux",
        "flare_decay_hours",
        "horizon_hours",
        "patch_fov_mm",
        "log_flux_sigma",
        "r_value_kernel_fwhm_mm",
        "disk_radius_fraction",
    )
    for field in positive:
        if not getattr(config, field) > 0:
            fail(field, "> 0")
    non_negative = (
        "warmup_days",
        "emergence_rate_max",
        "emergence_rate_min",
        "flare_rate_per_day",
        "emergence_coefficient",
        "r_value_exponent",
        "cosmic_ray_hits",
        "r_value_flux_share",
        "magnetogram_noise_gauss",
        "network_field_gauss",
        "split_gap_days",
        "latitude_scatter_deg",
        "tilt_scatter_deg",
        "extra_bipoles_mean",
    )
    for field in non_negative:
        if not getattr(config, field) >= 0:
            fail(field, ">= 0")
    if config.north_leading_polarity not in (1, -1):
        fail("north_leading_polarity", "+1 or -1")
    if config.flux_min >= config.flux_max:
        fail("flux_max", f"> flux_min ({config.flux_min})")
    if config.flare_power_law_index <= 1:
        fail("flare_power_law_index", "> 1 (a normalisable power law)")
    low, high = config.flare_cutoff_range
    if not config.flare_min_flux < low < high:
        fail(
            "flare_cutoff_range",
            f"increasing and above flare_min_flux ({config.flare_min_flux})",
        )
    for field in (
        "delta_probability",
        "missing_frame_probability",
        "alpha_minor_fraction",
        "gamma_misplaced_fraction",
        "cycle_phase_at_start",
        "leading_core_fraction",
        "limb_darkening_u",
    ):
        if not 0 <= getattr(config, field) <= 1:
            fail(field, "in [0, 1]")
    for field in (
        "growth_days_range",
        "decay_days_range",
        "following_core_range",
        "extra_flux_fraction_range",
        "extra_growth_days_range",
        "delta_distance_range",
        "complexity_probability_range",
        "penumbra_gauss",
        "umbra_gauss",
    ):
        value = getattr(config, field)
        if len(value) != 2 or not 0 <= value[0] <= value[1]:
            fail(field, "a pair (low, high) with 0 <= low <= high")
    integers = (
        "diagnostic_every_steps",
        "full_disk_stride_steps",
        "active_region_stride_steps",
        "sequence_stride_steps",
        "full_disk_size",
        "patch_size",
        "sequence_length",
        "sequence_patch_size",
        "diagnostic_max_pixels",
    )
    for field in integers:
        value = getattr(config, field)
        if int(value) != value or value < 1:
            fail(field, "a positive integer")
    horizon_steps = config.horizon_hours * 60.0 / config.cadence_minutes
    if abs(horizon_steps - round(horizon_steps)) > 1e-6:
        fail(
            "horizon_hours",
            f"a whole number of cadence steps ({config.cadence_minutes} min)",
        )
    unknown = [name for name in config.channels if name not in CHANNELS]
    if unknown or not config.channels:
        fail("channels", f"a non-empty subset of {CHANNELS}")
    if len(config.split_fractions) != 3:
        fail("split_fractions", "three shares (train, validation, test)")


# ---------------------------------------------------------------------------
# Physics laws (public so that tests and notebooks can pin them).


def rotation_rate(latitude_deg, coefficients=(14.713, -2.396, -1.787)):
    """Sidereal differential rotation rate of the photosphere, deg/day.

    Omega(lat) = A + B sin^2(lat) + C sin^4(lat) (Snodgrass 1983).

    Args:
        latitude_deg: heliographic latitude(s), degrees.
        coefficients: (A, B, C) in deg/day.

    Returns:
        The rate(s) in deg/day, same shape as `latitude_deg`.

    Example:
        >>> round(float(rotation_rate(0.0)), 3)
        14.713
    """
    a, b, c = coefficients
    sin2 = np.sin(np.radians(latitude_deg)) ** 2
    return a + b * sin2 + c * sin2**2


def synodic_rotation_rate(latitude_deg, coefficients=(14.713, -2.396, -1.787)):
    """Rotation rate seen from Earth (sidereal minus Earth's orbit), deg/day."""
    return rotation_rate(latitude_deg, coefficients) - EARTH_ORBITAL_RATE_DEG_PER_DAY


def limb_darkening(mu, u=0.6):
    """Linear limb-darkening law I(mu) / I(1) = 1 - u (1 - mu).

    Args:
        mu: cosine of the angle between the line of sight and the local
            vertical (1 at disk centre, 0 at the limb).
        u: limb-darkening coefficient (about 0.6 in the visible).

    Returns:
        Relative intensity, same shape as `mu`.
    """
    mu = np.asarray(mu, dtype=np.float64)
    return 1.0 - u * (1.0 - mu)


def activity_envelope(phase):
    """Activity of an 11-year cycle at `phase` in [0, 1): sin^2(pi phase)."""
    return np.sin(np.pi * np.mod(phase, 1.0)) ** 2


def flare_exceedance(threshold, cutoff, minimum=1e-8, index=2.0):
    """P(F >= threshold) for dN/dF ~ F**-index on [minimum, cutoff].

    Args:
        threshold: peak flux(es), W/m^2.
        cutoff: upper end(s) of the power law, W/m^2.
        minimum: lower end, W/m^2 (A1).
        index: power-law index (> 1).

    Returns:
        The probability that one flare reaches `threshold`, in [0, 1].
    """
    exponent = 1.0 - index
    threshold = np.maximum(np.asarray(threshold, dtype=np.float64), minimum)
    cutoff = np.asarray(cutoff, dtype=np.float64)
    top = threshold**exponent - cutoff**exponent
    bottom = minimum**exponent - cutoff**exponent
    return np.clip(top / bottom, 0.0, 1.0)


def sample_flare_flux(rng, cutoff, minimum=1e-8, index=2.0):
    """Peak fluxes from the truncated power law by inversion of its CDF.

    Args:
        rng: a `numpy.random.Generator`.
        cutoff: upper end of the power law for each flare, W/m^2 (array).
        minimum: lower end, W/m^2.
        index: power-law index (> 1).

    Returns:
        An array of peak fluxes, one per entry of `cutoff`.
    """
    cutoff = np.asarray(cutoff, dtype=np.float64)
    exponent = 1.0 - index
    uniform = rng.random(cutoff.shape)
    low, high = minimum**exponent, cutoff**exponent
    return (low - uniform * (low - high)) ** (1.0 / exponent)


# ---------------------------------------------------------------------------
# Region population.


@dataclasses.dataclass
class RegionTable:
    """One row per active region (arrays of equal length).

    Attributes:
        emergence_day: days since `start_date` when the main bipole emerges.
        end_day: day the last bipole has decayed.
        latitude: heliographic latitude, degrees (north > 0).
        longitude_at_emergence: Stonyhurst longitude at emergence, degrees
            (0 = central meridian, west > 0).
        rotation_rate: synodic rotation rate, deg/day.
        cycle: index of the activity cycle it belongs to (0 at start_date).
        leading_polarity: sign of the leading (western) polarity.
        tilt_deg: Joy's-law tilt, degrees; positive when the leading pole is
            nearer the equator.
        peak_flux: peak unsigned flux of the main bipole, Mx.
        n_bipoles: bipoles including the main one.
        has_delta_bipole: an extra bipole was pushed against a main pole.
        flare_site: (x, y) of the flare brightening in the region frame, Mm.
        extent_mm: radius that holds the region's field, Mm.
    """

    emergence_day: np.ndarray
    end_day: np.ndarray
    latitude: np.ndarray
    longitude_at_emergence: np.ndarray
    rotation_rate: np.ndarray
    cycle: np.ndarray
    leading_polarity: np.ndarray
    tilt_deg: np.ndarray
    peak_flux: np.ndarray
    n_bipoles: np.ndarray
    has_delta_bipole: np.ndarray
    flare_site: np.ndarray
    extent_mm: np.ndarray

    def __len__(self) -> int:
        return len(self.emergence_day)

    def longitude(self, index, day):
        """Stonyhurst longitude of region(s) `index` at `day`, in (-180, 180]."""
        index = np.asarray(index)
        raw = self.longitude_at_emergence[index] + self.rotation_rate[index] * (
            np.asarray(day) - self.emergence_day[index]
        )
        return _wrap_degrees(raw)


@dataclasses.dataclass
class BipoleTable:
    """One row per bipole; a region's bipoles are contiguous.

    Attributes:
        region: index of the region the bipole belongs to.
        start_day, growth_days, decay_days: its life, days.
        flux: peak unsigned flux (both polarities), Mx.
        centre: (n, 2) centre in the region frame (x west, y north), Mm.
        axis: (n, 2) unit vector from pole B to pole A.
        sign_a: polarity of pole A (the leading pole of a main bipole).
        separation_mm: pole separation at full growth, Mm.
        width_a_mm, width_b_mm: core widths of poles A and B at peak, Mm.
        core_a, core_b: shares of each pole's flux in its core.
    """

    region: np.ndarray
    start_day: np.ndarray
    growth_days: np.ndarray
    decay_days: np.ndarray
    flux: np.ndarray
    centre: np.ndarray
    axis: np.ndarray
    sign_a: np.ndarray
    separation_mm: np.ndarray
    width_a_mm: np.ndarray
    width_b_mm: np.ndarray
    core_a: np.ndarray
    core_b: np.ndarray


def _wrap_degrees(angle):
    return 180.0 - np.mod(180.0 - np.asarray(angle, dtype=np.float64), 360.0)


def _truncated_lognormal(rng, size, mean, sigma, low, high):
    from scipy import special

    lower = special.ndtr((np.log10(low) - mean) / sigma)
    upper = special.ndtr((np.log10(high) - mean) / sigma)
    quantile = lower + rng.random(size) * (upper - lower)
    return 10.0 ** (mean + sigma * special.ndtri(quantile))


def _pole_width(config, pole_flux):
    return config.spot_width_mm * (pole_flux / 1e21) ** config.spot_width_exponent


def _emerge_regions(config: SyntheticSunConfig, rng) -> tuple[RegionTable, BipoleTable]:
    """Draw when, where and how every region emerges (one Generator)."""
    first_day, last_day = -config.warmup_days, config.duration_days
    span = last_day - first_day
    # A non-homogeneous Poisson process by thinning: candidates at the peak
    # rate, kept with probability rate(t) / peak rate.
    peak = config.emergence_rate_max + config.emergence_rate_min
    candidates = rng.uniform(first_day, last_day, rng.poisson(peak * span))
    candidates.sort()
    phase_of = config.cycle_phase_at_start + candidates / config.cycle_period_days
    rate = config.emergence_rate_min + config.emergence_rate_max * activity_envelope(
        phase_of
    )
    keep = rng.random(candidates.size) < rate / peak
    day = candidates[keep]
    n = day.size
    phase = np.mod(config.cycle_phase_at_start + day / config.cycle_period_days, 1.0)
    cycle = np.floor(config.cycle_phase_at_start + day / config.cycle_period_days)
    cycle = cycle.astype(np.int64)

    hemisphere = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    mean_latitude = (
        config.latitude_start_deg
        + (config.latitude_end_deg - config.latitude_start_deg) * phase
    )
    abs_latitude = np.clip(
        mean_latitude + config.latitude_scatter_deg * rng.standard_normal(n), 2.0, 50.0
    )
    latitude = hemisphere * abs_latitude
    longitude = rng.uniform(-180.0, 180.0, n)
    rotation = synodic_rotation_rate(latitude, config.rotation_coefficients)
    # Hale's law: opposite leading polarity in the two hemispheres, and both
    # flip from one cycle to the next.
    leading = config.north_leading_polarity * hemisphere * (-1.0) ** cycle
    tilt = config.joy_coefficient * abs_latitude + config.tilt_scatter_deg * (
        rng.standard_normal(n)
    )
    flux = _truncated_lognormal(
        rng,
        n,
        config.log_flux_mean,
        config.log_flux_sigma,
        config.flux_min,
        config.flux_max,
    )
    growth = rng.uniform(*config.growth_days_range, n)
    decay = rng.uniform(*config.decay_days_range, n)

    # Complexity rises with flux: probability log-linear in flux.
    p_low, p_high = config.complexity_probability_range
    position = np.log10(flux / config.flux_min) / np.log10(
        config.flux_max / config.flux_min
    )
    complex_region = rng.random(n) < p_low + (p_high - p_low) * position
    n_extra = np.where(
        complex_region,
        np.minimum(
            1 + rng.poisson(config.extra_bipoles_mean, n), config.extra_bipoles_max
        ),
        0,
    )

    rows = []
    flare_site = np.zeros((n, 2))
    has_delta = np.zeros(n, dtype=bool)
    extent = np.zeros(n)
    end_day = np.zeros(n)
    for index in range(n):
        tilt_rad = np.radians(tilt[index])
        # Leading pole (A) to the west (+x), nearer the equator by the tilt.
        axis = np.array([np.cos(tilt_rad), -hemisphere[index] * np.sin(tilt_rad)])
        pole_flux = flux[index] / 2.0
        width_a = _pole_width(config, pole_flux)
        width_b = width_a * config.following_width_factor
        separation = config.separation_mm_at_1e22 * np.sqrt(flux[index] / 1e22)
        rows.append(
            {
                "region": index,
                "start_day": day[index],
                "growth_days": growth[index],
                "decay_days": decay[index],
                "flux": flux[index],
                "centre": np.zeros(2),
                "axis": axis,
                "sign_a": leading[index],
                "separation_mm": separation,
                "width_a_mm": width_a,
                "width_b_mm": width_b,
                "core_a": config.leading_core_fraction,
                "core_b": rng.uniform(*config.following_core_range),
            }
        )
        main_end = day[index] + growth[index] + decay[index]
        region_end = main_end
        reach = separation / 2 + config.plage_width_factor * width_b * 2
        poles = [
            (axis * separation / 2, leading[index], width_a),
            (-axis * separation / 2, -leading[index], width_b),
        ]
        for _ in range(n_extra[index]):
            extra_flux = flux[index] * rng.uniform(*config.extra_flux_fraction_range)
            extra_width = _pole_width(config, extra_flux / 2.0)
            extra_separation = config.separation_mm_at_1e22 * np.sqrt(extra_flux / 1e22)
            start = day[index] + rng.uniform(
                0.5 * growth[index], growth[index] + 0.5 * decay[index]
            )
            extra_growth = rng.uniform(*config.extra_growth_days_range)
            extra_decay = max(3.0, main_end - start - extra_growth) * rng.uniform(
                0.7, 1.0
            )
            angle = rng.uniform(0.0, 2.0 * np.pi)
            direction = np.array([np.cos(angle), np.sin(angle)])
            if rng.random() < config.delta_probability:
                # Push one pole of the new bipole against the opposite main
                # pole: the touching umbrae of opposite sign are a delta spot
                # and their inversion line has a strong gradient.
                pole_position, pole_sign, pole_width = poles[rng.integers(2)]
                gap = rng.uniform(*config.delta_distance_range) * (
                    pole_width + extra_width
                )
                centre = pole_position + direction * (gap + extra_separation / 2)
                extra_axis = -direction
                sign_a = -pole_sign
                has_delta[index] = True
                flare_site[index] = pole_position + direction * gap / 2
            else:
                # A randomly oriented bipole inside the region mixes the
                # polarities (beta-gamma) without necessarily touching.
                radius = separation * np.sqrt(rng.random())
                centre = radius * np.array([np.cos(angle), np.sin(angle)])
                turn = rng.uniform(0.0, 2.0 * np.pi)
                extra_axis = np.array([np.cos(turn), np.sin(turn)])
                sign_a = rng.choice([-1.0, 1.0])
            rows.append(
                {
                    "region": index,
                    "start_day": start,
                    "growth_days": extra_growth,
                    "decay_days": extra_decay,
                    "flux": extra_flux,
                    "centre": centre,
                    "axis": extra_axis,
                    "sign_a": sign_a,
                    "separation_mm": extra_separation,
                    "width_a_mm": extra_width,
                    "width_b_mm": extra_width,
                    "core_a": config.leading_core_fraction,
                    "core_b": config.leading_core_fraction,
                }
            )
            region_end = max(region_end, start + extra_growth + extra_decay)
            reach = max(
                reach,
                np.linalg.norm(centre)
                + extra_separation / 2
                + config.plage_width_factor * extra_width * 2,
            )
        end_day[index] = region_end
        extent[index] = reach

    bipoles = (
        BipoleTable(**{key: np.array([row[key] for row in rows]) for key in rows[0]})
        if rows
        else None
    )
    regions = RegionTable(
        emergence_day=day,
        end_day=end_day,
        latitude=latitude,
        longitude_at_emergence=longitude,
        rotation_rate=rotation,
        cycle=cycle,
        leading_polarity=leading,
        tilt_deg=tilt,
        peak_flux=flux,
        n_bipoles=1 + n_extra,
        has_delta_bipole=has_delta,
        flare_site=flare_site,
        extent_mm=extent,
    )
    return regions, bipoles


# ---------------------------------------------------------------------------
# A region's field: Gaussian sources in the local (de-projected) frame.


@dataclasses.dataclass
class _Sources:
    """Field sources of one region at T times: arrays [T, K] (loops [T, L])."""

    x: np.ndarray
    y: np.ndarray
    width: np.ndarray
    field: np.ndarray  # signed peak field of each Gaussian, G
    loop_x: np.ndarray
    loop_y: np.ndarray
    loop_axis: np.ndarray  # [T, L, 2]
    loop_length: np.ndarray
    loop_width: np.ndarray
    loop_field: np.ndarray  # G
    flux: np.ndarray  # [T] unsigned flux of the model, Mx
    flux_rate: np.ndarray  # [T] dPhi/dt, Mx/day


def _bipole_sources(config, bipoles: BipoleTable, rows, days) -> _Sources:
    """Sources of the bipoles `rows` (a slice or index array) at each of `days`."""
    days = np.atleast_1d(np.asarray(days, dtype=np.float64))[:, None]
    age = days - bipoles.start_day[rows][None, :]
    growth = bipoles.growth_days[rows][None, :]
    decay = bipoles.decay_days[rows][None, :]
    peak = bipoles.flux[rows][None, :]
    x_growth = np.clip(age / growth, 0.0, 1.0)
    emerged = x_growth * x_growth * (3.0 - 2.0 * x_growth)  # smoothstep
    y_decay = np.clip((age - growth) / decay, 0.0, 1.0)
    alive = (age > 0) & (y_decay < 1.0)
    flux = np.where(alive, peak * emerged * (1.0 - y_decay), 0.0)
    rate = np.where(
        (age > 0) & (age < growth),
        peak * 6.0 * x_growth * (1.0 - x_growth) / growth,
        np.where((age >= growth) & (y_decay < 1.0), -peak / decay, 0.0),
    )
    # Poles separate as sqrt(flux) while the bipole emerges (SYNTHETIC_SUN.md
    # 3) and keep their separation while decaying; widths grow a little with
    # emergence and spread with decay, so a decaying region turns to plage.
    separation = bipoles.separation_mm[rows][None, :] * np.sqrt(emerged)
    # While decaying, spots shrink (their cores keep a share (1 - y) of the
    # flux in a width ~ sqrt(1 - y)) and the rest disperses into plage that
    # spreads out, as real active regions decay.
    core_scale = np.maximum(emerged, 0.05) ** 0.25 * np.sqrt(
        np.maximum(1.0 - y_decay, 0.1)
    )
    plage_scale = np.maximum(emerged, 0.05) ** 0.25 * (
        1.0 + config.decay_spread * y_decay
    )
    width_a = bipoles.width_a_mm[rows][None, :] * core_scale
    width_b = bipoles.width_b_mm[rows][None, :] * core_scale
    plage_a = (
        bipoles.width_a_mm[rows][None, :] * plage_scale * config.plage_width_factor
    )
    plage_b = (
        bipoles.width_b_mm[rows][None, :] * plage_scale * config.plage_width_factor
    )
    centre = bipoles.centre[rows][None, :, :]
    axis = bipoles.axis[rows][None, :, :]
    half = (separation / 2.0)[..., None]
    pole_a = centre + axis * half
    pole_b = centre - axis * half
    sign_a = bipoles.sign_a[rows][None, :]
    pole_flux = flux / 2.0

    def peak_field(share, width):
        return share * pole_flux / (2.0 * np.pi * (width * _MM_TO_CM) ** 2)

    core_a = bipoles.core_a[rows][None, :] * (1.0 - y_decay)
    core_b = bipoles.core_b[rows][None, :] * (1.0 - y_decay)
    x = np.concatenate(
        [pole_a[..., 0], pole_a[..., 0], pole_b[..., 0], pole_b[..., 0]], axis=1
    )
    y = np.concatenate(
        [pole_a[..., 1], pole_a[..., 1], pole_b[..., 1], pole_b[..., 1]], axis=1
    )
    width = np.concatenate([width_a, plage_a, width_b, plage_b], axis=1)
    field = np.concatenate(
        [
            sign_a * peak_field(core_a, width_a),
            sign_a * peak_field(1.0 - core_a, plage_a),
            -sign_a * peak_field(core_b, width_b),
            -sign_a * peak_field(1.0 - core_b, plage_b),
        ],
        axis=1,
    )
    # Coronal loops fill the arcade between the poles of each bipole.
    loop_width = 1.2 * bipoles.width_a_mm[rows][None, :] * plage_scale
    loop_length = separation / 2.0 + loop_width
    loop_field = flux / (2.0 * np.pi * loop_length * loop_width * _MM_TO_CM**2 + 1e-30)
    n_times = days.shape[0]
    return _Sources(
        x=x,
        y=y,
        width=width,
        field=field,
        loop_x=np.broadcast_to(centre[..., 0], flux.shape),
        loop_y=np.broadcast_to(centre[..., 1], flux.shape),
        loop_axis=np.broadcast_to(axis, flux.shape + (2,)),
        loop_length=np.maximum(loop_length, 1e-3),
        loop_width=loop_width,
        loop_field=loop_field,
        flux=flux.sum(axis=1).reshape(n_times),
        flux_rate=rate.sum(axis=1).reshape(n_times),
    )


def _field_on_grid(sources: _Sources, coordinates):
    """Field [T, n, n] of separable Gaussian sources on a square grid."""
    offsets_x = coordinates[None, None, :] - sources.x[..., None]
    offsets_y = coordinates[None, None, :] - sources.y[..., None]
    inverse = 1.0 / (2.0 * sources.width[..., None] ** 2)
    profile_x = np.exp(-(offsets_x**2) * inverse)  # [T, K, n]
    profile_y = np.exp(-(offsets_y**2) * inverse) * sources.field[..., None]
    # sum_k profile_y[t, k, row] * profile_x[t, k, col], a batched matmul.
    return np.matmul(profile_y.transpose(0, 2, 1), profile_x)


@dataclasses.dataclass
class RegionDiagnostics:
    """What forecasters measure on a region's field, at coarse times.

    Attributes:
        days: times of the measurements, days since `start_date`.
        total_flux: unsigned flux of the measured field, Mx.
        r_value: Schrijver's R, Mx.
        pil_length: length of strong-gradient polarity inversion lines, Mm.
        mount_wilson: index into `MOUNT_WILSON_CLASSES`.
        model_flux: unsigned flux of the model bipoles, Mx.
        model_flux_rate: its time derivative, Mx/day.
    """

    days: np.ndarray
    total_flux: np.ndarray
    r_value: np.ndarray
    pil_length: np.ndarray
    mount_wilson: np.ndarray
    model_flux: np.ndarray
    model_flux_rate: np.ndarray


def measure_field(config: SyntheticSunConfig, field, pixel_mm: float) -> dict:
    """R value, PIL length, unsigned flux and Mount Wilson class of field maps.

    R follows Schrijver (2007): pixels where strong positive (> +150 G) and
    strong negative (< -150 G) fields lie within one pixel of each other form
    the strong-gradient polarity inversion lines; their mask, convolved with
    a normalised Gaussian of FWHM 15 Mm, weights the unsigned flux. The
    Mount Wilson class follows the spot pattern: alpha (one polarity holds
    nearly all spot flux), beta (two polarities a straight line separates),
    beta-gamma (mixed: a straight line leaves much flux on the wrong side),
    beta-gamma-delta (opposite umbrae within `delta_max_distance_mm`).

    Args:
        config: thresholds and kernel widths.
        field: radial field maps [T, n, n] (or [n, n]), G, north up.
        pixel_mm: pixel size, Mm.

    Returns:
        dict of [T] arrays: total_flux (Mx), r_value (Mx), pil_length (Mm),
        mount_wilson (int index into `MOUNT_WILSON_CLASSES`).
    """
    from scipy import ndimage

    field = np.asarray(field, dtype=np.float64)
    squeeze = field.ndim == 2
    if squeeze:
        field = field[None]
    area_cm2 = (pixel_mm * _MM_TO_CM) ** 2
    magnitude = np.abs(field)
    total_flux = magnitude.sum(axis=(1, 2)) * area_cm2

    threshold = config.r_value_threshold_gauss
    positive = _dilate(field > threshold, 1)
    negative = _dilate(field < -threshold, 1)
    inversion = positive & negative
    sigma_px = config.r_value_kernel_fwhm_mm / pixel_mm / (2.0 * np.sqrt(2 * np.log(2)))
    # Most maps have no strong-gradient inversion line (R = 0): convolve only
    # those that have one.
    r_value = np.zeros(field.shape[0])
    with_line = np.flatnonzero(inversion.any(axis=(1, 2)))
    if with_line.size:
        weight = ndimage.gaussian_filter(
            inversion[with_line].astype(np.float32),
            sigma=(0.0, sigma_px, sigma_px),
            mode="constant",
            truncate=3.0,
        )
        r_value[with_line] = (magnitude[with_line] * weight).sum(axis=(1, 2)) * area_cm2
    # The overlap of the two one-pixel dilations is two pixels wide.
    pil_length = inversion.sum(axis=(1, 2)) * pixel_mm / 2.0

    mount_wilson = _mount_wilson(config, field, pixel_mm)
    result = {
        "total_flux": total_flux,
        "r_value": r_value,
        "pil_length": pil_length,
        "mount_wilson": mount_wilson,
    }
    if squeeze:
        result = {key: value[0] for key, value in result.items()}
    return result


def _dilate(mask, reach):
    """Grow a [T, n, n] mask by `reach` pixels (a square neighbourhood)."""
    grown = mask.copy()
    for axis in (1, 2):
        source = grown.copy()
        for shift in range(1, reach + 1):
            ahead = [slice(None)] * 3
            behind = [slice(None)] * 3
            ahead[axis], behind[axis] = slice(shift, None), slice(None, -shift)
            grown[tuple(ahead)] |= source[tuple(behind)]
            grown[tuple(behind)] |= source[tuple(ahead)]
    return grown


def _mount_wilson(config, field, pixel_mm):
    spot = config.spot_threshold_gauss
    positive_spot = np.where(field > spot, field, 0.0).sum(axis=(1, 2))
    negative_spot = np.where(field < -spot, -field, 0.0).sum(axis=(1, 2))
    spot_flux = positive_spot + negative_spot
    minor = np.minimum(positive_spot, negative_spot)
    alpha = minor <= config.alpha_minor_fraction * np.maximum(spot_flux, 1e-30)

    # Gamma: how much strong flux the best straight line (the perpendicular
    # bisector of the two polarities' flux-weighted centres) leaves on the
    # wrong side. Every second pixel is enough for centres and shares.
    coarse = field[:, ::2, ::2]
    rows, cols = np.mgrid[0 : coarse.shape[1], 0 : coarse.shape[2]].astype(np.float64)
    strong = np.where(
        np.abs(coarse) > 2.0 * config.r_value_threshold_gauss, coarse, 0.0
    )
    plus = np.maximum(strong, 0.0)
    minus = np.maximum(-strong, 0.0)
    plus_total = plus.sum(axis=(1, 2)) + 1e-30
    minus_total = minus.sum(axis=(1, 2)) + 1e-30
    plus_centre = (
        np.stack([(plus * rows).sum(axis=(1, 2)), (plus * cols).sum(axis=(1, 2))], -1)
        / plus_total[:, None]
    )
    minus_centre = (
        np.stack([(minus * rows).sum(axis=(1, 2)), (minus * cols).sum(axis=(1, 2))], -1)
        / minus_total[:, None]
    )
    middle = (plus_centre + minus_centre) / 2.0
    direction = plus_centre - minus_centre
    side = (rows[None] - middle[:, 0, None, None]) * direction[:, 0, None, None] + (
        cols[None] - middle[:, 1, None, None]
    ) * direction[:, 1, None, None]
    misplaced = (plus * (side < 0)).sum(axis=(1, 2)) + (minus * (side > 0)).sum(
        axis=(1, 2)
    )
    gamma = misplaced > config.gamma_misplaced_fraction * (plus_total + minus_total)

    # Delta: umbrae of opposite polarity closer than the delta distance
    # (measured along rows and columns, a square neighbourhood).
    reach = max(1, round(config.delta_max_distance_mm / pixel_mm))
    umbra = config.umbra_threshold_gauss
    near_positive = _dilate(field > umbra, reach)
    delta = (near_positive & (field < -umbra)).any(axis=(1, 2))

    classes = np.where(gamma, 2, 1)
    classes = np.where(alpha, 0, classes)
    classes = np.where(delta & ~alpha, 3, classes)
    return classes.astype(np.int64)


# ---------------------------------------------------------------------------
# The simulation.


@dataclasses.dataclass
class SampleTable:
    """Labels and physical scalars of every sample of one kind (no images).

    Attributes:
        kind: "full_disk", "active_region" or "sequence".
        step: cadence step of the (last) frame.
        region_index: index into `SyntheticSun.regions`, -1 for full disk.
        timestamp: Unix seconds UTC of the (last) frame.
        region: region id ("disk" for full-disk samples).
        probability: [n, 3] true P(>= C1, M1, X1 in (t, t + horizon]).
        peak_flux: largest flare in (t, t + horizon], W/m^2 (1e-9 if none).
        previous_peak_flux: largest flare in (t - horizon, t], W/m^2.
        goes_class: index into `goes.GOES_CLASSES` of `peak_flux`.
        mount_wilson: index into `MOUNT_WILSON_CLASSES`.
        total_flux, r_value, pil_length: measured on the region's field.
        latitude, longitude: heliographic position at t, degrees.
        emergence_fraction: share of the expected >= C1 flare count in the
            window that comes from the flux-emergence term.
    """

    kind: str
    step: np.ndarray
    region_index: np.ndarray
    timestamp: np.ndarray
    region: np.ndarray
    probability: np.ndarray
    peak_flux: np.ndarray
    previous_peak_flux: np.ndarray
    goes_class: np.ndarray
    mount_wilson: np.ndarray
    total_flux: np.ndarray
    r_value: np.ndarray
    pil_length: np.ndarray
    latitude: np.ndarray
    longitude: np.ndarray
    emergence_fraction: np.ndarray

    def __len__(self) -> int:
        return len(self.step)

    def outcomes(self, threshold="M1.0") -> np.ndarray:
        """Realised 0/1 outcome: a flare >= `threshold` in the window."""
        return (self.peak_flux >= goes.threshold_flux(threshold) * (1 - 1e-9)).astype(
            np.int64
        )

    def true_probability(self, threshold="M1.0") -> np.ndarray:
        """True probability column of one of `PROBABILITY_THRESHOLDS`."""
        if threshold not in PROBABILITY_THRESHOLDS:
            raise ValueError(
                f"Unknown threshold {threshold!r}; the synthetic Sun stores "
                f"{PROBABILITY_THRESHOLDS}."
            )
        return self.probability[:, PROBABILITY_THRESHOLDS.index(threshold)]

    def subset(self, mask) -> SampleTable:
        """The samples selected by a boolean mask or index array."""
        values = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            values[field.name] = value if field.name == "kind" else value[mask]
        return SampleTable(**values)


def region_name(index: int) -> str:
    """Region id of region `index`: "SR00042" (synthetic region 42)."""
    return f"SR{int(index):05d}"


class SyntheticSun:
    """One simulated Sun: regions, flares, labels and image rendering.

    The constructor runs the simulation (regions, their measured fields,
    flare rates and flares); images are rendered only when asked for.
    Everything follows from `config.seed` through numpy Generators, so the
    same config always gives the same regions, flares and images.

    Args:
        config: a `SyntheticSunConfig` (default settings when None).

    Attributes:
        regions: the `RegionTable`; bipoles: the `BipoleTable`.
        diagnostics: per region, its `RegionDiagnostics` at coarse times
            (None for regions outside the simulated span).
        flares: dict of arrays, one entry per flare: day, timestamp,
            peak_flux (W/m^2), region_index, visible (facing Earth),
            step_row (index into the per-step arrays).
        step_region, step_index: region and cadence step of each row of the
            per-step arrays step_rate (flares/day), step_cutoff (W/m^2),
            step_exceedance ([rows, 3], P(F >= C1, M1, X1) per flare),
            step_visible, step_longitude, step_values (measured and model
            fluxes, R, PIL length, Mount Wilson class).

    Example:
        >>> sun = SyntheticSun(SyntheticSunConfig(duration_days=120.0))
        >>> len(sun.flares["peak_flux"]) > 0
        True
    """

    def __init__(self, config: SyntheticSunConfig | None = None):
        self.config = config or SyntheticSunConfig()
        seeds = np.random.SeedSequence(self.config.seed).spawn(3)
        region_rng, flare_rng, network_rng = (np.random.default_rng(s) for s in seeds)
        self.regions, self.bipoles = _emerge_regions(self.config, region_rng)
        self._bipole_rows = self._rows_per_region()
        self._simulate_regions()
        self._flare_rates()
        self._simulate_flares(flare_rng)
        self._network = self._make_network(network_rng)
        self._samples = {}
        self._splits = {}

    # -- simulation -------------------------------------------------------

    def _rows_per_region(self):
        if self.bipoles is None:
            return []
        bounds = np.searchsorted(self.bipoles.region, np.arange(len(self.regions) + 1))
        return [slice(bounds[i], bounds[i + 1]) for i in range(len(self.regions))]

    def _simulate_regions(self):
        """Measure each region's field at coarse times, interpolate to steps."""
        config = self.config
        step = config.step_days
        n_steps = config.n_steps
        every = config.diagnostic_every_steps
        regions = self.regions
        first = np.clip(np.ceil(regions.emergence_day / step), 0, n_steps).astype(int)
        last = np.clip(np.floor(regions.end_day / step), -1, n_steps - 1).astype(int)
        last = np.maximum(last, first - 1)  # empty range for regions outside
        self.first_step, self.last_step = first, last
        lengths = last - first + 1
        self.offsets = np.concatenate([[0], np.cumsum(lengths)])
        total = int(self.offsets[-1])
        self.step_region = np.repeat(np.arange(len(regions)), lengths)
        self.step_index = (
            np.arange(total)
            - np.repeat(self.offsets[:-1], lengths)
            + (np.repeat(first, lengths))
        )
        names = ("total_flux", "r_value", "pil_length", "model_flux", "model_flux_rate")
        per_step = {name: np.zeros(total) for name in names}
        per_step["mount_wilson"] = np.zeros(total, dtype=np.int64)
        self.diagnostics = []
        pixel = config.diagnostic_pixel_mm
        for index in range(len(regions)):
            if lengths[index] <= 0:
                self.diagnostics.append(None)
                continue
            coarse = np.arange(first[index] // every, -(-last[index] // every) + 1)
            days = coarse * every * step
            diagnostics = self.measure_region(index, days, pixel_mm=pixel)
            self.diagnostics.append(diagnostics)
            steps = np.arange(first[index], last[index] + 1)
            target = slice(self.offsets[index], self.offsets[index + 1])
            for name in names:
                per_step[name][target] = np.interp(
                    steps * step, days, getattr(diagnostics, name)
                )
            # A class cannot be interpolated: take the latest measurement.
            latest = np.clip(
                np.searchsorted(days, steps * step, side="right") - 1, 0, len(days) - 1
            )
            per_step["mount_wilson"][target] = diagnostics.mount_wilson[latest]
        # Exact model flux and its derivative at every step (cheap, analytic).
        for index in range(len(regions)):
            if lengths[index] <= 0:
                continue
            steps = np.arange(first[index], last[index] + 1)
            sources = _bipole_sources(
                config, self.bipoles, self._bipole_rows[index], steps * step
            )
            target = slice(self.offsets[index], self.offsets[index + 1])
            per_step["model_flux"][target] = sources.flux
            per_step["model_flux_rate"][target] = sources.flux_rate
        self.step_values = per_step

    def _flare_rates(self):
        """Flare rate, cut-off and exceedance probabilities at every step."""
        config = self.config
        regions = self.regions
        per_step = self.step_values
        days = self.step_index * config.step_days
        longitude = regions.longitude(self.step_region, days)
        self.step_longitude = longitude
        # GOES sees a region's flares while it is on the Earth-facing side.
        self.step_visible = np.abs(longitude) <= 90.0

        # Flare rate: lambda0 (R/R0)^a (1 + b max(dPhi/dt, 0) / Phi), per day.
        # R is rounded to float32 so that last-bit differences between BLAS
        # builds cannot change a Poisson draw.
        measured = (
            per_step["r_value"] + config.r_value_flux_share * per_step["total_flux"]
        )
        r_value = measured.astype(np.float32).astype(np.float64)
        flux = np.maximum(per_step["model_flux"], 1e-3 * config.flux_min)
        growth = np.maximum(per_step["model_flux_rate"], 0.0) / flux
        base = config.flare_rate_per_day * (r_value / config.r_value_reference) ** (
            config.r_value_exponent
        )
        self.step_rate = base * (1.0 + config.emergence_coefficient * growth)
        self.step_base_rate = base
        self.step_cutoff = np.clip(
            config.flare_cutoff_at_r0
            * np.maximum(r_value / config.r_value_reference, 1e-12)
            ** config.flare_cutoff_exponent,
            *config.flare_cutoff_range,
        )
        thresholds = np.array([goes.class_to_flux(t) for t in PROBABILITY_THRESHOLDS])
        self.step_exceedance = flare_exceedance(
            thresholds[None, :],
            self.step_cutoff[:, None],
            config.flare_min_flux,
            config.flare_power_law_index,
        )

    def measure_region(self, index: int, days, pixel_mm: float | None = None):
        """Measure region `index`'s own field at `days` (see `measure_field`).

        Args:
            index: region index.
            days: times, days since `start_date`.
            pixel_mm: grid pixel, Mm (default `config.diagnostic_pixel_mm`).

        Returns:
            A `RegionDiagnostics`.
        """
        pixel = pixel_mm or self.config.diagnostic_pixel_mm
        days = np.atleast_1d(np.asarray(days, dtype=np.float64))
        field, _ = self.region_field(index, days, pixel_mm=pixel)
        measured = measure_field(self.config, field, pixel)
        sources = _bipole_sources(
            self.config, self.bipoles, self._bipole_rows[index], days
        )
        return RegionDiagnostics(
            days=days,
            model_flux=sources.flux,
            model_flux_rate=sources.flux_rate,
            **measured,
        )

    def region_field(self, index: int, days, pixel_mm: float | None = None):
        """Radial field of region `index` alone, de-projected, at `days`.

        Args:
            index: region index.
            days: time(s), days since `start_date`.
            pixel_mm: pixel size, Mm.

        Returns:
            (field [T, n, n] in G with north up and west right, coordinates
            [n] of the pixel centres in Mm from the region centre).
        """
        config = self.config
        pixel = pixel_mm or config.diagnostic_pixel_mm
        days = np.atleast_1d(np.asarray(days, dtype=np.float64))
        half = min(
            self.regions.extent_mm[index], pixel * config.diagnostic_max_pixels / 2
        )
        n_half = int(np.ceil(half / pixel))
        coordinates = (np.arange(-n_half, n_half + 1)) * pixel
        sources = _bipole_sources(config, self.bipoles, self._bipole_rows[index], days)
        field = _field_on_grid(sources, coordinates)
        # Rows run north to south, as in an image.
        return field[:, ::-1, :], coordinates

    def _simulate_flares(self, rng):
        """Poisson flares per region and step; peak fluxes from the power law."""
        config = self.config
        step = config.step_days
        counts = rng.poisson(self.step_rate * step)
        rows = np.repeat(np.arange(counts.size), counts)
        offset = rng.random(rows.size)
        # A flare of step i happens in (t_i, t_i + step]: 1 - U is in (0, 1].
        day = (self.step_index[rows] + (1.0 - offset)) * step
        peak_flux = sample_flare_flux(
            rng,
            self.step_cutoff[rows],
            config.flare_min_flux,
            config.flare_power_law_index,
        )
        visible = self.step_visible[rows]
        self.flares = {
            "day": day,
            "timestamp": config.start_timestamp
            + np.round(day * _SECONDS_PER_DAY).astype(np.int64),
            "peak_flux": peak_flux,
            "region_index": self.step_region[rows],
            "visible": visible,
            "step_row": rows,
        }
        # Largest observed flare of each region step (0 when none).
        self.step_max_flux = np.zeros(self.step_rate.size)
        np.maximum.at(self.step_max_flux, rows[visible], peak_flux[visible])
        # EUV brightening: sum of flare fluxes decayed to each later frame,
        # for the few frames where it is still visible.
        tau = config.flare_decay_hours / 24.0
        self.step_flare_glow = np.zeros(self.step_rate.size)
        region_of = self.step_region[rows]
        for lag in range(1, 6):
            target = rows + lag
            valid = target < self.offsets[region_of + 1]
            frame_day = (self.step_index[rows] + lag) * step
            glow = peak_flux * np.exp(-(frame_day - day) / tau)
            np.add.at(self.step_flare_glow, target[valid], glow[valid])

    def _make_network(self, rng):
        from scipy import ndimage

        noise = rng.standard_normal((90, 180))
        smooth = ndimage.gaussian_filter(noise, sigma=1.0, mode=("nearest", "wrap"))
        return smooth / smooth.std() * self.config.network_field_gauss

    # -- samples and labels ----------------------------------------------

    def samples(self, kind: str = "active_region") -> SampleTable:
        """Labels and scalars of every sample of `kind` (cached, no images).

        Args:
            kind: one of `SAMPLE_KINDS`.

        Returns:
            A `SampleTable`, ordered by time then region.

        Raises:
            ValueError: unknown kind, or a simulation too short for any sample.
        """
        _check_kind(kind)
        if kind not in self._samples:
            self._samples[kind] = self._make_samples(kind)
        return self._samples[kind]

    def _valid_steps(self, kind):
        config = self.config
        horizon = config.horizon_steps
        history = config.sequence_length - 1 if kind == "sequence" else 0
        first = max(horizon, history)
        last = config.n_steps - 1 - horizon
        stride = {
            "full_disk": config.full_disk_stride_steps,
            "active_region": config.active_region_stride_steps,
            "sequence": config.sequence_stride_steps,
        }[kind]
        first = -(-first // stride) * stride  # on the global stride grid
        if last < first:
            raise ValueError(
                f"duration_days={config.duration_days} is too short for "
                f"{kind} samples with horizon_hours={config.horizon_hours}."
            )
        return np.arange(first, last + 1, stride)

    def _make_samples(self, kind) -> SampleTable:
        config = self.config
        steps = self._valid_steps(kind)
        horizon = config.horizon_steps
        step = config.step_days
        if kind == "full_disk":
            return self._disk_samples(steps)
        # Region samples: on the stride grid, near the central meridian, and
        # with enough flux to be a numbered active region.
        on_grid = np.isin(self.step_index, steps)
        longitude = self.step_longitude
        near_centre = np.abs(longitude) <= config.max_central_meridian_deg
        strong = self.step_values["model_flux"] >= config.sample_min_flux
        chosen = on_grid & near_centre & strong
        if kind == "sequence":
            # The first frame must be on the disk too: the region rotates by
            # about 13 deg/day, west only, so checking it suffices.
            first_longitude = self.regions.longitude(
                self.step_region,
                (self.step_index - (config.sequence_length - 1)) * step,
            )
            chosen &= np.abs(first_longitude) <= config.max_central_meridian_deg
        rows = np.flatnonzero(chosen)
        order = np.lexsort((self.step_region[rows], self.step_index[rows]))
        rows = rows[order]
        region_index = self.step_region[rows]
        sample_steps = self.step_index[rows]

        future = self._window(region_index, sample_steps, 0, horizon)
        past = self._window(region_index, sample_steps, -horizon, 0)
        probability = 1.0 - np.exp(-future["expected"])
        peak_flux = np.where(future["max"] > 0, future["max"], goes.QUIET_FLUX)
        previous = np.where(past["max"] > 0, past["max"], goes.QUIET_FLUX)
        values = self.step_values
        return SampleTable(
            kind=kind,
            step=sample_steps,
            region_index=region_index,
            timestamp=self._timestamps(sample_steps),
            region=np.array([region_name(i) for i in region_index], dtype=object),
            probability=probability,
            peak_flux=peak_flux,
            previous_peak_flux=previous,
            goes_class=np.asarray(goes.flux_to_class_index(peak_flux)),
            mount_wilson=values["mount_wilson"][rows],
            total_flux=values["total_flux"][rows],
            r_value=values["r_value"][rows],
            pil_length=values["pil_length"][rows],
            latitude=self.regions.latitude[region_index],
            longitude=longitude[rows],
            emergence_fraction=future["emergence_fraction"],
        )

    def _window(self, region_index, steps, start, stop):
        """Expected counts and largest flare of region steps in a window.

        The window covers cadence steps steps + start ... steps + stop - 1,
        i.e. the times (t + start * dt, t + stop * dt].
        """
        config = self.config
        lags = np.arange(start, stop)
        wanted = steps[:, None] + lags[None, :]
        first = self.first_step[region_index][:, None]
        last = self.last_step[region_index][:, None]
        inside = (wanted >= first) & (wanted <= last)
        rows = np.where(inside, self.offsets[region_index][:, None] + wanted - first, 0)
        visible = inside & self.step_visible[rows]
        rate = np.where(visible, self.step_rate[rows], 0.0)
        base = np.where(visible, self.step_base_rate[rows], 0.0)
        exceed = self.step_exceedance[rows]  # [n, window, 3]
        expected = (rate[..., None] * exceed).sum(axis=1) * config.step_days
        from_base = (base[..., None] * exceed).sum(axis=1) * config.step_days
        largest = np.where(visible, self.step_max_flux[rows], 0.0).max(axis=1)
        emergence = 1.0 - from_base[:, 0] / np.maximum(expected[:, 0], 1e-300)
        return {
            "expected": expected,
            "max": largest,
            "emergence_fraction": np.where(expected[:, 0] > 0, emergence, 0.0),
        }

    def _disk_samples(self, steps) -> SampleTable:
        config = self.config
        horizon = config.horizon_steps
        n_steps = config.n_steps
        visible = self.step_visible
        # Whole-disk per-step totals: the disk's flare list is the union of
        # its regions' lists, and Poisson rates add.
        expected = np.zeros((n_steps, 3))
        base = np.zeros(n_steps)
        for column in range(3):
            np.add.at(
                expected[:, column],
                self.step_index[visible],
                (self.step_rate * self.step_exceedance[:, column])[visible],
            )
        np.add.at(
            base,
            self.step_index[visible],
            (self.step_base_rate * self.step_exceedance[:, 0])[visible],
        )
        largest = np.zeros(n_steps)
        np.maximum.at(largest, self.step_index, self.step_max_flux)
        cumulative = np.concatenate([np.zeros((1, 3)), np.cumsum(expected, axis=0)])
        cumulative_base = np.concatenate([[0.0], np.cumsum(base)])
        future = (cumulative[steps + horizon] - cumulative[steps]) * config.step_days
        future_base = (cumulative_base[steps + horizon] - cumulative_base[steps]) * (
            config.step_days
        )
        windows = np.lib.stride_tricks.sliding_window_view(largest, horizon)
        future_max = windows[steps]
        past_max = windows[steps - horizon]
        future_max, past_max = future_max.max(axis=1), past_max.max(axis=1)
        peak_flux = np.where(future_max > 0, future_max, goes.QUIET_FLUX)
        previous = np.where(past_max > 0, past_max, goes.QUIET_FLUX)
        # The disk's Mount Wilson class is its most complex visible region's.
        on_disk = (
            visible
            & (np.abs(self.step_longitude) <= 90.0)
            & (self.step_values["model_flux"] >= config.sample_min_flux)
        )
        complexity = np.zeros(n_steps, dtype=np.int64)
        np.maximum.at(
            complexity,
            self.step_index[on_disk],
            self.step_values["mount_wilson"][on_disk],
        )
        n = len(steps)
        nan = np.full(n, np.nan)
        return SampleTable(
            kind="full_disk",
            step=steps,
            region_index=np.full(n, -1),
            timestamp=self._timestamps(steps),
            region=np.array([DISK_REGION] * n, dtype=object),
            probability=1.0 - np.exp(-future),
            peak_flux=peak_flux,
            previous_peak_flux=previous,
            goes_class=np.asarray(goes.flux_to_class_index(peak_flux)),
            mount_wilson=complexity[steps],
            total_flux=nan,
            r_value=nan.copy(),
            pil_length=nan.copy(),
            latitude=nan.copy(),
            longitude=nan.copy(),
            emergence_fraction=np.where(
                future[:, 0] > 0,
                1.0 - future_base / np.maximum(future[:, 0], 1e-300),
                0.0,
            ),
        )

    def _timestamps(self, steps):
        seconds = round(self.config.cadence_minutes * 60)
        return self.config.start_timestamp + np.asarray(steps, dtype=np.int64) * seconds

    # -- splits ----------------------------------------------------------

    def split(self, kind: str = "active_region"):
        """Chronological, region-grouped split of the samples of `kind`.

        Returns:
            The `flarekit.data.splits.SplitResult` of
            `chronological_split(timestamps, regions, config.split_fractions,
            config.split_gap_days)`.
        """
        from flarekit.data import splits

        _check_kind(kind)
        if kind not in self._splits:
            samples = self.samples(kind)
            if len(samples) == 0:
                raise ValueError(f"The simulation has no {kind} samples.")
            self._splits[kind] = splits.chronological_split(
                samples.timestamp,
                samples.region.astype(str),
                fractions=self.config.split_fractions,
                gap_days=self.config.split_gap_days,
            )
        return self._splits[kind]

    def split_samples(self, kind: str, split: str | None) -> SampleTable:
        """The samples of one split part ("train", ...); all when None/"all"."""
        samples = self.samples(kind)
        if split in (None, "all"):
            return samples
        result = self.split(kind)
        if split not in result.names:
            raise ValueError(
                f"Unknown split {split!r}; expected one of {result.names} or 'all'."
            )
        return samples.subset(result.assignment == split)

    def metadata(self, kind: str) -> dict:
        """JSON-serialisable dataset metadata for samples of `kind`."""
        config = self.config
        result = self.split(kind)
        base_rates = {}
        for name in result.names:
            part = self.split_samples(kind, name)
            classes = np.bincount(part.goes_class, minlength=len(goes.GOES_CLASSES))
            base_rates[name] = {
                "n": len(part),
                **{
                    f">={t}": float(part.outcomes(t).mean()) if len(part) else None
                    for t in PROBABILITY_THRESHOLDS
                },
                "mean_probability": [float(v) for v in part.probability.mean(axis=0)]
                if len(part)
                else None,
                "class_counts": dict(zip(goes.GOES_CLASSES, classes.tolist())),
            }
        return {
            "spec_version": SPEC_VERSION,
            "kind": kind,
            "seed": int(config.seed),
            "start_date": config.start_date,
            "duration_days": float(config.duration_days),
            "cadence_minutes": float(config.cadence_minutes),
            "horizon_hours": float(config.horizon_hours),
            "probability_thresholds": list(PROBABILITY_THRESHOLDS),
            "flux_scale": FLUX_SCALE,
            "channels": list(config.channels),
            "channel_units": [
                CHANNEL_UNITS[CHANNELS.index(c)] for c in config.channels
            ],
            "channel_declarations": channel_declarations(config.channels),
            "mount_wilson_classes": list(MOUNT_WILSON_CLASSES),
            "goes_classes": list(goes.GOES_CLASSES),
            "split": result.to_metadata(),
            "base_rates": base_rates,
            "n_regions": len(self.regions),
            "n_flares": int(self.flares["visible"].sum()),
            "config": config.to_metadata(),
        }

    # -- images ----------------------------------------------------------

    def examples(
        self,
        kind: str = "active_region",
        split: str | None = "train",
        workers: int = 1,
        shard_size: int = 32,
    ) -> Iterator[dict]:
        """Examples with the data contract's feature names, images rendered.

        With `workers` > 1, worker processes render shards of `shard_size`
        consecutive samples; the examples and their order are the same for
        any number of workers and any shard size, because every image draws
        its noise from its own Generator seeded by (seed, kind of frame,
        step, region, size), never from a stream shared across samples.

        Args:
            kind: one of `SAMPLE_KINDS`.
            split: "train", "validation", "test", or None / "all" for every
                sample (including those the split drops).
            workers: processes that render (1: render in this process).
            shard_size: samples per unit of work sent to a worker.

        Yields:
            dicts as `tfds.as_numpy` returns them from the `synthetic_sun`
            builder (region as str): image [H, W, C] (or frames [T, H, W, C]),
            timestamp, region, peak_flux, goes_class (int), previous_peak_flux,
            probability [3], mount_wilson (int), and for region kinds
            total_flux, r_value, pil_length, latitude, longitude.

        Raises:
            ValueError: an unknown kind or split, or workers or shard_size
                below 1.
        """
        for name, value in (("workers", workers), ("shard_size", shard_size)):
            if int(value) != value or value < 1:
                raise ValueError(
                    f"SyntheticSun.examples: {name} must be a positive integer, "
                    f"got {value!r}."
                )
        samples = self.split_samples(kind, split)
        if workers == 1 or len(samples) <= shard_size:
            for index in range(len(samples)):
                yield self.example(samples, index)
            return
        yield from _render_in_processes(self, samples, int(workers), int(shard_size))

    def _render_state(self) -> SyntheticSun:
        """A copy with only what `example` needs, small enough to send to workers.

        The flare list and per-step arrays (about 100 MB for the default
        config) stay behind; the worker test (1 versus 2 workers) fails if
        rendering ever needs one of them.
        """
        state = object.__new__(SyntheticSun)
        for name in _RENDER_ATTRIBUTES:
            setattr(state, name, getattr(self, name))
        return state

    def example(self, samples: SampleTable, index: int) -> dict:
        """Render sample `index` of `samples` into a feature dict."""
        kind = samples.kind
        step = int(samples.step[index])
        region = int(samples.region_index[index])
        features = {
            "timestamp": np.int64(samples.timestamp[index]),
            "region": str(samples.region[index]),
            "peak_flux": np.float32(samples.peak_flux[index]),
            "goes_class": int(samples.goes_class[index]),
            "previous_peak_flux": np.float32(samples.previous_peak_flux[index]),
            "probability": samples.probability[index].astype(np.float32),
            "mount_wilson": int(samples.mount_wilson[index]),
        }
        if kind == "full_disk":
            features["image"] = self.render_full_disk(step)
            return features
        for name in ("total_flux", "r_value", "pil_length", "latitude", "longitude"):
            features[name] = np.float32(getattr(samples, name)[index])
        if kind == "active_region":
            features["image"] = self.render_patch(region, step)
        else:
            features["frames"] = self.render_sequence(region, step)
        return features

    def render_full_disk(self, step: int, size: int | None = None) -> np.ndarray:
        """Full-disk image [size, size, C] at cadence step `step`."""
        config = self.config
        size = size or config.full_disk_size
        scale = 1.0 / (config.disk_radius_fraction * size)  # solar radii per pixel
        coordinates = (np.arange(size) - (size - 1) / 2.0) * scale
        rng = np.random.default_rng([config.seed, 1, step, size])
        return self._render(coordinates, -coordinates, step, rng)

    def render_patch(
        self, region: int, step: int, size: int | None = None, frame_key: int = 2
    ) -> np.ndarray:
        """Patch [size, size, C] centred on region `region` at step `step`."""
        config = self.config
        size = size or config.patch_size
        day = step * config.step_days
        latitude = np.radians(self.regions.latitude[region])
        longitude = np.radians(self.regions.longitude(region, day))
        centre_x = np.cos(latitude) * np.sin(longitude)
        centre_y = np.sin(latitude)
        scale = config.patch_fov_mm / SUN_RADIUS_MM / size
        offsets = (np.arange(size) - (size - 1) / 2.0) * scale
        rng = np.random.default_rng([config.seed, frame_key, step, region, size])
        return self._render(centre_x + offsets, centre_y - offsets, step, rng)

    def render_sequence(
        self, region: int, step: int, size: int | None = None
    ) -> np.ndarray:
        """Frames [T, size, size, C] of region `region` ending at `step`."""
        config = self.config
        size = size or config.sequence_patch_size
        frames = []
        first = step - config.sequence_length + 1
        missing_rng = np.random.default_rng([config.seed, 4, step, region])
        for frame_step in range(first, step + 1):
            frame = self.render_patch(region, frame_step, size, frame_key=3)
            if missing_rng.random() < config.missing_frame_probability:
                frame = np.full_like(frame, np.nan)
            frames.append(frame)
        return np.stack(frames)

    def _render(self, columns, rows, step, rng) -> np.ndarray:
        """Render a sky grid: `columns` X (west) and `rows` Y (north), radii."""
        config = self.config
        day = step * config.step_days
        x, y = np.meshgrid(columns, rows)
        rho2 = x * x + y * y
        on_disk = rho2 < 1.0
        mu = np.sqrt(np.clip(1.0 - rho2, 0.0, 1.0))
        latitude = np.arcsin(np.clip(y, -1.0, 1.0))
        longitude = np.arctan2(x, mu)
        shape = x.shape
        grid = (columns, rows, latitude, longitude)
        near = self._regions_near(day, columns, rows)
        field, loops, glow = self._region_maps(near, step, day, grid)
        network = self._network_field(latitude, longitude, day)
        channels = []
        for name in config.channels:
            if name == "magnetogram":
                noise = rng.standard_normal(shape, dtype=np.float32)
                image = (field + network) * mu + config.magnetogram_noise_gauss * noise
                # Off the limb HMI writes NaN; so does the synthetic Sun.
                image = np.where(on_disk, image, np.nan)
            elif name == "continuum":
                image = self._continuum(field, mu, on_disk, rng)
            else:
                image = self._euv(name, mu, rho2, on_disk, loops, glow, rng)
            channels.append(image)
        return np.stack(channels, axis=-1).astype(np.float32)

    def _regions_near(self, day, columns, rows):
        """Regions alive at `day` whose field can reach the sky box."""
        regions = self.regions
        alive = np.flatnonzero(
            (regions.emergence_day <= day) & (regions.end_day >= day)
        )
        if alive.size == 0:
            return alive
        latitude = np.radians(regions.latitude[alive])
        longitude = np.radians(regions.longitude(alive, day))
        front = np.cos(longitude) > -0.2
        x = np.cos(latitude) * np.sin(longitude)
        y = np.sin(latitude)
        reach = regions.extent_mm[alive] / SUN_RADIUS_MM
        inside = (
            (x + reach >= columns.min())
            & (x - reach <= columns.max())
            & (y + reach >= rows.min())
            & (y - reach <= rows.max())
        )
        return alive[front & inside]

    def _region_maps(self, near, step, day, grid):
        """Field, loop and flare-glow maps of the regions `near`.

        The sources of all regions come from one vectorised `_bipole_sources`
        call and the box of every region from one array comparison; what is
        left per region is a few array operations on its box (sky X and Y
        within its extent of its centre, a rectangle since the sky grid is
        separable), where all its Gaussians are summed at once. A patch holds
        a few regions of some 4,000 box pixels and 40,000 Gaussian terms, so
        the number of numpy calls, not arithmetic, sets its cost.

        Args:
            near: indices of the regions to draw (`_regions_near`).
            step: cadence step (selects the flare glow).
            day: days since `start_date` of `step`.
            grid: (columns, rows, latitude, longitude) of the sky grid; the
                last two [H, W] in radians.

        Returns:
            (field, loops, glow), float32 maps [H, W]: radial field (G),
            loop field (G) and flare glow (W/m^2 of decayed GOES flux).
        """
        config = self.config
        regions = self.regions
        columns, rows, latitude, longitude = grid
        field = np.zeros(latitude.shape, dtype=np.float32)
        loops = np.zeros(latitude.shape, dtype=np.float32)
        glow = np.zeros(latitude.shape, dtype=np.float32)
        if near.size == 0:
            return field, loops, glow
        centre_lat = np.radians(regions.latitude[near])
        centre_lon = np.radians(regions.longitude(near, day))
        centre_x = np.cos(centre_lat) * np.sin(centre_lon)
        centre_y = np.sin(centre_lat)
        reach = (regions.extent_mm[near] / SUN_RADIUS_MM)[:, None]
        # Columns and rows are monotonic, so each box is a contiguous range.
        in_columns = np.abs(columns[None, :] - centre_x[:, None]) <= reach
        in_rows = np.abs(rows[None, :] - centre_y[:, None]) <= reach
        column_start, column_stop = _true_range(in_columns)
        row_start, row_stop = _true_range(in_rows)

        # All bipoles of all regions in one call; a region's bipoles are
        # contiguous rows of the table, and stay contiguous in the result.
        first_row = np.searchsorted(self.bipoles.region, near)
        last_row = np.searchsorted(self.bipoles.region, near, side="right")
        counts = last_row - first_row
        bipole_rows = np.repeat(first_row - np.cumsum(counts) + counts, counts)
        bipole_rows += np.arange(bipole_rows.size)
        sources = _bipole_sources(config, self.bipoles, bipole_rows, np.array([day]))
        # [4, bipoles]: core and plage of pole A, then of pole B.
        gauss_x = sources.x[0].reshape(4, -1).astype(np.float32)
        gauss_y = sources.y[0].reshape(4, -1).astype(np.float32)
        gauss_scale = (-0.5 / sources.width[0] ** 2).reshape(4, -1).astype(np.float32)
        gauss_field = sources.field[0].reshape(4, -1).astype(np.float32)
        loop_x = sources.loop_x[0].astype(np.float32)
        loop_y = sources.loop_y[0].astype(np.float32)
        loop_axis = sources.loop_axis[0].astype(np.float32)
        loop_length = sources.loop_length[0].astype(np.float32)
        loop_width = sources.loop_width[0].astype(np.float32)
        loop_field = sources.loop_field[0].astype(np.float32)
        # Flare glow of this step (0 for regions without a flare shining).
        alive = (self.first_step[near] <= step) & (step <= self.last_step[near])
        step_row = np.where(alive, self.offsets[near] + step - self.first_step[near], 0)
        brightness = np.where(alive, self.step_flare_glow[step_row], 0.0)

        bounds = np.cumsum(counts) - counts
        for j in range(near.size):
            if column_stop[j] <= column_start[j] or row_stop[j] <= row_start[j]:
                continue
            box = (
                slice(row_start[j], row_stop[j]),
                slice(column_start[j], column_stop[j]),
            )
            box_lat = latitude[box]
            # Local region frame in Mm: west along the parallel, north along
            # the meridian (a tangent-plane approximation, good over a region).
            delta_lon = (
                np.mod(longitude[box] - centre_lon[j] + np.pi, 2.0 * np.pi) - np.pi
            )
            local_x = (SUN_RADIUS_MM * np.cos(box_lat) * delta_lon).astype(np.float32)
            local_y = (SUN_RADIUS_MM * (box_lat - centre_lat[j])).astype(np.float32)
            x = local_x[..., None]
            y = local_y[..., None]
            own = slice(bounds[j], bounds[j] + counts[j])
            dx = x - gauss_x[:, own].ravel()
            dy = y - gauss_y[:, own].ravel()
            gauss = np.exp((dx * dx + dy * dy) * gauss_scale[:, own].ravel())
            field[box] += gauss @ gauss_field[:, own].ravel()
            axis = loop_axis[own]
            dx = x - loop_x[own]
            dy = y - loop_y[own]
            along = (dx * axis[:, 0] + dy * axis[:, 1]) / loop_length[own]
            across = (dy * axis[:, 0] - dx * axis[:, 1]) / loop_width[own]
            arcade = np.exp(-0.5 * (along * along + across * across))
            loops[box] += arcade @ loop_field[own]
            if brightness[j] > 0:
                site_x, site_y = regions.flare_site[near[j]]
                distance2 = (local_x - site_x) ** 2 + (local_y - site_y) ** 2
                glow[box] += brightness[j] * np.exp(
                    -distance2 / (2.0 * config.flare_width_mm**2)
                )
        return field, loops, glow

    def _network_field(self, latitude, longitude, day):
        from scipy import ndimage

        carrington = np.degrees(longitude) + CARRINGTON_SYNODIC_RATE_DEG_PER_DAY * day
        rows = (np.degrees(latitude) + 90.0) / 2.0 - 0.5
        cols = np.mod(carrington, 360.0) / 2.0 - 0.5
        return ndimage.map_coordinates(
            self._network, [rows.ravel(), cols.ravel()], order=1, mode="grid-wrap"
        ).reshape(latitude.shape)

    def _continuum(self, field, mu, on_disk, rng):
        config = self.config
        strength = np.abs(field)
        penumbra = _smoothstep(strength, *config.penumbra_gauss)
        umbra = _smoothstep(strength, *config.umbra_gauss)
        relative = (
            1.0
            - (1.0 - config.penumbra_intensity) * penumbra
            - (config.penumbra_intensity - config.umbra_intensity) * umbra
        )
        # Faculae: weak plage field brightens the continuum towards the limb.
        faculae = (
            0.1 * _smoothstep(strength, 50.0, 300.0) * (1.0 - penumbra) * (1.0 - mu)
        )
        image = limb_darkening(mu, config.limb_darkening_u) * (relative + faculae)
        image *= 1.0 + config.continuum_noise * rng.standard_normal(
            field.shape, dtype=np.float32
        )
        return np.where(on_disk, image, 0.0)

    def _euv(self, name, mu, rho2, on_disk, loops, glow, rng):
        config = self.config
        if name == "euv_171":
            corona, loop_light = config.corona_171, config.loop_gain_171 * loops
            flare_light = config.flare_gain_171 * glow
        else:
            corona = config.corona_94
            loop_light = config.loop_gain_94 * loops**config.loop_exponent_94
            flare_light = config.flare_gain_94 * glow
        # Optically thin corona: a longer line of sight towards the limb.
        secant = 1.0 / np.maximum(mu, 1.0 / 6.0)
        disk = corona * (1.0 + config.limb_brightening * (secant - 1.0))
        limb = corona * (1.0 + config.limb_brightening * 5.0)
        height = np.sqrt(np.maximum(rho2, 1.0)) - 1.0
        off_limb = limb * np.exp(-height / config.corona_scale_height)
        image = np.where(on_disk, disk + loop_light + flare_light, off_limb)
        noise = config.euv_noise_fraction * np.sqrt(np.maximum(image, 0.0) * corona)
        image = image + rng.standard_normal(image.shape, dtype=np.float32) * (
            noise + config.euv_read_noise
        )
        if config.cosmic_ray_hits > 0:
            hits = rng.poisson(config.cosmic_ray_hits)
            flat = image.reshape(-1)
            flat[rng.integers(0, flat.size, hits)] += rng.uniform(500.0, 5000.0, hits)
        return np.maximum(image, 0.0)


def _true_range(mask):
    """[start, stop) of the True run in each row of a [n, m] mask.

    Each row must hold at most one contiguous run of True (a box on a
    monotonic grid); an empty row gives start >= stop.
    """
    any_true = mask.any(axis=1)
    start = np.where(any_true, mask.argmax(axis=1), 0)
    stop = np.where(any_true, mask.shape[1] - mask[:, ::-1].argmax(axis=1), 0)
    return start, stop


def _smoothstep(value, low, high):
    position = np.clip((value - low) / max(high - low, 1e-9), 0.0, 1.0)
    return position * position * (3.0 - 2.0 * position)


def _check_kind(kind):
    if kind not in SAMPLE_KINDS:
        raise ValueError(
            f"Unknown sample kind {kind!r}; expected one of {SAMPLE_KINDS}."
        )


# How render workers start. On Linux they fork: they inherit the simulation
# at no cost, start at once, and a script that builds at its top level (no
# `if __name__ == "__main__":` guard) still works, which spawn would break.
# The children run only numpy and scipy, never TensorFlow, so the parent's
# TensorFlow threads do not matter to them. Elsewhere (macOS's Accelerate
# BLAS is not fork-safe) they spawn and receive `_render_state()`, and a
# calling script needs the guard.
RENDER_START_METHOD = "fork" if sys.platform.startswith("linux") else "spawn"
# What `SyntheticSun.example` reads; `_render_state` sends only these.
_RENDER_ATTRIBUTES = (
    "config",
    "regions",
    "bipoles",
    "first_step",
    "last_step",
    "offsets",
    "step_flare_glow",
    "_network",
)
# The render state and samples of a worker process (set by `_start_worker`).
_WORKER = {}


def _start_worker(state: SyntheticSun, samples: SampleTable) -> None:
    _WORKER["sun"], _WORKER["samples"] = state, samples


def _render_shard(bounds: tuple) -> list:
    sun, samples = _WORKER["sun"], _WORKER["samples"]
    return [sun.example(samples, index) for index in range(*bounds)]


def _render_in_processes(
    sun: SyntheticSun, samples: SampleTable, workers: int, shard_size: int
) -> Iterator[dict]:
    """Render `samples` in `workers` processes, yielding in sample order.

    Workers start as `RENDER_START_METHOD` says. At most two shards per
    worker are in flight, so memory stays bounded when the consumer (TFDS
    writing) is slower than rendering. A worker that dies (killed for
    memory, say) raises `BrokenProcessPool` here instead of hanging the build.
    """
    import collections
    import multiprocessing
    from concurrent import futures

    starts = range(0, len(samples), shard_size)
    shards = iter([(start, min(start + shard_size, len(samples))) for start in starts])
    executor = futures.ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context(RENDER_START_METHOD),
        initializer=_start_worker,
        initargs=(sun._render_state(), samples),
    )
    try:
        pending = collections.deque(
            executor.submit(_render_shard, bounds)
            for bounds in itertools.islice(shards, 2 * workers)
        )
        while pending:
            rendered = pending.popleft().result()
            for bounds in itertools.islice(shards, 1):
                pending.append(executor.submit(_render_shard, bounds))
            yield from rendered
    finally:
        # Also reached when the consumer stops early (generator closed).
        executor.shutdown(wait=True, cancel_futures=True)


@functools.lru_cache(maxsize=4)
def simulate(config: SyntheticSunConfig | None = None) -> SyntheticSun:
    """Run (or reuse) the simulation of `config`.

    The result is cached per config (configs are frozen and hashable), so the
    builder's three splits and a notebook's repeated calls simulate once.

    Args:
        config: a `SyntheticSunConfig`; defaults when None.

    Returns:
        The `SyntheticSun`.
    """
    return SyntheticSun(config or SyntheticSunConfig())


def examples(
    config: SyntheticSunConfig | None = None,
    kind: str = "active_region",
    split: str | None = "train",
    workers: int = 1,
) -> Iterator[dict]:
    """Examples of the synthetic Sun as dicts, without TensorFlow.

    Args:
        config: a `SyntheticSunConfig` (defaults when None).
        kind: "full_disk", "active_region" or "sequence".
        split: "train", "validation", "test", or None / "all".
        workers: processes that render; the examples do not depend on it.

    Yields:
        Feature dicts with the data contract's names (see
        `SyntheticSun.examples`).

    Raises:
        ValueError: an unknown kind or split.

    Example:
        >>> config = SyntheticSunConfig(duration_days=120.0)
        >>> first = next(examples(config, "active_region", "train"))
        >>> sorted(first)[:3]
        ['goes_class', 'image', 'latitude']
    """
    _check_kind(kind)
    return simulate(config or SyntheticSunConfig()).examples(kind, split, workers)


def example_key(example: dict) -> str:
    """Deterministic, unique key of an example: "<region>_<timestamp>"."""
    return f"{example['region']}_{int(example['timestamp'])}"
