"""Broken event lists, sample files, GOES files, SHARP labels and FITS headers.

Each case gets an error naming the file and the field (column, row or line,
keyword, variable), or, where the user asked for skipping, a counted skip
with its reason, while the valid rows of the same file are kept. One test
per case; every file is written into tmp_path (the GOES ones are damaged
copies of the real files sunpy and sunkit-instruments ship).
"""

import shutil

import numpy as np
import pandas as pd
import pytest

from flarekit.data import archives, events, fits, goes
from flarekit.data.real_files import package_test_file

GOOD_ROW = "2011-02-15 01:44:00,01:56,02:06,X2.2,11158,G15"
HEADER = "start_time,max_time,end_time,goes_class,noaa_ar,goes_sat"


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def _swpc(tmp_path, *rows):
    return _write(tmp_path, "flares.csv", "\n".join([HEADER, GOOD_ROW, *rows]) + "\n")


# ---- event-list files -------------------------------------------------------------


def test_empty_event_list_names_the_file(tmp_path):
    path = _write(tmp_path, "empty.csv", "\n\n")
    with pytest.raises(ValueError, match=r"empty\.csv: the event list is empty"):
        events.read_event_list(path)


def test_header_only_event_list_names_the_file(tmp_path):
    path = _write(tmp_path, "header.csv", HEADER + "\n")
    with pytest.raises(ValueError, match=r"header\.csv: has a header .*but no rows"):
        events.read_event_list(path)


def test_ragged_row_names_file_and_line(tmp_path):
    path = _swpc(tmp_path, "2011-02-16 01:00:00,01:10,01:20,M1.0,11158,G15,extra")
    with pytest.raises(ValueError, match=r"flares\.csv:3: 7 fields where the header"):
        events.read_event_list(path)


def test_ragged_row_skipped_when_asked_is_counted(tmp_path):
    path = _swpc(tmp_path, "2011-02-16 01:00:00,01:10", "2011-02-17 01:00:00,01:10,"
                 "01:20,M1.0,11158,G15")
    table, report = events.read_event_list(path, skip_bad_rows=True)
    assert report.dropped == {"ragged_row": 1} and report.rows["ragged_row"] == [3]
    assert table["goes_class"].tolist() == ["X2.2", "M1.0"]


def test_unknown_columns_name_the_file_and_the_way_out(tmp_path):
    path = _write(tmp_path, "mine.csv", "when,what\n2011-02-15 01:44,X2.2\n")
    with pytest.raises(ValueError, match=r"mine\.csv: cannot tell .*'what', 'when'.*--columns"):
        events.read_event_list(path)


def test_column_map_naming_a_missing_column(tmp_path):
    path = _write(tmp_path, "mine.csv", "Flare Class,Start Time,Peak Time\n"
                  "X2.2,2011-02-15 01:44,2011-02-15 01:56\n")
    with pytest.raises(ValueError, match=r"mine\.csv: the column map gives peak='Max'"):
        events.read_event_list(path, columns="class=Flare Class,start=Start Time,peak=Max")


def test_column_map_with_an_unknown_role():
    with pytest.raises(ValueError, match=r"Unknown column role 'flux'"):
        events.parse_column_map("class=Flare Class,flux=Peak Flux")


def test_relative_and_date_only_start_times_are_counted_with_rows(tmp_path):
    path = _swpc(tmp_path, "now,01:10,01:20,M1.0,11158,G15", "today,01:10,01:20,M1.0,,G15",
                 "2011,01:10,01:20,M1.0,,G15")
    table, report = events.read_event_list(path)
    assert report.dropped == {"relative_start_time": 2, "date_only_start_time": 1}
    assert report.rows == {"relative_start_time": [3, 4], "date_only_start_time": [5]}
    assert table["goes_class"].tolist() == ["X2.2"]
    assert "relative_start_time 2 (lines 3, 4)" in report.summary()


def test_ambiguous_day_month_start_is_refused(tmp_path):
    path = _swpc(tmp_path, "02/03/2011,01:10,01:20,M1.0,11158,G15",
                 "02/03/2011 01:00,01:10,01:20,M1.0,11158,G15",
                 "15/03/2011 01:00,01:10,01:20,M2.0,11158,G15")
    table, report = events.read_event_list(path)
    assert report.dropped == {"ambiguous_start_time": 2}
    assert report.rows["ambiguous_start_time"] == [3, 4]
    # 15 cannot be a month: the day/month order is certain.
    assert table.loc[table["goes_class"] == "M2.0", "peak"].tolist() == [
        pd.Timestamp("2011-03-15 01:10")]


