"""Images of the Sun from FITS and Helioviewer JPEG 2000 files.

Reads SDO/AIA and SDO/HMI full-disk images, cut-outs and SHARP patches through
astropy, and Helioviewer JP2 files, into a `SolarImage`: the pixel array in
physical units, the repaired header, where the solar disk lies and what the
observation's quality flag says. The traps handled here are the ones real
archives set (../shared/data/PROVENANCE.md):

- JSOC exports store the image RICE-compressed in a `CompImageHDU` at HDU 1,
  behind an empty primary HDU; `read_solar_image` finds the image HDU itself.
- Downsampled files keep the full-resolution `R_SUN` (the disk radius in
  pixels of the 4096 x 4096 original). The radius is always computed as
  `RSUN_OBS / CDELT1`, never read from `R_SUN`. Helioviewer JP2 files
  downsampled after the fact even keep the original `NAXIS`, `CDELT` and
  `CRPIX`; those are rescaled to the array actually stored.
- The disk centre comes from the WCS (`CRPIX`, `CRVAL`, `CDELT`, `CROTA2`),
  so HMI images stored upside down (`CROTA2` = 180 deg) are handled.
- `QUALITY` is surfaced, with a policy: drop, keep, or keep and flag.
- HMI full-disk images are NaN off the limb (about a quarter of the pixels);
  NaNs are counted on and off the disk and optionally filled.
- SHARP headers hold cards astropy cannot parse (`R_VALUE = nan`, unquoted);
  they are repaired to float NaN with a warning that names them.
- AIA level-1 images are in DN per exposure; `exposure_normalise` divides by
  `EXPTIME` so that images with different exposures compare (DN/s).

Arrays keep the FITS orientation: row 0 is the bottom of the image (south for
an unrotated image), as `sunpy.map.Map` shows them with `origin="lower"`.

Example:
    >>> image = read_solar_image("aia_171_level1.fits")
    >>> image.geometry.radius          # pixels, from RSUN_OBS / CDELT1
    50.66
    >>> image.header["R_SUN"]          # stale: the 4096-pixel original's radius
    1622.19
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import math
import os
import re
import struct
import warnings
from pathlib import Path

import numpy as np

from flarekit.data.resample import sample_plane

QUALITY_POLICIES = ("drop", "keep", "keep_and_flag")

# Bits of the AIA and HMI QUALITY keyword that are named in the JSOC keyword
# documentation (AIA02840, "AIA/SDO FITS keyword document", and the HMI
# QUALITY bit definitions); other bits are reported by number.
_QUALITY_BITS = {
    30: "quicklook (near-real-time) data",
    31: "image not available",
}

# Header values astropy cannot parse as numbers and keeps as strings after
# `verify("silentfix")`: SHARP exports write `R_VALUE = nan` unquoted.
_NON_FINITE_STRINGS = {"nan": math.nan, "inf": math.inf, "+inf": math.inf,
                       "-inf": -math.inf}

_ANGLE_TO_ARCSEC = {"arcsec": 1.0, "arcmin": 60.0, "deg": 3600.0, "degree": 3600.0,
                    "degrees": 3600.0, "rad": 180.0 / math.pi * 3600.0}


class FitsHeaderWarning(UserWarning):
    """A header card was repaired or rescaled while reading a file."""


class QualityFlagError(ValueError):
    """An image has a nonzero QUALITY flag and the policy is "drop"."""


class UnreadableImageError(ValueError):
    """A file that holds no usable image: truncated, corrupted, no data, all NaN."""


@dataclasses.dataclass(frozen=True)
class DiskGeometry:
    """Where the solar disk lies in an image, in 0-based pixel coordinates.

    Attributes:
        centre_x: column of the disk centre (may lie outside a cut-out).
        centre_y: row of the disk centre, row 0 at the bottom.
        radius: disk radius in pixels, `RSUN_OBS / CDELT1`.
        arcsec_per_pixel: plate scale along the x axis.
        rotation_deg: `CROTA2`, the angle of solar north from the image's y axis.
    """

    centre_x: float
    centre_y: float
    radius: float
    arcsec_per_pixel: float
    rotation_deg: float = 0.0

    def disk_mask(self, shape, margin: float = 0.0) -> np.ndarray:
        """Boolean mask of the pixels whose centres lie on the disk.

        Args:
            shape: (height, width) of the image.
            margin: extra radius in units of the disk radius (0.05 = 5 % wider).

        Returns:
            bool array of `shape`, True on the disk.

        Example:
            >>> DiskGeometry(1.5, 1.5, 1.0, 1.0).disk_mask((4, 4)).sum()
            4
        """
        rows, cols = np.mgrid[: shape[0], : shape[1]]
        distance = np.hypot(cols - self.centre_x, rows - self.centre_y)
        return distance <= self.radius * (1.0 + margin)


@dataclasses.dataclass(frozen=True)
class PatchGeometry:
    """A patch in a heliographic map projection (SHARP CEA cut-outs).

    Attributes:
        frame: the WCS projection, e.g. "CRLN-CEA" (Carrington, cylindrical
            equal area).
        centre_lon: longitude of the patch centre in degrees (`CRVAL1`).
        centre_lat: latitude of the patch centre in degrees (`CRVAL2`).
        degrees_per_pixel: `CDELT1` in degrees.
    """

    frame: str
    centre_lon: float
    centre_lat: float
    degrees_per_pixel: float


@dataclasses.dataclass
class SolarImage:
    """One observation: pixels in physical units plus what is known about them.

    Attributes:
        data: float32 [height, width], row 0 at the bottom.
        header: the repaired header as a dict of upper-case keywords.
        path: the file read.
        quality: the `QUALITY` keyword as an integer (0 = no known problem).
        flagged: True when `quality` is nonzero and the policy kept the image.
        geometry: the disk in pixel coordinates for helioprojective images.
        patch: the heliographic patch for SHARP / CEA images.
        repairs: what was repaired while reading, one line each.
        nan_on_disk: NaN pixels on the disk (missing data).
        nan_off_disk: NaN pixels off the disk (HMI writes NaN off the limb).
        unit: the pixel unit after any normalisation ("DN/s", "Mx/cm^2", ...).
    """

    data: np.ndarray
    header: dict
    path: str
    quality: int = 0
    flagged: bool = False
    geometry: DiskGeometry | None = None
    patch: PatchGeometry | None = None
    repairs: tuple = ()
    nan_on_disk: int = 0
    nan_off_disk: int = 0
    unit: str = ""

    @property
    def instrument(self) -> str:
        """"AIA", "HMI" or the header's INSTRUME/TELESCOP, upper case."""
        name = str(self.header.get("INSTRUME") or self.header.get("TELESCOP") or "")
        name = name.upper()
        for known in ("AIA", "HMI"):
            if known in name or known in str(self.header.get("TELESCOP", "")).upper():
                return known
        return name

    @property
    def observation_time(self) -> datetime.datetime:
        """Observation time in UTC, from `T_OBS`, `DATE-OBS` or `DATE_OBS`.

        Raises:
            ValueError: none of the keywords parses; the message names the file.
        """
        return observation_time(self.header, self.path)

    @property
    def quality_bits(self) -> list:
        """Names of the set bits of `quality`."""
        return describe_quality(self.quality)


