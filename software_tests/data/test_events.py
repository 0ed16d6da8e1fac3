"""Event lists in SWPC, NCEI and HEK layouts, HARP maps and the horizon labeller.

Small inline lists reproduce the faults of real ones (malformed times, a
decimal comma, a bare class letter, region 0 or blank, flares that run past
midnight); the real lists in ../shared/data/events are used when present.
"""

import importlib.util
import io

import numpy as np
import pandas as pd
import pytest

from flarekit.data import events as event_lists
from flarekit.data.real_files import REPOSITORY_ROOT, shared_data_file

SWPC_CSV = """\
date,event_no,start_time,max_time,end_time,goes_sat,goes_channel,goes_class_ind,goes_class,integrated_flux,noaa_ar,ts
0,20110607,3710,2011-06-07 06:16:00,0641,2011-06-07 06:59:00,G15,1-8A,M,M2.5,4.4E-02,11226,201106070616
1,19990111,6590,1999-01-11 22:59:00,////,1999-01-11 23:17:00,GO8,1-8A,C,C1.2,1.1E-03,0,199901112259
2,20020821,5640,2002-08-21 23:57:00,0001,2002-08-21 00:03:00,GO8,1-8A,C,C3.1,1.0E-03,10069,200208212357
3,20000101,1000,2000-01-01 10:00:00,1010,2000-01-01 10:20:00,GO8,1-8A,C,"C6,2",1.0E-03,8806,200001011000
4,20000102,1001,2000-01-02 10:00:00,1010,2000-01-02 10:20:00,SDO,1-8A,C,C   ,1.0E-03,8806,200001021000
5,20000103,1002,2000-01-03 10:00:00,1010,2000-01-03 10:20:00,GO8,1-8A,C,,1.0E-03,8806,200001031000
"""

NCEI_TEXT = """\
31777110607  0616 0659 0641 S22W54                         M2.5    GOES         11226
31777120601  2230 2302 2241                                C3.3    GOES             0
31777170910  1535 1631 1606 S08W88                         X8.2    GOES         12673
31777050115  0091 0130 0105                                M1.0    GOES         10720
31777050116  //:  0130 0105                                C1.0    GOES         10720
31777050117  2350 0010 0002 N10E10                         M       GOES         10720
"""

HEK_RECORDS = [
    {"event_starttime": "2011-02-15T01:44:00", "event_peaktime": "2011-02-15T01:56:00",
     "event_endtime": "2011-02-15T02:06:00", "fl_goescls": "X2.2", "ar_noaanum": 11158,
     "frm_name": "SWPC", "obs_observatory": "GOES"},
    {"event_starttime": "2019-05-06T05:04:00", "event_peaktime": "2019-05-06T05:10:00",
     "event_endtime": "2019-05-06T05:13:00", "fl_goescls": "C9.9", "ar_noaanum": 0,
     "frm_name": "SWPC", "obs_observatory": "GOES"},
    {"event_starttime": "2025-03-28T14:57:00", "event_peaktime": "2025-03-28T15:20:00",
     "event_endtime": "2025-03-28T15:34:00", "fl_goescls": "X1.1", "ar_noaanum": 14046,
     "frm_name": "SWPC", "obs_observatory": "GOES"},
    {"event_starttime": "2025-03-29T00:91Z", "event_peaktime": "2025-03-29T01:00:00",
     "event_endtime": "", "fl_goescls": "C1.0", "ar_noaanum": 14046,
     "frm_name": "SWPC", "obs_observatory": "GOES"},
]


def _swpc():
    return event_lists.read_event_list(pd.read_csv(io.StringIO(SWPC_CSV), dtype=str,
                                                   keep_default_na=False))


