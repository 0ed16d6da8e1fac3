"""Forecasts from image files with a trained run: `flarekit predict --run RUN PATH...`.

A run's `checkpoints/best.keras` carries its preprocessing layers (`DiskMask`,
`LogScaling`, `ChannelNormalization` with the training statistics), so a
forecast from a file needs only what the dataset builders did before the
model: read the pixels in physical units, orient them, pick the channels, and
resample them to the model's input size.

Files (one file is one sample):

- FITS (`.fits`, `.fts`, `.fit`, `.fits.gz`; AIA/HMI full-disk images and
  cut-outs) through `flarekit.data.fits.read_solar_image`: exposure-normalised
  DN/s, NaN off the limb kept (the model's `DiskMask` fills it), the QUALITY
  flag surfaced as a warning. A 3-D FITS cube [C, H, W] is C channels.
- Helioviewer JPEG 2000 (`.jp2`) through the same reader.
- PNG / JPEG: byte-scaled pictures (0-255), one channel when grey (also an
  RGB picture whose three channels are equal), else one channel per colour.
- `.npy`: a float array [H, W] or [H, W, C] in physical units (what
  `flarekit.data.synthetic` renders).

Orientation: training images have row 0 at the top (north), as pictures
have. FITS stores row 0 at the bottom, so FITS images are flipped; an image
stored upside down (`CROTA2` near 180 deg, as HMI is) is rotated by 180 deg
first. Other rotations are left as they are, with a warning.

Size: a full-disk FITS image given to a full-disk model is resampled by
`fits.resample_disk`, which centres the disk and scales it to the disk size
the model was trained on (the `DiskMask` radius of the model, else the
synthetic Sun's 0.45 of the image side). Everything else is resampled as a
whole (box average when shrinking, then bilinear; NaN-aware) to the model's
height and width, with a warning when the aspect ratio changes or the image
is upsampled by more than 2x.

Channels, the rule: a file must have as many channels as the model, in the
model's order, or the forecast is refused with a message naming the model's
channels and what the file holds (a FITS header's instrument and wavelength
are recognised: AIA 171 -> euv_171, HMI magnetogram -> magnetogram). A
`channel_map` (`--channel-map`) says where each model channel comes from:
`"euv_171=0,magnetogram=mean,continuum=mean,euv_94=mean"`; a source is a
0-based channel of the file, `mean` (the training mean of that channel: the
value the model's normalisation maps to 0, i.e. "nothing unusual") or `zero`
(a raw 0). Filled channels are listed in the warnings: such a forecast uses
less information than the model was trained with.

Refusals: a file that cannot be forecast from gets a row with status
"refused: FILE: reason", the reason naming the field at fault, and the batch
goes on. Sizes a file declares (picture and JP2 headers, the .npy header,
FITS NAXISn x BITPIX, before gunzipping a .fits.gz further than its headers)
are checked against `MAX_SIDE` / `MAX_VALUES` before any pixel is decoded;
complex and object .npy arrays are refused; so is an image with more than
`DEFAULT_MAX_NONFINITE_FRACTION` (5 %) of NaN / infinite pixels on the solar
disk (`nonfinite_fraction`, reported in every row; `--max-nonfinite`).

Units: a byte-scaled picture (PNG, JPEG, JP2) is not in the physical units
(G, DN/s) of a model trained on the synthetic Sun; the forecast is made, with
a warning that it is not calibrated.

Example:
    >>> forecaster = Forecaster.load("runs/xray_flux_forecast/starting_point/2026...")
    >>> row = forecaster.forecast_file("aia_171.fits", channel_map="euv_171=0,"
    ...     "magnetogram=mean,continuum=mean,euv_94=mean")
    >>> row["probability"], row["class"]
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import math
import os
import struct
import tempfile
import threading
import time
import warnings
import zlib
from pathlib import Path

import numpy as np

from flarekit.data.resample import resample

FITS_SUFFIXES = (".fits", ".fts", ".fit", ".fits.gz", ".fts.gz", ".fit.gz")
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg")
JP2_SUFFIXES = (".jp2", ".j2k", ".jpx")
ARRAY_SUFFIXES = (".npy",)
SUPPORTED = FITS_SUFFIXES + PICTURE_SUFFIXES + JP2_SUFFIXES + ARRAY_SUFFIXES
# Disk radius / image side of the synthetic Sun's full-disk images (its
# SyntheticSunConfig.disk_radius_fraction), used when a full-disk model does
# not say its own.
DEFAULT_DISK_RADIUS_FRACTION = 0.45
# Largest input side accepted (pixels); AIA and HMI full-resolution is 4096.
MAX_SIDE = 8192
# Largest image accepted, in pixel values over all channels: one 8192x8192
# image or a 4096x4096 cube of 4 channels, 256 MiB as float32. Every reader
# checks the size a file *declares* (PNG/JPEG/JP2 header, .npy header, FITS
# NAXISn) against it before decoding a pixel, because a small file can
# declare a huge image: a 140 kB .fits.gz can hold 12000x12000 zeros.
MAX_VALUES = MAX_SIDE * MAX_SIDE
# Largest file read, and largest FITS data (all HDUs, after gunzip): the
# float64 FITS image of MAX_VALUES values, plus 1 MiB of headers.
MAX_FILE_BYTES = 8 * MAX_VALUES + 2**20
# Default largest fraction of non-finite pixels (NaN, +inf, -inf) on the solar
# disk (the whole image for patches). Above it a forecast is refused: the
# model's DiskMask fills such pixels with a constant, so a disk that is mostly
# missing would still get a confident-looking probability.
DEFAULT_MAX_NONFINITE_FRACTION = 0.05

CSV_COLUMNS = (
    "path",
    "status",
    "probability",
    "class",
    "threshold",
    "nonfinite_fraction",
    "model_run",
    "warnings",
    "seconds",
)


class InputError(ValueError):
    """A file that cannot be forecast from: unreadable, wrong shape or channels."""


@dataclasses.dataclass
class LoadedImage:
    """Pixels of one file, row 0 at the top, with what is known about them.

    Attributes:
        data: float32 [H, W, C].
        kind: "fits", "jp2", "picture" or "array".
        channel_hints: a guessed channel name per channel ("" when unknown).
        full_disk: True when the whole solar disk lies in the image (FITS/JP2
            with disk geometry).
        warnings: notes for the user, one line each.
        solar_image: the `SolarImage` of a FITS/JP2 file (None otherwise).
    """

    data: np.ndarray
    kind: str
    channel_hints: tuple = ()
    full_disk: bool = False
    warnings: list = dataclasses.field(default_factory=list)
    solar_image: object = None


# ---------------------------------------------------------------- reading ---


def _suffix(name: str) -> str:
    lower = name.lower()
    for suffix in sorted(SUPPORTED, key=len, reverse=True):
        if lower.endswith(suffix):
            return suffix
    return Path(lower).suffix


def _sniff(content: bytes) -> str | None:
    """The format from a file's first bytes (uploads may have any name)."""
    if content.startswith(b"SIMPLE  ="):
        return "fits"
    if content.startswith(b"\x1f\x8b"):
        try:
            head = gzip.GzipFile(fileobj=io.BytesIO(content[:4096])).read(9)
        except (OSError, EOFError, zlib.error):
            return None
        return "fits" if head.startswith(b"SIMPLE") else None
    if content.startswith((b"\x89PNG", b"\xff\xd8\xff")):
        return "picture"
    if content.startswith((b"\x00\x00\x00\x0cjP  ", b"\xff\x4f\xff\x51")):
        return "jp2"
    if content.startswith(b"\x93NUMPY"):
        return "array"
    return None