def test_clock_end_takes_the_rows_own_date(tmp_path):
    path = _swpc(tmp_path)
    table, _ = events.read_event_list(path)
    assert table.loc[0, "end"] == pd.Timestamp("2011-02-15 02:06")


def test_hek_peak_a_day_before_start_is_refused_not_repaired():
    records = [
        {"event_starttime": "2011-02-15T01:44:00", "event_peaktime": "2011-02-14T01:56:00",
         "event_endtime": "2011-02-15T02:06:00", "fl_goescls": "X2.2", "ar_noaanum": 11158},
        {"event_starttime": "2011-02-15T23:50:00", "event_peaktime": "2011-02-15T00:05:00",
         "event_endtime": "2011-02-15T00:20:00", "fl_goescls": "M1.0", "ar_noaanum": 11158},
    ]
    table, report = events.read_event_list(records)
    assert report.dropped == {"peak_before_start": 1} and report.rows["peak_before_start"] == [1]
    # Same date, earlier clock, 15 min after the start once moved: past midnight.
    assert table["peak"].tolist() == [pd.Timestamp("2011-02-16 00:05")]
    assert report.repaired["peak_after_midnight"] == 1


def test_end_before_peak_drops_only_that_row(tmp_path):
    path = _swpc(tmp_path, "2000-09-16 10:22:00,1034,2000-09-16 10:31:00,C2.4,0,GO8")
    table, report = events.read_event_list(path)
    assert report.dropped == {"end_before_peak": 1} and report.rows["end_before_peak"] == [3]
    assert table["goes_class"].tolist() == ["X2.2"]


def test_swpc_events_report_without_a_date(tmp_path):
    path = _write(tmp_path, "report.txt", "#Event    Begin    Max       End  Obs  Q  Type  "
                  "Loc/Frq   Particulars       Reg#\n6870       0144   0156      0206  G15  "
                  "5   XRA  1-8A      X2.2    6.0E-01   1158\n")
    with pytest.raises(ValueError, match=r"report\.txt:2: an event before any ':Date:"):
        events.read_event_list(path)


# ---- samples to label ---------------------------------------------------------------


def _events():
    return events.read_event_list([
        {"event_starttime": "2011-02-15T01:44:00", "event_peaktime": "2011-02-15T01:56:00",
         "event_endtime": "2011-02-15T02:06:00", "fl_goescls": "X2.2", "ar_noaanum": 11158}])[0]


def test_unreadable_sample_times_name_file_column_and_lines(tmp_path):
    samples = _write(tmp_path, "samples.csv", "timestamp,region\n2011-02-14T12:00:00,disk\n"
                     "yesterday,disk\n02/03/2011 10:00,disk\n")
    events_path = _write(tmp_path, "flares.csv", HEADER + "\n" + GOOD_ROW + "\n")
    with pytest.raises(ValueError, match=r"samples\.csv: column 'timestamp': 2 time\(s\) "
                       r"cannot be read: line 3 'yesterday' \(relative time\); line 4"):
        events.label_sample_file(samples, events_path, tmp_path / "out.csv")


def test_unreadable_sample_times_skipped_when_asked(tmp_path):
    samples = pd.DataFrame({"timestamp": ["2011-02-14T12:00:00", "01:00", "2011-02-14T13:00Z"],
                            "region": ["disk"] * 3})
    labelled, report = events.label_samples(_events(), samples, 24, "M1.0",
                                            skip_bad_times=True)
    assert report["samples_skipped"] == {
        "clock time without a date": {"count": 1, "rows": [2]}}
    assert labelled["label"].tolist() == [1, 1]
    assert labelled["time_convention"].tolist() == ["iso_utc", "iso_utc_z"]


def test_samples_file_without_region_column(tmp_path):
    samples = _write(tmp_path, "samples.csv", "timestamp\n1297728000\n")
    events_path = _write(tmp_path, "flares.csv", HEADER + "\n" + GOOD_ROW + "\n")
    with pytest.raises(ValueError, match=r"samples\.csv: no 'region' column"):
        events.label_sample_file(samples, events_path, tmp_path / "out.csv")


def test_empty_samples_file(tmp_path):
    samples = _write(tmp_path, "samples.csv", "")
    events_path = _write(tmp_path, "flares.csv", HEADER + "\n" + GOOD_ROW + "\n")
    with pytest.raises(ValueError, match=r"samples\.csv: the file is empty"):
        events.label_sample_file(samples, events_path, tmp_path / "out.csv")


# ---- GOES XRS files ---------------------------------------------------------------