def test_swpc_layout_repairs_and_drops_are_counted():
    table, report = _swpc()
    assert report.layout == "swpc" and report.rows_read == 6 and report.rows_kept == 4
    assert report.dropped == {"malformed_peak_time": 1, "missing_class": 1}
    assert report.examples["malformed_peak_time"] == ["////"]
    assert report.repaired["decimal_comma_in_class"] == 1
    assert report.repaired["bare_class_letter"] == 1
    # Region 0 is on the C1.2 row, which is dropped first for its peak time.
    assert "unassigned_noaa_ar" not in report.repaired
    m25 = table[table["goes_class"] == "M2.5"].iloc[0]
    assert m25["peak"] == pd.Timestamp("2011-06-07 06:41")
    assert m25["noaa_ar"] == 11226 and m25["scale"] == "swpc" and m25["satellite"] == 15
    # 23:57 start, peak 00:01 and end 00:03 the next day.
    crossing = table[table["goes_class"] == "C3.1"].iloc[0]
    assert crossing["peak"] == pd.Timestamp("2002-08-22 00:01")
    assert crossing["end"] == pd.Timestamp("2002-08-22 00:03")
    assert report.repaired["peak_after_midnight"] == 1
    assert report.repaired["end_after_midnight"] == 1
    assert set(table["goes_class"]) == {"M2.5", "C3.1", "C6.2", "C1.0"}
    # The 'SDO' row has no GOES number; before 2020 its class is on the SWPC scale.
    assert table[table["goes_class"] == "C1.0"]["satellite"].isna().all()
    assert set(table["scale"]) == {"swpc"}


def test_swpc_region_zero_is_unassigned(tmp_path):
    path = tmp_path / "list.csv"
    path.write_text(SWPC_CSV.replace(",11226,", ",0,"))
    table, report = event_lists.read_event_list(path)
    assert report.repaired["unassigned_noaa_ar"] == 1
    assert table.loc[table["goes_class"] == "M2.5", "noaa_ar"].isna().all()


def test_ncei_fixed_width_reports(tmp_path):
    path = tmp_path / "goes-xrs-report.txt"
    path.write_text(NCEI_TEXT)
    table, report = event_lists.read_event_list(path)
    assert report.layout == "ncei" and report.rows_read == 6 and report.rows_kept == 4
    assert report.dropped == {"malformed_start_time": 2}
    assert report.examples["malformed_start_time"] == ["0091", "//: "]
    assert report.repaired["bare_class_letter"] == 1
    x82 = table[table["goes_class"] == "X8.2"].iloc[0]
    assert (x82["start"], x82["peak"], x82["end"]) == (
        pd.Timestamp("2017-09-10 15:35"), pd.Timestamp("2017-09-10 16:06"),
        pd.Timestamp("2017-09-10 16:31"))
    assert x82["noaa_ar"] == 12673
    assert table.loc[table["goes_class"] == "C3.3", "noaa_ar"].isna().all()
    bare = table[table["goes_class"] == "M1.0"].iloc[0]
    assert bare["peak"] == pd.Timestamp("2005-01-18 00:02")


def test_hek_records_and_scales():
    table, report = event_lists.read_event_list(HEK_RECORDS)
    assert report.layout == "hek" and report.rows_kept == 3
    assert report.dropped == {"malformed_start_time": 1}
    assert report.repaired["unassigned_noaa_ar"] == 1
    scales = dict(zip(table["goes_class"], table["scale"]))
    # Before 2020 a GOES class carries the SWPC factor; from 2020, true flux.
    assert scales == {"X2.2": "swpc", "C9.9": "swpc", "X1.1": "goes_r"}


def test_hek_astropy_table_as_sunpy_returns_it():
    from astropy.table import Table
    from astropy.time import Time

    records = HEK_RECORDS[:1]
    table = Table({
        "event_starttime": Time([records[0]["event_starttime"]]),
        "event_peaktime": Time([records[0]["event_peaktime"]]),
        "event_endtime": Time([records[0]["event_endtime"]]),
        "fl_goescls": [records[0]["fl_goescls"]],
        "ar_noaanum": [records[0]["ar_noaanum"]],
    })
    parsed, _ = event_lists.read_event_list(table)
    assert parsed.iloc[0]["peak"] == pd.Timestamp("2011-02-15 01:56")
    assert parsed.iloc[0]["noaa_ar"] == 11158


def test_unknown_layout_names_the_columns():
    with pytest.raises(ValueError, match=r"cannot tell the event-list layout.*'when'"):
        event_lists.read_event_list(pd.DataFrame({"when": ["2011"], "what": ["M1"]}))


@pytest.mark.parametrize(("text", "expected"), [
    ("M2.5", "M2.5"), ("C6,2", "C6.2"), ("X14.", "X14.0"), ("c1  ", "C1.0"), ("M", "M1.0"),
    ("??", None), ("", None), ("M0", None)])
