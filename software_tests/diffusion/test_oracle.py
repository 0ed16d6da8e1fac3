"""The samplers against an exact oracle: Gaussian-mixture data, whose ideal
network prediction is analytic (flarekit.diffusion.oracle).

Small and fast: 8 dimensions (and a 4x4x2 image-shaped mixture), a few
hundred to two thousand samples, float32 compiled loops; the reference flow
is float64 numpy. Tolerances sit several Monte Carlo standard deviations
above the exact-sample floor and well below the errors of a broken sampler
(e.g. the uniform grid's lost fine-scale variance with DPM-Solver++).
"""

import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from flarekit import diffusion
from flarekit.diffusion.oracle import (
    GaussianMixture,
    convergence_order,
    path_error,
    smooth_error,
)

MIXTURE = GaussianMixture.random(num_components=3, dim=8, seed=0)


def run(sampler, x_start, num_steps, predict=None, condition=None, scale=None):
    """The sampling loop, compiled, on the exact oracle (float32)."""
    predict = predict or MIXTURE.predictor(sampler)
    null = None
    if condition is not None:
        null = np.full(len(x_start), MIXTURE.num_components, "int32")
        condition = np.asarray(condition, "int32")

    def loop(x, times):
        return diffusion.sample_loop(
            predict,
            sampler,
            x,
            times,
            condition=condition,
            null_condition=null,
            guidance_scale=scale,
            noise_seed=np.array([7, 0], "int32"),
        )

    compiled = tf.function(loop, autograph=False)
    return compiled(
        tf.constant(x_start, tf.float32), tf.constant(sampler.timesteps(num_steps))
    ).numpy()


def test_oracle_is_the_closed_form_posterior_mean_for_one_gaussian():
    # One component N(mu, Sigma) in 2-D: E[x0 | x_t]
    # = mu + alpha Sigma (alpha^2 Sigma + sigma^2 I)^-1 (x_t - alpha mu).
    mu, sigma_matrix = np.array([1.0, -2.0]), np.array([[2.0, 0.6], [0.6, 0.5]])
    gaussian = GaussianMixture([1.0], [mu], [sigma_matrix])
    x_t, alpha, sigma = np.array([[0.3, 0.9]]), 0.6, 0.8
    expected = mu + alpha * sigma_matrix @ np.linalg.solve(
        alpha**2 * sigma_matrix + sigma**2 * np.eye(2), x_t[0] - alpha * mu
    )
    np.testing.assert_allclose(
        gaussian.image_prediction64(x_t, alpha, sigma)[0], expected
    )
    float32 = ops.convert_to_numpy(gaussian.image_prediction(x_t, alpha, sigma))
    np.testing.assert_allclose(float32[0], expected, rtol=1e-5)


def test_reference_flow_carries_exact_noisy_samples_to_the_mixture():
    schedule = diffusion.get_schedule("cosine")
    x_1 = MIXTURE.noisy_sample(2000, schedule, 1.0, seed=1)
    samples = MIXTURE.reference_flow(x_1, schedule, end_time=1e-3, num_steps=100)
    errors = MIXTURE.moment_errors(samples)
    floor = MIXTURE.moment_errors(MIXTURE.sample(2000, seed=2)[0])
    assert errors["weight_error"] < 0.035 and errors["mean_error"] < 0.1
    assert errors["covariance_error"] < 2.0 * floor["covariance_error"] + 0.05
    # The ODE is second order in its step: 100 and 200 RK4 steps agree.
    finer = MIXTURE.reference_flow(x_1[:200], schedule, end_time=1e-3, num_steps=200)
    coarse = MIXTURE.reference_flow(x_1[:200], schedule, end_time=1e-3, num_steps=100)
    assert path_error(coarse, finer) < 1e-4


@pytest.mark.parametrize("schedule", ["cosine", "linear"])
def test_distance_falls_with_steps_at_each_solvers_order(schedule):
    # Paired with the float64 reference flow from the same x_1, the RMS error
    # bounds the 2-Wasserstein distance to the distribution the exact ODE
    # makes; measured: DDIM ~0.9, DPM-Solver++(2M) ~1.9 over 10-40 steps.
    x_1 = MIXTURE.noisy_sample(300, diffusion.get_schedule(schedule), 1.0, seed=3)
    reference = MIXTURE.reference_flow(
        x_1, diffusion.get_schedule(schedule), end_time=1e-3, num_steps=200
    )
    steps = (10, 20, 40)
    orders = {}
    for name in ("ddim", "dpmpp"):
        sampler = diffusion.get_sampler(name, schedule, "velocity", spacing="log_snr")
        errors = [path_error(run(sampler, x_1, n), reference) for n in steps]
        assert errors[0] > errors[1] > errors[2], (name, errors)
        orders[name] = convergence_order(steps, errors)
    assert 0.6 < orders["ddim"] < 1.5, orders
    assert 1.4 < orders["dpmpp"] < 2.7, orders


def test_prediction_types_give_the_same_samples():
    x_1 = np.random.default_rng(4).normal(size=(200, 8))
    outputs = [
        run(diffusion.get_sampler("dpmpp", "linear", kind), x_1, 10)
        for kind in diffusion.PREDICTION_TYPES
    ]
    for other in outputs[1:]:
        np.testing.assert_allclose(other, outputs[0], atol=2e-3)


