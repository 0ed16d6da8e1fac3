"""GOES X-ray classes and flux-scale conventions.

A GOES class names the peak 1-8 Angstrom flux of a flare on a logarithmic
ladder: A = 1e-8, B = 1e-7, C = 1e-6, M = 1e-5, X = 1e-4 W/m^2, and the number
after the letter multiplies the decade ("M2.5" = 2.5e-5 W/m^2). flarekit adds
"quiet" for windows without a flare, stored as `QUIET_FLUX` (1e-9 W/m^2) as in
the data contract.

The same flare has different fluxes on different scales (SCIENCE.md, trap 6):

- ``swpc``: NOAA SWPC operational fluxes of GOES 8-15 before 2020, which carry
  a factor 0.7 relative to the true flux (the class letters in SWPC and NCEI
  event lists up to 2020 are on this scale).
- ``science``: science-quality re-processed GOES 8-15 data, factor removed
  (true flux).
- ``goes_r``: GOES-16 and later, true flux (no factor).
- ``sdo_benchmark``: the SDO-Benchmark dataset's `peak_flux`, SWPC flux / 0.85.

`convert_flux` moves a flux between these scales, so that labels made from an
event list and from a light curve agree.
"""

from __future__ import annotations

import re

import numpy as np

GOES_CLASSES = ("quiet", "A", "B", "C", "M", "X")
QUIET_FLUX = 1e-9

# Decade of each letter in W/m^2.
_LETTER_FLUX = {"A": 1e-8, "B": 1e-7, "C": 1e-6, "M": 1e-5, "X": 1e-4}
# Lower flux edge of each class in GOES_CLASSES; quiet is everything below A1.
_CLASS_EDGES = np.array([0.0, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4])

# The factor that turns a true flux into a flux on each scale.
FLUX_SCALES = {
    "science": 1.0,
    "goes_r": 1.0,
    "swpc": 0.7,
    "sdo_benchmark": 0.7 / 0.85,
}

_CLASS_PATTERN = re.compile(r"^\s*([ABCMX])\s*(\d+(?:\.\d*)?)?\s*$", re.IGNORECASE)


def class_to_flux(goes_class: str) -> float:
    """Peak flux in W/m^2 of a GOES class string.

    Args:
        goes_class: "M2.5", "X10", "c1.0", a bare letter ("M" means M1.0),
            or "quiet".

    Returns:
        The flux, e.g. 2.5e-5 for "M2.5" and `QUIET_FLUX` for "quiet".

    Raises:
        ValueError: the string is not a GOES class; the message shows it.

    Example:
        >>> class_to_flux("M2.5")
        2.5e-05
    """
    if not isinstance(goes_class, str):
        raise ValueError(
            f"GOES class must be a string like 'M2.5' or 'quiet', got {goes_class!r}"
        )
    if goes_class.strip().lower() == "quiet":
        return QUIET_FLUX
    match = _CLASS_PATTERN.match(goes_class)
    if match is None:
        raise ValueError(
            f"Malformed GOES class {goes_class!r}: expected a letter A, B, C, M or X "
            "followed by an optional magnitude (e.g. 'M2.5'), or 'quiet'."
        )
    letter, magnitude = match.group(1).upper(), match.group(2)
    value = float(magnitude) if magnitude else 1.0
    if value <= 0:
        raise ValueError(f"GOES class {goes_class!r} has a non-positive magnitude.")
    return float(np.round(value * _LETTER_FLUX[letter], 20))


def flux_to_class(flux: float, precision: int = 1) -> str:
    """GOES class string of a peak flux in W/m^2.

    Fluxes below A1.0 (1e-8 W/m^2) are "quiet". Above X, the magnitude keeps
    growing ("X10.0" for 1e-3), as in event lists.

    Args:
        flux: peak flux in W/m^2.
        precision: digits after the decimal point of the magnitude.

    Returns:
        e.g. "M2.5" for 2.5e-5.

    Raises:
        ValueError: the flux is negative or not finite.

    Example:
        >>> flux_to_class(2.5e-5)
        'M2.5'
    """
    flux = float(flux)
    if not np.isfinite(flux) or flux < 0:
        raise ValueError(f"Peak flux must be finite and >= 0 W/m^2, got {flux!r}.")
    index = int(flux_to_class_index(flux))
    if index == 0:
        return "quiet"
    letter = GOES_CLASSES[index]
    magnitude = flux / _LETTER_FLUX[letter]
    # Rounding can carry a magnitude to 10.0 (9.96e-6 -> "C10.0"); move it up a
    # letter instead, as event lists do, except above X where it keeps growing.
    if round(magnitude, precision) >= 10.0 and letter != "X":
        letter = GOES_CLASSES[index + 1]
        magnitude = flux / _LETTER_FLUX[letter]
    return f"{letter}{magnitude:.{precision}f}"


def flux_to_class_index(flux):
    """Index into `GOES_CLASSES` of one flux or an array of fluxes.

    Args:
        flux: float or array of peak fluxes in W/m^2.

    Returns:
        int (for a scalar) or an int array: 0 quiet, 1 A, ..., 5 X.
    """
    values = np.asarray(flux, dtype=np.float64)
    # A relative tolerance keeps 1e-5 stored as float32 (9.99999975e-6) in class M.
    index = np.searchsorted(_CLASS_EDGES, values * (1 + 1e-6), side="right") - 1
    index = np.clip(index, 0, len(GOES_CLASSES) - 1)
    if np.ndim(index) == 0:
        return int(index)
    return index.astype(np.int64)


def class_index(goes_class: str) -> int:
    """Index into `GOES_CLASSES` of a class name or class string ("M", "M2.5").

    Raises:
        ValueError: unknown class; the message lists the known ones.
    """
    if goes_class in GOES_CLASSES:
        return GOES_CLASSES.index(goes_class)
    try:
        return int(flux_to_class_index(class_to_flux(goes_class)))
    except ValueError:
        raise ValueError(
            f"Unknown GOES class {goes_class!r}; expected one of {GOES_CLASSES} "
            "or a class string such as 'M2.5'."
        ) from None


def threshold_flux(threshold) -> float:
    """A threshold given as a class string ("M1.0") or a flux, as a flux."""
    if isinstance(threshold, str):
        return class_to_flux(threshold)
    value = float(threshold)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"Flux threshold must be a positive flux, got {threshold!r}.")
    return value


def convert_flux(flux, from_scale: str, to_scale: str):
    """Move fluxes between the scale conventions of `FLUX_SCALES`.

    Args:
        flux: float or array in W/m^2 on `from_scale`.
        from_scale: one of "swpc", "science", "goes_r", "sdo_benchmark".
        to_scale: likewise.

    Returns:
        The flux on `to_scale`, same shape.

    Raises:
        ValueError: an unknown scale name.

    Example:
        >>> round(convert_flux(0.7e-5, "swpc", "science"), 12)
        1e-05
    """
    for name in (from_scale, to_scale):
        if name not in FLUX_SCALES:
            raise ValueError(
                f"Unknown flux scale {name!r}; expected one of {sorted(FLUX_SCALES)}."
            )
    factor = FLUX_SCALES[to_scale] / FLUX_SCALES[from_scale]
    if np.ndim(flux) == 0:
        return float(flux) * factor
    return np.asarray(flux, dtype=np.float64) * factor