def test_parse_goes_class(text, expected):
    assert event_lists.parse_goes_class(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("0641", (6, 41, 0)), ("06:41Z", (6, 41, 0)), ("6:41", (6, 41, 0)),
    ("00:91Z", None), ("//:", None), ("////", None), ("2460", None)])
def test_parse_clock(text, expected):
    assert event_lists.parse_clock(text) == expected


def _hand_events():
    # Three flares; times chosen to sit exactly on window edges.
    return pd.DataFrame({
        "start": pd.to_datetime(["2020-01-01 23:50", "2020-01-02 05:00", "2020-01-02 10:00"]),
        "peak": pd.to_datetime(["2020-01-02 00:00", "2020-01-02 05:30", "2020-01-03 00:00"]),
        "end": pd.to_datetime(["2020-01-02 00:10", "2020-01-02 06:00", "2020-01-03 00:30"]),
        "goes_class": ["M2.0", "C5.0", "X1.0"],
        "peak_flux": [2e-5, 5e-6, 1e-4],
        "scale": ["goes_r"] * 3,
        "noaa_ar": pd.array([12000, 12001, pd.NA], dtype="Int64"),
        "satellite": pd.array([16, 16, 16], dtype="Int64"),
        "source": ["hand"] * 3,
    })


def _samples(times, regions):
    return pd.DataFrame({"timestamp": [pd.Timestamp(t).value // 10**9 for t in times],
                         "region": regions})


def test_labeller_window_edges_and_rules():
    events = _hand_events()
    samples = _samples(["2020-01-01 00:00"], ["disk"])
    # (t, t+24h]: the M2.0 peaking at exactly t+24h is in; with [t, t+24h) out.
    labelled, report = event_lists.label_samples(events, samples, 24, "M1.0")
    assert labelled.loc[0, "peak_flux"] == 2e-5 and labelled.loc[0, "label"] == 1
    assert report["scale"] == "goes_r" and report["boundaries"] == "(]"
    labelled, _ = event_lists.label_samples(events, samples, 24, "M1.0", boundaries="[)")
    assert labelled.loc[0, "peak_flux"] == event_lists.QUIET_FLUX
    assert labelled.loc[0, "goes_class"] == "quiet" and labelled.loc[0, "label"] == 0
    # By start time the M2.0 (start 23:50) is inside even with "[)".
    labelled, _ = event_lists.label_samples(events, samples, 24, "M1.0", window="start",
                                            boundaries="[)")
    assert labelled.loc[0, "goes_class"] == "M2.0"
    # A sample at the peak itself: "(]" leaves the flare to the past.
    at_peak = _samples(["2020-01-02 00:00"], ["disk"])
    labelled, _ = event_lists.label_samples(events, at_peak, 24, "M1.0")
    assert labelled.loc[0, "goes_class"] == "X1.0" and labelled.loc[0, "n_flares"] == 2
    labelled, _ = event_lists.label_samples(events, at_peak, 23.5, "M1.0")
    assert labelled.loc[0, "goes_class"] == "C5.0" and labelled.loc[0, "label"] == 0


def test_labeller_regions_harps_and_unassigned_flares():
    events = _hand_events()
    samples = _samples(["2020-01-01 12:00"] * 4, ["12000", "12001", "HARP7", "disk"])
    harp_map = event_lists.HarpNoaaMap({7: [12000, 12001]})
    labelled, report = event_lists.label_samples(events, samples, 48, "C1.0",
                                                 harp_map=harp_map)
    assert labelled["goes_class"].tolist() == ["M2.0", "C5.0", "M2.0", "X1.0"]
    assert labelled["n_flares"].tolist() == [1, 1, 2, 3]
    # The X1.0 has no region: it counts for the disk only, and is reported.
    assert report["events_without_region"] == 1
    with pytest.raises(ValueError, match="HARP7.*harp_map"):
        event_lists.label_samples(events, samples, 48, "C1.0")


def test_labeller_converts_scales_and_refuses_mixed_ones():
    events = _hand_events()
    events.loc[0, "scale"] = "swpc"  # an SWPC M2.0 is a true M2.86
    samples = _samples(["2020-01-01 00:00"], ["disk"])
    with pytest.raises(ValueError, match="mix flux scales.*trap 6"):
        event_lists.label_samples(events, samples, 24, "M1.0")
    labelled, _ = event_lists.label_samples(events, samples, 24, "M1.0", scale="goes_r")
    assert labelled.loc[0, "peak_flux"] == pytest.approx(2e-5 / 0.7)
    labelled, _ = event_lists.label_samples(events, samples, 24, "M2.5", scale="swpc")
    assert labelled.loc[0, "label"] == 0


def test_labeller_rejects_bad_settings():
    events, samples = _hand_events(), _samples(["2020-01-01"], ["disk"])
    for settings, message in (({"window": "end"}, "window must be"),
                              ({"boundaries": "[["}, "boundaries must be"),
                              ({"horizon_hours": 0}, "horizon_hours must be positive")):
        with pytest.raises(ValueError, match=message):
            event_lists.label_samples(events, samples, **{"threshold": "M1.0", **settings})
    with pytest.raises(ValueError, match="'sunspot'"):
        event_lists.label_samples(events, _samples(["2020-01-01"], ["sunspot"]))


def test_harp_map_file_and_headers(tmp_path):
    path = tmp_path / "all_harps_with_noaa_ars.txt"
    path.write_text("HARPNUM NOAA_ARS\n377 11158\n401 11162,11163\n")
    mapping = event_lists.HarpNoaaMap.from_file(path)
    assert mapping.noaa_of(401) == [11162, 11163] and mapping.harps_of(11158) == [377]
    assert len(mapping) == 2
    path.write_text("HARPNUM NOAA_ARS\n377 AR11158\n")
    with pytest.raises(ValueError, match=r"all_harps_with_noaa_ars.txt:2"):
        event_lists.HarpNoaaMap.from_file(path)
    from_headers = event_lists.HarpNoaaMap.from_headers(
        [{"HARPNUM": 377, "NOAA_ARS": "11158"}, {"HARPNUM": 9, "NOAA_ARS": "0"}])
    assert from_headers.noaa_of(377) == [11158] and from_headers.noaa_of(9) == []


def test_make_labels_tool(tmp_path, capsys):
    events_path = tmp_path / "events.csv"
    events_path.write_text(SWPC_CSV)
    samples_path = tmp_path / "samples.csv"
    _samples(["2011-06-06 12:00", "2011-06-07 07:00"], ["11226", "disk"]).to_csv(
        samples_path, index=False)
    output = tmp_path / "labels.csv"
    spec = importlib.util.spec_from_file_location(
        "make_labels", REPOSITORY_ROOT / "tools" / "make_labels.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    summary = tool.main(["--events", str(events_path), "--samples", str(samples_path),
                         "--output", str(output), "--threshold", "M1.0",
                         "--scale", "swpc"])
    labelled = pd.read_csv(output)
    assert labelled["label"].tolist() == [1, 0]
    assert labelled["goes_class"].tolist() == ["M2.5", "quiet"]
    assert summary["event_list"]["dropped"] == {"malformed_peak_time": 1, "missing_class": 1}
    assert '"malformed_peak_time": 1' in capsys.readouterr().out


