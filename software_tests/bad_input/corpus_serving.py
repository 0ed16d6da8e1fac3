"""Hostile and broken inputs for `flarekit predict` / `flarekit serve`, written on
demand (no binaries in git), and a tiny trained-looking run to forecast with.

    python software_tests/bad_input/corpus_serving.py OUTPUT_FOLDER

writes every case into OUTPUT_FOLDER; the tests call `write_corpus(folder)` and
`write_tiny_run(folder)`. Each file is the smallest thing that shows one way an
input breaks a reader: bombs that declare a huge image in a few bytes, headers
whose size fields lie, pixels that are mostly missing.
"""

from __future__ import annotations

import io
import json
import struct
import sys
import zlib
from pathlib import Path

import numpy as np

# The tiny model: a full-disk model of one channel at 16x16 pixels, disk radius
# 0.45 of the side (DiskMask radius_fraction 0.9), as the synthetic Sun has it.
TINY_SIDE = 16
TINY_CHANNELS = ("euv_171",)
# Side of the decompression bombs: 12000x12000 one-byte pixels is 144 MB
# decoded (576 MB as float32) from about 140 kB of gzip / PNG.
BOMB_SIDE = 12000
# A full-disk FITS image: 32x32 pixels, disk radius 10 pixels (RSUN_OBS /
# CDELT1 = 600 / 60) centred at pixel (15.5, 15.5).
DISK_SIDE = 32
DISK_HEADER = {
    "CTYPE1": "HPLN-TAN",
    "CTYPE2": "HPLT-TAN",
    "CUNIT1": "arcsec",
    "CUNIT2": "arcsec",
    "CDELT1": 60.0,
    "CDELT2": 60.0,
    "CRPIX1": 16.5,
    "CRPIX2": 16.5,
    "CRVAL1": 0.0,
    "CRVAL2": 0.0,
    "RSUN_OBS": 600.0,
    "TELESCOP": "SDO/AIA",
    "INSTRUME": "AIA_3",
    "WAVELNTH": 171,
    "BUNIT": "DN/s",
}


def write_tiny_run(folder) -> Path:
    """A finished-looking run folder (config.json, metrics.json,
    checkpoints/best.keras) with a tiny untrained CNN: what `Forecaster.load`
    reads, in a second instead of a training run.

    Returns:
        The run folder.
    """
    import keras

    from flarekit.layers import ChannelNormalization, DiskMask

    keras.utils.set_random_seed(0)
    run = Path(folder) / "tiny_full_disk" / "20260101T000000Z"
    (run / "checkpoints").mkdir(parents=True, exist_ok=True)
    inputs = keras.Input((TINY_SIDE, TINY_SIDE, len(TINY_CHANNELS)), name="image")
    x = DiskMask(fill_value=0.0, radius_fraction=0.9)(inputs)
    x = ChannelNormalization(mean=[100.0], std=[50.0])(x)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(1, activation="sigmoid")(x)
    keras.Model(inputs, outputs).save(run / "checkpoints" / "best.keras")
    config = {
        "dataset": "synthetic_sun/full_disk_smoke",
        "channels": list(TINY_CHANNELS),
        "task": "binary",
        "threshold": "M1.0",
    }
    metrics = {
        "task_kind": "binary",
        "headline": {"decision_threshold": 0.5, "tss": 0.25},
        "settings": {"experiment": "tiny_full_disk", "horizon_hours": 24},
    }
    (run / "config.json").write_text(json.dumps(config))
    (run / "metrics.json").write_text(json.dumps(metrics))
    return run


def disk_image(side: int = DISK_SIDE, radius: float = 10.0) -> np.ndarray:
    """A limb-darkened disk (default radius 10 px) centred on a 32x32 frame,
    NaN off the limb (as HMI writes); values about 100 DN/s."""
    rows, cols = np.mgrid[:side, :side]
    centre = (side - 1) / 2
    distance = np.hypot(cols - centre, rows - centre) / radius
    image = 60.0 + 80.0 * np.sqrt(np.clip(1.0 - distance**2, 0.0, 1.0))
    return np.where(distance <= 1.0, image, np.nan).astype(np.float32)


def on_disk_mask(side: int = DISK_SIDE) -> np.ndarray:
    rows, cols = np.mgrid[:side, :side]
    return np.hypot(cols - 15.5, rows - 15.5) <= 10.0


def _fits_bytes(data, header=None) -> bytes:
    from astropy.io import fits

    buffer = io.BytesIO()
    hdu = fits.PrimaryHDU(data)
    for key, value in (header or {}).items():
        hdu.header[key] = value
    hdu.writeto(buffer)
    return buffer.getvalue()


