"""`flarekit.data.fits_decode`: FITS images decoded by TensorFlow ops, pixel for
pixel as astropy reads them, with astropy as the route for everything else."""

import gzip
import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from astropy.io import fits

from flarekit.data import fits_decode

# Packages whose wheels ship real FITS files (test data) in this environment.
PACKAGES = ("sunpy", "sunkit_image", "sunkit_instruments", "astropy", "reproject")
TINY = np.finfo(np.float32).tiny


def _shipped_fits_files():
    files = []
    for package in PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        root = Path(next(iter(spec.submodule_search_locations)))
        files += [path for path in root.rglob("*") if path.is_file() and any(
            part in path.name.lower() for part in (".fits", ".fts", ".fit"))]
    return sorted(files)


def _first_image(path):
    """(HDU index, HDU class name, NAXIS, byte where its data starts) of
    astropy's first image with data."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with fits.open(path, memmap=False) as hdul:
                for index, item in enumerate(hdul):
                    naxis = item.header.get("NAXIS", 0)
                    if item.is_image and naxis and item.data is not None:
                        return (index, type(item).__name__, naxis,
                                hdul.fileinfo(index)["datLoc"])
        except Exception:  # not FITS, or a compression astropy lacks  # noqa: BLE001
            return None
    return None


def _assert_same(found, expected):
    # TensorFlow flushes float32 subnormals to zero; astropy keeps them.
    expected = np.where(np.abs(expected) < TINY, np.float32(0), expected)
    assert found.shape == expected.shape
    np.testing.assert_array_equal(found, expected)


def test_every_shipped_image_decodes_like_astropy_on_the_right_route():
    routes = {"tensorflow": [], "astropy": []}
    for path in _shipped_fits_files():
        found = _first_image(path)
        if found is None:
            continue
        index, kind, ndim, data_start = found
        gzipped = path.read_bytes()[:2] == b"\x1f\x8b"
        # Headers (the primary's and the image extension's) longer than the
        # search bound go to astropy too.
        short = data_start <= fits_decode.MAX_HEADER_BLOCKS * fits_decode.FITS_BLOCK
        uncompressed = (not gzipped and kind in ("PrimaryHDU", "ImageHDU") and index <= 1
                        and short)
        route = "tensorflow" if fits_decode.decodes_in_tensorflow(path, ndim) else "astropy"
        assert route == ("tensorflow" if uncompressed else "astropy"), (path, kind, index)
        expected = fits_decode.read_with_astropy(str(path), ndim)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _assert_same(fits_decode.read_fits_image(str(path), ndim).numpy(), expected)
        routes[route].append(path.name)
    # sunpy's AIA, EIT and HMI files and astropy's RICE/GZIP/PLIO/HCOMPRESS
    # ones, at least, are here: an empty walk must not pass.
    assert {"aia_171_level1.fits", "efz20040301.000010_s.fits",
            "resampled_hmi.fits"} <= set(routes["tensorflow"])
    assert {"m13_rice.fits", "gzip_test.fits.gz"} <= set(routes["astropy"])
    assert len(routes["tensorflow"]) >= 30 and len(routes["astropy"]) >= 8


def _write(path, header_cards, raw, pad=True):
    """A FITS file from header cards and the data's big-endian bytes, as written."""
    header = fits.Header()
    for key, value in header_cards:
        header[key] = value
    data = raw.astype(raw.dtype.newbyteorder(">")).tobytes()
    if pad:
        data += b"\0" * (-len(data) % fits_decode.FITS_BLOCK)
    path.write_bytes(header.tostring().encode("ascii") + data)
    return str(path)


def _image_cards(bitpix, shape, extra=()):
    cards = [("SIMPLE", True), ("BITPIX", bitpix), ("NAXIS", len(shape))]
    cards += [(f"NAXIS{axis}", size) for axis, size in enumerate(reversed(shape), 1)]
    return cards + list(extra)


RAW = {8: np.uint8, 16: np.int16, 32: np.int32, 64: np.int64, -32: np.float32,
       -64: np.float64}