def describe_quality(quality: int) -> list:
    """Names of the bits set in an SDO QUALITY value.

    Example:
        >>> describe_quality(1 << 30)
        ['bit 30: quicklook (near-real-time) data']
    """
    bits = []
    for bit in range(32):
        if int(quality) >> bit & 1:
            bits.append(f"bit {bit}: {_QUALITY_BITS.get(bit, 'see the JSOC QUALITY table')}")
    return bits


def observation_time(header: dict, path: str = "<header>") -> datetime.datetime:
    """Observation time in UTC of a header.

    `T_OBS` (the mid-exposure time; SDO writes it in TAI with a `_TAI` suffix)
    is preferred, then `DATE-OBS`. TAI is converted to UTC through astropy.

    Args:
        header: a header dict.
        path: the file, for the error message.

    Returns:
        A timezone-aware UTC datetime.

    Raises:
        ValueError: no time keyword parses.

    Example:
        >>> observation_time({"DATE-OBS": "2011-02-15T00:00:00.34"}).isoformat()
        '2011-02-15T00:00:00.340000+00:00'
    """
    from astropy.time import Time

    for key in ("T_OBS", "DATE-OBS", "DATE_OBS"):
        value = header.get(key)
        if not isinstance(value, str) or not value.strip():
            continue
        text = value.strip().rstrip("Z")
        scale = "utc"
        if text.endswith("_TAI"):
            text, scale = text[: -len("_TAI")], "tai"
        # JSOC writes "2011.02.15_01:59:54"; ISO wants "2011-02-15T01:59:54".
        text = re.sub(r"^(\d{4})\.(\d{2})\.(\d{2})_", r"\1-\2-\3T", text)
        try:
            moment = Time(text, format="isot", scale=scale).utc.to_datetime()
        except ValueError:
            continue
        return moment.replace(tzinfo=datetime.UTC)
    raise ValueError(
        f"{path}: no parseable observation time in T_OBS, DATE-OBS or DATE_OBS "
        f"(found T_OBS={header.get('T_OBS')!r}, DATE-OBS={header.get('DATE-OBS')!r})."
    )


