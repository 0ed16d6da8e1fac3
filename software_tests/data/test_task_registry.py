"""A new task is one class that registers itself: a toy task, defined here and
nowhere else, runs through config check, tf.data, training, predictions,
scores and report."""

import dataclasses
import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flarekit.data import tasks
from flarekit.experiments import ConfigError, load_config

REPOSITORY = Path(__file__).resolve().parents[2]
STARTER = REPOSITORY / "network_models" / "xray_flux_forecast" / "starting_point"
X1_FLUX = 1e-4


@tasks.register_task
@dataclasses.dataclass(frozen=True)
class XClassOrAbove(tasks.Task):
    """Toy task: an X-class flare (>= X1.0) in the window.

    Deliberately unlike the built-in binary task in everything it owns: a
    two-unit softmax head, a sparse categorical loss, accuracy as its training
    metric, the probability read from the second output, and a report section
    of its own. It is scored as "binary".
    """

    name = "x_class_or_above"
    evaluation = "binary"
    threshold = "X1.0"

    @property
    def num_outputs(self) -> int:
        return 2

    def targets(self, features):
        import tensorflow as tf

        flux = tf.cast(features["peak_flux"], tf.float32)
        return tf.cast(flux * (1 + tasks.FLUX_TOLERANCE) >= X1_FLUX, tf.int64)

    def labels_from_flux(self, peak_flux):
        peak_flux = np.asarray(peak_flux, dtype=np.float64)
        return (peak_flux * (1 + tasks.FLUX_TOLERANCE) >= X1_FLUX).astype(np.int64)

    def head(self, name="forecast"):
        import keras

        return keras.layers.Dense(2, activation="softmax", dtype="float32", name=name)

    def loss(self):
        return "sparse_categorical_crossentropy"

    def metrics(self):
        return ["accuracy"]

    def prediction_columns(self, frame, outputs, labels):
        frame["label"] = labels
        frame["probability"] = outputs[:, 1]
        return frame

    def label_definition(self, horizon_hours):
        return f"1 if an X-class flare peaks in (t, t + {horizon_hours} h], else 0"

    def report_sections(self, metrics):
        tss = metrics["headline"]["tss"]
        return ["## X-class toy task", "", f"TSS for X-class flares: {tss}", ""]


# network.py of the toy experiment registers the task itself (a run imports
# network.py before it checks the config), here by loading this file.
REGISTER_FROM_NETWORK = f"""
import importlib.util as _util

_spec = _util.spec_from_file_location("toy_task_definition", {str(Path(__file__))!r})
_spec.loader.exec_module(_util.module_from_spec(_spec))
"""


def _features(flux):
    flux = np.asarray(flux, "float32")
    return {"image": np.zeros((len(flux), 4, 4, 2), "float32"), "peak_flux": flux}


def test_toy_task_is_registered_and_maps_examples_like_its_numpy_labels():
    import tensorflow as tf

    assert "x_class_or_above" in tasks.registered_names()
    task = tasks.from_config({"task": "x_class_or_above"}, ("magnetogram", "euv_94"))
    assert type(task).__name__ == "XClassOrAbove" and task.kind == "binary"
    # float32(1e-4) is just below 1e-4: still X1.0, as for the built-in tasks.
    flux = [1e-9, 9.9e-5, 1e-4, 3e-4]
    expected = [0, 0, 1, 1]
    np.testing.assert_array_equal(task.labels_from_flux(flux), expected)
    _, batched = task(_features(flux))
    np.testing.assert_array_equal(batched.numpy(), expected)
    mapped = tf.data.Dataset.from_tensor_slices(_features(flux)).map(task)
    assert [int(target) for _, target in mapped] == expected
    assert task.head(name="x").units == 2


