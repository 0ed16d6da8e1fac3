"""Experiments: config loading, seeding, strategy, run folders, fit and evaluate.

An experiment is a folder with two files (DESIGN.md, "Experiments"):

- `config.py`: flat lowercase constants, plus a `smoke` dict of overrides
  that make a CPU run of under a minute;
- `network.py`: `build_network(config) -> keras.Model`, and a `__main__`
  that calls `flarekit.experiment.run(__file__)`.

`run` loads the config (unknown keys and type changes are errors), makes the
run folder `runs/<task>/<experiment>/<UTC time>/`, trains with Keras progress
bars, checkpoints every epoch atomically, and on completion writes
`predictions.csv`, `metrics.json`, `report.md` and figures. A run that was
interrupted (killed, preempted) resumes from its last checkpoint the next time
the same experiment is started with the same config.

Command line of every `network.py`:

    python network.py [--smoke] [--set key=value ...] [--fresh] [--output-dir DIR]
"""

from __future__ import annotations

import argparse
import ast
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

from flarekit.io import write_csv_atomic, write_json_atomic, write_text_atomic

# Keys every experiment has, whatever its network; their defaults apply when a
# config.py omits them. A config may add keys of its own for its network.
COMMON_DEFAULTS = {
    "trainer": "supervised",
    "data_dir": "",
    "channels": (),
    "threshold": "M1.0",
    "classes": ("quiet", "C", "M", "X"),
    "oversample": 0.0,
    "class_weight": "none",
    "mixed_precision": False,
    "strategy": "default",
    "deterministic": True,
    "seed": 0,
    "normalization_samples": 2048,
    "bootstrap_samples": 1000,
    "output_dir": "runs",
    "verbose": "auto",
}
REQUIRED_KEYS = ("dataset", "task", "batch_size", "epochs", "learning_rate")
# Config key `trainer` -> "module:Class" of the Experiment subclass that runs it.
# Each class takes (config, build_network, run_dir, name) and has run() -> run_dir.
TRAINERS = {
    "supervised": "flarekit.experiment:Experiment",
    "feature_class": "flarekit.feature_class_experiment:FeatureClassExperiment",
    "sequence_kfold": "flarekit.sequence_experiment:SequenceKFoldExperiment",
    "simclr": "flarekit.self_supervised:SimCLRExperiment",
    "finetune": "flarekit.self_supervised:FinetuneExperiment",
    "diffusion": "flarekit.generation_experiment:DiffusionExperiment",
    "cvae": "flarekit.generation_experiment:CVAEExperiment",
}


def trainer_class(name: str):
    """The Experiment class registered for config key `trainer`.

    Raises:
        ConfigError: an unknown trainer, listing the known ones.
    """
    if name not in TRAINERS:
        raise ConfigError(
            f"Config key 'trainer' is {name!r}; known trainers: {sorted(TRAINERS)}."
        )
    module, _, attribute = TRAINERS[name].partition(":")
    return getattr(importlib.import_module(module), attribute)


CONFIG_FILE = "config.json"
STATE_FILE = "state.json"


class ConfigError(ValueError):
    """A config key that does not exist, or a value of the wrong type."""


