"""Early stopping (`early_stopping_patience`) lives in the run's checkpoint state,
so a resumed run stops where an uninterrupted one does, and a run that stopped
early does not train again when started again."""

import numpy as np
import pytest

from flarekit import experiments as fx
from flarekit.experiments.checkpoints import RunCheckpoint, resume_point
from flarekit.experiments.config import trainer_class
from flarekit.experiments.runner import Experiment

from software_tests.experiments.test_config import STARTER, STARTERS

# Validation losses the scripted epochs report: best at epoch 3, then 3 epochs
# without a lower value, so patience 3 stops after epoch 6 of 10.
SCRIPT = [1.0, 0.8, 0.7, 0.75, 0.71, 0.9, 0.6, 0.5, 0.4, 0.3]


def _scripted(monitor):
    """A callback that sets the epoch's `monitor` from SCRIPT (negated for an
    AUC, where higher is better; it runs before RunCheckpoint, and Keras hands
    every callback the same logs dict)."""
    import keras

    sign = -1.0 if monitor == "val_auc" else 1.0

    class Scripted(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs[monitor] = sign * SCRIPT[epoch]

    return Scripted()


def _fit(run_dir, epochs, initial_epoch=0, state=None, monitor="val_loss"):
    import keras

    state = state or {}
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x, y = np.ones((8, 3), "float32"), np.zeros((8, 1), "float32")
    history = model.fit(
        x, y, validation_data=(x, y), epochs=epochs, initial_epoch=initial_epoch,
        verbose=0,
        callbacks=[
            _scripted(monitor),
            RunCheckpoint(run_dir, monitor, history=state.get("history"), best=state.get("best"),
                          patience=3, since_best=state.get("epochs_since_best", 0)),
        ],
    )
    return history.epoch


@pytest.mark.parametrize(("monitor", "best"), [("val_loss", 0.7), ("val_auc", -0.7)])
def test_training_stops_after_patience_epochs_without_improvement(tmp_path, monitor, best):
    (tmp_path / "checkpoints").mkdir()
    epochs = _fit(tmp_path, epochs=10, monitor=monitor)
    assert epochs == [0, 1, 2, 3, 4, 5]
    state, _ = resume_point(tmp_path / "checkpoints")
    assert state["stopped_early"] == 6 and state["epochs_since_best"] == 3
    assert state["best"] == pytest.approx(best)
    assert (tmp_path / "checkpoints" / "best.keras").exists()


def test_a_resumed_run_counts_on_from_its_checkpoint_and_stops_at_the_same_epoch(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    assert _fit(tmp_path, epochs=5) == [0, 1, 2, 3, 4]  # "killed" after epoch 5
    state, _ = resume_point(tmp_path / "checkpoints")
    assert state["epochs_since_best"] == 2 and state["stopped_early"] is None
    assert _fit(tmp_path, epochs=10, initial_epoch=5, state=state) == [5]
    state, _ = resume_point(tmp_path / "checkpoints")
    assert state["stopped_early"] == 6
    assert [row["epoch"] for row in state["history"]] == [1, 2, 3, 4, 5, 6]


def test_fit_of_a_run_that_stopped_early_trains_nothing():
    experiment = Experiment.__new__(Experiment)
    experiment.config = fx.Config(epochs=10)
    assert experiment.fit(model=None, state={"epochs_done": 6, "stopped_early": 6}) == 0.0


def test_trainers_without_early_stopping_refuse_the_key():
    for folder in ("ssl/simclr_pretrain", "ssl/finetune_binary"):
        config = fx.load_config(STARTERS / folder, overrides={"early_stopping_patience": 2})
        with pytest.raises(fx.ConfigError, match="early_stopping_patience"):
            trainer_class(config.trainer).check_config(config)


def test_the_report_states_the_training_rule():
    config = fx.load_config(STARTER, overrides={"early_stopping_patience": 2, "epochs": 9})
    experiment = Experiment.__new__(Experiment)
    experiment.config = config
    assert experiment._training_rule() == (
        "up to 9 epochs; stops after 2 epochs without a lower val_loss; "
        "the checkpoint of lowest val_loss is scored"
    )
    experiment.monitor = "val_auc"  # the k-fold sequence trainer's
    assert experiment._training_rule() == (
        "up to 9 epochs; stops after 2 epochs without a higher val_auc; "
        "the checkpoint of highest val_auc is scored"
    )
