"""SimCLR: contrastive self-supervised pretraining of an image encoder.

Two augmented views of each image go through the encoder and a small
projection head; the NT-Xent loss pulls the two projections of the same
image together and pushes those of the other images in the batch apart. The
encoder never sees a label. A linear probe, trained on the encoder's frozen
features alongside (as in the keras-io example), measures how much the
features already know about flares: it is trained in `train_step` and scored
in `test_step`, on the validation split.

Notation (Chen et al. 2020):

    images    x            a batch of N raw images
    views     x_1, x_2     two augmentations of x
    features  h = f(x_v)   encoder output (what transfer reuses)
    projections z = g(h)   projection-head output (thrown away after pretraining)
    temperature tau        scale of the cosine similarities in NT-Xent

The algorithm is a `keras.Model` that receives its networks and augmenter by
injection; `train_step` uses `tf.GradientTape` (TensorFlow backend), like the
keras-io examples; the loss, the optimizer and the networks use `keras.ops`.

Example:
    >>> model = SimCLR(encoder, build_projection_head(64), augmenter,
    ...                probe=keras.layers.Dense(1, name="probe"))
    >>> model.compile(optimizer=LARS(0.3), probe_optimizer=keras.optimizers.Adam())
    >>> model.fit(train_images_and_labels, validation_data=validation, epochs=10)

References:
    Chen, T., Kornblith, S., Norouzi, M., Hinton, G. 2020, "A Simple Framework
    for Contrastive Learning of Visual Representations", ICML.
    You, Y., Gitman, I., Ginsburg, B. 2017, "Large Batch Training of
    Convolutional Networks", arXiv:1708.03888 (LARS).
    keras-io, examples/vision/semisupervised_simclr.py (structure).
"""

from __future__ import annotations

import keras
from keras import ops

from flarekit.layers.serialization import ConfigFromAttributes


@keras.saving.register_keras_serializable(package="flarekit")
class NTXentLoss(ConfigFromAttributes, keras.losses.Loss):
    """Normalised temperature-scaled cross-entropy (NT-Xent) of two views.

    For N pairs, the 2N projections are L2-normalised; each one is an anchor
    whose positive is its partner view and whose negatives are the other
    2N - 2 projections (itself excluded):

        l(i, j) = -log( exp(s_ij / tau) / sum_{k != i} exp(s_ik / tau) )

    with s the cosine similarity. The loss of pair n is the mean of its two
    directions, (l(n, n+N) + l(n+N, n)) / 2, so the default reduction (mean
    over the batch) gives Chen et al.'s L = 1/(2N) sum over all 2N anchors.

    Call it as `loss(projections_1, projections_2)`, both [N, D].

    Args:
        temperature: tau > 0 (SimCLR: 0.1 to 0.5; smaller is sharper).
        name, reduction: as for `keras.losses.Loss`.

    Raises:
        ValueError: a temperature <= 0.

    Example:
        >>> NTXentLoss(temperature=0.5)(z1, z2)  # a scalar
    """

    config_attributes = ("temperature",)

    def __init__(
        self,
        temperature: float = 0.1,
        name: str = "nt_xent",
        reduction="sum_over_batch_size",
        **kwargs,
    ):
        super().__init__(name=name, reduction=reduction, **kwargs)
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature!r}.")
        self.temperature = float(temperature)

    def call(self, projections_1, projections_2):
        z = ops.concatenate([projections_1, projections_2], axis=0)
        z = ops.cast(z, "float32")
        z = z / ops.maximum(ops.norm(z, axis=1, keepdims=True), 1e-12)
        logits = ops.matmul(z, ops.transpose(z)) / self.temperature
        pairs = ops.shape(projections_1)[0]
        size = 2 * pairs
        # An anchor is not its own negative: push its self-similarity to -inf.
        logits = logits - 1e9 * ops.eye(size, dtype=logits.dtype)
        positives = ops.concatenate(
            [ops.arange(pairs, size), ops.arange(0, pairs)], axis=0
        )
        per_anchor = keras.losses.sparse_categorical_crossentropy(
            positives, logits, from_logits=True
        )
        return 0.5 * (per_anchor[:pairs] + per_anchor[pairs:])


