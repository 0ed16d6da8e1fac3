"""`make_dataset(..., epochs=(first, stop))`: each epoch's order is a function of
(seed, epoch) alone, so a run resumed at epoch k sees what an uninterrupted run
sees at epoch k."""

import numpy as np

from flarekit.data import pipeline, tasks


def _epoch_batches(builder, epochs, **options):
    data = pipeline.make_dataset(builder, "train", tasks.binary("M1.0"), batch_size=32,
                                 shuffle=True, seed=3, epochs=epochs, **options)
    steps = pipeline.epoch_steps(builder.info.splits["train"].num_examples, 32)
    batches = [targets.numpy() for _, targets in data]
    assert len(batches) == steps * (epochs[1] - epochs[0])
    return [np.concatenate(batches[i : i + steps]) for i in range(0, len(batches), steps)]


def test_epoch_order_depends_on_seed_and_epoch_only(smoke_builder):
    uninterrupted = _epoch_batches(smoke_builder, (0, 3))
    resumed = _epoch_batches(smoke_builder, (2, 3))
    np.testing.assert_array_equal(resumed[0], uninterrupted[2])
    # Epochs are reshuffled, and each holds every example once.
    assert not np.array_equal(uninterrupted[0], uninterrupted[1])
    assert sorted(uninterrupted[0].ravel()) == sorted(uninterrupted[1].ravel())


def test_oversampled_epochs_are_split_sized_and_resumable(smoke_builder):
    uninterrupted = _epoch_batches(smoke_builder, (0, 2), oversample=0.5)
    resumed = _epoch_batches(smoke_builder, (1, 2), oversample=0.5)
    np.testing.assert_array_equal(resumed[0], uninterrupted[1])
    assert len(uninterrupted[0]) == smoke_builder.info.splits["train"].num_examples
    assert 0.35 < uninterrupted[0].mean() < 0.65  # about half positives
