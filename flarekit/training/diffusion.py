"""`DiffusionModel`: a class-conditional denoising diffusion model with
classifier-free guidance and an EMA network that samples.

The shape of the keras-io DDIM example: the network is a plain functional
model (`flarekit.models.build_unet`), injected; this class owns the
algorithm. `train_step` normalises the images with the injected
preprocessing layers, draws diffusion times and noise, drops the condition
with probability `p_uncond` (the null condition teaches the network the
unconditional model that guidance needs), and regresses the network's output
on the noise, the clean image or the velocity. After every step the EMA
network moves towards the trained one; the EMA network is the one that
samples, because its images are smoother and less dependent on the last few
batches (Ho et al. 2020 sample from EMA weights too).

Sampling (`generate`) runs `flarekit.diffusion.sample_loop` compiled once
per sampler configuration (`tf.function` on the TensorFlow backend,
`jax.jit` on JAX), with the timesteps and the noise seed as tensor
arguments, so changing the number of steps, the spacing or the seed does not
recompile. Samplers are looked up by name in `flarekit.diffusion`'s
registry: a newly registered sampler is usable here without any edit.

`train_step` uses `tf.GradientTape`, as the keras-io example does: training
runs on the TensorFlow backend. Everything else (network, schedules,
samplers, guidance, normalisation) is keras.ops.

References:
    Ho, J., Jain, A. & Abbeel, P. 2020, NeurIPS (DDPM).
    Ho, J. & Salimans, T. 2022, arXiv:2207.12598 (classifier-free guidance).
    Salimans, T. & Ho, J. 2022, ICLR (velocity prediction).
    keras-io examples/generative/ddim.py (A. Beres, 2022).

Example:
    >>> network = build_unet((32, 32, 2), widths=(16, 32, 64))
    >>> model = DiffusionModel(network, input_shape=(32, 32, 2),
    ...     preprocessing=generation_preprocessing(("magnetogram", "euv_94"), 2))
    >>> model.adapt_normalization(batches_of_training_images)
    >>> model.compile(optimizer=keras.optimizers.AdamW(2e-4))
    >>> model.fit(train_dataset, epochs=10)
    >>> images = model.generate(goes_classes, sampler="dpmpp", num_steps=20)
"""

from __future__ import annotations

import time

import keras
import numpy as np
from keras import ops

from flarekit import diffusion
from flarekit.layers.generative import invert_preprocessing
from flarekit.layers.preprocessing import ChannelNormalization
from flarekit.models.unet import CONDITION_KINDS


