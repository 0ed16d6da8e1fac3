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

from flarekit.diffusion.dpm_solver import DPMSolverMultistepSampler
from flarekit.diffusion.samplers import EtaSampler, register_sampler


@register_sampler
class DPMSolverSDESampler(EtaSampler, DPMSolverMultistepSampler):
    """DPM-Solver++(2M) SDE, stochastic for eta > 0; 20-50 steps.

    The step is `DPMSolverMultistepSampler.step`, which carries the eta terms
    of the notation above (at eta = 0 they vanish and it is the ODE solver);
    this class makes eta an option.

    Args:
        schedule, prediction_type, clip_image, spacing: as `Sampler`.
        eta: the share of the SDE's noise in [0, 1]; 1 (the default) is the
            reverse SDE.

    Raises:
        ValueError: eta outside [0, 1].

    Example:
        >>> sampler = DPMSolverSDESampler("cosine", prediction_type="velocity")
        >>> state = sampler.initial_state(x)
        >>> x, state = sampler.step(v_hat, 1.0, 0.95, x, state, noise)
    """

    name = "dpmpp_sde"
    default_eta = 1.0
