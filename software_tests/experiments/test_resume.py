"""Resume after SIGKILL, and determinism, on the smoke config.

A training process is killed with SIGKILL in the middle of epoch 2 and
started again: it loses only that epoch, and its metrics equal those of an
uninterrupted run with the same seed, exactly (tolerance 0: each epoch's
batch order is a function of (seed, epoch), and the checkpoint holds weights,
optimizer and dropout seed states). Two uninterrupted runs with the same seed
give byte-identical metrics.json, history.csv and predictions.csv, also when
the first of them built the dataset into an empty data folder and the second
found it built (README, "Determinism"); timings live apart, in timings.json.

To kill mid-epoch reliably, the copied experiment puts a `BatchPacer` layer
first in the network's preprocessing: an identity that, when RESUME_TEST_PACE names a file,
appends a line to it for each training batch and sleeps, so that the test can
see where training is.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
STARTER = REPOSITORY / "network_models" / "xray_flux_forecast" / "starting_point"
STEPS_PER_EPOCH = 7  # 211 training examples of active_region_smoke, batch 32

PACER = '''

import os as _os
import time as _time

import keras as _keras


@_keras.saving.register_keras_serializable(package="resume_test")
class BatchPacer(_keras.layers.Layer):
    """Identity; while training with RESUME_TEST_PACE set, logs and slows batches."""

    def call(self, inputs, training=False):
        if not training:
            return inputs
        import tensorflow as tf

        def tick(values):
            path = _os.environ.get("RESUME_TEST_PACE")
            if path:
                with open(path, "a") as file:
                    file.write("batch\\n")
                _time.sleep(0.4)
            return values

        outputs = tf.numpy_function(tick, [inputs], inputs.dtype, stateful=True)
        outputs.set_shape(inputs.shape)
        return outputs


'''


@pytest.fixture(scope="module")
def experiment_folder(tmp_path_factory):
    """A copy of the starter whose network has the BatchPacer in front."""
    folder = tmp_path_factory.mktemp("resume") / "network_models" / "xray_flux_forecast" / "paced"
    shutil.copytree(STARTER, folder)
    network = folder / "network.py"
    text = network.read_text()
    preprocessing = "            *layers.preprocessing_for(config.channels, declarations),"
    assert preprocessing in text
    text = text.replace(
        preprocessing, "            BatchPacer(),\n" + preprocessing
    ).replace("\n\ndef build_network", PACER + "\n\ndef build_network")
    network.write_text(text)
    return folder


def _command(folder):
    return [sys.executable, str(folder / "network.py"), "--smoke"]


def _env(runs, **extra):
    return {**os.environ, "FLAREKIT_RUNS_DIR": str(runs), **extra}


def _run(folder, runs, *arguments, data_dir=None):
    extra = {"FLAREKIT_DATA_DIR": str(data_dir)} if data_dir else {}
    completed = subprocess.run(
        _command(folder) + list(arguments), capture_output=True, text=True,
        env=_env(runs, **extra), timeout=900, check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return completed


def _only_run(runs) -> Path:
    (run_dir,) = list((Path(runs) / "xray_flux_forecast" / "paced").iterdir())
    return run_dir


def scores(run_dir) -> dict:
    """metrics.json, which holds no timings (they are in timings.json)."""
    return json.loads((Path(run_dir) / "metrics.json").read_text())


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A data folder of this module's own, empty when the reference run starts:
    the reference run builds the dataset, every later run finds it built."""
    return tmp_path_factory.mktemp("tfds_resume")


@pytest.fixture(scope="module")
def reference_run(experiment_folder, data_dir, tmp_path_factory):
    """An uninterrupted smoke run, seed 0, that builds its dataset first."""
    assert not any(Path(data_dir).iterdir())
    runs = tmp_path_factory.mktemp("reference_runs")
    _run(experiment_folder, runs, data_dir=data_dir)
    return _only_run(runs)


def test_same_seed_gives_identical_files(experiment_folder, reference_run, data_dir, tmp_path):
    _run(experiment_folder, tmp_path / "runs", data_dir=data_dir)
    again = _only_run(tmp_path / "runs")
    for name in ("metrics.json", "history.csv", "predictions.csv"):
        assert (again / name).read_bytes() == (reference_run / name).read_bytes(), name
    assert json.loads((again / "timings.json").read_text())["train_s"] > 0


def _wait_for(condition, process, timeout=600):
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, "training ended before the kill"
        assert time.monotonic() < deadline, "timed out waiting for training"
        time.sleep(0.05)


def test_sigkill_mid_epoch_then_resume_matches_uninterrupted_run(
    experiment_folder, reference_run, data_dir, tmp_path
):
    runs = tmp_path / "runs"
    pace = tmp_path / "pace.log"
    process = subprocess.Popen(
        _command(experiment_folder), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=_env(runs, RESUME_TEST_PACE=str(pace), FLAREKIT_DATA_DIR=str(data_dir)),
    )
    try:
        def in_epoch_two():
            state = list(runs.glob("xray_flux_forecast/paced/*/checkpoints/state.json"))
            batches = len(pace.read_text().splitlines()) if pace.exists() else 0
            return bool(state) and batches >= STEPS_PER_EPOCH + 2

        _wait_for(in_epoch_two, process)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    run_dir = _only_run(runs)
    # Killed mid-epoch 2: epoch 1 is committed, nothing of a finished run exists,
    # and every file present is whole.
    state = json.loads((run_dir / "checkpoints" / "state.json").read_text())
    assert state["epochs_done"] == 1
    assert not (run_dir / "metrics.json").exists() and not (run_dir / "report.md").exists()
    assert list(pd.read_csv(run_dir / "history.csv").epoch) == [1]
    for checkpoint in (run_dir / "checkpoints").glob("*.keras"):
        assert zipfile.ZipFile(checkpoint).testzip() is None, checkpoint

    resumed = _run(experiment_folder, runs, data_dir=data_dir)
    assert "resuming unfinished run" in resumed.stdout
    assert "Epoch 2/2" in resumed.stdout and "Epoch 1/2" not in resumed.stdout
    assert list(pd.read_csv(run_dir / "history.csv").epoch) == [1, 2]
    # Same metrics as the uninterrupted run: tolerance 0.
    assert pd.read_csv(run_dir / "history.csv").equals(
        pd.read_csv(reference_run / "history.csv")
    )
    assert scores(run_dir) == scores(reference_run)
