"""Each sampler's step against its closed form, on hand-worked numbers.

The test schedule takes Pythagorean values, so the hand arithmetic is exact:
t = 1: (alpha, sigma) = (0.28, 0.96); t = 0.5: (0.6, 0.8); t = 0.25: (0.8, 0.6).
"""

import math

import keras
import numpy as np
import pytest
from keras import ops

from flarekit.diffusion import (
    DDIMSampler,
    DDPMSampler,
    DPMSolverMultistepSampler,
    NoiseSchedule,
    get_sampler,
    sample_loop,
)


class TableSchedule(NoiseSchedule):
    """Exact rates at t in {1, 0.5, 0.25} (anything else gets the t=0.25 pair)."""

    name = "table"

    def signal_and_noise(self, t):
        signal = ops.where(t > 0.75, 0.28, ops.where(t > 0.375, 0.6, 0.8))
        noise = ops.where(t > 0.75, 0.96, ops.where(t > 0.375, 0.8, 0.6))
        return ops.cast(signal, "float32"), ops.cast(noise, "float32")


SCHEDULE = TableSchedule()
# x_t = 1 at t = 0.5 (alpha 0.6, sigma 0.8) with x_0 = 1 and eps = 0.5:
# 0.6 * 1 + 0.8 * 0.5 = 1.0; velocity v = alpha eps - sigma x_0 = 0.3 - 0.8 = -0.5.
X_T = np.ones((1, 1, 1, 1), "float32")
PREDICTIONS = {"noise": 0.5, "image": 1.0, "velocity": -0.5}


def value(x):
    return float(ops.convert_to_numpy(x).ravel()[0])


def full(number):
    return np.full((1, 1, 1, 1), number, "float32")


@pytest.mark.parametrize("prediction_type", ["noise", "image", "velocity"])
def test_ddim_step_matches_closed_form_for_every_prediction_type(prediction_type):
    # DDIM eta=0 from t=0.5 to 0.25: alpha_s x0 + sigma_s eps
    # = 0.8 * 1 + 0.6 * 0.5 = 1.1.
    sampler = DDIMSampler(SCHEDULE, prediction_type)
    x_next, state = sampler.step(full(PREDICTIONS[prediction_type]), 0.5, 0.25, X_T)
    assert value(x_next) == pytest.approx(1.1, abs=1e-6) and state == ()


def test_ddpm_step_is_the_posterior_mean_plus_its_standard_deviation():
    # alpha_{t|s} = 0.6 / 0.8 = 0.75; sigma_{t|s}^2 = 0.64 - 0.75^2 * 0.36 = 0.4375;
    # mean = 0.75 * 0.36/0.64 * 1 + 0.8 * 0.4375/0.64 * 1
    #      = 0.421875 + 0.546875 = 0.96875;
    # variance = 0.4375 * 0.36 / 0.64 = 63/256.
    sampler = DDPMSampler(SCHEDULE, "noise")
    mean, _ = sampler.step(full(0.5), 0.5, 0.25, X_T, noise=full(0.0))
    sample, _ = sampler.step(full(0.5), 0.5, 0.25, X_T, noise=full(1.0))
    assert value(mean) == pytest.approx(0.96875, abs=1e-6)
    assert value(sample) - value(mean) == pytest.approx(math.sqrt(63) / 16, abs=1e-6)


def test_ddim_with_eta_one_is_ddpm():
    noise = full(-0.7)
    ddpm, _ = DDPMSampler(SCHEDULE, "noise").step(
        full(0.5), 0.5, 0.25, X_T, noise=noise
    )
    ddim, _ = DDIMSampler(SCHEDULE, "noise", eta=1.0).step(
        full(0.5), 0.5, 0.25, X_T, noise=noise
    )
    assert value(ddim) == pytest.approx(value(ddpm), abs=1e-6)


def test_stochastic_steps_refuse_missing_noise():
    with pytest.raises(ValueError, match="noise"):
        DDPMSampler(SCHEDULE).step(full(0.5), 0.5, 0.25, X_T)