def fits_header_only(cards: dict) -> bytes:
    """A FITS primary header with exactly these cards (no data): the cards are
    written verbatim, so they may say what astropy would refuse to write."""
    lines = [f"{'SIMPLE':<8}= {'T':>20}"]
    lines += [f"{key:<8}= {value:>20}" for key, value in cards.items()]
    lines.append("END")
    text = "".join(line.ljust(80) for line in lines)
    return text.ljust(-(-len(text) // 2880) * 2880).encode("ascii")


def gzip_bomb_fits(side: int = BOMB_SIDE) -> bytes:
    """A .fits.gz of a side x side BITPIX = 8 image of zeros: about 140 kB that
    gunzip to side**2 bytes (144 MB at 12000)."""
    header = fits_header_only({"BITPIX": 8, "NAXIS": 2, "NAXIS1": side, "NAXIS2": side})
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    pieces = [compressor.compress(header)]
    zeros = bytes(side * 256)
    remaining = side * side
    while remaining > 0:
        piece = zeros[: min(len(zeros), remaining)]
        pieces.append(compressor.compress(piece))
        remaining -= len(piece)
    pieces.append(compressor.compress(bytes(-(side * side) % 2880)))
    pieces.append(compressor.flush())
    return b"".join(pieces)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    )


def png_bomb(side: int = BOMB_SIDE) -> bytes:
    """A grey PNG of side x side zeros: about 140 kB that decode to side**2
    bytes (a PNG decompression bomb)."""
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    compressor = zlib.compressobj(9)
    row = bytes(side + 1)  # filter byte 0, then the pixels
    rows_per_piece = 256
    pieces = []
    for start in range(0, side, rows_per_piece):
        pieces.append(compressor.compress(row * min(rows_per_piece, side - start)))
    pieces.append(compressor.flush())
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", b"".join(pieces))
        + _png_chunk(b"IEND", b"")
    )


def npy_header_only(shape, descr: str = "<f4") -> bytes:
    """A .npy file whose header declares `shape` of `descr` and holds 64 bytes
    of data (192 bytes in all for (400000, 400000): 596 GiB declared)."""
    from numpy.lib import format as npy_format

    buffer = io.BytesIO()
    npy_format.write_array_header_1_0(
        buffer, {"descr": descr, "fortran_order": False, "shape": tuple(shape)}
    )
    return buffer.getvalue() + bytes(64)


def jp2_with_xml(xml: bytes | None, side: int = 16) -> bytes:
    """A JPEG 2000 (JP2) file of side x side grey pixels, with an XML box
    holding `xml` (a Helioviewer-style FITS header) after the header box."""
    from PIL import Image

    buffer = io.BytesIO()
    pixels = (np.arange(side * side) % 200).reshape(side, side).astype(np.uint8)
    Image.fromarray(pixels).save(buffer, format="JPEG2000", no_jp2=False)
    content = buffer.getvalue()
    if xml is None:
        return content
    # Boxes: signature (12 bytes), ftyp, jp2h, ...; the XML box goes after jp2h.
    offset = 0
    while offset + 8 <= len(content):
        length, kind = struct.unpack(">I4s", content[offset : offset + 8])
        offset += length
        if kind == b"jp2h":
            break
    box = struct.pack(">I4s", 8 + len(xml), b"xml ") + xml
    return content[:offset] + box + content[offset:]


def jp2_declaring(side: int) -> bytes:
    """A JP2 file whose image header box (ihdr) declares side x side pixels
    while its codestream holds 16x16."""
    content = bytearray(jp2_with_xml(None))
    index = content.index(b"ihdr")
    content[index + 4 : index + 12] = struct.pack(">II", side, side)
    return bytes(content)


def helioviewer_xml(side: int = 16) -> bytes:
    return (
        "<?xml version='1.0' encoding='utf-8'?><meta><fits>"
        f"<NAXIS1>{side}</NAXIS1><NAXIS2>{side}</NAXIS2>"
        "<TELESCOP>SDO/AIA</TELESCOP><INSTRUME>AIA_3</INSTRUME>"
        "<WAVELNTH>171</WAVELNTH></fits></meta>"
    ).encode()


