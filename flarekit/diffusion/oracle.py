"""An exact oracle for the samplers: Gaussian-mixture data, whose ideal network
prediction is analytic at every diffusion time.

For data x_0 ~ sum_k w_k N(mu_k, Sigma_k) and x_t = alpha_t x_0 + sigma_t eps,
x_t is a mixture too, with components N(alpha mu_k, alpha^2 Sigma_k + sigma^2 I),
and the minimum-MSE image prediction (what a perfectly trained network of any
prediction type implies) is the posterior mean

    E[x_0 | x_t] = sum_k r_k(x_t) (mu_k + alpha Sigma_k (alpha^2 Sigma_k
                   + sigma^2 I)^-1 (x_t - alpha mu_k)),

with r_k(x_t) the components' posterior probabilities. Noise and velocity
predictions follow from it (eps = (x_t - alpha x_0_hat) / sigma,
v = alpha eps - sigma x_0_hat). The conditional oracle (condition = component
index k) is component k alone; the null condition (index K) gives the
mixture, so classifier-free guidance is exercised with exact conditional and
unconditional models. Each Sigma_k is stored by its eigendecomposition
U diag(lambda) U^T, so every inverse is a division.

Besides the oracle for the samplers (keras.ops, float32, runs inside the
compiled loop), this module holds the float64 numpy reference: the
probability-flow ODE integrated with classical RK4 in lambda = log(alpha /
sigma), where it reads dx/dlambda = alpha (x_0_hat(x) - alpha x) for every
variance-preserving schedule; and the statistics that compare samples with the
mixture (component weights, means, covariances).

Notation: `signal_rates`, `noise_rates` -> alpha_t, sigma_t; `eigenvalues`,
`eigenvectors` -> lambda_k, U_k; `responsibilities` -> r_k.

References:
    Karras, T. et al. 2022, NeurIPS, sec. 2 (the ideal denoiser of a finite
    data set, of which this is the Gaussian-mixture form).
    Lu, C. et al. 2022b, arXiv:2211.01095, eq. 5 (the ODE in lambda, data
    prediction form).

Example:
    >>> mixture = GaussianMixture.random(num_components=3, dim=8, seed=0)
    >>> predict = mixture.predictor(sampler)        # for sample_loop
    >>> reference = mixture.reference_flow(x_1, schedule, end_time=0.0)
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from keras import ops

from flarekit.diffusion.schedules import NoiseSchedule


class GaussianMixture:
    """A Gaussian mixture in `dim` dimensions, reshaped to `event_shape`.

    Args:
        weights: [K] component probabilities (summing to 1).
        means: [K, dim] component means.
        covariances: [K, dim, dim] symmetric positive-definite covariances.
        event_shape: shape of one sample, e.g. (dim,) or (4, 4, 2); its size
            must be `dim`.

    Raises:
        ValueError: inconsistent shapes, weights that are not a distribution,
            or a covariance that is not positive definite.
    """

    def __init__(self, weights, means, covariances, event_shape=None):
        weights = np.asarray(weights, "float64")
        means = np.asarray(means, "float64")
        covariances = np.asarray(covariances, "float64")
        num_components, dim = means.shape
        if weights.shape != (num_components,) or covariances.shape != (
            num_components,
            dim,
            dim,
        ):
            raise ValueError(
                "GaussianMixture needs weights [K], means [K, D] and covariances "
                f"[K, D, D]; got {weights.shape}, {means.shape}, {covariances.shape}."
            )
        if np.any(weights <= 0) or not math.isclose(weights.sum(), 1.0, abs_tol=1e-9):
            raise ValueError(
                f"GaussianMixture weights must be positive and sum to 1, got {weights}."
            )
        eigenvalues, eigenvectors = np.linalg.eigh(
            0.5 * (covariances + covariances.transpose(0, 2, 1))
        )
        if np.any(eigenvalues <= 0):
            raise ValueError(
                "GaussianMixture covariances must be positive definite; smallest "
                f"eigenvalue found {eigenvalues.min():.3g}."
            )
        self.event_shape = tuple(event_shape or (dim,))
        if int(np.prod(self.event_shape)) != dim:
            raise ValueError(
                f"event_shape {self.event_shape} has {int(np.prod(self.event_shape))} "
                f"values, the mixture has dim {dim}."
            )
        self.weights, self.means, self.covariances = weights, means, covariances
        self.eigenvalues, self.eigenvectors = eigenvalues, eigenvectors
        self.num_components, self.dim = num_components, dim

    # ---- construction ------------------------------------------------------
    @classmethod
    def random(
        cls,
        num_components: int = 3,
        dim: int = 8,
        seed: int = 0,
        separation: float = 6.0,
        event_shape=None,
    ) -> GaussianMixture:
        """Unequal weights, means exactly `separation` apart (scaled orthonormal
        vectors, so components overlap little and samples can be assigned to
        them), anisotropic full covariances with standard deviations between
        0.2 and 1 along random axes.

        Raises:
            ValueError: more components than dimensions.

        Example:
            >>> mixture = GaussianMixture.random(3, 16, seed=1)
        """
        if num_components > dim:
            raise ValueError(
                f"GaussianMixture.random needs num_components <= dim, got "
                f"{num_components} > {dim}."
            )
        rng = np.random.default_rng(seed)
        weights = rng.uniform(0.5, 1.5, num_components)
        directions, _ = np.linalg.qr(rng.normal(size=(dim, num_components)))
        means = separation / math.sqrt(2.0) * directions.T
        covariances = []
        for _ in range(num_components):
            rotation, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
            spread = rng.uniform(0.2, 1.0, dim)
            covariances.append(rotation @ np.diag(spread**2) @ rotation.T)
        return cls(weights / weights.sum(), means, np.stack(covariances), event_shape)

    @classmethod
    def image_shaped(
        cls,
        height: int = 4,
        width: int = 4,
        channels: int = 2,
        num_components: int = 3,
        seed: int = 0,
        length_scale: float = 1.5,
    ) -> GaussianMixture:
        """Image-like components: smooth mean images (a signed blob per
        component, like a bipole) and covariances that correlate nearby
        pixels (squared-exponential in position, length `length_scale`
        pixels) and the channels, plus a small per-pixel noise.

        Example:
            >>> mixture = GaussianMixture.image_shaped(4, 4, 2, seed=0)
        """
        rng = np.random.default_rng(seed)
        rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
        positions = np.stack([rows.ravel(), cols.ravel()], axis=1).astype("float64")
        squared = np.sum((positions[:, None] - positions[None]) ** 2, axis=-1)
        spatial = np.exp(-0.5 * squared / length_scale**2)
        means, covariances = [], []
        for _ in range(num_components):
            centre = rng.uniform(0, [height - 1, width - 1])
            blob = np.exp(-0.5 * np.sum((positions - centre) ** 2, axis=1) / 1.5**2)
            amplitudes = rng.choice([-1.0, 1.0], channels) * rng.uniform(
                1.5, 3.0, channels
            )
            means.append((blob[:, None] * amplitudes[None]).ravel())
            mixing = rng.normal(size=(channels, channels))
            channel_cov = mixing @ mixing.T / channels + 0.2 * np.eye(channels)
            covariance = np.kron(spatial, channel_cov) * rng.uniform(0.1, 0.4)
            covariances.append(covariance + 0.01 * np.eye(height * width * channels))
        weights = rng.uniform(0.5, 1.5, num_components)
        return cls(
            weights / weights.sum(),
            np.stack(means),
            np.stack(covariances),
            (height, width, channels),
        )

    # ---- sampling from the truth ----------------------------------------------
    def sample(self, num_samples: int, seed: int = 0, component=None):
        """Exact samples (float64) [n, *event_shape] and their components [n].

        Args:
            num_samples: n.
            seed: numpy seed.
            component: None for the mixture, or one component index.
        """
        rng = np.random.default_rng(seed)
        if component is None:
            components = rng.choice(self.num_components, num_samples, p=self.weights)
        else:
            components = np.full(num_samples, int(component))
        standard = rng.normal(size=(num_samples, self.dim))
        scales = np.sqrt(self.eigenvalues[components])
        values = self.means[components] + np.einsum(
            "nde,ne->nd", self.eigenvectors[components], scales * standard
        )
        return values.reshape((num_samples, *self.event_shape)), components

    def noisy_sample(self, num_samples, schedule: NoiseSchedule, time=1.0, seed=0):
        """Exact samples of x_t (float64): alpha_t x_0 + sigma_t eps."""
        images, _ = self.sample(num_samples, seed=seed)
        signal_rate, noise_rate = _rates64(schedule, time)
        noise = np.random.default_rng(seed + 10_000).normal(size=images.shape)
        return signal_rate * images + noise_rate * noise

    # ---- the ideal denoiser ----------------------------------------------------
    def _posterior_mean(self, xp, x, signal_rates, noise_rates, component_mask):
        """E[x_0 | x_t] for flat x [B, D]; `xp` is numpy or keras.ops.

        signal_rates, noise_rates: [B, 1]; component_mask: [B, K] of 0/1
        (the components a sample may come from: all for the mixture, one for a
        conditional oracle), or None.
        """
        dtype = "float64" if xp is np else "float32"

        def const(value):
            return xp.convert_to_tensor(value, dtype) if xp is not np else value

        means = const(self.means)  # [K, D]
        eigenvectors = const(self.eigenvectors)  # [K, D, E]
        eigenvalues = const(self.eigenvalues)  # [K, E]
        log_weights = const(np.log(self.weights))  # [K]
        alpha = signal_rates[:, :, None]  # [B, 1, 1]
        sigma = noise_rates[:, :, None]
        offsets = x[:, None, :] - alpha * means[None]  # [B, K, D]
        projected = xp.einsum("bkd,kde->bke", offsets, eigenvectors)
        variances = alpha**2 * eigenvalues[None] + sigma**2  # [B, K, E]
        log_likelihood = log_weights[None] - 0.5 * (
            xp.sum(xp.log(variances), axis=-1)
            + xp.sum(projected**2 / variances, axis=-1)
        )
        if component_mask is not None:
            log_likelihood = xp.where(component_mask > 0.5, log_likelihood, -1e30)
        log_likelihood = log_likelihood - xp.max(log_likelihood, axis=1, keepdims=True)
        likelihood = xp.exp(log_likelihood)
        responsibilities = likelihood / xp.sum(likelihood, axis=1, keepdims=True)
        shrunk = alpha * eigenvalues[None] / variances * projected  # [B, K, E]
        component_means = means[None] + xp.einsum("bke,kde->bkd", shrunk, eigenvectors)
        return xp.sum(responsibilities[:, :, None] * component_means, axis=1)

    def _mask(self, xp, condition, batch):
        if condition is None:
            return None
        # Rows 0..K-1 select one component; row K (the null condition) all.
        one_hot = np.concatenate(
            [np.eye(self.num_components), np.ones((1, self.num_components))]
        )
        if xp is np:
            return one_hot[np.asarray(condition, "int64")]
        return ops.take(
            ops.convert_to_tensor(one_hot, "float32"),
            ops.cast(condition, "int32"),
            axis=0,
        )

    def image_prediction(self, x_t, signal_rates, noise_rates, condition=None):
        """The oracle's x_0 estimate in keras.ops float32 (compiles in a loop).

        Args:
            x_t: [B, *event_shape].
            signal_rates, noise_rates: scalars or [B] rates at each sample's t.
            condition: None (mixture) or [B] int: component k, or K for the
                null condition (the mixture).
        """
        batch = ops.shape(x_t)[0]
        flat = ops.reshape(ops.cast(x_t, "float32"), (batch, self.dim))
        alpha = ops.reshape(
            ops.broadcast_to(ops.cast(signal_rates, "float32"), (batch,)), (batch, 1)
        )
        sigma = ops.reshape(
            ops.broadcast_to(ops.cast(noise_rates, "float32"), (batch,)), (batch, 1)
        )
        mean = self._posterior_mean(
            ops, flat, alpha, sigma, self._mask(ops, condition, batch)
        )
        return ops.reshape(mean, ops.shape(x_t))

    def predictor(self, sampler, error=None):
        """`predict(x_t, times, condition)` for `sample_loop`: the ideal network of
        `sampler.prediction_type` under `sampler.schedule`.

        Args:
            sampler: a `Sampler` (its schedule and prediction type are used).
            error: None for the exact oracle, or `error(images, x_t, times)
                -> images` applied to the x_0 estimate before conversion: an
                imperfect network (see `smooth_error`).
        """
        schedule, prediction_type = sampler.schedule, sampler.prediction_type

        def predict(x_t, times, condition):
            shape = (-1,) + (1,) * (len(x_t.shape) - 1)
            signal_rates, noise_rates = schedule(times)
            images = self.image_prediction(x_t, signal_rates, noise_rates, condition)
            if error is not None:
                images = error(images, x_t, times)
            signal_rates = ops.reshape(signal_rates, shape)
            noise_rates = ops.reshape(noise_rates, shape)
            if prediction_type == "image":
                return images
            noise = (x_t - signal_rates * images) / noise_rates
            if prediction_type == "noise":
                return noise
            return signal_rates * noise - noise_rates * images

        return predict

    # ---- the float64 reference flow -------------------------------------------
    def image_prediction64(self, x_t, signal_rates, noise_rates, condition=None):
        """`image_prediction` in float64 numpy (scalar rates)."""
        x_t = np.asarray(x_t, "float64")
        batch = x_t.shape[0]
        flat = x_t.reshape(batch, self.dim)
        alpha = np.full((batch, 1), float(signal_rates))
        sigma = np.full((batch, 1), float(noise_rates))
        mean = self._posterior_mean(
            np, flat, alpha, sigma, self._mask(np, condition, batch)
        )
        return mean.reshape(x_t.shape)

    def reference_flow(
        self,
        x_start,
        schedule: NoiseSchedule,
        start_time: float = 1.0,
        end_time: float = 0.0,
        num_steps: int = 400,
        condition=None,
    ):
        """The probability-flow ODE from `start_time` to `end_time` (float64 RK4,
        uniform in lambda), then the jump to the data that every sampler's last
        step makes: x_0 = E[x_0 | x_end].

        `end_time` 0 on a schedule whose noise rate vanishes at 0 (linear) stops
        at lambda(1e-6) (sigma about 1e-3) before the jump.

        Returns:
            float64 samples shaped like `x_start`.
        """
        start = _log_snr64(schedule, start_time)
        end = _log_snr64(schedule, end_time)
        if not np.isfinite(end):
            end = _log_snr64(schedule, 1e-6)
        x = np.asarray(x_start, "float64")

        def velocity(x, log_snr):
            alpha = math.sqrt(_sigmoid(2.0 * log_snr))
            sigma = math.sqrt(_sigmoid(-2.0 * log_snr))
            images = self.image_prediction64(x, alpha, sigma, condition)
            return alpha * (images - alpha * x)

        grid = np.linspace(start, end, int(num_steps) + 1)
        for low, high in itertools.pairwise(grid):
            h = high - low
            k1 = velocity(x, low)
            k2 = velocity(x + 0.5 * h * k1, low + 0.5 * h)
            k3 = velocity(x + 0.5 * h * k2, low + 0.5 * h)
            k4 = velocity(x + h * k3, high)
            x = x + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        return self.image_prediction64(
            x,
            math.sqrt(_sigmoid(2.0 * end)),
            math.sqrt(_sigmoid(-2.0 * end)),
            condition,
        )

    # ---- comparing samples with the truth --------------------------------------
    def assign(self, samples):
        """Most probable component of each sample under the true mixture [n]."""
        flat = np.asarray(samples, "float64").reshape(len(samples), self.dim)
        offsets = flat[:, None, :] - self.means[None]
        projected = np.einsum("bkd,kde->bke", offsets, self.eigenvectors)
        log_likelihood = np.log(self.weights)[None] - 0.5 * (
            np.sum(np.log(self.eigenvalues), axis=-1)[None]
            + np.sum(projected**2 / self.eigenvalues[None], axis=-1)
        )
        return np.argmax(log_likelihood, axis=1)

    def moment_errors(self, samples, components=None) -> dict:
        """How far the samples' mixture statistics are from the truth.

        Samples are assigned to their most probable true component; with
        well-separated components (as `random` and `image_shaped` make) almost
        none is assigned wrongly, and exact samples give the Monte Carlo floor.

        Args:
            samples: [n, *event_shape].
            components: the components to score (default all).

        Returns:
            dict: `weight_error` (max |w_hat - w|), `mean_error` (max over
            components of ||mu_hat - mu|| / sqrt(D)), `covariance_error` (max of
            ||Sigma_hat - Sigma||_F / ||Sigma||_F), `variance_ratio` (mean over
            components of trace(Sigma_hat) / trace(Sigma): below 1 = lost
            diversity), `detail_ratio` (the same over the half of each
            component's directions with the smallest variance), `scale_ratio` (RMS distance of the samples from the
            data mean over the truth's: below 1 = lost scale, like a lower
            mean |B|).
        """
        flat = np.asarray(samples, "float64").reshape(len(samples), self.dim)
        labels = self.assign(flat)
        components = range(self.num_components) if components is None else components
        weight_errors, mean_errors, covariance_errors = [], [], []
        variance_ratios, detail_ratios = [], []
        for k in components:
            chosen = flat[labels == k]
            weight_errors.append(abs(len(chosen) / len(flat) - self.weights[k]))
            if len(chosen) < 2:
                mean_errors.append(np.inf)
                covariance_errors.append(np.inf)
                variance_ratios.append(0.0)
                detail_ratios.append(0.0)
                continue
            mean_errors.append(
                np.linalg.norm(chosen.mean(axis=0) - self.means[k])
                / math.sqrt(self.dim)
            )
            covariance = np.cov(chosen, rowvar=False)
            truth = self.covariances[k]
            covariance_errors.append(
                np.linalg.norm(covariance - truth) / np.linalg.norm(truth)
            )
            variance_ratios.append(np.trace(covariance) / np.trace(truth))
            # The fine-scale half of the spectrum: small-variance directions
            # (texture, weak fields) are the first a too-early jump to the
            # data erases.
            fine = self.eigenvectors[k][:, : max(1, self.dim // 2)]
            detail_ratios.append(
                np.trace(fine.T @ covariance @ fine) / np.trace(fine.T @ truth @ fine)
            )
        data_mean = self.weights @ self.means
        second_moment = sum(
            w * (np.trace(c) + np.sum((m - data_mean) ** 2))
            for w, m, c in zip(self.weights, self.means, self.covariances)
        )
        scale = math.sqrt(
            np.mean(np.sum((flat - data_mean) ** 2, axis=1)) / second_moment
        )
        return {
            "weight_error": float(max(weight_errors)),
            "mean_error": float(max(mean_errors)),
            "covariance_error": float(max(covariance_errors)),
            "variance_ratio": float(np.mean(variance_ratios)),
            "detail_ratio": float(np.mean(detail_ratios)),
            "scale_ratio": float(scale),
        }


def path_error(samples, reference) -> float:
    """RMS per-coordinate distance between paired samples: an upper bound on the
    2-Wasserstein distance between their distributions (per sqrt(D))."""
    samples = np.asarray(samples, "float64").reshape(len(samples), -1)
    reference = np.asarray(reference, "float64").reshape(len(reference), -1)
    return float(np.sqrt(np.mean((samples - reference) ** 2)))


def convergence_order(num_steps, errors) -> float:
    """Least-squares slope of -log(error) against log(num_steps): the order."""
    slope = np.polyfit(np.log(np.asarray(num_steps, "float64")), np.log(errors), 1)[0]
    return float(-slope)


def smooth_error(mixture: GaussianMixture, size: float = 0.05, kind: str = "shrink"):
    """A small smooth error of an imperfect network's x_0 estimate.

    Args:
        mixture: the data (its mean is what an under-fitted network regresses to).
        size: relative size of the error.
        kind: "shrink": x_0_hat pulled towards the data mean by `size` (an
            over-smoothed, under-trained denoiser); "field": plus `size` times
            a fixed smooth random field tanh(x_t A) B of x_t.

    Returns:
        `error(images, x_t, times) -> images` for `GaussianMixture.predictor`.

    Raises:
        ValueError: an unknown kind.
    """
    data_mean = ops.convert_to_tensor(
        (mixture.weights @ mixture.means).reshape(mixture.event_shape), "float32"
    )
    if kind == "shrink":

        def error(images, x_t, times):
            return images - size * (images - data_mean)

        return error
    if kind == "field":
        rng = np.random.default_rng(1234)
        first = ops.convert_to_tensor(
            rng.normal(0, 1 / math.sqrt(mixture.dim), (mixture.dim, mixture.dim)),
            "float32",
        )
        second = ops.convert_to_tensor(
            rng.normal(0, 1 / math.sqrt(mixture.dim), (mixture.dim, mixture.dim)),
            "float32",
        )

        def error(images, x_t, times):
            batch = ops.shape(x_t)[0]
            flat = ops.reshape(x_t, (batch, mixture.dim))
            field = ops.matmul(ops.tanh(ops.matmul(flat, first)), second)
            return images + size * ops.reshape(field, ops.shape(images))

        return error
    raise ValueError(f"smooth_error kind must be 'shrink' or 'field', got {kind!r}.")


def _sigmoid(value: float) -> float:
    return 1.0 / (1.0 + math.exp(-value))


def _rates64(schedule: NoiseSchedule, time: float):
    signal_rate, noise_rate = schedule(np.float32(time))
    return float(ops.convert_to_numpy(signal_rate)), float(
        ops.convert_to_numpy(noise_rate)
    )


def _log_snr64(schedule: NoiseSchedule, time: float) -> float:
    """lambda(t) in float64 (infinite where the noise rate is 0)."""
    signal_rate, noise_rate = _rates64(schedule, time)
    if noise_rate <= 0.0:
        return math.inf
    return math.log(signal_rate) - math.log(noise_rate)