# Every BITPIX, unscaled and scaled; astropy's unsigned conventions; BLANK
# (zero BLANK is no blank to astropy).
CASES = [
    (8, ()), (8, (("BZERO", -128),)), (8, (("BSCALE", 0.5), ("BZERO", 3.0))),
    (16, ()), (16, (("BZERO", 32768),)), (16, (("BLANK", -7),)), (16, (("BLANK", 0),)),
    (16, (("BSCALE", 0.1), ("BZERO", 3.0), ("BLANK", -7))),
    (32, ()), (32, (("BZERO", 2147483648),)), (32, (("BSCALE", 2.5), ("BZERO", -7.0))),
    (64, ()), (-32, ()), (-32, (("BSCALE", 2.0), ("BZERO", 1.5))), (-64, ()),
    (-64, (("BSCALE", 1e-3), ("BZERO", 100.0))),
]


def _case_file(folder, number, bitpix, scaling):
    rng = np.random.default_rng(number)
    dtype = np.dtype(RAW[bitpix])
    if dtype.kind == "f":
        raw = rng.normal(0, 1e3, (5, 7)).astype(dtype)
        raw[0, 0] = np.nan
    else:
        info = np.iinfo(dtype)
        raw = rng.integers(max(info.min, -30000), min(info.max, 30000), (5, 7),
                           endpoint=True).astype(dtype)
        raw[1, :3] = -7 if info.min < 0 else 0  # BLANK pixels
        raw[3, :2] = 0  # BLANK = 0 is no blank to astropy: zeros stay numbers
        raw[2, 0], raw[2, 1] = info.min, info.max
    return _write(folder / f"case_{number}.fits", _image_cards(bitpix, raw.shape, scaling),
                  raw)


def test_bitpix_and_scaling_follow_astropy(tmp_path):
    paths = [_case_file(tmp_path, number, *case) for number, case in enumerate(CASES)]
    expected = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in paths:
            expected.append(np.asarray(fits.getdata(path)).astype(np.float32))
    for path, case, image in zip(paths, CASES, expected):
        assert fits_decode.decodes_in_tensorflow(path), case
        _assert_same(fits_decode.read_fits_image(path).numpy(), image)
    # In a tf.data graph: batches of one file (graph ops) and one batch of them
    # all (mixed BITPIX: astropy reads the batch).
    for batch_size in (1, len(paths)):
        found = np.concatenate([batch.numpy() for batch in
                                fits_decode.fits_image_dataset(paths, batch_size)])
        for image, wanted, case in zip(found, expected, CASES):
            _assert_same(image, wanted)
    same_type = fits_decode.fits_image_dataset([paths[10]] * 3, batch_size=3)
    for image in next(iter(same_type)).numpy():
        _assert_same(image, expected[10])


def test_cubes_and_images_behind_an_empty_primary_decode(tmp_path):
    cube = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    path = str(tmp_path / "cube.fits")
    fits.PrimaryHDU(cube).writeto(path)
    _assert_same(fits_decode.read_fits_image(path, ndim=3).numpy(), cube)
    extension = str(tmp_path / "extension.fits")
    image = np.arange(12, dtype=np.int16).reshape(3, 4)
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(image)]).writeto(extension)
    assert fits_decode.decodes_in_tensorflow(extension)
    _assert_same(fits_decode.read_fits_image(extension).numpy(), image.astype(np.float32))


def test_a_header_declaring_more_data_than_the_file_is_refused(tmp_path):
    raw = np.ones((64, 64), np.float32)
    path = _write(tmp_path / "truncated.fits", _image_cards(-32, raw.shape), raw)
    Path(path).write_bytes(Path(path).read_bytes()[: 2880 + 1000])
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"(?s)truncated\.fits.*NAXIS1 x NAXIS2 x \|BITPIX\|/8 =.*16384"):
        fits_decode.read_fits_image(path)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"truncated\.fits"):
        list(fits_decode.fits_image_dataset([path], batch_size=1))


def test_files_the_ops_do_not_decode_go_to_astropy(tmp_path):
    image = np.arange(20 * 30, dtype=np.float32).reshape(20, 30)
    plain = str(tmp_path / "plain.fits")
    fits.PrimaryHDU(image).writeto(plain)
    gzipped = str(tmp_path / "image.fits.gz")
    Path(gzipped).write_bytes(gzip.compress(Path(plain).read_bytes()))
    rice = str(tmp_path / "rice.fits")
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(image.astype(np.int16),
                                                       compression_type="RICE_1")]).writeto(rice)
    long_header = str(tmp_path / "long_header.fits")
    cards = _image_cards(-32, image.shape, [(f"KEY{n}", n) for n in range(60)])
    _write(tmp_path / "long_header.fits", cards, image)
    for path, options in ((gzipped, {}), (rice, {}), (long_header, {"max_header_blocks": 1})):
        contents = tf.io.read_file(path)[None]
        header = fits_decode.parse_fits_headers(contents, 2, **options)
        assert not bool(header["decodable"][0]), path
        found = fits_decode.read_fits_image(path, **options).numpy()
        _assert_same(found, fits_decode.read_with_astropy(path))
    # With the default header search the long header decodes with graph ops.
    assert fits_decode.decodes_in_tensorflow(long_header)
    # A batch may mix routes and BITPIX: each file takes its own, in order.
    int_image = str(tmp_path / "int16.fits")
    fits.PrimaryHDU(image.astype(np.int16)).writeto(int_image)
    batch = next(iter(fits_decode.fits_image_dataset([plain, rice, int_image, gzipped],
                                                     batch_size=4)))
    for found in batch.numpy():
        _assert_same(found, image)