def _kind_of(name: str, content: bytes | None) -> str:
    suffix = _suffix(name)
    by_name = (
        "fits"
        if suffix in FITS_SUFFIXES
        else "picture"
        if suffix in PICTURE_SUFFIXES
        else "jp2"
        if suffix in JP2_SUFFIXES
        else "array"
        if suffix in ARRAY_SUFFIXES
        else None
    )
    sniffed = _sniff(content) if content is not None else None
    kind = sniffed or by_name
    if kind is None:
        raise InputError(
            f"{name}: not a supported image file. Expected FITS (.fits, .fts, "
            ".fits.gz), JPEG 2000 (.jp2), PNG, JPEG or a numpy array (.npy)."
        )
    return kind


def _fits_channel_hint(header: dict) -> str:
    """The synthetic-Sun channel name an AIA/HMI header corresponds to, or ""."""
    instrument = " ".join(
        str(header.get(k, "")) for k in ("INSTRUME", "TELESCOP")
    ).upper()
    content = " ".join(str(header.get(k, "")) for k in ("CONTENT", "TELESCOP", "BUNIT"))
    content = content.upper()
    if "AIA" in instrument and header.get("WAVELNTH") is not None:
        try:
            return f"euv_{round(float(header['WAVELNTH']))}"
        except (TypeError, ValueError):
            return ""
    if "HMI" in instrument:
        if "MAGNETOGRAM" in content or "GAUSS" in content or "MX/CM" in content:
            return "magnetogram"
        if "CONTINUUM" in content or "INTENSITY" in content:
            return "continuum"
    return ""


def _orient_fits(data: np.ndarray, rotation_deg: float, notes: list) -> np.ndarray:
    """FITS order (row 0 south) -> picture order (row 0 north), undoing CROTA2 ~ 180."""
    rotation = float(rotation_deg or 0.0) % 360.0
    if abs(rotation - 180.0) < 1.0:
        data = data[::-1, ::-1]
        notes.append(f"rotated by 180 deg (CROTA2 = {rotation_deg:.2f})")
    elif min(rotation, 360.0 - rotation) >= 1.0:
        notes.append(
            f"CROTA2 = {rotation_deg:.2f} deg: solar north is not up; not corrected"
        )
    return np.ascontiguousarray(data[::-1])


def _read_fits_like(path: str, kind: str, notes: list) -> LoadedImage:
    from flarekit.data import fits

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            image = fits.read_solar_image(path, quality="keep_and_flag")
        except ValueError:
            # No 2-D image: a cube of channels, or the reader's error stands.
            cube = _read_fits_cube(path, notes) if kind == "fits" else None
            if cube is None:
                raise
            return cube
    notes += [str(w.message).replace(path, Path(path).name) for w in caught]
    geometry = image.geometry
    full_disk = False
    if geometry is not None:
        height, width = image.data.shape
        full_disk = (
            geometry.radius < 0.6 * max(height, width)
            and 0 <= geometry.centre_x < width
            and 0 <= geometry.centre_y < height
            and geometry.centre_x - geometry.radius > -0.1 * width
            and geometry.centre_x + geometry.radius < 1.1 * width
        )
    if kind == "jp2":
        notes.append("JPEG 2000: byte-scaled pixel values, not physical units")
    return LoadedImage(
        data=image.data[..., None],
        kind=kind,
        channel_hints=(_fits_channel_hint(image.header),),
        full_disk=full_disk,
        warnings=notes,
        solar_image=image,
    )


def _read_fits_cube(path: str, notes: list) -> LoadedImage | None:
    """A 3-D FITS cube [C, H, W] as C channels; None when the file has none."""
    from astropy.io import fits as astropy_fits

    with astropy_fits.open(path) as hdul:
        hdu = next((h for h in hdul if h.is_image and h.header.get("NAXIS") == 3), None)
        if hdu is None:
            return None
        cube = np.asarray(hdu.data, dtype=np.float32)
    notes.append(f"FITS cube read as {cube.shape[0]} channels (axis NAXIS3)")
    data = np.moveaxis(cube, 0, -1)[::-1]  # FITS row 0 is the bottom
    return LoadedImage(data=np.ascontiguousarray(data), kind="fits", warnings=notes)


def _check_declared_size(name: str, field: str, height, width, channels=1) -> None:
    """Refuse an image that declares more than MAX_SIDE a side or MAX_VALUES
    values, before any pixel of it is decoded.

    Raises:
        InputError: naming the file, the field that declares the size, the
            size declared and the limits.
    """
    values = int(height) * int(width) * int(channels)
    if max(height, width) <= MAX_SIDE and values <= MAX_VALUES:
        return
    depth, axes = (f" x {channels}", " x channels") if channels != 1 else ("", "")
    raise InputError(
        f"{name}: {field} declares {height} x {width}{depth} pixels (rows x "
        f"columns{axes}) "
        f"({values / 1e6:.4g} million values, {4 * values / 2**20:,.0f} MiB as "
        f"float32); at most {MAX_SIDE} pixels a side and {MAX_VALUES / 1e6:.4g} "
        "million values are read. Refused before decoding."
    )