@pytest.fixture(scope="module")
def swpc_list():
    path = shared_data_file("events/swpc_flarelist_19960731_20181231.csv")
    if path is None:
        pytest.skip("../shared/data/events/swpc_flarelist_19960731_20181231.csv is absent.")
    return event_lists.read_event_list(path)


@pytest.mark.shared_data
def test_real_swpc_list_report(swpc_list):
    table, report = swpc_list
    assert report.rows_read == 23285
    # Four C-class rows put the end before the peak (e.g. line 5456: start
    # 10:22, max 1034, end 10:31); which time is wrong is unknown.
    assert report.dropped == {"malformed_peak_time": 14, "end_before_peak": 4}
    assert report.rows["end_before_peak"] == [346, 428, 5456, 12302]
    assert report.repaired["unassigned_noaa_ar"] == 6720
    # Clock-time peaks before the start run past midnight (line 85: start
    # 23:42, max 0003).
    assert report.repaired["peak_after_midnight"] == 163
    assert 85 in report.rows["peak_after_midnight"]
    assert report.repaired["bare_class_letter"] == 3
    assert report.repaired["decimal_comma_in_class"] == 2
    assert set(table["scale"]) == {"swpc"}
    counts = table["goes_class"].str[0].value_counts()
    # PROVENANCE counts 2,185 M and 174 X; one M row has peak time '////'.
    assert (counts["M"], counts["X"]) == (2184, 174)


