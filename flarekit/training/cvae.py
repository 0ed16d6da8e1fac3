"""`ConditionalVAE`: the conditional VAE baseline of the diffusion model.

Trained by maximising the evidence lower bound with a Gaussian likelihood of
fixed variance (a mean squared error on the normalised images) and a KL term
weighted by `beta`; samples decode z ~ N(0, I) with the chosen condition.
`generate` takes the same arguments as `DiffusionModel.generate` (the sampler
ones are ignored), so both are scored by one evaluation.

References:
    Kingma, D. & Welling, M. 2014, ICLR; Higgins, I. et al. 2017, ICLR (beta).
    Sohn, K., Lee, H. & Yan, X. 2015, NeurIPS (conditional VAE).
"""

from __future__ import annotations

import time

import keras
import numpy as np
from keras import ops

from flarekit.layers.generative import invert_preprocessing
from flarekit.training.diffusion import DiffusionModel, _deserialize_networks


@keras.saving.register_keras_serializable(package="flarekit")
class ConditionalVAE(keras.Model):
    """A conditional VAE over normalised images.

    Args:
        encoder: `[images, condition] -> [z_mean, z_log_var]` (see `build_cvae`).
        decoder: `[z, condition] -> images`.
        input_shape: raw image shape (physical units) the preprocessing receives.
        preprocessing: layers from raw to normalised images (as DiffusionModel).
        beta: weight of the KL term per latent dimension, relative to the
            per-pixel squared error.
        condition: "goes_class" or "log_flux".
        num_classes: classes of a discrete condition.
        seed: seed of the reparameterisation noise.

    Example:
        >>> encoder, decoder = build_cvae((32, 32, 2))
        >>> cvae = ConditionalVAE(encoder, decoder, input_shape=(32, 32, 2))
    """

    def __init__(
        self,
        encoder,
        decoder,
        input_shape=None,
        preprocessing=(),
        beta: float = 1.0,
        condition: str = "goes_class",
        num_classes: int = 6,
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if beta < 0:
            raise ValueError(f"beta must be >= 0, got {beta!r}.")
        self.encoder = encoder
        self.decoder = decoder
        self.image_shape = tuple(int(v) for v in decoder.outputs[0].shape[1:])
        self.raw_shape = tuple(int(v) for v in (input_shape or self.image_shape))
        self.latent_dim = int(decoder.inputs[0].shape[-1])
        self.beta = float(beta)
        self.condition = condition
        self.num_classes = int(num_classes)
        self.seed = int(seed)
        self.preprocessing = keras.Sequential(list(preprocessing), name="preprocessing")
        self.preprocessing.build((None, *self.raw_shape))
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_tracker = keras.metrics.Mean(name="kl_loss")
        self.built = True

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]

    normalize = DiffusionModel.normalize
    adapt_normalization = DiffusionModel.adapt_normalization
    _unpack = staticmethod(DiffusionModel._unpack)
    _cast_condition = DiffusionModel._cast_condition
    _preprocessing_config = DiffusionModel._preprocessing_config

    def denormalize(self, images):
        return invert_preprocessing(self.preprocessing.layers, images)

    def _elbo_terms(self, data, training):
        raw_images, condition = self._unpack(data)
        images = self.normalize(raw_images)
        condition = self._cast_condition(condition)
        z_mean, z_log_var = self.encoder([images, condition], training=training)
        epsilon = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        z = z_mean + ops.exp(0.5 * z_log_var) * epsilon
        reconstruction = self.decoder([z, condition], training=training)
        reconstruction_loss = ops.mean((reconstruction - images) ** 2)
        kl = -0.5 * ops.mean(1.0 + z_log_var - z_mean**2 - ops.exp(z_log_var))
        # Per pixel vs per latent unit: scale KL by the latent/pixel ratio so
        # beta = 1 is the true ELBO up to the fixed likelihood variance.
        pixels = float(np.prod(self.image_shape))
        kl_loss = kl * self.latent_dim / pixels
        return reconstruction_loss + self.beta * kl_loss, reconstruction_loss, kl_loss

    def _record(self, total, reconstruction, kl):
        self.loss_tracker.update_state(total)
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
        return {metric.name: metric.result() for metric in self.metrics}

    def train_step(self, data):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            total, reconstruction, kl = self._elbo_terms(data, training=True)
        variables = self.encoder.trainable_weights + self.decoder.trainable_weights
        self.optimizer.apply_gradients(zip(tape.gradient(total, variables), variables))
        return self._record(total, reconstruction, kl)

    def test_step(self, data):
        return self._record(*self._elbo_terms(data, training=False))

    def call(self, inputs, training=False):
        """Reconstruction of [normalised images, condition] via the mean of q(z)."""
        images, condition = inputs
        z_mean, _ = self.encoder([images, condition], training=training)
        return self.decoder([z_mean, condition], training=training)

    def generate(
        self,
        condition,
        seed: int = 0,
        physical: bool = True,
        batch_size: int | None = None,
        **ignored,
    ):
        """Decode z ~ N(0, I) with each condition; sampler arguments are ignored.

        Returns:
            numpy array [n, height, width, channels].
        """
        condition = np.asarray(condition)
        if condition.ndim != 1 or condition.size == 0:
            raise ValueError(
                f"condition must be a non-empty 1-D array, got shape {condition.shape}."
            )
        dtype = "int32" if self.condition == "goes_class" else "float32"
        z = keras.random.normal(
            (condition.size, self.latent_dim),
            seed=keras.random.SeedGenerator(int(seed)),
        )
        images = self.decoder.predict_on_batch([z, condition.astype(dtype)])
        if physical:
            images = self.denormalize(images)
        return ops.convert_to_numpy(images)

    def timed_generate(self, condition, **kwargs) -> tuple[np.ndarray, dict]:
        """`generate` with its wall time; one decoder evaluation per image."""
        self.generate(np.asarray(condition)[:1], **kwargs)
        started = time.perf_counter()
        images = self.generate(condition, **kwargs)
        wall_s = time.perf_counter() - started
        return images, {
            "wall_s": wall_s,
            "compile_s": 0.0,
            "steps": 1,
            "network_evaluations": 1,
        }

    def get_config(self):
        return {
            **self._preprocessing_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "beta": self.beta,
            "condition": self.condition,
            "num_classes": self.num_classes,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = _deserialize_networks(config, ("encoder", "decoder"))
        return cls(**config)
