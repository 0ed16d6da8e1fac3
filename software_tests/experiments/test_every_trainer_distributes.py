"""Every trainer runs under `strategy = "mirrored"`, on the strategy it was given.

The runner makes the strategy before any dataset and builds every model in its
scope; before the redesign, SimCLR and fine-tune runs accepted
`strategy=mirrored` and silently trained on one device. SimCLR pretraining now
refuses a replicated strategy with a config error (its NT-Xent negatives would
come from each replica's share of the batch only). One subprocess (two
logical CPUs must be configured before TensorFlow starts) runs each trainer's
starter on its smoke settings for one epoch and reports the replicas each
model's train step ran on.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
STARTERS = {
    "supervised": "xray_flux_forecast/starting_point",
    "feature_class": "active_regions/vit",
    "sequence_kfold": "sequences/video_transformer",
    "finetune": "ssl/finetune_binary",
    "diffusion": "generation/conditional_diffusion",
    "cvae": "generation/cvae",
}
# The least work that still trains: one epoch; no figures that need many samples.
OVERRIDES = {
    "sequence_kfold": {"n_folds": 2},
    "diffusion": {"samples_per_class": 1, "sample_steps": 2},
    "cvae": {"samples_per_class": 1},
}

SCRIPT = """
import json, sys
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
from flarekit import experiments

starters, overrides = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for trainer, name in starters.items():
    folder = experiments.find_experiment(name)
    run_dir = experiments.run_experiment(
        folder, smoke=True, fresh=True, strategy="mirrored", epochs=1,
        **overrides.get(trainer, {}))
    config = json.loads((run_dir / "config.json").read_text())
    # Every run folder, and every fold of a k-fold run, has its timings.json.
    timings = sorted(run_dir.rglob("timings.json"))
    replicas = [json.loads(path.read_text()).get("replicas") for path in timings]
    replicas = [value for value in replicas if value is not None]
    print("RESULT " + json.dumps({"trainer": trainer, "config_trainer": config["trainer"],
                                   "strategy": config["strategy"], "replicas": replicas}))
"""


@pytest.mark.slow
def test_every_trainer_trains_on_both_replicas(tmp_path, tfds_dir):
    env = {**os.environ, "FLAREKIT_RUNS_DIR": str(tmp_path / "runs")}
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(STARTERS), json.dumps(OVERRIDES)],
        capture_output=True, text=True, env=env, timeout=1500, check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    results = [
        json.loads(line[len("RESULT "):])
        for line in completed.stdout.splitlines()
        if line.startswith("RESULT ")
    ]
    assert [r["trainer"] for r in results] == list(STARTERS)
    for result in results:
        assert result["config_trainer"] == result["trainer"]
        assert result["strategy"] == "mirrored"
        assert result["replicas"] and set(result["replicas"]) == {2}, result


def test_simclr_refuses_a_replicated_strategy_before_any_run_folder(tmp_path):
    from flarekit import experiments

    folder = experiments.find_experiment("ssl/simclr_pretrain")
    config = experiments.load_config(folder, smoke=True, overrides={"strategy": "mirrored"})
    with pytest.raises(experiments.ConfigError, match="'strategy' is 'mirrored'"):
        experiments.trainer_class("simclr").check_config(config)