@pytest.mark.shared_data
def test_real_lists_agree_on_the_x22_of_ar_11158(swpc_list):
    path = shared_data_file("events/final_flare_list_sc24.csv")
    if path is None:
        pytest.skip("../shared/data/events/final_flare_list_sc24.csv is absent.")
    sc24, report = event_lists.read_event_list(path)
    assert report.layout == "hek" and report.repaired["unassigned_noaa_ar"] == 937
    swpc, _ = swpc_list
    samples = _samples(["2011-02-14 12:00", "2011-02-15 02:00"], ["HARP377", "HARP377"])
    harp_map = event_lists.HarpNoaaMap({377: [11158]})
    for table in (swpc, sc24):
        labelled, _ = event_lists.label_samples(table, samples, 24, "M1.0", scale="swpc",
                                                harp_map=harp_map)
        # Before the X2.2 (peak 01:56) the patch is positive; after it, within
        # 24 h, AR 11158 gave no further >= M1 flare.
        assert labelled["goes_class"].tolist()[0] == "X2.2"
        assert labelled["label"].tolist() == [1, 0]
    disk = _samples(pd.date_range("2011-01-01", "2011-12-31", freq="D"), ["disk"] * 365)
    labelled, _ = event_lists.label_samples(swpc, disk, 24, "M1.0", scale="swpc")
    assert 0.1 < labelled["label"].mean() < 0.3
    assert np.all(labelled["peak_flux"] >= event_lists.QUIET_FLUX)


HUMAN_CSV = """\
Flare Class,Start Time,Peak Time,End Time,Active Region Number
X2.2,2011-02-15 01:44,2011-02-15 01:56,2011-02-15 02:06,11158
M6.6,2011-02-13 17:28,2011-02-13 17:38,2011-02-13 17:47,11158
C4.8,2011-02-15 23:50,00:05,00:20,
"""

SWPC_EVENTS_TEXT = """\
:Product: 20110215events.txt
:Created: 2011 Feb 16 0357 UT
:Date: 2011 02 15
# Prepared by the U.S. Dept. of Commerce, NOAA, Space Weather Prediction Center
#
# Missing data: ////
#                            Edited Events for 2011 Feb 15
#
#Event    Begin    Max       End  Obs  Q  Type  Loc/Frq   Particulars       Reg#
#-------------------------------------------------------------------------------

6870       0144   0156      0206  G15  5   XRA  1-8A      X2.2    6.0E-01   1158
6870 +     0146   0150      0156  SVI  C   RSP  025-180   II/2             1158
6880      B2350   0003     0020A  G15  5   XRA  1-8A      C1.1    1.1E-03
6890       0430   ////      0450  G15  5   XRA  1-8A      C2.0    1.0E-03   1158
6900       0500   0510      0520  G15  5   XRA  0.5-4A    B5.0    1.0E-04   1158
"""


def test_human_column_names_are_recognised(tmp_path):
    path = tmp_path / "noaa_flares.csv"
    path.write_text(HUMAN_CSV)
    table, report = event_lists.read_event_list(path)
    assert report.layout == "columns" and report.rows_kept == 3
    assert report.columns["class"] == "Flare Class"
    assert report.columns["region"] == "Active Region Number"
    x22 = table[table["goes_class"] == "X2.2"].iloc[0]
    assert x22["peak"] == pd.Timestamp("2011-02-15 01:56") and x22["noaa_ar"] == 11158
    # Clock times take the row's date, and the next day past midnight.
    c48 = table[table["goes_class"] == "C4.8"].iloc[0]
    assert (c48["peak"], c48["end"]) == (pd.Timestamp("2011-02-16 00:05"),
                                         pd.Timestamp("2011-02-16 00:20"))
    assert report.rows["peak_after_midnight"] == [4]


