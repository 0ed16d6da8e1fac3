"""Tests of the synthetic_sun TFDS builder on its tiny `*_smoke` configs.

Run with `datasets/` on sys.path (pytest does that: `datasets/` has no
`__init__.py`, so this folder is imported as the package `synthetic_sun`).
The `tfds.testing.DatasetBuilderTestCase` classes need `dill`, which
`tfds.testing` imports; without it they are skipped with that reason, and
`test_builder_writes_what_the_library_yields` still checks the builder.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import tensorflow_datasets as tfds

from synthetic_sun import synthetic_sun_dataset_builder

_HAVE_DILL = importlib.util.find_spec("dill") is not None


def _expected_splits(config_name):
    """Examples per split, from the simulation the builder wraps."""
    from flarekit.data import synthetic

    config = synthetic_sun_dataset_builder.Builder.builder_configs[config_name]
    sun = synthetic.simulate(config.sun_config())
    return sun.split(config.kind).counts()


if _HAVE_DILL:
    # No shared base class: pytest collects every TestCase subclass, and one
    # without BUILDER_CONFIG_NAMES_TO_TEST would build the full-size configs.

    class ActiveRegionSmokeTest(tfds.testing.DatasetBuilderTestCase):
        DATASET_CLASS = synthetic_sun_dataset_builder.Builder
        SKIP_CHECKSUMS = True  # Nothing is downloaded.
        BUILDER_CONFIG_NAMES_TO_TEST = ("active_region_smoke",)
        SPLITS = _expected_splits("active_region_smoke")

    class FullDiskSmokeTest(tfds.testing.DatasetBuilderTestCase):
        DATASET_CLASS = synthetic_sun_dataset_builder.Builder
        SKIP_CHECKSUMS = True
        BUILDER_CONFIG_NAMES_TO_TEST = ("full_disk_smoke",)
        SPLITS = _expected_splits("full_disk_smoke")

    class SequenceSmokeTest(tfds.testing.DatasetBuilderTestCase):
        DATASET_CLASS = synthetic_sun_dataset_builder.Builder
        SKIP_CHECKSUMS = True
        BUILDER_CONFIG_NAMES_TO_TEST = ("sequence_smoke",)
        SPLITS = _expected_splits("sequence_smoke")

else:

    @pytest.mark.skip(reason="tfds.testing.DatasetBuilderTestCase needs `dill`")
    def test_tfds_dataset_builder_test_case():
        """Placeholder that reports why the tfds.testing cases did not run."""


def test_builder_configs_are_complete():
    names = set(synthetic_sun_dataset_builder.Builder.builder_configs)
    for kind in ("full_disk", "active_region", "sequence", "sequence_48h"):
        assert {kind, f"{kind}_smoke"} <= names
    default = synthetic_sun_dataset_builder.Builder.builder_configs["active_region"]
    assert default.sun_config().patch_size == 64
    config_48h = synthetic_sun_dataset_builder.Builder.builder_configs["sequence_48h"]
    assert config_48h.sun_config().horizon_hours == 48.0


def test_builder_writes_what_the_library_yields(tmp_path):
    from flarekit.data import goes, synthetic

    name = "synthetic_sun/active_region_smoke"
    builder = tfds.builder(name, data_dir=str(tmp_path))
    builder.download_and_prepare()
    # Reload from disk: the metadata must come back with the dataset.
    reloaded = tfds.builder(name, data_dir=str(tmp_path))
    metadata = reloaded.info.metadata
    for key in (
        "spec_version",
        "seed",
        "cadence_minutes",
        "horizon_hours",
        "probability_thresholds",
        "flux_scale",
        "channels",
        "split",
        "base_rates",
    ):
        assert key in metadata
    assert metadata["channels"] == list(synthetic.CHANNELS)
    assert metadata["probability_thresholds"] == ["C1.0", "M1.0", "X1.0"]
    assert "gap" in metadata["split"]["dropped"]
    features = reloaded.info.features
    assert features["goes_class"].names == list(goes.GOES_CLASSES)
    assert features["mount_wilson"].names == list(synthetic.MOUNT_WILSON_CLASSES)
    assert features["image"].shape == (32, 32, len(synthetic.CHANNELS))

    sun = synthetic.simulate(builder.builder_config.sun_config())
    expected = {
        synthetic.example_key(example): example
        for example in sun.examples("active_region", "test")
    }
    written = list(tfds.as_numpy(reloaded.as_dataset(split="test")))
    assert len(written) == len(expected) == metadata["split"]["counts"]["test"]
    for example in written:
        reference = expected[f"{example['region'].decode()}_{example['timestamp']}"]
        np.testing.assert_array_equal(example["image"], reference["image"])
        np.testing.assert_array_equal(example["probability"], reference["probability"])
        assert example["goes_class"] == reference["goes_class"]
        assert example["mount_wilson"] == reference["mount_wilson"]
    counts = {
        name: reloaded.info.splits[name].num_examples
        for name in ("train", "validation", "test")
    }
    assert counts == metadata["split"]["counts"]


def test_parallel_build_writes_the_serial_examples(tmp_path, monkeypatch, capsys):
    # Two render processes must write exactly the examples one process
    # renders (every image seeds its own Generator), and the build reports
    # its speed in examples/s.
    from flarekit.data import synthetic

    monkeypatch.setenv(synthetic_sun_dataset_builder.WORKERS_ENV, "2")
    name = "synthetic_sun/active_region_smoke"
    builder = tfds.builder(name, data_dir=str(tmp_path))
    builder.download_and_prepare()
    report = capsys.readouterr().out
    for split in ("train", "validation", "test"):
        assert f"active_region_smoke {split}: " in report
    assert "examples/s, 2 render processes)" in report
    sun = synthetic.simulate(builder.builder_config.sun_config())
    for split in ("train", "validation", "test"):
        expected = {
            synthetic.example_key(example): example
            for example in sun.examples("active_region", split, workers=1)
        }
        written = list(tfds.as_numpy(builder.as_dataset(split=split)))
        assert len(written) == len(expected) > 0
        for example in written:
            key = f"{example['region'].decode()}_{example['timestamp']}"
            np.testing.assert_array_equal(example["image"], expected[key]["image"])


def test_render_workers_reads_the_environment(monkeypatch):
    monkeypatch.delenv(synthetic_sun_dataset_builder.WORKERS_ENV, raising=False)
    assert synthetic_sun_dataset_builder.render_workers(10) == 1
    assert synthetic_sun_dataset_builder.render_workers(15000) >= 1
    monkeypatch.setenv(synthetic_sun_dataset_builder.WORKERS_ENV, "3")
    assert synthetic_sun_dataset_builder.render_workers(10) == 3
    monkeypatch.setenv(synthetic_sun_dataset_builder.WORKERS_ENV, "two")
    with pytest.raises(ValueError, match="FLAREKIT_BUILD_WORKERS.*'two'"):
        synthetic_sun_dataset_builder.render_workers(10)