def test_a_file_without_an_image_of_that_rank_names_the_file(tmp_path):
    cube = str(tmp_path / "cube.fits")
    fits.PrimaryHDU(np.zeros((2, 3, 4), np.float32)).writeto(cube)
    assert not fits_decode.decodes_in_tensorflow(cube, ndim=2)
    with pytest.raises(Exception, match=r"cube\.fits: no HDU holds a 2-axis image"):
        fits_decode.read_fits_image(cube, ndim=2)


def test_batches_decode_with_graph_ops_whatever_their_header_lengths(tmp_path, monkeypatch):
    # A batch of one BITPIX and shape decodes without astropy, whether its
    # headers end in the same block (decoded whole, header sliced off) or not
    # (data cut out of each file first); unpadded last blocks decode too.
    def no_astropy(*args, **kwargs):
        raise AssertionError("astropy route taken")

    monkeypatch.setattr(fits_decode, "read_batch_with_astropy", no_astropy)
    rng = np.random.default_rng(0)
    images = [rng.integers(-3000, 3000, (5, 7)).astype(np.int16) for _ in range(4)]
    scaling = (("BSCALE", 0.5), ("BZERO", 10.0))
    long = scaling + tuple((f"KEY{n}", n) for n in range(40))  # a two-block header
    same = [_write(tmp_path / f"same_{i}.fits", _image_cards(16, (5, 7), scaling), image,
                   pad=i % 2 == 0) for i, image in enumerate(images)]
    mixed = [_write(tmp_path / f"mixed_{i}.fits", _image_cards(16, (5, 7), long if i % 2
                                                               else scaling), image)
             for i, image in enumerate(images)]
    assert len({fits_decode.parse_fits_headers(tf.io.read_file(path)[None])["data_offset"]
                [0].numpy() for path in mixed}) == 2
    floats = [_write(tmp_path / f"float_{i}.fits", _image_cards(-32, (5, 7)),
                     image.astype(np.float32)) for i, image in enumerate(images)]
    # The pipeline's decoding function holds the first file's route; a batch on
    # another route (here the float32 one) is decoded eagerly by the same ops.
    for paths in (same, mixed, same + floats, floats + mixed):
        found = np.concatenate([batch.numpy() for batch in
                                fits_decode.fits_image_dataset(paths, batch_size=4)])
        assert len(found) == len(paths)
        for image, path in zip(found, paths):
            _assert_same(image, np.asarray(fits.getdata(path)).astype(np.float32))


def test_batches_of_the_first_files_layout_decode_in_the_graph(tmp_path, monkeypatch):
    # The pipeline decodes each file as the first file is laid out and checks
    # every header per batch; only a batch that differs (here: a longer
    # header) is read again and decoded outside the graph.
    eager = []

    def counted(contents, paths, *args):
        eager.append([path.decode() for path in paths.numpy()])
        return decode_fits_batch(contents, paths, *args)

    decode_fits_batch = fits_decode.decode_fits_batch
    monkeypatch.setattr(fits_decode, "decode_fits_batch", counted)
    rng = np.random.default_rng(1)
    images = [rng.normal(size=(6, 9)).astype(np.float32) for _ in range(6)]
    long = tuple((f"KEY{n}", n) for n in range(40))
    paths = [_write(tmp_path / f"f_{i}.fits",
                    _image_cards(-32, (6, 9), long if i == 4 else ()), image)
             for i, image in enumerate(images)]
    found = np.concatenate([batch.numpy() for batch in
                            fits_decode.fits_image_dataset(paths, batch_size=2)])
    for image, wanted in zip(found, images):
        _assert_same(image, wanted)
    assert eager == [paths[4:6]]
