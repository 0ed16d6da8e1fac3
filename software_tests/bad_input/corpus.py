"""The bad-input corpus: tiny broken files, written on demand (no binaries in git).

    python software_tests/bad_input/corpus.py OUTPUT_FOLDER

writes every case into OUTPUT_FOLDER; the tests call `write_corpus(tmp_path)`.
Each file is the smallest thing that shows one way real inputs break.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

# A SHARP record: HARP 377 at 2011-02-15 00:00 TAI (file names as JSOC writes them).
SHARP_RECORD = "hmi.sharp_cea_720s.377.20110215_000000_TAI"

# SWPC-layout flare list: one good row, then rows as real lists break them.
EVENTS_CSV = """start_time,max_time,end_time,goes_class,noaa_ar,goes_sat
2011-02-15 01:44:00,01:56,02:06,X2.2,11158,G15
2011-02-15 00:91:00,01:00,01:10,M1.0,11158,G15
2011-02-16 01:32:00,99:99,01:50,M1.1,11158,G15
,01:00,01:10,C1.0,11158,G15
2011-02-18 10:00:00,10:10,10:20,Q5.0,11162,G15
2011-02-18 11:00:00,11:10,11:20,flare,11162,G15
2011-02-18 12:00:00,12:10,12:20,,11162,G15
"""


def _fits(path: Path, data) -> Path:
    from astropy.io import fits

    hdu = fits.PrimaryHDU(data)
    hdu.writeto(path, overwrite=True)
    return path


def write_corpus(folder) -> dict:
    """Write every broken input into `folder`.

    Returns:
        {case name: path} for the file cases.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    image = np.arange(64, dtype=np.float32).reshape(8, 8)
    good = _fits(folder / "good.fits", image)
    whole = good.read_bytes()
    cases = {"good_fits": good}

    # One 2880-byte header block and 100 bytes of a 256-byte data block.
    cases["truncated_fits"] = folder / "truncated.fits"
    cases["truncated_fits"].write_bytes(whole[: 2880 + 100])
    corrupted = bytearray(whole)
    corrupted[:80] = b"NOT A FITS FILE".ljust(80)
    cases["corrupted_fits"] = folder / "corrupted.fits"
    cases["corrupted_fits"].write_bytes(bytes(corrupted))
    cases["fits_no_data"] = _fits(folder / "no_data.fits", None)
    cases["all_nan_fits"] = _fits(folder / "all_nan.fits", np.full((8, 8), np.nan, np.float32))
    cases["cube_fits"] = _fits(folder / "cube.fits", np.zeros((3, 8, 8), np.float32))

    # A SHARP record with its Bt segment missing.
    sharp = folder / "sharp"
    sharp.mkdir(exist_ok=True)
    for segment in ("Br", "Bp"):
        _fits(sharp / f"{SHARP_RECORD}.{segment}.fits", image)
    cases["sharp_missing_segment"] = sharp

    from PIL import Image

    jpeg = folder / "2015-03-11T000000__171.jpg"
    Image.fromarray(np.tile(np.arange(32, dtype=np.uint8) * 8, (32, 1))).save(jpeg)
    cases["truncated_jpeg"] = folder / "truncated.jpg"
    cases["truncated_jpeg"].write_bytes(jpeg.read_bytes()[: len(jpeg.read_bytes()) // 2])

    cases["event_list"] = folder / "flare_events.csv"
    cases["event_list"].write_text(EVENTS_CSV)
    return cases


if __name__ == "__main__":
    for name, path in write_corpus(sys.argv[1] if len(sys.argv) > 1 else "bad_input").items():
        print(f"{name}: {path}")
