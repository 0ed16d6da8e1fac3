"""FITS images decoded by TensorFlow ops alone, for tf.data pipelines.

astropy reads a small FITS file mostly by parsing its header in Python, under
the GIL, so `tf.numpy_function` calls to it do not run in parallel, and a FITS
pipeline through it ran at about 0.1 of a raw read of the same bytes
(BENCHMARKS.md). This module decodes the common case with graph ops only: an
uncompressed image in the primary HDU, or in the first extension behind an
empty primary HDU (2880-byte header blocks of 80-byte cards, then big-endian
pixels), BITPIX 8/16/32/64/-32/-64, BZERO/BSCALE and BLANK applied as astropy
applies them, the shape from NAXIS and NAXISn. Everything else (gzip, a
tile-compressed image in a binary table such as JSOC's RICE exports and `.fz`
files, random groups, an image further on, a header longer than
`max_header_blocks`) goes to astropy inside `tf.numpy_function`, so every
file astropy reads still reads.

Like `tf.io.parse_example` in `flarekit.data.pipeline`, the decoder parses
headers a batch of files at once: a header costs some fifty small ops whatever
its size, and a batch pays them once. `fits_image_dataset` decodes each
file's pixels on its own as the first file is laid out (in parallel; the
header's bytes are left out without a copy), batches them, then parses and
checks the batch's headers. Every byte is copied three times (into memory,
byte-swapped into numbers, into its batch) against a raw read's two; decoding
whole batches of files, with the headers sliced off afterwards, copied it
four times and ran at 0.19-0.23 of a raw read; this runs at 0.44-0.49
(medians of 7 rounds, `make bench` and a process of its own; BENCHMARKS.md).

Example:
    >>> images = fits_image_dataset(["aia_171_level1.fits"] * 64, batch_size=32)
    >>> next(iter(images)).shape
    TensorShape([32, 128, 128])
"""

from __future__ import annotations

FITS_BLOCK = 2880  # bytes in a header or data block
CARD = 80  # bytes in a header card
# BITPIX values this decoder reads, in `tf.switch_case` branch order.
BITPIX_VALUES = (8, 16, 32, 64, -32, -64)
# Headers longer than this many 2880-byte blocks (432 cards) go to astropy.
# SDO level-1 headers take 5 to 8 blocks; every block searched is copied twice
# per file, so the bound is not much larger.
MAX_HEADER_BLOCKS = 12

# A value in the fixed-format field (bytes 11-30 of a card), which the
# standard requires for BITPIX, NAXIS and NAXISn and astropy writes for all
# numbers. A free-format value (or a D exponent) sends the file to astropy.
_NUMBER = r" *[+-]?(\d+\.?\d*|\.\d+)([Ee][+-]?\d+)?"
_LOGICAL_TRUE = "T".rjust(20)


def _keyword_word(keyword: str) -> int:
    """A header keyword, blank-padded to 8 bytes, as a little-endian int64
    (how `tf.io.decode_raw` reads the first 8 bytes of a card)."""
    return int.from_bytes(keyword.ljust(8).encode("ascii"), "little")


def parse_fits_headers(contents, ndim: int = 2, max_header_blocks: int = MAX_HEADER_BLOCKS):
    """The header of the image each FITS file of a batch holds, as tensors.

    The image is the primary HDU's or, behind an empty primary HDU (NAXIS =
    0, as many archives write), the first extension's when it is an
    `XTENSION= 'IMAGE   '`. Both are found without control flow per file: the
    first blocks of every file are read as 64-bit words, whose first word per
    card is its 8-byte keyword, so finding END and the keywords are integer
    comparisons over one array, and only the wanted values become strings.
    Keywords are matched in the cards up to the batch's last END only.

    Args:
        contents: `tf.string` [batch], whole files.
        ndim: the number of axes expected (NAXIS).
        max_header_blocks: END is looked for in this many blocks from the start
            of the file (of the shortest file of the batch).

    Returns:
        dict of [batch] tensors: `decodable` (bool: a standard header of an
        `ndim`-axis image with a BITPIX this decoder reads, with its END card),
        `extension` (bool: the image is the first extension's), `data_offset`,
        `data_bytes`, `file_bytes`, `bitpix` (int64), `bscale`, `bzero`,
        `blank` (float64), `has_blank` (bool), and `shape` (int64 [batch,
        ndim], NAXISn first, as numpy orders the pixels).
    """
    header = _parse_region(contents, ndim, max_header_blocks)
    header.pop("complete")
    return header


