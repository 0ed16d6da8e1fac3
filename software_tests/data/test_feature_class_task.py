"""Classes read from a feature (Mount Wilson), not from a flare flux."""

import numpy as np
import pytest

from flarekit.data import tasks


def test_mount_wilson_task_maps_the_feature():
    task = tasks.feature_class()
    assert task.kind == "multiclass" and task.num_outputs == 4
    assert task.class_names == tasks.MOUNT_WILSON_CLASSES
    image = np.ones((4, 4, 2), "float32")
    inputs, target = task(
        {"image": image, "mount_wilson": np.int64(3), "peak_flux": 1e-4}
    )
    assert int(target) == 3 and inputs.shape == (4, 4, 2)
    np.testing.assert_array_equal(task.labels_from_features([0, 2, 3]), [0, 2, 3])
    assert task.describe()["label_feature"] == "mount_wilson"


def test_feature_class_errors_name_the_problem():
    task = tasks.feature_class(channel_indices=(1,))
    with pytest.raises(ValueError, match="not from a flux"):
        task.labels_from_flux([1e-5])
    with pytest.raises(ValueError, match=r"\[4\], outside the 4 classes"):
        task.labels_from_features([0, 4])
    with pytest.raises(ValueError, match="'mount_wilson'"):
        task({"image": np.zeros((2, 2, 2), "float32")})
    with pytest.raises(ValueError, match=">= 2 classes"):
        tasks.feature_class(class_names=("alpha",))
