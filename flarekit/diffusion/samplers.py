"""The interface every sampler shares, and the registry of samplers by name.

Adding a sampler is one file: a `Sampler` subclass with a `name`, decorated
with `register_sampler` (see `ddim.py`); `get_sampler`, `sampler_names`, the
command line and `DiffusionModel.generate` read the registry. This module
imports no sampler, so sampler files import it without a circle; the package
`flarekit.diffusion` imports the built-in ones, which registers them.

A sampler turns a network's prediction at diffusion time t into the noisy
image at an earlier time t_next. Samplers are swapped by name (as diffusers'
schedulers are): each has

    timesteps(num_steps)            -> the times 1 = t_0 > t_1 > ... > t_N = 0,
                                       laid out by the sampler's `spacing`
    add_noise(images, noise, t)     -> x_t, for training
    training_target(images, noise, t) -> what the network learns to predict
    initial_state(x)                -> the tensors a multistep sampler carries
    step(prediction, t, t_next, x_t, state, noise) -> (x_{t_next}, state)

`step` is a pure function of its arguments (random noise for stochastic
samplers is passed in), so it compiles inside a loop and is tested against
its closed form. t_next = 0 means the data itself: the last step returns the
image estimate, with signal rate 1 and noise rate 0 whatever the schedule's
value at t = 0 (diffusers' `set_alpha_to_one`).

Prediction types (what the network outputs), with x_t = alpha x_0 + sigma eps:
    "noise"    -> eps                  (Ho et al. 2020)
    "image"    -> x_0
    "velocity" -> v = alpha eps - sigma x_0   (Salimans & Ho 2022; needs
                  alpha**2 + sigma**2 = 1, true of every schedule here)

Example:
    >>> sampler = get_sampler("dpmpp", CosineSchedule(), prediction_type="velocity")
    >>> times = sampler.timesteps(20)
"""

from __future__ import annotations

import inspect

import numpy as np
from keras import ops

from flarekit.diffusion import spacings
from flarekit.diffusion.schedules import NoiseSchedule, get_schedule
from flarekit.registry import register_named_class

PREDICTION_TYPES = ("noise", "image", "velocity")

_SAMPLERS = {}


def _broadcast_times(diffusion_times, ndim: int):
    """Times as float32: a scalar stays one, [batch] becomes [batch, 1, ..., 1]."""
    times = ops.cast(ops.convert_to_tensor(diffusion_times), "float32")
    if len(times.shape) == 1:
        times = ops.reshape(times, (-1,) + (1,) * (ndim - 1))
    return times


class Sampler:
    """Base class of all samplers (see the module docstring for the interface).

    Args:
        schedule: a `NoiseSchedule` or its name.
        prediction_type: "noise", "image" or "velocity".
        clip_image: if set, image estimates are clipped to [-clip_image,
            clip_image] before each step (data normalised to unit scale lies
            well inside +-5); None leaves them as predicted.
        spacing: the timestep grid `timesteps` returns: "uniform" (in t),
            "log_snr" or "karras" (`flarekit.diffusion.spacings`); None for
            the sampler's `default_spacing`.

    Raises:
        ValueError: an unknown prediction type or spacing, or a non-positive
            clip.
    """

    name = "base"
    # True when `step` uses its `noise` argument (the loop then draws noise).
    stochastic = False
    # The timestep grid when none is asked for (see flarekit.diffusion.spacings).
    default_spacing = "uniform"

    def __init__(
        self,
        schedule="cosine",
        prediction_type: str = "noise",
        clip_image: float | None = None,
        spacing: str | None = None,
    ):
        if prediction_type not in PREDICTION_TYPES:
            raise ValueError(
                f"prediction_type must be one of {PREDICTION_TYPES}, got "
                f"{prediction_type!r}."
            )
        if clip_image is not None and clip_image <= 0:
            raise ValueError(f"clip_image must be > 0 or None, got {clip_image!r}.")
        self.schedule: NoiseSchedule = get_schedule(schedule)
        self.prediction_type = prediction_type
        self.clip_image = None if clip_image is None else float(clip_image)
        self.spacing = spacings.check_spacing(spacing or self.default_spacing)

    # ---- time grid ---------------------------------------------------------
    def timesteps(self, num_steps: int) -> np.ndarray:
        """`num_steps + 1` times from 1 down to 0 (float32), by `self.spacing`.

        Raises:
            ValueError: num_steps < 1.
        """
        return spacings.timesteps(self.schedule, num_steps, self.spacing)

    # ---- rates and conversions ---------------------------------------------
    def rates(self, diffusion_times, ndim: int = 4):
        """(alpha, sigma) at `diffusion_times`, shaped to broadcast over images.

        A scalar time gives scalar rates; times of shape [batch] give rates of
        shape [batch, 1, ..., 1] (`ndim` axes). Time 0 gives (1, 0): the data.
        """
        times = _broadcast_times(diffusion_times, ndim)
        signal_rates, noise_rates = self.schedule(times)
        is_data = times <= 0.0
        signal_rates = ops.where(is_data, ops.ones_like(signal_rates), signal_rates)
        noise_rates = ops.where(is_data, ops.zeros_like(noise_rates), noise_rates)
        return signal_rates, noise_rates

    def add_noise(self, images, noise, diffusion_times):
        """x_t = alpha_t x_0 + sigma_t eps (the schedule's rates, no t = 0 override)."""
        times = _broadcast_times(diffusion_times, len(images.shape))
        signal_rates, noise_rates = self.schedule(times)
        return signal_rates * images + noise_rates * noise

    def training_target(self, images, noise, diffusion_times):
        """What a network of this prediction type learns to output at x_t."""
        if self.prediction_type == "noise":
            return noise
        if self.prediction_type == "image":
            return images
        times = _broadcast_times(diffusion_times, len(images.shape))
        signal_rates, noise_rates = self.schedule(times)
        return signal_rates * noise - noise_rates * images

    def image_and_noise(self, prediction, x_t, signal_rates, noise_rates):
        """(x_0 estimate, eps estimate) from a prediction of this sampler's type."""
        if self.prediction_type == "noise":
            noise = prediction
            images = (x_t - noise_rates * noise) / signal_rates
        elif self.prediction_type == "image":
            images = prediction
            noise = (x_t - signal_rates * images) / noise_rates
        else:
            images = signal_rates * x_t - noise_rates * prediction
            noise = noise_rates * x_t + signal_rates * prediction
        if self.clip_image is not None:
            images = ops.clip(images, -self.clip_image, self.clip_image)
            # Keep the pair consistent with x_t after clipping.
            noise = (x_t - signal_rates * images) / noise_rates
        return images, noise

    # ---- stepping ----------------------------------------------------------
    def initial_state(self, x):
        """The tensors carried from step to step (none for one-step samplers)."""
        return ()

    def step(self, prediction, t, t_next, x_t, state=(), noise=None):
        """x at t_next from x_t and the network's prediction at t.

        Args:
            prediction: the network output at (x_t, t), of `prediction_type`.
            t: current diffusion time (scalar).
            t_next: the next, smaller time (0 = the data).
            x_t: the current noisy images [batch, height, width, channels].
            state: what the previous step returned (`initial_state` at first).
            noise: standard normal noise shaped like x_t (stochastic samplers).

        Returns:
            (x_{t_next}, new state).
        """
        raise NotImplementedError

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "prediction_type": self.prediction_type,
            "clip_image": self.clip_image,
            "spacing": self.spacing,
        }

    def __repr__(self) -> str:
        arguments = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({arguments}, schedule={self.schedule!r})"


