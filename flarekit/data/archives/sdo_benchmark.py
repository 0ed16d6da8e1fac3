"""SDO-Benchmark (i4Ds; Bolt et al.): folders, metadata and image stacks.

Layout: `training/` and `test/`, each with `meta_data.csv`
(`id,start,end,peak_flux`, id = `<AR>_<YYYY_MM_DD_hh_mm_ss>_<n>`) and one
folder per sample at `<phase>/<AR>/<YYYY_MM_DD_hh_mm_ss>_<n>/` holding up to
4 time steps (12 h, 5 h, 1.5 h and 10 min before `end`) x 10 channels of
256 x 256 JPEGs named `<YYYY-MM-DDTHHMMSS>__<channel>.jpg`. `peak_flux` is
the largest GOES flux in the 24 h after `end`, as SWPC flux / 0.85 (1e-9 =
quiet).

Example:
    >>> root = find_sdo_benchmark_root("~/Downloads/SDOBenchmark-data-full")
    >>> samples = read_sdo_benchmark_metadata(root / "training")
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import numpy as np

from flarekit.data.archives.images import load_jpeg

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