def _netcdf_without(tmp_path, variable):
    h5py = pytest.importorskip("h5py")
    source = package_test_file(
        "sunkit_instruments", "sci_xrsf-l2-flx1s_g16_d20170910_v2-1-0_truncated.nc")
    if source is None:
        pytest.skip("sunkit-instruments==0.6.2 test files are not installed.")
    path = tmp_path / source.name
    shutil.copy(source, path)
    with h5py.File(path, "r+") as handle:
        del handle[variable]
    return path


@pytest.mark.parametrize("variable", ["xrsb_flux", "xrsb_flags", "time"])
def test_netcdf_missing_variable_is_named(tmp_path, variable):
    path = _netcdf_without(tmp_path, variable)
    with pytest.raises(ValueError, match=rf"{path.name}: no .*'{variable}'") as error:
        goes.read_xrs(path)
    assert str(path) in str(error.value)


def test_truncated_legacy_fits_names_the_file(tmp_path):
    source = package_test_file("sunpy", "go1520110607.fits")
    if source is None:
        pytest.skip("sunpy==7.0.5 test files are not installed.")
    path = tmp_path / "go1520110607.fits"
    path.write_bytes(source.read_bytes()[:20000])
    with pytest.raises(ValueError, match=r"go1520110607\.fits: not a readable GOES XRS "
                       r"legacy FITS file \(20000 bytes.*flux table, HDU 2"):
        goes.read_xrs(path)


def test_goes_csv_without_flux_column(tmp_path):
    path = _write(tmp_path, "g15_xrs.csv", "time_tag,A_FLUX\n2011-06-07 00:00:00,1e-8\n")
    with pytest.raises(ValueError, match=r"g15_xrs\.csv: no xrsb column.*'A_FLUX'"):
        goes.read_xrs_csv(path)


def test_goes_csv_bad_time_names_line(tmp_path):
    path = _write(tmp_path, "g15_xrs.csv", "time_tag,B_FLUX\n2011-06-07 00:00:00,1e-6\n"
                  "yesterday,1e-6\n")
    with pytest.raises(ValueError, match=r"g15_xrs\.csv: column 'time_tag': 1 time\(s\).*"
                       r"line 3 'yesterday'"):
        goes.read_xrs_csv(path)


def test_goes_csv_unknown_satellite(tmp_path):
    path = _write(tmp_path, "export.csv", "time,xrsb\n2011-06-07 00:00:00,1e-6\n")
    with pytest.raises(ValueError, match=r"export\.csv: cannot tell the GOES satellite"):
        goes.read_xrs_csv(path)


def test_goes_csv_bad_values_are_masked_and_counted(tmp_path):
    path = _write(tmp_path, "g15_xrs.csv", "time_tag,B_FLUX,B_QUAL_FLAG\n"
                  "2011-06-07 00:00:00,1e-6,0\n2011-06-07 00:00:02,oops,0\n"
                  "2011-06-07 00:00:04,-99999,0\n2011-06-07 00:00:06,2e-6,1\n"
                  "2011-06-07 00:00:08,3e-6,0\n")
    series = goes.read_xrs_csv(path)
    assert series.masked == {"missing_or_fill": 1, "not_a_number": 1, "quality_flag": 1}
    np.testing.assert_allclose(series.flux, [1e-6, np.nan, np.nan, np.nan, 3e-6])


# ---- SHARP labels and FITS headers ----------------------------------------------------


def test_sharp_label_with_a_bad_name_names_file_and_line(tmp_path):
    path = _write(tmp_path, "labels_24h.txt",
                  "hmi.sharp_720s.377.20110215_000000_TAI.magnetogram 1\nframe_0001.jpg 0\n")
    with pytest.raises(ValueError, match=r"labels_24h\.txt:2: 'frame_0001\.jpg' is neither"):
        archives.read_sharp_labels(path)


def test_sharp_sequence_with_wrong_span(tmp_path):
    path = _write(tmp_path, "labels_48h.txt",
                  "hmi.sharp_720s.377.20110214_120000_TAI.to.20110215_000000_TAI 1\n")
    with pytest.raises(ValueError, match=r"labels_48h\.txt:1: sequence .* spans 12:00:00"):
        archives.read_sharp_labels(path)


def test_rsun_obs_not_a_number_names_file_and_keyword():
    header = {"CTYPE1": "HPLN-TAN", "CTYPE2": "HPLT-TAN", "CDELT1": 0.6, "CDELT2": 0.6,
              "CUNIT1": "arcsec", "RSUN_OBS": "nine hundred"}
    with pytest.raises(ValueError, match=r"aia\.fits: header keyword RSUN_OBS = "
                       r"'nine hundred' is not a number"):
        fits.disk_geometry(header, (16, 16), "aia.fits")
