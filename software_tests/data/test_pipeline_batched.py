"""`make_dataset` parses serialized records a batch at a time: the same examples
as TFDS's one-at-a-time path, in one order per seed, whatever the cache."""

import numpy as np
import pytest
import tensorflow as tf

from flarekit.data import pipeline, tasks


def _rows(dataset):
    """(timestamp, region, target, image checksum) of every example, in order."""
    rows = []
    for inputs, targets, kept in dataset:
        images = (inputs["images"] if isinstance(inputs, dict) else inputs).numpy()
        # Patches off the limb hold NaN: the checksum counts them apart.
        images = images.reshape(len(images), -1)
        sums = np.nansum(images, axis=1) + 1e3 * np.isnan(images).sum(axis=1)
        targets = targets.numpy().reshape(len(images), -1)[:, 0]
        rows += zip(kept["timestamp"].numpy().tolist(), kept["region"].numpy().tolist(),
                    np.round(targets.astype(float), 5).tolist(),
                    np.round(sums.astype(float), 1).tolist())
    return rows


def _make(builder, task=None, **options):
    options.setdefault("keep_features", ("timestamp", "region"))
    return pipeline.make_dataset(builder, "train", task or tasks.binary("C1.0"),
                                 batch_size=16, seed=5, **options)


@pytest.mark.parametrize("split", ["train", "train[10:80]", "validation"])
def test_unshuffled_examples_are_tfds_examples_in_tfds_order(smoke_builder, split):
    expected = list(smoke_builder.as_dataset(split=split, shuffle_files=False))
    found = list(pipeline.make_dataset(smoke_builder, split, None, batch_size=None,
                                       cache=False))
    assert len(found) == len(expected) == smoke_builder.info.splits[split].num_examples
    for old, new in zip(expected, found):
        assert sorted(old) == sorted(new)
        for key in old:
            assert new[key].dtype == old[key].dtype and new[key].shape == old[key].shape
            np.testing.assert_array_equal(new[key].numpy(), old[key].numpy(), err_msg=key)


def test_same_order_for_a_seed_across_constructions_and_cache(smoke_builder):
    first = _rows(_make(smoke_builder, shuffle=True))
    assert first == _rows(_make(smoke_builder, shuffle=True))
    # The serialized-record route (no cache) and the cached route shuffle the
    # same stored-order stream with the same seeds.
    assert first == _rows(_make(smoke_builder, shuffle=True, cache=False))
    other_seed = _rows(pipeline.make_dataset(
        smoke_builder, "train", tasks.binary("C1.0"), batch_size=16, seed=6, shuffle=True,
        keep_features=("timestamp", "region")))
    assert first != other_seed and sorted(first) == sorted(other_seed)



def test_streaming_shuffle_buffer_is_a_sixteenth_of_the_split(smoke_builder):
    # A buffer as large as the split reads every record before the first batch
    # (0.67x a raw read in make bench); 1/16 bounds that hold-up.
    assert pipeline.stream_shuffle_buffer(4096) == 256
    assert pipeline.stream_shuffle_buffer(10) == 64
    assert pipeline.stream_shuffle_buffer(10**6) == 1024
    # The default is that buffer: the same order as naming it explicitly.
    count = smoke_builder.info.splits["train"].num_examples
    default = _rows(_make(smoke_builder, shuffle=True, cache=False))
    named = _rows(_make(smoke_builder, shuffle=True, cache=False,
                        shuffle_buffer=pipeline.stream_shuffle_buffer(count)))
    assert default == named
    assert default != _rows(_make(smoke_builder, shuffle=True, cache=False, shuffle_buffer=1))
    with pytest.raises(ValueError, match="shuffle_buffer"):
        _make(smoke_builder, shuffle=True, shuffle_buffer=0)

def test_resumed_epoch_is_the_uninterrupted_epoch_with_and_without_cache(smoke_builder):
    epochs = {cache: _rows(_make(smoke_builder, shuffle=True, epochs=(0, 3), cache=cache))
              for cache in (True, False)}
    assert epochs[True] == epochs[False]
    size = smoke_builder.info.splits["train"].num_examples
    resumed = _rows(_make(smoke_builder, shuffle=True, epochs=(2, 3), cache=False))
    assert resumed == epochs[True][2 * size:]
    assert epochs[True][:size] != epochs[True][size : 2 * size]


@pytest.mark.parametrize("options", [
    {},
    {"cache": False},
    {"shuffle": True},
    {"shuffle": True, "cache": False, "drop_remainder": True},
    {"shuffle": True, "epochs": (0, 2)},
    {"shuffle": True, "epochs": (0, 2), "oversample": 0.5},
])
def test_each_epoch_holds_the_examples_of_the_per_example_path(
        smoke_builder, monkeypatch, options):
    batched = _rows(_make(smoke_builder, **options))
    with monkeypatch.context() as patch:
        # No batched parser: the TFDS path that parses one example at a time.
        patch.setattr(pipeline, "batch_parser", lambda builder: None)
        per_example = _rows(_make(smoke_builder, **options))
    assert len(batched) == len(per_example) > 0
    if "oversample" in options:
        # Draws differ with the stream; every drawn example is a split example.
        assert set(batched) <= set(_rows(_make(smoke_builder)))
        return
    assert sorted(batched) == sorted(per_example)