class EtaSampler(Sampler):
    """Base class of the samplers with a share `eta` of fresh noise per step.

    `eta` = 0 makes the sampler deterministic (an ODE solver); `eta` = 1 is
    the reverse SDE's full noise. `stochastic` follows from it, so the
    sampling loop draws noise only when a step uses it.

    Args:
        schedule, prediction_type, clip_image, spacing: as `Sampler`.
        eta: the share of fresh noise, in [0, 1]; None for the sampler's
            `default_eta`. Keyword only.

    Raises:
        ValueError: eta outside [0, 1], or as `Sampler`.
    """

    # The sampler's eta when none is given.
    default_eta = 0.0

    def __init__(self, *args, eta: float | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        eta = self.default_eta if eta is None else eta
        if not 0.0 <= eta <= 1.0:
            raise ValueError(
                f"{type(self).__name__} eta must be in [0, 1], got {eta!r}."
            )
        self.eta = float(eta)
        self.stochastic = self.eta > 0.0

    def get_config(self) -> dict:
        return {**super().get_config(), "eta": self.eta}


def _needs_noise(sampler: Sampler, noise):
    if noise is None:
        raise ValueError(
            f"{type(sampler).__name__}.step is stochastic and needs `noise` "
            "(standard normal, shaped like x_t); got None."
        )
    return noise


def register_sampler(cls):
    """Class decorator: register a `Sampler` subclass under its `name`.

    Raises:
        TypeError: not a `Sampler` subclass.
        ValueError: a name already taken by another class.

    Example:
        >>> @register_sampler
        ... class EulerSampler(Sampler):
        ...     name = "euler"
        ...     def step(self, prediction, t, t_next, x_t, state=(), noise=None):
        ...         ...
    """
    # Re-registering the same class (a module imported twice) replaces it.
    return register_named_class(_SAMPLERS, cls, Sampler, "Sampler")


def sampler_names() -> tuple:
    """The registered sampler names, sorted (e.g. for command-line choices)."""
    return tuple(sorted(_SAMPLERS))


def sampler_options(name: str) -> tuple:
    """The keyword arguments sampler `name` takes beyond the `Sampler` ones."""
    cls = _sampler_class(name)
    shared = set(inspect.signature(Sampler.__init__).parameters)
    return tuple(
        parameter
        for parameter in inspect.signature(cls.__init__).parameters
        if parameter not in shared and parameter not in ("args", "kwargs")
    )


def _sampler_class(name: str):
    if name not in _SAMPLERS:
        raise ValueError(f"Unknown sampler {name!r}; known: {list(sampler_names())}.")
    return _SAMPLERS[name]


def get_sampler(
    name: str, schedule="cosine", prediction_type: str = "noise", **kwargs
) -> Sampler:
    """A registered sampler by name, e.g. "ddpm", "ddim" (option `eta`), "dpmpp",
    "dpmpp_sde" (option `eta`).

    Args:
        name: a registered name (`sampler_names()`).
        schedule: a `NoiseSchedule` or its name.
        prediction_type: "noise", "image" or "velocity".
        **kwargs: `clip_image`, `spacing`, and the sampler's own options.

    Raises:
        ValueError: an unknown name (listing the known ones), or an option the
            sampler does not take (listing the ones it does).

    Example:
        >>> sampler = get_sampler("ddim", "cosine", "velocity", eta=0.0,
        ...                       spacing="log_snr")
    """
    cls = _sampler_class(name)
    allowed = {"clip_image", "spacing", *sampler_options(name)}
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise ValueError(
            f"Sampler {name!r} takes no option(s) {unknown}; it takes "
            f"{sorted(allowed)}."
        )
    return cls(schedule, prediction_type=prediction_type, **kwargs)
