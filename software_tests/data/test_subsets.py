"""Label subsets and the training-only rule of pretraining."""

import numpy as np
import pytest

from flarekit.data import subsets, tasks
from flarekit.data.splits import EvaluationSetError


def test_subset_indices_are_seeded_sorted_and_spread_over_the_period():
    first = subsets.label_subset_indices(1000, 0.01, seed=0)
    assert len(first) == 10 and np.all(np.diff(first) > 0)
    assert np.array_equal(first, subsets.label_subset_indices(1000, 0.01, seed=0))
    assert not np.array_equal(first, subsets.label_subset_indices(1000, 0.01, seed=1))
    # Random over the whole training period, not its first days.
    assert subsets.label_subset_indices(1000, 0.1, seed=0).max() > 500
    assert len(subsets.label_subset_indices(50, 0.001, seed=0)) == 1
    assert subsets.label_subset_indices(7, 1.0, seed=3).tolist() == list(range(7))
    with pytest.raises(ValueError, match="1.5"):
        subsets.label_subset_indices(10, 1.5, seed=0)


@pytest.mark.parametrize("split", ["test", "validation", "test[:50%]", "all"])
def test_pretraining_refuses_anything_but_the_training_split(split):
    with pytest.raises(EvaluationSetError, match="trap 3"):
        subsets.ensure_training_split(split, "self-supervised pretraining")
    subsets.ensure_training_split("train", "x")
    subsets.ensure_training_split("train[:50%]", "x")


def test_subset_dataset_holds_exactly_the_chosen_examples(smoke_builder):
    from flarekit.data import pipeline

    flux = pipeline.read_columns(smoke_builder, "train", ["peak_flux"])[
        "peak_flux"
    ].to_numpy()
    indices = subsets.label_subset_indices(len(flux), 0.1, seed=4)
    task = tasks.binary("C1.0")
    data = subsets.subset_dataset(
        smoke_builder, "train", indices, task, batch_size=16, shuffle=False
    )
    labels = np.concatenate([y.numpy()[:, 0] for _, y in data])
    assert len(labels) == len(indices)
    np.testing.assert_array_equal(labels, task.labels_from_flux(flux[indices]))
    with pytest.raises(EvaluationSetError):
        subsets.subset_dataset(smoke_builder, "test", indices, task)
    with pytest.raises(ValueError, match="must be in"):
        subsets.subset_dataset(smoke_builder, "train", [len(flux)], task)