class Config(dict):
    """The resolved configuration of one experiment: a dict with attribute access."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(
                f"Config has no key {name!r}; keys are {sorted(self)}."
            ) from None

    def to_json(self) -> dict:
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in self.items()
        }


def _is_config_value(name: str, value) -> bool:
    return (
        not name.startswith("_")
        and name == name.lower()
        and name != "smoke"
        and isinstance(value, (bool, int, float, str, tuple, list, type(None)))
    )


def _coerce(key: str, old, new, source: str):
    """`new` converted to the type of `old`, or ConfigError."""
    if old is None or new is None:
        return new
    if isinstance(old, bool) or isinstance(new, bool):
        if isinstance(old, bool) and isinstance(new, bool):
            return new
    elif isinstance(old, float) and isinstance(new, int):
        return float(new)
    elif isinstance(old, (tuple, list)) and isinstance(new, (tuple, list)):
        return tuple(new)
    elif type(old) is type(new):
        return new
    raise ConfigError(
        f"{source}: config key {key!r} is {type(old).__name__} ({old!r}); "
        f"got {type(new).__name__} ({new!r})."
    )


def apply_overrides(config: dict, overrides: dict, source: str) -> dict:
    """Apply overrides, rejecting unknown keys and type changes.

    Raises:
        ConfigError: naming the key, the source of the override, and the known keys.
    """
    result = dict(config)
    for key, value in overrides.items():
        if key not in result:
            raise ConfigError(
                f"{source}: unknown config key {key!r}. Known keys: {sorted(result)}."
            )
        result[key] = _coerce(key, result[key], value, source)
    return result


def parse_override(text: str) -> tuple:
    """'epochs=3' -> ('epochs', 3); values are Python literals or plain strings."""
    if "=" not in text:
        raise ConfigError(f"Override {text!r} is not of the form key=value.")
    key, raw = text.split("=", 1)
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    return key.strip(), value


def load_config(path, smoke: bool = False, overrides=None) -> Config:
    """Load an experiment's `config.py`.

    Args:
        path: the config file (or the experiment folder holding it).
        smoke: apply the file's `smoke` overrides (a CPU run of under a minute).
        overrides: dict of further overrides (e.g. from `--set key=value`).

    Returns:
        A `Config`, with `COMMON_DEFAULTS` filled in and `smoke` recorded.

    Raises:
        ConfigError: a missing required key, an unknown key or a type change in
            `smoke` or `overrides`.
        FileNotFoundError: no config file.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "config.py"
    if not path.exists():
        raise FileNotFoundError(f"No experiment config at {path}.")
    namespace = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    values = {
        key: tuple(value) if isinstance(value, list) else value
        for key, value in namespace.items()
        if _is_config_value(key, value)
    }
    missing = [key for key in REQUIRED_KEYS if key not in values]
    if missing:
        raise ConfigError(f"{path}: required config keys {missing} are missing.")
    config = {**COMMON_DEFAULTS, **values}
    for key, default in COMMON_DEFAULTS.items():
        config[key] = _coerce(key, default, config[key], str(path))
    smoke_overrides = namespace.get("smoke", {})
    if not isinstance(smoke_overrides, dict):
        raise ConfigError(f"{path}: 'smoke' must be a dict of overrides.")
    if smoke:
        config = apply_overrides(config, smoke_overrides, f"{path} (smoke)")
    if overrides:
        config = apply_overrides(config, dict(overrides), "override")
    config["smoke"] = bool(smoke)
    return Config(config)


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


def make_strategy(name: str):
    """A tf.distribute strategy by config name.

    "default": one device; "mirrored": all local devices (GPUs, or the CPU
    devices configured as logical devices); "multi_worker": synchronous data
    parallelism across the workers named in TF_CONFIG; "tpu": a TPU cluster.

    Raises:
        ConfigError: an unknown strategy name.
    """
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        if tf.config.list_logical_devices("GPU"):
            return tf.distribute.MirroredStrategy()
        # No GPU: the CPU's logical devices (one, unless the program split it
        # with tf.config.set_logical_device_configuration before TF started).
        cpus = [device.name for device in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=cpus)
    if name == "multi_worker":

        class MultiWorkerStrategy(tf.distribute.MultiWorkerMirroredStrategy):
            # Two mismatches of Keras 3.15 and TF 2.21's collective reduce, which
            # takes one tensor at a time and only reduces an axis it has: Keras
            # reduces a whole (inputs, targets) batch in one call (to build a
            # distributed model), and its scalar logs "along axis 0".
            def reduce(self, reduce_op, value, axis):
                def reduce_one(item):
                    local = self.experimental_local_results(item)[0]
                    item_axis = None if getattr(local, "shape", ()) == () else axis
                    return super(MultiWorkerStrategy, self).reduce(
                        reduce_op, item, item_axis
                    )

                return tf.nest.map_structure(reduce_one, value)

        return MultiWorkerStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ConfigError(
        f"Config key 'strategy' is {name!r}; expected default, mirrored, multi_worker or tpu."
    )


