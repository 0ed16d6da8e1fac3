"""SHARP magnetogram sequences: 16 frames at 96-minute cadence, >= M1 labels.

The layout of Grim & Gradvohl's MViT work: JPEG cut-outs of HMI SHARP
line-of-sight magnetograms and label files with lines `<frame name> <0/1>`
(a flare >= M1.0 within 24 h or 48 h of that frame). Each labelled frame is
the last of a 16-frame sequence of its HARP at 96-minute cadence. The split
is hybrid (`flarekit.data.splits.hybrid_kfold_split`): the last block in
time is a chronological test set, the block before it is cut into 5 folds
by time; config `m24_fold<k>` makes fold k the validation part.

Configs: `m24_fold0` ... `m24_fold4`, `m48_fold0` ... `m48_fold4`, and
`m24_smoke`, `m48_smoke` from `dummy_data/` at 16 x 16 with 2 folds.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import tensorflow_datasets as tfds

from flarekit.data import goes, splits
from flarekit.data.archives import images, sharp

_HOMEPAGE = "http://jsoc.stanford.edu/doc/data/hmi/sharp/sharp.htm"
# The labels say only ">= M1.0 or not"; positives get the threshold's flux
# (a lower bound) and negatives the contract's "quiet" (below threshold).
_POSITIVE_FLUX = goes.class_to_flux("M1.0")


class SharpSequencesConfig(tfds.core.BuilderConfig):
    """Horizon, fold and size of a SHARP-sequence dataset.

    Attributes:
        horizon_hours: 24 or 48, which label file to read.
        fold: which development fold is the validation part.
        n_folds: folds over the development block.
        test_fraction: share of the time span in the chronological test block.
        gap_days: days left out between parts.
        image_size: frames are resized to image_size x image_size.
        max_missing_frames: frames a kept sequence may lack (zero-filled).
        smoke: read `dummy_data/` instead of the manual folder.
    """

    def __init__(self, *, horizon_hours=24, fold=0, n_folds=5, test_fraction=0.2,
                 gap_days=27.0, image_size=128, max_missing_frames=0, smoke=False,
                 **kwargs):
        super().__init__(**kwargs)
        self.horizon_hours = horizon_hours
        self.fold = fold
        self.n_folds = n_folds
        self.test_fraction = test_fraction
        self.gap_days = gap_days
        self.image_size = image_size
        self.max_missing_frames = max_missing_frames
        self.smoke = smoke


def _configs():
    configs = [
        SharpSequencesConfig(name=f"m{hours}_fold{fold}", horizon_hours=hours, fold=fold,
                             description=f">= M1.0 within {hours} h; fold {fold} of 5 "
                             "validates.")
        for hours in (24, 48) for fold in range(5)
    ]
    configs += [
        SharpSequencesConfig(name=f"m{hours}_smoke", horizon_hours=hours, n_folds=2,
                             image_size=16, smoke=True,
                             description=f"dummy_data/, >= M1.0 within {hours} h (CI).")
        for hours in (24, 48)
    ]
    return configs


class Builder(tfds.core.GeneratorBasedBuilder):
    """DatasetBuilder for SHARP magnetogram sequences."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES: ClassVar[dict] = {
        "1.0.0": "First release: 16-frame sequences, 24 h / 48 h labels, hybrid "
        "k-fold + chronological test split.",
    }
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Put in the TFDS manual folder, `<data_dir>/downloads/manual/`:
    - `frames/`: the SHARP magnetogram JPEGs, any folder tree, named
      `hmi.sharp_720s.<HARP>.<YYYYMMDD_hhmmss>_TAI.magnetogram.fits.jpg`
      (`.jpg` or no suffix also do);
    - `labels_24h.txt`, `labels_48h.txt`: lines `<name> <0|1>`, the name being
      the last frame of its 16-frame sequence as the archive writes it
      (`hmi.sharp_720s.<HARP>.<YYYYMMDD_hhmmss>_TAI.magnetogram`, with or
      without `.fits.jpg`) or the sequence
      (`hmi.sharp_720s.<HARP>.<start>_TAI.to.<end>_TAI`).
    """
    BUILDER_CONFIGS: ClassVar[list] = _configs()

    def _info(self) -> tfds.core.DatasetInfo:
        config = self.builder_config
        size, length = config.image_size, sharp.SHARP_SEQUENCE_LENGTH
        features = tfds.features.FeaturesDict({
            "frames": tfds.features.Tensor(shape=(length, size, size, 1), dtype=np.float32,
                                           encoding=tfds.features.Encoding.ZLIB),
            "frame_present": tfds.features.Tensor(shape=(length,), dtype=np.bool_),
            "timestamp": np.int64,
            "region": tfds.features.Text(),
            "harp": np.int64,
            "label": np.int64,
            "fold": np.int64,
            "peak_flux": np.float32,
            "goes_class": tfds.features.ClassLabel(names=goes.GOES_CLASSES),
        })
        metadata = tfds.core.MetadataDict(
            channels=["magnetogram_jpeg"],
            # A JPEG rendering of the field (128 is zero field), not Gauss: its
            # values are positive brightness, so it is not scaled as signed.
            channel_declarations={
                "magnetogram_jpeg": {
                    "unit": "JPEG brightness 0-255",
                    "kind": "positive",
                    "floor": 1.0,
                }
            },
            pixel_unit="JPEG brightness 0-255 of the line-of-sight field cut-out",
            flux_scale="swpc",
            peak_flux_note="labels are binary (>= M1.0); peak_flux is 1e-5 (the "
            "threshold, a lower bound) for positives and 1e-9 ('below threshold') "
            "for negatives",
            threshold="M1.0",
            horizon_hours=float(config.horizon_hours),
            cadence_minutes=sharp.SHARP_CADENCE_MINUTES,
            sequence_length=length,
            timestamp_note="UTC of the last frame (file names are TAI)",
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
        label_file = root / f"labels_{config.horizon_hours}h.txt"
        if not label_file.is_file() or not (root / "frames").is_dir():
            raise FileNotFoundError(
                f"Expected {label_file} and {root / 'frames'}: "
                f"{self.MANUAL_DOWNLOAD_INSTRUCTIONS}")
        samples, dropped = sharp.sharp_sequences(
            root / "frames", sharp.read_sharp_labels(label_file),
            max_missing=config.max_missing_frames)
        timestamps = np.array([_unix(sample["time_utc"]) for sample in samples])
        regions = np.array([f"HARP{sample['harp']}" for sample in samples])
        hybrid = splits.hybrid_kfold_split(
            timestamps, regions, n_folds=config.n_folds, test_fraction=config.test_fraction,
            gap_days=config.gap_days)
        fold = hybrid.folds[config.fold]
        test = fold.mask("test")
        self.info.metadata.update({
            "source": str(root),
            "dropped_sequences": dropped,
            "split": hybrid.to_metadata(),
            "validation_fold": config.fold,
            "positives": {name: int(sum(s["label"] for s, m in zip(samples, fold.mask(name))
                                        if m)) for name in fold.names},
            "test_hash": splits.hash_samples(timestamps[test], regions[test]),
        })
        for sample, fold_index in zip(samples, hybrid.fold_of):
            sample["fold"] = int(fold_index)
        return {name: self._generate_examples(
                    [s for s, keep in zip(samples, fold.mask(name)) if keep])
                for name in fold.names}

    def _generate_examples(self, samples):
        config = self.builder_config
        size = config.image_size
        for sample in samples:
            frames = np.zeros((len(sample["frames"]), size, size, 1), dtype=np.float32)
            present = np.array([path is not None for path in sample["frames"]])
            for index, path in enumerate(sample["frames"]):
                if path is not None:
                    frames[index, :, :, 0] = images.load_jpeg(path, size)
            flux = _POSITIVE_FLUX if sample["label"] else goes.QUIET_FLUX
            yield sample["name"], {
                "frames": frames,
                "frame_present": present,
                "timestamp": _unix(sample["time_utc"]),
                "region": f"HARP{sample['harp']}",
                "harp": sample["harp"],
                "label": sample["label"],
                "fold": sample["fold"],
                "peak_flux": np.float32(flux),
                "goes_class": goes.GOES_CLASSES[goes.flux_to_class_index(flux)],
            }


def _unix(moment) -> int:
    return int(np.datetime64(moment, "s").astype(np.int64))
