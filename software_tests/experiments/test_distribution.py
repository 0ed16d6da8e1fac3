"""`strategy = "mirrored" | "multi_worker"` give the metrics of one device.

MirroredStrategy runs on two logical CPU devices, which TensorFlow accepts
only before it starts, so each run is a subprocess. Dropout is off in these
runs: under a strategy each replica draws its own dropout masks, so with
dropout the runs are different random draws, not the same computation. What
is left is floating-point summation order (gradients and batch statistics are
all-reduced across replicas), which Adam's normalised steps carry forward.
Measured on the smoke config (2 epochs of 7 steps, mirrored over two logical
CPUs vs one device): losses differ by up to 1.6e-4, probabilities by up to
2e-4; AUCs, which count rank swaps on 27 validation and 58 test samples, by
up to 0.02 (one swap). The tolerances below leave a margin over those.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
STARTER = REPOSITORY / "network_models" / "xray_flux_forecast" / "starting_point"
# Largest differences allowed between a distributed run and one device: in
# per-epoch losses (history.csv) and test/validation probabilities, and in AUCs
# (per-epoch and test ROC AUC), which move in steps of one rank swap.
TOLERANCES = {"loss": 1e-3, "probability": 1e-3, "auc": 0.05}
# Dropout and the training-time flip off (see the module docstring: each replica
# draws its own masks and flips); the smoke config otherwise.
OVERRIDES = {"dropout": 0.0, "flip": "none"}

TWO_DEVICES = """
import json, sys
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
from flarekit import experiments

folder, overrides = sys.argv[1], json.loads(sys.argv[2])
runs = {}
for strategy in ("default", "mirrored"):
    run_dir = experiments.run_experiment(
        folder, smoke=True, fresh=True, strategy=strategy, **overrides)
    runs[strategy] = str(run_dir)
replicas = experiments.make_strategy("mirrored").num_replicas_in_sync
print("RESULT " + json.dumps({"runs": runs, "replicas": replicas}))
"""


def _copy_starter(tmp_path, name):
    folder = tmp_path / "network_models" / "xray_flux_forecast" / name
    shutil.copytree(STARTER, folder)
    return folder


def _env(tmp_path, **extra):
    return {**os.environ, "FLAREKIT_RUNS_DIR": str(tmp_path / "runs"), **extra}


def _result(completed):
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    line = [x for x in completed.stdout.splitlines() if x.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


def differences(run_a, run_b) -> dict:
    """Largest absolute differences between two run folders' outputs."""
    run_a, run_b = Path(run_a), Path(run_b)
    history_a = pd.read_csv(run_a / "history.csv")
    history_b = pd.read_csv(run_b / "history.csv")
    assert list(history_a.columns) == list(history_b.columns)
    assert list(history_a.epoch) == list(history_b.epoch)
    losses = [c for c in history_a.columns if c.endswith("loss")]
    aucs = [c for c in history_a.columns if c.endswith("auc")]
    probability_a = pd.read_csv(run_a / "predictions.csv").probability
    probability_b = pd.read_csv(run_b / "predictions.csv").probability
    headline_a = json.loads((run_a / "metrics.json").read_text())["headline"]
    headline_b = json.loads((run_b / "metrics.json").read_text())["headline"]
    return {
        "loss": float(np.max(np.abs(history_a[losses].to_numpy() - history_b[losses].to_numpy()))),
        "probability": float(np.max(np.abs(probability_a - probability_b))),
        "auc": max(
            float(np.max(np.abs(history_a[aucs].to_numpy() - history_b[aucs].to_numpy()))),
            abs(headline_a["roc_auc"] - headline_b["roc_auc"]),
        ),
    }


def assert_within_tolerances(found: dict) -> None:
    exceeded = {key: value for key, value in found.items() if value > TOLERANCES[key]}
    assert not exceeded, f"differences {found} exceed tolerances {TOLERANCES}"


@pytest.fixture(scope="module")
def two_device_runs(tmp_path_factory, tfds_dir):
    """One device and MirroredStrategy over two logical CPUs, in one subprocess."""
    tmp_path = tmp_path_factory.mktemp("mirrored")
    folder = _copy_starter(tmp_path, "mirrored")
    completed = subprocess.run(
        [sys.executable, "-c", TWO_DEVICES, str(folder), json.dumps(OVERRIDES)],
        capture_output=True, text=True, env=_env(tmp_path), timeout=900, check=False,
    )
    return _result(completed)


def test_mirrored_strategy_matches_one_device(two_device_runs):
    assert two_device_runs["replicas"] == 2
    runs = two_device_runs["runs"]
    config = json.loads((Path(runs["mirrored"]) / "config.json").read_text())
    assert config["strategy"] == "mirrored" and config["dropout"] == 0.0
    assert_within_tolerances(differences(runs["default"], runs["mirrored"]))


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


@pytest.mark.slow
def test_multi_worker_strategy_matches_one_device(two_device_runs, tmp_path):
    # Two local worker processes, ports on 127.0.0.1 only.
    folder = _copy_starter(tmp_path, "multi_worker")
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    command = [sys.executable, str(folder / "network.py"), "--smoke",
               "--set", "strategy=multi_worker"]
    for key, value in OVERRIDES.items():
        command += ["--set", f"{key}={value!r}"]
    processes = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        processes.append(subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=_env(tmp_path, TF_CONFIG=json.dumps(tf_config)),
        ))
    outputs = []
    for process in processes:
        try:
            stdout, stderr = process.communicate(timeout=900)
        finally:
            process.kill()
        outputs.append((process.returncode, stdout, stderr))
    for returncode, stdout, stderr in outputs:
        assert returncode == 0, stdout[-3000:] + stderr[-3000:]
    # Only the chief (worker 0) writes the run folder; worker 1 its scratch copy.
    base = tmp_path / "runs" / "xray_flux_forecast" / "multi_worker"
    (chief_run,) = [p for p in base.iterdir() if not p.name.startswith(".")]
    (worker_run,) = list((tmp_path / "runs" / ".workers" / "worker-1"
                          / "xray_flux_forecast" / "multi_worker").iterdir())
    assert "Epoch 2/2" in outputs[0][1]
    assert_within_tolerances(differences(two_device_runs["runs"]["default"], chief_run))
    # The workers hold the same model: their evaluations agree exactly.
    assert max(differences(chief_run, worker_run).values()) == 0.0