def read_header(path, hdu: int | None = None):
    """Read and repair the header of the image HDU of a FITS file.

    The image HDU is `hdu` when given, else the first HDU that holds a 2-D
    image (HDU 1 for JSOC's RICE-compressed exports). Cards astropy cannot
    parse (`R_VALUE = nan`) are repaired to float NaN and a
    `FitsHeaderWarning` names them.

    Args:
        path: a FITS file (optionally gzipped).
        hdu: index of the HDU to read; None to find the image.

    Returns:
        (header dict with upper-case keys, index of the HDU, list of repairs).

    Raises:
        ValueError: the file holds no 2-D image, or `hdu` is out of range.

    Example:
        >>> header, index, repairs = read_header("hmi.sharp_cea_720s.377...Br.fits")
        >>> index, header["HARPNUM"], header["R_VALUE"]
        (1, 377, nan)
    """
    from astropy.io import fits

    path = str(path)
    with _quiet_blank_card(), fits.open(path) as hdul:
        index = _image_hdu_index(hdul, path) if hdu is None else hdu
        if not 0 <= index < len(hdul):
            raise ValueError(f"{path}: HDU {index} requested, the file has {len(hdul)}.")
        header, repairs = _repaired_header(hdul[index], path)
    return header, index, repairs


@contextlib.contextmanager
def _quiet_blank_card():
    """Silence astropy's notice about BLANK on float images.

    HMI and downsampled AIA exports carry a BLANK card on float data;
    astropy warns and ignores it, which is right: NaN marks missing pixels.
    """
    from astropy.io.fits.verify import VerifyWarning

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*BLANK.*", category=VerifyWarning)
        yield


def _image_hdu_index(hdul, path: str) -> int:
    for index, item in enumerate(hdul):
        if item.is_image and item.header.get("NAXIS", 0) == 2:
            return index
    found = [
        f"HDU {index} {type(item).__name__}: NAXIS = {item.header.get('NAXIS', 0)}"
        + (f", shape {item.shape}" if item.header.get("NAXIS", 0) else " (no data)")
        for index, item in enumerate(hdul)
    ]
    error = UnreadableImageError if all("no data" in text for text in found) else ValueError
    raise error(f"{path}: no HDU holds a 2-D image; found {'; '.join(found)}.")


def _repaired_header(hdu, path: str):
    from astropy.io.fits.verify import VerifyWarning

    # silentfix rewrites non-standard cards (lower-case exponents, unquoted
    # nan) so that the header can be read at all; the nan cards are then
    # strings, which are turned back into floats below and reported.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VerifyWarning)
        hdu.verify("silentfix")
        header = {}
        for card in hdu.header.cards:
            key = card.keyword
            if not key or key in ("COMMENT", "HISTORY"):
                continue
            header.setdefault(key.upper(), card.value)
    repaired = []
    for key, value in header.items():
        if isinstance(value, str) and value.strip().lower() in _NON_FINITE_STRINGS:
            header[key] = _NON_FINITE_STRINGS[value.strip().lower()]
            repaired.append(key)
    repairs = []
    if repaired:
        message = (
            f"{path}: repaired {len(repaired)} header card(s) astropy cannot parse "
            f"(unquoted nan/inf) to float: {', '.join(repaired)}"
        )
        warnings.warn(message, FitsHeaderWarning, stacklevel=3)
        repairs.append(message)
    return header, repairs


