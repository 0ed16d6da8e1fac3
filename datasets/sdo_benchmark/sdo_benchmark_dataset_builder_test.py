"""Builds SDO-Benchmark from dummy_data/ and checks the data contract."""

import csv
import datetime
from pathlib import Path

import numpy as np
import pytest

from flarekit.data import goes

tfds = pytest.importorskip("tensorflow_datasets")

from sdo_benchmark import sdo_benchmark_dataset_builder

DUMMY = Path(sdo_benchmark_dataset_builder.__file__).parent / "dummy_data"


def _meta(phase):
    with open(DUMMY / phase / "meta_data.csv") as stream:
        return {row["id"]: float(row["peak_flux"]) for row in csv.DictReader(stream)}


@pytest.fixture(scope="module")
def last_step(tmp_path_factory):
    builder = sdo_benchmark_dataset_builder.Builder(
        config="last_step_smoke", data_dir=str(tmp_path_factory.mktemp("tfds")))
    builder.download_and_prepare()
    return builder


def _examples(builder, split):
    return list(tfds.as_numpy(builder.as_dataset(split=split)))


def test_splits_and_region_grouping(last_step):
    counts = {name: info.num_examples for name, info in last_step.info.splits.items()}
    assert counts == {"train": 6, "validation": 2, "test": 4}
    regions = {split: {ex["region"].decode() for ex in _examples(last_step, split)}
               for split in ("train", "validation", "test")}
    assert not regions["train"] & regions["validation"]
    assert not (regions["train"] | regions["validation"]) & regions["test"]
    assert last_step.info.metadata["validation"]["regions"] == sorted(regions["validation"])


def test_contract_features_and_flux_scale(last_step):
    metadata = last_step.info.metadata
    assert metadata["flux_scale"] == "sdo_benchmark" and metadata["horizon_hours"] == 24.0
    assert len(metadata["channels"]) == 10 and metadata["channels"][-1] == "sdo_magnetogram"
    fluxes = {**_meta("training"), **_meta("test")}
    for example in _examples(last_step, "test") + _examples(last_step, "train"):
        sample_id = example["sample_id"].decode()
        assert example["image"].shape == (16, 16, 10)
        assert example["image"].dtype == np.float32 and example["image"].max() > 0
        # Raw values: the flux exactly as meta_data.csv states it.
        assert example["peak_flux"] == np.float32(fluxes[sample_id])
        assert example["goes_class"] == goes.flux_to_class_index(fluxes[sample_id])
        # The last image is 10 min before the sample's `end` (the id's time).
        end = datetime.datetime.strptime(sample_id[6:25], "%Y_%m_%d_%H_%M_%S")
        end = end.replace(tzinfo=datetime.UTC)
        assert example["timestamp"] == int(end.timestamp()) - 600


def test_four_steps_marks_the_missing_image(tmp_path):
    builder = sdo_benchmark_dataset_builder.Builder(config="four_steps_smoke",
                                                    data_dir=str(tmp_path))
    builder.download_and_prepare()
    examples = {ex["sample_id"].decode(): ex
                for split in ("train", "validation")
                for ex in _examples(builder, split)}
    sample = examples["11515_2012_07_02_10_00_00_0"]
    assert sample["frames"].shape == (4, 16, 16, 10)
    channel = list(sdo_benchmark_dataset_builder.archives.SDO_BENCHMARK_CHANNELS).index("335")
    assert not sample["available"][1, channel]
    assert sample["available"].sum() == 39
    assert np.all(sample["frames"][1, :, :, channel] == 0)


def test_manual_folder_missing_names_what_is_expected(tmp_path):
    from flarekit.data import archives

    with pytest.raises(FileNotFoundError, match="training/meta_data.csv"):
        archives.find_sdo_benchmark_root(tmp_path)
