"""Checkpoints of a run: atomic per-epoch saves, resume points, the one model loader.

`load_saved_model` is the single way flarekit loads a `.keras` file (runs,
checkpoints, serving): it imports every module that registers serialisable
classes first, so any flarekit model loads in a fresh process.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from flarekit.io import write_csv_atomic, write_json_atomic

STATE_FILE = "state.json"


class RunCheckpoint:
    """Keras callback factory: atomic per-epoch checkpoints, best model, history.

    After every epoch it writes, each atomically and in this order:
    `checkpoints/epoch-<k>.keras` (weights and optimizer state),
    `checkpoints/best.keras` when the monitored validation quantity improved
    (lower for a loss, higher for an AUC or accuracy: `maximises`),
    `history.csv`, then `checkpoints/state.json` (epochs done, best value, the
    random-seed states of dropout and other random layers, which `.keras`
    files do not hold), which commits the epoch, and last renames
    `epoch-<k>.keras` to `last.keras`. A run killed at any moment therefore
    resumes from the last committed epoch, with the weights, optimizer and
    seed states of that epoch (`resume_point`).

    Early stopping lives here too, so that it survives a resume: with
    `patience` > 0 the state counts the epochs since the monitored value last
    improved (`epochs_since_best`), and when that count reaches `patience` the
    callback stops training and commits `stopped_early` (the epoch), which
    tells a resumed run that nothing is left to train.
    """

    def __new__(
        cls,
        run_dir: Path,
        monitor: str = "val_loss",
        history=None,
        best=None,
        patience: int = 0,
        since_best: int = 0,
    ):
        import keras

        class _RunCheckpoint(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.run_dir = Path(run_dir)
                self.monitor = monitor
                self.rows = list(history or [])
                self.maximise = maximises(monitor)
                worst = -np.inf if self.maximise else np.inf
                self.best = worst if best is None else best
                self.patience = int(patience)
                self.since_best = int(since_best)
                self.stopped_early = None

            def on_epoch_end(self, epoch, logs=None):
                import pandas as pd

                logs = {key: float(value) for key, value in (logs or {}).items()}
                checkpoints = self.run_dir / "checkpoints"
                epoch_file = f"epoch-{epoch + 1}.keras"
                save_model_atomic(self.model, checkpoints / epoch_file)
                value = logs.get(self.monitor)
                if value is None:  # no validation data: the training loss
                    value, better = logs.get("loss", np.inf), value_below
                else:
                    better = value_above if self.maximise else value_below
                if better(value, self.best):
                    self.best = value
                    self.since_best = 0
                    save_model_atomic(self.model, checkpoints / "best.keras")
                else:
                    self.since_best += 1
                if self.patience and self.since_best >= self.patience:
                    self.stopped_early = epoch + 1
                    self.model.stop_training = True
                self.rows.append({"epoch": epoch + 1, **logs})
                write_csv_atomic(self.run_dir / "history.csv", pd.DataFrame(self.rows))
                write_json_atomic(
                    checkpoints / STATE_FILE,
                    {
                        "epochs_done": epoch + 1,
                        "best": self.best,
                        "monitor": self.monitor,
                        "epochs_since_best": self.since_best,
                        "stopped_early": self.stopped_early,
                        "history": self.rows,
                        "checkpoint": epoch_file,
                        "seed_states": seed_states(self.model),
                    },
                )
                os.replace(checkpoints / epoch_file, checkpoints / "last.keras")

        return _RunCheckpoint()


def maximises(monitor: str) -> bool:
    """Whether a higher value of the logged quantity `monitor` is better
    (AUC, accuracy) rather than lower (losses)."""
    return monitor.endswith(("auc", "accuracy"))


def value_below(value, best) -> bool:
    return best is None or value < best


def value_above(value, best) -> bool:
    return best is None or value > best


def save_model_atomic(model, path: Path) -> Path:
    """`model.save(path)` through a temporary file and a rename: a reader never
    sees half a file. Returns `path`."""
    path = Path(path)
    temporary = path.with_name(f".{path.stem}.tmp.keras")
    model.save(temporary)
    os.replace(temporary, path)
    return path


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


def load_run_model(run_dir, compile: bool = False):
    """The best checkpoint of a finished run folder, for inference (predict,
    serve, saliency): `load_saved_model` of `checkpoints/best.keras`.

    Raises:
        FileNotFoundError: no best.keras (an unfinished run, or not a run folder).
    """
    path = Path(run_dir) / "checkpoints" / "best.keras"
    if not path.is_file():
        raise FileNotFoundError(
            f"No model at {path}: is {run_dir} a finished flarekit run folder?"
        )
    return load_saved_model(path, compile=compile)