@pytest.mark.parametrize("task", [
    tasks.multiclass(), tasks.regression(), tasks.binary("M1.0", channel_indices=(2, 0)),
    tasks.generation("goes_class", (1,)), tasks.feature_class("mount_wilson"),
], ids=["multiclass", "regression", "channels", "generation", "mount_wilson"])
def test_task_maps_over_a_batch_as_over_single_examples(smoke_builder, monkeypatch, task):
    batched = list(_make(smoke_builder, task, keep_features=()))
    monkeypatch.setattr(pipeline, "batch_parser", lambda builder: None)
    single = list(_make(smoke_builder, task, keep_features=()))
    assert len(batched) == len(single)
    for new, old in zip(batched, single):
        tf.nest.map_structure(
            lambda a, b: np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6,
                                                    equal_nan=True), new, old)


def _store(tmp_path, features, values, count=40):
    import tensorflow_datasets as tfds

    examples = tf.data.Dataset.range(count).map(values)
    return tfds.dataset_builders.store_as_tfds_dataset(
        name="flarekit_parser_check", version="1.0.0",
        features=tfds.features.FeaturesDict(features), split_datasets={"train": examples},
        data_dir=str(tmp_path))


def test_encoded_tensors_decode_batched_like_tfds(tmp_path):
    import tensorflow_datasets as tfds

    encoding = tfds.features.Encoding
    builder = _store(tmp_path, {
        "zlib_image": tfds.features.Tensor(shape=(5, 3, 2), dtype=np.float32,
                                           encoding=encoding.ZLIB),
        "bytes_counts": tfds.features.Tensor(shape=(4,), dtype=np.int16,
                                             encoding=encoding.BYTES),
        "present": tfds.features.Tensor(shape=(3,), dtype=np.bool_),
        "pixels": tfds.features.Tensor(shape=(2, 2), dtype=np.uint8),
        "label": tfds.features.ClassLabel(names=["a", "b", "c"]),
    }, lambda i: {
        "zlib_image": tf.random.stateless_normal((5, 3, 2), tf.stack([i, 1])),
        "bytes_counts": tf.cast(tf.range(4, dtype=tf.int64) * i - 70, tf.int16),
        "present": tf.range(3, dtype=tf.int64) < i % 4,
        "pixels": tf.cast(tf.fill((2, 2), i * 7 % 256), tf.uint8),
        "label": i % 3,
    })
    parse = pipeline.batch_parser(builder)
    assert parse is not None
    expected = next(iter(builder.as_dataset(split="train", shuffle_files=False).batch(40)))
    found = parse(next(iter(pipeline.serialized_records(builder, "train").batch(40))))
    for key, value in expected.items():
        assert found[key].dtype == value.dtype and found[key].shape == value.shape, key
        np.testing.assert_array_equal(found[key].numpy(), value.numpy(), err_msg=key)


def test_a_feature_with_a_codec_falls_back_to_per_example_parsing(tmp_path):
    import tensorflow_datasets as tfds

    builder = _store(tmp_path, {
        "image": tfds.features.Image(shape=(8, 8, 1)),
        "peak_flux": tfds.features.Scalar(dtype=np.float32),
    }, lambda i: {"image": tf.cast(tf.fill((8, 8, 1), i), tf.uint8),
                  "peak_flux": tf.cast(i, tf.float32) * 1e-6}, count=12)
    assert pipeline.batch_parser(builder) is None
    batches = list(pipeline.make_dataset(builder, "train", tasks.binary("M1.0"),
                                         batch_size=5, cache=False))
    # The image of example i is filled with i; its flux is i 1e-6 (M1 from 10).
    index = np.concatenate([inputs.numpy()[:, 0, 0, 0] for inputs, _ in batches])
    targets = np.concatenate([targets.numpy()[:, 0] for _, targets in batches])
    assert sorted(index) == list(range(12))
    np.testing.assert_array_equal(targets, (index >= 10).astype(np.float32))


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"cache": False},
        {"shuffle": True},
        {"batch_size": 7, "drop_remainder": True},
        {"keep_features": ("peak_flux",)},
    ],
)
@pytest.mark.parametrize("split", ["validation", "test[:50%]"])
def test_one_pass_states_its_length_so_keras_does_not_run_out_of_data(
    smoke_builder, split, options
):
    # Unknown lengths made Keras 3.15 warn "Your input ran out of data" at
    # every run's first validation pass.
    options = {"batch_size": 8, **options}
    data = pipeline.make_dataset(smoke_builder, split, **options)
    examples = smoke_builder.info.splits[split].num_examples
    expected = pipeline.batch_count(
        examples, options["batch_size"], options.get("drop_remainder", False)
    )
    assert int(data.cardinality()) == expected == sum(1 for _ in data)


def test_repeated_and_oversampled_data_keep_an_open_length(smoke_builder):
    repeated = pipeline.make_dataset(smoke_builder, "train", batch_size=8, repeat=True)
    assert int(repeated.cardinality()) in (
        int(tf.data.INFINITE_CARDINALITY),
        int(tf.data.UNKNOWN_CARDINALITY),
    )
    task = tasks.binary()
    oversampled = pipeline.make_dataset(
        smoke_builder, "train", task, batch_size=8, oversample=0.5
    )
    assert int(oversampled.cardinality()) < 0
