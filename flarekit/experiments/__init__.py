"""Experiments: the runner every trainer shares, and the trainers.

- `config`: load a starter's `config.py`, merge the trainer's defaults,
  validate every key before a run folder exists (`ConfigError`).
- `precision`: the dtype policy the hardware computes natively ("auto").
- `distribute`: tf.distribute strategies, workers, replica batch sizes.
- `checkpoints`: atomic per-epoch checkpoints, resume points, and
  `load_saved_model`, the one loader of `.keras` files.
- `runner`: `Experiment`, which owns the sequence (strategy, seed,
  precision, data, resume, fit, evaluate, report, TensorBoard) and is the
  supervised trainer; `run` / `main` / `run_experiment`.
- one module per further trainer: `feature_class`, `sequence_kfold`,
  `self_supervised` (SimCLR, fine-tune), `generation` (diffusion, CVAE).

A new trainer is one module with an `Experiment` subclass that overrides
hooks and declares `DEFAULTS`, registered in `config.TRAINERS`.

Example:
    >>> from flarekit import experiments
    >>> run_dir = experiments.run_experiment(
    ...     "network_models/xray_flux_forecast/starting_point", smoke=True)
"""

from flarekit.experiments.checkpoints import (
    STATE_FILE,
    RunCheckpoint,
    load_run_model,
    load_saved_model,
    restore_seed_states,
    resume_point,
    seed_states,
)
from flarekit.experiments.config import (
    COMMON_DEFAULTS,
    REQUIRED_KEYS,
    TRAINERS,
    Config,
    ConfigError,
    apply_overrides,
    load_config,
    parse_override,
    trainer_class,
)
from flarekit.experiments.distribute import (
    is_chief,
    make_strategy,
    replica_batch_size,
    starves_a_replica,
    synchronize_batch_statistics,
    worker_index,
)
from flarekit.experiments.precision import choose_policy
from flarekit.experiments.runner import (
    CONFIG_FILE,
    Experiment,
    _import_network,
    experiment_name,
    find_experiment,
    find_resumable_run,
    main,
    new_run_folder,
    parse_args,
    predict_with_features,
    run,
    run_experiment,
    runs_root,
    set_seed,
)

__all__ = [
    "choose_policy",
    "STATE_FILE",
    "RunCheckpoint",
    "load_run_model",
    "load_saved_model",
    "restore_seed_states",
    "resume_point",
    "seed_states",
    "COMMON_DEFAULTS",
    "REQUIRED_KEYS",
    "TRAINERS",
    "Config",
    "ConfigError",
    "apply_overrides",
    "load_config",
    "parse_override",
    "trainer_class",
    "is_chief",
    "make_strategy",
    "replica_batch_size",
    "starves_a_replica",
    "synchronize_batch_statistics",
    "worker_index",
    "CONFIG_FILE",
    "Experiment",
    "_import_network",
    "experiment_name",
    "find_experiment",
    "find_resumable_run",
    "main",
    "new_run_folder",
    "parse_args",
    "predict_with_features",
    "run",
    "run_experiment",
    "runs_root",
    "set_seed",
]
