"""The experiment runner: one sequence for every trainer.

An experiment is a folder with two files (DESIGN.md, "Experiments"):

- `config.py`: flat lowercase constants, plus a `smoke` dict of overrides
  that make a CPU run of under a minute;
- `network.py`: `build_network(config) -> keras.Model`, and a `__main__`
  that calls `flarekit.experiments.main(__file__)`.

`Experiment.run` owns the whole sequence, in this order, for every trainer:

1. the strategy (before any dataset: TensorFlow accepts collective-op
   settings only before its runtime starts), the seed, the precision policy
   (`precision.choose_policy`);
2. `prepare_data()`: the dataset (built on first use) and its batches;
3. the seed again, so that whatever building or reading the dataset drew
   from the random state, the model starts from the same weights;
4. `train()`: resume from the last committed epoch or `build_model()`, then
   `fit()` with atomic checkpoints and TensorBoard logs;
5. `finish(model)`: predictions, metrics, report.

A trainer overrides the small hooks (`prepare_data`, `build_model`,
`compile`, `fit_arguments`, `predictions`, `settings`, `finish`), declares
its config defaults in `DEFAULTS`, and registers in `config.TRAINERS`.

Command line of every `network.py`:

    python network.py [--smoke] [--set key=value ...] [--fresh] [--output-dir DIR] [--debug]

A config or protocol error prints one line naming the file, the key and the
allowed values, and exits with status 2 (`--debug` shows the traceback).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.util
import io
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from flarekit.experiments.checkpoints import (
    STATE_FILE,
    RunCheckpoint,
    load_saved_model,
    maximises,
    restore_seed_states,
    resume_point,
)
from flarekit.experiments.config import (
    Config,
    ConfigError,
    load_config,
    parse_override,
    trainer_class,
)
from flarekit.experiments import distribute
from flarekit.data.splits import EvaluationSetError
from flarekit.experiments.precision import choose_policy
from flarekit.io import write_csv_atomic, write_json_atomic, write_text_atomic

CONFIG_FILE = "config.json"
# Features written beside each prediction when the dataset has them.
PREDICTION_FEATURES = (
    "timestamp",
    "region",
    "peak_flux",
    "previous_peak_flux",
    "goes_class",
    "probability",
)
TIMINGS_FILE = "timings.json"
# config.json: the resolved config, plus what was decided at run time from the
# machine (not config keys: a resumed run may run on another machine).
RESOLVED_KEY = "resolved"


def set_seed(seed: int, deterministic: bool = True) -> None:
    """Seed Python, numpy, TensorFlow and Keras; optionally make TF ops deterministic.

    On a CPU, deterministic ops make the same seed give the same metrics on
    the same machine (README, "Determinism"), at a small cost in speed.
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(int(seed))
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def experiment_name(folder: Path) -> str:
    """'xray_flux_forecast/starting_point' for network_models/xray_flux_forecast/starting_point."""
    folder = Path(folder).resolve()
    parts = folder.parts
    if "network_models" in parts:
        index = len(parts) - 1 - parts[::-1].index("network_models")
        return "/".join(parts[index + 1 :])
    return folder.name


def runs_root(config: Config, folder: Path) -> Path:
    """Where run folders go: `FLAREKIT_RUNS_DIR`, else `output_dir` relative to the
    project (the folder above `network_models/`), else to the working directory."""
    if os.environ.get("FLAREKIT_RUNS_DIR"):
        return Path(os.environ["FLAREKIT_RUNS_DIR"])
    output = Path(config.output_dir)
    if output.is_absolute():
        return output
    parts = Path(folder).resolve().parts
    if "network_models" in parts:
        index = len(parts) - 1 - parts[::-1].index("network_models")
        return Path(*parts[:index]) / output
    return Path.cwd() / output