@keras.saving.register_keras_serializable(package="flarekit")
class DiffusionModel(keras.Model):
    """Conditional diffusion model: train_step, EMA network, guided sampling.

    Args:
        network: `network([noisy_images, diffusion_times, condition]) ->
            prediction`, e.g. `build_unet(...)`; its image shape is the shape
            the model generates.
        input_shape: shape of the raw images the preprocessing receives
            (physical units), e.g. (64, 64, 2); the network's shape when None.
        preprocessing: layers mapping raw images to the network's unit-scale
            images, in order (e.g. `preprocessing_for(channels)`, with a
            pooling layer to bin). Only `LogScaling` and `ChannelNormalization`
            are inverted for output.
        schedule: a `NoiseSchedule` or its name ("cosine", "linear").
        prediction_type: what the network predicts: "noise", "image" or
            "velocity".
        p_uncond: probability of replacing the condition by the null
            condition in a training example.
        ema_decay: decay of the exponential moving average of the weights.
        condition: "goes_class" (int class index, null = num_classes) or
            "log_flux" (float, null = NaN).
        num_classes: classes of a discrete condition.
        seed: seed of the training noise.

    Raises:
        ValueError: a bad prediction type, condition kind, p_uncond or decay.
    """

    def __init__(
        self,
        network,
        input_shape=None,
        preprocessing=(),
        schedule="cosine",
        prediction_type: str = "velocity",
        p_uncond: float = 0.1,
        ema_decay: float = 0.999,
        condition: str = "goes_class",
        num_classes: int = 6,
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if prediction_type not in diffusion.PREDICTION_TYPES:
            raise ValueError(
                f"prediction_type must be one of {diffusion.PREDICTION_TYPES}, got "
                f"{prediction_type!r}."
            )
        if condition not in CONDITION_KINDS:
            raise ValueError(
                f"condition must be one of {CONDITION_KINDS}, got {condition!r}."
            )
        if not 0.0 <= p_uncond < 1.0:
            raise ValueError(f"p_uncond must be in [0, 1), got {p_uncond!r}.")
        if not 0.0 <= ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {ema_decay!r}.")
        self.network = network
        self.image_shape = tuple(int(v) for v in network.inputs[0].shape[1:])
        self.raw_shape = tuple(int(v) for v in (input_shape or self.image_shape))
        self.schedule = diffusion.get_schedule(schedule)
        self.prediction_type = prediction_type
        self.p_uncond = float(p_uncond)
        self.ema_decay = float(ema_decay)
        self.condition = condition
        self.num_classes = int(num_classes)
        self.seed = int(seed)

        # An empty Sequential cannot be built: no preprocessing means identity.
        layers = list(preprocessing) or [keras.layers.Identity(name="identity")]
        self.preprocessing = keras.Sequential(layers, name="preprocessing")
        self.preprocessing.build((None, *self.raw_shape))
        self.ema_network = keras.models.clone_model(network)
        self.ema_network.set_weights(network.get_weights())
        # The EMA copy is updated by assignment, never by the optimizer.
        self.ema_network.trainable = False
        # add_noise, the training target and the prediction conversions belong
        # to the sampler interface; every sampler gives the same ones.
        self.training_sampler = diffusion.get_sampler(
            "ddim", self.schedule, prediction_type
        )

        self.noise_seed_generator = keras.random.SeedGenerator(self.seed)
        # Sampling draws its noise statelessly from `generate`'s seed; this
        # generator is unused but kept, because its state is part of the
        # variables of every saved DiffusionModel.
        self.sampling_seed_generator = keras.random.SeedGenerator(self.seed + 1)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.image_loss_tracker = keras.metrics.Mean(name="image_loss")
        self._samplers = {}
        self.built = True

    @property
    def metrics(self):
        return [self.loss_tracker, self.image_loss_tracker]

    # ---- data --------------------------------------------------------------
    def normalize(self, images):
        """Raw physical images -> the network's unit-scale images."""
        # float32 even under mixed precision: these are regression targets.
        return ops.cast(self.preprocessing(images, training=False), "float32")

    def denormalize(self, images):
        """Network-scale images -> physical units (binned, if preprocessing bins)."""
        return invert_preprocessing(self.preprocessing.layers, images)

    def adapt_normalization(self, image_batches, max_batches: int | None = None):
        """Fit the ChannelNormalization statistics on raw training images.

        Args:
            image_batches: iterable of raw image batches (numpy or tensors)
                from the training split only (SCIENCE.md trap 3).
            max_batches: stop after this many batches.
        """
        layers = self.preprocessing.layers
        index = next(
            (
                i
                for i, layer in enumerate(layers)
                if isinstance(layer, ChannelNormalization)
            ),
            None,
        )
        if index is None:
            return None

        def upstream(batches):
            for batch in batches:
                values = ops.convert_to_tensor(batch, "float32")
                for layer in layers[:index]:
                    values = layer(values, training=False)
                yield ops.convert_to_numpy(values)

        return layers[index].adapt(upstream(image_batches), max_batches=max_batches)

    def null_condition(self, batch_size):
        """The null condition for a batch: class `num_classes`, or NaN flux."""
        if self.condition == "goes_class":
            return ops.full((batch_size,), self.num_classes, dtype="int32")
        return ops.full((batch_size,), float("nan"), dtype="float32")

    def _cast_condition(self, condition):
        dtype = "int32" if self.condition == "goes_class" else "float32"
        return ops.cast(ops.reshape(condition, (-1,)), dtype)

    def drop_condition(self, condition):
        """Replace each condition by the null one with probability p_uncond."""
        condition = self._cast_condition(condition)
        if self.p_uncond == 0.0:
            return condition
        batch = ops.shape(condition)[0]
        dropped = (
            keras.random.uniform((batch,), seed=self.noise_seed_generator)
            < self.p_uncond
        )
        return ops.where(dropped, self.null_condition(batch), condition)

    @staticmethod
    def _unpack(data):
        """(images, condition) from a batch of `tasks.generation`, or a pair."""
        if isinstance(data, (tuple, list)):
            data = data[0]
        if isinstance(data, dict):
            return data["images"], data["condition"]
        raise ValueError(
            "DiffusionModel expects batches of {'images', 'condition'} (as "
            f"tasks.generation makes), got {type(data).__name__}."
        )

    # ---- training ----------------------------------------------------------
    def _noisy_batch(self, data):
        raw_images, condition = self._unpack(data)
        images = self.normalize(raw_images)
        batch = ops.shape(images)[0]
        noises = keras.random.normal(ops.shape(images), seed=self.noise_seed_generator)
        diffusion_times = keras.random.uniform((batch,), seed=self.noise_seed_generator)
        noisy_images = self.training_sampler.add_noise(images, noises, diffusion_times)
        targets = self.training_sampler.training_target(images, noises, diffusion_times)
        return images, noisy_images, diffusion_times, targets, condition

    def _image_loss(self, predictions, noisy_images, diffusion_times, images):
        """MSE of the implied clean image: comparable across prediction types."""
        signal_rates, noise_rates = self.training_sampler.rates(diffusion_times)
        estimates, _ = self.training_sampler.image_and_noise(
            predictions, noisy_images, signal_rates, noise_rates
        )
        return ops.mean((estimates - images) ** 2)

    def train_step(self, data):
        import tensorflow as tf

        images, noisy_images, diffusion_times, targets, condition = self._noisy_batch(
            data
        )
        condition = self.drop_condition(condition)
        with tf.GradientTape() as tape:
            predictions = self.network(
                [noisy_images, diffusion_times, condition], training=True
            )
            loss = ops.mean((ops.cast(predictions, "float32") - targets) ** 2)
        gradients = tape.gradient(loss, self.network.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.network.trainable_weights))
        self.update_ema()
        self.loss_tracker.update_state(loss)
        self.image_loss_tracker.update_state(
            self._image_loss(predictions, noisy_images, diffusion_times, images)
        )
        return {metric.name: metric.result() for metric in self.metrics}

    def test_step(self, data):
        """Loss of the EMA network (the one that samples), with the condition kept."""
        images, noisy_images, diffusion_times, targets, condition = self._noisy_batch(
            data
        )
        condition = self._cast_condition(condition)
        predictions = self.ema_network(
            [noisy_images, diffusion_times, condition], training=False
        )
        loss = ops.mean((ops.cast(predictions, "float32") - targets) ** 2)
        self.loss_tracker.update_state(loss)
        self.image_loss_tracker.update_state(
            self._image_loss(predictions, noisy_images, diffusion_times, images)
        )
        return {metric.name: metric.result() for metric in self.metrics}

    def update_ema(self):
        """ema <- decay * ema + (1 - decay) * weights, for every weight."""
        for weight, ema_weight in zip(self.network.weights, self.ema_network.weights):
            ema_weight.assign(
                self.ema_decay * ema_weight + (1.0 - self.ema_decay) * weight
            )

    def call(self, inputs, training=False):
        """The EMA network's prediction for [noisy images, times, condition]."""
        return self.ema_network(inputs, training=training)

    # ---- sampling ----------------------------------------------------------
    def _predict(self, images, diffusion_times, condition):
        return ops.cast(
            self.ema_network([images, diffusion_times, condition], training=False),
            "float32",
        )

    def _compiled_loop(self, sampler, guided: bool):
        """The sampling loop for this sampler, compiled on first use and cached.

        The cache key leaves out the timestep spacing: the times are a tensor
        argument, so one compiled loop serves every spacing and step count.
        """
        config = {k: v for k, v in sampler.get_config().items() if k != "spacing"}
        key = (type(sampler).__qualname__, repr(config), repr(sampler.schedule), guided)
        if key in self._samplers:
            return self._samplers[key]

        def loop(initial_noise, condition, timesteps, guidance_scale, noise_seed):
            return diffusion.sample_loop(
                self._predict,
                sampler,
                initial_noise,
                timesteps,
                condition=condition,
                null_condition=self.null_condition(ops.shape(condition)[0]),
                guidance_scale=guidance_scale if guided else None,
                noise_seed=noise_seed,
            )

        backend = keras.backend.backend()
        if backend == "tensorflow":
            import tensorflow as tf

            condition_dtype = tf.int32 if self.condition == "goes_class" else tf.float32
            # The concrete function is called directly: a tf.function call
            # first looks its trace up in a cache keyed on the inputs and on
            # every captured weight, milliseconds per call for a UNet.
            compiled = tf.function(
                loop,
                input_signature=[
                    tf.TensorSpec((None, *self.image_shape), tf.float32),
                    tf.TensorSpec((None,), condition_dtype),
                    tf.TensorSpec((None,), tf.float32),
                    tf.TensorSpec((), tf.float32),
                    tf.TensorSpec((2,), tf.int32),
                ],
                # The loop is already a graph op (fori_loop) with only static
                # Python branches; without autograph, tracing does not read
                # (possibly edited) source files and is faster.
                autograph=False,
            ).get_concrete_function()
        elif backend == "jax":
            import jax

            compiled = jax.jit(loop)
        else:
            compiled = loop
        self._samplers[key] = compiled
        return compiled

    def generate(
        self,
        condition,
        sampler: str = "dpmpp",
        num_steps: int = 20,
        guidance_scale: float = 1.0,
        seed: int = 0,
        eta: float | None = None,
        clip_image: float | None = None,
        physical: bool = True,
        batch_size: int | None = None,
        spacing: str | None = None,
        sampler_options: dict | None = None,
        progress: bool | None = None,
    ):
        """Generate one image per condition with the EMA network.

        Args:
            condition: [n] GOES class indices (or log10 fluxes); the null
                condition gives unconditional samples.
            sampler: a registered sampler name (`diffusion.sampler_names()`:
                "ddpm", "ddim", "dpmpp", "dpmpp_sde", ...).
            num_steps: network evaluations per image (twice that with guidance).
            guidance_scale: classifier-free guidance w (1 = conditional model).
            seed: seed of the initial noise and of stochastic samplers.
            eta: stochasticity of samplers that take it ("ddim", "dpmpp_sde");
                None keeps the sampler's default.
            clip_image: clip image estimates to +-clip_image at each step.
            physical: return physical units (else the network's normalised scale).
            batch_size: generate in chunks of this many images (None: all at once).
            spacing: timestep spacing: "uniform" (in t), "log_snr" or
                "karras"; None for the sampler's default ("log_snr" for
                "dpmpp" and "dpmpp_sde", "uniform" for "ddpm" and "ddim").
            sampler_options: further keyword options of the sampler.
            progress: show a progress bar over chunks (None: when there is
                more than one chunk and at least 1000 steps in all).

        Returns:
            numpy array [n, height, width, channels].

        Raises:
            ValueError: an unknown sampler, spacing or sampler option,
                num_steps < 1, or an empty condition.

        Example:
            >>> m_flares = model.generate(np.full(16, 4), sampler="dpmpp", num_steps=20)
        """
        condition = np.asarray(condition)
        if condition.ndim != 1 or condition.size == 0:
            raise ValueError(
                f"condition must be a non-empty 1-D array, got shape {condition.shape}."
            )
        options = dict(sampler_options or {})
        if eta is not None:
            options["eta"] = eta
        sampler_object = diffusion.get_sampler(
            sampler,
            self.schedule,
            self.prediction_type,
            clip_image=clip_image,
            spacing=spacing,
            **options,
        )
        timesteps = ops.convert_to_tensor(sampler_object.timesteps(num_steps))
        guided = float(guidance_scale) != 1.0
        loop = self._compiled_loop(sampler_object, guided)
        dtype = "int32" if self.condition == "goes_class" else "float32"
        # An int seed draws statelessly with the pair (seed, 0), as a fresh
        # SeedGenerator(seed) would, without creating a variable per call;
        # the loop's per-step noise uses the pairs (seed, 1), (seed, 2), ...
        initial_noise = keras.random.normal(
            (condition.size, *self.image_shape), seed=int(seed)
        )
        noise_seed = ops.convert_to_tensor([int(seed), 0], "int32")
        scale = ops.convert_to_tensor(float(guidance_scale), "float32")
        chunk = batch_size or condition.size
        starts = range(0, condition.size, chunk)
        if progress is None:
            progress = len(starts) > 1 and len(starts) * int(num_steps) >= 1000
        # Progress per chunk, outside the compiled loop, so it costs nothing
        # per step.
        bar = None
        if progress:
            bar = keras.utils.Progbar(condition.size, unit_name="image")
        outputs = []
        for start in starts:
            images = loop(
                initial_noise[start : start + chunk],
                ops.convert_to_tensor(condition[start : start + chunk].astype(dtype)),
                timesteps,
                scale,
                # Chunk k's steps use the pairs (seed, k (N + 1) + 1 .. N): no
                # two chunks, and no step and the initial noise, share one.
                noise_seed
                + ops.convert_to_tensor(
                    [0, start // chunk * (int(num_steps) + 1)], "int32"
                ),
            )
            if physical:
                images = self.denormalize(images)
            outputs.append(ops.convert_to_numpy(images))
            if bar is not None:
                bar.add(len(outputs[-1]))
        return np.concatenate(outputs, axis=0)

    def timed_generate(self, condition, **kwargs) -> tuple[np.ndarray, dict]:
        """`generate`, after a one-step warm-up that compiles, with its wall time.

        Returns:
            (images, {"wall_s", "compile_s", "steps", "network_evaluations"}).
        """
        started = time.perf_counter()
        self.generate(np.asarray(condition)[:1], **{**kwargs, "num_steps": 1})
        compile_s = time.perf_counter() - started
        started = time.perf_counter()
        images = self.generate(condition, **kwargs)
        wall_s = time.perf_counter() - started
        steps = int(kwargs.get("num_steps", 20))
        guided = float(kwargs.get("guidance_scale", 1.0)) != 1.0
        return images, {
            "wall_s": wall_s,
            "compile_s": compile_s,
            "steps": steps,
            "network_evaluations": steps * (2 if guided else 1),
        }

    # ---- saving ------------------------------------------------------------
    def _preprocessing_config(self) -> dict:
        """The config entries every generative model shares (ConditionalVAE too):
        its name, the raw input shape and the serialised preprocessing layers."""
        return {
            "name": self.name,
            "input_shape": list(self.raw_shape),
            "preprocessing": [
                keras.saving.serialize_keras_object(layer)
                for layer in self.preprocessing.layers
            ],
        }

    def get_config(self):
        return {
            **self._preprocessing_config(),
            "network": keras.saving.serialize_keras_object(self.network),
            "schedule": diffusion.schedule_config(self.schedule),
            "prediction_type": self.prediction_type,
            "p_uncond": self.p_uncond,
            "ema_decay": self.ema_decay,
            "condition": self.condition,
            "num_classes": self.num_classes,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = _deserialize_networks(config, ("network",))
        config["schedule"] = diffusion.schedule_from_config(config["schedule"])
        return cls(**config)


def _deserialize_networks(config: dict, network_keys: tuple) -> dict:
    """A copy of a generative model's config with the networks named in
    `network_keys` and the preprocessing layers deserialised (the inverse of
    `DiffusionModel._preprocessing_config` and the networks' entries)."""
    config = dict(config)
    for key in network_keys:
        config[key] = keras.saving.deserialize_keras_object(config[key])
    config["preprocessing"] = [
        keras.saving.deserialize_keras_object(layer)
        for layer in config["preprocessing"]
    ]
    return config
