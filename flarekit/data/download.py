"""Fetch real data for users who have the internet: GOES XRS, HEK flares, JSOC.

The logic behind `tools/download_goes.py`, `tools/download_events.py` and
`tools/download_sdo.py`. Nothing in flarekit calls these at run time; tests
replay recorded responses and never touch the network.

- GOES XRS: NOAA NCEI's science-quality netCDF, located with the URL
  patterns sunpy's `XRSClient` uses (GOES 13-15 reprocessed data at
  www.ncei.noaa.gov, GOES-R at data.ngdc.noaa.gov); each monthly directory
  listing gives the file's version. Every file is written atomically and
  skipped when already present.
- Flares: the Heliophysics Event Knowledgebase through sunpy's `HEKClient`
  (events of type FL from the SWPC frame), written as a CSV in HEK column
  names that `flarekit.data.events.read_event_list` reads.
- SDO images: JSOC through `drms` (record-set queries, keyword tables, and
  export requests that need an email address registered at
  http://jsoc.stanford.edu/ajax/register_email.html).

Example:
    >>> paths, report = download_goes(16, "2017-09-10", "2017-09-10", "data/goes")
    >>> events_path = download_events("2011-02-14", "2011-02-16", "data/flares.csv")
"""

from __future__ import annotations

import datetime
import os
import re
import tempfile
from pathlib import Path

GOES_R_BASE = ("https://data.ngdc.noaa.gov/platforms/solar-space-observing-satellites/"
               "goes/goes{satellite:02d}/l2/data/xrsf-l2-{resolution}_science/{year:04d}/"
               "{month:02d}/")
GOES_SCIENCE_BASE = ("https://www.ncei.noaa.gov/data/goes-space-environment-monitor/access/"
                     "science/xrs/goes{satellite:02d}/{prefix}-l2-{resolution}_science/"
                     "{year:04d}/{month:02d}/")
GOES_RESOLUTIONS = ("flx1s", "avg1m")
USER_AGENT = "flarekit (https://github.com/flarekit)"


def fetch_url(url: str, timeout: float = 60.0) -> bytes:
    """The body of an HTTP(S) GET; the default fetcher of this module.

    Raises:
        OSError: the request failed, with the URL in the message.
    """
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read()
    except OSError as error:
        raise OSError(f"Could not fetch {url}: {error}") from error


def goes_directory_url(satellite: int, day: datetime.date, resolution: str = "flx1s") -> str:
    """The NCEI directory of a GOES satellite's XRS files for `day`'s month.

    Args:
        satellite: GOES number: 13-15 (reprocessed science data) or 16-19.
        day: any date of the month.
        resolution: "flx1s" (1-2 s fluxes) or "avg1m" (one-minute means).

    Returns:
        The directory URL (ending in "/").

    Raises:
        ValueError: a satellite without science-quality XRS files, or an
            unknown resolution.

    Example:
        >>> goes_directory_url(16, datetime.date(2017, 9, 10)).split("/")[-5:-1]
        ['l2', 'data', 'xrsf-l2-flx1s_science', '2017']
    """
    if resolution not in GOES_RESOLUTIONS:
        raise ValueError(f"resolution must be one of {GOES_RESOLUTIONS}, got {resolution!r}.")
    fields = {"satellite": int(satellite), "year": day.year, "month": day.month,
              "resolution": resolution}
    if satellite >= 16:
        return GOES_R_BASE.format(**fields)
    if 8 <= satellite <= 15:
        # GOES 13-15 have 2-s "gxrs irrad" files; 8-15 all have avg1m.
        if resolution == "flx1s":
            if satellite < 13:
                raise ValueError(f"GOES-{satellite} has no 2-s science files; use avg1m.")
            return GOES_SCIENCE_BASE.format(prefix="gxrs", **{**fields, "resolution": "irrad"})
        return GOES_SCIENCE_BASE.format(prefix="xrsf", **fields)
    raise ValueError(f"GOES-{satellite}: science-quality XRS netCDF exist for GOES 8-19.")


def goes_file_pattern(satellite: int, day: datetime.date, resolution: str = "flx1s"):
    """Regular expression of the file name for one satellite and day."""
    product = ("gxrs-l2-irrad" if satellite < 16 and resolution == "flx1s"
               else f"xrsf-l2-{resolution}")
    return re.compile(
        rf"sci_{product}_g{int(satellite):02d}_d{day:%Y%m%d}_v[\d-]+\.nc"
    )


