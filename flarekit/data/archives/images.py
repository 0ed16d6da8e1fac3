"""Image readers shared by the archives: grey-scale JPEGs and 2-D resizing."""

from __future__ import annotations

from pathlib import Path

import numpy as np


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



def resize_image(image: np.ndarray, size: int) -> np.ndarray:
    """Resize a 2-D float image to size x size (`flarekit.data.resample`):
    block means when shrinking by a whole factor (flux-preserving), box filter
    and bilinear otherwise."""
    from flarekit.data.resample import resample

    return resample(image, size, size)

