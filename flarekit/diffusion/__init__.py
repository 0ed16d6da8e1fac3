"""Diffusion maths: noise schedules, samplers, guidance and the sampling loop.

Pure math over `keras.ops`: nothing here imports a network, a dataset or
TensorFlow, so the same code runs on every Keras backend and is tested on
tiny hand-worked cases.

Example:
    >>> from flarekit import diffusion
    >>> sampler = diffusion.get_sampler("dpmpp", diffusion.CosineSchedule(), "velocity")
    >>> images = diffusion.sample_loop(predict, sampler, noise, sampler.timesteps(20))
"""

from flarekit.diffusion.ddim import DDIMSampler
from flarekit.diffusion.ddpm import DDPMSampler
from flarekit.diffusion.dpm_solver import DPMSolverMultistepSampler
from flarekit.diffusion.guidance import classifier_free_guidance, guide
from flarekit.diffusion.loop import sample_loop
from flarekit.diffusion.samplers import (
    PREDICTION_TYPES,
    SAMPLER_NAMES,
    Sampler,
    get_sampler,
)
from flarekit.diffusion.schedules import (
    CosineSchedule,
    LinearSchedule,
    NoiseSchedule,
    get_schedule,
    schedule_config,
    schedule_from_config,
)

__all__ = [
    "PREDICTION_TYPES",
    "SAMPLER_NAMES",
    "CosineSchedule",
    "DDIMSampler",
    "DDPMSampler",
    "DPMSolverMultistepSampler",
    "LinearSchedule",
    "NoiseSchedule",
    "Sampler",
    "classifier_free_guidance",
    "get_sampler",
    "get_schedule",
    "guide",
    "sample_loop",
    "schedule_config",
    "schedule_from_config",
]
