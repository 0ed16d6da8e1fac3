"""GOES XRS readers, flux scales and flare detection on real light curves.

Each test flare is classed from the file with the SWPC rules and compared
with the event list's class after moving the measured flux to the list's
scale. "Within 0.1 of magnitude" is taken as 0.1 in log10 flux (a tenth of a
class decade), which also holds for the cross-satellite case; where the file
and the list come from the same instrument on the same scale the class's
number itself agrees within 0.1.

Event lists (NOAA SWPC; pre-2020 classes on the SWPC scale, later ones on
true GOES-R flux):
  2011-06-07 M2.5 start 06:16 peak 06:41 end 06:59 (GOES-15)
  2012-06-01 C3.3 start 22:30 peak 22:41 end 23:02 (GOES-15)
  2017-09-10 X8.2 start 15:35 peak 16:06 end 16:31 (GOES-15)
  2025-03-28 X1.1 peak 15:20 (GOES-18)
"""

import math

import numpy as np
import pandas as pd
import pytest

from flarekit.data import goes
from flarekit.data.real_files import (
    missing_package_file_reason,
    package_test_file,
    shared_data_file,
)


def _series(package, name):
    path = package_test_file(package, name)
    if path is None:
        pytest.skip(missing_package_file_reason(package, name))
    return goes.read_xrs(path)


def _only_flare(series, min_peak_flux):
    flares = goes.detect_flares(series, min_peak_flux=min_peak_flux)
    assert len(flares) == 1, flares
    return flares.iloc[0]


def _magnitude(flux):
    letter = goes.flux_to_class(flux)[0]
    return flux / goes.class_to_flux(letter)


def _assert_class(measured_flux, measured_scale, listed, list_scale, same_instrument):
    on_list_scale = goes.convert_flux(measured_flux, measured_scale, list_scale)
    listed_flux = goes.class_to_flux(listed)
    assert abs(math.log10(on_list_scale / listed_flux)) <= 0.1, (
        f"{goes.flux_to_class(on_list_scale)} on the {list_scale} scale vs {listed}"
    )
    if same_instrument:
        assert goes.flux_to_class(on_list_scale)[0] == listed[0]
        assert abs(_magnitude(on_list_scale) - _magnitude(listed_flux)) <= 0.1


@pytest.fixture(scope="module")
def m25_day():
    return _series("sunpy", "go1520110607.fits")


def test_legacy_fits_is_goes15_on_the_swpc_scale(m25_day):
    assert m25_day.satellite == 15
    assert m25_day.product == "legacy_fits" and m25_day.scale == "swpc"
    # The file covers the whole day; DATE-OBS in dd/mm/yyyy was read right.
    assert m25_day.times.min() < pd.Timestamp("2011-06-07 00:00:05")
    assert m25_day.times.max() > pd.Timestamp("2011-06-07 23:59:50")


def test_m25_of_2011_06_07(m25_day):
    flare = _only_flare(m25_day, min_peak_flux=1e-5)
    assert flare["goes_class"] == "M2.5" and flare["scale"] == "swpc"
    assert flare["peak"] == pd.Timestamp("2011-06-07 06:41")
    assert flare["start"] == pd.Timestamp("2011-06-07 06:16")
    assert flare["end"] == pd.Timestamp("2011-06-07 06:59")
    _assert_class(flare["peak_flux"], "swpc", "M2.5", "swpc", same_instrument=True)


def test_c33_of_2012_06_01_and_the_days_other_flares():
    series = _series("sunpy", "go1520120601.fits.gz")
    flares = goes.detect_flares(series, min_peak_flux=1e-6)
    # The SWPC list has five >= C1 flares that day: C2.1, C1.1, C2.4, C1.8, C3.3.
    assert len(flares) == 5
    listed = ["C2.1", "C1.1", "C2.4", "C1.8", "C3.3"]
    for (_, flare), text in zip(flares.iterrows(), listed):
        _assert_class(flare["peak_flux"], "swpc", text, "swpc", same_instrument=True)
    last = flares.iloc[-1]
    assert last["peak"] == pd.Timestamp("2012-06-01 22:41")


