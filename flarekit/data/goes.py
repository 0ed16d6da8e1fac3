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

import os
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


# ---------------------------------------------------------------------------
# GOES XRS light curves: readers, flux scales per satellite and product, and
# flare detection. Appended to the class helpers above, which it builds on.
# ---------------------------------------------------------------------------

# Which flux scale each satellite / product pair is on (SCIENCE.md, trap 6).
# The SWPC factor 0.7 was applied by NOAA to operational GOES 8-15 XRS-B
# fluxes so that they matched GOES 1-7; NOAA's science-quality reprocessing
# (2020) removed it, and GOES-R (16 onwards) never had it. References: NOAA
# NCEI, "GOES 1-15 XRS Science-Quality Data Readme" (2020); Machol, Codrescu
# and Peck, "User's Guide for GOES-R XRS L2 Products" (2021).
XRS_PRODUCTS = {
    "legacy_fits": "SDAC FITS go<NN><YYYYMMDD>.fits from operational data, "
    "GOES 1-15: SWPC scale (true flux x 0.7)",
    "operational_netcdf": "NOAA operational netCDF of GOES 8-15 (g15_xrs_2s_...): "
    "SWPC scale (true flux x 0.7)",
    "science": "NOAA reprocessed science-quality netCDF of GOES 1-15 "
    "(sci_gxrs-l2-irrad_*, sci_xrsf-l2-avg1m_g1x_*): true flux, factor removed",
    "goes_r": "GOES-R series L2 netCDF, GOES 16 and later (sci_xrsf-l2-flx1s_*, "
    "sci_xrsf-l2-avg1m_*): true flux",
}

# NOAA SWPC flare definition (SWPC "Solar and Geophysical Event Reports",
# as quoted by Ryan et al. 2012, ApJS 202, 11): a flare starts at the first of
# four consecutive one-minute averages of 1-8 A flux that increase
# monotonically, the fourth at least 1.4 times the first; it peaks at the
# largest one-minute average; it ends when the flux has decayed half way from
# the peak back to the flux at the start.
SWPC_RISE_MINUTES = 4
SWPC_RISE_RATIO = 1.4


def xrs_flux_scale(satellite: int, product: str) -> str:
    """The `FLUX_SCALES` name of a GOES satellite's XRS product.

    Args:
        satellite: GOES number (1-19).
        product: a key of `XRS_PRODUCTS`: "legacy_fits", "operational_netcdf",
            "science" or "goes_r".

    Returns:
        "swpc", "science" or "goes_r".

    Raises:
        ValueError: unknown product, or a product that does not exist for the
            satellite (science reprocessing covers GOES 1-15 only).

    Example:
        >>> xrs_flux_scale(15, "legacy_fits"), xrs_flux_scale(15, "science")
        ('swpc', 'science')
    """
    satellite = int(satellite)
    if product not in XRS_PRODUCTS:
        raise ValueError(
            f"Unknown XRS product {product!r}; expected one of {sorted(XRS_PRODUCTS)}."
        )
    if satellite >= 16:
        if product not in ("goes_r",):
            raise ValueError(
                f"GOES-{satellite} is a GOES-R satellite; its XRS product is "
                f"'goes_r', not {product!r}."
            )
        return "goes_r"
    if product == "goes_r":
        raise ValueError(f"GOES-{satellite} is not a GOES-R satellite (16 and later).")
    return "science" if product == "science" else "swpc"