def test_explicit_column_map(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("cls;t0;tmax\n".replace(";", ",") + "M1.0,2011-02-16T14:19Z,"
                    "2011-02-16T14:25:00.500Z\n")
    with pytest.raises(ValueError, match="cannot tell the event-list layout"):
        event_lists.read_event_list(path)
    table, report = event_lists.read_event_list(path, columns="class=cls,start=t0,peak=tmax")
    assert report.layout == "columns" and report.columns == {
        "class": "cls", "start": "t0", "peak": "tmax"}
    assert table.loc[0, "peak"] == pd.Timestamp("2011-02-16 14:25:00.5")


def test_swpc_edited_events(tmp_path):
    path = tmp_path / "20110215events.txt"
    path.write_text(SWPC_EVENTS_TEXT)
    table, report = event_lists.read_event_list(path)
    assert report.layout == "swpc_events" and report.rows_read == 3
    assert report.dropped == {"malformed_peak_time": 1}
    assert report.rows["malformed_peak_time"] == [15]
    x22 = table[table["goes_class"] == "X2.2"].iloc[0]
    assert (x22["start"], x22["peak"], x22["end"]) == (
        pd.Timestamp("2011-02-15 01:44"), pd.Timestamp("2011-02-15 01:56"),
        pd.Timestamp("2011-02-15 02:06"))
    # Four-digit region numbers after June 2002 are 1xxxx.
    assert x22["noaa_ar"] == 11158 and x22["satellite"] == 15
    c11 = table[table["goes_class"] == "C1.1"].iloc[0]
    assert c11["peak"] == pd.Timestamp("2011-02-16 00:03") and pd.isna(c11["noaa_ar"])
    assert report.repaired["start_time_is_a_bound"] == 1
    assert report.repaired["end_time_is_a_bound"] == 1


def test_sample_times_mixed_precision_z_and_tai():
    # What pandas.Timestamp.isoformat writes: microseconds only where nonzero.
    stamps = [pd.Timestamp("2011-02-14T12:00:00"), pd.Timestamp("2011-02-14T12:00:00.5")]
    samples = pd.DataFrame({
        "timestamp": [stamps[0].isoformat(), stamps[1].isoformat(), "2011-02-14T12:00:00Z",
                      "20110214_120034_TAI", "2011-02-14"],
        "region": ["disk"] * 5})
    times, conventions, bad = event_lists.sample_times(samples["timestamp"])
    assert not bad
    assert list(conventions) == ["iso_utc", "iso_utc", "iso_utc_z", "tai_suffix",
                                 "iso_date_utc"]
    # TAI - UTC was 34 s in 2011.
    assert times[3] == np.datetime64("2011-02-14T12:00:00")
    assert times[1] == np.datetime64("2011-02-14T12:00:00.500")
    declared, conventions, _ = event_lists.sample_times(samples["timestamp"][:1], "tai")
    assert declared[0] == np.datetime64("2011-02-14T11:59:26")
    assert list(conventions) == ["iso_tai"]
    events, _ = event_lists.read_event_list(HEK_RECORDS[:1])
    labelled, report = event_lists.label_samples(events, samples, 24, "M1.0")
    # The date alone is midnight: the X2.2 at 01:56 the next day is past 24 h.
    assert labelled["label"].tolist() == [1, 1, 1, 1, 0]
    assert report["time_conventions"] == {"iso_date_utc": 1, "iso_utc": 2, "iso_utc_z": 1,
                                          "tai_suffix": 1}


@pytest.mark.shared_data
def test_real_sc24_list_under_human_column_names(tmp_path):
    source = shared_data_file("events/final_flare_list_sc24.csv")
    if source is None:
        pytest.skip("../shared/data/events/final_flare_list_sc24.csv is absent.")
    hek, hek_report = event_lists.read_event_list(source)
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    renamed = frame.rename(columns={
        "event_starttime": "Start Time", "event_peaktime": "Peak Time",
        "event_endtime": "End Time", "goes_class": "Flare Class",
        "noaa_ar": "Active Region Number"})
    path = tmp_path / "sc24_human.csv"
    renamed.to_csv(path, index=False)
    human, report = event_lists.read_event_list(path)
    assert report.layout == "columns" and report.rows_kept == hek_report.rows_kept == 8606
    for column in ("start", "peak", "end", "goes_class", "noaa_ar"):
        assert human[column].equals(hek[column])
    # The list composes peak and end dates from the start's day: 75 peaks
    # and 140 ends run past midnight, and are moved a day on.
    assert report.repaired["peak_after_midnight"] == 75
    assert report.repaired["end_after_midnight"] == 140
