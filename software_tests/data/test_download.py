"""Download tools against recorded service responses; the network is never used.

Every test replaces the HTTP layer with a fake that serves files from
`software_tests/data/recorded/` and records the URLs asked for; a request
for anything else fails the test.
"""

import datetime
import importlib.util
import io
import json
import urllib.request
from pathlib import Path

import pytest

from flarekit.data import download, events, goes
from flarekit.data.real_files import REPOSITORY_ROOT, package_test_file

RECORDED = Path(__file__).parent / "recorded"


def _tool(name):
    spec = importlib.util.spec_from_file_location(name, REPOSITORY_ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"a test tried to use the network: {args[:1]}")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def test_goes_urls_follow_the_ncei_layout():
    day = datetime.date(2017, 9, 10)
    assert download.goes_directory_url(16, day) == (
        "https://data.ngdc.noaa.gov/platforms/solar-space-observing-satellites/goes/goes16/"
        "l2/data/xrsf-l2-flx1s_science/2017/09/")
    assert download.goes_directory_url(15, day).endswith(
        "/science/xrs/goes15/gxrs-l2-irrad_science/2017/09/")
    assert download.goes_directory_url(15, day, "avg1m").endswith(
        "/science/xrs/goes15/xrsf-l2-avg1m_science/2017/09/")
    with pytest.raises(ValueError, match="GOES-10 has no 2-s science files"):
        download.goes_directory_url(10, day)
    with pytest.raises(ValueError, match="resolution must be"):
        download.goes_directory_url(16, day, "5min")


def test_download_goes_picks_newest_version_and_reports_missing_days(tmp_path):
    listing = (RECORDED / "goes16_xrsf-l2-flx1s_science_2017_09_listing.html").read_bytes()
    real = package_test_file("sunkit_instruments",
                             "sci_xrsf-l2-flx1s_g16_d20170910_v2-1-0_truncated.nc")
    asked = []

    def fetch(url):
        asked.append(url)
        if url.endswith("/2017/09/"):
            return listing
        if url.endswith(".nc"):
            # The recorded body of a file: the real GOES-16 file from the wheel
            # when installed, else a placeholder.
            return real.read_bytes() if real else b"netCDF placeholder"
        raise AssertionError(f"unexpected URL {url}")

    paths, report = download.download_goes(16, "2017-09-10", "2017-09-11", tmp_path,
                                           fetch=fetch)
    assert [path.name for path in paths] == ["sci_xrsf-l2-flx1s_g16_d20170910_v2-2-0.nc"]
    assert report == {"downloaded": 1, "already_present": 0, "missing_days": ["2017-09-11"]}
    assert not list(tmp_path.glob("*.part"))
    _, report = download.download_goes(16, "2017-09-10", "2017-09-10", tmp_path,
                                           fetch=fetch)
    assert report["already_present"] == 1 and report["downloaded"] == 0
    assert sum(url.endswith(".nc") for url in asked) == 1
    if real is not None:
        series = goes.read_xrs(paths[0])
        assert series.satellite == 16 and series.scale == "goes_r"


def test_download_goes_tool_prints_a_report(tmp_path, monkeypatch, capsys):
    listing = (RECORDED / "goes16_xrsf-l2-flx1s_science_2017_09_listing.html").read_bytes()
    monkeypatch.setattr(download, "fetch_url",
                        lambda url: listing if url.endswith("/") else b"body")
    tool = _tool("download_goes")
    monkeypatch.setattr(tool, "download_goes",
                        lambda *a, **k: download.download_goes(*a, **k, fetch=download.fetch_url))
    summary = tool.main(["--satellite", "16", "--start", "2017-09-09", "--end", "2017-09-09",
                         "--out", str(tmp_path)])
    assert summary["downloaded"] == 1
    assert "sci_xrsf-l2-flx1s_g16_d20170909_v2-2-0.nc" in capsys.readouterr().out


def _serve_hek(monkeypatch):
    body = (RECORDED / "hek_swpc_flares_2011-02-14T17_2011-02-15T06.json").read_bytes()
    asked = []

    def fake(url, *args, **kwargs):
        asked.append(url)
        assert url.startswith("https://www.lmsal.com/hek/her?"), url
        return io.BytesIO(body)

    monkeypatch.setattr(urllib.request, "urlopen", fake)
    return asked


def test_hek_flares_through_sunpy(monkeypatch, tmp_path):
    asked = _serve_hek(monkeypatch)
    path, report = download.download_events("2011-02-14T17:00", "2011-02-15T06:00",
                                            tmp_path / "flares.csv")
    assert "event_type=FL" in asked[0] and "value0=SWPC" in asked[0]
    table, _ = events.read_event_list(path)
    assert report.rows_kept == 7 and report.repaired["unassigned_noaa_ar"] == 2
    x22 = table[table["goes_class"] == "X2.2"].iloc[0]
    assert str(x22["peak"]) == "2011-02-15 01:56:00" and x22["noaa_ar"] == 11158
    assert set(table["scale"]) == {"swpc"}