def test_x82_of_2017_09_10_from_goes15_science_data():
    series = _series("sunkit_instruments", "sci_gxrs-l2-irrad_g15_d20170910_v0-0-0_truncated.nc")
    assert (series.satellite, series.product, series.scale) == (15, "science", "science")
    flare = _only_flare(series, min_peak_flux=1e-4)
    # Science-quality flux has the 0.7 factor removed: the SWPC X8.2 reads
    # as X11.9 here, and X8.3 back on the SWPC scale.
    assert flare["goes_class"] == "X11.9"
    assert goes.flux_to_class(goes.convert_flux(flare["peak_flux"], "science", "swpc")) == "X8.3"
    assert (flare["start"], flare["peak"], flare["end"]) == (
        pd.Timestamp("2017-09-10 15:35"), pd.Timestamp("2017-09-10 16:06"),
        pd.Timestamp("2017-09-10 16:31"))
    _assert_class(flare["peak_flux"], "science", "X8.2", "swpc", same_instrument=False)


def test_x82_of_2017_09_10_from_goes16():
    series = _series("sunkit_instruments", "sci_xrsf-l2-flx1s_g16_d20170910_v2-1-0_truncated.nc")
    assert (series.satellite, series.scale) == (16, "goes_r")
    # 146 one-second samples carry a particle-spike flag and are left out.
    assert series.masked["quality_flag"] == 146
    flare = _only_flare(series, min_peak_flux=1e-4)
    assert flare["goes_class"] == "X12.9"
    assert flare["peak"] == pd.Timestamp("2017-09-10 16:06")
    # GOES-16 reads 9 % above GOES-15 science data for this flare: X9.1 on
    # the SWPC scale against the list's X8.2, 0.04 in log10 flux.
    _assert_class(flare["peak_flux"], "goes_r", "X8.2", "swpc", same_instrument=False)


def test_x11_of_2025_03_28_from_goes18():
    series = _series("sunkit_instruments", "sci_xrsf-l2-flx1s_g18_d20250328_v2-2-0_truncated.nc")
    assert (series.satellite, series.scale) == (18, "goes_r")
    flare = _only_flare(series, min_peak_flux=1e-4)
    assert flare["goes_class"] == "X1.1"
    assert flare["peak"] == pd.Timestamp("2025-03-28 15:20")
    # After 2020 SWPC lists use true GOES-R flux: no conversion.
    _assert_class(flare["peak_flux"], "goes_r", "X1.1", "goes_r", same_instrument=True)


@pytest.mark.parametrize(
    ("package", "name", "satellite", "scale", "peak_class"),
    [("sunpy", "sci_xrsf-l2-avg1m_g15_d20190102_truncated.nc", 15, "science", "A3.1"),
     ("sunpy", "sci_xrsf-l2-avg1m_g16_d20210101_truncated.nc", 16, "goes_r", "A7.1")],
)
def test_quiet_stretch_has_no_flare_above_b1(package, name, satellite, scale, peak_class):
    series = _series(package, name)
    assert (series.satellite, series.scale) == (satellite, scale)
    assert goes.detect_flares(series, min_peak_flux=1e-7).empty
    _, peak_flux = series.peak()
    assert goes.flux_to_class(peak_flux) == peak_class
    assert goes.GOES_CLASSES[goes.flux_to_class_index(peak_flux)] == "A"


def test_one_minute_means_are_what_event_lists_class(m25_day):
    peak_time, peak_flux = m25_day.peak()
    _, raw_flux = m25_day.peak(one_minute=False)
    assert peak_time == pd.Timestamp("2011-06-07 06:41")
    assert goes.flux_to_class(peak_flux) == "M2.5"
    assert goes.flux_to_class(raw_flux) == "M2.6"  # 3-s samples peak higher
    assert m25_day.to_scale("science").scale == "science"
    assert m25_day.to_scale("science").peak()[1] == pytest.approx(peak_flux / 0.7)


def test_flux_scale_of_each_satellite_and_product():
    assert goes.xrs_flux_scale(15, "legacy_fits") == "swpc"
    assert goes.xrs_flux_scale(13, "operational_netcdf") == "swpc"
    assert goes.xrs_flux_scale(15, "science") == "science"
    assert goes.xrs_flux_scale(16, "goes_r") == "goes_r"
    with pytest.raises(ValueError, match="GOES-16 is a GOES-R satellite"):
        goes.xrs_flux_scale(16, "science")
    with pytest.raises(ValueError, match="Unknown XRS product 'ops'"):
        goes.xrs_flux_scale(15, "ops")


