"""Self-supervised experiments: SimCLR pretraining, and transfer by fine-tuning.

Two `Experiment` subclasses, registered in `flarekit.experiments.config.TRAINERS`:

- "simclr" (`SimCLRExperiment`): pretrains the encoder that the experiment's
  `build_network(config)` returns, on images of the training split only
  (SCIENCE.md trap 3; any other `pretrain_split` is refused), with a linear
  probe on validation data as a monitor. Writes `encoder.keras` (load it with
  `flarekit.models.load_encoder`), pretraining images/s, a t-SNE of the
  features coloured by GOES and Mount Wilson class, metrics.json, report.md.
- "finetune" (`FinetuneExperiment`): trains `build_network(config)` (an
  encoder from `transfer_encoder(config)` plus a head) on a seeded random
  `label_fraction` of the training labels, with the pretrained backbone frozen
  for the first `freeze_epochs` epochs and then trained at the lower
  `finetune_learning_rate`; `linear_probe=True` keeps it frozen throughout.
  Evaluation and report are the supervised ones.

Example:
    >>> from flarekit import experiments
    >>> pretrain = experiments.run_experiment(
    ...     "network_models/ssl/simclr_pretrain", smoke=True)
    >>> experiments.run_experiment(
    ...     "network_models/ssl/finetune_binary", smoke=True,
    ...     encoder_path=str(pretrain / "encoder.keras"))
"""

from __future__ import annotations

import time

import numpy as np

from flarekit.experiments.checkpoints import save_model_atomic
from flarekit.experiments.config import ConfigError
from flarekit.experiments.runner import Experiment, fit_verbosity
from flarekit.io import write_json_atomic, write_text_atomic

ENCODER_FILE = "encoder.keras"
ENCODER_WEIGHTS = ("pretrained", "random")


def _refuse_early_stopping(config, why: str) -> None:
    if config.get("early_stopping_patience", 0):
        raise ConfigError(
            f"config key 'early_stopping_patience' is "
            f"{config.early_stopping_patience}; this trainer ({config.trainer}) "
            f"has no early stopping: {why}. Use 0."
        )