def contrastive_logits(projections_1, projections_2):
    """Cosine similarities of every view-1 projection to every view-2 one, [N, N].

    Row n's largest entry is at column n when the encoder recognises image n
    in its other view: the "contrastive accuracy" of the keras-io example.
    """
    z1 = projections_1 / ops.maximum(
        ops.norm(projections_1, axis=1, keepdims=True), 1e-12
    )
    z2 = projections_2 / ops.maximum(
        ops.norm(projections_2, axis=1, keepdims=True), 1e-12
    )
    return ops.matmul(z1, ops.transpose(z2))


@keras.saving.register_keras_serializable(package="flarekit")
class LARS(ConfigFromAttributes, keras.optimizers.Optimizer):
    """Layer-wise adaptive rate scaling: SGD with momentum and a per-variable
    trust ratio, the optimizer of SimCLR.

    For each variable w with gradient g (Keras 3 calls `update_step` once per
    variable, so "layer-wise" is per variable, as in SimCLR's code):

        g <- g + weight_decay * w                      (L2 term, inside LARS)
        trust = eta * ||w|| / ||g||   (1 when either norm is 0)
        v <- momentum * v + learning_rate * trust * g
        w <- w - v          (nesterov: w - (momentum * v + learning_rate * trust * g))

    Variables with fewer than two dimensions (biases, batch-norm scales and
    offsets) get neither weight decay nor the trust ratio when
    `exclude_vectors` is True, as in SimCLR. Names given to the base class's
    `exclude_from_weight_decay` are also spared the decay. Weight decay is
    part of the gradient here, so the base class's decoupled decay is off.

    Args:
        learning_rate: float or schedule (SimCLR: 0.3 x batch size / 256).
        momentum: in [0, 1).
        weight_decay: L2 coefficient (SimCLR: 1e-6), or None.
        eta: trust coefficient (0.001 in You et al.).
        nesterov: Nesterov momentum.
        exclude_vectors: exempt 0-D and 1-D variables from decay and trust.
        **kwargs: base optimizer arguments (clipnorm, name, ...).

    Raises:
        ValueError: momentum outside [0, 1), or eta <= 0.

    Example:
        >>> optimizer = LARS(learning_rate=0.3, weight_decay=1e-6)
    """

    config_attributes = ("momentum", "eta", "nesterov", "exclude_vectors")

    def __init__(
        self,
        learning_rate=0.1,
        momentum: float = 0.9,
        weight_decay: float | None = 1e-6,
        eta: float = 0.001,
        nesterov: bool = False,
        exclude_vectors: bool = True,
        name: str = "lars",
        **kwargs,
    ):
        super().__init__(
            learning_rate=learning_rate, weight_decay=weight_decay, name=name, **kwargs
        )
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}.")
        if eta <= 0:
            raise ValueError(f"eta must be > 0, got {eta!r}.")
        self.momentum = float(momentum)
        self.eta = float(eta)
        self.nesterov = bool(nesterov)
        self.exclude_vectors = bool(exclude_vectors)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.momentums = self.add_optimizer_variables(variables, "momentum")

    def _apply_weight_decay(self, variables):
        # LARS adds the decay to the gradient before the trust ratio
        # (update_step); the base class's decoupled decay would apply it twice.
        return

    def _is_vector(self, variable) -> bool:
        return self.exclude_vectors and len(variable.shape) < 2

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        velocity = self.momentums[self._get_variable_index(variable)]
        momentum = ops.cast(self.momentum, variable.dtype)
        if (
            self.weight_decay is not None
            and not self._is_vector(variable)
            and self._use_weight_decay(variable)
        ):
            gradient = gradient + ops.cast(self.weight_decay, variable.dtype) * variable
        if self._is_vector(variable):
            scaled_rate = learning_rate
        else:
            weight_norm = ops.norm(ops.reshape(variable, (-1,)))
            gradient_norm = ops.norm(ops.reshape(gradient, (-1,)))
            trust = ops.where(
                ops.logical_and(weight_norm > 0, gradient_norm > 0),
                self.eta * weight_norm / ops.maximum(gradient_norm, 1e-30),
                ops.ones_like(weight_norm),
            )
            scaled_rate = learning_rate * trust
        new_velocity = momentum * velocity + scaled_rate * gradient
        self.assign(velocity, new_velocity)
        if self.nesterov:
            self.assign_sub(variable, momentum * new_velocity + scaled_rate * gradient)
        else:
            self.assign_sub(variable, new_velocity)


