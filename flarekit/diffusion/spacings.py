"""Timestep spacings: where a sampler's `num_steps` steps fall between t = 1 and 0.

Every spacing returns `num_steps + 1` float32 times 1 = t_0 > t_1 > ... >
t_N = 0; the last step always lands on the data (t = 0, where samplers use
signal rate 1 and noise rate 0). They differ in where the steps in between go:

    "uniform"  -> uniform in t: 1, 1 - 1/N, ..., 1/N, 0 (DDIM's and the
                  keras-io example's grid). Its last step jumps to the data
                  from t = 1/N (noise rate 0.12 at N = 20 on the cosine
                  schedule), where the image estimate has lost much of the
                  data's small-variance (fine-scale) structure: on the exact
                  oracle DPM-Solver++ 20 keeps half the fine-scale variance
                  of an image-shaped mixture, DDPM 1000 87 %
                  (docs/results/diffusion/oracle.md).
    "log_snr"  -> uniform in lambda = log(alpha / sigma) from lambda(1) to
                  lambda(min_time), then t = 0: DPM-Solver's recommended
                  grid (Lu et al. 2022a, sec. 3.3), where the exponential
                  integrator's step size h is constant.
    "karras"   -> the EDM grid (Karras et al. 2022, eq. 5) in the variance-
                  exploding noise level s = sigma / alpha = exp(-lambda):
                  s_i = (s_max^(1/rho) + i / (N - 1) (s_min^(1/rho)
                  - s_max^(1/rho)))^rho, i = 0 .. N - 1, rho = 7, with
                  s_max = s(1) and s_min = s(min_time), then t = 0. It puts
                  more steps at low noise than log-SNR spacing does.

The two log-SNR based grids stop at `MIN_TIME` (1e-3, DPM-Solver's epsilon
and DDPM-1000's last nonzero time) before the final jump to the data, so the
jump erases no more fine-scale variance at 10 steps than at 1000 (and
lambda(0) is infinite for the linear schedule). Each sampler has a default
spacing (`Sampler.default_spacing`): "log_snr" for the DPM-Solver++ family,
"uniform" for DDPM and DDIM. Times are computed in float64
numpy outside any graph (they are an argument of the compiled loop) through
the schedule's inverse `diffusion_time(lambda)`.

Spacings are registered by name: adding one is a function decorated with
`register_spacing`.

References:
    Lu, C. et al. 2022a, "DPM-Solver", NeurIPS, sec. 3.3.
    Karras, T. et al. 2022, "Elucidating the Design Space of Diffusion-Based
    Generative Models", NeurIPS, eq. 5 and Table 1.

Example:
    >>> times = timesteps(CosineSchedule(), 10, "karras")
"""

from __future__ import annotations

import numpy as np
from keras import ops

from flarekit.diffusion.schedules import NoiseSchedule, get_schedule

# Last nonzero time of the log-SNR based grids (DPM-Solver's epsilon).
MIN_TIME = 1e-3
# EDM's rho: larger values concentrate steps at low noise.
KARRAS_RHO = 7.0

_SPACINGS = {}


def register_spacing(name: str):
    """Decorator registering `spacing(schedule, num_steps) -> times` by name."""

    def decorate(function):
        _SPACINGS[name] = function
        return function

    return decorate


def spacing_names() -> tuple:
    """The registered spacing names, sorted."""
    return tuple(sorted(_SPACINGS))


def _log_snr(schedule: NoiseSchedule, times) -> np.ndarray:
    signal_rates, noise_rates = schedule(np.asarray(times, "float32"))
    signal_rates = np.asarray(ops.convert_to_numpy(signal_rates), "float64")
    noise_rates = np.asarray(ops.convert_to_numpy(noise_rates), "float64")
    return np.log(signal_rates) - np.log(noise_rates)


def _with_data_time(times: np.ndarray) -> np.ndarray:
    """Append t = 0 and force t_0 = 1 exactly (the inverse is float64-rounded)."""
    times = np.asarray(times, "float64").copy()
    times[0] = 1.0
    return np.append(times, 0.0).astype("float32")


@register_spacing("uniform")
def uniform_time(schedule: NoiseSchedule, num_steps: int) -> np.ndarray:
    """Uniform in t: 1, 1 - 1/N, ..., 1/N, 0."""
    return np.linspace(1.0, 0.0, num_steps + 1, dtype="float32")


@register_spacing("log_snr")
def uniform_log_snr(schedule: NoiseSchedule, num_steps: int) -> np.ndarray:
    """Uniform in lambda from lambda(1) to lambda(MIN_TIME), then t = 0."""
    if num_steps == 1:
        return np.array([1.0, 0.0], "float32")
    start, end = _log_snr(schedule, [1.0, MIN_TIME])
    log_snrs = np.linspace(start, end, num_steps)
    return _with_data_time(schedule.diffusion_time(log_snrs))


@register_spacing("karras")
def karras(schedule: NoiseSchedule, num_steps: int, rho: float = KARRAS_RHO):
    """EDM spacing (rho = 7) of s = sigma / alpha from s(1) to s(MIN_TIME), then 0."""
    if num_steps == 1:
        return np.array([1.0, 0.0], "float32")
    start, end = _log_snr(schedule, [1.0, MIN_TIME])
    s_max, s_min = np.exp(-start), np.exp(-end)
    ramp = np.linspace(0.0, 1.0, num_steps)
    noise_levels = (
        s_max ** (1.0 / rho) + ramp * (s_min ** (1.0 / rho) - s_max ** (1.0 / rho))
    ) ** rho
    return _with_data_time(schedule.diffusion_time(-np.log(noise_levels)))


def timesteps(schedule, num_steps: int, spacing: str = "uniform") -> np.ndarray:
    """`num_steps + 1` float32 times from 1 down to 0, laid out by `spacing`.

    Args:
        schedule: a `NoiseSchedule` or its name.
        num_steps: number of sampler steps (network evaluations).
        spacing: a registered spacing name ("uniform", "log_snr", "karras").

    Returns:
        float32 array [num_steps + 1], strictly decreasing, t_0 = 1, t_N = 0.

    Raises:
        ValueError: num_steps < 1, an unknown spacing, or a grid that is not
            strictly decreasing (a schedule whose inverse is wrong).
    """
    num_steps = int(num_steps)
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps!r}.")
    check_spacing(spacing)
    times = _SPACINGS[spacing](get_schedule(schedule), num_steps)
    if np.any(np.diff(times) >= 0):
        raise ValueError(
            f"Spacing {spacing!r} gave times that do not decrease strictly for "
            f"{num_steps} steps: {times.tolist()}."
        )
    return times


def check_spacing(spacing: str) -> str:
    """`spacing` if it is registered.

    Raises:
        ValueError: an unknown spacing, listing the known ones.
    """
    if spacing not in _SPACINGS:
        raise ValueError(
            f"Unknown timestep spacing {spacing!r}; known: {list(spacing_names())}."
        )
    return spacing
