"""The raw layouts of real archives users bring, read without TensorFlow.

The TFDS builders in `datasets/` are thin wrappers over these functions, so
the parsing is testable on its own and runs unchanged inside a Beam pipeline.
Layouts (SCIENCE.md, "Data formats a user will bring"):

- SDO-Benchmark (i4Ds; Bolt et al.): `training/` and `test/`, each with
  `meta_data.csv` (`id,start,end,peak_flux`, id = `<AR>_<YYYY_MM_DD_hh_mm_ss>_<n>`)
  and one folder per sample at `<phase>/<AR>/<YYYY_MM_DD_hh_mm_ss>_<n>/`
  holding up to 4 time steps (12 h, 5 h, 1.5 h and 10 min before `end`) x 10
  channels of 256 x 256 JPEGs named `<YYYY-MM-DDTHHMMSS>__<channel>.jpg`.
  `peak_flux` is the largest GOES flux in the 24 h after `end`, as SWPC flux
  / 0.85 (1e-9 = quiet).
- SDOML v1 (Galvez et al. 2019): one `.npz` per channel and time, array `x`,
  512 x 512, named `AIA<YYYYMMDD>_<HHMM>_<channel>.npz` /
  `HMI<YYYYMMDD>_<HHMM>_<bx|by|bz>.npz` in any folder tree.
- SDOML v2: zarr stores with arrays `/<year>/<channel>` of shape (N, 512, 512)
  and per-image header lists in the array attributes (`T_OBS`, ...); the
  channels have different counts, so they are aligned on `T_OBS`.
- SHARP magnetogram sequences (Grim & Gradvohl): JPEG cut-outs named
  `hmi.sharp_720s.<HARP>.<YYYYMMDD_hhmmss>_TAI.magnetogram.fits.jpg` and label
  files with lines `<frame name> <0/1>`, the frame being the last of a
  16-frame sequence at 96-minute cadence.

Example:
    >>> root = find_sdo_benchmark_root("~/Downloads/SDOBenchmark-data-full")
    >>> samples = read_sdo_benchmark_metadata(root / "training")
    >>> frames, available = load_sdo_benchmark_sample(samples.iloc[0], size=64)
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import numpy as np

# --- SDO-Benchmark ---------------------------------------------------------

SDO_BENCHMARK_CHANNELS = ("94", "131", "171", "193", "211", "304", "335", "1700",
                          "continuum", "magnetogram")
# Minutes before `end` of the four time steps, oldest first.
SDO_BENCHMARK_STEP_MINUTES = (720, 300, 90, 10)
SDO_BENCHMARK_FLUX_SCALE = "sdo_benchmark"
SDO_BENCHMARK_PHASES = ("training", "test")
_SDO_BENCHMARK_IMAGE = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{6})__([A-Za-z0-9]+)\.jpg$")
_SDO_BENCHMARK_ID = re.compile(r"^(\d+)_(\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}_\d+)$")


def find_sdo_benchmark_root(folder) -> Path:
    """The folder that holds `training/` and `test/` of SDO-Benchmark.

    Looks in `folder` and one level below it (the archive unpacks to
    `SDOBenchmark-data-full/`).

    Raises:
        FileNotFoundError: neither holds both phases, listing what was found.
    """
    folder = Path(folder).expanduser()
    candidates = [folder, *sorted(p for p in folder.glob("*") if p.is_dir())]
    for candidate in candidates:
        if all((candidate / phase / "meta_data.csv").is_file()
               for phase in SDO_BENCHMARK_PHASES):
            return candidate
    found = sorted(p.name for p in folder.glob("*")) if folder.is_dir() else "nothing"
    raise FileNotFoundError(
        f"No SDO-Benchmark data under {folder}: expected training/meta_data.csv and "
        f"test/meta_data.csv there or one folder below; found {found}."
    )


def read_sdo_benchmark_metadata(phase_dir):
    """Samples of one SDO-Benchmark phase with their folders and times.

    Args:
        phase_dir: `<root>/training` or `<root>/test`.

    Returns:
        DataFrame with id, region (NOAA AR as text), end (UTC), peak_flux
        (SDO-Benchmark scale), sample_dir.

    Raises:
        ValueError: missing columns, an id not `<AR>_<YYYY_MM_DD_hh_mm_ss>_<n>`,
            or a non-positive peak flux; each names the file and row.
    """
    import pandas as pd

    phase_dir = Path(phase_dir)
    path = phase_dir / "meta_data.csv"
    table = pd.read_csv(path, dtype={"id": str, "peak_flux": str})
    missing = [name for name in ("id", "end", "peak_flux") if name not in table.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; found {list(table.columns)}.")
    regions, folders = [], []
    for row, sample_id in enumerate(table["id"], start=2):
        match = _SDO_BENCHMARK_ID.match(str(sample_id))
        if match is None:
            raise ValueError(
                f"{path}:{row}: id {sample_id!r} is not '<AR>_<YYYY_MM_DD_hh_mm_ss>_<n>'."
            )
        regions.append(match.group(1))
        folders.append(phase_dir / match.group(1) / match.group(2))
    flux = pd.to_numeric(table["peak_flux"], errors="coerce")
    bad = np.flatnonzero(~(flux > 0))
    if len(bad):
        raise ValueError(
            f"{path}:{bad[0] + 2}: peak_flux {table['peak_flux'].iloc[bad[0]]!r} is not a "
            "positive flux (SDO-Benchmark writes 1e-9 for quiet)."
        )
    return pd.DataFrame({
        "id": table["id"].astype(str),
        "region": regions,
        "end": pd.to_datetime(table["end"]),
        "peak_flux": flux.astype(np.float64),
        "sample_dir": folders,
    })


def load_jpeg(path, size: int | None = None) -> np.ndarray:
    """A grey-scale JPEG as float32 [H, W] of its 0-255 brightness.

    Args:
        path: the file.
        size: resize (bilinear) to size x size; None keeps the stored size.

    Raises:
        ValueError: a truncated or corrupted file, naming it.
    """
    from PIL import Image

    try:
        with Image.open(path) as picture:
            picture = picture.convert("L")
            if size is not None and picture.size != (size, size):
                picture = picture.resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(picture, dtype=np.float32)
    except FileNotFoundError:
        raise
    except OSError as error:
        # PIL's words: "image file is truncated", "cannot identify image file".
        raise ValueError(
            f"{path}: not a readable JPEG ({Path(path).stat().st_size} bytes; "
            f"truncated or corrupted?): {error}"
        ) from error


def load_sdo_benchmark_sample(sample, size: int = 256, channels=SDO_BENCHMARK_CHANNELS,
                              step_minutes=SDO_BENCHMARK_STEP_MINUTES,
                              tolerance_minutes: float = 45.0):
    """The images of one SDO-Benchmark sample as a [T, size, size, C] stack.

    Each JPEG is assigned to the nominal time step nearest its time stamp;
    images of a step/channel that the sample lacks (SDO-Benchmark keeps
    samples with missing channels) are zeros, marked False in `available`.

    Args:
        sample: a row of `read_sdo_benchmark_metadata` (needs sample_dir, end).
        size: output width and height.
        channels: channel names, in output order.
        step_minutes: minutes before `end` of each step, oldest first.
        tolerance_minutes: the largest accepted distance to a nominal step.

    Returns:
        (float32 [T, size, size, C], bool [T, C]).

    Raises:
        FileNotFoundError: the sample folder is missing.
        ValueError: a file name that is not `<YYYY-MM-DDTHHMMSS>__<channel>.jpg`,
            or an image far from every nominal step; each names the file.
    """
    import pandas as pd

    folder = Path(sample["sample_dir"])
    if not folder.is_dir():
        raise FileNotFoundError(f"SDO-Benchmark sample folder {folder} is missing.")
    end = pd.Timestamp(sample["end"])
    nominal = np.array([(end - pd.Timedelta(minutes=m)).value for m in step_minutes])
    frames = np.zeros((len(step_minutes), size, size, len(channels)), dtype=np.float32)
    available = np.zeros((len(step_minutes), len(channels)), dtype=bool)
    for path in sorted(folder.glob("*.jpg")):
        match = _SDO_BENCHMARK_IMAGE.match(path.name)
        if match is None:
            raise ValueError(f"{path}: not '<YYYY-MM-DDTHHMMSS>__<channel>.jpg'.")
        if match.group(2) not in channels:
            continue
        moment = pd.Timestamp(datetime.datetime.strptime(match.group(1), "%Y-%m-%dT%H%M%S"))
        distances = np.abs(nominal - moment.value) / 60e9
        step = int(np.argmin(distances))
        if distances[step] > tolerance_minutes:
            raise ValueError(
                f"{path}: taken {distances[step]:.0f} min from the nearest nominal step "
                f"(steps are {step_minutes} min before end {end})."
            )
        channel = channels.index(match.group(2))
        frames[step, :, :, channel] = load_jpeg(path, size)
        available[step, channel] = True
    return frames, available


# --- SDOML -----------------------------------------------------------------

# Canonical channel names, and the names SDOML v1 files and v2 arrays use.
SDOML_CHANNELS = ("aia_94", "aia_131", "aia_171", "aia_193", "aia_211", "aia_304",
                  "aia_335", "aia_1600", "aia_1700", "hmi_bx", "hmi_by", "hmi_bz")
_SDOML_V1_NAME = re.compile(r"^(AIA|HMI)(\d{8})_(\d{4})_(\w+)\.npz$")


def sdoml_channel(name: str) -> str:
    """Canonical channel of an SDOML name: "0094", "94A", "bz", "Bz" -> "aia_94", "hmi_bz".

    Raises:
        ValueError: an unknown channel name.
    """
    text = str(name).strip()
    match = re.fullmatch(r"0*(\d+)A?", text)
    if match and f"aia_{int(match.group(1))}" in SDOML_CHANNELS:
        return f"aia_{int(match.group(1))}"
    if text.lower() in ("bx", "by", "bz"):
        return f"hmi_{text.lower()}"
    raise ValueError(f"Unknown SDOML channel {name!r}; known: {SDOML_CHANNELS}.")


def list_sdoml_v1(root):
    """Every SDOML v1 `.npz` file under `root`, with its time and channel.

    Returns:
        DataFrame with time (UTC), channel (canonical), path, index (-1).
    """
    import pandas as pd

    rows = []
    for path in sorted(Path(root).rglob("*.npz")):
        match = _SDOML_V1_NAME.match(path.name)
        if match is None:
            continue
        time = datetime.datetime.strptime(match.group(2) + match.group(3), "%Y%m%d%H%M")
        rows.append({"time": pd.Timestamp(time), "channel": sdoml_channel(match.group(4)),
                     "path": str(path), "index": -1})
    return pd.DataFrame(rows, columns=["time", "channel", "path", "index"])


def list_sdoml_v2(root):
    """Every image in the SDOML v2 zarr stores under `root`.

    Each `*.zarr` store holds groups per year with arrays per channel of
    shape (N, H, W); the array attribute `T_OBS` lists each image's time.

    Returns:
        DataFrame with time (UTC), channel, path ("<store>::<year>/<array>"),
        index (position in the array).

    Raises:
        ValueError: an array without a `T_OBS` list of length N, naming it.
    """
    import pandas as pd
    import zarr

    rows = []
    stores = sorted(Path(root).glob("*.zarr")) or [Path(root)]
    for store in stores:
        group = zarr.open_group(str(store), mode="r")
        for year, year_group in sorted(group.groups()):
            for name, array in sorted(year_group.arrays()):
                times = array.attrs.get("T_OBS")
                if times is None or len(times) != array.shape[0]:
                    raise ValueError(
                        f"{store}/{year}/{name}: needs a T_OBS attribute listing one "
                        f"time per image ({array.shape[0]}), found "
                        f"{None if times is None else len(times)}."
                    )
                channel = sdoml_channel(name)
                for index, text in enumerate(times):
                    time = pd.Timestamp(str(text).replace("_TAI", "").rstrip("Z"))
                    rows.append({"time": time, "channel": channel,
                                 "path": f"{store}::{year}/{name}", "index": index})
    return pd.DataFrame(rows, columns=["time", "channel", "path", "index"])


def align_channels(files, channels, tolerance_minutes: float = 3.0):
    """Observation sets with one image of each channel, aligned in time.

    The first channel is the reference; for each of its images, the nearest
    image of every other channel within `tolerance_minutes` is taken.
    Reference times lacking a channel are dropped and counted.

    Args:
        files: a table from `list_sdoml_v1` / `list_sdoml_v2`.
        channels: canonical channel names, reference first.
        tolerance_minutes: largest time difference accepted.

    Returns:
        (DataFrame with time and, per channel, `<channel>_path` and
        `<channel>_index`; dict of drop counts per missing channel).

    Raises:
        ValueError: a channel that no file provides.
    """
    import pandas as pd

    present = set(files["channel"])
    absent = [channel for channel in channels if channel not in present]
    if absent:
        raise ValueError(f"No SDOML files for channel(s) {absent}; found {sorted(present)}.")
    reference = files[files["channel"] == channels[0]].sort_values("time")
    aligned = pd.DataFrame({
        "time": reference["time"].to_numpy(),
        f"{channels[0]}_path": reference["path"].to_numpy(),
        f"{channels[0]}_index": reference["index"].to_numpy(),
    })
    keep = np.ones(len(aligned), dtype=bool)
    dropped = {}
    tolerance = np.int64(tolerance_minutes * 60e9)
    for channel in channels[1:]:
        others = files[files["channel"] == channel].sort_values("time")
        other_times = others["time"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
        wanted = aligned["time"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
        position = np.clip(np.searchsorted(other_times, wanted), 1, max(1, len(other_times) - 1))
        left = np.clip(position - 1, 0, len(other_times) - 1)
        right = np.clip(position, 0, len(other_times) - 1)
        nearest = np.where(np.abs(other_times[left] - wanted) <= np.abs(other_times[right] - wanted),
                           left, right)
        matched = np.abs(other_times[nearest] - wanted) <= tolerance
        dropped[f"missing_{channel}"] = int(np.sum(keep & ~matched))
        keep &= matched
        aligned[f"{channel}_path"] = others["path"].to_numpy()[nearest]
        aligned[f"{channel}_index"] = others["index"].to_numpy()[nearest]
    return aligned[keep].reset_index(drop=True), dropped


def load_sdoml_image(path: str, index: int, size: int | None = None) -> np.ndarray:
    """One SDOML image as float32 [H, W], optionally block-averaged or resized.

    Args:
        path: a v1 `.npz` path, or "<store>::<year>/<array>" for v2.
        index: position in a v2 array (-1 for v1).
        size: output width and height; None keeps the stored size.
    """
    if "::" in path:
        import zarr

        store, array_path = path.split("::", 1)
        image = np.asarray(zarr.open_group(store, mode="r")[array_path][index],
                           dtype=np.float32)
    else:
        with np.load(path) as archive:
            image = np.asarray(archive["x"], dtype=np.float32)
    if size is None or image.shape == (size, size):
        return image
    return resize_image(image, size)


def resize_image(image: np.ndarray, size: int) -> np.ndarray:
    """Resize a 2-D float image to size x size: block means when shrinking by
    a whole factor (flux-preserving), bilinear otherwise."""
    height, width = image.shape
    if height == width and height % size == 0:
        factor = height // size
        return image.reshape(size, factor, size, factor).mean(axis=(1, 3)).astype(np.float32)
    from scipy import ndimage

    zoom = (size / height, size / width)
    return ndimage.zoom(image, zoom, order=1).astype(np.float32)[:size, :size]


# --- SHARP magnetogram sequences --------------------------------------------

SHARP_SEQUENCE_LENGTH = 16
SHARP_CADENCE_MINUTES = 96
_SHARP_JPEG = re.compile(
    r"^hmi\.sharp_(?:cea_)?720s\.(\d+)\.(\d{8}_\d{6})_TAI\.magnetogram\.fits\.jpg$"
)


def parse_sharp_jpeg_name(name: str):
    """(HARP, record time in TAI) of a SHARP JPEG cut-out name.

    Raises:
        ValueError: the name does not follow
            `hmi.sharp_720s.<HARP>.<YYYYMMDD_hhmmss>_TAI.magnetogram.fits.jpg`.

    Example:
        >>> parse_sharp_jpeg_name("hmi.sharp_720s.377.20110215_000000_TAI.magnetogram.fits.jpg")
        (377, datetime.datetime(2011, 2, 15, 0, 0))
    """
    match = _SHARP_JPEG.match(Path(name).name)
    if match is None:
        raise ValueError(
            f"{name!r} is not 'hmi.sharp_720s.<HARP>.<YYYYMMDD_hhmmss>_TAI."
            "magnetogram.fits.jpg'."
        )
    return int(match.group(1)), datetime.datetime.strptime(match.group(2), "%Y%m%d_%H%M%S")


def tai_to_utc(moment: datetime.datetime) -> datetime.datetime:
    """Convert a TAI time (as in SDO file names) to UTC (naive), leap seconds included."""
    from astropy.time import Time

    return Time(moment, scale="tai").utc.to_datetime()


def read_sharp_labels(path) -> dict:
    """Frame name -> 0/1 from a label file with lines `<name> <0/1>`.

    Raises:
        ValueError: a line that is not a name and 0 or 1, or a name listed
            twice with different labels; naming the file and line.
    """
    labels = {}
    with open(path, encoding="utf-8") as stream:
        for number, line in enumerate(stream, start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            parts = text.split()
            if len(parts) != 2 or parts[1] not in ("0", "1"):
                raise ValueError(f"{path}:{number}: expected '<frame name> <0|1>', got {text!r}.")
            name, label = Path(parts[0]).name, int(parts[1])
            if labels.get(name, label) != label:
                raise ValueError(f"{path}:{number}: {name} is labelled both 0 and 1.")
            labels[name] = label
    return labels


def sharp_sequences(frames_root, labels: dict, length: int = SHARP_SEQUENCE_LENGTH,
                    cadence_minutes: float = SHARP_CADENCE_MINUTES,
                    tolerance_minutes: float = 12.0, max_missing: int = 0):
    """The frame files of each labelled sequence, oldest first.

    For a labelled frame of HARP h at time t, the sequence is the frames of h
    nearest to t - k * cadence for k = length-1, ..., 0 (within
    `tolerance_minutes`). Sequences missing more than `max_missing` frames
    are dropped and counted; labelled names with no frame file likewise.

    Args:
        frames_root: folder searched recursively for SHARP JPEGs.
        labels: from `read_sharp_labels`.
        length: frames per sequence.
        cadence_minutes: time between frames.
        tolerance_minutes: largest distance from a nominal frame time.
        max_missing: frames a kept sequence may lack (left as None).

    Returns:
        (list of dicts with name, harp, time_tai, time_utc, label, frames
        (paths or None, oldest first); dict of drop counts by reason).
    """
    by_harp = {}
    for path in Path(frames_root).rglob("*.jpg"):
        try:
            harp, moment = parse_sharp_jpeg_name(path.name)
        except ValueError:
            continue
        by_harp.setdefault(harp, []).append((moment, path))
    for frames in by_harp.values():
        frames.sort()
    samples, dropped = [], {"label_without_frame": 0, "incomplete_sequence": 0}
    tolerance = datetime.timedelta(minutes=tolerance_minutes)
    for name in sorted(labels):
        try:
            harp, moment = parse_sharp_jpeg_name(name)
        except ValueError as error:
            raise ValueError(f"Label for {error}") from None
        frames = by_harp.get(harp, [])
        times = np.array([np.datetime64(t) for t, _ in frames], dtype="datetime64[ns]")
        if not np.any(times == np.datetime64(moment)):
            dropped["label_without_frame"] += 1
            continue
        sequence = []
        for step in range(length - 1, -1, -1):
            target = np.datetime64(moment - datetime.timedelta(minutes=step * cadence_minutes))
            nearest = int(np.argmin(np.abs(times - target)))
            close = abs(times[nearest] - target) <= np.timedelta64(tolerance)
            sequence.append(frames[nearest][1] if close else None)
        if sum(item is None for item in sequence) > max_missing:
            dropped["incomplete_sequence"] += 1
            continue
        samples.append({"name": name, "harp": harp, "time_tai": moment,
                        "time_utc": tai_to_utc(moment), "label": labels[name],
                        "frames": sequence})
    return samples, dropped