class XRSSeries:
    """A GOES XRS light curve with its satellite, product and flux scale.

    Attributes:
        times: pandas DatetimeIndex, UTC (timezone-naive), one per sample.
        flux: XRS-B 1-8 Angstrom flux in W/m^2 on `scale`; NaN where the
            sample was missing or flagged bad.
        short_flux: XRS-A 0.5-4 Angstrom flux, same conventions.
        satellite: GOES number.
        product: key of `XRS_PRODUCTS`.
        scale: key of `FLUX_SCALES` the fluxes are on.
        source: the file read.
        masked: reason -> number of XRS-B samples set to NaN while reading.
    """

    def __init__(self, times, flux, short_flux, satellite, product, scale,
                 source="", masked=None):
        import pandas as pd

        self.times = pd.DatetimeIndex(times)
        self.flux = np.asarray(flux, dtype=np.float64)
        self.short_flux = np.asarray(short_flux, dtype=np.float64)
        if not (len(self.times) == len(self.flux) == len(self.short_flux)):
            raise ValueError(
                f"{source}: times, flux and short_flux differ in length "
                f"({len(self.times)}, {len(self.flux)}, {len(self.short_flux)})."
            )
        if scale not in FLUX_SCALES:
            raise ValueError(f"Unknown flux scale {scale!r}; expected {sorted(FLUX_SCALES)}.")
        self.satellite = int(satellite)
        self.product = product
        self.scale = scale
        self.source = str(source)
        self.masked = dict(masked or {})

    def __repr__(self):
        return (
            f"XRSSeries(GOES-{self.satellite}, {self.product}, scale={self.scale!r}, "
            f"{len(self.times)} samples {self.times.min()} to {self.times.max()})"
        )

    def to_scale(self, scale: str) -> XRSSeries:
        """The same light curve with fluxes moved to another flux scale.

        Example:
            >>> series.to_scale("swpc").scale
            'swpc'
        """
        return XRSSeries(
            self.times,
            convert_flux(self.flux, self.scale, scale),
            convert_flux(self.short_flux, self.scale, scale),
            self.satellite, self.product, scale, self.source, self.masked,
        )

    def one_minute(self) -> XRSSeries:
        """One-minute means of the valid samples, labelled by the minute's start.

        Event lists are made from one-minute averages; classing a flare from
        1-3 s samples gives slightly higher peaks.
        """
        frame = self.to_dataframe().resample("1min").mean()
        return XRSSeries(
            frame.index, frame["xrsb"].to_numpy(), frame["xrsa"].to_numpy(),
            self.satellite, self.product, self.scale, self.source, self.masked,
        )

    def to_dataframe(self):
        """DataFrame with columns xrsa, xrsb (W/m^2) indexed by time."""
        import pandas as pd

        return pd.DataFrame(
            {"xrsa": self.short_flux, "xrsb": self.flux}, index=self.times
        )

    def peak(self, start=None, end=None, one_minute: bool = True):
        """(time, flux) of the largest XRS-B flux in [start, end].

        Args:
            start, end: window bounds (anything pandas parses); None = open.
            one_minute: use one-minute means, as event lists do.

        Raises:
            ValueError: no valid sample in the window.
        """
        series = self.one_minute() if one_minute else self
        frame = series.to_dataframe()["xrsb"]
        if start is not None or end is not None:
            frame = frame.loc[start:end]
        if frame.notna().sum() == 0:
            raise ValueError(f"{self.source}: no valid XRS-B flux between {start} and {end}.")
        return frame.idxmax(), float(frame.max())