def test_unknown_task_names_list_the_registered_ones():
    with pytest.raises(ValueError, match=r"'segmentation'.*'x_class_or_above'"):
        tasks.from_config({"task": "segmentation"})
    with pytest.raises(ConfigError, match=r"'task' is 'segmentation'.*'x_class_or_above'"):
        load_config(STARTER, overrides={"task": "segmentation"})
    assert load_config(STARTER, overrides={"task": "x_class_or_above"}).task == (
        "x_class_or_above"
    )


def test_a_taken_name_is_refused_and_a_redefinition_replaces():
    with pytest.raises(ValueError, match="'binary' is taken by .*BinaryTask"):

        @tasks.register_task
        @dataclasses.dataclass(frozen=True)
        class AnotherBinary(tasks.BinaryTask):
            name = "binary"

    assert tasks.TASKS["binary"] is tasks.BinaryTask
    with pytest.raises(TypeError, match="Task subclass"):
        tasks.register_task(dict)
    # Loading this file again (as network.py does) registers the same class anew.
    spec = importlib.util.spec_from_file_location("toy_again", Path(__file__))
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    assert tasks.TASKS["x_class_or_above"] is not XClassOrAbove
    assert tasks.TASKS["x_class_or_above"].__qualname__ == "XClassOrAbove"


@pytest.mark.slow
def test_toy_task_runs_end_to_end(tmp_path, tfds_dir, monkeypatch):
    from flarekit import experiments

    folder = tmp_path / "network_models" / "toys" / "x_class"
    shutil.copytree(STARTER, folder)
    config = (folder / "config.py").read_text()
    assert 'task = "binary"' in config
    (folder / "config.py").write_text(
        config.replace('task = "binary"', 'task = "x_class_or_above"')
    )
    network = (folder / "network.py").read_text()
    anchor = "from flarekit.data import pipeline, tasks\n"
    assert anchor in network
    (folder / "network.py").write_text(
        network.replace(anchor, anchor + REGISTER_FROM_NETWORK)
    )
    # A fresh registry, as in a new process: only network.py can register the toy.
    monkeypatch.delitem(tasks.TASKS, "x_class_or_above")
    monkeypatch.setenv("FLAREKIT_RUNS_DIR", str(tmp_path / "runs"))

    run_dir = experiments.run_experiment(folder, smoke=True, epochs=1)

    predictions = pd.read_csv(run_dir / "predictions.csv")
    assert {"label", "probability"} <= set(predictions.columns)
    assert not [c for c in predictions.columns if c.startswith(("prob_", "log_flux"))]
    np.testing.assert_array_equal(
        predictions["label"], (predictions["peak_flux"] * (1 + 1e-6) >= X1_FLUX)
    )
    assert predictions["probability"].between(0, 1).all()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["task_kind"] == "binary"
    assert metrics["settings"]["task"] == "x_class_or_above"
    assert metrics["settings"]["threshold"] == "X1.0"
    assert metrics["settings"]["label_definition"].startswith("1 if an X-class flare")
    test = predictions[predictions["split"] == "test"]
    assert metrics["base_rates"]["test"] == pytest.approx(test["label"].mean())
    assert {"tss", "hss2", "false_alarm_ratio"} <= set(metrics["headline"])
    # The toy's loss and metrics trained the model, and its head is its output.
    assert "accuracy" in pd.read_csv(run_dir / "history.csv").columns
    assert "(None, 2)" in (run_dir / "summary.txt").read_text()
    report = (run_dir / "report.md").read_text()
    assert "## X-class toy task" in report


def test_kfold_trainer_refuses_a_task_not_scored_as_binary():
    from flarekit.experiments.sequence_kfold import SequenceKFoldExperiment

    folder = REPOSITORY / "network_models" / "sequences" / "video_transformer"
    SequenceKFoldExperiment.check_config(load_config(folder))
    with pytest.raises(ConfigError, match="'regression', scored as 'regression'"):
        SequenceKFoldExperiment.check_config(
            load_config(folder, overrides={"task": "regression"})
        )