def new_run_folder(root: Path, name: str) -> Path:
    """A fresh `root/name/<UTC time>` folder (suffixed if two start in one second)."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    base = Path(root) / name
    folder = base / stamp
    suffix = 1
    while folder.exists():
        folder = base / f"{stamp}_{suffix}"
        suffix += 1
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "figures").mkdir()
    return folder


def find_resumable_run(root: Path, name: str, config: Config) -> Path | None:
    """The latest unfinished run of this experiment with the same config, if any."""
    base = Path(root) / name
    if not base.is_dir():
        return None
    for folder in sorted(base.iterdir(), reverse=True):
        if not (folder / CONFIG_FILE).exists() or (folder / "metrics.json").exists():
            continue
        try:
            saved = json.loads((folder / CONFIG_FILE).read_text())
        except (OSError, json.JSONDecodeError):
            continue
        saved.pop(RESOLVED_KEY, None)
        if saved == config.to_json() and (folder / "checkpoints" / STATE_FILE).exists():
            return folder
    return None


def _import_network(network_file: Path):
    spec = importlib.util.spec_from_file_location(
        f"flarekit_experiment_{abs(hash(str(network_file)))}", network_file
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "build_network"):
        raise ConfigError(f"{network_file} defines no build_network(config).")
    return module


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Train, evaluate and report an experiment."
    )
    parser.add_argument(
        "--smoke", action="store_true", help="tiny CPU run (config's smoke overrides)"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="start a new run even if one can be resumed",
    )
    parser.add_argument("--output-dir", default=None, help="root folder of run folders")
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks of config errors"
    )
    return parser.parse_args(argv)


def resolved_settings(config: Config) -> dict:
    """What the run decides from the machine: the precision policy and why."""
    policy, reason = choose_policy(config.mixed_precision)
    return {"precision": policy, "precision_reason": reason}


def run(network_file, argv=None, **overrides) -> Path:
    """Train, evaluate and report the experiment whose `network.py` is `network_file`.

    Args:
        network_file: path of the experiment's network.py (pass `__file__`).
        argv: command-line arguments (default: sys.argv[1:]; [] in notebooks).
        **overrides: config overrides (e.g. `epochs=1`).

    Returns:
        The run folder.

    Raises:
        ConfigError: a config or protocol error, before any run folder exists.
    """
    if argv is None:
        argv = [] if "ipykernel" in sys.modules else sys.argv[1:]
    args = parse_args(argv)
    folder = Path(network_file).resolve().parent
    cli_overrides = dict(parse_override(text) for text in args.set)
    cli_overrides.update(overrides)
    if args.output_dir:
        cli_overrides["output_dir"] = args.output_dir
    # network.py first: a task class it registers is a valid config `task`.
    module = _import_network(Path(network_file).resolve())
    config = load_config(
        folder / "config.py", smoke=args.smoke, overrides=cli_overrides
    )
    trainer = trainer_class(config.trainer)
    # Refuse a config the trainer cannot run before any run folder is made.
    trainer.check_config(config)
    resolved = resolved_settings(config)
    name = experiment_name(folder)
    root = runs_root(config, folder)
    if config.strategy == "multi_worker" and not distribute.is_chief():
        # Every worker trains and checkpoints; only the chief writes the run
        # folder, the others keep their (identical) files in a scratch folder.
        root = root / ".workers" / f"worker-{distribute.worker_index()}"
    run_dir = None if args.fresh else find_resumable_run(root, name, config)
    if run_dir is not None:
        print(
            f"flarekit: resuming unfinished run {run_dir} (use --fresh to start anew)"
        )
    else:
        run_dir = new_run_folder(root, name)
        write_json_atomic(
            run_dir / CONFIG_FILE, {**config.to_json(), RESOLVED_KEY: resolved}
        )
        print(f"flarekit: new run {run_dir}")
    print(
        f"flarekit: precision {resolved['precision']} ({resolved['precision_reason']})"
    )
    return trainer(config, module.build_network, run_dir, name=name).run()


def main(network_file, argv=None) -> Path | None:
    """`run` for a `network.py`'s `__main__`: a config or protocol error prints
    one line naming the file, key and allowed values and exits with status 2
    (`--debug` re-raises it with its traceback)."""
    if argv is None:
        argv = sys.argv[1:]
    try:
        return run(network_file, argv)
    except (ConfigError, EvaluationSetError, FileNotFoundError) as error:
        if "--debug" in argv:
            raise
        print(f"flarekit: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def run_experiment(
    folder, smoke: bool = False, fresh: bool = False, **overrides
) -> Path:
    """`run` for notebooks and scripts: an experiment folder and keyword overrides.

    Example:
        >>> run_dir = run_experiment(
        ...     "network_models/xray_flux_forecast/starting_point", smoke=True, epochs=1)
    """
    argv = (["--smoke"] if smoke else []) + (["--fresh"] if fresh else [])
    return run(Path(folder) / "network.py", argv, **overrides)


def find_experiment(name: str) -> Path:
    """The folder of experiment `name` ("xray_flux_forecast/starting_point") in
    the project's network_models/, or `name` itself if it is a folder."""
    from flarekit.data.pipeline import REPOSITORY_ROOT

    for candidate in (Path(name), REPOSITORY_ROOT / "network_models" / name):
        if (candidate / "network.py").exists():
            return candidate.resolve()
    raise FileNotFoundError(
        f"No experiment {name!r}: expected network_models/{name}/network.py."
    )