def read_xrs(path) -> XRSSeries:
    """Read a GOES XRS file: legacy SDAC FITS or NOAA L2 netCDF.

    Times and fluxes come through `sunpy.timeseries.TimeSeries`, which reads
    every format here (and the legacy FITS `DATE-OBS` written as dd/mm/yyyy);
    the satellite, product and quality-flag meanings come from the file's own
    attributes. Samples whose flag has the netCDF `good_data` bits set, fill
    values and non-positive fluxes become NaN and are counted in `masked`.

    Args:
        path: `go15YYYYMMDD.fits[.gz]`, `sci_gxrs-l2-irrad_g15_*.nc`,
            `sci_xrsf-l2-flx1s_g16_*.nc`, `sci_xrsf-l2-avg1m_*.nc`, ...

    Returns:
        An `XRSSeries` on the flux scale of its satellite and product.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the satellite cannot be determined; a netCDF without
            `time`, a flux variable or its quality-flag variable; a file
            sunpy cannot read (truncated, corrupted). Each message names the
            file and, where one is missing, the variable.

    Example:
        >>> series = read_xrs("go1520110607.fits")
        >>> series.satellite, series.scale
        (15, 'swpc')
    """
    import warnings

    path = str(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such GOES XRS file: {path}")
    import sunpy.timeseries

    name = os.path.basename(path)
    is_netcdf = name.lower().endswith((".nc", ".nc.gz"))
    if is_netcdf:
        _check_netcdf_variables(path)
    with warnings.catch_warnings():
        # sunpy warns about unknown header cards in the legacy FITS files.
        warnings.simplefilter("ignore")
        try:
            timeseries = sunpy.timeseries.TimeSeries(path)
            frame = timeseries.to_dataframe()
        except Exception as error:  # sunpy wraps what it meets in TypeError/ValueError
            raise ValueError(_unreadable_xrs(path, is_netcdf, error)) from error
        observatory = str(getattr(timeseries, "observatory", "") or "")
    attributes, flag_masks = _netcdf_description(path) if is_netcdf else ({}, {})
    satellite = _xrs_satellite(name, attributes, observatory, path)
    product = _xrs_product(name, attributes, satellite, is_netcdf)
    masked = {}
    fluxes = {}
    for channel in ("xrsa", "xrsb"):
        flux = frame[channel].to_numpy(dtype=np.float64)
        bad = ~np.isfinite(flux) | (flux <= 0)
        if channel == "xrsb":
            masked["missing_or_fill"] = int(np.sum(bad))
        quality = f"{channel}_quality"
        if quality in frame and channel in flag_masks:
            flagged = (frame[quality].to_numpy().astype(np.int64) & flag_masks[channel]) != 0
            if channel == "xrsb":
                masked["quality_flag"] = int(np.sum(flagged & ~bad))
            bad |= flagged
        fluxes[channel] = np.where(bad, np.nan, flux)
    return XRSSeries(
        frame.index, fluxes["xrsb"], fluxes["xrsa"], satellite, product,
        xrs_flux_scale(satellite, product), path, masked,
    )


# Variable names of the NOAA netCDF products, GOES 13-15 science and GOES-R.
_NETCDF_FLUX = {"xrsa": ("xrsa_flux", "a_flux"), "xrsb": ("xrsb_flux", "b_flux")}
_NETCDF_FLAGS = {"xrsa": ("xrsa_flags", "xrsa_flag", "a_flags"),
                 "xrsb": ("xrsb_flags", "xrsb_flag", "b_flags")}


def _check_netcdf_variables(path: str) -> None:
    """Raise, naming the file and the variable, when a netCDF lacks what sunpy reads.

    sunpy's reader fails on these files with KeyError, AttributeError or
    "Something went wrong" messages that name neither.
    """
    import h5netcdf

    try:
        handle = h5netcdf.File(path, "r")
    except (OSError, ValueError) as error:
        raise ValueError(
            f"{path}: not a readable netCDF-4 (HDF5) file ({os.path.getsize(path)} bytes; "
            f"truncated or corrupted?): {error}"
        ) from error
    with handle:
        names = set(handle.variables)
        if "time" not in names:
            raise ValueError(
                f"{path}: no 'time' variable; a GOES XRS netCDF has one (seconds since "
                f"an epoch). Variables found: {sorted(names)}."
            )
        if "units" not in handle.variables["time"].attrs:
            raise ValueError(f"{path}: variable 'time' has no 'units' attribute "
                             "('seconds since <epoch>').")
        flux_a = next((n for n in _NETCDF_FLUX["xrsa"] if n in names), None)
        for channel in ("xrsa", "xrsb"):
            # sunpy takes the XRS-B name from the XRS-A one ("a" -> "b").
            wanted = (_NETCDF_FLUX[channel] if flux_a is None
                      else (flux_a.replace("a", "b") if channel == "xrsb" else flux_a,))
            if not any(n in names for n in wanted):
                raise ValueError(
                    f"{path}: no {channel.upper()} flux variable (expected "
                    f"{' or '.join(repr(n) for n in wanted)}); variables found: "
                    f"{sorted(names)}."
                )
            if not any(n in names for n in _NETCDF_FLAGS[channel]):
                raise ValueError(
                    f"{path}: no {channel.upper()} quality-flag variable (expected one of "
                    f"{_NETCDF_FLAGS[channel]}); without it bad samples cannot be masked. "
                    f"Variables found: {sorted(names)}."
                )


def _unreadable_xrs(path: str, is_netcdf: bool, error: Exception) -> str:
    kind = "netCDF" if is_netcdf else "legacy FITS"
    detail = ""
    if not is_netcdf:
        try:
            from astropy.io import fits

            with fits.open(path) as hdus:
                detail = (f"; it holds {len(hdus)} HDU(s) and the flux table, HDU 2, "
                          + ("is missing" if len(hdus) < 3 else "cannot be read"))
        except Exception as fits_error:  # the FITS structure itself is broken
            detail = f"; astropy cannot open it either ({fits_error})"
    return (
        f"{path}: not a readable GOES XRS {kind} file ({os.path.getsize(path)} bytes; "
        f"truncated or corrupted?){detail}. sunpy said: {type(error).__name__}: {error}"
    )


def _netcdf_description(path: str):
    """Global attributes and, per channel, the bit mask of bad-data flags."""
    import h5netcdf

    def text(value):
        if isinstance(value, bytes | np.bytes_):
            value = value.decode(errors="replace")
        return str(value).strip()

    flag_masks = {}
    with h5netcdf.File(path, "r") as handle:
        attributes = {key: text(value) for key, value in handle.attrs.items()
                      if np.ndim(value) == 0}
        for channel, names in (("xrsa", ("a_flags", "xrsa_flags", "xrsa_flag")),
                               ("xrsb", ("b_flags", "xrsb_flags", "xrsb_flag"))):
            name = next((n for n in names if n in handle.variables), None)
            if name is None:
                continue
            flag_masks[channel] = _bad_data_mask(dict(handle.variables[name].attrs))
    return attributes, flag_masks


def _bad_data_mask(flag_attributes: dict) -> int:
    # CF flag conventions: the "good_data" meaning's mask selects the bits
    # that must be zero for a good sample (all bits for GOES-R 1-s data; only
    # the data-quality bits, not the electron-correction ones, for averages).
    meanings = str(flag_attributes.get("flag_meanings", "")).split()
    masks = np.atleast_1d(flag_attributes.get("flag_masks", []))
    if "good_data" in meanings and len(masks) == len(meanings):
        return int(masks[meanings.index("good_data")])
    return 0xFFFFFFFF


def _xrs_satellite(name: str, attributes: dict, observatory: str, path: str) -> int:
    platform = attributes.get("platform", "")
    # 'g16' (netCDF platform attribute and names), 'go15' (SDAC FITS names),
    # 'goes_13' / 'GOES-13' (other names; sunpy's observatory string).
    pattern = re.compile(r"(?:^|[_\W])g(?:o|oes[-_ ]?)?(\d{1,2})(?=$|[_\W]|\d{8})")
    for text in (platform, name, observatory):
        match = pattern.search(text.lower())
        if match:
            return int(match.group(1))
    raise ValueError(
        f"{path}: cannot tell the GOES satellite from the file name, the "
        f"'platform' attribute ({platform!r}) or sunpy's observatory "
        f"({observatory!r}); expected e.g. 'g16' or 'go15'."
    )


def _xrs_product(name: str, attributes: dict, satellite: int, is_netcdf: bool) -> str:
    if not is_netcdf:
        return "legacy_fits"
    if satellite >= 16:
        return "goes_r"
    description = " ".join(attributes.get(key, "") for key in ("summary", "title"))
    if name.lower().startswith("sci_") or "science-quality" in description.lower():
        return "science"
    return "operational_netcdf"


# The CSV exports users download, by their column names (lower-cased):
# - NOAA NGDC/NCEI operational GOES 8-15 files (g15_xrs_2s_YYYYMMDD_YYYYMMDD.csv,
#   g15_xrs_1m_...): metadata lines, a line "data:", then time_tag with
#   A_FLUX/B_FLUX (2 s) or A_AVG/B_AVG (1 min) and A_QUAL_FLAG/B_QUAL_FLAG;
# - SWPC's real-time X-ray product (xrays-*.json, or saved as CSV): one row
#   per time and band, time_tag, satellite, flux, energy ("0.1-0.8nm" is
#   XRS-B, "0.05-0.4nm" XRS-A);
# - what sunpy and pandas write (TimeSeries.to_dataframe().to_csv()): a time
#   column, xrsa, xrsb and optionally xrsa_quality, xrsb_quality.
_CSV_TIME_NAMES = ("time_tag", "time", "date", "datetime", "utc", "")
_CSV_FLUX_NAMES = {"xrsa": ("xrsa", "a_flux", "a_avg", "xrsa_flux", "xrs_a", "short"),
                   "xrsb": ("xrsb", "b_flux", "b_avg", "xrsb_flux", "xrs_b", "long")}
_CSV_FLAG_NAMES = {"xrsa": ("xrsa_quality", "a_qual_flag", "xrsa_flag", "xrsa_flags"),
                   "xrsb": ("xrsb_quality", "b_qual_flag", "xrsb_flag", "xrsb_flags")}
_SWPC_BANDS = {"0.05-0.4nm": "xrsa", "0.1-0.8nm": "xrsb"}


def read_xrs_csv(path, satellite: int | None = None, product: str | None = None,
                 columns: dict | None = None) -> XRSSeries:
    """Read a GOES XRS light curve exported as CSV (or SWPC's JSON).

    Recognises NOAA NGDC/NCEI operational CSV files (metadata, a "data:"
    line, then time_tag, A_FLUX/B_FLUX or A_AVG/B_AVG and quality flags),
    SWPC real-time X-ray products (time_tag, satellite, flux, energy; as
    JSON or CSV), and what sunpy and pandas write (a time column, xrsa,
    xrsb, optionally xrsa_quality/xrsb_quality). Fluxes that are missing,
    not numbers, fill values (<= 0) or flagged (a nonzero quality flag) become
    NaN, counted in `masked`.

    Args:
        path: the file.
        satellite: GOES number, when neither the file name (g15_..., _g16_)
            nor a satellite column says it.
        product: key of `XRS_PRODUCTS`; by default "operational_netcdf"
            (SWPC scale) for GOES 8-15 and "goes_r" for 16 onwards, the
            products these exports come from.
        columns: role -> column for other layouts: "time", "xrsb" (required),
            "xrsa", "xrsa_flag", "xrsb_flag".

    Returns:
        An `XRSSeries`.

    Raises:
        FileNotFoundError: no such file.
        ValueError: an empty file, no time or XRS-B column, unreadable times
            (with the first lines), an unknown satellite; each names the file
            and the column.

    Example:
        >>> series = read_xrs_csv("g15_xrs_1m_20110601_20110630.csv")
        >>> series.scale
        'swpc'
    """
    import io
    import json

    import pandas as pd

    path = str(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such GOES XRS file: {path}")
    with open(path, encoding="utf-8-sig", errors="replace") as stream:
        text = stream.read()
    if not text.strip():
        raise ValueError(f"{path}: the file is empty; expected a GOES XRS CSV export.")
    first_line = 1
    if text.lstrip().startswith("["):
        try:
            frame = pd.DataFrame(json.loads(text), dtype=object)
        except ValueError as error:
            raise ValueError(f"{path}: not readable JSON: {error}") from error
    else:
        lines = text.splitlines()
        marker = next((i for i, line in enumerate(lines) if line.strip().lower() == "data:"),
                      None)
        if marker is not None:
            lines = lines[marker + 1:]
            first_line = marker + 2
        try:
            frame = pd.read_csv(io.StringIO("\n".join(lines)), dtype=str,
                                keep_default_na=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
            raise ValueError(f"{path}: not a readable CSV after line {first_line}: "
                             f"{error}") from error
        if frame.empty:
            raise ValueError(f"{path}: has a header but no rows.")
    # Lines of the file, for messages about rows.
    frame.index = range(first_line + 1, first_line + 1 + len(frame))
    names = {str(column).strip().lower(): column for column in frame.columns}
    names.update({"": frame.columns[0]} if str(frame.columns[0]).startswith("Unnamed")
                 else {})
    if columns is None and {"time_tag", "flux", "energy"} <= set(names):
        frame, names, satellite = _swpc_long_to_wide(frame, names, satellite, path)
    roles = {}
    if columns is not None:
        for role, column in columns.items():
            if column not in frame.columns:
                raise ValueError(f"{path}: columns gives {role}={column!r}, but there is "
                                 f"no such column; found {list(frame.columns)}.")
            roles[role] = column
    else:
        roles["time"] = next((names[n] for n in _CSV_TIME_NAMES if n in names), None)
        for channel in ("xrsa", "xrsb"):
            roles[channel] = next((names[n] for n in _CSV_FLUX_NAMES[channel] if n in names),
                                  None)
            roles[f"{channel}_flag"] = next(
                (names[n] for n in _CSV_FLAG_NAMES[channel] if n in names), None)
    for role in ("time", "xrsb"):
        if roles.get(role) is None:
            raise ValueError(
                f"{path}: no {role} column (expected one of "
                f"{_CSV_TIME_NAMES[:-1] if role == 'time' else _CSV_FLUX_NAMES[role]}); "
                f"found {list(frame.columns)}. Pass columns={{'time': ..., 'xrsb': ...}}."
            )
    raw_times = frame[roles["time"]].astype(str).str.strip()
    times = pd.to_datetime(raw_times.str.replace(r"\s*UTC$", "", regex=True),
                           format="ISO8601", utc=True, errors="coerce")
    bad = times.isna().to_numpy()
    if bad.any():
        shown = ", ".join(f"line {line} {value!r}" for line, value in
                          list(zip(frame.index[bad], raw_times[bad]))[:3])
        raise ValueError(f"{path}: column {roles['time']!r}: {int(bad.sum())} time(s) are "
                         f"not ISO date-times: {shown}.")
    satellite = _csv_satellite(path, satellite)
    if product is None:
        product = "goes_r" if satellite >= 16 else "operational_netcdf"
    masked = {"missing_or_fill": 0, "not_a_number": 0, "quality_flag": 0}
    fluxes = {}
    for channel in ("xrsa", "xrsb"):
        if roles.get(channel) is None:
            fluxes[channel] = np.full(len(frame), np.nan)
            continue
        raw = frame[roles[channel]].astype(str).str.strip()
        flux = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
        text_values = np.isnan(flux) & (raw != "").to_numpy() & (
            raw.str.lower() != "nan").to_numpy()
        bad = ~np.isfinite(flux) | (flux <= 0)
        if roles.get(f"{channel}_flag") is not None:
            flags = pd.to_numeric(frame[roles[f"{channel}_flag"]], errors="coerce")
            flagged = (flags.fillna(1).to_numpy() != 0) & ~bad
        else:
            flagged = np.zeros(len(frame), dtype=bool)
        if channel == "xrsb":
            masked["not_a_number"] = int(text_values.sum())
            masked["missing_or_fill"] = int(bad.sum() - text_values.sum())
            masked["quality_flag"] = int(flagged.sum())
        fluxes[channel] = np.where(bad | flagged, np.nan, flux)
    order = np.argsort(times.to_numpy(), kind="stable")
    return XRSSeries(
        times.dt.tz_localize(None).to_numpy()[order], fluxes["xrsb"][order],
        fluxes["xrsa"][order], satellite, product, xrs_flux_scale(satellite, product),
        path, masked,
    )


def _swpc_long_to_wide(frame, names, satellite, path):
    """SWPC's one-row-per-band table as one row per time with xrsa, xrsb."""
    energy = frame[names["energy"]].astype(str).str.strip()
    unknown = sorted(set(energy) - set(_SWPC_BANDS))
    if unknown:
        raise ValueError(f"{path}: column 'energy' holds {unknown}; expected "
                         f"{sorted(_SWPC_BANDS)}.")
    if "satellite" in names and satellite is None:
        found = sorted({int(float(v)) for v in frame[names["satellite"]] if str(v).strip()})
        if len(found) != 1:
            raise ValueError(f"{path}: column 'satellite' holds {found}; pass satellite= "
                             "to choose one.")
        satellite = found[0]
    wide = frame.assign(band=energy.map(_SWPC_BANDS)).pivot_table(
        index=names["time_tag"], columns="band", values=names["flux"], aggfunc="first")
    wide = wide.reset_index().rename(columns={names["time_tag"]: "time_tag"})
    wide.columns.name = None
    return wide, {str(c).lower(): c for c in wide.columns}, satellite


def _csv_satellite(path: str, satellite) -> int:
    if satellite is not None:
        return int(satellite)
    match = re.search(r"(?:^|[_\W])g(?:o|oes[-_ ]?)?(\d{1,2})(?=$|[_\W])",
                      os.path.basename(path).lower())
    if match:
        return int(match.group(1))
    raise ValueError(
        f"{path}: cannot tell the GOES satellite from the file name or a 'satellite' "
        "column; pass satellite= (e.g. 15), and product= if it is not the operational "
        "(GOES 8-15) or GOES-R (16 on) data."
    )


def detect_flares(
    series: XRSSeries,
    min_peak_flux: float = 0.0,
    rise_minutes: int = SWPC_RISE_MINUTES,
    rise_ratio: float = SWPC_RISE_RATIO,
):
    """Find flares in a GOES XRS-B light curve with the NOAA SWPC rules.

    On one-minute means: a flare starts at the first of `rise_minutes`
    consecutive minutes of strictly increasing flux whose last value is at
    least `rise_ratio` times the first; it peaks at the largest minute; it
    ends at the first minute after the peak whose flux is at or below half
    way between the peak and the start flux. A new rise during the decay ends
    the current flare the minute before and starts the next. A flare still
    decaying when the data stop ends at the last minute, marked
    `end_truncated`; one whose rise begins with the data is marked
    `start_truncated`. Reference: NOAA SWPC event definitions, as quoted by
    Ryan et al. (2012), ApJS 202, 11.

    Args:
        series: an `XRSSeries` (any cadence).
        min_peak_flux: drop flares whose peak is below this flux (on the
            series' scale), e.g. 1e-6 for >= C1 only.
        rise_minutes: length of the rising run that starts a flare.
        rise_ratio: required growth over that run.

    Returns:
        DataFrame with one row per flare: start, peak, end (UTC), start_flux,
        peak_flux (W/m^2 on `scale`), goes_class, scale, satellite,
        start_truncated (the rise began with the data), end_truncated.

    Example:
        >>> flares = detect_flares(read_xrs("go1520110607.fits"), min_peak_flux=1e-5)
        >>> flares[["peak", "goes_class", "scale"]].values.tolist()
        [[Timestamp('2011-06-07 06:41:00'), 'M2.5', 'swpc']]
    """
    import pandas as pd

    if rise_minutes < 2 or rise_ratio <= 1.0:
        raise ValueError(
            f"rise_minutes must be >= 2 and rise_ratio > 1, got {rise_minutes}, {rise_ratio}."
        )
    minutes = series.one_minute()
    flux, times = minutes.flux, minutes.times
    rows = []
    index = 0
    while index <= len(flux) - rise_minutes:
        if not _rise_starts(flux, index, rise_minutes, rise_ratio):
            index += 1
            continue
        start, peak = index, index
        cursor = index + 1
        end, truncated = None, False
        while cursor < len(flux):
            value = flux[cursor]
            if np.isfinite(value) and value > flux[peak]:
                peak = cursor
            elif cursor > peak and _rise_starts(flux, cursor, rise_minutes, rise_ratio):
                end = cursor - 1
                break
            half_way = (flux[peak] + flux[start]) / 2.0
            if cursor > peak and np.isfinite(value) and value <= half_way:
                end = cursor
                break
            cursor += 1
        if end is None:
            end, truncated = len(flux) - 1, True
        # A rise that begins with the data may have begun before them.
        start_truncated = start == 0 or not np.isfinite(flux[start - 1])
        rows.append({
            "start": times[start], "peak": times[peak], "end": times[end],
            "start_flux": float(flux[start]), "peak_flux": float(flux[peak]),
            "goes_class": flux_to_class(flux[peak]), "scale": series.scale,
            "satellite": series.satellite, "start_truncated": start_truncated,
            "end_truncated": truncated,
        })
        index = end + 1 if not truncated else len(flux)
    columns = ["start", "peak", "end", "start_flux", "peak_flux", "goes_class",
               "scale", "satellite", "start_truncated", "end_truncated"]
    flares = pd.DataFrame(rows, columns=columns)
    return flares[flares["peak_flux"] >= min_peak_flux].reset_index(drop=True)


def _rise_starts(flux, index: int, rise_minutes: int, rise_ratio: float) -> bool:
    window = flux[index : index + rise_minutes]
    if len(window) < rise_minutes or not np.all(np.isfinite(window)):
        return False
    return bool(np.all(np.diff(window) > 0) and window[-1] >= rise_ratio * window[0])
