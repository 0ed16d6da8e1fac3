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
