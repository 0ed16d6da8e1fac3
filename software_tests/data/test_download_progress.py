"""Download progress bars: on a terminal only, never with progress=False.

The network is never used: `fetch` serves a recorded directory listing.
"""

import io
import sys

import pytest

from flarekit.data import download

LISTING = (
    b'<a href="sci_xrsf-l2-flx1s_g16_d20170910_v2-2-0.nc">x</a>'
    b'<a href="sci_xrsf-l2-flx1s_g16_d20170911_v2-2-0.nc">x</a>'
)


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _fetch(url):
    return LISTING if url.endswith("/") else b"netcdf bytes"


@pytest.mark.parametrize("progress", [True, False])
def test_goes_download_bar(tmp_path, monkeypatch, progress):
    stream = _Terminal()
    monkeypatch.setattr(sys, "stderr", stream)
    paths, report = download.download_goes(
        16, "2017-09-10", "2017-09-12", tmp_path, fetch=_fetch, progress=progress
    )
    assert report["downloaded"] == 2 and report["missing_days"] == ["2017-09-12"]
    assert [path.read_bytes() for path in paths] == [b"netcdf bytes"] * 2
    if progress:
        assert "GOES-16 XRS" in stream.getvalue() and "3/3" in stream.getvalue()
    else:
        assert stream.getvalue() == ""


def test_goes_download_is_quiet_off_a_terminal(tmp_path, monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    download.download_goes(16, "2017-09-10", "2017-09-10", tmp_path, fetch=_fetch)
    assert stream.getvalue() == ""