def _task_of_tf_config() -> tuple:
    """(task type, index) from TF_CONFIG; ("worker", 0) when unset."""
    cluster = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = cluster.get("task", {})
    return task.get("type", "worker"), int(task.get("index", 0))


def worker_index() -> int:
    """This process's index among the workers of TF_CONFIG (0 when unset)."""
    return _task_of_tf_config()[1]


def is_chief() -> bool:
    """Whether this process writes the run folder in multi-worker training: the
    "chief" task, or worker 0 of a cluster that names no chief."""
    kind, index = _task_of_tf_config()
    cluster = json.loads(os.environ.get("TF_CONFIG") or "{}").get("cluster", {})
    if "chief" in cluster:
        return kind == "chief"
    return kind == "worker" and index == 0


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
        raise AttributeError(f"{network_file} defines no build_network(config).")
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
    return parser.parse_args(argv)


def run(network_file, argv=None, **overrides) -> Path:
    """Train, evaluate and report the experiment whose `network.py` is `network_file`.

    Args:
        network_file: path of the experiment's network.py (pass `__file__`).
        argv: command-line arguments (default: sys.argv[1:]; [] in notebooks).
        **overrides: config overrides (e.g. `smoke=True` is not a key: use argv).

    Returns:
        The run folder.
    """
    if argv is None:
        argv = [] if "ipykernel" in sys.modules else sys.argv[1:]
    args = parse_args(argv)
    folder = Path(network_file).resolve().parent
    cli_overrides = dict(parse_override(text) for text in args.set)
    cli_overrides.update(overrides)
    if args.output_dir:
        cli_overrides["output_dir"] = args.output_dir
    config = load_config(
        folder / "config.py", smoke=args.smoke, overrides=cli_overrides
    )
    module = _import_network(Path(network_file).resolve())
    trainer = trainer_class(config.trainer)
    # Refuse a config the trainer cannot run before any run folder is made.
    trainer.check_config(config)
    name = experiment_name(folder)
    root = runs_root(config, folder)
    if config.strategy == "multi_worker" and not is_chief():
        # Every worker trains and checkpoints; only the chief writes the run
        # folder, the others keep their (identical) files in a scratch folder.
        root = root / ".workers" / f"worker-{worker_index()}"
    run_dir = None if args.fresh else find_resumable_run(root, name, config)
    if run_dir is not None:
        print(
            f"flarekit: resuming unfinished run {run_dir} (use --fresh to start anew)"
        )
    else:
        run_dir = new_run_folder(root, name)
        write_json_atomic(run_dir / CONFIG_FILE, config.to_json())
        print(f"flarekit: new run {run_dir}")
    return trainer(config, module.build_network, run_dir, name=name).run()


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