def test_dpm_solver_first_step_is_ddim_and_second_is_the_2m_formula():
    sampler = DPMSolverMultistepSampler(SCHEDULE, "image")
    x_1 = full(2.0)
    first_image, second_image = 1.5, 1.2
    x_half, state = sampler.step(
        full(first_image), 1.0, 0.5, x_1, sampler.initial_state(x_1)
    )
    ddim, _ = DDIMSampler(SCHEDULE, "image").step(full(first_image), 1.0, 0.5, x_1)
    assert value(x_half) == pytest.approx(value(ddim), abs=1e-6)
    x_quarter, _ = sampler.step(full(second_image), 0.5, 0.25, x_half, state)

    # Lu et al. 2022b, Algorithm 2, written out with logs independently.
    lam = {
        1.0: math.log(0.28 / 0.96),
        0.5: math.log(0.6 / 0.8),
        0.25: math.log(0.8 / 0.6),
    }
    h, h_prev = lam[0.25] - lam[0.5], lam[0.5] - lam[1.0]
    r = h_prev / h
    d = (1 + 1 / (2 * r)) * second_image - 1 / (2 * r) * first_image
    expected = (0.6 / 0.8) * value(x_half) - 0.8 * (math.exp(-h) - 1) * d
    assert value(x_quarter) == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("name", ["ddpm", "ddim", "dpmpp"])
def test_the_last_step_to_time_zero_returns_the_image_estimate(name):
    sampler = get_sampler(name, SCHEDULE, "noise")
    state = sampler.initial_state(X_T)
    x_0, _ = sampler.step(full(0.5), 0.5, 0.0, X_T, state, noise=full(3.0))
    assert value(x_0) == pytest.approx(1.0, abs=1e-6)  # (1 - 0.8 * 0.5) / 0.6


def test_timesteps_run_from_one_to_zero_and_reject_zero_steps():
    times = get_sampler("ddim").timesteps(4)
    np.testing.assert_allclose(times, [1.0, 0.75, 0.5, 0.25, 0.0])
    with pytest.raises(ValueError, match="0"):
        get_sampler("ddim").timesteps(0)


def test_unknown_sampler_and_prediction_type_raise():
    with pytest.raises(ValueError, match="euler"):
        get_sampler("euler")
    with pytest.raises(ValueError, match="score"):
        get_sampler("ddim", prediction_type="score")


def test_add_noise_and_velocity_target_are_consistent():
    sampler = get_sampler("ddim", "cosine", "velocity")
    images, noise = full(0.3), full(-1.2)
    times = np.array([0.4], "float32")
    x_t = sampler.add_noise(images, noise, times)
    signal, sigma = sampler.rates(times)
    recovered, recovered_noise = sampler.image_and_noise(
        sampler.training_target(images, noise, times), x_t, signal, sigma
    )
    assert value(recovered) == pytest.approx(0.3, abs=1e-5)
    assert value(recovered_noise) == pytest.approx(-1.2, abs=1e-5)


@pytest.mark.parametrize("name", ["ddim", "dpmpp", "ddpm"])
def test_sampling_loop_with_the_exact_denoiser_recovers_gaussian_data(name):
    # Data ~ N(0, 0.5^2): the exact x_0 estimate is
    # alpha s^2 x / (alpha^2 s^2 + sigma^2).
    sampler = get_sampler(name, "cosine", "image")
    spread = 0.5

    def predict(x, t, condition):
        alpha, sigma = sampler.rates(t)
        return alpha * spread**2 * x / (alpha**2 * spread**2 + sigma**2)

    noise = keras.random.normal((4000, 1, 1, 1), seed=0)
    # First-order samplers need more steps than DPM-Solver++ for the same error.
    steps = {"ddpm": 200, "ddim": 50, "dpmpp": 20}[name]
    images = sample_loop(
        predict,
        sampler,
        noise,
        sampler.timesteps(steps),
        seed_generator=keras.random.SeedGenerator(1),
    )
    assert float(np.std(ops.convert_to_numpy(images))) == pytest.approx(
        spread, abs=0.03
    )


def test_sampling_loop_requires_a_seed_generator_for_stochastic_samplers():
    with pytest.raises(ValueError, match="SeedGenerator"):
        sample_loop(lambda x, t, c: x, get_sampler("ddpm"), X_T, [1.0, 0.0])
