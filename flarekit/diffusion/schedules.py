"""Noise schedules: diffusion time t in [0, 1] -> (signal rate, noise rate).

A noisy image is `x_t = signal_rate(t) * x_0 + noise_rate(t) * noise`. Both
schedules here are variance preserving (`signal_rate**2 + noise_rate**2 = 1`),
run from almost clean data at t = 0 to almost pure noise at t = 1, and are
continuous in t, so a network trained at random times can be sampled with
any number of steps.

Notation (variable -> paper symbol):
    diffusion_times -> t
    signal_rates -> alpha_t = sqrt(alpha_bar_t)
    noise_rates -> sigma_t
    log_signal_to_noise -> lambda_t = log(alpha_t / sigma_t)

References:
    Ho, J., Jain, A. & Abbeel, P. 2020, NeurIPS (the linear beta schedule).
    Song, Y. et al. 2021, ICLR, "Score-based generative modeling through SDEs"
    (its continuous-time form, the VP SDE).
    Nichol, A. & Dhariwal, P. 2021, ICML (the cosine schedule).
"""

from __future__ import annotations

import math

import numpy as np
from keras import ops


class NoiseSchedule:
    """Base class: `schedule(diffusion_times) -> (signal_rates, noise_rates)`.

    Subclasses implement `signal_and_noise` with `keras.ops` only, so the
    schedule runs inside compiled training and sampling loops on any backend.
    """

    name = "base"

    def __call__(self, diffusion_times):
        """Signal and noise rates at `diffusion_times` (any shape, float in [0, 1])."""
        diffusion_times = ops.cast(ops.convert_to_tensor(diffusion_times), "float32")
        return self.signal_and_noise(diffusion_times)

    def signal_and_noise(self, diffusion_times):
        raise NotImplementedError

    def log_signal_to_noise(self, diffusion_times):
        """lambda_t = log(alpha_t / sigma_t), the time variable of DPM-Solver."""
        signal_rates, noise_rates = self(diffusion_times)
        return ops.log(signal_rates) - ops.log(noise_rates)

    def diffusion_time(self, log_signal_to_noise):
        """The time t at which lambda_t equals `log_signal_to_noise` (numpy float64).

        The inverse of `log_signal_to_noise`, used to lay timestep grids out
        in log-SNR (`flarekit.diffusion.spacings`) outside any compiled graph.
        This fallback inverts the schedule numerically on a dense grid;
        schedules with a closed form override it.

        Args:
            log_signal_to_noise: array of lambda values.

        Returns:
            float64 array of times in [0, 1] (clipped at the schedule's ends).

        Raises:
            ValueError: the schedule's log-SNR does not decrease with t.
        """
        grid = np.linspace(0.0, 1.0, 4097)
        values = np.asarray(
            ops.convert_to_numpy(self.log_signal_to_noise(grid)), "float64"
        )
        finite = np.isfinite(values)
        grid, values = grid[finite], values[finite]
        if np.any(np.diff(values) >= 0):
            raise ValueError(
                f"{type(self).__name__}: log-SNR must decrease with t to be "
                "inverted; it does not on [0, 1]."
            )
        targets = np.asarray(log_signal_to_noise, "float64")
        return np.interp(targets, values[::-1], grid[::-1])

    def get_config(self) -> dict:
        return {}

    def __repr__(self) -> str:
        arguments = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({arguments})"