@pytest.mark.parametrize(
    "name, steps, tolerances",
    [
        # (mean error, covariance error, |variance ratio - 1|); the exact-sample
        # floor at n = 2000 is about (0.04, 0.13, 0.02).
        ("ddpm", 1000, (0.12, 0.3, 0.08)),
        ("ddim", 50, (0.12, 0.3, 0.08)),
        ("dpmpp", 20, (0.12, 0.3, 0.08)),
        ("dpmpp_sde", 50, (0.12, 0.3, 0.08)),
        # Few steps: the solvers' own error, which falls with steps (measured:
        # DDIM 10 keeps 79 % of the variance; DPM-Solver++ 5 on its log-SNR
        # grid overshoots it by 9 % with a covariance error of 0.64).
        ("ddim", 10, (0.2, 0.4, 0.25)),
        ("dpmpp", 5, (0.2, 0.8, 0.25)),
    ],
)
def test_samplers_reproduce_the_mixture_from_pure_noise(name, steps, tolerances):
    sampler = diffusion.get_sampler(name, "cosine", "noise")
    x_1 = np.random.default_rng(5).normal(size=(2000, 8))
    errors = MIXTURE.moment_errors(run(sampler, x_1, steps))
    mean_tolerance, covariance_tolerance, variance_tolerance = tolerances
    # Weights within ~4 MC sd (0.011 at n = 2000).
    assert errors["weight_error"] < 0.045, errors
    assert errors["mean_error"] < mean_tolerance, errors
    assert errors["covariance_error"] < covariance_tolerance, errors
    assert abs(errors["variance_ratio"] - 1.0) < variance_tolerance, errors


def test_uniform_grid_loses_fine_scale_variance_and_log_snr_does_not():
    # The finding behind DPM-Solver++'s default grid: the uniform grid's last
    # step jumps to the data from t = 1/N (sigma 0.12 at N = 20), which erases
    # small-variance directions; log-SNR spacing stops at t = 0.001 first and
    # keeps as much as DDPM-1000 (measured: 0.52 against 0.87 and 0.87).
    images = GaussianMixture.image_shaped(4, 4, 2, seed=0)
    x_1 = np.random.default_rng(6).normal(size=(1500, 4, 4, 2))
    detail = {}
    for name, steps, spacing in (
        ("dpmpp", 20, "uniform"),
        ("dpmpp", 20, None),
        ("ddpm", 1000, None),
    ):
        sampler = diffusion.get_sampler(name, "cosine", "velocity", spacing=spacing)
        samples = run(sampler, x_1, steps, predict=images.predictor(sampler))
        detail[(name, spacing)] = images.moment_errors(samples)["detail_ratio"]
    assert detail[("dpmpp", "uniform")] < 0.65, detail
    assert detail[("dpmpp", None)] > 0.8 and detail[("ddpm", None)] > 0.8, detail


def test_guidance_with_exact_conditional_and_unconditional_oracles():
    sampler = diffusion.get_sampler("dpmpp", "cosine", "velocity")
    x_1 = np.random.default_rng(8).normal(size=(1000, 8))
    component = 1
    condition = np.full(1000, component)
    # Scale 1 as a tensor takes the doubled-batch guidance path: component 1.
    guided_one = run(sampler, x_1, 20, condition=condition, scale=tf.constant(1.0))
    errors = MIXTURE.moment_errors(guided_one, components=[component])
    assert np.mean(MIXTURE.assign(guided_one) == component) > 0.99
    assert errors["mean_error"] < 0.1 and errors["covariance_error"] < 0.35, errors
    # Scale 0 is the unconditional model: the whole mixture.
    unconditional = run(sampler, x_1, 20, condition=condition, scale=0.0)
    assert MIXTURE.moment_errors(unconditional)["weight_error"] < 0.05
    # Scale 3 pushes samples further towards the class than the class itself
    # lies: they move away from the other components' means.
    strong = run(sampler, x_1, 20, condition=condition, scale=3.0)
    others = [k for k in range(3) if k != component]

    def distance_to_others(samples):
        return np.mean(
            [np.linalg.norm(samples - MIXTURE.means[k], axis=1) for k in others]
        )

    assert distance_to_others(strong) > distance_to_others(guided_one) + 0.1


def test_a_shrinking_network_error_costs_stochastic_samplers_more_diversity():
    # An under-fitted denoiser (x0_hat pulled 5% towards the data mean at every
    # t) shrinks every sampler's samples; the reverse SDE weights the score
    # twice as much as the ODE, so the stochastic samplers lose more.
    error = smooth_error(MIXTURE, 0.05, "shrink")
    x_1 = np.random.default_rng(9).normal(size=(1500, 8))
    ratios = {}
    for name, steps in (("ddim", 50), ("dpmpp", 20), ("ddpm", 1000), ("dpmpp_sde", 50)):
        sampler = diffusion.get_sampler(name, "cosine", "velocity")
        samples = run(sampler, x_1, steps, predict=MIXTURE.predictor(sampler, error))
        ratios[name] = MIXTURE.moment_errors(samples)["variance_ratio"]
    assert max(ratios["ddpm"], ratios["dpmpp_sde"]) < min(
        ratios["ddim"], ratios["dpmpp"]
    )
    assert all(ratio < 0.9 for ratio in ratios.values()), ratios


def test_oracle_rejects_bad_mixtures():
    with pytest.raises(ValueError, match="sum to 1"):
        GaussianMixture([0.5, 0.6], np.zeros((2, 2)), np.stack([np.eye(2)] * 2))
    with pytest.raises(ValueError, match="positive definite"):
        GaussianMixture([1.0], np.zeros((1, 2)), -np.eye(2)[None])
    with pytest.raises(ValueError, match="kind"):
        smooth_error(MIXTURE, 0.1, "blur")
