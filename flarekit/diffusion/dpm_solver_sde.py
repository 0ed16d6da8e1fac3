"""DPM-Solver++(2M) SDE: the second-order multistep solver of the diffusion SDE
in its data-prediction form; fresh noise at every step corrects part of a
network's error instead of carrying it along, as the ODE does.

Notation (variable -> symbol of Lu et al. 2022b, sec. 5 and appendix, in the
variance-preserving form of k-diffusion's `sample_dpmpp_2m_sde`, midpoint):
    t, t_next                 -> t_{i-1}, t_i
    signal_rates, noise_rates -> alpha_t, sigma_t
    exp_neg_step              -> exp(-h_i), h_i = lambda_{t_i} - lambda_{t_{i-1}}
    eta                       -> eta (0: the ODE solver `dpmpp`; 1: the SDE)
    images                    -> x_theta at t_{i-1}; previous_images at t_{i-2}
    data_weight               -> alpha_{t_i} (1 - exp(-(1 + eta) h_i))
    x_next                    -> sigma_{t_i} / sigma_{t_{i-1}} exp(-eta h_i) x_{t_{i-1}}
                                 + data_weight (x_theta + (x_theta - x_theta_prev) / (2 r_i))
                                 + sigma_{t_i} sqrt(1 - exp(-2 eta h_i)) z

With eta = 1 the first-order step (the first one, and the last, to the data)
is exactly DDPM's posterior step (tested); with eta = 0 every step is
DPM-Solver++(2M)'s.

References:
    Lu, C. et al. 2022b, "DPM-Solver++: Fast Solver for Guided Sampling of
    Diffusion Probabilistic Models", arXiv:2211.01095, eq. 9 and appendix.
    Crowson, K., k-diffusion, `sample_dpmpp_2m_sde` (the multistep SDE form).
"""

from __future__ import annotations

from keras import ops

from flarekit.diffusion.samplers import Sampler, _needs_noise, register_sampler

# Floor for noise rates inside log(): only reached at the final step, where
# the second-order branch is not used; it keeps that unused branch finite.
_TINY = 1e-12


@register_sampler
class DPMSolverSDESampler(Sampler):
    """DPM-Solver++(2M) SDE, stochastic for eta > 0; 20-50 steps.

    Args:
        schedule, prediction_type, clip_image, spacing: as `Sampler`.
        eta: the share of the SDE's noise in [0, 1]; 1 is the reverse SDE.

    Raises:
        ValueError: eta outside [0, 1].

    Example:
        >>> sampler = DPMSolverSDESampler("cosine", prediction_type="velocity")
        >>> state = sampler.initial_state(x)
        >>> x, state = sampler.step(v_hat, 1.0, 0.95, x, state, noise)
    """

    name = "dpmpp_sde"
    default_spacing = "log_snr"

    def __init__(
        self,
        schedule="cosine",
        prediction_type: str = "noise",
        clip_image: float | None = None,
        spacing: str | None = None,
        eta: float = 1.0,
    ):
        super().__init__(schedule, prediction_type, clip_image, spacing)
        if not 0.0 <= eta <= 1.0:
            raise ValueError(f"DPM-Solver++ SDE eta must be in [0, 1], got {eta!r}.")
        self.eta = float(eta)
        self.stochastic = self.eta > 0.0

    def initial_state(self, x):
        return (ops.zeros_like(x), ops.zeros((), "float32"), ops.zeros((), "float32"))

    def step(self, prediction, t, t_next, x_t, state=(), noise=None):
        if not state:
            state = self.initial_state(x_t)
        if self.stochastic:
            noise = _needs_noise(self, noise)
        previous_images, previous_log_snr, has_previous = state
        signal_rates, noise_rates = self.rates(t)
        next_signal_rates, next_noise_rates = self.rates(t_next)
        images, _ = self.image_and_noise(prediction, x_t, signal_rates, noise_rates)

        # exp(-h) as a ratio of rates: exactly 0 at the data, so the last step
        # returns the image estimate.
        exp_neg_step = (next_noise_rates * signal_rates) / (
            next_signal_rates * noise_rates
        )
        exp_neg_eta_step = exp_neg_step**self.eta if self.eta > 0.0 else 1.0
        data_weight = next_signal_rates * (1.0 - exp_neg_step * exp_neg_eta_step)

        log_snr = ops.log(signal_rates) - ops.log(noise_rates)
        next_log_snr = ops.log(next_signal_rates) - ops.log(
            ops.maximum(next_noise_rates, _TINY)
        )
        ratio = (log_snr - previous_log_snr) / (next_log_snr - log_snr)
        use_second_order = ops.logical_and(has_previous > 0.5, next_noise_rates > 0.0)
        safe_ratio = ops.where(use_second_order, ratio, ops.ones_like(ratio))
        corrected = images + (images - previous_images) / (2.0 * safe_ratio)
        data_term = ops.where(use_second_order, corrected, images)

        x_next = (
            next_noise_rates / noise_rates * exp_neg_eta_step * x_t
            + data_weight * data_term
        )
        if self.stochastic:
            noise_scale = next_noise_rates * ops.sqrt(
                ops.maximum(1.0 - exp_neg_eta_step**2, 0.0)
            )
            x_next = x_next + noise_scale * noise
        new_state = (images, ops.cast(log_snr, "float32"), ops.ones((), "float32"))
        return x_next, new_state

    def get_config(self) -> dict:
        return {**super().get_config(), "eta": self.eta}