def find_goes_file(satellite: int, day, resolution: str = "flx1s", fetch=fetch_url):
    """URL of the newest version of a satellite's XRS file for `day`, or None.

    Args:
        satellite, day, resolution: as in `goes_directory_url`.
        fetch: function url -> bytes (tests pass recorded responses).

    Returns:
        The file URL, or None when the directory lists no file for that day.
    """
    day = _as_date(day)
    directory = goes_directory_url(satellite, day, resolution)
    listing = fetch(directory).decode("utf-8", errors="replace")
    names = set(goes_file_pattern(satellite, day, resolution).findall(listing))
    # Newest version by number ("v2-10-0" after "v2-9-0"), not by text.
    newest = max(names, key=_version_key, default=None)
    return directory + newest if newest else None


def _version_key(name: str):
    return tuple(int(part) for part in re.search(r"_v([\d-]+)\.nc$", name).group(1).split("-"))


def download_goes(satellite: int, start, end, out_dir, resolution: str = "flx1s",
                  fetch=fetch_url, progress: bool = True):
    """Download a satellite's XRS netCDF files for every day in [start, end].

    Args:
        satellite: GOES number.
        start, end: first and last day (dates or ISO strings).
        out_dir: folder to write into (created).
        resolution: "flx1s" or "avg1m".
        fetch: function url -> bytes.
        progress: a progress bar over the days (on a terminal only; see
            `_progress`).

    Returns:
        (list of paths of the files now present, report dict with
        "downloaded", "already_present" and "missing_days").
    """
    start, end = _as_date(start), _as_date(end)
    if end < start:
        raise ValueError(f"end {end} is before start {start}.")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths, report = [], {"downloaded": 0, "already_present": 0, "missing_days": []}
    n_days = (end - start).days + 1
    days = (start + datetime.timedelta(days=offset) for offset in range(n_days))
    for day in _progress(days, n_days, f"GOES-{satellite} XRS", "day", progress):
        url = find_goes_file(satellite, day, resolution, fetch)
        if url is None:
            report["missing_days"].append(day.isoformat())
        else:
            target = out_dir / url.rsplit("/", 1)[-1]
            if target.exists():
                report["already_present"] += 1
            else:
                _write_atomically(target, fetch(url))
                report["downloaded"] += 1
            paths.append(target)
    return paths, report


def _progress(items, total: int, description: str, unit: str, progress: bool):
    """`items`, wrapped in a tqdm bar when `progress` is true.

    tqdm's `disable=None` turns the bar off when stderr is not a terminal,
    so logs, CI and captured test output stay clean.
    """
    if not progress:
        return items
    from tqdm import tqdm

    return tqdm(items, total=total, desc=description, unit=unit, disable=None)


def _write_atomically(target: Path, content: bytes) -> None:
    # Write to a temporary file in the same folder and rename, so that an
    # interrupted download never leaves a truncated file under the real name.
    handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".part")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _as_date(value) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    return datetime.date.fromisoformat(str(value)[:10])


HEK_COLUMNS = ("event_starttime", "event_peaktime", "event_endtime", "fl_goescls",
               "ar_noaanum", "frm_name", "obs_observatory", "hpc_x", "hpc_y")


def query_hek_flares(start, end, client=None):
    """GOES flares from the HEK between two times, as a pandas DataFrame.

    Args:
        start, end: times sunpy parses ("2011-02-14", "2011-02-15 06:00").
        client: a `sunpy.net.hek.HEKClient` (a new one when None).

    Returns:
        DataFrame with `HEK_COLUMNS` (times as ISO strings), one row per
        SWPC flare record.
    """
    import pandas as pd
    from sunpy.net import attrs, hek

    client = client or hek.HEKClient()
    table = client.search(attrs.Time(start, end), attrs.hek.EventType("FL"),
                          attrs.hek.FRM.Name == "SWPC")
    columns = {}
    for name in HEK_COLUMNS:
        if name not in table.colnames:
            continue
        values = []
        for value in table[name]:
            if hasattr(value, "isot"):
                value = value.isot
            elif hasattr(value, "unit") and hasattr(value, "value"):
                value = value.value
            values.append(value)
        columns[name] = values
    return pd.DataFrame(columns)


def download_events(start, end, out_path, client=None):
    """Write the HEK's SWPC flares between two times to a CSV.

    Returns:
        (the CSV path, the `EventListReport` of reading it back), so that
        repairs and drops are seen at download time.
    """
    from flarekit.data.events import read_event_list

    frame = query_hek_flares(start, end, client)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=out_path.parent, suffix=".part")
    os.close(handle)
    frame.to_csv(temporary, index=False)
    os.replace(temporary, out_path)
    _, report = read_event_list(out_path, layout="hek") if len(frame) else (None, None)
    return out_path, report