def build_projection_head(
    feature_dim: int,
    width: int = 128,
    output_dim: int = 64,
    name: str = "projection_head",
) -> keras.Model:
    """SimCLR's projection head g: Dense(width, relu) -> Dense(output_dim).

    Chen et al. found the loss is best applied after a small MLP, and the
    representation before it is the one to transfer.

    Args:
        feature_dim: size of the encoder's features.
        width: hidden units.
        output_dim: size of the projections z.
        name: model name.

    Returns:
        A functional `keras.Model` [B, feature_dim] -> [B, output_dim].
    """
    inputs = keras.Input(shape=(int(feature_dim),), name="features")
    x = keras.layers.Dense(int(width), activation="relu", name="projection_hidden")(
        inputs
    )
    outputs = keras.layers.Dense(int(output_dim), name="projection")(x)
    return keras.Model(inputs, outputs, name=name)


@keras.saving.register_keras_serializable(package="flarekit")
class SimCLR(keras.Model):
    """SimCLR pretraining of `encoder`, with a linear probe on its features.

    `fit` takes batches of images, or of `(images, labels)`: the images train
    the encoder and projection head by NT-Xent on two augmented views; the
    labels (when given, and when there is a probe) train only the linear
    probe, on the un-augmented images' features with the gradient stopped, so
    the encoder stays label-free. `evaluate` / validation data score the
    probe: `p_loss`, `p_acc`. Calling the model returns the encoder's
    features.

    Metrics: `c_loss` (NT-Xent), `c_acc` (share of images whose most similar
    other-view projection is their own, both directions), `p_loss`, `p_acc`.

    Args:
        encoder: raw images -> features [B, D] (e.g. `build_encoder`).
        projection_head: features -> projections (`build_projection_head`).
        augmenter: raw images -> augmented raw images, random when
            `training=True` (e.g. `build_augmenter`).
        probe: a layer from features to one logit (binary probe), or None.
        temperature: NT-Xent temperature.

    Raises:
        ValueError: from `NTXentLoss` for a bad temperature.

    Example:
        >>> simclr = SimCLR(
        ...     encoder, build_projection_head(64), build_augmenter(channels))
    """

    def __init__(
        self,
        encoder,
        projection_head,
        augmenter,
        probe=None,
        temperature: float = 0.1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.projection_head = projection_head
        self.augmenter = augmenter
        self.probe = probe
        self.temperature = float(temperature)
        self.contrastive_loss = NTXentLoss(temperature)
        self.contrastive_loss_tracker = keras.metrics.Mean(name="c_loss")
        self.contrastive_accuracy = keras.metrics.SparseCategoricalAccuracy(
            name="c_acc"
        )
        self.probe_loss_tracker = keras.metrics.Mean(name="p_loss")
        self.probe_accuracy = keras.metrics.BinaryAccuracy(name="p_acc", threshold=0.0)
        if encoder.built:
            # Functional encoders are built at creation; building here too
            # lets an unfitted model save and a loaded one take its weights.
            self.build(encoder.inputs[0].shape)

    def compile(self, optimizer="adam", probe_optimizer=None, **kwargs):
        """Two optimizers, as in the keras-io example: `optimizer` for the
        encoder and projection head (e.g. `LARS`), `probe_optimizer` (Adam by
        default) for the probe alone."""
        super().compile(optimizer=optimizer, **kwargs)
        self.probe_optimizer = keras.optimizers.get(probe_optimizer or "adam")

    def get_compile_config(self):
        serialize = keras.saving.serialize_keras_object
        return {
            "optimizer": serialize(self.optimizer),
            "probe_optimizer": serialize(self.probe_optimizer),
        }

    def compile_from_config(self, config):
        deserialize = keras.saving.deserialize_keras_object
        self.compile(
            optimizer=deserialize(config["optimizer"]),
            probe_optimizer=deserialize(config["probe_optimizer"]),
        )
        if self.built:
            # Build the optimizer on the same variables, in the same order, as
            # train_step does, so that a checkpoint's optimizer state loads.
            self.optimizer.build(self._contrastive_variables())
            if self.probe is not None:
                self.probe_optimizer.build(self.probe.trainable_weights)

    def _contrastive_variables(self):
        return self.encoder.trainable_weights + self.projection_head.trainable_weights

    @property
    def metrics(self):
        return [
            self.contrastive_loss_tracker,
            self.contrastive_accuracy,
            self.probe_loss_tracker,
            self.probe_accuracy,
        ]

    def build(self, input_shape):
        features = self.encoder.compute_output_shape(input_shape)
        if not self.projection_head.built:
            self.projection_head.build(features)
        if self.probe is not None and not self.probe.built:
            self.probe.build(features)
        self.built = True

    def call(self, images, training=False):
        return self.encoder(images, training=training)

    @staticmethod
    def _unpack(data):
        if isinstance(data, (tuple, list)):
            images = data[0]
            labels = data[1] if len(data) > 1 else None
            return images, labels
        return data, None

    def _update_contrastive_accuracy(self, projections_1, projections_2):
        similarities = contrastive_logits(projections_1, projections_2)
        targets = ops.arange(ops.shape(similarities)[0])
        self.contrastive_accuracy.update_state(targets, similarities)
        self.contrastive_accuracy.update_state(targets, ops.transpose(similarities))

    def _probe_loss(self, features, labels):
        logits = self.probe(features)
        labels = ops.reshape(ops.cast(labels, "float32"), ops.shape(logits))
        loss = ops.mean(
            keras.losses.binary_crossentropy(labels, logits, from_logits=True)
        )
        return loss, labels, logits

    def train_step(self, data):
        import tensorflow as tf  # train_step is TensorFlow-backend code, as in keras-io

        images, labels = self._unpack(data)
        views_1 = self.augmenter(images, training=True)
        views_2 = self.augmenter(images, training=True)
        with tf.GradientTape() as tape:
            projections_1 = self.projection_head(
                self.encoder(views_1, training=True), training=True
            )
            projections_2 = self.projection_head(
                self.encoder(views_2, training=True), training=True
            )
            loss = self.contrastive_loss(projections_1, projections_2)
        variables = self._contrastive_variables()
        gradients = tape.gradient(loss, variables)
        self.optimizer.apply_gradients(zip(gradients, variables))
        self.contrastive_loss_tracker.update_state(loss)
        self._update_contrastive_accuracy(projections_1, projections_2)

        if labels is not None and self.probe is not None:
            features = ops.stop_gradient(self.encoder(images, training=False))
            with tf.GradientTape() as tape:
                probe_loss, targets, logits = self._probe_loss(features, labels)
            gradients = tape.gradient(probe_loss, self.probe.trainable_weights)
            self.probe_optimizer.apply_gradients(
                zip(gradients, self.probe.trainable_weights)
            )
            self.probe_loss_tracker.update_state(probe_loss)
            self.probe_accuracy.update_state(targets, logits)
        return {metric.name: metric.result() for metric in self.metrics}

    def test_step(self, data):
        images, labels = self._unpack(data)
        if labels is not None and self.probe is not None:
            features = self.encoder(images, training=False)
            probe_loss, targets, logits = self._probe_loss(features, labels)
            self.probe_loss_tracker.update_state(probe_loss)
            self.probe_accuracy.update_state(targets, logits)
        return {metric.name: metric.result() for metric in self.metrics[2:]}

    def get_config(self):
        config = super().get_config()
        serialize = keras.saving.serialize_keras_object
        config.update(
            encoder=serialize(self.encoder),
            projection_head=serialize(self.projection_head),
            augmenter=serialize(self.augmenter),
            probe=None if self.probe is None else serialize(self.probe),
            temperature=self.temperature,
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        deserialize = keras.saving.deserialize_keras_object
        for key in ("encoder", "projection_head", "augmenter", "probe"):
            if config.get(key) is not None:
                config[key] = deserialize(config[key], custom_objects=custom_objects)
        return cls(**config)
