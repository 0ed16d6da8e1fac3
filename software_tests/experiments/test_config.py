"""Configs are checked whole before a run folder exists; errors are one line."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flarekit import experiments as fx
from flarekit.experiments import config as config_module

REPOSITORY = Path(__file__).resolve().parents[2]
STARTERS = REPOSITORY / "network_models"
STARTER = STARTERS / "xray_flux_forecast" / "starting_point"


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("batch_size", 0, "an integer >= 1"),
        ("batch_size", -4, "an integer >= 1"),
        ("epochs", -3, "an integer >= 1"),
        ("learning_rate", -1.0, "a number > 0"),
        ("learning_rate", 0.0, "a number > 0"),
        ("oversample", 1.5, r"\[0, 1\)"),
        ("dropout", 1.0, r"\[0, 1\)"),
        ("class_weight", "inverse", "'none', 'balanced'"),
        ("mixed_precision", "half", "'auto', 'float32'"),
        ("strategy", "horovod", "'mirrored'"),
        ("task", "segmentation", "'binary'"),
        ("threshold", "Q5.0", "GOES class"),
        ("filters", (), "non-empty"),
        ("ema_momentum", 1.0, r"\[0, 1\)"),
        ("flip", "sideways", "'none', 'hemisphere', 'any'"),
        ("early_stopping_patience", -1, "an integer >= 0"),
    ],
)
def test_out_of_range_values_name_file_key_and_allowed_values(key, value, allowed):
    with pytest.raises(fx.ConfigError) as error:
        fx.load_config(STARTER, overrides={key: value})
    message = str(error.value)
    assert "config.py" in message and repr(key) in message and repr(value) in message
    assert __import__("re").search(allowed, message), message


def test_image_size_must_suit_the_network():
    with pytest.raises(fx.ConfigError, match="divisible by 8"):
        fx.load_config(STARTER, overrides={"image_size": 60})


def test_every_starter_config_is_valid_as_shipped_and_in_smoke_mode():
    configs = sorted(STARTERS.glob("*/*/config.py"))
    assert len(configs) >= 12
    for path in configs:
        for smoke in (False, True):
            config = fx.load_config(path, smoke=smoke)
            assert config.mixed_precision in config_module.PRECISION_VALUES


def test_trainer_defaults_are_merged_before_validation_and_recorded():
    config = fx.load_config(STARTERS / "sequences" / "video_transformer")
    # Declared by SequenceKFoldExperiment.DEFAULTS, not by the config file.
    for key in ("n_folds", "fold_gap_days", "noise_level"):
        assert key in config
    with pytest.raises(fx.ConfigError, match="unknown config key 'n_fold'"):
        fx.load_config(STARTERS / "sequences" / "video_transformer", overrides={"n_fold": 3})


def test_unknown_trainer_is_refused_with_the_known_ones(tmp_path):
    folder = tmp_path / "exp"
    shutil.copytree(STARTER, folder)
    config = folder / "config.py"
    config.write_text(config.read_text() + '\ntrainer = "gan"\n')
    with pytest.raises(fx.ConfigError, match="'gan'; expected one of"):
        fx.load_config(folder)


def test_legacy_boolean_precision_means_an_explicit_policy(tmp_path):
    assert fx.load_config(STARTER, overrides={"mixed_precision": True}).mixed_precision == (
        "mixed_bfloat16"
    )
    assert fx.load_config(STARTER, overrides={"mixed_precision": False}).mixed_precision == (
        "float32"
    )


def test_command_line_config_error_is_one_line_exit_2_and_no_run_folder(tmp_path):
    runs = tmp_path / "runs"
    env = {**os.environ, "FLAREKIT_RUNS_DIR": str(runs)}
    command = [sys.executable, str(STARTER / "network.py"), "--smoke", "--set", "batch_size=0"]
    completed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr
    error_lines = [line for line in completed.stderr.splitlines() if "flarekit: error" in line]
    assert len(error_lines) == 1
    assert "config.py" in error_lines[0] and "'batch_size' is 0" in error_lines[0]
    assert not runs.exists() or not any(runs.rglob("config.json"))
    debug = subprocess.run(command + ["--debug"], capture_output=True, text=True, env=env,
                           timeout=300)
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_cosine_learning_rate_schedule_decays_to_zero_over_the_run(tmp_path):
    import keras

    config = fx.load_config(
        STARTER, overrides={"learning_rate_schedule": "cosine", "epochs": 4}
    )
    experiment = fx.Experiment(config, None, tmp_path)
    experiment.steps_per_epoch = 10
    schedule = experiment.learning_rate()
    assert isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule)
    assert float(schedule(0)) == pytest.approx(config.learning_rate)
    assert float(schedule(40)) == pytest.approx(0.0, abs=1e-9)
    constant = fx.Experiment(fx.load_config(STARTER), None, tmp_path)
    assert constant.learning_rate() == config.learning_rate
    with pytest.raises(fx.ConfigError, match="'constant', 'cosine'"):
        fx.load_config(STARTER, overrides={"learning_rate_schedule": "step"})


def test_fit_verbosity_is_one_line_per_epoch_off_a_terminal(monkeypatch):
    from flarekit.experiments.runner import fit_verbosity

    assert fit_verbosity(0) == 0 and fit_verbosity(1) == 1
    # pytest captures stdout: not a terminal, so a bar's redraws would pile up.
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    assert fit_verbosity("auto") == 2
    monkeypatch.setitem(sys.modules, "ipykernel", object())
    assert fit_verbosity("auto") == 1


def test_ema_momentum_sets_an_averaging_optimizer_and_its_epoch_callback():
    from flarekit.experiments.runner import Experiment

    config = fx.load_config(STARTER, smoke=True, overrides={"ema_momentum": 0.99})
    experiment = Experiment.__new__(Experiment)
    experiment.config = config
    assert experiment.ema_options() == {"use_ema": True, "ema_momentum": 0.99}
    experiment.config = fx.load_config(STARTER, smoke=True, overrides={"ema_momentum": 0.0})
    assert experiment.ema_options() == {}


def test_validation_and_checkpoints_see_the_averaged_weights():
    import keras
    import numpy as np

    from flarekit.experiments.runner import average_weights_each_epoch

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.1, use_ema=True, ema_momentum=0.5),
                  loss="mse")
    seen = []

    class Probe(keras.callbacks.Callback):
        def on_test_begin(self, logs=None):
            averages = self.model.optimizer._model_variables_moving_average
            seen.append([np.allclose(w.numpy(), a.numpy())
                         for w, a in zip(self.model.trainable_variables, averages)])

    x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model.fit(x, y, validation_data=(x, y), epochs=2, batch_size=8, verbose=0,
              callbacks=[average_weights_each_epoch(), Probe()])
    # Both epochs validated on the average (momentum 0.5 over 8 steps differs
    # from the raw weights, so an unwritten average would show).
    assert seen == [[True, True], [True, True]]
    model.fit(x, y, validation_data=(x, y), epochs=1, batch_size=8, verbose=0,
              callbacks=[Probe()])
    assert seen[-1] != [True, True]
