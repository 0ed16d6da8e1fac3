"""SDO-Benchmark (i4Ds): SDO active-region images and the next-24-h GOES peak flux.

The raw archive is read by `flarekit.data.archives`; this builder turns it
into the flarekit data contract. Configs:

- `last_step`: `image` [256, 256, 10], the images 10 min before `end`.
- `four_steps`: `frames` [4, 256, 256, 10], 12 h, 5 h, 1.5 h, 10 min before `end`.
- `last_step_smoke`, `four_steps_smoke`: the same from `dummy_data/` at
  16 x 16 pixels, for CI and for checking a set-up without the archive.

Splits: the official `test` (regions disjoint from training), and the
official training set split by active region into `train` and `validation`.
`peak_flux` stays on the dataset's own scale, SWPC flux / 0.85.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import tensorflow_datasets as tfds

from flarekit.data import archives, goes, splits

_HOMEPAGE = "https://i4ds.github.io/SDOBenchmark/"


class SdoBenchmarkConfig(tfds.core.BuilderConfig):
    """Which time steps, at what size, from where.

    Attributes:
        image_size: output width and height (the archive's JPEGs are 256).
        all_steps: True writes `frames` of the 4 steps, False `image` of the last.
        smoke: read the packaged `dummy_data/` instead of the manual folder.
        validation_fraction: share of training samples (by region) held out.
    """

    def __init__(self, *, image_size=256, all_steps=False, smoke=False,
                 validation_fraction=0.1, **kwargs):
        super().__init__(**kwargs)
        self.image_size = image_size
        self.all_steps = all_steps
        self.smoke = smoke
        self.validation_fraction = validation_fraction


class Builder(tfds.core.GeneratorBasedBuilder):
    """DatasetBuilder for SDO-Benchmark."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES: ClassVar[dict] = {
        "1.0.0": "First release: official train/test split, validation split by "
        "active region, peak_flux on the SDO-Benchmark scale (SWPC / 0.85).",
    }
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Download SDO-Benchmark from https://i4ds.github.io/SDOBenchmark/ (the
    "full" archive, about 4 GB), unpack it and place (or link) it in the TFDS
    manual folder, `<data_dir>/downloads/manual/`, so that
    `training/meta_data.csv` and `test/meta_data.csv` lie there or one folder
    below (e.g. `manual/SDOBenchmark-data-full/training/`). The sample folders
    stay as unpacked: `<phase>/<AR>/<YYYY_MM_DD_hh_mm_ss>_<n>/*.jpg`.
    """
    BUILDER_CONFIGS: ClassVar[list] = [
        SdoBenchmarkConfig(name="last_step", description="The 10 channels 10 min before the window."),
        SdoBenchmarkConfig(name="four_steps", all_steps=True,
                           description="4 time steps x 10 channels."),
        SdoBenchmarkConfig(name="last_step_smoke", image_size=16, smoke=True,
                           validation_fraction=0.3,
                           description="last_step from dummy_data/ at 16 px (CI)."),
        SdoBenchmarkConfig(name="four_steps_smoke", image_size=16, smoke=True,
                           all_steps=True, validation_fraction=0.3,
                           description="four_steps from dummy_data/ at 16 px (CI)."),
    ]

    def _info(self) -> tfds.core.DatasetInfo:
        config = self.builder_config
        size, channels = config.image_size, len(archives.SDO_BENCHMARK_CHANNELS)
        steps = len(archives.SDO_BENCHMARK_STEP_MINUTES)
        if config.all_steps:
            pixels = {"frames": tfds.features.Tensor(
                shape=(steps, size, size, channels), dtype=np.float32,
                encoding=tfds.features.Encoding.ZLIB)}
            available = tfds.features.Tensor(shape=(steps, channels), dtype=np.bool_)
        else:
            pixels = {"image": tfds.features.Tensor(
                shape=(size, size, channels), dtype=np.float32,
                encoding=tfds.features.Encoding.ZLIB)}
            available = tfds.features.Tensor(shape=(channels,), dtype=np.bool_)
        features = tfds.features.FeaturesDict({
            **pixels,
            "available": available,
            "timestamp": np.int64,
            "region": tfds.features.Text(),
            "sample_id": tfds.features.Text(),
            "peak_flux": np.float32,
            "goes_class": tfds.features.ClassLabel(names=goes.GOES_CLASSES),
        })
        metadata = tfds.core.MetadataDict(
            channels=[f"sdo_{name}" for name in archives.SDO_BENCHMARK_CHANNELS],
            # Every channel, the magnetogram too, is a JPEG rendering (0-255;
            # the magnetogram's zero field is mid-grey), so none is a signed
            # physical field: all are positive brightness, floored at 1.
            channel_declarations={
                f"sdo_{name}": {
                    "unit": "JPEG brightness 0-255",
                    "kind": "positive",
                    "floor": 1.0,
                }
                for name in archives.SDO_BENCHMARK_CHANNELS
            },
            pixel_unit="JPEG brightness 0-255 as rendered by SDO-Benchmark",
            flux_scale=archives.SDO_BENCHMARK_FLUX_SCALE,
            flux_scale_note="SWPC flux / 0.85 (SCIENCE.md trap 6); "
            "flarekit.data.goes.convert_flux(x, 'sdo_benchmark', 'science') "
            "gives true flux",
            horizon_hours=24.0,
            unit="active-region sample (SDO-Benchmark: 4 time steps x 10 channels)",
            window="largest GOES 1-8 A flux in the 24 h after `end`; timestamp is the "
            "last image, 10 min before `end`",
            cadence_minutes_before_end=list(archives.SDO_BENCHMARK_STEP_MINUTES),
            quiet_flux=goes.QUIET_FLUX,
        )
        return self.dataset_info_from_configs(
            features=features, homepage=_HOMEPAGE, metadata=metadata)

    def _root(self, dl_manager) -> Path:
        if self.builder_config.smoke:
            return Path(__file__).resolve().parent / "dummy_data"
        return archives.find_sdo_benchmark_root(dl_manager.manual_dir)

    def _split_generators(self, dl_manager):
        config = self.builder_config
        root = self._root(dl_manager)
        training = archives.read_sdo_benchmark_metadata(root / "training")
        test = archives.read_sdo_benchmark_metadata(root / "test")
        # Official train and test are disjoint in regions; validation is cut
        # from training by region too, so no region is in two parts.
        held_out = splits.region_split(
            training["region"].to_numpy(),
            fractions=(1 - config.validation_fraction, config.validation_fraction),
            seed=0, names=("train", "validation"),
        )
        splits.check_leakage(np.zeros(len(training)), training["region"].to_numpy(),
                             held_out.assignment)
        shared = set(training["region"]) & set(test["region"])
        if shared:
            raise ValueError(f"{root}: regions {sorted(shared)} are in both training and test.")
        last = np.int64(archives.SDO_BENCHMARK_STEP_MINUTES[-1] * 60)
        test_times = test["end"].astype("int64").to_numpy() // 10**9 - last
        self.info.metadata.update({
            "source": str(root),
            "validation": {"method": "by_region", "fraction": config.validation_fraction,
                           "seed": 0, "regions": sorted(set(training["region"][
                               held_out.assignment == "validation"]))},
            "counts": {"train": int(np.sum(held_out.assignment == "train")),
                       "validation": int(np.sum(held_out.assignment == "validation")),
                       "test": len(test)},
            "test_hash": splits.hash_samples(test_times, test["region"].to_numpy()),
            "split": {
                "method": "official SDO-Benchmark train/test (disjoint active regions); "
                "validation cut from training by region",
                "gap_days": None,
                "allow_leakage": False,
            },
        })
        return {
            "train": self._generate_examples(training[held_out.assignment == "train"]),
            "validation": self._generate_examples(
                training[held_out.assignment == "validation"]),
            "test": self._generate_examples(test),
        }

    def _generate_examples(self, samples):
        config = self.builder_config
        last = archives.SDO_BENCHMARK_STEP_MINUTES[-1] * 60
        for sample in samples.to_dict("records"):
            frames, available = archives.load_sdo_benchmark_sample(
                sample, size=config.image_size)
            flux = float(sample["peak_flux"])
            example = {
                "available": available if config.all_steps else available[-1],
                "timestamp": int(sample["end"].value // 10**9 - last),
                "region": sample["region"],
                "sample_id": sample["id"],
                "peak_flux": np.float32(flux),
                "goes_class": goes.GOES_CLASSES[goes.flux_to_class_index(flux)],
            }
            if config.all_steps:
                example["frames"] = frames
            else:
                example["image"] = frames[-1]
            yield sample["id"], example
