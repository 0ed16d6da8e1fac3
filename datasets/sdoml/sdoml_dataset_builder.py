"""SDOML (Galvez et al. 2019): full-disk SDO images labelled from a flare list.

SDOML holds no flare labels; this builder labels each full-disk observation
with the largest GOES flare whose peak falls in the next `horizon_hours`
(and the previous ones, for persistence), from a flare list the user puts
beside the images, through `flarekit.data.events.label_samples`. Configs:

- `v1`: the `.npz` release (one file per channel and time).
- `v2`: the zarr release (`/<year>/<channel>` arrays aligned on `T_OBS`).
- `v1_smoke`, `v2_smoke`: three channels at 16 x 16 from `dummy_data/`.

Splits are chronological with a gap (`flarekit.data.splits.chronological_split`).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import tensorflow_datasets as tfds

from flarekit.data import archives, events, goes, splits

_HOMEPAGE = "https://purl.stanford.edu/nk828sc2920"
# What each channel is, for flarekit.layers (metadata "channel_declarations"):
# HMI field components are signed (Gauss, noise ~10 G); AIA channels are
# intensities in DN/s, floored at 1 DN/s.
CHANNEL_DECLARATIONS = {
    **{
        name: {"unit": "DN/s", "kind": "positive", "floor": 1.0}
        for name in archives.SDOML_CHANNELS
        if name.startswith("aia_")
    },
    **{
        name: {"unit": "G", "kind": "signed", "floor": 10.0}
        for name in archives.SDOML_CHANNELS
        if name.startswith("hmi_")
    },
}


class SdomlConfig(tfds.core.BuilderConfig):
    """Which release, channels, size and labelling conventions.

    Attributes:
        release: "v1" (.npz) or "v2" (zarr).
        channels: canonical channel names (`archives.SDOML_CHANNELS`), the
            first one is the time reference for alignment.
        image_size: output width and height (SDOML stores 512).
        cadence_minutes: keep one observation per this many minutes (None: all).
        horizon_hours: forecast window after each observation.
        flux_scale: scale of `peak_flux` (the flare list's classes are moved to it).
        gap_days: days left out between train, validation and test.
        smoke: read `dummy_data/` instead of the manual folder.
    """

    def __init__(self, *, release="v1", channels=archives.SDOML_CHANNELS,
                 image_size=512, cadence_minutes=60, horizon_hours=24.0,
                 flux_scale="swpc", gap_days=27.0, smoke=False, **kwargs):
        super().__init__(**kwargs)
        self.release = release
        self.channels = tuple(channels)
        self.image_size = image_size
        self.cadence_minutes = cadence_minutes
        self.horizon_hours = horizon_hours
        self.flux_scale = flux_scale
        self.gap_days = gap_days
        self.smoke = smoke


_SMOKE = {"channels": ("aia_171", "aia_193", "hmi_bz"), "image_size": 16,
          "cadence_minutes": None, "gap_days": 10.0, "smoke": True}


class Builder(tfds.core.GeneratorBasedBuilder):
    """DatasetBuilder for SDOML v1 / v2 with flare-list labels."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES: ClassVar[dict] = {
        "1.0.0": "First release: v1 (.npz) and v2 (zarr), channels aligned in "
        "time, labels from a flare list, chronological split with a gap.",
    }
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Put in the TFDS manual folder, `<data_dir>/downloads/manual/`:
    - `sdoml_v1/`: the SDOML v1 `.npz` files (any folder tree below it; file
      names `AIA<YYYYMMDD>_<HHMM>_<channel>.npz`, `HMI<YYYYMMDD>_<HHMM>_<bx|by|bz>.npz`),
      from https://purl.stanford.edu/nk828sc2920 (Galvez et al. 2019); or
    - `sdoml_v2/`: the SDOML v2 zarr stores (`*.zarr`, arrays `/<year>/<channel>`);
    - `flare_events.csv`: a GOES flare list covering the same years, in the
      SWPC, NCEI or HEK layout (flarekit/tools/download_events.py writes one
      from the HEK).
    """
    BUILDER_CONFIGS: ClassVar[list] = [
        SdomlConfig(name="v1", description="SDOML v1 .npz, 12 channels at 512 px, hourly."),
        SdomlConfig(name="v2", release="v2",
                    description="SDOML v2 zarr, 12 channels at 512 px, hourly."),
        SdomlConfig(name="v1_smoke", description="dummy_data v1, 3 channels, 16 px.",
                    **_SMOKE),
        SdomlConfig(name="v2_smoke", release="v2",
                    description="dummy_data v2, 3 channels, 16 px.", **_SMOKE),
    ]

    def _info(self) -> tfds.core.DatasetInfo:
        config = self.builder_config
        shape = (config.image_size, config.image_size, len(config.channels))
        features = tfds.features.FeaturesDict({
            "image": tfds.features.Tensor(shape=shape, dtype=np.float32,
                                          encoding=tfds.features.Encoding.ZLIB),
            "timestamp": np.int64,
            "region": tfds.features.Text(),
            "peak_flux": np.float32,
            "previous_peak_flux": np.float32,
            "goes_class": tfds.features.ClassLabel(names=goes.GOES_CLASSES),
        })
        metadata = tfds.core.MetadataDict(
            channels=list(config.channels),
            channel_declarations={
                name: dict(CHANNEL_DECLARATIONS[name]) for name in config.channels
            },
            pixel_unit="AIA: DN/s (SDOML corrections applied); HMI: Gauss",
            release=config.release,
            flux_scale=config.flux_scale,
            horizon_hours=float(config.horizon_hours),
            window="largest flare whose GOES peak is in (t, t + horizon]; "
            "previous_peak_flux: in (t - horizon, t]",
            cadence_minutes=config.cadence_minutes,
            quiet_flux=goes.QUIET_FLUX,
        )
        return self.dataset_info_from_configs(
            features=features, homepage=_HOMEPAGE, metadata=metadata)

    def _root(self, dl_manager) -> Path:
        if self.builder_config.smoke:
            return Path(__file__).resolve().parent / "dummy_data"
        return Path(dl_manager.manual_dir)

    def _split_generators(self, dl_manager):
        config = self.builder_config
        root = self._root(dl_manager)
        folder = root / f"sdoml_{config.release}"
        if not folder.is_dir():
            raise FileNotFoundError(f"No {folder}: {self.MANUAL_DOWNLOAD_INSTRUCTIONS}")
        if config.release == "v1":
            files = archives.list_sdoml_v1(folder)
        else:
            files = archives.list_sdoml_v2(folder)
        aligned, dropped = archives.align_channels(files, config.channels)
        aligned = _thin(aligned, config.cadence_minutes)
        labelled, parse_report, label_report = _labels(root, aligned, config)
        split = splits.chronological_split(
            labelled["timestamp"].to_numpy(), labelled["region"].to_numpy(),
            gap_days=config.gap_days)
        self.info.metadata.update({
            "source": str(folder),
            "dropped_unaligned": dropped,
            "flare_list": parse_report.summary(),
            "labels": label_report,
            "split": split.to_metadata(),
            "test_hash": splits.hash_samples(
                labelled["timestamp"][split.mask("test")].to_numpy(),
                labelled["region"][split.mask("test")].to_numpy()),
        })
        return {name: self._generate_examples(labelled[split.mask(name)])
                for name in split.names}

    def _download_and_prepare(self, dl_manager, download_config):
        # Beam options or a runner (`tfds build --beam_pipeline_options=...`)
        # ask for a Beam build: the images are then read by Beam workers.
        self._beam_build = (
            download_config.beam_runner is not None
            or download_config.beam_options is not None
        )
        return super()._download_and_prepare(dl_manager, download_config)

    def _generate_examples(self, samples):
        """(key, example) pairs, one per aligned observation; in a Beam build a
        Beam PTransform that reads them in workers (docs/scale.md)."""
        config = self.builder_config
        records = samples.to_dict("records")
        if getattr(self, "_beam_build", False):
            beam = tfds.core.lazy_imports.apache_beam
            return beam.Create(records) | beam.Map(
                sdoml_example, channels=config.channels, image_size=config.image_size
            )
        return (sdoml_example(sample, config.channels, config.image_size)
                for sample in records)


def sdoml_example(sample: dict, channels, image_size: int):
    """(key, example) of one aligned SDOML observation: its channels stacked."""
    image = np.stack([
        archives.load_sdoml_image(sample[f"{channel}_path"],
                                  int(sample[f"{channel}_index"]),
                                  image_size)
        for channel in channels
    ], axis=-1)
    flux = float(sample["peak_flux"])
    return str(sample["timestamp"]), {
        "image": image,
        "timestamp": int(sample["timestamp"]),
        "region": "disk",
        "peak_flux": np.float32(flux),
        "previous_peak_flux": np.float32(sample["previous_peak_flux"]),
        "goes_class": goes.GOES_CLASSES[goes.flux_to_class_index(flux)],
    }


def _thin(aligned, cadence_minutes):
    """Keep the first observation in each `cadence_minutes` bucket."""
    if not cadence_minutes:
        return aligned
    bucket = aligned["time"].astype("int64") // int(cadence_minutes * 60e9)
    return aligned[~bucket.duplicated()].reset_index(drop=True)


def _labels(root: Path, aligned, config):
    """Peak flux in the window after (and before) each observation."""
    path = root / "flare_events.csv"
    if not path.is_file():
        raise FileNotFoundError(
            f"No flare list {path}: SDOML has no labels; put a GOES flare list there "
            "(SWPC, NCEI or HEK layout)."
        )
    table, parse_report = events.read_event_list(path)
    samples = aligned.copy()
    samples["timestamp"] = samples["time"].astype("int64") // 10**9
    samples["region"] = events.DISK
    settings = {"horizon_hours": config.horizon_hours, "threshold": "M1.0",
                "window": "peak", "boundaries": "(]", "scale": config.flux_scale}
    labelled, label_report = events.label_samples(table, samples, **settings)
    earlier = samples.assign(timestamp=samples["timestamp"] - int(config.horizon_hours * 3600))
    previous, _ = events.label_samples(table, earlier, **settings)
    labelled["previous_peak_flux"] = previous["peak_flux"].to_numpy()
    return labelled, parse_report, label_report
