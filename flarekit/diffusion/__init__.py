"""Diffusion maths: noise schedules, samplers, guidance and the sampling loop.

Pure math over `keras.ops`: nothing here imports a network, a dataset or
TensorFlow, so the same code runs on every Keras backend and is tested on
tiny hand-worked cases.

Example:
    >>> from flarekit import diffusion
    >>> sampler = diffusion.get_sampler("dpmpp", diffusion.CosineSchedule(), "velocity")
    >>> images = diffusion.sample_loop(predict, sampler, noise, sampler.timesteps(20))

Samplers register themselves when their modules are imported, and every
module of this package is imported here: a new sampler is one more file in
this folder with a `Sampler` subclass decorated `@register_sampler`.
"""

import importlib as _importlib
import pkgutil as _pkgutil

from flarekit.diffusion.ddim import DDIMSampler
from flarekit.diffusion.ddpm import DDPMSampler
from flarekit.diffusion.dpm_solver import DPMSolverMultistepSampler
from flarekit.diffusion.dpm_solver_sde import DPMSolverSDESampler
from flarekit.diffusion.guidance import classifier_free_guidance, guide
from flarekit.diffusion.loop import sample_loop
from flarekit.diffusion.samplers import (
    PREDICTION_TYPES,
    Sampler,
    get_sampler,
    register_sampler,
    sampler_names,
    sampler_options,
)
from flarekit.diffusion.schedules import (
    CosineSchedule,
    LinearSchedule,
    NoiseSchedule,
    get_schedule,
    schedule_config,
    schedule_from_config,
)
from flarekit.diffusion.spacings import spacing_names

__all__ = [
    "PREDICTION_TYPES",
    "CosineSchedule",
    "DDIMSampler",
    "DDPMSampler",
    "DPMSolverMultistepSampler",
    "DPMSolverSDESampler",
    "LinearSchedule",
    "NoiseSchedule",
    "Sampler",
    "classifier_free_guidance",
    "get_sampler",
    "get_schedule",
    "guide",
    "register_sampler",
    "sample_loop",
    "sampler_names",
    "sampler_options",
    "schedule_config",
    "schedule_from_config",
    "spacing_names",
]

# Import every module of the package, so that a sampler added as one file
# registers itself without an import line here.
for _module in _pkgutil.iter_modules(__path__):
    _importlib.import_module(f"{__name__}.{_module.name}")