class RunCheckpoint:
    """Keras callback factory: atomic per-epoch checkpoints, best model, history.

    After every epoch it writes, each atomically and in this order:
    `checkpoints/epoch-<k>.keras` (weights and optimizer state),
    `checkpoints/best.keras` when the monitored validation loss improved,
    `history.csv`, then `checkpoints/state.json` (epochs done, best value, the
    random-seed states of dropout and other random layers, which `.keras`
    files do not hold), which commits the epoch, and last renames
    `epoch-<k>.keras` to `last.keras`. A run killed at any moment therefore
    resumes from the last committed epoch, with the weights, optimizer and
    seed states of that epoch (`resume_point`).
    """

    def __new__(cls, run_dir: Path, monitor: str = "val_loss", history=None, best=None):
        import keras

        class _RunCheckpoint(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.run_dir = Path(run_dir)
                self.monitor = monitor
                self.rows = list(history or [])
                self.best = np.inf if best is None else best

            def on_epoch_end(self, epoch, logs=None):
                import pandas as pd

                logs = {key: float(value) for key, value in (logs or {}).items()}
                checkpoints = self.run_dir / "checkpoints"
                epoch_file = f"epoch-{epoch + 1}.keras"
                _save_model_atomic(self.model, checkpoints / epoch_file)
                value = logs.get(self.monitor, logs.get("loss", np.inf))
                if value < self.best:
                    self.best = value
                    _save_model_atomic(self.model, checkpoints / "best.keras")
                self.rows.append({"epoch": epoch + 1, **logs})
                write_csv_atomic(self.run_dir / "history.csv", pd.DataFrame(self.rows))
                write_json_atomic(
                    checkpoints / STATE_FILE,
                    {
                        "epochs_done": epoch + 1,
                        "best": self.best,
                        "monitor": self.monitor,
                        "history": self.rows,
                        "checkpoint": epoch_file,
                        "seed_states": seed_states(self.model),
                    },
                )
                os.replace(checkpoints / epoch_file, checkpoints / "last.keras")

        return _RunCheckpoint()


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


def _save_model_atomic(model, path: Path) -> None:
    temporary = path.with_name(f".{path.stem}.tmp.keras")
    model.save(temporary)
    os.replace(temporary, path)


def load_saved_model(path, compile: bool = True):
    """`keras.models.load_model` after importing every flarekit module that
    registers serialisable classes (layers, models, training algorithms), so
    a checkpoint of a SimCLR, DiffusionModel or ConditionalVAE loads in a
    fresh process whatever its network.py imported.

    Raises:
        FileNotFoundError: no file at `path`.
    """
    import keras

    import flarekit.layers
    import flarekit.models
    import flarekit.training  # noqa: F401  (registration side effects)

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No saved model at {path}.")
    return keras.models.load_model(path, compile=compile)


def resume_point(checkpoints: Path) -> tuple:
    """(state, model file) of the last epoch a run committed; ({}, None) if none.

    `state.json` is written after the epoch's model file and before that file
    is renamed to `last.keras` (`RunCheckpoint`), so the state always names a
    model file of its own epoch: `epoch-<k>.keras` while the rename is
    pending, else `last.keras`.
    """
    checkpoints = Path(checkpoints)
    if not (checkpoints / STATE_FILE).exists():
        return {}, None
    state = json.loads((checkpoints / STATE_FILE).read_text())
    pending = checkpoints / state.get("checkpoint", "last.keras")
    return state, pending if pending.exists() else checkpoints / "last.keras"


def _seed_variables(model) -> list:
    """The state variables of the model's SeedGenerators (dropout, noise, ...)."""
    weights = {id(weight) for weight in model.weights}
    return [variable for variable in model.variables if id(variable) not in weights]


def seed_states(model) -> dict:
    """{variable path: value} of every random-seed state of `model`."""
    return {
        f"{index}:{variable.path}": np.asarray(variable.numpy()).tolist()
        for index, variable in enumerate(_seed_variables(model))
    }


def restore_seed_states(model, states) -> None:
    """Set the seed states `seed_states` saved, so that dropout masks after a
    resume continue the sequence of the interrupted run.

    Raises:
        ValueError: the saved states do not match the model's random layers.
    """
    if not states:
        return
    variables = _seed_variables(model)
    keys = [f"{index}:{variable.path}" for index, variable in enumerate(variables)]
    if sorted(keys) != sorted(states):
        raise ValueError(
            f"Saved seed states {sorted(states)} do not match the model's random "
            f"layers {keys}; was the network changed since the checkpoint?"
        )
    for key, variable in zip(keys, variables):
        variable.assign(np.asarray(states[key], dtype=variable.dtype))


def replica_batch_size(num_examples: int, batch_size: int, replicas: int) -> int:
    """The batch size of an evaluation split under `replicas` replicas.

    Keras builds a distributed model from the first batch, which must split
    evenly across replicas, and no replica may get an empty batch (TF's CPU
    kernels reject them). tf.distribute fills replicas in order, batch_size /
    replicas each, so a last batch must be empty or fill all but the last
    replica. One replica: `batch_size`. Several: the largest multiple of
    `replicas` up to `batch_size` (and the split's size) that satisfies both.
    """
    if replicas < 2:
        return batch_size
    candidate = min(batch_size, num_examples) // replicas * replicas
    while candidate > replicas:
        if not starves_a_replica(num_examples, candidate, replicas):
            return candidate
        candidate -= replicas
    return replicas


def starves_a_replica(num_examples: int, batch_size: int, replicas: int) -> bool:
    """Whether the last batch leaves a replica with no example."""
    remainder = num_examples % batch_size
    return 0 < remainder <= batch_size - batch_size // replicas


def synchronize_batch_statistics(model, strategy) -> None:
    """Under a strategy with several replicas, batch normalisation uses the
    statistics of the global batch, as on one device (else each replica
    normalises by its own share of the batch, and metrics depend on the
    number of devices)."""
    if strategy.num_replicas_in_sync < 2:
        return
    import keras

    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = True


class Experiment:
    """One run of a config and a network builder: data, fit, evaluate, report.

    Args:
        config: a `Config`.
        build_network: `build_network(config) -> keras.Model` (uncompiled).
        run_dir: the run folder (made by `new_run_folder`).
        name: experiment name for reports.
    """

    @classmethod
    def check_config(cls, config: Config) -> None:
        """Raise if this trainer cannot run `config`; called before the run folder
        exists. Subclasses with protocol rules (e.g. what may be oversampled)
        override it."""

    def __init__(self, config: Config, build_network, run_dir: Path, name: str = ""):
        self.config = config
        self.build_network = build_network
        self.run_dir = Path(run_dir)
        self.name = name or self.run_dir.parent.name
        self.timings = {}

    # ---- data -------------------------------------------------------------
    def prepare_data(self):
        from flarekit.data import pipeline, tasks

        config = self.config
        started = time.perf_counter()
        self.builder = pipeline.get_builder(config.dataset, config.data_dir or None)
        self.timings["prepare_data_s"] = time.perf_counter() - started
        self.metadata = dict(self.builder.info.metadata or {})
        self.channel_names = pipeline.channel_names(self.builder)
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
        # Experiment.run sets initial_epoch; other callers get one epoch that
        # reshuffles on each pass, as before.
        first_epoch = getattr(self, "initial_epoch", None)
        replicas = getattr(self, "replicas", 1)
        train_size = splits["train"].num_examples
        # A last batch that leaves a replica empty is dropped (TF's CPU kernels
        # reject empty batches); one device keeps it.
        drop_remainder = replicas > 1 and starves_a_replica(
            train_size, config.batch_size, replicas
        )
        epochs = (
            None
            if first_epoch is None
            else (min(first_epoch, config.epochs), config.epochs)
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
        common["batch_size"] = replica_batch_size(
            splits["validation"].num_examples,
            config.batch_size,
            getattr(self, "replicas", 1),
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

        kind = self.task.kind
        if kind == "binary":
            loss, metrics = "binary_crossentropy", [keras.metrics.AUC(name="auc")]
        elif kind == "multiclass":
            loss, metrics = "sparse_categorical_crossentropy", ["accuracy"]
        else:
            loss, metrics = "mean_squared_error", ["mean_absolute_error"]
        model.compile(
            optimizer=keras.optimizers.Adam(self.config.learning_rate),
            loss=loss,
            metrics=metrics,
        )
        return model

    def adapt_normalization(self, model) -> None:
        """Fit every ChannelNormalization layer on training-split inputs only."""
        import keras

        from flarekit.data import pipeline
        from flarekit.layers import ChannelNormalization

        layers = [
            layer
            for layer in model._flatten_layers()
            if isinstance(layer, ChannelNormalization)
        ]
        if not layers:
            return
        samples = self.builder.info.splits["train"].num_examples
        stride = max(1, samples // max(1, self.config.normalization_samples))
        # A strided subset covers the whole training period, not just its start.
        data = (
            pipeline.make_dataset(
                self.builder, "train", task=self.task, batch_size=None, cache=False
            )
            .shard(stride, 0)
            .batch(256)
        )
        for layer in layers:
            upstream = keras.Model(model.inputs, layer.input)
            layer.adapt(upstream.predict_on_batch(x) for x, _ in data)

    def class_weight(self):
        if self.config.class_weight == "none":
            return None
        if self.config.class_weight != "balanced" or self.task.kind != "binary":
            raise ValueError(
                f"Config key 'class_weight' is {self.config.class_weight!r}; expected "
                "'none', or 'balanced' for a binary task."
            )
        rate = self.train_base_rate()
        return {0: 0.5 / (1 - rate), 1: 0.5 / rate}

    def train_base_rate(self) -> float:
        from flarekit.data import pipeline

        if not hasattr(self, "_train_labels"):
            flux = pipeline.read_columns(self.builder, "train", ["peak_flux"])[
                "peak_flux"
            ]
            self._train_labels = self.task.labels_from_flux(flux.to_numpy())
        if self.task.kind == "binary":
            return float(np.mean(self._train_labels))
        if self.task.kind == "multiclass":
            return [
                float(np.mean(self._train_labels == k))
                for k in range(self.task.num_outputs)
            ]
        return float(np.mean(self._train_labels))

    # ---- run --------------------------------------------------------------
    def run(self) -> Path:
        import keras

        config = self.config
        # First: a multi-worker strategy configures collective ops, which
        # TensorFlow accepts only before it has started (before any dataset).
        strategy = make_strategy(config.strategy)
        self.replicas = strategy.num_replicas_in_sync
        if config.batch_size % self.replicas:
            raise ConfigError(
                f"Config key 'batch_size' is {config.batch_size}: the global batch, which "
                f"strategy {config.strategy!r} splits across {self.replicas} replicas; "
                "use a multiple of that."
            )
        set_seed(config.seed, config.deterministic)
        if config.mixed_precision:
            keras.mixed_precision.set_global_policy("mixed_bfloat16")
        checkpoints = self.run_dir / "checkpoints"
        state, model_path = resume_point(checkpoints)
        # prepare_data builds the training batches from this epoch on (resume).
        self.initial_epoch = int(state.get("epochs_done", 0))
        self.prepare_data()
        if config.strategy == "multi_worker":
            from flarekit.data.pipeline import shard_by_data

            self.train = shard_by_data(self.train)
            self.validation = shard_by_data(self.validation)
        with strategy.scope():
            if state:
                model = load_saved_model(model_path)
                restore_seed_states(model, state.get("seed_states"))
            else:
                model = self.build_network(config)
                self.check_input_shape(model)
                self.adapt_normalization(model)
                self.compile(model)
        synchronize_batch_statistics(model, strategy)
        self._write_summary(model)
        epochs_done = int(state.get("epochs_done", 0))
        callbacks = [
            RunCheckpoint(
                self.run_dir,
                history=state.get("history"),
                best=state.get("best"),
            ),
            keras.callbacks.TensorBoard(
                log_dir=str(self.run_dir / "tensorboard"),
                histogram_freq=0,
                write_graph=False,
                update_freq="epoch",
            ),
        ]
        started = time.perf_counter()
        if epochs_done < config.epochs:
            model.fit(
                self.train,
                validation_data=self.validation,
                epochs=config.epochs,
                initial_epoch=epochs_done,
                # Set when self.train holds the batches of all remaining epochs
                # (make_dataset(epochs=...)), so that Keras reads on across epochs.
                steps_per_epoch=getattr(self, "steps_per_epoch", None),
                callbacks=callbacks,
                class_weight=self.class_weight(),
                shuffle=False,  # the dataset shuffles itself, seeded
                verbose=config.verbose,
            )
        train_seconds = time.perf_counter() - started
        if epochs_done < config.epochs:
            self.timings["train_s"] = train_seconds
            self.timings["epochs_trained"] = config.epochs - epochs_done
            samples = self.builder.info.splits["train"].num_examples
            self.timings["train_images_per_s"] = (
                samples * (config.epochs - epochs_done) / train_seconds
            )
        best_path = checkpoints / "best.keras"
        if self.replicas > 1 and not best_path.exists():
            best_path = resume_point(checkpoints)[1] or best_path
        if best_path.exists():
            # Several replicas: evaluate the checkpoint outside the strategy, on
            # one device (predict_on_batch under a strategy gives every replica
            # the whole batch and concatenates their outputs; multi-worker
            # prediction would need collective ops).
            local = self.replicas > 1
            with contextlib.nullcontext() if local else strategy.scope():
                model = load_saved_model(best_path)
        self.evaluate_and_report(model)
        return self.run_dir

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
    def predictions(self, model, split: str):
        """One row per sample of `split`: metadata, label and the model's output."""
        import pandas as pd

        from flarekit.data import goes, pipeline

        features = self.builder.info.features
        wanted = [
            "timestamp",
            "region",
            "peak_flux",
            "previous_peak_flux",
            "goes_class",
            "probability",
        ]
        keep = [key for key in wanted if key in features]
        data = pipeline.make_dataset(
            self.builder,
            split,
            task=self.task,
            batch_size=self.config.batch_size * 4,
            cache=False,
            keep_features=keep,
        )
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
        if self.task.kind == "binary":
            frame["label"] = labels
            frame["probability"] = output[:, 0]
        elif self.task.kind == "multiclass":
            frame["label"] = labels
            for index, name in enumerate(self.task.class_names):
                frame[f"prob_{name}"] = output[:, index]
        else:
            frame["log_flux_true"] = labels
            frame["log_flux_pred"] = output[:, 0]
        return frame

    def _true_probability(self, probabilities):
        """The synthetic Sun's true probability for this task's threshold, else NaN.

        Args:
            probabilities: [n, k] true probabilities for the dataset's
                `probability_thresholds`, or None.
        """
        thresholds = list(self.metadata.get("probability_thresholds", ()))
        if probabilities is None or self.task.kind != "binary":
            return np.nan
        from flarekit.data import goes

        fluxes = [goes.class_to_flux(t) for t in thresholds]
        matches = [
            i
            for i, flux in enumerate(fluxes)
            if np.isclose(flux, self.task.threshold_flux)
        ]
        if not matches:
            return np.nan
        return np.asarray(probabilities)[:, matches[0]]

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
            "task": self.task.kind,
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
            "smoke": config.smoke,
            "timings": self.timings,
        }

    def _default_unit(self) -> str:
        if self.task.input_key == "frames":
            return "active-region sequence"
        return (
            "full disk" if "full_disk" in self.config.dataset else "active-region patch"
        )

    def _label_definition(self, metadata) -> str:
        horizon = metadata.get("horizon_hours", "?")
        quiet = "no flare in the window (peak_flux 1e-9 W/m^2)"
        if self.task.kind == "binary":
            return (
                f"1 if the largest flare peaking in (t, t + {horizon} h] is >= "
                f"{self.task.threshold}, else 0; quiet = {quiet}"
            )
        if self.task.kind == "multiclass":
            return (
                f"class of the largest flare peaking in (t, t + {horizon} h] among "
                f"{list(self.task.class_names)} (below {self.task.class_names[1]} = quiet)"
            )
        return f"log10 of the largest peak flux in (t, t + {horizon} h]; quiet = -9"

    def evaluate_and_report(self, model) -> None:
        import pandas as pd

        from flarekit import metrics, report

        started = time.perf_counter()
        validation = self.predictions(model, "validation")
        test = self.predictions(model, "test")
        self.timings["predict_s"] = time.perf_counter() - started
        predictions = pd.concat([validation, test], ignore_index=True)
        write_csv_atomic(self.run_dir / "predictions.csv", predictions)
        settings = self.settings()
        results = metrics.evaluate(
            self.task.kind,
            test,
            validation,
            train_base_rate=self.train_base_rate(),
            settings=settings,
        )
        history_path = self.run_dir / "history.csv"
        history = pd.read_csv(history_path) if history_path.exists() else None
        report.write_report(self.run_dir, results, settings, history, predictions)
        # metrics.json last: its presence marks the run finished (see find_resumable_run).
        write_json_atomic(self.run_dir / "metrics.json", results)
        print(f"flarekit: report written to {self.run_dir / 'report.md'}")
