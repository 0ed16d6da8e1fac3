"""The raw layouts of real archives users bring, one module per archive.

The TFDS builders in `datasets/` are thin wrappers over these functions, so
the parsing is testable on its own, runs without TensorFlow and runs
unchanged inside a Beam pipeline (SCIENCE.md, "Data formats a user will
bring"):

- `sdo_benchmark`: SDO-Benchmark (i4Ds; Bolt et al.) folders and metadata.
- `sdoml`: SDOML v1 `.npz` files and SDOML v2 zarr stores (Galvez et al. 2019).
- `sharp`: SHARP magnetogram JPEG sequences and their label files (Grim &
  Gradvohl).
- `images`: the JPEG reader and resizer the archives share.

Every public name is re-exported here, so `from flarekit.data import
archives; archives.read_sharp_labels(...)` keeps working; new code may import
the archive's own module (`from flarekit.data.archives import sharp`).

Example:
    >>> root = find_sdo_benchmark_root("~/Downloads/SDOBenchmark-data-full")
    >>> samples = read_sdo_benchmark_metadata(root / "training")
    >>> frames, available = load_sdo_benchmark_sample(samples.iloc[0], size=64)
"""

from flarekit.data.archives.images import load_jpeg, resize_image
from flarekit.data.archives.sdo_benchmark import (
    SDO_BENCHMARK_CHANNELS,
    SDO_BENCHMARK_FLUX_SCALE,
    SDO_BENCHMARK_PHASES,
    SDO_BENCHMARK_STEP_MINUTES,
    find_sdo_benchmark_root,
    load_sdo_benchmark_sample,
    read_sdo_benchmark_metadata,
)
from flarekit.data.archives.sdoml import (
    SDOML_CHANNELS,
    align_channels,
    list_sdoml_v1,
    list_sdoml_v2,
    load_sdoml_image,
    sdoml_channel,
)
from flarekit.data.archives.sharp import (
    SHARP_CADENCE_MINUTES,
    SHARP_SEQUENCE_LENGTH,
    SharpName,
    find_sharp_frames,
    parse_sharp_jpeg_name,
    parse_sharp_name,
    read_sharp_labels,
    sharp_sequences,
    tai_to_utc,
)

__all__ = [
    "SDOML_CHANNELS", "SDO_BENCHMARK_CHANNELS", "SDO_BENCHMARK_FLUX_SCALE",
    "SDO_BENCHMARK_PHASES", "SDO_BENCHMARK_STEP_MINUTES", "SHARP_CADENCE_MINUTES",
    "SHARP_SEQUENCE_LENGTH", "SharpName", "align_channels", "find_sharp_frames", "find_sdo_benchmark_root",
    "list_sdoml_v1", "list_sdoml_v2", "load_jpeg", "load_sdo_benchmark_sample",
    "load_sdoml_image", "parse_sharp_jpeg_name", "parse_sharp_name",
    "read_sdo_benchmark_metadata", "read_sharp_labels", "resize_image",
    "sdoml_channel", "sharp_sequences", "tai_to_utc",
]