def disk_geometry(header: dict, shape, path: str = "<header>") -> DiskGeometry | None:
    """The solar disk's centre and radius in pixels, from the WCS keywords.

    The radius is `RSUN_OBS` (arcsec) divided by `CDELT1` (arcsec/pixel); when
    `RSUN_OBS` is absent it is the angle subtended by `RSUN_REF` at `DSUN_OBS`.
    `R_SUN` is never used: downsampled files keep the full-resolution value.
    The centre is the pixel of helioprojective (0, 0), through astropy's WCS,
    which applies `CROTA2`.

    Args:
        header: header dict (helioprojective: `CTYPE1` = "HPLN-TAN").
        shape: (height, width) of the data, to check `NAXIS1/2` against.
        path: the file, for error messages.

    Returns:
        A `DiskGeometry`, or None when the image is not helioprojective.

    Raises:
        ValueError: missing plate scale or solar radius, naming the keywords.

    Example:
        >>> disk_geometry(aia_header, (128, 128)).radius
        50.66
    """
    if not str(header.get("CTYPE1", "")).upper().startswith("HPLN"):
        return None
    scale = _arcsec_per_pixel(header, path)
    rsun_obs = (_header_number(header, "RSUN_OBS", path)
                if header.get("RSUN_OBS") not in (None, "") else math.nan)
    if np.isfinite(rsun_obs):
        rsun_arcsec = rsun_obs
    elif header.get("RSUN_REF") and header.get("DSUN_OBS"):
        ratio = (_header_number(header, "RSUN_REF", path)
                 / _header_number(header, "DSUN_OBS", path))
        rsun_arcsec = math.degrees(math.asin(ratio)) * 3600.0
    else:
        raise ValueError(
            f"{path}: cannot find the solar radius: RSUN_OBS is missing and so is "
            "RSUN_REF or DSUN_OBS (R_SUN is not trusted: downsampled files keep "
            "the full-resolution value)."
        )
    centre_x, centre_y = _sun_centre_pixel(header, path)
    return DiskGeometry(
        centre_x=float(centre_x),
        centre_y=float(centre_y),
        radius=rsun_arcsec / scale,
        arcsec_per_pixel=scale,
        rotation_deg=float(header.get("CROTA2", 0.0) or 0.0),
    )


def _arcsec_per_pixel(header: dict, path: str) -> float:
    if "CDELT1" not in header:
        raise ValueError(f"{path}: no CDELT1 (plate scale) in the header.")
    unit = str(header.get("CUNIT1", "arcsec")).strip().lower() or "arcsec"
    if unit not in _ANGLE_TO_ARCSEC:
        raise ValueError(
            f"{path}: CUNIT1 = {header.get('CUNIT1')!r}, expected one of "
            f"{sorted(_ANGLE_TO_ARCSEC)}."
        )
    return abs(_header_number(header, "CDELT1", path)) * _ANGLE_TO_ARCSEC[unit]


def _header_number(header: dict, keyword: str, path: str) -> float:
    """A numeric header keyword as float; a ValueError naming file and keyword if not."""
    value = header[keyword]
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{path}: header keyword {keyword} = {value!r} is not a number."
        ) from None


def _sun_centre_pixel(header: dict, path: str):
    from astropy.io import fits
    from astropy.wcs import WCS, FITSFixedWarning

    keys = ("CTYPE1", "CTYPE2", "CUNIT1", "CUNIT2", "CRPIX1", "CRPIX2", "CRVAL1",
            "CRVAL2", "CDELT1", "CDELT2", "CROTA2", "PC1_1", "PC1_2", "PC2_1",
            "PC2_2", "NAXIS1", "NAXIS2")
    wcs_header = fits.Header()
    wcs_header["NAXIS"] = 2
    for key in keys:
        if key in header and header[key] is not None:
            wcs_header[key] = header[key]
    with warnings.catch_warnings():
        # Missing DATE-OBS/MJD-OBS in the reduced header only matters for
        # time-dependent frames, which are not used here.
        warnings.simplefilter("ignore", FITSFixedWarning)
        try:
            wcs = WCS(wcs_header)
            x, y = wcs.world_to_pixel_values(0.0, 0.0)
        except Exception as error:  # astropy raises several types for bad WCS
            raise ValueError(f"{path}: invalid WCS keywords ({error}).") from error
    return float(x), float(y)


def _patch_geometry(header: dict) -> PatchGeometry | None:
    ctype = str(header.get("CTYPE1", "")).upper()
    if not ctype.startswith(("CRLN", "HGLN")):
        return None
    return PatchGeometry(
        frame=ctype,
        centre_lon=float(header.get("CRVAL1", math.nan)),
        centre_lat=float(header.get("CRVAL2", math.nan)),
        degrees_per_pixel=abs(float(header.get("CDELT1", math.nan))),
    )


def _quality_value(header: dict, path: str) -> int:
    value = header.get("QUALITY", 0)
    if value is None:
        return 0
    if isinstance(value, str):
        if value.strip().lower() in ("ok", "good", ""):
            return 0
        try:
            return int(value)
        except ValueError:
            raise ValueError(
                f"{path}: QUALITY = {value!r} is neither an integer nor 'ok'."
            ) from None
    return int(value)