def _read_picture(content: bytes, name: str, notes: list) -> LoadedImage:
    from PIL import Image, UnidentifiedImageError

    try:
        # Image.open reads the header only; the size is checked before load()
        # decodes (Pillow's own bomb limit, 89 million pixels, is above ours,
        # so its warning is redundant here).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as picture:
                mode = picture.mode
                bands = (
                    4
                    if mode in ("PA", "LA")
                    else 1
                    if mode in ("P", "1")
                    else len(picture.getbands())
                )
                width, height = picture.size
                _check_declared_size(
                    name,
                    f"its {picture.format} header (image size)",
                    height,
                    width,
                    bands,
                )
                picture.load()
                if mode in ("P", "PA", "LA", "1"):
                    picture = picture.convert("RGBA" if "A" in mode else "L")
                data = np.asarray(picture, dtype=np.float32)
    except InputError:
        raise
    except Image.DecompressionBombError as error:
        raise InputError(
            f"{name}: its PNG/JPEG header (image size) is a decompression bomb: "
            f"{error} Refused before decoding."
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise InputError(
            f"{name}: not a readable PNG/JPEG image (the file's bytes do not "
            f"decode: {error})."
        ) from None
    if data.ndim == 3 and data.shape[-1] in (3, 4):
        colour = data[..., :3]
        if data.shape[-1] == 4:
            notes.append("alpha channel ignored")
            data = colour
        if np.array_equal(colour[..., 0], colour[..., 1]) and np.array_equal(
            colour[..., 0], colour[..., 2]
        ):
            data = colour[..., :1]
            notes.append("grey picture stored as RGB: read as one channel")
    if data.ndim == 2:
        data = data[..., None]
    notes.append("PNG/JPEG: byte-scaled pixel values, not physical units")
    return LoadedImage(data=data, kind="picture", warnings=notes)


def _read_array(content: bytes, name: str, notes: list) -> LoadedImage:
    """A `.npy` file, its header (dtype, shape, data size) checked before the
    data is touched: a 192-byte header can declare hundreds of GiB."""
    from numpy.lib import format as npy_format

    stream = io.BytesIO(content)
    try:
        version = npy_format.read_magic(stream)
        if version == (1, 0):
            shape, fortran_order, dtype = npy_format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran_order, dtype = npy_format.read_array_header_2_0(stream)
        else:
            raise InputError(
                f"{name}: .npy format version {version[0]}.{version[1]}; flarekit "
                "reads versions 1.0 and 2.0 (what np.save writes for numbers)."
            )
    except InputError:
        raise
    except (ValueError, OSError, SyntaxError, TypeError) as error:
        raise InputError(
            f"{name}: not a readable .npy array: its header does not parse ({error})."
        ) from None
    if dtype.hasobject:
        raise InputError(
            f"{name}: .npy dtype {dtype} holds Python objects (a pickle); expected "
            "real numbers (float or integer). Pickles are never loaded."
        )
    if dtype.kind == "c":
        raise InputError(
            f"{name}: .npy dtype {dtype} holds complex numbers; expected real "
            "numbers. The imaginary part would be silently lost: save the real "
            "part (a.real) or the modulus (np.abs(a)) instead."
        )
    if dtype.kind not in "iuf":
        raise InputError(
            f"{name}: .npy dtype {dtype}; expected real numbers (float or integer)."
        )
    if len(shape) not in (2, 3):
        raise InputError(
            f"{name}: array of shape {shape}; expected [H, W] or [H, W, C]."
        )
    _check_declared_size(
        name,
        f"its .npy header (shape {shape})",
        shape[0],
        shape[1],
        shape[2] if len(shape) == 3 else 1,
    )
    count = math.prod(shape)
    offset = stream.tell()
    needed = count * dtype.itemsize
    if len(content) - offset < needed:
        raise InputError(
            f"{name}: truncated .npy file: its header declares shape {shape} of "
            f"{dtype} ({needed} bytes of data); the file holds "
            f"{len(content) - offset}."
        )
    data = np.frombuffer(content, dtype=dtype, count=count, offset=offset)
    data = data.reshape(shape, order="F" if fortran_order else "C")
    if data.ndim == 2:
        data = data[..., None]
    return LoadedImage(data=data.astype(np.float32), kind="array", warnings=notes)


# FITS structure (FITS standard 4.0): 2880-byte blocks of 80-character cards.
_FITS_BLOCK = 2880
_FITS_BITPIX = (8, 16, 32, 64, -32, -64)
_MAX_FITS_HDUS = 100
_MAX_FITS_HEADER_BLOCKS = 100


def _fits_header(stream, name: str, index: int):
    """(cards {keyword: value text}, raw bytes) of the next FITS header, or
    None when the file ends (or only padding/foreign bytes follow)."""
    cards, blocks = {}, []
    for count in range(_MAX_FITS_HEADER_BLOCKS):
        block = stream.read(_FITS_BLOCK)
        if count == 0 and index > 0 and not block.startswith(b"XTENSION"):
            return None  # FITS readers ignore what follows the last HDU
        if len(block) < _FITS_BLOCK:
            raise InputError(
                f"{name}: truncated FITS file: the header of HDU {index} ends "
                "before its END card."
            )
        blocks.append(block)
        for start in range(0, _FITS_BLOCK, 80):
            card = block[start : start + 80]
            keyword = card[:8].decode("ascii", "replace").strip()
            if keyword == "END":
                return cards, b"".join(blocks)
            if card[8:10] == b"= " and keyword not in cards:
                text = card[10:].decode("ascii", "replace")
                cards[keyword] = text.split("/", 1)[0].strip()
    raise InputError(
        f"{name}: the FITS header of HDU {index} has no END card in its first "
        f"{_MAX_FITS_HEADER_BLOCKS * 36} cards."
    )


def _fits_integer(cards: dict, keyword: str, name: str, index: int, default=None):
    text = cards.get(keyword)
    if text is None:
        if default is None:
            raise InputError(
                f"{name}: the header of HDU {index} has no {keyword} card, which "
                "FITS requires."
            )
        return default
    try:
        return int(text)
    except ValueError:
        raise InputError(
            f"{name}: {keyword} = {text} in HDU {index}; expected an integer."
        ) from None


def _fits_image_axes(cards: dict, prefix: str, name: str, index: int) -> tuple:
    """(BITPIX, [NAXIS1, NAXIS2, ...]) or the Z-prefixed ones of a tile-compressed
    image, each checked to be a value FITS allows."""
    bitpix = _fits_integer(cards, f"{prefix}BITPIX", name, index)
    if bitpix not in _FITS_BITPIX:
        raise InputError(
            f"{name}: {prefix}BITPIX = {bitpix} in HDU {index}; FITS allows "
            f"{', '.join(map(str, _FITS_BITPIX))}."
        )
    naxis = _fits_integer(cards, f"{prefix}NAXIS", name, index)
    if not 0 <= naxis <= 999:
        raise InputError(
            f"{name}: {prefix}NAXIS = {naxis} in HDU {index}; FITS allows 0 to 999."
        )
    axes = []
    for axis in range(1, naxis + 1):
        length = _fits_integer(cards, f"{prefix}NAXIS{axis}", name, index)
        if length < 0:
            raise InputError(
                f"{name}: {prefix}NAXIS{axis} = {length} in HDU {index}; expected a "
                "length >= 0."
            )
        axes.append(length)
    return bitpix, axes


def _check_fits_image(axes, bitpix, prefix: str, name: str, index: int) -> None:
    if len(axes) < 2:
        return
    field = (
        f"HDU {index} ({', '.join(f'{prefix}NAXIS{i + 1} = {n}' for i, n in enumerate(axes))}"
        f", {prefix}BITPIX = {bitpix})"
    )
    _check_declared_size(
        name, field, axes[1], axes[0], math.prod(axes[2:]) if len(axes) > 2 else 1
    )


def _scan_fits(stream, name: str, sink=None) -> None:
    """Walk a FITS file's headers and check every size they declare before any
    data is read: image sides and values (NAXISn, or ZNAXISn of a
    tile-compressed image) and the data bytes of all HDUs (NAXISn x BITPIX).

    Args:
        stream: the file's bytes (a gunzipping reader for .fits.gz: only what
            the headers declare is ever decompressed, so a gzip bomb stops at
            its first header).
        name: file name for messages.
        sink: where to copy the bytes read (the decompressed file), or None.

    Raises:
        InputError: a size beyond the limits, a malformed size card, or a file
            shorter than its headers say.
    """
    total = 0
    for index in range(_MAX_FITS_HDUS + 1):
        found = _fits_header(stream, name, index)
        if found is None:
            return
        if index == _MAX_FITS_HDUS:
            raise InputError(
                f"{name}: more than {_MAX_FITS_HDUS} HDUs; flarekit reads image "
                "files of at most that many."
            )
        cards, raw = found
        if sink is not None:
            sink.write(raw)
        bitpix, axes = _fits_image_axes(cards, "", name, index)
        extension = cards.get("XTENSION", "").strip("' ").upper()
        if index == 0 or extension == "IMAGE":
            _check_fits_image(axes, bitpix, "", name, index)
        if cards.get("ZIMAGE") == "T":
            zbitpix, zaxes = _fits_image_axes(cards, "Z", name, index)
            _check_fits_image(zaxes, zbitpix, "Z", name, index)
        pcount = _fits_integer(cards, "PCOUNT", name, index, 0)
        gcount = _fits_integer(cards, "GCOUNT", name, index, 1)
        if pcount < 0 or gcount < 0:
            raise InputError(
                f"{name}: PCOUNT = {pcount}, GCOUNT = {gcount} in HDU {index}; "
                "expected values >= 0."
            )
        random_groups = index == 0 and cards.get("GROUPS") == "T" and axes[:1] == [0]
        values = math.prod(axes[1:] if random_groups else axes) if axes else 0
        size = abs(bitpix) // 8 * gcount * (pcount + values) if axes else 0
        total += size
        if total > MAX_FILE_BYTES:
            raise InputError(
                f"{name}: HDU {index} declares {size / 2**20:,.0f} MiB of data "
                f"(NAXISn x BITPIX = {bitpix}, PCOUNT, GCOUNT), {total / 2**20:,.0f} "
                f"MiB in all; at most {MAX_FILE_BYTES / 2**20:,.0f} MiB are read. "
                "Refused before decoding."
            )
        got = _copy_bytes(stream, sink, size)
        if got < size:
            raise InputError(
                f"{name}: truncated FITS file: HDU {index} declares {size} bytes of "
                f"data (NAXISn x BITPIX = {bitpix}) and the file holds {got} of them."
            )
        # The last block's padding may be missing; readers accept that.
        _copy_bytes(stream, sink, -size % _FITS_BLOCK)


def _copy_bytes(stream, sink, size: int) -> int:
    """Read `size` bytes from `stream` in 1 MiB pieces (into `sink` when given);
    the number actually read."""
    done = 0
    while done < size:
        piece = stream.read(min(size - done, 2**20))
        if not piece:
            break
        if sink is not None:
            sink.write(piece)
        done += len(piece)
    return done


def _check_jp2(content: bytes, name: str) -> None:
    """Refuse a JPEG 2000 file whose header declares too large an image,
    before OpenJPEG decodes it."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(content)) as picture:
                width, height = picture.size
                bands = len(picture.getbands())
        except Image.DecompressionBombError as error:
            raise InputError(
                f"{name}: its JP2 header (image size) is a decompression bomb: "
                f"{error} Refused before decoding."
            ) from None
    _check_declared_size(name, "its JP2 header (ihdr image size)", height, width, bands)


def _read_fits_bytes(content: bytes, kind: str, name: str, notes: list):
    """A FITS / JP2 file through `fits.read_solar_image`, from a temporary copy
    (the reader needs a file name), after checking the sizes it declares.

    A .fits.gz is decompressed here, as far as its headers declare and no
    further, so that the reader sees a plain FITS file whose sizes are known
    to be within the limits.
    """
    from xml.etree.ElementTree import ParseError

    with tempfile.TemporaryDirectory() as folder:
        if kind == "jp2":
            _check_jp2(content, name)
            path = Path(folder) / "upload.jp2"
            path.write_bytes(content)
        else:
            path = Path(folder) / "upload.fits"
            with open(path, "wb") as sink:
                if content[:2] == b"\x1f\x8b":
                    try:
                        with gzip.GzipFile(fileobj=io.BytesIO(content)) as stream:
                            _scan_fits(stream, name, sink)
                    except (OSError, EOFError, zlib.error) as error:
                        raise InputError(
                            f"{name}: the gzip stream is corrupt or truncated "
                            f"({error})."
                        ) from None
                else:
                    _scan_fits(io.BytesIO(content), name, None)
                    sink.write(content)
        try:
            loaded = _read_fits_like(str(path), kind, notes)
        except InputError:
            raise
        except ParseError as error:
            raise InputError(
                f"{name}: the JP2 XML box (which holds the FITS header) is not "
                f"well-formed XML: {error}."
            ) from None
        except (OSError, ValueError) as error:
            message = str(error).replace(str(path), name)
            raise InputError(
                f"{name}: cannot read as {kind.upper()}: {message}"
            ) from None
    loaded.warnings = [note.replace(Path(path).name, name) for note in loaded.warnings]
    return loaded


# What a decoder (Pillow, OpenJPEG, astropy, zlib) raises on bytes it cannot
# make sense of; load_image reports these as a refusal of the file.
_DECODE_ERRORS = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    TypeError,
    KeyError,
    IndexError,
    OverflowError,
    struct.error,
    zlib.error,
)


def load_image(
    path, content: bytes | None = None, name: str | None = None
) -> LoadedImage:
    """Read one image file (from disk, or its bytes, e.g. an upload).

    Sizes are checked before decoding: the file's own size (at most
    `MAX_FILE_BYTES`) and the image size its header declares (at most
    `MAX_SIDE` a side and `MAX_VALUES` values).

    Args:
        path: file path (read when `content` is None).
        content: the file's bytes, when already in memory.
        name: name shown in messages (default: the path's name).

    Returns:
        A `LoadedImage`, rows top (north) first.

    Raises:
        InputError: not a supported or readable image, a bad shape, or a
            declared size beyond the limits; the message names the file and
            the field at fault.
    """
    name = name or Path(str(path)).name
    on_disk = content is None
    if on_disk:
        size = os.path.getsize(path)
        if size > MAX_FILE_BYTES:
            raise InputError(
                f"{name}: the file is {size / 2**20:,.0f} MiB; at most "
                f"{MAX_FILE_BYTES / 2**20:,.0f} MiB are read."
            )
        with open(path, "rb") as file:
            content = file.read()
    if not content:
        raise InputError(f"{name}: the file is empty.")
    kind = _kind_of(name, content)
    notes: list = []
    try:
        if kind == "picture":
            loaded = _read_picture(content, name, notes)
        elif kind == "array":
            loaded = _read_array(content, name, notes)
        else:
            loaded = _read_fits_bytes(content, kind, name, notes)
    except InputError:
        raise
    except MemoryError:
        raise InputError(
            f"{name}: decoding needs more memory than is free on this machine."
        ) from None
    except _DECODE_ERRORS as error:
        raise InputError(
            f"{name}: cannot read as {kind.upper()}: {type(error).__name__}: {error}"
        ) from None
    if loaded.solar_image is not None:
        geometry = loaded.solar_image.geometry
        loaded.data = _orient_fits(
            loaded.data[..., 0], geometry.rotation_deg if geometry else 0.0, notes
        )[..., None]
    height, width = loaded.data.shape[:2]
    if min(height, width) < 2 or max(height, width) > MAX_SIDE:
        raise InputError(
            f"{name}: image of {height}x{width} pixels; expected 2 to {MAX_SIDE} "
            "pixels a side."
        )
    if not np.isfinite(loaded.data).any():
        raise InputError(f"{name}: no finite pixel in the image.")
    return loaded


def nonfinite_fraction(
    loaded: LoadedImage, disk_radius_fraction: float | None = None
) -> float:
    """Fraction of the pixels on the solar disk that are missing (NaN or
    infinite).

    Where the disk is known, the fraction is that of its pixels, in the worst
    channel: the disk the FITS/JP2 header describes (`SolarImage.geometry`),
    or, for another image given to a full-disk model, the centred disk the
    model was trained on (`disk_radius_fraction` of the image side, as
    `DiskMask` has it). Off-limb NaN (as HMI writes) is then not counted.

    A patch without disk geometry cannot tell off-limb NaN from missing data,
    and a magnetogram patch at the limb (HMI's, the synthetic Sun's) has NaN
    off the limb beside finite EUV and continuum values. There a pixel counts
    as missing when no channel has a finite value at it, or any channel is
    infinite; a one-channel patch counts every NaN.

    Args:
        loaded: a `LoadedImage`.
        disk_radius_fraction: disk radius / image side of a full-disk model,
            None for patch models.

    Returns:
        float in [0, 1].

    Example:
        >>> nonfinite_fraction(LoadedImage(np.full((4, 4, 1), np.nan), "array"))
        1.0
    """
    image = loaded.solar_image
    if image is not None and image.geometry is not None:
        data = np.asarray(image.data)[..., None]
        on_disk = image.geometry.disk_mask(image.data.shape)
    else:
        data = loaded.data
        height, width = data.shape[:2]
        if not disk_radius_fraction:
            missing = ~np.isfinite(data).any(axis=-1) | np.isinf(data).any(axis=-1)
            return float(missing.mean())
        rows = (np.arange(height) + 0.5 - height / 2) / height
        cols = (np.arange(width) + 0.5 - width / 2) / width
        on_disk = rows[:, None] ** 2 + cols[None, :] ** 2 <= disk_radius_fraction**2
    if not on_disk.any():
        on_disk = np.ones(data.shape[:2], dtype=bool)
    missing = ~np.isfinite(data[on_disk])
    return float(missing.mean(axis=0).max())


# ------------------------------------------------------------ resampling ---


# ------------------------------------------------------------- the model ---


def _parse_channel_map(text: str, model_channels, file_channels: int | None) -> dict:
    """'a=0,b=mean' -> {"a": 0, "b": "mean"}, checked against both sides.

    Args:
        text: the map, NAME=SOURCE entries separated by commas.
        model_channels: the model's channel names.
        file_channels: channels of the file; None checks everything but the
            channel index range (a map checked once for a whole batch).

    Raises:
        InputError: an entry that is not NAME=SOURCE, an unknown name, a name
            given twice, a source out of range, or a model channel left out.
    """
    mapping, given = {}, {}
    for item in filter(None, (part.strip() for part in str(text).split(","))):
        if "=" not in item:
            raise InputError(
                f"channel map entry {item!r} is not NAME=SOURCE (SOURCE: a 0-based "
                "channel of the file, 'mean' or 'zero')."
            )
        name, source = (part.strip() for part in item.split("=", 1))
        if name not in model_channels:
            raise InputError(
                f"channel map names {name!r}; the model's channels are "
                f"{list(model_channels)}."
            )
        if name in given:
            # Taking the last value silently would forecast from a channel the
            # user may not have meant.
            raise InputError(
                f"channel map names {name!r} twice ({given[name]!r} and {item!r}); "
                "give each model channel one source."
            )
        given[name] = item
        if source.lstrip("-").isdigit():
            index = int(source)
            if index < 0:
                raise InputError(
                    f"channel map: {name}={index}; a channel index is 0 or more."
                )
            if file_channels is not None and index >= file_channels:
                raise InputError(
                    f"channel map: {name}={index}, but the file has {file_channels} "
                    f"channel(s) (0 to {file_channels - 1})."
                )
            mapping[name] = index
        elif source in ("mean", "zero"):
            mapping[name] = source
        else:
            raise InputError(
                f"channel map: source {source!r} for {name!r} is neither a channel "
                "index nor 'mean' / 'zero'."
            )
    missing = [name for name in model_channels if name not in mapping]
    if missing:
        raise InputError(
            f"channel map leaves model channel(s) {missing} without a source; "
            f"map every one of {list(model_channels)}."
        )
    return mapping


@dataclasses.dataclass
class Forecaster:
    """A trained run, ready to forecast from files.

    Build with `Forecaster.load(run_dir)`. Thread-safe: the model is called
    under a lock (the web server handles requests in threads).
    """

    run_dir: Path
    model: object
    config: dict
    metrics: dict
    channels: tuple
    input_shape: tuple
    task_kind: str
    event_threshold: str
    decision_threshold: float
    class_names: tuple
    unit: str
    disk_radius_fraction: float | None
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, run_dir) -> Forecaster:
        """Load a finished run folder (config.json, metrics.json, best.keras).

        Raises:
            FileNotFoundError: a missing file, naming it.
        """
        from flarekit.data import tasks
        from flarekit.experiments import load_run_model
        from flarekit.layers import DiskMask

        run_dir = Path(run_dir).resolve()
        config_path = run_dir / "config.json"
        if not config_path.is_file():
            raise FileNotFoundError(f"No config.json in {run_dir}: not a run folder.")
        config = json.loads(config_path.read_text())
        metrics_path = run_dir / "metrics.json"
        metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
        model = load_run_model(run_dir)
        settings = metrics.get("settings") or {}
        input_shape = tuple(int(v) for v in model.input_shape[1:])
        if len(input_shape) != 3:
            raise ValueError(
                f"{run_dir}: model input {model.input_shape}; forecasting from files "
                "needs a single-image model [H, W, C] (not a sequence model)."
            )
        channels = tuple(config.get("channels") or settings.get("channels") or ())
        if len(channels) != input_shape[-1]:
            channels = tuple(f"channel_{i}" for i in range(input_shape[-1]))
        headline = metrics.get("headline") or {}
        # metrics.json records the evaluation kind; without it, what the config's
        # task is scored as (a "sequence" task is scored as "binary").
        task_class = tasks.TASKS.get(config.get("task", "binary"))
        task_kind = metrics.get("task_kind") or (
            task_class.evaluation if task_class else config.get("task", "binary")
        )
        radius = next(
            (
                layer.radius_fraction
                for layer in model.layers
                if isinstance(layer, DiskMask) and layer.radius_fraction
            ),
            None,
        )
        unit = str(
            settings.get("unit")
            or (
                "full disk"
                if "full_disk" in str(config.get("dataset"))
                else "active-region patch"
            )
        )
        if radius is None and unit == "full disk":
            radius = 2 * DEFAULT_DISK_RADIUS_FRACTION
        class_names = tuple(metrics.get("class_names") or config.get("classes") or ())
        return cls(
            run_dir=run_dir,
            model=model,
            config=config,
            metrics=metrics,
            channels=channels,
            input_shape=input_shape,
            task_kind=task_kind,
            event_threshold=str(
                config.get("threshold") or settings.get("threshold") or ""
            ),
            decision_threshold=float(headline.get("decision_threshold") or 0.5),
            class_names=class_names,
            unit=unit,
            disk_radius_fraction=None if radius is None else radius / 2.0,
        )

    # -- inputs -------------------------------------------------------------

    def _fill_values(self) -> np.ndarray:
        """Raw values that the model's normalisation maps to 0 (training means)."""
        from flarekit.interpret import split_preprocessing
        from flarekit.layers import ChannelNormalization, invert_preprocessing

        preprocess, _ = split_preprocessing(self.model)
        layers = [] if preprocess is None else preprocess.layers[1:]
        if not any(isinstance(layer, ChannelNormalization) for layer in layers):
            raise InputError(
                "channel map source 'mean' needs a model with ChannelNormalization; "
                "this one has none: use 'zero'."
            )
        zeros = np.zeros((1, len(self.channels)), dtype=np.float32)
        return np.asarray(invert_preprocessing(layers, zeros))[0]

    def prepare(
        self, loaded: LoadedImage, channel_map: str | None = None, name: str = "image"
    ) -> tuple:
        """(model input [H, W, C] float32, warnings): channels mapped, resampled.

        Raises:
            InputError: the channels do not fit the model and no map says how.
        """
        notes = list(loaded.warnings)
        height, width, channels = self.input_shape
        data = loaded.data
        if loaded.full_disk and self.unit != "full disk":
            notes.append(
                f"full-disk image, but the model was trained on {self.unit} images: "
                "the forecast is out of distribution"
            )
        if loaded.kind in ("picture", "jp2") and "synthetic" in str(
            self.config.get("dataset")
        ):
            notes.append(
                "the model was trained on physical units (G, DN/s) of the "
                "synthetic Sun: this forecast is not calibrated"
            )
        data = self._resize(loaded, notes)
        file_channels = data.shape[-1]
        if channel_map:
            mapping = _parse_channel_map(channel_map, self.channels, file_channels)
            fills = None
            columns = []
            for index, name_ in enumerate(self.channels):
                source = mapping[name_]
                if isinstance(source, int):
                    columns.append(data[..., source])
                    continue
                if source == "mean":
                    fills = self._fill_values() if fills is None else fills
                value = float(fills[index]) if source == "mean" else 0.0
                columns.append(np.full((height, width), value, dtype=np.float32))
                notes.append(f"channel {name_} filled with {source} ({value:.4g})")
            data = np.stack(columns, axis=-1)
        elif file_channels != channels:
            hints = [h for h in loaded.channel_hints if h]
            hint = f" (its header says {', '.join(hints)})" if hints else ""
            # Suggest the file's channel 0 for the channel its header names.
            target = next((h for h in hints if h in self.channels), self.channels[0])
            example = ",".join(
                f"{c}={'0' if c == target else 'mean'}" for c in self.channels
            )
            raise InputError(
                f"{name}: the model needs {channels} channel(s) "
                f"{list(self.channels)}; the file has {file_channels}{hint}. Give a "
                f"channel map saying where each comes from, e.g. --channel-map "
                f"{example!r} ('mean' fills a channel with its training mean)."
            )
        return data.astype(np.float32), notes

    def _resize(self, loaded: LoadedImage, notes: list) -> np.ndarray:
        from flarekit.data import fits

        height, width, _ = self.input_shape
        image = loaded.solar_image
        if loaded.full_disk and self.unit == "full disk" and image is not None:
            fraction = self.disk_radius_fraction or DEFAULT_DISK_RADIUS_FRACTION
            margin = 1.0 / (2.0 * fraction) - 1.0
            resampled = fits.resample_disk(image, height, margin=margin)
            notes.append(
                f"disk centred and scaled to radius {resampled.geometry.radius:.1f} px "
                f"(from {image.geometry.radius:.1f} px)"
            )
            geometry = image.geometry
            data = _orient_fits(resampled.data, geometry.rotation_deg, [])
            return resample(data[..., None], height, width)
        source_height, source_width = loaded.data.shape[:2]
        if abs(source_height / source_width - height / width) > 0.05 * height / width:
            notes.append(
                f"aspect ratio changed: {source_height}x{source_width} stretched to "
                f"{height}x{width}"
            )
        if height > 2 * source_height or width > 2 * source_width:
            notes.append(f"upsampled from {source_height}x{source_width}")
        elif (source_height, source_width) != (height, width):
            notes.append(
                f"resampled from {source_height}x{source_width} to {height}x{width}"
            )
        return resample(loaded.data, height, width)

    # -- forecasts ----------------------------------------------------------

    def predict_inputs(self, inputs: np.ndarray) -> np.ndarray:
        """Model outputs for prepared inputs [B, H, W, C] (under the lock)."""
        with self.lock:
            outputs = self.model(np.asarray(inputs, dtype=np.float32), training=False)
        return np.asarray(outputs, dtype=np.float64)

    def describe(self, output: np.ndarray) -> dict:
        """probability, class and threshold of one output row."""
        from flarekit.data import goes

        output = np.asarray(output, dtype=np.float64).ravel()
        if self.task_kind == "binary":
            probability = float(output[0])
            event = f">= {self.event_threshold}" if self.event_threshold else "event"
            label = (
                f"flare {event}"
                if probability >= self.decision_threshold
                else (f"no flare {event}")
            )
            return {
                "probability": probability,
                "class": label,
                "threshold": self.decision_threshold,
            }
        if self.task_kind == "multiclass":
            index = int(np.argmax(output))
            names = self.class_names or tuple(str(i) for i in range(len(output)))
            return {
                "probability": float(output[index]),
                "class": names[index],
                "threshold": "most probable class",
                "probabilities": dict(zip(names, output.tolist())),
            }
        flux = float(10.0 ** output[0])
        return {
            "probability": float("nan"),
            "class": goes.flux_to_class(flux),
            "threshold": "predicted peak flux",
            "log_flux": float(output[0]),
        }

    def nonfinite_fraction(self, loaded: LoadedImage) -> float:
        """Fraction of non-finite on-disk pixels of a file, with the disk this
        model was trained on (see `nonfinite_fraction`)."""
        radius = None
        if self.unit == "full disk":
            radius = self.disk_radius_fraction or DEFAULT_DISK_RADIUS_FRACTION
        return nonfinite_fraction(loaded, radius)

    def forecast_file(
        self,
        path,
        channel_map: str | None = None,
        content: bytes | None = None,
        name: str | None = None,
        max_nonfinite_fraction: float = DEFAULT_MAX_NONFINITE_FRACTION,
    ) -> dict:
        """One CSV row for one file; refusals are returned in the row, not raised.

        Args:
            path: the file (or, with `content`, the name it is reported under).
            channel_map: see the module docstring.
            content: the file's bytes, when already in memory (an upload).
            name: name shown in messages (default: the path's name).
            max_nonfinite_fraction: largest fraction of NaN / infinite pixels
                on the solar disk that is forecast from (see `nonfinite_fraction`).

        Returns:
            dict with path, status ("ok" or "refused: REASON"), probability,
            class, threshold, nonfinite_fraction (NaN when the pixels could not
            be read), model_run, warnings ("; "-joined), seconds (read +
            prepare + model) and error (the reason, "" when fine); `input`
            holds the prepared array when there was no error.
        """
        started = time.perf_counter()
        name = name or Path(str(path)).name
        row = {
            "path": str(path),
            "status": "ok",
            "probability": float("nan"),
            "class": "",
            "threshold": "",
            "nonfinite_fraction": float("nan"),
            "model_run": str(self.run_dir),
            "warnings": "",
            "seconds": float("nan"),
            "error": "",
        }
        try:
            loaded = load_image(path, content=content, name=name)
            fraction = self.nonfinite_fraction(loaded)
            row["nonfinite_fraction"] = fraction
            on_disk = self.unit == "full disk" or (
                loaded.solar_image is not None
                and loaded.solar_image.geometry is not None
            )
            where = "on the solar disk" if on_disk else "in the image"
            if fraction > max_nonfinite_fraction:
                raise InputError(
                    f"{name}: {fraction:.1%} of the pixels {where} are NaN or "
                    f"infinite (pixel data); at most "
                    f"{max_nonfinite_fraction:.1%} are accepted (--max-nonfinite). "
                    "The model would fill them with a constant and still give a "
                    "probability."
                )
            inputs, notes = self.prepare(loaded, channel_map, name)
            if fraction > 0:
                notes.append(
                    f"{fraction:.2%} of the pixels {where} are NaN or infinite "
                    "(missing data)"
                )
            row.update(self.describe(self.predict_inputs(inputs[None])[0]))
            row["warnings"] = "; ".join(notes)
            row["input"] = inputs
        except InputError as error:
            row["error"] = str(error)
            row["status"] = f"refused: {error}"
        row["seconds"] = time.perf_counter() - started
        return row

    def card(self) -> dict:
        """The model card: what the model is, how it scored, on what setting."""
        return model_card(self)


def model_card(forecaster: Forecaster) -> dict:
    """Model card of a run, from config.json and metrics.json (settings, scores).

    Returns:
        dict with "title", "rows" [(field, value)] and "scores" [(name, value
        with interval)], "caveats" [str].
    """
    from flarekit.metrics.aggregate import format_interval, format_number

    config, metrics = forecaster.config, forecaster.metrics
    settings = metrics.get("settings") or {}
    test_set = metrics.get("test_set") or {}
    base_rates = metrics.get("base_rates") or {}
    split = settings.get("split") if isinstance(settings.get("split"), dict) else {}
    rows = [
        ("experiment", settings.get("experiment") or forecaster.run_dir.parent.name),
        ("run", forecaster.run_dir.name),
        (
            "task",
            f"{forecaster.task_kind}"
            + (
                f", event = flare >= {forecaster.event_threshold}"
                if forecaster.task_kind == "binary"
                else ""
            ),
        ),
        ("horizon", f"{settings.get('horizon_hours', 'not stated')} h"),
        ("unit", forecaster.unit),
        ("dataset", f"{config.get('dataset')} v{settings.get('dataset_version', '?')}"),
        (
            "input",
            (
                f"{forecaster.input_shape[0]}x{forecaster.input_shape[1]} pixels, "
                f"channels {', '.join(forecaster.channels)}"
            ),
        ),
        ("flux scale", settings.get("flux_scale", "not stated")),
        (
            "split",
            (
                f"{split.get('method', 'not stated')}, gap "
                f"{settings.get('gap_days', 'not stated')} days"
            ),
        ),
        (
            "test set",
            (
                f"{test_set.get('n_samples', '?')} samples, "
                f"{test_set.get('n_regions', '?')} regions, sha256 "
                f"{str(test_set.get('hash', 'n/a'))[:12]}"
            ),
        ),
        ("test base rate", format_number(base_rates.get("test"), 4)),
        (
            "decision threshold",
            (
                f"{forecaster.decision_threshold:.4g} "
                f"({(metrics.get('headline') or {}).get('threshold_source', 'default')})"
            ),
        ),
    ]
    scores = []
    headline = metrics.get("headline") or {}
    model_entry = (metrics.get("forecasters") or {}).get("model") or {}
    source = headline.get("threshold_source", "default")
    intervals = (
        (model_entry.get("intervals") or {}).get(f"at_{source}")
        or model_entry.get("intervals")
        or {}
    )
    for key, title in (
        ("tss", "TSS"),
        ("hss2", "HSS2"),
        ("false_alarm_ratio", "false-alarm ratio"),
        ("precision", "precision"),
        ("pod", "POD"),
        ("bss", "BSS"),
        ("roc_auc", "ROC AUC"),
        ("accuracy", "accuracy"),
        ("macro_f1", "macro-F1"),
        ("gms", "GMS"),
        ("mae", "MAE log flux"),
        ("rmse", "RMSE log flux"),
    ):
        if key in headline:
            interval = intervals.get(key) if isinstance(intervals, dict) else None
            if key == "bss":
                interval = (model_entry.get("intervals") or {}).get("bss")
            scores.append((title, format_interval(headline[key], interval)))
    caveats = []
    if settings.get("smoke") or config.get("smoke"):
        caveats.append(
            "Smoke run: a CI-sized model trained for seconds; its "
            "forecasts demonstrate the pipeline, not skill."
        )
    if "synthetic" in str(config.get("dataset")):
        caveats.append(
            "Trained on the synthetic Sun: real SDO images are out of "
            "distribution, so forecasts from them are not calibrated."
        )
    if settings.get("allow_leakage"):
        caveats.append("allow_leakage=True: scores are inflated (random split).")
    return {
        "title": f"{rows[0][1]} ({forecaster.run_dir.name})",
        "rows": rows,
        "scores": scores,
        "caveats": caveats,
        "report": str(forecaster.run_dir / "report.md"),
    }


def expand_paths(paths) -> tuple:
    """Files to forecast from: files as given, folders searched for supported
    files (sorted, not recursive). Returns (files, skipped) where skipped lists
    folder entries that are not supported image files."""
    files, skipped = [], []
    for path in map(Path, paths):
        if path.is_dir():
            for entry in sorted(path.iterdir()):
                if entry.is_file() and _suffix(entry.name) in SUPPORTED:
                    files.append(entry)
                elif entry.is_file():
                    skipped.append(entry)
        else:
            files.append(path)
    return files, skipped


def predict_files(
    run_dir,
    paths,
    channel_map: str | None = None,
    output=None,
    max_nonfinite_fraction: float = DEFAULT_MAX_NONFINITE_FRACTION,
    forecaster: Forecaster | None = None,
):
    """Forecast every file (folders expanded) and write a CSV with one row per
    file: a file that cannot be forecast from gets a row with status
    "refused: REASON" and the batch goes on.

    Args:
        run_dir: a finished run folder.
        paths: files and folders.
        channel_map: see the module docstring; checked once, before any file.
        output: CSV path (default: predictions_<UTC time>.csv in the working folder).
        max_nonfinite_fraction: see `Forecaster.forecast_file`.
        forecaster: an already loaded `Forecaster` of `run_dir` (loaded when None).

    Returns:
        (DataFrame of rows, CSV path, skipped folder entries).

    Raises:
        InputError: a channel map that no file could satisfy (malformed, an
            unknown or repeated channel name, a channel left out), or a
            fraction outside [0, 1].
    """
    import datetime
    import traceback

    import pandas as pd

    from flarekit.io import write_csv_atomic

    if not 0.0 <= float(max_nonfinite_fraction) <= 1.0:
        raise InputError(
            f"--max-nonfinite {max_nonfinite_fraction}: expected a fraction from 0 "
            "to 1 (0.05 = 5 % of the on-disk pixels)."
        )
    forecaster = forecaster or Forecaster.load(run_dir)
    if channel_map:
        _parse_channel_map(channel_map, forecaster.channels, None)
    files, skipped = expand_paths(paths)
    rows = []
    for path in files:
        if not path.is_file():
            reason = f"{path}: no such file"
            rows.append(
                {
                    "path": str(path),
                    "status": f"refused: {reason}",
                    "model_run": str(forecaster.run_dir),
                }
            )
            continue
        try:
            row = forecaster.forecast_file(
                path, channel_map, max_nonfinite_fraction=max_nonfinite_fraction
            )
        except Exception as error:  # noqa: BLE001 (one file must not end the batch)
            # Not a refusal of the file but a failure in flarekit or a library:
            # kept apart ("failed") and its traceback printed, so it is reported.
            traceback.print_exc()
            row = {
                "path": str(path),
                "status": f"failed: {path.name}: {type(error).__name__}: {error}",
                "model_run": str(forecaster.run_dir),
            }
        for key in ("input", "probabilities", "error"):
            row.pop(key, None)
        rows.append(row)
    frame = pd.DataFrame(rows) if rows else pd.DataFrame(columns=list(CSV_COLUMNS))
    for column in CSV_COLUMNS:
        if column not in frame:
            frame[column] = ""
    frame = frame[
        list(CSV_COLUMNS) + [c for c in frame.columns if c not in CSV_COLUMNS]
    ]
    if output is None:
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
        output = Path(os.getcwd()) / f"predictions_{stamp}.csv"
    write_csv_atomic(output, frame)
    return frame, Path(output), skipped
