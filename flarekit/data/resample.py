"""The one image resampler of flarekit: NaN-aware, flux-preserving when shrinking.

Every route that changes an image's pixel grid goes through here: archive
images resized to a dataset's size (`flarekit.data.archives`), full-disk
images centred and scaled (`flarekit.data.fits.resample_disk`), and the files
a user sends to a trained model (`flarekit.serving.predict`).

Shrinking by a whole factor averages blocks of pixels (totals preserved, no
interpolation); any other change of grid box-filters over one output pixel
before bilinear interpolation, so that fine structure is not aliased. NaN
pixels (off the limb, missing data) are left out of every average and stay
NaN only where no valid pixel contributes.

Example:
    >>> resample(np.arange(16.0).reshape(4, 4), 2, 2)
    array([[ 2.5,  4.5],
           [10.5, 12.5]], dtype=float32)
"""

from __future__ import annotations

import warnings

import numpy as np


def sample_plane(values: np.ndarray, rows: np.ndarray, cols: np.ndarray, zoom,
                 outside: str = "nearest") -> np.ndarray:
    """A 2-D image sampled at fractional pixel positions, NaN-aware.

    Args:
        values: [H, W] image; NaN marks missing pixels.
        rows, cols: source positions (pixel centres at integers) of every
            output pixel, arrays of one shape.
        zoom: output pixels per input pixel, a number or (rows, cols); below 1
            the image is first averaged over a box of about 1 / zoom pixels.
        outside: positions beyond the image take the nearest edge pixel
            ("nearest") or count as missing ("constant").

    Returns:
        float64 array of the shape of `rows`.

    Raises:
        ValueError: `values` is not 2-D, or `outside` is not a known mode.
    """
    from scipy import ndimage

    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"sample_plane needs a 2-D image, got shape {values.shape}.")
    if outside not in ("nearest", "constant"):
        raise ValueError(f"outside must be 'nearest' or 'constant', got {outside!r}.")
    zoom_rows, zoom_cols = np.broadcast_to(np.asarray(zoom, dtype=np.float64), (2,))
    valid = np.isfinite(values).astype(np.float64)
    filled = np.where(valid > 0, values, 0.0)
    box = (max(1, round(1.0 / zoom_rows)), max(1, round(1.0 / zoom_cols)))
    if box != (1, 1):
        filled = ndimage.uniform_filter(filled, size=box, mode=outside)
        valid = ndimage.uniform_filter(valid, size=box, mode=outside)
    # An even box at pixel i averages pixels i - n/2 .. i + n/2 - 1, centred
    # half a pixel before i: sample half a pixel on to stay in register.
    shifts = [0.5 if width % 2 == 0 else 0.0 for width in box]
    coordinates = np.stack([np.asarray(rows, np.float64) + shifts[0],
                            np.asarray(cols, np.float64) + shifts[1]])
    sampled = ndimage.map_coordinates(filled, coordinates, order=1, mode=outside, cval=0.0)
    weight = ndimage.map_coordinates(valid, coordinates, order=1, mode=outside, cval=0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weight > 1e-3, sampled / weight, np.nan)


def resample(data: np.ndarray, height: int, width: int) -> np.ndarray:
    """[H, W] or [H, W, C] -> [height, width] or [height, width, C], float32.

    Whole-factor shrinking takes block means (NaN pixels left out); any other
    size maps output pixel centres onto the input (edges clamped) through
    `sample_plane`.

    Raises:
        ValueError: data of another rank, or a size below 1.
    """
    data = np.asarray(data, dtype=np.float64)
    if data.ndim not in (2, 3):
        raise ValueError(f"resample needs [H, W] or [H, W, C] data, got shape {data.shape}.")
    height, width = int(height), int(width)
    if height < 1 or width < 1:
        raise ValueError(f"resample needs a size >= 1, got {height}x{width}.")
    source_height, source_width = data.shape[:2]
    if (source_height, source_width) == (height, width):
        return data.astype(np.float32)
    if source_height % height == 0 and source_width % width == 0:
        factor_rows, factor_cols = source_height // height, source_width // width
        blocks = data.reshape(height, factor_rows, width, factor_cols, *data.shape[2:])
        with warnings.catch_warnings():
            # A block of NaN pixels stays NaN ("Mean of empty slice").
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(blocks, axis=(1, 3)).astype(np.float32)
    zoom_rows, zoom_cols = height / source_height, width / source_width
    rows = (np.arange(height) + 0.5) / zoom_rows - 0.5
    cols = (np.arange(width) + 0.5) / zoom_cols - 0.5
    rows, cols = np.meshgrid(rows, cols, indexing="ij")
    planes = data[..., None] if data.ndim == 2 else data
    sampled = [sample_plane(planes[..., index], rows, cols, (zoom_rows, zoom_cols))
               for index in range(planes.shape[-1])]
    result = np.stack(sampled, axis=-1)
    return (result[..., 0] if data.ndim == 2 else result).astype(np.float32)
