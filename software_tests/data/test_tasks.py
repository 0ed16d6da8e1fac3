import numpy as np
import pytest
import tensorflow as tf

from flarekit.data import tasks

FLUX = np.array([1e-9, 5e-7, 1e-6, 9.9e-6, 1e-5, 3e-5, 2e-4], "float32")


def _features():
    return {"image": np.zeros((len(FLUX), 4, 4, 3), "float32"), "peak_flux": FLUX,
            "goes_class": np.array([0, 2, 3, 3, 4, 4, 5])}


def test_binary_threshold_is_inclusive():
    _, y = tasks.binary("M1.0")(_features())
    np.testing.assert_array_equal(y.numpy()[:, 0], [0, 0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(tasks.binary("M1.0").labels_from_flux(FLUX), [0, 0, 0, 0, 1, 1, 1])


def test_multiclass_below_c_is_quiet_and_tf_matches_numpy():
    task = tasks.multiclass()
    _, y = task(_features())
    np.testing.assert_array_equal(y.numpy(), [0, 0, 1, 1, 2, 2, 3])
    np.testing.assert_array_equal(task.labels_from_flux(FLUX), y.numpy())


def test_regression_is_log10_with_quiet_floor():
    _, y = tasks.regression()(_features())
    np.testing.assert_allclose(y.numpy()[:, 0], np.log10(FLUX), rtol=1e-5)


def test_channel_selection_and_missing_channel_error():
    task = tasks.binary(channel_indices=(2, 0))
    features = _features()
    features["image"][..., 2] = 7.0
    x, _ = task(features)
    assert x.shape[-1] == 2 and float(x[0, 0, 0, 0]) == 7.0
    with pytest.raises(ValueError, match="euv_304"):
        tasks.channel_indices_for(("euv_304",), ("magnetogram", "euv_171"))


def test_task_runs_in_tf_data_map():
    ds = tf.data.Dataset.from_tensor_slices(_features()).map(tasks.binary("C1.0"))
    labels = [float(y[0]) for _, y in ds]
    assert labels == [0, 0, 1, 1, 1, 1, 1]


def test_bad_task_configs():
    with pytest.raises(ValueError, match="Malformed GOES class"):
        tasks.binary("Q5")
    with pytest.raises(ValueError, match="start with 'quiet'"):
        tasks.multiclass(("C", "M"))
    with pytest.raises(ValueError, match="'task'"):
        tasks.from_config({"task": "segmentation"})
    with pytest.raises(ValueError, match="frames"):
        tasks.sequence()({"image": np.zeros((1, 2, 2, 1)), "peak_flux": [1e-9]})


@pytest.mark.parametrize(
    ("config", "width", "columns"),
    [
        ({"task": "binary", "threshold": "C1.0"}, 1, ["label", "probability"]),
        ({"task": "sequence", "threshold": "C1.0"}, 1, ["label", "probability"]),
        (
            {"task": "multiclass", "classes": ("quiet", "M", "X")},
            3,
            ["label", "prob_quiet", "prob_M", "prob_X"],
        ),
        ({"task": "regression"}, 1, ["log_flux_true", "log_flux_pred"]),
    ],
)
def test_each_task_owns_its_head_loss_and_prediction_columns(config, width, columns):
    import pandas as pd

    from flarekit.metrics import TASK_KINDS

    task = tasks.from_config(config)
    assert task.name == config["task"] and task.evaluation in TASK_KINDS
    head = task.head(name="out")
    assert head.units == width == task.num_outputs and head.name == "out"
    assert head.dtype_policy.compute_dtype == "float32"  # even under mixed precision
    assert task.loss() and isinstance(task.metrics(), list)
    frame = task.prediction_columns(
        pd.DataFrame({"split": ["test"] * 2}),
        np.full((2, width), 0.25),
        task.labels_from_flux([1e-9, 2e-4]),
    )
    assert list(frame.columns) == ["split", *columns]
    assert "24 h" in task.label_definition(24)


def test_sequence_reads_frames_and_generation_has_no_forecast_head():
    sequence = tasks.from_config({"task": "sequence", "threshold": "M1.0"})
    assert sequence.input_key == "frames" and sequence.kind == "binary"
    generation = tasks.from_config({"task": "generation", "condition": "log_flux"})
    assert generation.evaluation is None and generation.kind == "generation"
    with pytest.raises(ValueError, match="'generation' has no forecast head"):
        generation.head()
    inputs, condition = generation(_features())
    assert set(inputs) == {"images", "condition"}
    np.testing.assert_allclose(condition.numpy(), np.log10(FLUX), rtol=1e-5)


def test_binary_auc_metric_resolves_confident_forecasts_of_a_rare_event():
    # Forecasts near 1e-4, as a rare-event forecaster's become: Keras's default
    # 200 probability thresholds put them in one bin (AUC 0.5).
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    labels = (rng.random(400) < 0.07).astype("float32")
    forecasts = 1 / (1 + np.exp(-(rng.normal(size=400) + 1.2 * labels - 9)))
    (metric,) = tasks.binary("M1.0").metrics()
    metric.update_state(labels, forecasts)
    assert float(metric.result()) == pytest.approx(roc_auc_score(labels, forecasts), abs=0.005)
