"""flarekit.data.fits on real SDO files from pinned wheels and ../shared/data.

The files: sunpy 7.0.5's `aia_171_level1.fits` (AIA 171, 128 x 128, stale
R_SUN), `resampled_hmi.fits` (HMI continuum, NaN off the limb, CROTA2 = 180),
the Helioviewer JP2 of AIA 193 (downsampled to 410 px, QUALITY bit 30 set);
sunkit-image 0.6.1's `aia_171_cutout.fits` (RICE CompImageHDU at HDU 1); the
HARP 377 SHARP patch in ../shared/data/sharp when present.
"""

import warnings

import numpy as np
import pytest

from flarekit.data import fits as solar_fits
from flarekit.data.real_files import (
    missing_package_file_reason,
    package_test_file,
    shared_data_dir,
)


def _wheel_file(package, name):
    path = package_test_file(package, name)
    if path is None:
        pytest.skip(missing_package_file_reason(package, name))
    return path


def _quiet_read(path, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return solar_fits.read_solar_image(path, **options)


def _radial_profile(image, step=1.0):
    geometry = image.geometry
    rows, cols = np.mgrid[: image.data.shape[0], : image.data.shape[1]]
    radius = np.hypot(cols - geometry.centre_x, rows - geometry.centre_y)
    edges = np.arange(0.0, radius.max(), step)
    with warnings.catch_warnings():
        # Rings that lie wholly in the NaN off-limb area have no mean.
        warnings.simplefilter("ignore", RuntimeWarning)
        profile = _ring_means(image.data, radius, edges, step)
    return edges + step / 2, profile


def _ring_means(data, radius, edges, step):
    return np.array([
        np.nanmean(np.where((radius >= lo) & (radius < lo + step), data, np.nan))
        if np.any((radius >= lo) & (radius < lo + step)) else np.nan
        for lo in edges
    ])


@pytest.fixture(scope="module")
def aia_171():
    return _quiet_read(_wheel_file("sunpy", "aia_171_level1.fits"))


@pytest.fixture(scope="module")
def hmi_continuum():
    return _quiet_read(_wheel_file("sunpy", "resampled_hmi.fits"))


@pytest.fixture(scope="module")
def aia_193_jp2_path():
    return _wheel_file("sunpy", "2013_06_24__17_31_30_84__SDO_AIA_AIA_193.jp2")


def test_aia_radius_from_rsun_obs_not_stale_r_sun(aia_171):
    header = aia_171.header
    # The stale R_SUN is the 4096-pixel original's radius, 32x too large here.
    assert header["R_SUN"] == pytest.approx(1622.19, abs=0.01)
    assert aia_171.geometry.radius == pytest.approx(
        header["RSUN_OBS"] / header["CDELT1"], rel=1e-9
    )
    assert aia_171.geometry.radius == pytest.approx(50.66, abs=0.01)
    # The disk centre is the pixel of helioprojective (0, 0): CRVAL is a few
    # arcsec off the centre of this 128 x 128 image.
    assert aia_171.geometry.centre_x == pytest.approx(63.74, abs=0.02)
    assert aia_171.geometry.centre_y == pytest.approx(63.35, abs=0.02)


def test_aia_limb_in_the_pixels_matches_the_geometry(aia_171):
    # In EUV the corona just above the limb is brightest (limb brightening);
    # the brightest ring lies within 1.5 pixels of the computed radius.
    radii, profile = _radial_profile(aia_171)
    brightest = radii[np.nanargmax(profile)]
    assert abs(brightest - aia_171.geometry.radius) < 1.5


def test_aia_exposure_normalised_to_dn_per_second(aia_171):
    raw = _quiet_read(aia_171.path, exposure_normalise=False)
    exposure = raw.header["EXPTIME"]
    assert raw.unit == "DN"
    assert aia_171.unit == "DN/s" and aia_171.header["BUNIT"] == "DN/s"
    np.testing.assert_allclose(aia_171.data, raw.data / exposure, rtol=1e-6)
    assert exposure == pytest.approx(2.000191)


def test_aia_observation_time_and_instrument(aia_171):
    assert aia_171.instrument == "AIA"
    assert aia_171.observation_time.isoformat().startswith("2011-02-15T00:00:01.34")


def test_hmi_nan_off_limb_counted_and_filled(hmi_continuum):
    # About a quarter of a full-disk HMI image is NaN, all of it off the disk.
    assert hmi_continuum.nan_on_disk == 0
    assert hmi_continuum.nan_off_disk == int(np.isnan(hmi_continuum.data).sum()) == 2430
    filled = _quiet_read(hmi_continuum.path, fill_nan=0.0)
    assert not np.isnan(filled.data).any()
    assert filled.nan_off_disk == 2430


def test_hmi_rotated_image_geometry_matches_the_limb(hmi_continuum):
    geometry = hmi_continuum.geometry
    assert geometry.rotation_deg == pytest.approx(179.93, abs=0.01)
    assert geometry.radius == pytest.approx(46.90, abs=0.01)
    radii, profile = _radial_profile(hmi_continuum, step=0.5)
    inside = np.nanmean(profile[(radii > 0.93 * geometry.radius) & (radii < 0.97 * geometry.radius)])
    outside = np.nanmean(profile[(radii > 1.02 * geometry.radius) & (radii < 1.05 * geometry.radius)])
    # The photospheric limb: continuum intensity falls ~100-fold across it.
    assert inside > 50 * outside
    # The valid (non-NaN) area is centred on the computed disk centre.
    rows, cols = np.nonzero(np.isfinite(hmi_continuum.data))
    assert cols.mean() == pytest.approx(geometry.centre_x, abs=0.5)
    assert rows.mean() == pytest.approx(geometry.centre_y, abs=0.5)


def test_rice_compressed_cutout_read_from_hdu_1():
    path = _wheel_file("sunkit_image", "aia_171_cutout.fits")
    header, index, _ = solar_fits.read_header(path)
    assert index == 1
    image = _quiet_read(path)
    assert image.data.shape == (705, 769)
    assert image.geometry.arcsec_per_pixel == pytest.approx(0.5995, abs=1e-4)
    # A cut-out: the disk centre lies outside the frame and every pixel is on
    # the disk; at native resolution R_SUN agrees with RSUN_OBS / CDELT1.
    assert image.geometry.centre_y > image.data.shape[0]
    assert image.geometry.disk_mask(image.data.shape).all()
    assert image.geometry.radius == pytest.approx(header["R_SUN"], rel=1e-3)


def test_jp2_header_geometry_rescaled_to_the_stored_pixels(aia_193_jp2_path):
    header = solar_fits.read_jp2_header(aia_193_jp2_path)
    assert header["NAXIS1"] == 4096 and header["WAVELNTH"] == 193
    with pytest.warns(solar_fits.FitsHeaderWarning, match="4096-pixel-wide"):
        image = solar_fits.read_solar_image(aia_193_jp2_path, quality="keep")
    assert image.data.shape == (410, 410)
    expected = header["RSUN_OBS"] / header["CDELT1"] * 410 / 4096
    assert image.geometry.radius == pytest.approx(expected, rel=1e-6)
    assert image.geometry.radius == pytest.approx(157.5, abs=0.1)
    assert image.geometry.centre_x == pytest.approx(204.5, abs=0.01)
    radii, profile = _radial_profile(image)
    assert abs(radii[np.nanargmax(profile)] - image.geometry.radius) < 3


def test_quality_policy_drop_keep_flag(aia_193_jp2_path):
    with pytest.raises(solar_fits.QualityFlagError, match="QUALITY = 1073741824"):
        _quiet_read(aia_193_jp2_path, quality="drop")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        flagged = solar_fits.read_solar_image(aia_193_jp2_path, quality="keep_and_flag")
    assert any("quicklook" in str(warning.message) for warning in caught)
    assert flagged.flagged and flagged.quality == 1 << 30
    kept = _quiet_read(aia_193_jp2_path, quality="keep")
    assert not kept.flagged and kept.quality == 1 << 30
    with pytest.raises(ValueError, match="quality must be one of"):
        _quiet_read(aia_193_jp2_path, quality="ignore")


def test_batch_read_counts_dropped_images(aia_193_jp2_path, aia_171):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        images, report = solar_fits.read_solar_images([aia_171.path, aia_193_jp2_path])
    assert report["read"] == 1 and report["dropped_quality"] == 1
    assert report["dropped_paths"] == [str(aia_193_jp2_path)]
    assert images[0].path == aia_171.path


def test_resample_keeps_the_whole_disk(aia_171, hmi_continuum):
    small = solar_fits.resample_disk(aia_171, 64, margin=0.05)
    assert small.data.shape == (64, 64)
    assert small.geometry.radius == pytest.approx(32 / 1.05, rel=1e-9)
    assert small.geometry.centre_x == small.geometry.centre_y == 31.5
    radii, profile = _radial_profile(small)
    assert abs(radii[np.nanargmax(profile)] - small.geometry.radius) < 1.5
    # The header follows the data: the WCS of the new image puts the Sun's
    # centre where the geometry says.
    recomputed = solar_fits.disk_geometry(small.header, small.data.shape)
    assert recomputed.centre_x == pytest.approx(31.5, abs=0.05)
    assert recomputed.radius == pytest.approx(small.geometry.radius, rel=1e-6)
    hmi_small = solar_fits.resample_disk(hmi_continuum, 48)
    assert hmi_small.nan_on_disk == 0 and hmi_small.nan_off_disk > 0


def test_sunpy_map_of_an_image(aia_171):
    sunpy_map = solar_fits.to_sunpy_map(aia_171)
    assert sunpy_map.wavelength.value == 171
    radius = (sunpy_map.rsun_obs / sunpy_map.scale.axis1).value
    assert radius == pytest.approx(aia_171.geometry.radius, rel=1e-6)


def test_clear_errors_name_file_and_field(tmp_path, aia_171):
    from astropy.io import fits

    with pytest.raises(FileNotFoundError, match="no_such.fits"):
        solar_fits.read_solar_image(tmp_path / "no_such.fits")
    empty = tmp_path / "empty.fits"
    fits.PrimaryHDU().writeto(empty)
    with pytest.raises(ValueError, match="empty.fits: no HDU holds a 2-D image"):
        solar_fits.read_solar_image(empty)
    header = fits.Header({key: value for key, value in aia_171.header.items()
                          if key != "BLANK"
                          and (isinstance(value, (int, str)) or np.isfinite(value))})
    del header["EXPTIME"]
    header["BUNIT"] = "DN"
    no_exposure = tmp_path / "no_exposure.fits"
    fits.PrimaryHDU(np.ones((8, 8), dtype=np.float32), header).writeto(no_exposure)
    with pytest.raises(ValueError, match="no_exposure.fits: EXPTIME = None"):
        _quiet_read(no_exposure)
    del header["RSUN_OBS"], header["DSUN_OBS"]
    no_radius = tmp_path / "no_radius.fits"
    fits.PrimaryHDU(np.ones((8, 8), dtype=np.float32), header).writeto(no_radius)
    with pytest.raises(ValueError, match="no_radius.fits: cannot find the solar radius"):
        _quiet_read(no_radius, exposure_normalise=False)


@pytest.fixture(scope="module")
def sharp_files():
    folder = shared_data_dir()
    if folder is None or not (folder / "sharp").is_dir():
        pytest.skip("../shared/data/sharp (the HARP 377 SHARP patch) is not present.")
    files = sorted((folder / "sharp").glob("hmi.sharp_cea_720s.377.*.fits"))
    if len(files) < 11:
        pytest.skip(f"expected 11 SHARP segment files, found {len(files)}.")
    return files


@pytest.mark.shared_data
def test_sharp_unparsable_cards_repaired_with_warning(sharp_files):
    br = next(path for path in sharp_files if path.name.endswith(".Br.fits"))
    with pytest.warns(solar_fits.FitsHeaderWarning, match="R_VALUE"):
        header, index, repairs = solar_fits.read_header(br)
    assert index == 1
    assert np.isnan(header["R_VALUE"]) and isinstance(header["R_VALUE"], float)
    assert header["USFLUX"] == pytest.approx(2.71476e22)
    assert "R_VALUE" in repairs[0]


@pytest.mark.shared_data
def test_sharp_patch_geometry_and_channels(sharp_files):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", solar_fits.FitsHeaderWarning)
        patch, header, geometry = solar_fits.read_sharp_patch(
            sharp_files, ("Br", "Bp", "Bt", "magnetogram")
        )
    assert patch.shape == (377, 744, 4) and patch.dtype == np.float32
    assert geometry.frame == "CRLN-CEA" and geometry.degrees_per_pixel == 0.03
    assert geometry.centre_lon == pytest.approx(34.88, abs=0.01)
    assert geometry.centre_lat == pytest.approx(-21.08, abs=0.01)
    assert header["HARPNUM"] == 377 and header["NOAA_AR"] == 11158
    # Near disk centre the line-of-sight field is close to the radial field.
    assert np.corrcoef(patch[..., 0].ravel(), patch[..., 3].ravel())[0, 1] > 0.9
    assert np.nanmax(np.abs(patch[..., 0])) > 1000  # Gauss: a flaring region
    with pytest.raises(ValueError, match=r"segment\(s\) \['Bz'\] missing"):
        solar_fits.read_sharp_patch(sharp_files, ("Bz",))


def test_sharp_filename_parsing():
    info = solar_fits.parse_sharp_filename(
        "hmi.sharp_cea_720s.377.20110215_020000_TAI.Br.fits"
    )
    assert info["harp"] == 377 and info["segment"] == "Br"
    assert info["t_rec"].isoformat() == "2011-02-15T02:00:00"
    with pytest.raises(ValueError, match="not a SHARP file name"):
        solar_fits.parse_sharp_filename("aia_171_level1.fits")