def predict_with_features(model, data, keep, num_outputs: int):
    """Run `model` over a dataset of `(inputs, targets, features)` batches.

    Args:
        model: a compiled Keras model.
        data: batches from `make_dataset(..., keep_features=keep)`.
        keep: the feature names carried beside each batch.
        num_outputs: width of the model's output (for an empty dataset).

    Returns:
        (outputs [n, num_outputs] float64, {feature: numpy array over all
        samples}), with byte strings decoded to str.
    """
    outputs, columns = [], {key: [] for key in keep}
    for inputs, _, meta in data:
        outputs.append(np.asarray(model.predict_on_batch(inputs), dtype=np.float64))
        for key in keep:
            columns[key].append(meta[key].numpy())
    merged = {}
    for key, parts in columns.items():
        values = np.concatenate(parts) if parts else np.array([])
        if values.dtype == object:
            values = np.array(
                [v.decode() if isinstance(v, bytes) else v for v in values]
            )
        merged[key] = values
    output = np.concatenate(outputs) if outputs else np.zeros((0, num_outputs))
    return output, merged


def fit_verbosity(verbose):
    """`model.fit`'s verbose for the config's: "auto" is a progress bar on a
    terminal or in Jupyter, and one line per epoch elsewhere (a log file, CI,
    papermill), where a bar's redraws pile up into one unreadable line."""
    import sys

    if verbose != "auto":
        return verbose
    interactive = "ipykernel" in sys.modules or getattr(sys.stdout, "isatty", lambda: False)()
    return 1 if interactive else 2


def ema_options(config) -> dict:
    """Optimizer options of `ema_momentum` (0 = off): an exponential moving
    average of the weights, which `average_weights_each_epoch` writes over
    them at the end of every epoch, so that validation, the best-epoch
    checkpoint and the next epoch all start from the average rather than from
    wherever the last noisy step left the weights."""
    momentum = float(config.get("ema_momentum", 0.0))
    return {"use_ema": True, "ema_momentum": momentum} if momentum else {}


def _normalization_layers(model) -> list:
    from flarekit.layers import ChannelNormalization

    return [layer for layer in model._flatten_layers()
            if isinstance(layer, ChannelNormalization)]


def adapt_normalization(model, input_batches) -> None:
    """Fit every ChannelNormalization layer of `model` on the inputs that reach
    it from `input_batches` (a re-iterable of model-input batches: a
    `tf.data.Dataset` or a list; training inputs only)."""
    import keras

    for layer in _normalization_layers(model):
        upstream = keras.Model(model.inputs, layer.input)
        layer.adapt(upstream.predict_on_batch(x) for x in input_batches)


def average_weights_each_epoch():
    """The callback of `ema_momentum` (an `AverageWeightsEachEpoch`)."""
    import keras

    class AverageWeightsEachEpoch(keras.callbacks.Callback):
        """Writes the optimizer's moving average of the weights over them after
        the last training step of each epoch (`ema_momentum`).

        Keras can do this inside the train step (`ema_overwrite_frequency`),
        but under MirroredStrategy that update fails in replica context; here
        it runs between steps, in cross-replica context, on any strategy.
        """

        def on_test_begin(self, logs=None):
            # Validation follows the epoch's last step: average first.
            self._write_average()

        def on_epoch_end(self, epoch, logs=None):
            # Before the checkpoint (this callback comes first); a no-op when
            # validation already wrote the average (no step since).
            self._write_average()

        def _write_average(self):
            self.model.optimizer.finalize_variable_values(self.model.trainable_variables)

    return AverageWeightsEachEpoch()


