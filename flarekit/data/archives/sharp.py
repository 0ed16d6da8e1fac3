"""SHARP magnetogram sequences (Grim & Gradvohl): frame names, labels, sequences.

The archive holds JPEG cut-outs of HMI SHARP line-of-sight magnetograms and
label files with lines `<name> <0/1>`. Names come in the forms the real
archive uses:

- a frame: `hmi.sharp_720s.<HARP>.<YYYYMMDD_hhmmss>_TAI.magnetogram`, the
  record name, which the label files use; image files add `.fits.jpg`
  (JSOC's export name) or `.jpg`;
- a sequence: `hmi.sharp_720s.<HARP>.<start>_TAI.to.<end>_TAI`, whose label
  belongs to the frame at `<end>`, the last of a 16-frame sequence at
  96-minute cadence.

Times in the names are TAI; `tai_to_utc` converts them with leap seconds.

Example:
    >>> parse_sharp_name("hmi.sharp_720s.377.20110214_020000_TAI.to.20110215_020000_TAI")
    SharpName(harp=377, time=datetime.datetime(2011, 2, 15, 2, 0), kind='sequence', start=datetime.datetime(2011, 2, 14, 2, 0))
"""

from __future__ import annotations

import datetime
import re
import typing
from pathlib import Path

import numpy as np

SHARP_SEQUENCE_LENGTH = 16
SHARP_CADENCE_MINUTES = 96
_SERIES = r"hmi\.sharp_(?:cea_)?720s\.(?P<harp>\d+)\."
_STAMP = r"\d{8}_\d{6}"
# The record name, optionally followed by JSOC's `.fits` and an image suffix.
_SHARP_FRAME = re.compile(
    rf"^{_SERIES}(?P<time>{_STAMP})_TAI\.magnetogram(?:\.fits)?(?:\.(?:jpe?g|png))?$",
    re.IGNORECASE,
)
# A sequence file or folder; whatever suffix it carries (.npy, .mp4, ...) is ignored.
_SHARP_SEQUENCE = re.compile(
    rf"^{_SERIES}(?P<start>{_STAMP})_TAI\.to\.(?P<time>{_STAMP})_TAI(?:\.[\w-]+)*$",
    re.IGNORECASE,
)
_FORMS = (
    "'hmi.sharp_720s.<HARP>.<YYYYMMDD_hhmmss>_TAI.magnetogram[.fits.jpg]' (a frame) "
    "or 'hmi.sharp_720s.<HARP>.<start>_TAI.to.<end>_TAI' (a sequence)"
)


class SharpName(typing.NamedTuple):
    """A parsed SHARP frame or sequence name.

    Attributes:
        harp: HARP number.
        time: TAI time of the frame, or of the sequence's last frame.
        kind: "frame" or "sequence".
        start: TAI time of a sequence's first frame; None for a frame.
    """

    harp: int
    time: datetime.datetime
    kind: str
    start: datetime.datetime | None = None


def _stamp(text: str) -> datetime.datetime:
    return datetime.datetime.strptime(text, "%Y%m%d_%H%M%S")


def parse_sharp_name(name) -> SharpName:
    """Parse a SHARP frame or sequence name, with or without an image suffix.

    Args:
        name: a file name or path, or a name from a label file.

    Returns:
        `SharpName` (times in TAI).

    Raises:
        ValueError: the name is neither form (or has an impossible time);
            the message shows the name and both accepted forms.

    Example:
        >>> parse_sharp_name("hmi.sharp_720s.377.20110215_000000_TAI.magnetogram").harp
        377
    """
    base = Path(str(name)).name
    try:
        match = _SHARP_FRAME.match(base)
        if match:
            return SharpName(int(match["harp"]), _stamp(match["time"]), "frame")
        match = _SHARP_SEQUENCE.match(base)
        if match:
            return SharpName(int(match["harp"]), _stamp(match["time"]), "sequence",
                             _stamp(match["start"]))
    except ValueError:
        raise ValueError(f"{name!r} has an impossible date or time in its name.") from None
    raise ValueError(f"{name!r} is neither {_FORMS}.")


def parse_sharp_jpeg_name(name: str):
    """(HARP, record time in TAI) of a SHARP frame name.

    Accepts the record name the label files use
    (`hmi.sharp_720s.<HARP>.<YYYYMMDD_hhmmss>_TAI.magnetogram`) and the image
    file names (`... .magnetogram.fits.jpg`, `... .magnetogram.jpg`).

    Raises:
        ValueError: the name is not a frame name (a sequence name is refused:
            use `parse_sharp_name`).

    Example:
        >>> parse_sharp_jpeg_name("hmi.sharp_720s.377.20110215_000000_TAI.magnetogram.fits.jpg")
        (377, datetime.datetime(2011, 2, 15, 0, 0))
    """
    match = _SHARP_FRAME.match(Path(str(name)).name)
    if match is None:
        raise ValueError(
            f"{name!r} is not 'hmi.sharp_720s.<HARP>.<YYYYMMDD_hhmmss>_TAI."
            "magnetogram', with or without '.fits.jpg'."
        )
    return int(match["harp"]), _stamp(match["time"])