class LinearSchedule(NoiseSchedule):
    """DDPM's linear beta schedule, in continuous time.

    DDPM's betas rise linearly from 1e-4 to 0.02 over 1000 steps; in the
    continuous limit (the VP SDE, Song et al. 2021) beta(t) = beta_min +
    t (beta_max - beta_min) with beta_min = 0.1, beta_max = 20, and

        alpha_bar(t) = exp(-(beta_min t + (beta_max - beta_min) t**2 / 2)).

    At t = 1 the signal rate is 0.0066; at t = 0 the image is clean.

    Args:
        beta_min: beta at t = 0 (DDPM's beta_1 x 1000).
        beta_max: beta at t = 1 (DDPM's beta_T x 1000).

    Raises:
        ValueError: beta_min < 0 or beta_max <= beta_min.

    Example:
        >>> signal_rates, noise_rates = LinearSchedule()([0.0, 0.5, 1.0])
    """

    name = "linear"

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0):
        if beta_min < 0 or beta_max <= beta_min:
            raise ValueError(
                f"LinearSchedule needs 0 <= beta_min < beta_max, got "
                f"beta_min={beta_min!r}, beta_max={beta_max!r}."
            )
        self.beta_min = float(beta_min)
        self.beta_max = float(beta_max)

    def signal_and_noise(self, diffusion_times):
        log_alpha_bar = -(
            self.beta_min * diffusion_times
            + 0.5 * (self.beta_max - self.beta_min) * diffusion_times**2
        )
        signal_rates = ops.exp(0.5 * log_alpha_bar)
        # sqrt(1 - exp(x)) loses all digits near t = 0 in float32; -expm1 keeps them.
        noise_rates = ops.sqrt(-ops.expm1(log_alpha_bar))
        return signal_rates, noise_rates

    def diffusion_time(self, log_signal_to_noise):
        # alpha_bar = sigmoid(2 lambda), so -log alpha_bar = softplus(-2 lambda)
        # = beta_min t + (beta_max - beta_min) t**2 / 2: a quadratic in t.
        minus_log_alpha_bar = np.logaddexp(
            0.0, -2.0 * np.asarray(log_signal_to_noise, "float64")
        )
        slope = self.beta_max - self.beta_min
        times = (
            -self.beta_min
            + np.sqrt(self.beta_min**2 + 2.0 * slope * minus_log_alpha_bar)
        ) / slope
        return np.clip(times, 0.0, 1.0)

    def get_config(self) -> dict:
        return {"beta_min": self.beta_min, "beta_max": self.beta_max}


class CosineSchedule(NoiseSchedule):
    """The cosine schedule: the angle arccos(signal rate) is linear in t.

    `signal_rate = cos(angle)`, `noise_rate = sin(angle)`, with the angle
    running from arccos(max_signal_rate) at t = 0 to arccos(min_signal_rate)
    at t = 1: Nichol & Dhariwal's alpha_bar(t) = cos^2(...) with its ends
    clipped, in the form the keras-io DDIM example uses. Clipping both ends
    keeps noise prediction (which divides by the signal rate) and image
    prediction (which divides by the noise rate) finite.

    Args:
        min_signal_rate: signal rate at t = 1.
        max_signal_rate: signal rate at t = 0.

    Raises:
        ValueError: rates outside 0 < min < max < 1.

    Example:
        >>> signal_rates, noise_rates = CosineSchedule()([0.0, 1.0])
    """

    name = "cosine"

    def __init__(self, min_signal_rate: float = 0.02, max_signal_rate: float = 0.999):
        if not 0 < min_signal_rate < max_signal_rate < 1:
            raise ValueError(
                "CosineSchedule needs 0 < min_signal_rate < max_signal_rate < 1, got "
                f"min_signal_rate={min_signal_rate!r}, "
                f"max_signal_rate={max_signal_rate!r}."
            )
        self.min_signal_rate = float(min_signal_rate)
        self.max_signal_rate = float(max_signal_rate)

    def signal_and_noise(self, diffusion_times):
        start_angle = math.acos(self.max_signal_rate)
        end_angle = math.acos(self.min_signal_rate)
        angles = start_angle + diffusion_times * (end_angle - start_angle)
        return ops.cos(angles), ops.sin(angles)

    def diffusion_time(self, log_signal_to_noise):
        # tan(angle) = sigma / alpha = exp(-lambda), and the angle is linear in t.
        start_angle = math.acos(self.max_signal_rate)
        end_angle = math.acos(self.min_signal_rate)
        angles = np.arctan(np.exp(-np.asarray(log_signal_to_noise, "float64")))
        return np.clip((angles - start_angle) / (end_angle - start_angle), 0.0, 1.0)

    def get_config(self) -> dict:
        return {
            "min_signal_rate": self.min_signal_rate,
            "max_signal_rate": self.max_signal_rate,
        }


SCHEDULES = {"linear": LinearSchedule, "cosine": CosineSchedule}


def get_schedule(name, **kwargs) -> NoiseSchedule:
    """A schedule by name ("linear", "cosine"), or `name` itself if it is one.

    Raises:
        ValueError: an unknown name, listing the known ones.

    Example:
        >>> schedule = get_schedule("cosine", min_signal_rate=0.02)
    """
    if isinstance(name, NoiseSchedule):
        return name
    if name not in SCHEDULES:
        raise ValueError(
            f"Unknown noise schedule {name!r}; known: {sorted(SCHEDULES)}."
        )
    return SCHEDULES[name](**kwargs)


def schedule_config(schedule: NoiseSchedule) -> dict:
    """`{"name": ..., **arguments}`, for configs and saved models."""
    return {"name": schedule.name, **schedule.get_config()}


def schedule_from_config(config: dict) -> NoiseSchedule:
    """Inverse of `schedule_config`."""
    config = dict(config)
    return get_schedule(config.pop("name"), **config)