def _parse_region(contents, ndim, blocks):
    """`parse_fits_headers` over the first `blocks` blocks, plus `complete`:
    whether each file's END was found in them."""
    import tensorflow as tf

    keywords = ["SIMPLE", "BITPIX", "NAXIS", "BSCALE", "BZERO", "BLANK", "GROUPS"]
    keywords += [f"NAXIS{axis}" for axis in range(1, ndim + 1)]
    wanted = tf.constant([_keyword_word(keyword) for keyword in keywords], tf.int64)
    length = tf.strings.length(contents)
    files = tf.shape(contents)[0]
    # One region size for the batch, so that the regions decode as one array.
    searched = tf.minimum(tf.reduce_min(tf.concat([length, [2**30]], 0)) // CARD,
                          blocks * FITS_BLOCK // CARD)
    region = tf.strings.substr(contents, 0, searched * CARD)
    names = tf.reshape(tf.io.decode_raw(region, tf.int64), [files, searched, CARD // 8])
    names = names[:, :, 0]
    index = tf.range(searched)[None, :]
    is_end = tf.equal(names, _keyword_word("END"))

    def first(mask):
        return tf.argmax(tf.cast(mask, tf.int32), axis=1, output_type=tf.int32)

    def value_field(card):
        # Positions are clamped to the file: a keyword not found points at
        # card 0, which a file shorter than one card does not have.
        lengths = length if card.shape.rank == 1 else length[:, None]
        text = contents if card.shape.rank == 1 else contents[:, None]
        return tf.strings.substr(text, tf.minimum(card * CARD + 10, lengths),
                                 tf.fill(tf.shape(card), 20))

    # An empty primary HDU (NAXIS = 0) sends the search to the next HDU, whose
    # header starts at the block after the primary's END.
    primary_end = first(is_end)
    naxis_cards = tf.logical_and(tf.equal(names, _keyword_word("NAXIS")),
                                 index < primary_end[:, None])
    simple = tf.equal(tf.strings.substr(contents, 0, 8), "SIMPLE  ")
    empty_primary = tf.reduce_all(tf.stack([
        simple,
        tf.reduce_any(is_end, axis=1),
        tf.reduce_any(naxis_cards, axis=1),
        tf.equal(value_field(first(naxis_cards)), "0".rjust(20)),
    ]), axis=0)
    blocks = FITS_BLOCK // CARD
    first_card = tf.where(empty_primary, (primary_end // blocks + 1) * blocks, 0)
    ends_after = tf.logical_and(is_end, index >= first_card[:, None])
    found_end = tf.reduce_any(ends_after, axis=1)
    end_card = first(ends_after)
    # Keywords are matched in the cards up to the last END of the batch only.
    used = tf.reduce_max(tf.concat([tf.where(found_end, end_card, searched), [0]], 0))
    index, names = index[:, :used], names[:, :used]
    in_header = tf.logical_and(index >= first_card[:, None], index < end_card[:, None])

    # The first card of each wanted keyword in the header, then its value.
    matches = tf.logical_and(tf.equal(names[:, :, None], wanted[None, None, :]),
                             in_header[:, :, None])
    card = tf.argmax(tf.cast(matches, tf.int32), axis=1, output_type=tf.int32)
    indicator = tf.strings.substr(contents[:, None], tf.minimum(card * CARD + 8,
                                                                length[:, None]),
                                  tf.fill(tf.shape(card), 2))
    present = tf.logical_and(tf.reduce_any(matches, axis=1), tf.equal(indicator, "= "))
    text = value_field(card)
    numeric = tf.logical_and(present, tf.strings.regex_full_match(text, _NUMBER))
    values = tf.strings.to_number(tf.where(numeric, text, "0"), tf.float64)
    true = tf.logical_and(present, tf.equal(text, _LOGICAL_TRUE))
    value = dict(zip(keywords, tf.unstack(values, axis=1)))
    has = dict(zip(keywords, tf.unstack(numeric, axis=1)))
    logical = dict(zip(keywords, tf.unstack(true, axis=1)))

    extension_card = tf.strings.substr(contents, tf.minimum(first_card * CARD, length),
                                       tf.fill(tf.shape(first_card), 20))
    standard = tf.where(empty_primary, tf.equal(extension_card, "XTENSION= 'IMAGE   '"),
                        tf.logical_and(simple, logical["SIMPLE"]))
    bitpix = tf.cast(value["BITPIX"], tf.int64)
    shape = tf.cast(tf.stack([value[f"NAXIS{axis}"] for axis in range(ndim, 0, -1)],
                             axis=1), tf.int64)
    decodable = tf.reduce_all(tf.stack([
        standard,
        found_end,
        has["BITPIX"],
        tf.reduce_any(tf.equal(bitpix[:, None], BITPIX_VALUES), axis=1),
        tf.equal(value["NAXIS"], float(ndim)),
        has["NAXIS"],
        tf.logical_not(logical["GROUPS"]),
        tf.reduce_all(tf.stack([has[f"NAXIS{axis}"] for axis in range(1, ndim + 1)]),
                      axis=0),
        tf.reduce_all(shape >= 0, axis=1),
    ]), axis=0)
    data_offset = (end_card * CARD // FITS_BLOCK + 1) * FITS_BLOCK
    return {
        "complete": found_end,
        "decodable": decodable,
        "extension": empty_primary,
        "data_offset": tf.cast(data_offset, tf.int64),
        "data_bytes": tf.reduce_prod(shape, axis=1) * tf.abs(bitpix) // 8,
        "file_bytes": tf.cast(length, tf.int64),
        "bitpix": bitpix,
        "bscale": tf.where(has["BSCALE"], value["BSCALE"], 1.0),
        "bzero": tf.where(has["BZERO"], value["BZERO"], 0.0),
        "blank": value["BLANK"],
        # astropy applies BLANK to integer images only.
        "has_blank": tf.logical_and(has["BLANK"], bitpix > 0),
        "shape": shape,
    }


def _checked(contents, header, paths):
    """`contents`, once every decodable file is checked to hold as many data
    bytes as its header declares (the error names the file)."""
    import tensorflow as tf

    ndim = int(header["shape"].shape[1])
    axes = " x ".join(f"NAXIS{axis}" for axis in range(1, ndim + 1))
    available = header["file_bytes"] - header["data_offset"]
    short = tf.logical_and(header["decodable"], header["data_bytes"] > available)
    bad = tf.argmax(tf.cast(short, tf.int32), output_type=tf.int32)
    # Assert formats its data only when it fails: no string work per batch.
    check = tf.debugging.Assert(tf.logical_not(tf.reduce_any(short)), [
        "FITS file", paths[bad], f": the header declares {axes} x |BITPIX|/8 =",
        header["data_bytes"][bad], "bytes of data (NAXISn first:", header["shape"][bad],
        "BITPIX", header["bitpix"][bad], "), but only", available[bad],
        "bytes follow the header, which ends at byte", header["data_offset"][bad],
        ": the file is truncated or NAXISn/BITPIX are wrong."], summarize=ndim)
    with tf.control_dependencies([check]):
        return tf.identity(contents)


def _data_start(contents, header):
    """(bytes, start): a [batch] string tensor in which each file's data begins
    at byte `start` (int64 scalar), for `_data_values`.

    Where the batch's headers end in the same block (the common case), these
    are the files as read and the header's end; the header's bytes are cut
    away after decoding, which saves copying each file once before. Headers
    of different lengths are cut off each file first (`tf.strings.substr`).
    One `tf.cond` for the batch, outside the per-BITPIX branches: control flow
    nested in each branch costs in a tf.data function even where it does not
    run.
    """
    import tensorflow as tf

    offset, size = header["data_offset"], header["data_bytes"]

    def own_offsets():
        start = tf.cast(tf.minimum(offset, header["file_bytes"]), tf.int32)
        return tf.strings.substr(contents, start, tf.cast(size, tf.int32)), tf.constant(0, tf.int64)

    return tf.cond(tf.reduce_all(tf.equal(offset, offset[0])),
                   lambda: (tf.identity(contents), offset[0]), own_offsets)


def _data_values(data, start, size, dtype):
    """The `size` data bytes that begin at byte `start` of each string of
    `data`, as `dtype` numbers from big-endian bytes: [batch, size / itemsize].
    `start` is a multiple of the FITS block (or 0), so the slice shares the
    decoded buffer."""
    import tensorflow as tf

    values = tf.io.decode_raw(data, dtype, little_endian=False,
                              fixed_length=tf.cast(start + size, tf.int32))
    return values[:, start // dtype.size:]


def _pixel_branches(contents, header, values=None):
    """The 12 ways to decode a batch whose files share BITPIX and shape (6 BITPIX
    values, unscaled or scaled), in the order `_branch_index` numbers them.

    `values`: the batch's data already decoded from big-endian bytes into the
    BITPIX type ([batch, pixels], `fits_image_dataset`'s per-file route), so
    only the branch of that type may be called; None decodes `contents`."""
    import tensorflow as tf

    scale = [header[key][:, None] for key in ("bscale", "bzero", "blank", "has_blank")]
    bscale, bzero, blank, has_blank = scale
    shape = tf.concat([tf.shape(header["bitpix"], out_type=tf.int64), header["shape"][0]],
                      axis=0)

    if values is None:
        data, start = _data_start(contents, header)

    def raw(dtype):
        if values is not None:
            return values
        return _data_values(data, start, header["data_bytes"][0], dtype)

    def plain(dtype):
        return lambda: tf.reshape(tf.cast(raw(dtype), tf.float32), shape)

    def scaled_integers(dtype, bits, work):
        def decode():
            values = raw(dtype)
            pixels = tf.cast(values, work) * tf.cast(bscale, work) + tf.cast(bzero, work)
            # astropy's unsigned (for BITPIX 8: signed) integer images keep
            # BLANK pixels as numbers; elsewhere a nonzero BLANK becomes NaN.
            offset = -128.0 if bits == 8 else float(2 ** (bits - 1))
            unsigned = tf.logical_and(tf.equal(bscale, 1.0), tf.equal(bzero, offset))
            active = tf.logical_and(tf.logical_and(has_blank, tf.logical_not(unsigned)),
                                    tf.not_equal(blank, 0.0))
            is_blank = tf.logical_and(active, tf.equal(values, tf.cast(blank, dtype)))
            pixels = tf.where(is_blank, tf.constant(float("nan"), work), pixels)
            return tf.reshape(tf.cast(pixels, tf.float32), shape)
        return decode

    def scaled_floats(dtype):
        def decode():
            pixels = raw(dtype) * tf.cast(bscale, dtype) + tf.cast(bzero, dtype)
            return tf.reshape(tf.cast(pixels, tf.float32), shape)
        return decode

    # BITPIX 8 is unsigned in FITS; 16, 32 and 64 are signed; -32 and -64 IEEE.
    # astropy scales 8 and 16 in float32, 32 and 64 in float64.
    integer_types = ((tf.uint8, 8, tf.float32), (tf.int16, 16, tf.float32),
                     (tf.int32, 32, tf.float64), (tf.int64, 64, tf.float64))
    float_types = (tf.float32, tf.float64)
    return ([plain(dtype) for dtype, _, _ in integer_types]
            + [plain(dtype) for dtype in float_types]
            + [scaled_integers(*types) for types in integer_types]
            + [scaled_floats(dtype) for dtype in float_types])


def _branch_index(header):
    """Which of `_pixel_branches` decodes a batch; -1 when its files are not
    all decodable with one BITPIX and one shape."""
    import tensorflow as tf

    bitpix = header["bitpix"]
    bitpix_index = tf.argmax(tf.cast(tf.equal(bitpix[0], BITPIX_VALUES), tf.int32),
                             output_type=tf.int32)
    identity = tf.logical_and(tf.equal(header["bscale"], 1.0), tf.equal(header["bzero"], 0.0))
    scaled = tf.reduce_any(tf.logical_not(tf.logical_and(identity,
                                                         tf.logical_not(header["has_blank"]))))
    uniform = tf.reduce_all(tf.stack([
        tf.reduce_all(header["decodable"]),
        tf.reduce_all(tf.equal(bitpix, bitpix[0])),
        tf.reduce_all(tf.equal(header["shape"], header["shape"][0])),
    ]))
    index = bitpix_index + len(BITPIX_VALUES) * tf.cast(scaled, tf.int32)
    return tf.where(uniform, index, -1)


def decode_fits_batch(contents, paths, ndim: int = 2,
                      max_header_blocks: int = MAX_HEADER_BLOCKS):
    """Float32 images of a batch of FITS files of one shape.

    A batch of uncompressed files that share BITPIX and shape decodes with
    graph ops, each op once for the batch; any other batch (a compressed or
    gzip file in it, mixed BITPIX) is read by astropy (`read_with_astropy`),
    whose pixels the graph ops match (software_tests/data/test_fits_decode.py).
    Scaling follows astropy: no
    BZERO, BSCALE or BLANK keeps the raw values; BZERO of 2**(bits-1) with
    BSCALE 1 is an unsigned integer image (BZERO -128 on BITPIX 8 a signed
    one); otherwise pixels are scaled in float32 for BITPIX 8 and 16, float64
    for 32 and 64, their own type for -32 and -64, and integer pixels equal
    to a nonzero BLANK become NaN. The result is cast to float32, where
    TensorFlow flushes float32 subnormals (|x| < 1.2e-38) to zero, as every
    TensorFlow op on the CPU does.

    Args:
        contents: `tf.string` [batch], the files' bytes.
        paths: `tf.string` [batch], their names (for astropy and for errors).
        ndim: the images' number of axes.
        max_header_blocks: see `parse_fits_headers`.

    Returns:
        float32 [batch, NAXISn, ..., NAXIS1].

    Raises:
        tf.errors.InvalidArgumentError: a header declares more data bytes
            (NAXIS1 x ... x NAXISn x |BITPIX| / 8) than follow it in the file
            (the message names the file and the keywords); the files differ
            in shape; or, on astropy's route, a file holds no `ndim`-axis
            image or astropy cannot read it (the message names the file).
    """
    return _decode(contents, paths, ndim, max_header_blocks)


def _decode(contents, paths, ndim, max_header_blocks):
    return _astropy_unless(*_graph_decode(contents, paths, ndim, max_header_blocks),
                           paths, ndim)


def _graph_decode(contents, paths, ndim, max_header_blocks):
    """(pixels, decoded): the batch's images by graph ops, and whether they
    could decode it (else `pixels` is an empty placeholder for astropy's)."""
    import tensorflow as tf

    header = parse_fits_headers(contents, ndim, max_header_blocks)
    branches = _pixel_branches(_checked(contents, header, paths), header)
    index = _branch_index(header)
    pixels = tf.switch_case(tf.where(index < 0, len(branches), index),
                            branches + [lambda: _undecoded(contents, ndim)])
    return tf.ensure_shape(pixels, [None] * (ndim + 1)), index >= 0


def _undecoded(contents, ndim):
    """The empty placeholder of a batch the graph ops have not decoded."""
    import tensorflow as tf

    return tf.zeros([tf.shape(contents)[0]] + [0] * ndim, tf.float32)


def _astropy_unless(pixels, decoded, paths, ndim):
    """`pixels` where the graph ops decoded the batch, else astropy's reading
    of the batch's files (a compressed file in it, mixed BITPIX or shapes)."""
    import tensorflow as tf

    def with_astropy():
        images = tf.numpy_function(lambda names: read_batch_with_astropy(names, ndim),
                                   [paths], tf.float32, stateful=False)
        return tf.ensure_shape(images, [None] * (ndim + 1))

    return tf.ensure_shape(tf.cond(decoded, lambda: tf.identity(pixels), with_astropy),
                           [None] * (ndim + 1))


def read_fits_image(path, ndim: int = 2, max_header_blocks: int = MAX_HEADER_BLOCKS):
    """The float32 image of one FITS file, decoded in TensorFlow where it can be.

    `decode_fits_batch` on a batch of one: graph ops for an uncompressed
    image, astropy otherwise. Decoding batches (`fits_image_dataset`) is
    several times faster: a header costs the same ops for one file as for
    a batch.

    Args:
        path: scalar `tf.string` file name (a `Dataset.map` function).
        ndim: the image's number of axes.
        max_header_blocks: see `parse_fits_headers`.

    Returns:
        float32 tensor of rank `ndim`, pixels in numpy (NAXISn-first) order.

    Raises:
        tf.errors.InvalidArgumentError: as `decode_fits_batch`.
    """
    import tensorflow as tf

    path = tf.convert_to_tensor(path, tf.string)
    contents = tf.io.read_file(path)
    return _decode(contents[None], path[None], ndim, max_header_blocks)[0]


def fits_image_dataset(paths, batch_size: int = 32, ndim: int = 2,
                       drop_remainder: bool = False,
                       max_header_blocks: int = MAX_HEADER_BLOCKS):
    """Batches of float32 images of FITS files, in the order of `paths`.

    The first file's header, read once when the pipeline is built, gives the
    expected layout: data offset, BITPIX, shape, scaled or not. Each file is
    then read and its data decoded on its own, in parallel, as if it had that
    layout (the big-endian bytes swapped into numbers, the header's bytes
    left out without a copy), with a copy of its header's bytes beside it;
    the files are batched, and each batch's headers are parsed with one set
    of ops (some fifty, whatever the batch size) and checked against the
    layout before the batch's scaling is applied. A batch in which any file
    differs (another header length, BITPIX or shape; a compressed, gzip or
    otherwise unusual file) is read again and decoded by `decode_fits_batch`
    outside the graph (`tf.py_function`): graph ops where they decode it,
    astropy otherwise. Every route gives the same pixels; the first file's
    layout is the fast one.

    Per file this copies every byte twice (into memory, byte-swapped into
    numbers) and once more into the batch, against two copies for a raw read
    of the files; decoding whole batches of files instead copied twice more.

    Args:
        paths: file names (a list, or a `tf.data.Dataset` of scalar strings).
        batch_size: files per batch; the images of a batch must share a shape.
        ndim: the images' number of axes.
        drop_remainder: drop the last partial batch.
        max_header_blocks: see `parse_fits_headers`.

    Returns:
        A prefetched `tf.data.Dataset` of float32 [batch, NAXISn, ..., NAXIS1].

    Raises:
        tf.errors.InvalidArgumentError: as `decode_fits_batch`; images of one
            batch differ in shape.
    """
    import tensorflow as tf

    autotune = tf.data.AUTOTUNE
    names = paths if isinstance(paths, tf.data.Dataset) else (
        tf.data.Dataset.from_tensor_slices([str(path) for path in paths]))
    layout = _first_layout(names, ndim, max_header_blocks)

    def eagerly(paths):
        def decode(paths):
            contents = tf.stack([tf.io.read_file(path) for path in tf.unstack(paths)])
            return decode_fits_batch(contents, paths, ndim, max_header_blocks)

        images = tf.py_function(decode, [paths], tf.float32)
        return tf.ensure_shape(images, [None] * (ndim + 1))

    if layout is None:  # the first file is not one the graph ops decode
        return (names.batch(batch_size, drop_remainder=drop_remainder)
                .map(eagerly, num_parallel_calls=autotune, deterministic=True)
                .prefetch(autotune))
    offset, data_bytes, dtype = layout["offset"], layout["data_bytes"], layout["dtype"]

    def read(path):
        contents = tf.io.read_file(path)
        # Zero-padded past the end of a short file, which the batch's check
        # then refuses by name. The slice starts at a multiple of 2880 bytes,
        # so it shares the decoded buffer instead of copying it.
        values = tf.io.decode_raw(contents, dtype, little_endian=False,
                                  fixed_length=offset + data_bytes)
        return (values[offset // dtype.size:], tf.strings.substr(contents, 0, offset),
                tf.cast(tf.strings.length(contents), tf.int64), path)

    def decode(values, headers, file_bytes, paths):
        header = parse_fits_headers(headers, ndim, max_header_blocks)
        header["file_bytes"] = file_bytes
        expected = tf.reduce_all(tf.stack([
            tf.equal(_branch_index(header), layout["route"]),
            tf.reduce_all(tf.equal(header["data_offset"], offset)),
            tf.reduce_all(tf.equal(header["shape"], layout["shape"])),
        ]))

        def fast():
            values_checked = _checked(values, header, paths)
            branch = _pixel_branches(None, header, values_checked)[layout["route"]]
            return branch()

        return tf.ensure_shape(tf.cond(expected, fast, lambda: eagerly(paths)),
                               [None] * (ndim + 1))

    return (names.map(read, num_parallel_calls=autotune, deterministic=True)
            .batch(batch_size, drop_remainder=drop_remainder)
            .map(decode, num_parallel_calls=autotune, deterministic=True)
            .prefetch(autotune))


def _first_layout(names, ndim, max_header_blocks) -> dict | None:
    """The first file's data layout ({"route": `_branch_index` route, "offset",
    "data_bytes", "shape", "dtype" of its BITPIX}), read eagerly; None when
    there is no file or the graph ops cannot decode it."""
    import tensorflow as tf

    for path in names.take(1):
        header = parse_fits_headers(tf.io.read_file(path)[None], ndim, max_header_blocks)
        route = int(_branch_index(header))
        if route < 0:
            return None
        types = {8: tf.uint8, 16: tf.int16, 32: tf.int32, 64: tf.int64,
                 -32: tf.float32, -64: tf.float64}
        return {"route": route, "offset": int(header["data_offset"][0]),
                "data_bytes": int(header["data_bytes"][0]),
                "shape": [int(size) for size in header["shape"][0]],
                "dtype": types[int(header["bitpix"][0])]}
    return None


def decodes_in_tensorflow(path, ndim: int = 2) -> bool:
    """Whether `read_fits_image` decodes `path` with graph ops (not astropy)."""
    import tensorflow as tf

    contents = tf.io.read_file(str(path))[None]
    return bool(parse_fits_headers(contents, ndim)["decodable"][0].numpy())


def read_batch_with_astropy(paths, ndim: int = 2):
    """`read_with_astropy` of each file, stacked: float32 [batch, ...].

    Raises:
        ValueError: the files' images differ in shape (the message names two).
    """
    import numpy as np

    images = [read_with_astropy(path, ndim) for path in np.asarray(paths).ravel()]
    for path, image in zip(np.asarray(paths).ravel()[1:], images[1:]):
        if image.shape != images[0].shape:
            raise ValueError(
                f"{path!r}: image of shape {image.shape}, but the batch's first file "
                f"{np.asarray(paths).ravel()[0]!r} has {images[0].shape}; a batch needs "
                "one shape.")
    return np.stack(images) if images else np.zeros((0,) * (ndim + 1), np.float32)


def read_with_astropy(path, ndim: int = 2):
    """The first `ndim`-axis image HDU of a FITS file through astropy, float32.

    Raises:
        ValueError: no HDU holds an `ndim`-axis image (the message lists them).
    """
    import numpy as np
    from astropy.io import fits

    # `tf.numpy_function` passes the name as bytes, or as a 0-d array of them.
    path = np.asarray(path).item() if isinstance(path, np.ndarray) else path
    path = path.decode() if isinstance(path, bytes) else str(path)
    with fits.open(path, memmap=False) as hdul:
        for item in hdul:
            if item.is_image and item.header.get("NAXIS", 0) == ndim and item.data is not None:
                return np.asarray(item.data, dtype=np.float32)
        found = "; ".join(f"HDU {index} {type(item).__name__} NAXIS="
                          f"{item.header.get('NAXIS', 0)}" for index, item in enumerate(hdul))
    raise ValueError(f"{path}: no HDU holds a {ndim}-axis image; found {found}.")
