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
    CosineSchedule,
    DDIMSampler,
    DDPMSampler,
    DPMSolverMultistepSampler,
    DPMSolverSDESampler,
    LinearSchedule,
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


@pytest.mark.parametrize("name", ["ddpm", "ddim", "dpmpp", "dpmpp_sde"])
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


def test_dpm_solver_defaults_to_log_snr_spacing_and_others_to_uniform():
    assert get_sampler("dpmpp").spacing == "log_snr"
    assert get_sampler("dpmpp_sde").spacing == "log_snr"
    assert get_sampler("ddim").spacing == "uniform"
    assert get_sampler("ddpm").spacing == "uniform"
    assert get_sampler("dpmpp", spacing="uniform").spacing == "uniform"


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
@pytest.mark.parametrize("spacing", ["uniform", "log_snr", "karras"])
@pytest.mark.parametrize("num_steps", [1, 2, 7, 1000])
def test_every_spacing_runs_from_one_to_zero_strictly_decreasing(
    schedule, spacing, num_steps
):
    times = get_sampler("dpmpp", schedule, spacing=spacing).timesteps(num_steps)
    assert times.dtype == np.float32 and len(times) == num_steps + 1
    assert times[0] == 1.0 and times[-1] == 0.0 and np.all(np.diff(times) < 0)


@pytest.mark.parametrize("schedule", [LinearSchedule(), CosineSchedule()])
def test_log_snr_spacing_has_equal_log_snr_steps(schedule):
    times = get_sampler("ddim", schedule, spacing="log_snr").timesteps(6)
    log_snr = ops.convert_to_numpy(schedule.log_signal_to_noise(times[:-1]))
    np.testing.assert_allclose(np.diff(log_snr), np.diff(log_snr)[0], rtol=2e-3)
    assert times[-2] == pytest.approx(1e-3, rel=1e-3)


def test_karras_spacing_matches_the_edm_formula_by_hand():
    # Cosine schedule: s = sigma / alpha = tan(angle). Three steps, rho = 7:
    # s_0 = s(1), s_2 = s(0.001), s_1 = ((s_0^(1/7) + s_2^(1/7)) / 2)^7.
    schedule = CosineSchedule()
    start, end = math.acos(0.999), math.acos(0.02)
    s_max = math.tan(end)
    s_min = math.tan(start + 0.001 * (end - start))
    s_mid = ((s_max ** (1 / 7) + s_min ** (1 / 7)) / 2) ** 7
    t_mid = (math.atan(s_mid) - start) / (end - start)
    times = get_sampler("ddim", schedule, spacing="karras").timesteps(3)
    np.testing.assert_allclose(times, [1.0, t_mid, 0.001, 0.0], rtol=1e-5)


@pytest.mark.parametrize("schedule", [LinearSchedule(), CosineSchedule()])
def test_schedule_inverse_recovers_the_time(schedule):
    times = np.array([0.002, 0.1, 0.5, 0.97], "float32")
    log_snr = ops.convert_to_numpy(schedule.log_signal_to_noise(times))
    np.testing.assert_allclose(schedule.diffusion_time(log_snr), times, rtol=1e-4)


def test_unknown_spacing_and_unknown_option_raise_with_the_known_ones():
    with pytest.raises(ValueError, match="karras"):
        get_sampler("ddim", spacing="quadratic")
    with pytest.raises(ValueError, match="eta"):
        get_sampler("dpmpp", eta=0.5)


def test_dpm_solver_sde_is_ddpm_at_first_order_and_dpmpp_at_eta_zero():
    noise = full(-0.7)
    ddpm, _ = DDPMSampler(SCHEDULE, "noise").step(
        full(0.5), 0.5, 0.25, X_T, noise=noise
    )
    sde = DPMSolverSDESampler(SCHEDULE, "noise", eta=1.0)
    first, state = sde.step(full(0.5), 0.5, 0.25, X_T, sde.initial_state(X_T), noise)
    assert value(first) == pytest.approx(value(ddpm), abs=1e-6)
    # eta = 0: every step, the second-order one included, is DPM-Solver++(2M)'s.
    ode = DPMSolverSDESampler(SCHEDULE, "image", eta=0.0)
    reference = DPMSolverMultistepSampler(SCHEDULE, "image")
    x, state = ode.step(full(1.5), 1.0, 0.5, full(2.0), ode.initial_state(X_T))
    y, reference_state = reference.step(
        full(1.5), 1.0, 0.5, full(2.0), reference.initial_state(X_T)
    )
    x, _ = ode.step(full(1.2), 0.5, 0.25, x, state)
    y, _ = reference.step(full(1.2), 0.5, 0.25, y, reference_state)
    assert value(x) == pytest.approx(value(y), abs=1e-6)


def test_dpm_solver_sde_second_step_adds_the_midpoint_correction_and_noise():
    # k-diffusion's sample_dpmpp_2m_sde (midpoint, eta = 1) in VP form:
    # x_s = sigma_s / sigma_t e^-h x_t + alpha_s (1 - e^-2h)
    #       (D + (D - D_prev) / (2 r)) + sigma_s sqrt(1 - e^-2h) z.
    sde = DPMSolverSDESampler(SCHEDULE, "image", eta=1.0)
    x_1 = full(2.0)
    x_half, state = sde.step(
        full(1.5), 1.0, 0.5, x_1, sde.initial_state(x_1), full(0.3)
    )
    x_quarter, _ = sde.step(full(1.2), 0.5, 0.25, x_half, state, full(-0.4))
    lam = {
        1.0: math.log(0.28 / 0.96),
        0.5: math.log(0.6 / 0.8),
        0.25: math.log(0.8 / 0.6),
    }
    h, h_prev = lam[0.25] - lam[0.5], lam[0.5] - lam[1.0]
    r = h_prev / h
    d = 1.2 + (1.2 - 1.5) / (2 * r)
    expected = (
        0.6 / 0.8 * math.exp(-h) * value(x_half)
        + 0.8 * (1 - math.exp(-2 * h)) * d
        + 0.6 * math.sqrt(1 - math.exp(-2 * h)) * -0.4
    )
    assert value(x_quarter) == pytest.approx(expected, abs=1e-5)


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


@pytest.mark.parametrize("name", ["ddim", "dpmpp", "ddpm", "dpmpp_sde"])
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
    steps = {"ddpm": 200, "ddim": 50, "dpmpp": 20, "dpmpp_sde": 50}[name]
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


def test_stochastic_noise_depends_on_the_seed_pair_alone_and_differs_per_step():
    # predict = 0 with image prediction: each DDPM step is
    # posterior-mean(x_t) + std * noise, so outputs show the noise drawn.
    sampler = get_sampler("ddpm", "cosine", "image")
    x = np.zeros((2, 3, 3, 1), "float32")

    def run(seed, times=(1.0, 0.5, 0.25)):
        return ops.convert_to_numpy(
            sample_loop(
                lambda x, t, c: ops.zeros_like(x),
                sampler,
                x,
                list(times),
                noise_seed=np.array(seed, "int32"),
            )
        )

    np.testing.assert_array_equal(run([4, 0]), run([4, 0]))
    assert not np.allclose(run([4, 0]), run([5, 0]))
    # Step 0 uses the pair (4, 1): not the initial noise's (4, 0).
    first = run([4, 0], (1.0, 0.5))
    initial = ops.convert_to_numpy(keras.random.normal(x.shape, seed=4))
    assert abs(np.corrcoef(first.ravel(), initial.ravel())[0, 1]) < 0.9
