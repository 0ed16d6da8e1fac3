"""SDOML v1 and v2 (Galvez et al. 2019): file listings, channel alignment, images.

- v1: one `.npz` per channel and time, array `x`, 512 x 512, named
  `AIA<YYYYMMDD>_<HHMM>_<channel>.npz` / `HMI<YYYYMMDD>_<HHMM>_<bx|by|bz>.npz`
  in any folder tree.
- v2: zarr stores with arrays `/<year>/<channel>` of shape (N, 512, 512) and
  per-image header lists in the array attributes (`T_OBS`, ...); the channels
  have different counts, so they are aligned on `T_OBS`.

Example:
    >>> files = list_sdoml_v1("~/sdoml")
    >>> aligned, dropped = align_channels(files, ("aia_171", "hmi_bz"))
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import numpy as np

from flarekit.data.archives.images import resize_image

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