class _EpochTimer:
    """Keras callback factory: wall time of every epoch (the first one traces)."""

    def __new__(cls):
        import keras

        class _Timer(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.seconds = []

            def on_epoch_begin(self, epoch, logs=None):
                self._started = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.seconds.append(time.perf_counter() - self._started)

        return _Timer()


def transfer_encoder(config):
    """The encoder a fine-tuning config asks for.

    `encoder_path` "" builds a new encoder from the config's architecture
    keys; otherwise the saved encoder is loaded, and with
    `encoder_weights="random"` re-initialised (`keras.models.clone_model`):
    the same architecture and resolution as the pretrained one, for the
    from-scratch side of a comparison.

    Raises:
        ConfigError: an unknown `encoder_weights`.
        FileNotFoundError: `encoder_path` does not exist.
    """
    import keras

    from flarekit import models

    if config.encoder_weights not in ENCODER_WEIGHTS:
        raise ConfigError(
            f"Config key 'encoder_weights' is {config.encoder_weights!r}; expected "
            f"one of {ENCODER_WEIGHTS}."
        )
    if not config.encoder_path:
        from flarekit.data import pipeline

        return models.build_encoder(
            config.channels,
            pipeline.channel_declarations(
                config.dataset, config.channels, config.data_dir
            ),
            image_size=config.image_size,
            backbone=config.backbone,
            filters=config.filters,
            blocks_per_stage=config.blocks_per_stage,
        )
    encoder = models.load_encoder(config.encoder_path, trainable=True)
    if config.encoder_weights == "random":
        encoder = keras.models.clone_model(encoder)
    return encoder


class SimCLRExperiment(Experiment):
    """SimCLR pretraining of the encoder `build_network(config)` returns.

    Config keys beyond the common ones (see network_models/ssl/simclr_pretrain):
    pretrain_split, crop_area, rotation_degrees, brightness_dex, contrast,
    noise_dex, flip, projection_width, projection_dim, temperature,
    optimizer ("lars" | "adam"), weight_decay, warmup_epochs, linear_probe,
    tsne_examples.
    """

    monitor = "c_loss"

    @classmethod
    def check_config(cls, config) -> None:
        """Pretraining runs on one device for now: under a replicated strategy
        the NT-Xent loss would draw negatives from each replica's share of the
        batch only (another objective than on one device), and the random
        augmentation's conditional branches fail in a replica context."""
        if config.strategy != "default":
            raise ConfigError(
                f"config key 'strategy' is {config.strategy!r}; SimCLR pretraining "
                "runs on one device ('default'): across replicas its NT-Xent "
                "negatives would come from each replica's share of the batch only."
            )
        _refuse_early_stopping(
            config,
            "pretraining keeps its last epoch (the contrastive loss of epochs under "
            "a changing learning rate does not compare)",
        )

    def prepare_data(self):
        from flarekit.data import pipeline, subsets, tasks

        config = self.config
        # Refused before anything is read: pretraining sees training images only.
        subsets.ensure_training_split(
            config.pretrain_split, "self-supervised pretraining"
        )
        self.load_dataset()
        self.task = tasks.from_config(config, self.channel_names)
        common = dict(task=self.task, batch_size=config.batch_size, seed=config.seed)
        self.train = pipeline.make_dataset(
            self.builder,
            config.pretrain_split,
            shuffle=True,
            drop_remainder=True,
            **common,
        )
        # Validation data feeds the linear probe, the only monitor there is.
        self.validation = (
            pipeline.make_dataset(self.builder, "validation", **common)
            if config.linear_probe
            else None
        )
        self.pretrain_examples = len(
            pipeline.read_columns(self.builder, config.pretrain_split, ["timestamp"])
        )
        if self.pretrain_examples < config.batch_size:
            raise ValueError(
                f"Pretraining split {config.pretrain_split!r} of {config.dataset} has "
                f"{self.pretrain_examples} images, fewer than batch_size "
                f"{config.batch_size}; lower batch_size."
            )

    def build_simclr(self, encoder):
        import keras

        from flarekit import layers
        from flarekit.data import pipeline
        from flarekit.training import SimCLR, build_projection_head

        config = self.config
        channels = config.channels or self.channel_names
        augmenter = layers.build_augmenter(
            channels,
            pipeline.channel_declarations(self.builder, channels),
            crop_area=config.crop_area,
            rotation_degrees=config.rotation_degrees,
            brightness_dex=config.brightness_dex,
            contrast=config.contrast,
            noise_dex=config.noise_dex,
            flip=config.flip,
            image_size=config.image_size,
            seed=config.seed,
        )
        head = build_projection_head(
            encoder.output_shape[-1], config.projection_width, config.projection_dim
        )
        # A zero-initialised probe follows the gradient from its first step; a
        # random one can keep an inverted ranking for many steps.
        probe = (
            keras.layers.Dense(1, kernel_initializer="zeros", name="probe")
            if config.linear_probe
            else None
        )
        return SimCLR(
            encoder, head, augmenter, probe=probe, temperature=config.temperature
        )

    def compile(self, model):
        import keras

        from flarekit.training import LARS

        config = self.config
        steps_per_epoch = max(1, self.pretrain_examples // config.batch_size)
        total = steps_per_epoch * config.epochs
        warmup = min(total - 1, steps_per_epoch * config.warmup_epochs)
        # Linear warm-up to the peak rate, then cosine decay to 0 (SimCLR).
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0,
            decay_steps=max(1, total - warmup),
            warmup_target=config.learning_rate,
            warmup_steps=max(0, warmup),
        )
        if config.optimizer == "lars":
            optimizer = LARS(schedule, weight_decay=config.weight_decay or None)
        elif config.optimizer == "adam":
            optimizer = keras.optimizers.AdamW(
                schedule, weight_decay=config.weight_decay
            )
        else:
            raise ConfigError(
                f"Config key 'optimizer' is {config.optimizer!r}; expected 'lars' "
                "or 'adam'."
            )
        model.compile(optimizer=optimizer, probe_optimizer=keras.optimizers.Adam(1e-3))
        return model

    # ---- the run's hooks --------------------------------------------------
    def build_model(self):
        encoder = self.build_network(self.config)
        self.adapt_normalization(encoder)
        return self.compile(self.build_simclr(encoder))

    def summary_model(self, model):
        return model.encoder

    def callbacks(self, state: dict, run_dir=None) -> list:
        self.timer = _EpochTimer()
        return super().callbacks(state, run_dir) + [self.timer]

    def fit_arguments(self) -> dict:
        # The dataset shuffles itself, seeded; Keras ignores (and warns about)
        # its default shuffle=True on a tf.data.Dataset.
        return {"shuffle": False}

    def fit(self, model, state: dict, **kwargs) -> float:
        seconds = super().fit(model, state, **kwargs)
        self.timings.pop("train_images_per_s", None)
        if seconds:
            self._record_speed(self.timer.seconds)
        return seconds

    def best_model(self, model):
        """The last epoch's model: the contrastive loss of a later epoch is not
        comparable with an earlier one's under a changing learning rate."""
        return model

    def finish(self, model) -> None:
        encoder_path = save_model_atomic(model.encoder, self.run_dir / ENCODER_FILE)
        print(f"flarekit: pretrained encoder saved to {encoder_path}")
        self.report(model)

    def _record_speed(self, epoch_seconds) -> None:
        """Images/s of pretraining; each image is augmented and encoded twice."""
        images_per_epoch = (
            self.pretrain_examples // self.config.batch_size
        ) * self.config.batch_size
        seconds = np.asarray(epoch_seconds, dtype=float)
        if seconds.size:
            # Validation (the probe) runs inside the epoch; it is part of the cost.
            self.timings["epochs_trained"] = int(seconds.size)
            self.timings["images_per_epoch"] = images_per_epoch
            self.timings["images_per_s"] = (
                images_per_epoch * seconds.size / seconds.sum()
            )
            steady = seconds[1:] if seconds.size > 1 else seconds
            self.timings["images_per_s_after_first_epoch"] = (
                images_per_epoch / steady.mean()
            )

    def pretraining_metrics(self, model) -> dict:
        import pandas as pd

        from flarekit.data import pipeline

        history_path = self.run_dir / "history.csv"
        history = pd.read_csv(history_path) if history_path.exists() else pd.DataFrame()
        last = history.iloc[-1].to_dict() if len(history) else {}
        flux = pipeline.read_columns(self.builder, "validation", ["peak_flux"])[
            "peak_flux"
        ]
        labels = self.task.labels_from_flux(flux.to_numpy())
        positive = float(np.mean(labels)) if len(labels) else float("nan")
        return {
            "pretraining": {
                "final_epoch": last,
                "contrastive_loss": last.get("c_loss"),
                "contrastive_accuracy": last.get("c_acc"),
                "probe_validation_accuracy": last.get("val_p_acc"),
                # A probe's accuracy means little without the majority-class rate.
                "validation_majority_class_accuracy": max(positive, 1 - positive),
                "pretrain_examples": self.pretrain_examples,
                "batch_size": self.config.batch_size,
            },
            "settings": self.settings(),
        }

    def settings(self) -> dict:
        settings = super().settings()
        settings.update(
            pretrain_split=self.config.pretrain_split,
            aggregation=f"single pretraining run, seed {self.config.seed}",
            training=f"{self.config.epochs} epochs; the last epoch's encoder is kept",
            probe_task=self.task.describe(),
        )
        return settings

    def report(self, model) -> None:
        import pandas as pd

        from flarekit import report
        from flarekit.interpret import embeddings as interpret_embeddings
        from flarekit.data import tasks

        config = self.config
        figures = self.run_dir / "figures"
        lines = [f"# SimCLR pretraining: {self.name}", ""]
        metrics = self.pretraining_metrics(model)
        pre = metrics["pretraining"]
        lines += [
            f"- dataset: `{config.dataset}`, pretraining split `{config.pretrain_split}` "
            f"({pre['pretrain_examples']} unlabelled images; validation and test never "
            "used for pretraining)",
            f"- encoder: {config.backbone} {tuple(config.filters)} at "
            f"{config.image_size}x{config.image_size}, {model.encoder.count_params():,} "
            "parameters",
            f"- augmentation: crop area {tuple(config.crop_area)}, rotation "
            f"+-{config.rotation_degrees} deg, gain +-{config.brightness_dex} dex, "
            f"contrast +-{config.contrast}, noise {config.noise_dex} dex, flip "
            f"{config.flip!r}",
            f"- optimiser: {config.optimizer}, peak rate {config.learning_rate}, "
            f"batch {config.batch_size}, temperature {config.temperature}, "
            f"{config.epochs} epochs",
            "",
            "| measure | value |",
            "|---|---|",
        ]
        rows = [
            ("contrastive loss (last epoch)", pre["contrastive_loss"]),
            ("contrastive accuracy (last epoch)", pre["contrastive_accuracy"]),
            ("linear-probe accuracy, validation", pre["probe_validation_accuracy"]),
            (
                "majority-class accuracy, validation",
                pre["validation_majority_class_accuracy"],
            ),
            ("pretraining images/s (all epochs)", self.timings.get("images_per_s")),
            (
                "pretraining images/s (after epoch 1)",
                self.timings.get("images_per_s_after_first_epoch"),
            ),
        ]
        lines += [f"| {name} | {report.format_number(value)} |" for name, value in rows]
        history_path = self.run_dir / "history.csv"
        if history_path.exists():
            curves = report.plot_training_curves(pd.read_csv(history_path))
            if curves is not None:
                report._save_figure(curves, figures / "training_curves.png")
                lines += ["", "![training curves](figures/training_curves.png)"]
        if config.tsne_examples:
            features, labelled = interpret_embeddings.encode(
                model.encoder,
                self.builder,
                "validation",
                max_examples=config.tsne_examples,
                channel_indices=tasks.channel_indices_for(
                    config.channels, self.channel_names
                )
                if config.channels
                else None,
            )
            if len(features) >= 3:
                points = interpret_embeddings.tsne_embedding(features, seed=config.seed)
                interpret_embeddings.plot_embedding(
                    points,
                    labelled,
                    figures / "tsne_embedding.png",
                    title="t-SNE of encoder features, validation split "
                    f"({len(points)} images)",
                )
                lines += ["", "![t-SNE](figures/tsne_embedding.png)"]
        write_text_atomic(self.run_dir / "report.md", "\n".join(lines) + "\n")
        # metrics.json last: its presence marks the run finished.
        write_json_atomic(self.run_dir / "metrics.json", metrics)
        print(f"flarekit: report written to {self.run_dir / 'report.md'}")


class FinetuneExperiment(Experiment):
    """Supervised training of a (pretrained) encoder plus head on a label fraction.

    Config keys beyond the common ones (see network_models/ssl/finetune_binary):
    encoder_path, encoder_weights, label_fraction, min_steps_per_epoch,
    freeze_epochs, finetune_learning_rate, linear_probe.

    A pretrained encoder ("pretrained" weights from `encoder_path`) trains its
    head alone for `freeze_epochs` epochs at `learning_rate`, then everything
    at `finetune_learning_rate`; with `linear_probe` the backbone stays frozen.
    A randomly initialised encoder has nothing to protect: all of it trains at
    `learning_rate` from the first epoch.
    """

    # Phases fit in separate model.fit calls, each of which starts a new pass
    # over the data: one epoch per pass, reshuffled by the dataset each time.
    epoch_windowed_data = False

    @classmethod
    def check_config(cls, config) -> None:
        _refuse_early_stopping(
            config,
            "its frozen and unfrozen phases each run their set epochs, so that "
            "every arm of a label-efficiency comparison trains alike",
        )

    def prepare_data(self):
        from flarekit.data import pipeline, subsets

        super().prepare_data()
        config = self.config
        if not 0 < config.label_fraction <= 1:
            raise ConfigError(
                f"Config key 'label_fraction' is {config.label_fraction!r}; expected a "
                "share in (0, 1]."
            )
        flux = pipeline.read_columns(self.builder, "train", ["peak_flux"])["peak_flux"]
        self.label_indices = subsets.label_subset_indices(
            len(flux), config.label_fraction, seed=config.seed
        )
        self._train_labels = self.task.labels_from_flux(
            flux.to_numpy()[self.label_indices]
        )
        # A small subset's epoch is a few steps: repeat it up to
        # min_steps_per_epoch steps, so that it gets enough optimizer steps
        # without paying for a full validation pass after each few steps.
        steps = -(-len(self.label_indices) // config.batch_size)
        repeat = config.min_steps_per_epoch > steps
        self.steps_per_epoch = config.min_steps_per_epoch if repeat else None
        self.images_per_epoch = (
            config.min_steps_per_epoch * config.batch_size
            if repeat
            else len(self.label_indices)
        )
        if repeat or config.label_fraction < 1:
            self.train = subsets.subset_dataset(
                self.builder,
                "train",
                self.label_indices,
                self.task,
                batch_size=config.batch_size,
                seed=config.seed,
                repeat=repeat,
            )

    def pretrained(self) -> bool:
        return (
            bool(self.config.encoder_path)
            and self.config.encoder_weights == "pretrained"
        )

    def phases(self) -> list[tuple[int, int, bool, float]]:
        """(first epoch, end epoch, backbone trainable, learning rate) of each phase."""
        config = self.config
        if not self.pretrained():
            return [(0, config.epochs, True, config.learning_rate)]
        if config.linear_probe:
            return [(0, config.epochs, False, config.learning_rate)]
        frozen = min(config.freeze_epochs, config.epochs)
        phases = [(0, frozen, False, config.learning_rate)]
        phases.append((frozen, config.epochs, True, config.finetune_learning_rate))
        return [phase for phase in phases if phase[1] > phase[0]]

    def recalibrate_batch_norm(self, model, images: int = 512) -> None:
        """AdaBN: batch-norm statistics of `images` unlabelled training images,
        strided over the whole training period (`models.recalibrate_batch_norm`)."""
        from flarekit import models
        from flarekit.data import pipeline

        samples = self.builder.info.splits["train"].num_examples
        data = pipeline.make_dataset(
            self.builder, "train", task=self.task, batch_size=None, cache=False
        ).shard(max(1, samples // images), 0)
        batch = next(iter(data.batch(images)))[0]
        count = models.recalibrate_batch_norm(model, batch)
        self.timings["batch_norm_layers_recalibrated"] = count

    def compile_phase(self, model, trainable: bool, learning_rate: float):
        """Freeze or unfreeze the backbone, then compile the task's loss and
        metrics (`Experiment.compile`) at `learning_rate`."""
        from flarekit import models

        models.set_backbone_trainable(model, trainable)
        self.compile(model)
        model.optimizer.learning_rate = learning_rate
        return model

    # ---- the run's hooks --------------------------------------------------
    def build_model(self):
        """The network, normalised on unlabelled training images; compiled per
        phase in `fit`."""
        model = self.build_network(self.config)
        self.check_input_shape(model)
        # Statistics of unlabelled training images of this dataset, for both
        # sides of a comparison (a pretrained encoder's statistics came from
        # its pretraining images).
        self.adapt_normalization(model)
        if self.config.recalibrate_batch_norm:
            self.recalibrate_batch_norm(model)
            # Features downstream of the new statistics: adapt them again.
            self.adapt_normalization(model)
        return model

    def fit(self, model, state: dict, **unused) -> float:
        """Each phase from the last committed epoch: recompiling resets the
        optimizer, so each phase starts fresh."""
        config = self.config
        epochs_done = int(state.get("epochs_done", 0))
        callbacks = self.callbacks(state)
        started = time.perf_counter()
        trained = 0
        for first, end, trainable, rate in self.phases():
            if end <= epochs_done:
                continue
            with self.strategy.scope():
                self.compile_phase(model, trainable, rate)
            model.fit(
                self.train,
                validation_data=self.validation,
                epochs=end,
                initial_epoch=max(first, epochs_done),
                steps_per_epoch=self.steps_per_epoch,
                callbacks=callbacks,
                verbose=fit_verbosity(config.verbose),
                shuffle=False,  # the dataset shuffles itself, seeded
            )
            trained += end - max(first, epochs_done)
        seconds = time.perf_counter() - started
        if trained:
            self.timings.update(
                train_s=seconds,
                epochs_trained=trained,
                train_images_per_s=self.images_per_epoch * trained / seconds,
            )
        return seconds if trained else 0.0

    def settings(self) -> dict:
        settings = super().settings()
        config = self.config
        settings.update(
            transfer={
                "encoder_path": config.encoder_path,
                "encoder_weights": config.encoder_weights
                if config.encoder_path
                else "random (built from config)",
                "label_fraction": config.label_fraction,
                "labelled_examples": len(self.label_indices),
                "min_steps_per_epoch": config.min_steps_per_epoch,
                "recalibrate_batch_norm": config.recalibrate_batch_norm,
                "optimizer_steps": config.epochs
                * (
                    self.steps_per_epoch
                    or -(-len(self.label_indices) // config.batch_size)
                ),
                "phases": [
                    {
                        "epochs": [first, end],
                        "backbone_trainable": trainable,
                        "learning_rate": rate,
                    }
                    for first, end, trainable, rate in self.phases()
                ],
            },
            aggregation=f"single run, seed {config.seed} (subset and initialisation)",
        )
        return settings
