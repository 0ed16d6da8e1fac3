"""The sampling loop: from pure noise at t = 1 to images at t = 0.

One loop for every sampler: at each of the `num_steps` steps it calls the
network (through guidance when asked), draws noise if the sampler is
stochastic, and calls the sampler's pure `step`. The loop is a
`keras.ops.fori_loop`, so wrapping `sample_loop` once in `tf.function` (or
`jax.jit`) compiles it into one graph whatever the number of steps:
`timesteps` is a tensor argument, not a Python constant.

Stochastic samplers' noise is stateless: step i draws with the seed pair
(noise_seed[0], noise_seed[1] + i + 1), so the compiled loop reads and writes
no random-state variable per step (a variable in the loop costs a few
milliseconds per call on TensorFlow, and JAX cannot update one inside `jit`),
the same seed gives the same images on every backend, and no step reuses the
pair (seed, 0) that draws the initial noise.
"""

from __future__ import annotations

import keras
from keras import ops

from flarekit.diffusion.guidance import classifier_free_guidance
from flarekit.diffusion.samplers import Sampler


def sample_loop(
    predict,
    sampler: Sampler,
    initial_noise,
    timesteps,
    condition=None,
    null_condition=None,
    guidance_scale=None,
    seed_generator=None,
    noise_seed=None,
):
    """Run `sampler` from `initial_noise` along `timesteps`.

    Args:
        predict: `predict(images, diffusion_times, condition) -> prediction`.
        sampler: a `Sampler`.
        initial_noise: x at t = 1, [batch, height, width, channels].
        timesteps: float32 tensor [num_steps + 1], from 1 down to 0 (e.g.
            `sampler.timesteps(20)`).
        condition: [batch] conditions, or None for an unconditional network.
        null_condition: [batch] null conditions; required with guidance.
        guidance_scale: None (or a Python 1.0) for one network call per step;
            otherwise a scalar (tensor or float) and two calls' worth on a
            doubled batch.
        seed_generator: a `keras.random.SeedGenerator`; stochastic samplers
            draw their base seed pair from it once per call (when
            `noise_seed` is None).
        noise_seed: int [2] tensor, the base seed pair of the per-step noise
            (e.g. `[seed, 0]`); takes precedence over `seed_generator` and
            keeps the compiled loop free of random-state variables.

    Returns:
        The images at t = 0 (the sampler's final image estimate).

    Raises:
        ValueError: guidance without a null condition, or a stochastic sampler
            with neither a seed generator nor a noise seed.
    """
    guided = guidance_scale is not None and not (
        isinstance(guidance_scale, (int, float)) and guidance_scale == 1.0
    )
    if guided and (condition is None or null_condition is None):
        raise ValueError("Guidance needs both `condition` and `null_condition`.")
    if sampler.stochastic and seed_generator is None and noise_seed is None:
        raise ValueError(
            f"{type(sampler).__name__} is stochastic: pass a "
            "keras.random.SeedGenerator or a noise_seed."
        )
    if sampler.stochastic:
        if noise_seed is None:
            noise_seed = seed_generator.next()
        noise_seed = ops.cast(noise_seed, "int32")
    timesteps = ops.cast(ops.convert_to_tensor(timesteps), "float32")
    num_steps = ops.shape(timesteps)[0] - 1
    batch = ops.shape(initial_noise)[0]

    def body(index, carry):
        x_t, state = carry
        t = ops.take(timesteps, index)
        t_next = ops.take(timesteps, index + 1)
        times = ops.broadcast_to(t, (batch,))
        if guided:
            prediction = classifier_free_guidance(
                predict, x_t, times, condition, null_condition, guidance_scale
            )
        else:
            prediction = predict(x_t, times, condition)
        noise = None
        if sampler.stochastic:
            step_offset = ops.cast(index, "int32") + 1
            pair = noise_seed + ops.stack([ops.zeros_like(step_offset), step_offset])
            noise = _stateless_normal(ops.shape(x_t), pair)
        return sampler.step(prediction, t, t_next, x_t, state, noise)

    initial = (initial_noise, sampler.initial_state(initial_noise))
    images, _ = ops.fori_loop(0, num_steps, body, initial)
    return images


def _stateless_normal(shape, seed_pair):
    """Standard normal noise from the seed pair alone: a pure function.

    keras.random draws from an int or a SeedGenerator only; a StatelessScope
    that maps the generator's state to `seed_pair` makes the draw depend on
    the pair alone, and discards the generator's update.
    """
    state = _NOISE_GENERATOR.state
    with keras.StatelessScope(
        state_mapping=[(state, ops.cast(seed_pair, state.dtype))]
    ):
        return keras.random.normal(shape, seed=_NOISE_GENERATOR)


# Made at import, outside any compiled function (tf.function may not create
# variables on later traces); its own state is never read or written.
_NOISE_GENERATOR = keras.random.SeedGenerator(0, name="sampling_noise")
