"""DDPM ancestral sampling: draw x_s from the posterior q(x_s | x_t, x_0 = x_0_hat).

Notation (variable -> symbol of Ho et al. 2020 / Kingma et al. 2021):
    t, t_next              -> t, s (s < t)
    signal_rates, noise_rates at t -> alpha_t, sigma_t (alpha_t = sqrt(alpha_bar_t))
    transition_signal      -> alpha_{t|s} = alpha_t / alpha_s
    transition_variance    -> sigma_{t|s}^2 = sigma_t^2 - alpha_{t|s}^2 sigma_s^2
                              (= beta_t for one DDPM step)
    images                 -> x_0_hat, the network's estimate of the data
    posterior mean         -> mu_tilde = alpha_{t|s} sigma_s^2 / sigma_t^2 x_t
                                         + alpha_s sigma_{t|s}^2 / sigma_t^2 x_0_hat
    posterior_variance     -> sigma_{t|s}^2 sigma_s^2 / sigma_t^2 (= beta_tilde_t)

With 1000 uniform steps of the linear schedule this is DDPM's sampler with
the beta_tilde variance; it equals DDIM with eta = 1 (tested).

References:
    Ho, J., Jain, A. & Abbeel, P. 2020, "Denoising Diffusion Probabilistic
    Models", NeurIPS, eqs. 6-7 and Algorithm 2.
    Kingma, D. et al. 2021, "Variational Diffusion Models", NeurIPS, eq. 26
    (the same posterior for any pair of times s < t).
"""

from __future__ import annotations

from keras import ops

from flarekit.diffusion.samplers import Sampler, _needs_noise, register_sampler


@register_sampler
class DDPMSampler(Sampler):
    """Ancestral (stochastic) sampling; meant for many small steps (e.g. 1000).

    Example:
        >>> sampler = DDPMSampler("linear", prediction_type="noise")
        >>> x_next, state = sampler.step(eps_hat, 1.0, 0.999, x, (), noise)
    """

    name = "ddpm"
    stochastic = True

    def step(self, prediction, t, t_next, x_t, state=(), noise=None):
        noise = _needs_noise(self, noise)
        signal_rates, noise_rates = self.rates(t)
        next_signal_rates, next_noise_rates = self.rates(t_next)
        images, _ = self.image_and_noise(prediction, x_t, signal_rates, noise_rates)
        transition_signal = signal_rates / next_signal_rates
        transition_variance = ops.maximum(
            noise_rates**2 - transition_signal**2 * next_noise_rates**2, 0.0
        )
        variance_ratio = next_noise_rates**2 / noise_rates**2
        posterior_mean = (
            transition_signal * variance_ratio * x_t
            + next_signal_rates * transition_variance / noise_rates**2 * images
        )
        posterior_variance = transition_variance * variance_ratio
        return posterior_mean + ops.sqrt(posterior_variance) * noise, state
