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
from pathlib import Path


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


def _json_safe(value):
    """Plain JSON: NaN and infinities become null, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return _json_safe(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json_atomic(path, obj, indent: int = 2):
    """Write `obj` as JSON atomically (NaN -> null, numpy -> plain)."""
    text = json.dumps(_json_safe(obj), indent=indent, allow_nan=False)
    return write_text_atomic(path, text + "\n")


def write_csv_atomic(path, frame, **kwargs):
    """Write a pandas DataFrame as CSV atomically."""
    return atomic_write(path, lambda file: frame.to_csv(file, index=False, **kwargs))