def test_detection_on_a_hand_made_light_curve():
    # Background 1e-6; a 4-minute rise 1.0 -> 2.0 (x2 >= 1.4) to a 5e-6 peak,
    # then decay; the end is the first minute at or below (5e-6 + 1e-6) / 2.
    values = [1e-6, 1e-6, 1.0e-6, 1.3e-6, 1.6e-6, 2.0e-6, 5e-6, 4e-6, 3.2e-6, 3.0e-6, 2e-6, 1e-6]
    times = pd.date_range("2020-01-01", periods=len(values), freq="1min")
    series = goes.XRSSeries(times, values, values, 16, "goes_r", "goes_r", "hand-made")
    flare = _only_flare(series, 0.0)
    assert flare["start"] == times[2] and flare["peak"] == times[6]
    assert flare["end"] == times[9] and flare["goes_class"] == "C5.0"
    # A slow rise (x1.2 over four minutes) is not a flare.
    slow = [1e-6, 1.05e-6, 1.1e-6, 1.2e-6, 1.2e-6]
    slow_series = goes.XRSSeries(times[:5], slow, slow, 16, "goes_r", "goes_r")
    assert goes.detect_flares(slow_series).empty


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.nc"):
        goes.read_xrs(tmp_path / "nothing.nc")


@pytest.mark.shared_data
def test_event_list_rows_agree_with_the_test_flares():
    path = shared_data_file("events/swpc_flarelist_19960731_20181231.csv")
    if path is None:
        pytest.skip("../shared/data/events/swpc_flarelist_19960731_20181231.csv is absent.")
    table = pd.read_csv(path, index_col=0)
    for start, text in (("2011-06-07 06:16:00", "M2.5"), ("2012-06-01 22:30:00", "C3.3"),
                        ("2017-09-10 15:35:00", "X8.2")):
        row = table[table["start_time"] == start]
        assert row["goes_class"].tolist() == [text]


NGDC_CSV_HEAD = """\
: Data_list: g15_xrs_1m_20110607_20110607.csv
: Created: 2011-06-08
: Satellite: GOES-15
data:
time_tag,A_QUAL_FLAG,A_NUM_PTS,A_AVG,B_QUAL_FLAG,B_NUM_PTS,B_AVG
"""


def test_csv_export_of_the_m25_day_finds_the_same_flare(m25_day, tmp_path):
    # The same day as NOAA NGDC's operational one-minute CSV would hold it.
    minutes = m25_day.one_minute().to_dataframe()
    lines = [f"{time:%Y-%m-%d %H:%M:%S.000},0,30,{row.xrsa:.4e},0,30,{row.xrsb:.4e}"
             for time, row in minutes.iterrows()]
    path = tmp_path / "g15_xrs_1m_20110607_20110607.csv"
    path.write_text(NGDC_CSV_HEAD + "\n".join(lines) + "\n")
    series = goes.read_xrs_csv(path)
    assert (series.satellite, series.product, series.scale) == (
        15, "operational_netcdf", "swpc")
    flares = goes.detect_flares(series, min_peak_flux=1e-5)
    assert flares["goes_class"].tolist() == ["M2.5"]
    assert flares.loc[0, "peak"] == pd.Timestamp("2011-06-07 06:41")


def test_swpc_json_export_is_pivoted_per_band(tmp_path):
    import json

    records = []
    for minute, flux in enumerate([1e-6, 2e-6, 5e-6, 3e-6]):
        stamp = f"2025-03-28T15:1{minute}:00Z"
        records += [{"time_tag": stamp, "satellite": 18, "flux": flux, "energy": "0.1-0.8nm"},
                    {"time_tag": stamp, "satellite": 18, "flux": flux / 10,
                     "energy": "0.05-0.4nm"}]
    path = tmp_path / "xrays-1-day.json"
    path.write_text(json.dumps(records))
    series = goes.read_xrs_csv(path)
    assert (series.satellite, series.scale) == (18, "goes_r")
    np.testing.assert_allclose(series.flux, [1e-6, 2e-6, 5e-6, 3e-6])
    np.testing.assert_allclose(series.short_flux, [1e-7, 2e-7, 5e-7, 3e-7])
    assert series.times[0] == pd.Timestamp("2025-03-28 15:10")