def tai_to_utc(moment: datetime.datetime) -> datetime.datetime:
    """Convert a TAI time (as in SDO file names) to UTC (naive), leap seconds included."""
    from astropy.time import Time

    return Time(moment, scale="tai").utc.to_datetime()


def read_sharp_labels(path, length: int = SHARP_SEQUENCE_LENGTH,
                      cadence_minutes: float = SHARP_CADENCE_MINUTES,
                      tolerance_minutes: float = 12.0) -> dict:
    """Name -> 0/1 from a label file with lines `<frame or sequence name> <0/1>`.

    Frame names may carry `.fits.jpg` or not; sequence names
    (`<start>_TAI.to.<end>_TAI`) must span `length` frames at
    `cadence_minutes`. The same frame under two spellings is one entry (the
    first spelling is kept).

    Args:
        path: the label file.
        length: frames per sequence, to check sequence names' spans.
        cadence_minutes: minutes between frames.
        tolerance_minutes: accepted error of a sequence name's span.

    Returns:
        dict of name (as written, folder part removed) -> 0 or 1.

    Raises:
        ValueError: a line that is not a name and 0 or 1, a name of neither
            form, a sequence whose span is not (length - 1) x cadence, or a
            frame labelled both 0 and 1; each names the file and line.

    Example:
        >>> read_sharp_labels("labels_24h.txt")["hmi.sharp_720s.1638.20120511_000000_TAI.magnetogram"]
        1
    """
    labels, seen = {}, {}
    span = datetime.timedelta(minutes=(length - 1) * cadence_minutes)
    tolerance = datetime.timedelta(minutes=tolerance_minutes)
    with open(path, encoding="utf-8") as stream:
        for number, line in enumerate(stream, start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            parts = text.split()
            if len(parts) != 2 or parts[1] not in ("0", "1"):
                raise ValueError(f"{path}:{number}: expected '<frame name> <0|1>', got {text!r}.")
            name, label = Path(parts[0]).name, int(parts[1])
            try:
                parsed = parse_sharp_name(name)
            except ValueError as error:
                raise ValueError(f"{path}:{number}: {error}") from None
            if parsed.kind == "sequence" and abs(parsed.time - parsed.start - span) > tolerance:
                raise ValueError(
                    f"{path}:{number}: sequence {name} spans {parsed.time - parsed.start}; "
                    f"expected {span} ({length} frames at {cadence_minutes} min)."
                )
            key = (parsed.harp, parsed.time)
            if key in seen:
                first_name, first_line = seen[key]
                if labels[first_name] != label:
                    raise ValueError(
                        f"{path}:{number}: {name} is labelled both 0 and 1 (line "
                        f"{first_line} gives {labels[first_name]} to {first_name})."
                    )
                continue
            seen[key] = (name, number)
            labels[name] = label
    return labels


def find_sharp_frames(frames_root) -> dict:
    """HARP -> [(TAI time, path)], sorted, of every SHARP frame image under a folder.

    Files whose names are not frame names are ignored (the archive holds
    other files); a frame image may carry `.fits.jpg`, `.jpg` or no suffix.
    """
    by_harp = {}
    for path in Path(frames_root).rglob("*"):
        match = _SHARP_FRAME.match(path.name)
        if match is None or not path.is_file():
            continue
        by_harp.setdefault(int(match["harp"]), []).append((_stamp(match["time"]), path))
    for frames in by_harp.values():
        frames.sort()
    return by_harp


def sharp_sequences(frames_root, labels: dict, length: int = SHARP_SEQUENCE_LENGTH,
                    cadence_minutes: float = SHARP_CADENCE_MINUTES,
                    tolerance_minutes: float = 12.0, max_missing: int = 0):
    """The frame files of each labelled sequence, oldest first.

    For a label naming frame (or ending at frame) t of HARP h, the sequence is
    the frames of h nearest to t - k * cadence for k = length-1, ..., 0
    (within `tolerance_minutes`). Sequences missing more than `max_missing`
    frames are dropped and counted; labelled names with no frame file at t
    likewise.

    Args:
        frames_root: folder searched recursively for SHARP frame images.
        labels: from `read_sharp_labels` (frame or sequence names).
        length: frames per sequence.
        cadence_minutes: time between frames.
        tolerance_minutes: largest distance from a nominal frame time.
        max_missing: frames a kept sequence may lack (left as None).

    Returns:
        (list of dicts with name, harp, time_tai, time_utc, label, frames
        (paths or None, oldest first); dict of drop counts by reason).

    Raises:
        ValueError: a label name of neither form, showing it.
    """
    by_harp = find_sharp_frames(frames_root)
    samples, dropped = [], {"label_without_frame": 0, "incomplete_sequence": 0}
    tolerance = datetime.timedelta(minutes=tolerance_minutes)
    for name in sorted(labels):
        try:
            harp, moment = parse_sharp_name(name)[:2]
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