def read_solar_image(
    path,
    *,
    quality: str = "keep_and_flag",
    exposure_normalise: bool = True,
    fill_nan: float | None = None,
    hdu: int | None = None,
) -> SolarImage:
    """Read one FITS or Helioviewer JP2 image of the Sun.

    Args:
        path: a `.fits` / `.fits.gz` / `.fts` file or a `.jp2` file.
        quality: what to do with a nonzero `QUALITY`: "drop" raises
            `QualityFlagError` (use `read_solar_images` to skip and count),
            "keep" keeps the image silently, "keep_and_flag" keeps it, sets
            `flagged` and warns with the decoded bits.
        exposure_normalise: divide AIA images in DN by `EXPTIME` (to DN/s).
        fill_nan: when given, NaN pixels (HMI's off-limb) are replaced by this
            value after being counted; None keeps them.
        hdu: FITS HDU index; None finds the image (HDU 1 for JSOC exports).

    Returns:
        A `SolarImage`.

    Raises:
        ValueError: unknown policy, missing keywords (each message names the
            file and the keyword).
        QualityFlagError: QUALITY is nonzero and `quality="drop"`.

    Example:
        >>> image = read_solar_image("aia_171_level1.fits")
        >>> image.unit, round(image.geometry.radius, 1)
        ('DN/s', 50.7)
    """
    if quality not in QUALITY_POLICIES:
        raise ValueError(f"quality must be one of {QUALITY_POLICIES}, got {quality!r}.")
    path = str(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such image file: {path}")
    if path.lower().endswith((".jp2", ".j2k", ".jpx")):
        data, header, repairs = _read_jp2(path)
        unit = "byte-scaled"
    else:
        data, header, repairs = _read_fits(path, hdu)
        unit = str(header.get("BUNIT") or header.get("PIXLUNIT") or "")

    quality_value = _quality_value(header, path)
    flagged = False
    if quality_value:
        if quality == "drop":
            raise QualityFlagError(
                f"{path}: QUALITY = {quality_value} ({'; '.join(describe_quality(quality_value))})"
                " and the quality policy is 'drop'."
            )
        flagged = quality == "keep_and_flag"
        if flagged:
            warnings.warn(
                f"{path}: kept with QUALITY = {quality_value} "
                f"({'; '.join(describe_quality(quality_value))}).",
                FitsHeaderWarning,
                stacklevel=2,
            )

    if data.size and not np.isfinite(data).any():
        raise UnreadableImageError(
            f"{path}: every pixel of the {data.shape[0]}x{data.shape[1]} image is NaN "
            "or infinite: the file holds no data."
        )
    image = SolarImage(data=data, header=header, path=path, quality=quality_value,
                       flagged=flagged, repairs=tuple(repairs), unit=unit)
    image.geometry = disk_geometry(header, data.shape, path)
    image.patch = _patch_geometry(header)
    if exposure_normalise and unit != "byte-scaled":
        _normalise_exposure(image)
    _count_and_fill_nan(image, fill_nan)
    return image


def _read_fits(path: str, hdu: int | None):
    from astropy.io import fits

    try:
        with _quiet_blank_card(), fits.open(path) as hdul:
            index = _image_hdu_index(hdul, path) if hdu is None else hdu
            if not 0 <= index < len(hdul):
                raise ValueError(f"{path}: HDU {index} requested, the file has {len(hdul)}.")
            header, repairs = _repaired_header(hdul[index], path)
            data = np.asarray(hdul[index].data, dtype=np.float32)
    except (OSError, TypeError) as error:
        # astropy's words for a short or damaged file ("buffer is too small for
        # requested array", "Empty or corrupt FITS file", "No SIMPLE card").
        size = os.path.getsize(path)
        raise UnreadableImageError(
            f"{path}: not a readable FITS file ({size} bytes; truncated or "
            f"corrupted?): {error}"
        ) from error
    if data.ndim != 2:
        raise ValueError(f"{path}: HDU {index} holds a {data.ndim}-D array, expected 2-D.")
    return data, header, repairs


def _normalise_exposure(image: SolarImage) -> None:
    """Divide AIA images still in DN by their exposure time (to DN/s)."""
    if image.instrument != "AIA":
        return
    unit = image.unit.strip().lower().replace(" ", "")
    if unit in ("dn/s", "dns-1", "dn/sec"):
        return
    if unit not in ("dn", ""):
        raise ValueError(
            f"{image.path}: AIA pixel unit {image.unit!r} is neither DN nor DN/s; "
            "cannot normalise by exposure."
        )
    exposure = image.header.get("EXPTIME")
    if exposure is None or not np.isfinite(float(exposure)) or float(exposure) <= 0:
        raise ValueError(
            f"{image.path}: EXPTIME = {exposure!r}; a positive exposure time in "
            "seconds is needed to normalise AIA DN to DN/s (pass "
            "exposure_normalise=False to keep DN)."
        )
    image.data = (image.data / np.float32(exposure)).astype(np.float32)
    image.unit = "DN/s"
    image.header["BUNIT"] = "DN/s"


def _count_and_fill_nan(image: SolarImage, fill_nan: float | None) -> None:
    missing = np.isnan(image.data)
    if image.geometry is not None:
        on_disk = image.geometry.disk_mask(image.data.shape)
        image.nan_on_disk = int(np.sum(missing & on_disk))
        image.nan_off_disk = int(np.sum(missing & ~on_disk))
    else:
        image.nan_on_disk = int(np.sum(missing))
    if fill_nan is not None and missing.any():
        image.data = np.where(missing, np.float32(fill_nan), image.data)


def _read_jp2(path: str):
    """Pixels and header of a Helioviewer JP2, rescaling stale geometry."""
    from PIL import Image

    header = read_jp2_header(path)
    # Pillow decodes JPEG 2000 with the OpenJPEG it bundles, so no system
    # library is needed (glymur needs one). JP2 row 0 is the top of the
    # image; flip to FITS order (row 0 at the bottom), as sunpy does.
    with Image.open(path) as picture:
        data = np.asarray(picture, dtype=np.float32)[::-1].copy()
    if data.ndim == 3:
        data = data[..., 0]
    repairs = _rescale_stale_geometry(header, data.shape, path)
    return data, header, repairs


def _rescale_stale_geometry(header: dict, shape, path: str) -> list:
    """Fix NAXIS/CDELT/CRPIX of a file downsampled without updating them."""
    stored_width = header.get("NAXIS1")
    if stored_width in (None, shape[1]) or stored_width <= 0:
        return []
    factor_x = float(stored_width) / shape[1]
    factor_y = float(header.get("NAXIS2", stored_width)) / shape[0]
    for axis, factor in (("1", factor_x), ("2", factor_y)):
        if f"CDELT{axis}" in header:
            header[f"CDELT{axis}"] = float(header[f"CDELT{axis}"]) * factor
        if f"CRPIX{axis}" in header:
            # Pixel edges, not centres, scale: the edge of pixel 1 is at 0.5.
            header[f"CRPIX{axis}"] = (float(header[f"CRPIX{axis}"]) - 0.5) / factor + 0.5
    header["NAXIS1"], header["NAXIS2"] = shape[1], shape[0]
    message = (
        f"{path}: header describes a {stored_width}-pixel-wide image but the file "
        f"stores {shape[1]} x {shape[0]} pixels; CDELT and CRPIX rescaled by "
        f"{factor_x:.4g}."
    )
    warnings.warn(message, FitsHeaderWarning, stacklevel=4)
    return [message]


def read_jp2_header(path) -> dict:
    """The FITS header a Helioviewer JP2 carries in its XML box.

    Args:
        path: a `.jp2` file.

    Returns:
        dict of upper-case keywords with numbers parsed.

    Raises:
        ValueError: the file has no XML box or no `<fits>` element.

    Example:
        >>> read_jp2_header("2013_06_24__17_31_30_84__SDO_AIA_AIA_193.jp2")["WAVELNTH"]
        193
    """
    from xml.etree import ElementTree

    xml_bytes = _jp2_xml_box(str(path))
    root = ElementTree.fromstring(xml_bytes.decode("utf-8", errors="replace"))
    fits_element = root if root.tag == "fits" else root.find("fits")
    if fits_element is None:
        raise ValueError(f"{path}: the JP2 XML box has no <fits> element.")
    header = {}
    for element in fits_element:
        if element.tag in ("HISTORY", "COMMENT", "history", "comment"):
            continue
        header[element.tag.upper()] = _parse_header_text(element.text)
    return header


def _jp2_xml_box(path: str) -> bytes:
    # A JP2 file is a sequence of boxes: 4-byte length, 4-byte type, payload;
    # length 1 means an 8-byte length follows, 0 means "to the end of file".
    with open(path, "rb") as stream:
        content = stream.read()
    offset = 0
    while offset + 8 <= len(content):
        length, box_type = struct.unpack(">I4s", content[offset : offset + 8])
        header_size = 8
        if length == 1:
            (length,) = struct.unpack(">Q", content[offset + 8 : offset + 16])
            header_size = 16
        elif length == 0:
            length = len(content) - offset
        if box_type == b"xml ":
            return content[offset + header_size : offset + length]
        if length < header_size:
            break
        offset += length
    raise ValueError(f"{path}: no XML box with a FITS header in this JP2 file.")


def _parse_header_text(text):
    if text is None:
        return None
    value = text.strip()
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return value


def read_solar_images(paths, *, quality: str = "drop", on_error: str = "raise", **options):
    """Read many images, skipping (and counting) those the quality policy drops.

    Args:
        paths: image files.
        quality: as in `read_solar_image`; "drop" skips flagged images.
        on_error: "raise" (an unreadable file is an error) or "skip": files
            that hold no usable image (`UnreadableImageError`: truncated,
            corrupted, no data, all NaN) are skipped, counted and listed with
            the reason.
        **options: passed to `read_solar_image`.

    Returns:
        (list of `SolarImage`, report dict with "read", "dropped_quality",
        "flagged", "skipped_unreadable" counts, the dropped paths and
        "skipped" {path: reason}).

    Raises:
        UnreadableImageError: an unreadable file, with `on_error="raise"`.

    Example:
        >>> images, report = read_solar_images(paths, quality="drop")
        >>> report["dropped_quality"]
        1
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}.")
    images, dropped, skipped = [], [], {}
    for path in paths:
        try:
            images.append(read_solar_image(path, quality=quality, **options))
        except QualityFlagError:
            dropped.append(str(path))
        except UnreadableImageError as error:
            if on_error == "raise":
                raise
            skipped[str(path)] = str(error)
    report = {
        "read": len(images),
        "dropped_quality": len(dropped),
        "flagged": sum(image.flagged for image in images),
        "dropped_paths": dropped,
        "skipped_unreadable": len(skipped),
        "skipped": skipped,
    }
    return images, report


def resample_disk(image: SolarImage, size: int, margin: float = 0.05) -> SolarImage:
    """Resample a full-disk image to `size` x `size`, centred on the disk.

    The output grid is chosen so that the disk centre falls on the centre of
    the output and the disk's diameter, widened by `margin`, spans the output:
    no part of the disk is cut off, and images of different plate scales and
    pointing come out at the same disk size. Shrinking averages over the
    input pixels (a box filter the size of one output pixel) before bilinear
    interpolation, so that fine structure is not aliased; NaN pixels are left
    out of the average and stay NaN only where no valid input contributes.

    Args:
        image: a `SolarImage` with `geometry`.
        size: output width and height in pixels.
        margin: extra radius around the limb, in units of the disk radius.

    Returns:
        A new `SolarImage` with the resampled data and updated geometry and
        header (`CDELT1/2`, `CRPIX1/2`, `NAXIS1/2`).

    Raises:
        ValueError: the image has no disk geometry, or size < 2.

    Example:
        >>> small = resample_disk(read_solar_image("aia_171_level1.fits"), 64)
        >>> round(small.geometry.radius, 1)
        30.5
    """
    if image.geometry is None:
        raise ValueError(f"{image.path}: resample_disk needs a helioprojective image.")
    if int(size) < 2:
        raise ValueError(f"size must be >= 2 pixels, got {size}.")
    size = int(size)
    geometry = image.geometry
    new_radius = size / 2.0 / (1.0 + margin)
    zoom = new_radius / geometry.radius  # output pixels per input pixel
    centre_out = (size - 1) / 2.0
    rows, cols = np.mgrid[:size, :size].astype(np.float64)
    resampled = sample_plane(image.data, geometry.centre_y + (rows - centre_out) / zoom,
                             geometry.centre_x + (cols - centre_out) / zoom, zoom,
                             outside="constant")
    header = dict(image.header)
    scale_arcsec = geometry.arcsec_per_pixel / zoom
    unit = str(header.get("CUNIT1", "arcsec")).strip().lower() or "arcsec"
    for axis in ("1", "2"):
        header[f"CDELT{axis}"] = scale_arcsec / _ANGLE_TO_ARCSEC.get(unit, 1.0)
    header["NAXIS1"] = header["NAXIS2"] = size
    # Keep the reference world point: its new pixel follows from the mapping.
    header["CRPIX1"] = (float(header["CRPIX1"]) - 1 - geometry.centre_x) * zoom + centre_out + 1
    header["CRPIX2"] = (float(header["CRPIX2"]) - 1 - geometry.centre_y) * zoom + centre_out + 1
    new_geometry = DiskGeometry(centre_out, centre_out, geometry.radius * zoom,
                                scale_arcsec, geometry.rotation_deg)
    result = dataclasses.replace(image, data=resampled.astype(np.float32), header=header,
                                 geometry=new_geometry)
    missing = np.isnan(result.data)
    on_disk = new_geometry.disk_mask(result.data.shape)
    result.nan_on_disk = int(np.sum(missing & on_disk))
    result.nan_off_disk = int(np.sum(missing & ~on_disk))
    return result


def to_sunpy_map(image: SolarImage):
    """A `sunpy.map.Map` of an image, for plotting and coordinate work.

    Non-finite header values are dropped, since FITS headers cannot hold NaN.

    Example:
        >>> to_sunpy_map(read_solar_image("aia_171_level1.fits")).wavelength
        <Quantity 171. Angstrom>
    """
    import sunpy.map

    header = {
        key: value
        for key, value in image.header.items()
        if not (isinstance(value, float) and not np.isfinite(value))
    }
    header["NAXIS1"], header["NAXIS2"] = image.data.shape[1], image.data.shape[0]
    return sunpy.map.Map(image.data, header)


_SHARP_NAME = re.compile(
    r"^hmi\.sharp_(?:cea_)?720s\.(?P<harp>\d+)\.(?P<t_rec>\d{8}_\d{6})_TAI"
    r"\.(?P<segment>[A-Za-z_]+)\.fits(?:\.gz)?$"
)


def parse_sharp_filename(path) -> dict:
    """HARP number, record time and segment of a JSOC SHARP file name.

    Args:
        path: e.g. "hmi.sharp_cea_720s.377.20110215_020000_TAI.Br.fits".

    Returns:
        dict with "harp" (int), "t_rec" (UTC-naive TAI datetime) and "segment".

    Raises:
        ValueError: the name does not follow the JSOC pattern.

    Example:
        >>> parse_sharp_filename("hmi.sharp_cea_720s.377.20110215_020000_TAI.Br.fits")
        {'harp': 377, 't_rec': datetime.datetime(2011, 2, 15, 2, 0), 'segment': 'Br'}
    """
    name = Path(path).name
    match = _SHARP_NAME.match(name)
    if match is None:
        raise ValueError(
            f"{name}: not a SHARP file name like "
            "'hmi.sharp_cea_720s.<HARP>.<YYYYMMDD_hhmmss>_TAI.<segment>.fits'."
        )
    return {
        "harp": int(match["harp"]),
        "t_rec": datetime.datetime.strptime(match["t_rec"], "%Y%m%d_%H%M%S"),
        "segment": match["segment"],
    }


def read_sharp_patch(paths, segments=("Br", "Bp", "Bt")):
    """Stack the segments of one SHARP record into a [H, W, C] array.

    Args:
        paths: the record's segment files (any order; others are ignored).
        segments: segment names to stack, in channel order.

    Returns:
        (float32 array [H, W, len(segments)], header dict of the first
        segment, `PatchGeometry`).

    Raises:
        ValueError: a segment is missing, the files mix HARPs or record
            times, or the segments differ in shape; each names the files.

    Example:
        >>> patch, header, geometry = read_sharp_patch(files, ("Br",))
        >>> patch.shape, header["NOAA_AR"]
        ((377, 744, 1), 11158)
    """
    by_segment, records = {}, set()
    for path in paths:
        info = parse_sharp_filename(path)
        by_segment[info["segment"]] = str(path)
        records.add((info["harp"], info["t_rec"]))
    if len(records) > 1:
        raise ValueError(f"SHARP files of several records were given: {sorted(records)}.")
    missing = [name for name in segments if name not in by_segment]
    if missing:
        harp, t_rec = next(iter(records)) if records else ("?", "?")
        raise ValueError(
            f"SHARP record HARP {harp} at {t_rec}: segment(s) {missing} missing; "
            f"found {sorted(by_segment)} in {sorted(by_segment.values())}."
        )
    channels, header, geometry = [], None, None
    for name in segments:
        image = read_solar_image(by_segment[name], quality="keep", exposure_normalise=False)
        if channels and image.data.shape != channels[0].shape:
            raise ValueError(
                f"{by_segment[name]}: shape {image.data.shape} differs from "
                f"{channels[0].shape} of segment {segments[0]}."
            )
        channels.append(image.data)
        if header is None:
            header, geometry = image.header, image.patch
    return np.stack(channels, axis=-1), header, geometry