def test_download_events_tool(monkeypatch, tmp_path, capsys):
    _serve_hek(monkeypatch)
    summary = _tool("download_events").main(
        ["--start", "2011-02-14T17:00", "--end", "2011-02-15T06:00",
         "--out", str(tmp_path / "hek.csv")])
    assert summary["report"]["rows_kept"] == 7
    assert "unassigned_noaa_ar" in capsys.readouterr().out


def test_jsoc_record_set_strings():
    assert download.jsoc_record_set(
        "hmi.sharp_cea_720s", "2011-02-15T00:00", "2011-02-15T04:00", "96m",
        prime_keys=(377,), segments=("Br", "Bp")) == (
        "hmi.sharp_cea_720s[377][2011.02.15_00:00:00_TAI-2011.02.15_04:00:00_TAI@96m]{Br,Bp}")
    assert download.jsoc_record_set(
        "aia.lev1_euv_12s", "2011-02-15T00:00", "2011-02-15T01:00", "1h",
        trailing_keys=(171,), segments=("image",)) == (
        "aia.lev1_euv_12s[2011-02-15T00:00:00Z-2011-02-15T01:00:00Z@1h][171]{image}")


def _serve_jsoc(monkeypatch, fits_bytes):
    import drms.client
    import drms.json

    recorded = {
        "op=rs_list": "jsoc_rs_list_sharp377_20110215T0200.json",
        "op=exp_request": "jsoc_exp_request_sharp377.json",
        "op=exp_status": "jsoc_exp_status_sharp377.json",
    }
    asked = []

    def fake(request, *args, **kwargs):
        url = getattr(request, "full_url", request)
        asked.append(url)
        for operation, name in recorded.items():
            if operation in url:
                return io.BytesIO((RECORDED / name).read_bytes())
        assert url.startswith("http://jsoc.stanford.edu/SUM99/D1234567890/S00000/"), url
        return io.BytesIO(fits_bytes)

    monkeypatch.setattr(drms.json, "urlopen", fake)
    monkeypatch.setattr(drms.client, "urlopen", fake)
    return asked


def _tiny_sharp_fits():
    import numpy as np
    from astropy.io import fits

    header = fits.Header({"HARPNUM": 377, "NOAA_AR": 11158, "T_REC": "2011.02.15_02:00:00_TAI"})
    stream = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros((4, 8), np.float32), header)]
                 ).writeto(stream)
    return stream.getvalue()


def test_jsoc_keywords_and_export(monkeypatch, tmp_path):
    pytest.importorskip("drms")
    asked = _serve_jsoc(monkeypatch, _tiny_sharp_fits())
    record_set = "hmi.sharp_cea_720s[377][2011.02.15_02:00:00_TAI]"
    table = download.query_jsoc_keywords(record_set, ("T_REC", "HARPNUM", "NOAA_ARS",
                                                      "USFLUX", "TOTUSJH", "QUALITY"))
    assert table.loc[0, "HARPNUM"] == 377 and table.loc[0, "USFLUX"] == pytest.approx(2.71476e22)
    assert table.loc[0, "NOAA_ARS"] == 11158 and table.loc[0, "QUALITY"] == "0x00000000"
    with pytest.raises(ValueError, match="register_email"):
        download.export_jsoc(record_set + "{Br}", "", tmp_path)
    result = download.export_jsoc(record_set + "{Br}", "someone@example.org", tmp_path,
                                  sleep=0)
    files = [Path(path) for path in result["download"]]
    assert [file.name for file in files] == ["hmi.sharp_cea_720s.377.20110215_020000_TAI.Br.fits"]
    from flarekit.data.fits import read_header

    header, index, _ = read_header(files[0])
    assert index == 1 and header["HARPNUM"] == 377
    assert any("op=exp_status" in url for url in asked)


def test_download_sdo_tool(monkeypatch, tmp_path, capsys):
    pytest.importorskip("drms")
    _serve_jsoc(monkeypatch, _tiny_sharp_fits())
    summary = _tool("download_sdo").main(
        ["--series", "hmi.sharp_cea_720s", "--prime-key", "377", "--start",
         "2011-02-15T02:00", "--end", "2011-02-15T02:00", "--keys", "T_REC,HARPNUM",
         "--segments", "Br", "--email", "someone@example.org", "--out", str(tmp_path),
         "--poll-seconds", "0"])
    assert summary["keywords"][0]["HARPNUM"] == 377
    assert summary["files"][0].endswith(".Br.fits")
    assert json.loads(capsys.readouterr().out)["record_set"].endswith("{Br}")
