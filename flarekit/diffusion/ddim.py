"""DDIM: a non-Markovian update with the same marginals, deterministic at eta = 0.

Notation (variable -> symbol of Song, Meng & Ermon 2021, eq. 12, written with
alpha_t = sqrt(alpha_bar_t), sigma_t = sqrt(1 - alpha_bar_t)):
    t, t_next              -> t, t-1 (any earlier time s)
    signal_rates, noise_rates at t -> sqrt(alpha_t), sqrt(1 - alpha_t) of the paper
    images, noises         -> f_theta(x_t) = x_0_hat, eps_theta(x_t)
    eta                    -> eta
    stochastic_scale       -> sigma_t(eta) = eta sqrt(sigma_s^2 / sigma_t^2)
                                            sqrt(1 - alpha_t^2 / alpha_s^2)
    x_next                 -> alpha_s x_0_hat + sqrt(sigma_s^2 - sigma_t(eta)^2) eps_hat
                              + sigma_t(eta) z

eta = 0 is the deterministic DDIM (an ODE solver of first order); eta = 1 is
DDPM's ancestral sampler.

References:
    Song, J., Meng, C. & Ermon, S. 2021, "Denoising Diffusion Implicit
    Models", ICLR, eqs. 12 and 16.
"""

from __future__ import annotations

from keras import ops

from flarekit.diffusion.samplers import EtaSampler, _needs_noise, register_sampler


@register_sampler
class DDIMSampler(EtaSampler):
    """DDIM with stochasticity `eta` in [0, 1].

    Args:
        schedule, prediction_type, clip_image, spacing: as `Sampler`.
        eta: 0 (the default) for deterministic sampling; 1 reproduces DDPM.

    Raises:
        ValueError: eta outside [0, 1].

    Example:
        >>> sampler = DDIMSampler("cosine", prediction_type="velocity", eta=0.0)
        >>> x_next, _ = sampler.step(v_hat, 0.5, 0.45, x)
    """

    name = "ddim"

    # Deterministic by default: the ODE solver of first order.
    default_eta = 0.0

    def step(self, prediction, t, t_next, x_t, state=(), noise=None):
        signal_rates, noise_rates = self.rates(t)
        next_signal_rates, next_noise_rates = self.rates(t_next)
        images, noises = self.image_and_noise(
            prediction, x_t, signal_rates, noise_rates
        )
        x_next = next_signal_rates * images
        if self.eta == 0.0:
            return x_next + next_noise_rates * noises, state
        noise = _needs_noise(self, noise)
        transition_signal = signal_rates / next_signal_rates
        stochastic_scale = self.eta * ops.sqrt(
            ops.maximum(
                next_noise_rates**2 / noise_rates**2 * (1.0 - transition_signal**2),
                0.0,
            )
        )
        direction = ops.sqrt(
            ops.maximum(next_noise_rates**2 - stochastic_scale**2, 0.0)
        )
        return x_next + direction * noises + stochastic_scale * noise, state
