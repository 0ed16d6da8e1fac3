"""Atomic file writes: a reader (or a run killed mid-write) never sees half a file.

Each writer writes a temporary file in the destination folder, flushes it to
disk, then renames it over the destination with `os.replace`, which is atomic
on POSIX file systems.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np


def _umask() -> int:
    """The process umask, read without changing it where Linux allows."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    # Elsewhere the only way is to set it and set it back (a brief race with
    # other threads creating files, so only as the fallback).
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _file_mode(path: Path) -> int:
    """Permission bits open(path, "w") would leave `path` with."""
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        return 0o666 & ~_umask()


def atomic_write(path, write, mode: str = "w"):
    """Call `write(file)` on a temporary file, then move it to `path`.

    Args:
        path: destination.
        write: callable taking an open file object.
        mode: "w" (text) or "wb" (bytes).

    Returns:
        The destination as a Path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp creates 0600 files; the destination should get the mode a
        # plain open() would give it: an existing file's own mode, else
        # 0666 less the user's umask (0644 with the usual umask 022).
        os.fchmod(handle, _file_mode(path))
        with os.fdopen(handle, mode) as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return path


def write_text_atomic(path, text: str):
    """Write a text file atomically."""
    return atomic_write(path, lambda file: file.write(text))


def json_safe(value):
    """Recursively convert to JSON-able values; NaN and infinities become None.

    numpy scalars and arrays become Python numbers and lists, tuples become
    lists, paths and other objects become their str().

    Example:
        >>> json_safe({"tss": float("nan"), "n": np.int64(3)})
        {'tss': None, 'n': 3}
    """
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)


def write_json_atomic(path, obj, indent: int = 2):
    """Write `obj` as JSON atomically (NaN -> null, numpy -> plain, paths -> str)."""
    text = json.dumps(json_safe(obj), indent=indent, allow_nan=False)
    return write_text_atomic(path, text + "\n")


def write_csv_atomic(path, frame, **kwargs):
    """Write a pandas DataFrame as CSV atomically."""
    return atomic_write(path, lambda file: frame.to_csv(file, index=False, **kwargs))


def save_figure(figure, path, dpi: int = 110) -> Path:
    """Write a matplotlib Figure as PNG atomically (works for pyplot-free
    figures too); returns the path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if figure.canvas is None or not hasattr(figure.canvas, "print_png"):
        FigureCanvasAgg(figure)
    return atomic_write(
        path, lambda file: figure.savefig(file, format="png", dpi=dpi), "wb"
    )