def write_corpus(folder) -> dict:
    """Write every case into `folder`.

    Returns:
        {case name: path}: good files (`good_*`) and one file per bad case.
    """
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = {}

    def put(case: str, name: str, content: bytes) -> None:
        files[case] = folder / name
        files[case].write_bytes(content)

    disk = disk_image()
    inside = on_disk_mask()
    # -- good files (each batch holds some, and they must still be forecast)
    put("good_fits", "good_disk.fits", _fits_bytes(disk, DISK_HEADER))
    # A rendered full-disk array (row 0 north), its disk as large as the
    # model's: 0.45 of the side.
    rendered = disk_image(radius=0.45 * DISK_SIDE)
    put("good_npy", "good_disk.npy", _npy(rendered[..., None]))
    grey = np.nan_to_num(disk, nan=0.0).astype(np.uint8)
    put("good_png", "good_disk.png", _png(Image.fromarray(grey)))
    # -- declared sizes beyond the limits
    put("png_bomb", "bomb.png", png_bomb())
    put("png_too_wide", "too_wide.png", _png(Image.new("L", (9000, 4))))
    put("npy_596_gib", "huge_header.npy", npy_header_only((400000, 400000)))
    put("npy_many_channels", "many_channels.npy", npy_header_only((4096, 4096, 64)))
    put("fits_gz_bomb", "bomb.fits.gz", gzip_bomb_fits())
    put(
        "fits_declares_huge",
        "declares_huge.fits",
        fits_header_only(
            {"BITPIX": -32, "NAXIS": 2, "NAXIS1": 100000, "NAXIS2": 100000}
        ),
    )
    put(
        "fits_cube_too_many_values",
        "cube_too_many.fits",
        fits_header_only(
            {"BITPIX": 8, "NAXIS": 3, "NAXIS1": 4096, "NAXIS2": 4096, "NAXIS3": 64}
        ),
    )
    put("jp2_declares_huge", "declares_huge.jp2", jp2_declaring(9000))
    # -- malformed headers and streams
    put(
        "jp2_broken_xml",
        "broken_xml.jp2",
        jp2_with_xml(b"<?xml version='1.0'?><meta><fits><NAXIS1>16</NAXIS1><BROK"),
    )
    put(
        "fits_bad_bitpix",
        "bad_bitpix.fits",
        fits_header_only({"BITPIX": 12, "NAXIS": 2, "NAXIS1": 8, "NAXIS2": 8}),
    )
    put(
        "fits_negative_naxis",
        "negative_naxis.fits",
        fits_header_only({"BITPIX": 8, "NAXIS": 2, "NAXIS1": -8, "NAXIS2": 8}),
    )
    put(
        "fits_text_naxis",
        "text_naxis.fits",
        fits_header_only({"BITPIX": 8, "NAXIS": 2, "NAXIS1": 8, "NAXIS2": "'eight'"}),
    )
    whole = _fits_bytes(disk, DISK_HEADER)
    put("fits_truncated", "truncated.fits", whole[: 2880 + 100])
    good_gz = _gzip(whole)
    put(
        "fits_gz_corrupt", "corrupt.fits.gz", good_gz[:30] + b"\x00" * 40 + good_gz[70:]
    )
    put("npy_truncated", "truncated.npy", _npy(np.ones((16, 16), np.float32))[:-100])
    put("npy_complex", "complex.npy", _npy(np.ones((16, 16), np.complex64) * (1 + 2j)))
    put("npy_object", "object.npy", _npy(np.array([[{"a": 1}]], dtype=object), True))
    put("npy_4d", "four_d.npy", _npy(np.zeros((2, 16, 16, 1), np.float32)))
    put("png_truncated", "truncated.png", _png(Image.fromarray(grey))[:60])
    put("empty", "empty.fits", b"")
    # -- pixels that are mostly missing (full disk, the disk from the header)
    one = np.full_like(disk, np.nan)
    one[15, 15] = 100.0
    put("fits_one_finite_pixel", "one_finite_pixel.fits", _fits_bytes(one, DISK_HEADER))
    plus_inf = np.where(inside, np.inf, 0.0).astype(np.float32)
    put("fits_all_inf_on_disk", "all_inf.fits", _fits_bytes(plus_inf, DISK_HEADER))
    put(
        "fits_nan_band_47",
        "nan_band_47.fits",
        _fits_bytes(_nan_band(disk, 0.47), DISK_HEADER),
    )
    put(
        "fits_nan_band_3",
        "nan_band_3.fits",
        _fits_bytes(_nan_band(disk, 0.03), DISK_HEADER),
    )
    half = rendered.copy()
    half[: DISK_SIDE // 2] = np.nan
    put("npy_half_nan", "half_nan.npy", _npy(half[..., None]))
    return files


def _nan_band(disk: np.ndarray, fraction: float) -> np.ndarray:
    """`disk` with NaN in the first `fraction` of its on-disk pixels (floor),
    in raster order: a band across the disk from its bottom edge."""
    rows, cols = np.nonzero(on_disk_mask(disk.shape[0]))
    count = int(fraction * len(rows))
    band = disk.copy()
    band[rows[:count], cols[:count]] = np.nan
    return band


def _npy(array, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def _png(picture) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def _gzip(content: bytes) -> bytes:
    import gzip

    return gzip.compress(content)


if __name__ == "__main__":
    for case, path in write_corpus(sys.argv[1]).items():
        print(f"{case}: {path} ({path.stat().st_size} bytes)")