def jsoc_record_set(series: str, start, end, cadence: str | None = None,
                    prime_keys=(), trailing_keys=(), segments=()) -> str:
    """A JSOC record-set query string.

    Args:
        series: e.g. "hmi.sharp_cea_720s", "aia.lev1_euv_12s", "hmi.M_720s".
        start, end: datetimes or ISO strings; written in TAI for HMI/MDI
            series (whose T_REC is TAI) and in UTC ("Z") otherwise.
        cadence: JSOC step such as "12m", "1h", "96m"; None for every record.
        prime_keys: prime-key values before the time, e.g. (377,) for HARP 377.
        trailing_keys: prime-key values after the time, e.g. (171,) for the
            AIA wavelength.
        segments: segment names, e.g. ("Br", "Bp", "Bt") or ("image",).

    Returns:
        e.g. "hmi.sharp_cea_720s[377][2011.02.15_00:00:00_TAI-2011.02.15_04:00:00_TAI@96m]{Br}".

    Example:
        >>> jsoc_record_set("hmi.sharp_cea_720s", "2011-02-15T00:00", "2011-02-15T04:00",
        ...                 "96m", prime_keys=(377,), segments=("Br",))
        'hmi.sharp_cea_720s[377][2011.02.15_00:00:00_TAI-2011.02.15_04:00:00_TAI@96m]{Br}'
    """
    scale = "TAI" if series.lower().startswith(("hmi", "mdi")) else "Z"

    def stamp(value):
        moment = datetime.datetime.fromisoformat(str(value)) if not isinstance(
            value, datetime.datetime) else value
        if scale == "TAI":
            return moment.strftime("%Y.%m.%d_%H:%M:%S_TAI")
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    keys = "".join(f"[{key}]" for key in prime_keys)
    trailing = "".join(f"[{key}]" for key in trailing_keys)
    window = f"{stamp(start)}-{stamp(end)}" + (f"@{cadence}" if cadence else "")
    query = f"{series}{keys}[{window}]{trailing}"
    if segments:
        query += "{" + ",".join(segments) + "}"
    return query


def query_jsoc_keywords(record_set: str, keys, client=None):
    """Keyword values of a record set as a DataFrame (no download of images).

    Args:
        record_set: from `jsoc_record_set`.
        keys: keyword names, e.g. ("T_REC", "HARPNUM", "NOAA_ARS", "USFLUX").
        client: a `drms.Client` (a new one when None).

    Returns:
        DataFrame, one row per record; numeric columns converted.
    """
    import drms
    import pandas as pd

    client = client or drms.Client()
    # Numeric conversion here, not in drms: drms would fetch the series
    # description first, one more request for every query.
    table = client.query(record_set, key=list(keys), convert_numeric=False)
    for column in table.columns:
        converted = pd.to_numeric(table[column], errors="coerce")
        if converted.notna().all():
            table[column] = converted
    return table


def export_jsoc(record_set: str, email: str, out_dir, client=None, protocol: str = "fits",
                sleep: float = 5.0, *, progress: bool = True):
    """Export a record set from JSOC and download its files.

    Args:
        record_set: from `jsoc_record_set`, with segments.
        email: an address registered for JSOC exports.
        out_dir: folder to write into (created).
        client: a `drms.Client` (a new one when None).
        protocol: "fits" (keywords in the headers) or "as-is".
        sleep: seconds between status polls.
        progress: a progress bar over the files (on a terminal only).

    Returns:
        DataFrame with record, url and download (local path, None on failure).

    Raises:
        ValueError: no email address.
    """
    import drms
    import pandas as pd

    if not email:
        raise ValueError(
            "JSOC exports need an email address registered at "
            "http://jsoc.stanford.edu/ajax/register_email.html."
        )
    client = client or drms.Client()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    request = client.export(record_set, method="url", protocol=protocol, email=email,
                            filenamefmt=False)
    request.wait(sleep=sleep)
    n_files = len(request.urls)
    if request.tarfile is not None or n_files == 0:
        # A tar export is one file, and drms ignores `index` for it.
        return request.download(str(out_dir))
    # One file per call, so that the bar moves as each file arrives; drms
    # then downloads exactly what one call for all of them would.
    downloads = [request.download(str(out_dir), index=index)
                 for index in _progress(range(n_files), n_files, "JSOC export", "file",
                                        progress)]
    return pd.concat(downloads, ignore_index=True)
