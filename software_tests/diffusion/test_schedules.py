"""Noise schedules: end points, variance preservation, precision, errors."""

import math

import numpy as np
import pytest
from keras import ops

from flarekit.diffusion import (
    CosineSchedule,
    LinearSchedule,
    get_schedule,
    schedule_config,
    schedule_from_config,
)

TIMES = np.linspace(0.0, 1.0, 11, dtype="float32")


def rates(schedule, times=TIMES):
    signal, noise = schedule(times)
    return ops.convert_to_numpy(signal), ops.convert_to_numpy(noise)


@pytest.mark.parametrize("schedule", [LinearSchedule(), CosineSchedule()])
def test_schedules_preserve_variance_and_decrease_signal(schedule):
    signal, noise = rates(schedule)
    np.testing.assert_allclose(signal**2 + noise**2, 1.0, atol=1e-6)
    assert np.all(np.diff(signal) < 0) and np.all(np.diff(noise) > 0)


def test_linear_schedule_matches_ddpm_continuous_form():
    # alpha_bar(1) = exp(-(0.1 + 0.5 * 19.9)) = exp(-10.05): signal exp(-5.025).
    signal, noise = rates(LinearSchedule(), np.array([0.0, 1.0], "float32"))
    np.testing.assert_allclose(signal, [1.0, math.exp(-5.025)], rtol=1e-5)
    assert noise[0] == 0.0


def test_linear_schedule_keeps_small_noise_rates_accurate():
    # sqrt(1 - exp(x)) in float32 is ~0.5 % off at t = 1e-4; -expm1 keeps 1e-4.
    t = 1e-4
    exact = math.sqrt(-math.expm1(-(0.1 * t + 0.5 * 19.9 * t**2)))
    _, noise = rates(LinearSchedule(), np.array([t], "float32"))
    np.testing.assert_allclose(noise, [exact], rtol=1e-4)


def test_cosine_schedule_ends_at_its_clipped_rates():
    signal, _ = rates(CosineSchedule(0.02, 0.999), np.array([0.0, 1.0], "float32"))
    np.testing.assert_allclose(signal, [0.999, 0.02], rtol=1e-5)


@pytest.mark.parametrize(
    "make",
    [
        lambda: LinearSchedule(beta_min=1.0, beta_max=0.5),
        lambda: CosineSchedule(min_signal_rate=0.5, max_signal_rate=0.4),
        lambda: get_schedule("quadratic"),
    ],
)
def test_bad_schedules_raise_value_errors_naming_the_value(make):
    with pytest.raises(ValueError, match=r"0\.5|0\.4|quadratic"):
        make()


def test_schedule_config_round_trip():
    schedule = CosineSchedule(0.05, 0.99)
    again = schedule_from_config(schedule_config(schedule))
    assert (
        isinstance(again, CosineSchedule)
        and again.get_config() == schedule.get_config()
    )