def epoch_tensorboard(log_dir):
    """A TensorBoard callback that logs once per epoch and does nothing per batch.

    Keras 3.15's `TensorBoard(update_freq="epoch")` still calls
    `summary.scalar` for every log of every training batch (with no writer
    set, each call is wasted work on the training loop's thread); this one
    only counts batches, so the epoch summaries are the same.
    """
    import keras

    class EpochTensorBoard(keras.callbacks.TensorBoard):
        def on_train_batch_begin(self, batch, logs=None):
            self._global_train_batch += 1

        def on_train_batch_end(self, batch, logs=None):
            pass

        def on_test_batch_begin(self, batch, logs=None):
            self._global_test_batch += 1

    return EpochTensorBoard(
        log_dir=str(log_dir),
        histogram_freq=0,
        write_graph=False,
        write_steps_per_second=False,
        update_freq="epoch",
        profile_batch=0,
    )


class Experiment:
    """One run of a config and a network builder: the supervised trainer, and
    the base every other trainer extends by overriding hooks.

    Args:
        config: a `Config`.
        build_network: `build_network(config) -> keras.Model` (uncompiled).
        run_dir: the run folder (made by `new_run_folder`).
        name: experiment name for reports.
    """

    # Config keys this trainer adds to `config.COMMON_DEFAULTS`, with defaults.
    DEFAULTS: dict = {"learning_rate_schedule": "constant", "ema_momentum": 0.0}
    # The logged quantity whose minimum marks checkpoints/best.keras.
    monitor = "val_loss"
    # True: self.train holds the batches of every remaining epoch, each epoch's
    # order a function of (seed, epoch), so that a resumed run trains on what
    # an uninterrupted one would.
    epoch_windowed_data = True

    @classmethod
    def check_config(cls, config: Config) -> None:
        """Raise ConfigError if this trainer cannot run `config`; called before
        the run folder exists. Trainers with protocol rules (e.g. what may be
        oversampled) override it."""

    def __init__(self, config: Config, build_network, run_dir: Path, name: str = ""):
        self.config = config
        self.build_network = build_network
        self.run_dir = Path(run_dir)
        self.name = name or self.run_dir.parent.name
        self.timings = {}
        self.strategy = None
        self.replicas = 1
        self.initial_epoch = 0
        self.precision = {"precision": "float32", "precision_reason": "not yet set"}

    # ---- the sequence -----------------------------------------------------
    def run(self) -> Path:
        """Set up, prepare data, train (or resume), finish; returns the run folder."""
        config = self.config
        self.setup()
        state, model_path = resume_point(self.run_dir / "checkpoints")
        # prepare_data builds the training batches from this epoch on (resume).
        self.initial_epoch = int(state.get("epochs_done", 0))
        self.prepare_data()
        if config.strategy == "multi_worker" and hasattr(self, "train"):
            from flarekit.data.pipeline import shard_by_data

            self.train = shard_by_data(self.train)
            self.validation = shard_by_data(self.validation)
        # Building a dataset on first use may draw from the global random state;
        # seeding again here makes the first run and every later run with the
        # same config start from the same weights and dropout masks.
        set_seed(config.seed, config.deterministic)
        model = self.train_model(state, model_path)
        self.write_timings()
        self.finish(model)
        return self.run_dir

    def setup(self) -> None:
        """Strategy first (a multi-worker strategy configures collective ops,
        which TensorFlow accepts only before any dataset exists), then the seed
        and the precision policy."""
        import keras

        config = self.config
        self.strategy = distribute.make_strategy(config.strategy)
        self.replicas = self.strategy.num_replicas_in_sync
        if config.batch_size % self.replicas:
            raise ConfigError(
                f"config key 'batch_size' is {config.batch_size}: the global batch, "
                f"which strategy {config.strategy!r} splits across {self.replicas} "
                "replicas; use a multiple of that."
            )
        set_seed(config.seed, config.deterministic)
        policy, reason = choose_policy(config.mixed_precision)
        keras.mixed_precision.set_global_policy(policy)
        self.precision = {"precision": policy, "precision_reason": reason}

    def train_model(self, state: dict, model_path):
        """Resume or build the model under the strategy, fit it, return the
        model to evaluate (the best checkpoint)."""
        with self.strategy.scope():
            if state:
                model = load_saved_model(model_path)
                restore_seed_states(model, state.get("seed_states"))
            else:
                model = self.build_model()
        distribute.synchronize_batch_statistics(model, self.strategy)
        # The replicas the model's train step actually runs on (timings.json).
        self.timings["replicas"] = int(model.distribute_strategy.num_replicas_in_sync)
        self._write_summary(self.summary_model(model))
        self.fit(model, state)
        return self.best_model(model)

    def build_model(self):
        """The network, checked against the data, normalised on the training
        split, compiled."""
        model = self.build_network(self.config)
        self.check_input_shape(model)
        self.adapt_normalization(model)
        return self.compile(model)

    def summary_model(self, model):
        """The model whose summary goes to summary.txt."""
        return model

    def callbacks(self, state: dict, run_dir: Path | None = None) -> list:
        """Atomic per-epoch checkpoints and TensorBoard logs, in `run_dir`."""

        run_dir = Path(run_dir or self.run_dir)
        return [
            # First: the average is in the weights before anything saves them.
            *([average_weights_each_epoch()] if self.ema_options() else []),
            RunCheckpoint(
                run_dir,
                monitor=self.monitor,
                history=state.get("history"),
                best=state.get("best"),
                patience=self.config.get("early_stopping_patience", 0),
                since_best=state.get("epochs_since_best", 0),
            ),
            epoch_tensorboard(run_dir / "tensorboard"),
        ]

    def fit_arguments(self) -> dict:
        """Keyword arguments of `model.fit` beyond data, epochs and callbacks."""
        return {
            # Set when self.train holds the batches of all remaining epochs
            # (make_dataset(epochs=...)), so that Keras reads on across epochs.
            "steps_per_epoch": getattr(self, "steps_per_epoch", None),
            "class_weight": self.class_weight(),
            "shuffle": False,  # the dataset shuffles itself, seeded
        }

    def fit(
        self,
        model,
        state: dict,
        train=None,
        validation=None,
        run_dir=None,
        extra_callbacks=(),
        **arguments,
    ) -> float:
        """`model.fit` from the last committed epoch to `config.epochs`, with the
        run's callbacks, in `run_dir` (default: the run folder); `arguments`
        replace `fit_arguments()`'s. Stops early when `early_stopping_patience`
        epochs pass without a better monitored value (`RunCheckpoint`). Records
        timings; returns the seconds spent (0 when nothing was left to train:
        every epoch done, or the run had stopped early before a resume)."""
        config = self.config
        epochs_done = int(state.get("epochs_done", 0))
        if epochs_done >= config.epochs or state.get("stopped_early"):
            return 0.0
        started = time.perf_counter()
        history = model.fit(
            self.train if train is None else train,
            validation_data=self.validation if validation is None else validation,
            epochs=config.epochs,
            initial_epoch=epochs_done,
            callbacks=self.callbacks(state, run_dir) + list(extra_callbacks),
            verbose=fit_verbosity(config.verbose),
            **{**self.fit_arguments(), **arguments},
        )
        seconds = time.perf_counter() - started
        self.timings["train_s"] = seconds
        trained = len(history.epoch)
        self.timings["epochs_trained"] = trained
        if trained < config.epochs - epochs_done:
            self.timings["stopped_early_after_epoch"] = epochs_done + trained
        samples = self.train_examples()
        if samples:
            self.timings["train_images_per_s"] = samples * trained / seconds
        return seconds

    def train_examples(self) -> int:
        """Training examples seen in one epoch (for images/s)."""
        return self.builder.info.splits["train"].num_examples

    def best_model(self, model):
        """The checkpoint to evaluate: best.keras (lowest monitored loss)."""
        checkpoints = self.run_dir / "checkpoints"
        best_path = checkpoints / "best.keras"
        if self.replicas > 1 and not best_path.exists():
            best_path = resume_point(checkpoints)[1] or best_path
        if not best_path.exists():
            return model
        # Several replicas: evaluate the checkpoint outside the strategy, on
        # one device (predict_on_batch under a strategy gives every replica
        # the whole batch and concatenates their outputs; multi-worker
        # prediction would need collective ops).
        local = self.replicas > 1
        with contextlib.nullcontext() if local else self.strategy.scope():
            return load_saved_model(best_path)

    def finish(self, model) -> None:
        """Predictions, metrics, report."""
        self.evaluate_and_report(model)

    def write_timings(self, run_dir: Path | None = None) -> None:
        """timings.json: costs apart from scores, so that metrics.json of two
        runs with the same seed compare byte for byte."""
        write_json_atomic(
            Path(run_dir or self.run_dir) / TIMINGS_FILE,
            {**self.timings, **self.precision},
        )

    # ---- data -------------------------------------------------------------
    def load_dataset(self):
        """The dataset builder (prepared on first use), its metadata and channel
        names; every trainer's `prepare_data` starts here."""
        from flarekit.data import pipeline

        config = self.config
        started = time.perf_counter()
        self.builder = pipeline.get_builder(config.dataset, config.data_dir or None)
        self.timings["prepare_data_s"] = time.perf_counter() - started
        self.metadata = dict(self.builder.info.metadata or {})
        self.channel_names = pipeline.channel_names(self.builder)
        return self.builder

    def prepare_data(self):
        from flarekit.data import pipeline, tasks

        config = self.config
        self.load_dataset()
        self.task = tasks.from_config(config, self.channel_names)
        splits = self.builder.info.splits
        for split in ("train", "validation", "test"):
            if split not in splits or splits[split].num_examples == 0:
                raise ValueError(
                    f"Dataset {config.dataset} has no (or an empty) {split!r} split; "
                    f"its splits are { {k: v.num_examples for k, v in splits.items()} }."
                )
        common = dict(task=self.task, batch_size=config.batch_size, seed=config.seed)
        # The batches of every remaining epoch, each epoch's order a function of
        # (seed, epoch), so that a resumed run trains on what an uninterrupted
        # one would. config.batch_size is the global batch: a strategy splits
        # it across replicas.
        first_epoch = self.initial_epoch
        replicas = self.replicas
        train_size = splits["train"].num_examples
        # A last batch that leaves a replica empty is dropped (TF's CPU kernels
        # reject empty batches); one device keeps it.
        drop_remainder = replicas > 1 and distribute.starves_a_replica(
            train_size, config.batch_size, replicas
        )
        epochs = (
            (min(first_epoch, config.epochs), config.epochs)
            if self.epoch_windowed_data
            else None
        )
        self.train = pipeline.make_dataset(
            self.builder,
            "train",
            shuffle=True,
            oversample=config.oversample or None,
            epochs=epochs,
            drop_remainder=drop_remainder,
            **common,
        )
        self.steps_per_epoch = (
            None
            if epochs is None
            else pipeline.epoch_steps(train_size, config.batch_size, drop_remainder)
        )
        common["batch_size"] = distribute.replica_batch_size(
            splits["validation"].num_examples,
            config.batch_size,
            self.replicas,
        )
        self.validation = pipeline.make_dataset(self.builder, "validation", **common)

    def input_shape(self) -> tuple:
        feature = self.builder.info.features[self.task.input_key]
        shape = list(feature.shape)
        if self.task.channel_indices:
            shape[-1] = len(self.task.channel_indices)
        return tuple(shape)

    # ---- model ------------------------------------------------------------
    def compile(self, model):
        import keras

        model.compile(
            optimizer=keras.optimizers.Adam(self.learning_rate(), **self.ema_options()),
            loss=self.task.loss(),
            metrics=self.task.metrics(),
        )
        return model

    def ema_options(self) -> dict:
        """Optimizer options of the config's `ema_momentum` (`ema_options`)."""
        return ema_options(self.config)

    def learning_rate(self):
        """`learning_rate`, constant or (`learning_rate_schedule = "cosine"`)
        decayed to 0 over the run's optimizer steps: the last epochs take small
        steps, so the checkpoint chosen on validation depends less on where one
        noisy step left the weights. A resumed run continues the schedule (the
        optimizer's step count is in the checkpoint)."""
        import keras

        config = self.config
        if config.get("learning_rate_schedule", "constant") == "constant":
            return config.learning_rate
        steps = getattr(self, "steps_per_epoch", None) or -(
            -self.train_examples() // config.batch_size
        )
        return keras.optimizers.schedules.CosineDecay(
            config.learning_rate, decay_steps=max(1, steps * config.epochs)
        )

    def normalization_data(self):
        """Batches of a strided subset of the training split: statistics that
        cover the whole training period, not just its start."""
        from flarekit.data import pipeline

        samples = self.builder.info.splits["train"].num_examples
        stride = max(1, samples // max(1, self.config.normalization_samples))
        return (
            pipeline.make_dataset(
                self.builder, "train", task=self.task, batch_size=None, cache=False
            )
            .shard(stride, 0)
            .batch(256)
        )

    def adapt_normalization(self, model, data=None) -> None:
        """Fit every ChannelNormalization layer of `model` on `data` (default:
        `normalization_data()`), training inputs only."""
        if not _normalization_layers(model):
            return
        data = self.normalization_data() if data is None else data
        adapt_normalization(model, data.map(lambda x, *_: x))

    def class_weight(self):
        if self.config.class_weight == "none":
            return None
        weights = None
        if self.config.class_weight == "balanced":
            weights = self.task.balanced_class_weight(self.train_base_rate())
        if weights is None:
            raise ValueError(
                f"Config key 'class_weight' is {self.config.class_weight!r}; expected "
                f"'none', or 'balanced' for a task that has balanced weights (binary); "
                f"the task is {self.task.name!r}."
            )
        return weights

    def train_base_rate(self) -> float:
        from flarekit.data import pipeline

        if not hasattr(self, "_train_labels"):
            flux = pipeline.read_columns(self.builder, "train", ["peak_flux"])[
                "peak_flux"
            ]
            self._train_labels = self.task.labels_from_flux(flux.to_numpy())
        return self.task.base_rate(self._train_labels)

    # ---- checks and summary ---------------------------------------------
    def check_input_shape(self, model) -> None:
        """The network takes what the dataset gives, or a ConfigError that says so
        (rather than a shape error from deep inside the first training step)."""
        inputs = getattr(model, "inputs", None)  # None for subclassed models
        if not inputs or len(inputs) != 1:
            return
        expected = tuple(self.input_shape())
        found = tuple(model.inputs[0].shape[1:])
        if len(found) != len(expected) or any(
            size is not None and size != want for size, want in zip(found, expected)
        ):
            raise ConfigError(
                f"The network's input shape {found} does not match {self.config.dataset}'s "
                f"{self.task.input_key!r} of shape {expected} (channels "
                f"{list(self.config.channels) or list(self.channel_names)}); check config "
                "keys such as 'image_size' and 'channels'."
            )

    def _write_summary(self, model) -> None:
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            model.summary(line_length=100)
        text = buffer.getvalue()
        text += f"\nexperiment: {self.name}\ndataset: {self.config.dataset}\n"
        text += f"channels: {list(self.channel_names)}\ntask: {self.task.describe()}\n"
        write_text_atomic(self.run_dir / "summary.txt", text)

    # ---- evaluation -------------------------------------------------------
    def kept_features(self) -> list:
        """The features carried beside each prediction, of those the dataset has."""
        return [key for key in PREDICTION_FEATURES if key in self.builder.info.features]

    def predictions(self, model, split: str):
        """One row per sample of `split`: metadata, label and the model's output."""
        keep = self.kept_features()
        return self.prediction_frame(
            model, self.prediction_data(split, keep), split, keep
        )

    def prediction_data(self, split: str, keep):
        """`split` in large unshuffled batches, with the `keep` features beside."""
        from flarekit.data import pipeline

        return pipeline.make_dataset(
            self.builder,
            split,
            task=self.task,
            batch_size=self.config.batch_size * 4,
            cache=False,
            keep_features=keep,
        )

    def prediction_frame(self, model, data, split: str, keep):
        """predictions.csv rows of `model` over `data` (batches of `(inputs,
        targets, features)`): the kept features, the task's label and output
        columns, and the synthetic Sun's true probability where known."""
        import pandas as pd

        from flarekit.data import goes

        output, columns = predict_with_features(
            model, data, keep, self.task.num_outputs
        )
        frame = pd.DataFrame(
            {"split": split, **{k: v for k, v in columns.items() if k != "probability"}}
        )
        peak_flux = frame["peak_flux"].to_numpy()
        if "previous_peak_flux" not in frame:
            frame["previous_peak_flux"] = np.nan
        if "goes_class" not in frame:
            frame["goes_class"] = goes.flux_to_class_index(peak_flux)
        frame["true_probability"] = self._true_probability(columns.get("probability"))
        labels = self.task.labels_from_flux(peak_flux)
        return self.task.prediction_columns(frame, output, labels)

    def _true_probability(self, probabilities):
        """The synthetic Sun's true probability for this task's threshold, else NaN.

        Args:
            probabilities: [n, k] true probabilities for the dataset's
                `probability_thresholds`, or None.
        """
        thresholds = list(self.metadata.get("probability_thresholds", ()))
        return self.task.true_probability(probabilities, thresholds)

    def settings(self) -> dict:
        """What makes this run's numbers comparable (SCIENCE.md), for the report."""
        config, metadata = self.config, self.metadata
        counts = {
            name: split.num_examples for name, split in self.builder.info.splits.items()
        }
        split_info = metadata.get("split", metadata.get("splits", {}))
        return {
            "experiment": self.name,
            "dataset": config.dataset,
            "dataset_version": str(self.builder.info.version),
            "task": self.task.name,
            "threshold": self.task.threshold,
            "classes": list(self.task.class_names),
            "horizon_hours": metadata.get("horizon_hours"),
            "window_rule": metadata.get(
                "window_rule",
                metadata.get("window", "largest flare peaking in (t, t + horizon]"),
            ),
            "label_definition": self._label_definition(metadata),
            "unit": metadata.get("unit", self._default_unit()),
            "flux_scale": metadata.get("flux_scale", "unstated"),
            "split": split_info,
            "split_counts": counts,
            "gap_days": split_info.get("gap_days")
            if isinstance(split_info, dict)
            else None,
            "allow_leakage": bool(split_info.get("allow_leakage", False))
            if isinstance(split_info, dict)
            else False,
            "channels": list(config.channels) or list(self.channel_names),
            "seed": config.seed,
            "aggregation": f"single run, seed {config.seed}",
            "bootstrap_samples": config.bootstrap_samples,
            "training": self._training_rule(),
            "smoke": config.smoke,
            "precision": f"{self.precision['precision']} "
            f"({self.precision['precision_reason']})",
        }

    def _training_rule(self) -> str:
        """Epochs and the checkpoint scored, in words (report, metrics.json)."""
        epochs, patience = self.config.epochs, self.config.get("early_stopping_patience", 0)
        higher = maximises(self.monitor)
        stop = (
            f"; stops after {patience} epochs without a {'higher' if higher else 'lower'} "
            f"{self.monitor}"
            if patience
            else ""
        )
        best = "highest" if higher else "lowest"
        return f"up to {epochs} epochs{stop}; the checkpoint of {best} {self.monitor} is scored"

    def _default_unit(self) -> str:
        if self.task.input_key == "frames":
            return "active-region sequence"
        return (
            "full disk" if "full_disk" in self.config.dataset else "active-region patch"
        )

    def _label_definition(self, metadata) -> str:
        return self.task.label_definition(metadata.get("horizon_hours", "?"))

    def evaluate_and_report(self, model) -> None:
        import pandas as pd

        from flarekit import metrics, report

        started = time.perf_counter()
        validation = self.predictions(model, "validation")
        test = self.predictions(model, "test")
        self.timings["predict_s"] = time.perf_counter() - started
        predictions = pd.concat([validation, test], ignore_index=True)
        write_csv_atomic(self.run_dir / "predictions.csv", predictions)
        self.write_timings()
        settings = self.settings()
        results = metrics.evaluate(
            self.task.evaluation,
            test,
            validation,
            train_base_rate=self.train_base_rate(),
            settings=settings,
        )
        history_path = self.run_dir / "history.csv"
        history = pd.read_csv(history_path) if history_path.exists() else None
        report.write_report(self.run_dir, results, settings, history, predictions)
        sections = self.task.report_sections(results)
        if sections:
            # The task's own sections follow the common ones (as a trainer's do).
            report_path = self.run_dir / "report.md"
            write_text_atomic(
                report_path, report_path.read_text() + "\n".join(sections) + "\n"
            )
        # metrics.json last: its presence marks the run finished (see find_resumable_run).
        write_json_atomic(self.run_dir / "metrics.json", results)
        print(f"flarekit: report written to {self.run_dir / 'report.md'}")
