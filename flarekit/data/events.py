"""Flare event lists, NOAA AR <-> HARP maps, and the horizon labeller.

Event lists come in several layouts; `read_event_list` parses each into one
table with the same columns, and a report of every row it repaired or
dropped (SCIENCE.md, "Data formats a user will bring"):

- ``swpc``: the NOAA SWPC GOES flare list as a CSV (``start_time``,
  ``max_time`` as HHMM, ``end_time``, ``goes_sat``, ``goes_class``,
  ``noaa_ar``; 0 = no region), as in ../shared/data/events.
- ``ncei``: NOAA NCEI / NGDC fixed-width X-ray flare reports (one line per
  flare, ``31777YYMMDD  HHMM HHMM HHMM ...``, class at columns 60-63 and the
  region at 81-85), documented in NGDC's ``xray.fmt``.
- ``hek``: Heliophysics Event Knowledgebase records (``event_starttime``,
  ``event_peaktime``, ``event_endtime``, ``fl_goescls``, ``ar_noaanum``), as
  sunpy's HEK client returns them, and CSV lists written in the same names
  (``goes_class``, ``noaa_ar``), such as the solar cycle 24 list.

The unified table has one row per flare: ``start``, ``peak``, ``end``
(UTC, timezone-naive), ``goes_class`` ("M2.5"), ``peak_flux`` (W/m^2 on the
row's ``scale``), ``noaa_ar`` (nullable integer; <NA> when the list gives no
region), ``satellite`` and ``source``. The scale follows trap 6: GOES 8-15
classes before 2020 are on the SWPC scale (true flux x 0.7); GOES-16 and
later, and lists made after 2020, on true flux ("goes_r").

The horizon labeller (`label_samples`) answers, for each sample (region or
full disk, time t): what is the largest flare flux in the window after t,
and is it at or above the threshold? Every convention is an argument:
horizon, threshold, which time of the flare must fall in the window
(``start`` or ``peak``), whether the window's ends are inclusive, and the
flux scale of the answer.

Example:
    >>> events, report = read_event_list("swpc_flarelist_19960731_20181231.csv")
    >>> report.dropped
    {'malformed_peak_time': 14}
    >>> labels = label_samples(events, samples, horizon_hours=24, threshold="M1.0",
    ...                        scale="swpc")
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import re

import numpy as np

from flarekit.data.goes import QUIET_FLUX, class_to_flux, convert_flux, flux_to_class
from flarekit.data.goes import threshold_flux as _threshold_flux

EVENT_COLUMNS = ("start", "peak", "end", "goes_class", "peak_flux", "scale",
                 "noaa_ar", "satellite", "source")
LAYOUTS = ("swpc", "ncei", "hek")
WINDOW_RULES = ("start", "peak")
# (t, t+H] is the data contract's window: a flare at t belongs to the past.
BOUNDARIES = ("(]", "[)", "[]", "()")
# SWPC switched its primary X-ray satellite to GOES-16, whose fluxes carry no
# 0.7 factor, and re-stated lists on true flux, from 2020 (SCIENCE.md trap 6).
GOES_R_LIST_START = datetime.datetime(2020, 1, 1)
DISK = "disk"

_CLASS_TEXT = re.compile(r"^\s*([ABCMXabcmx])\s*(\d+(?:[.,]\d*)?)?\s*$")
_CLOCK_TEXT = re.compile(r"^\s*(\d{1,2}):?(\d{2})(?::(\d{2}))?\s*Z?\s*$")


@dataclasses.dataclass
class EventListReport:
    """What parsing an event list repaired and dropped, counted by reason.

    Attributes:
        source: file name or description of the input.
        layout: the layout used.
        rows_read: rows in the input.
        rows_kept: rows in the unified table.
        repaired: reason -> count of rows kept after a repair.
        dropped: reason -> count of rows left out.
        examples: reason -> up to three offending raw values.
    """

    source: str
    layout: str
    rows_read: int = 0
    rows_kept: int = 0
    repaired: dict = dataclasses.field(default_factory=dict)
    dropped: dict = dataclasses.field(default_factory=dict)
    examples: dict = dataclasses.field(default_factory=dict)

    def _note(self, table: dict, reason: str, value) -> None:
        table[reason] = table.get(reason, 0) + 1
        shown = self.examples.setdefault(reason, [])
        if len(shown) < 3:
            shown.append(str(value))

    def summary(self) -> str:
        """One paragraph for logs and reports."""
        def listing(table):
            return ", ".join(f"{key} {value}" for key, value in sorted(table.items())) or "none"

        return (
            f"{self.source} ({self.layout} layout): read {self.rows_read} rows, kept "
            f"{self.rows_kept}; repaired: {listing(self.repaired)}; dropped: "
            f"{listing(self.dropped)}."
        )

    def to_dict(self) -> dict:
        """JSON-serialisable form."""
        return dataclasses.asdict(self)


def parse_goes_class(text, report: EventListReport | None = None):
    """A class string from an event list as a normalised class, or None.

    Repairs what lists really contain: trailing blanks ("C1  "), a decimal
    comma ("C6,2"), a trailing point ("X14."), and a bare letter ("C"),
    which is read as magnitude 1.0, the class's lower bound, and reported.

    Args:
        text: the raw class field.
        report: where repairs are counted, if given.

    Returns:
        "C6.2"-style string, or None when the text is not a class.

    Example:
        >>> parse_goes_class("C6,2"), parse_goes_class("M"), parse_goes_class("??")
        ('C6.2', 'M1.0', None)
    """
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return None
    match = _CLASS_TEXT.match(str(text))
    if match is None:
        return None
    letter, magnitude = match.group(1).upper(), match.group(2)
    if magnitude is None:
        if report is not None:
            report._note(report.repaired, "bare_class_letter", text)
        return f"{letter}1.0"
    if "," in magnitude:
        if report is not None:
            report._note(report.repaired, "decimal_comma_in_class", text)
        magnitude = magnitude.replace(",", ".")
    value = float(magnitude.rstrip(".") or "nan")
    if not np.isfinite(value) or value <= 0:
        return None
    return f"{letter}{value:.1f}"


def parse_clock(text):
    """(hour, minute, second) of an HHMM / HH:MM / HH:MMZ field, or None.

    Returns None for malformed or out-of-range times such as "////", "//:" or
    "00:91Z".

    Example:
        >>> parse_clock("0641"), parse_clock("06:41Z"), parse_clock("00:91Z")
        ((6, 41, 0), (6, 41, 0), None)
    """
    if text is None:
        return None
    match = _CLOCK_TEXT.match(str(text))
    if match is None:
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    second = int(match.group(3) or 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    return hour, minute, second


def list_scale(peak_time, satellite=None) -> str:
    """The flux scale of an event-list class (SCIENCE.md trap 6).

    GOES-16 and later report true flux ("goes_r"); GOES 1-15 classes carry
    the SWPC factor ("swpc"); when the satellite is unknown, lists from 2020
    on are on true flux.

    Example:
        >>> list_scale(datetime.datetime(2017, 9, 10), 15), list_scale(
        ...     datetime.datetime(2025, 3, 28), None)
        ('swpc', 'goes_r')
    """
    if satellite is not None and not (isinstance(satellite, float) and np.isnan(satellite)):
        return "goes_r" if int(satellite) >= 16 else "swpc"
    return "goes_r" if peak_time >= GOES_R_LIST_START else "swpc"


def read_event_list(source, layout: str = "auto"):
    """Parse a flare list in the SWPC, NCEI or HEK layout into one table.

    Args:
        source: a CSV path (SWPC or HEK-style columns), a text file of NCEI
            fixed-width reports, a pandas DataFrame, an astropy Table (sunpy's
            HEK results) or a list of HEK record dicts.
        layout: "swpc", "ncei", "hek", or "auto" to tell from the columns.

    Returns:
        (DataFrame with `EVENT_COLUMNS`, sorted by start; `EventListReport`).

    Raises:
        ValueError: the layout cannot be recognised or required columns are
            missing; the message names the source and the columns found.

    Example:
        >>> events, report = read_event_list("final_flare_list_sc24.csv")
        >>> report.repaired["unassigned_noaa_ar"]
        937
    """
    import pandas as pd

    name, frame, lines = _load_event_source(source, layout)
    if layout == "auto":
        layout = "ncei" if lines is not None else _detect_layout(frame, name)
    if layout not in LAYOUTS:
        raise ValueError(f"Unknown event-list layout {layout!r}; expected {LAYOUTS} or 'auto'.")
    report = EventListReport(source=name, layout=layout)
    if layout == "ncei":
        if lines is None:
            raise ValueError(f"{name}: the 'ncei' layout is read from a text file of reports.")
        rows = _rows_from_ncei(lines, report)
    elif layout == "swpc":
        rows = _rows_from_swpc(frame, report, name)
    else:
        rows = _rows_from_hek(frame, report, name)
    table = pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
    for column in ("start", "peak", "end"):
        table[column] = pd.to_datetime(table[column])
    table["noaa_ar"] = table["noaa_ar"].astype("Int64")
    table["satellite"] = table["satellite"].astype("Int64")
    table["peak_flux"] = table["peak_flux"].astype(np.float64)
    table = table.sort_values("start", kind="stable").reset_index(drop=True)
    report.rows_kept = len(table)
    return table, report


def _load_event_source(source, layout):
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        return "<DataFrame>", source, None
    if isinstance(source, list):
        return "<HEK records>", pd.DataFrame(source), None
    if hasattr(source, "to_pandas") and hasattr(source, "colnames"):
        return "<HEK table>", _hek_table_to_frame(source), None
    path = str(source)
    with open(path, encoding="utf-8", errors="replace") as stream:
        first = stream.readline()
    if layout == "ncei" or (layout == "auto" and re.match(r"^31\d{3}\d{6}", first)):
        with open(path, encoding="utf-8", errors="replace") as stream:
            return path, None, stream.read().splitlines()
    # Lists written by pandas carry an unnamed index column; keep everything
    # as text so that nothing is silently coerced before the repairs.
    # pandas takes the first column as the index when the header has one
    # field fewer than the rows, as in lists written with DataFrame.to_csv.
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    if str(frame.columns[0]).startswith("Unnamed"):
        frame = frame.drop(columns=frame.columns[0])
    return path, frame, None


def _hek_table_to_frame(table):
    import pandas as pd

    keep = [name for name in ("event_starttime", "event_peaktime", "event_endtime",
                              "fl_goescls", "ar_noaanum", "frm_name", "obs_observatory",
                              "obs_instrument") if name in table.colnames]
    data = {}
    for name in keep:
        column = table[name]
        values = []
        for value in column:
            if hasattr(value, "isot"):
                values.append(value.isot)
            elif np.ma.is_masked(value):
                values.append("")
            else:
                values.append(value)
        data[name] = values
    return pd.DataFrame(data)


def _detect_layout(frame, name: str) -> str:
    columns = set(frame.columns)
    if {"start_time", "max_time", "goes_class"} <= columns:
        return "swpc"
    if {"event_starttime", "event_peaktime"} <= columns:
        return "hek"
    raise ValueError(
        f"{name}: cannot tell the event-list layout from its columns {sorted(columns)}; "
        "expected SWPC (start_time, max_time, end_time, goes_class, noaa_ar) or HEK "
        "(event_starttime, event_peaktime, event_endtime, fl_goescls/goes_class, "
        "ar_noaanum/noaa_ar) names, or pass layout='ncei' for fixed-width reports."
    )


def _require(frame, columns, name):
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{name}: missing column(s) {missing}; found {list(frame.columns)}.")


def _parse_datetime(text):
    import pandas as pd

    text = str(text or "").strip()
    if not text:
        return None
    try:
        value = pd.Timestamp(text)
    except (ValueError, TypeError):
        return None
    if pd.isna(value):
        return None
    if value.tzinfo is not None:
        value = value.tz_convert("UTC").tz_localize(None)
    return value


def _region_number(text, report: EventListReport):
    value = str(text if text is not None else "").strip()
    if value in ("", "0", "0.0", "nan", "None", "-999", "--"):
        report._note(report.repaired, "unassigned_noaa_ar", repr(value))
        return None
    try:
        number = int(float(value))
    except ValueError:
        report._note(report.repaired, "malformed_noaa_ar", value)
        return None
    if number <= 0:
        report._note(report.repaired, "unassigned_noaa_ar", value)
        return None
    return number


def _finish_row(rows, report, raw, start, peak, end, class_text, region, satellite, source):
    import pandas as pd

    goes_class = parse_goes_class(class_text, report)
    if goes_class is None:
        reason = "missing_class" if not str(class_text or "").strip() else "malformed_class"
        report._note(report.dropped, reason, class_text)
        return
    # Lists give a clock time for the end (and SWPC for the peak); a flare
    # that runs past midnight has a clock time earlier than its start.
    one_day = pd.Timedelta(days=1)
    if peak is not None and peak < start:
        peak += one_day
        report._note(report.repaired, "peak_after_midnight", raw)
    if end is not None and end < start:
        end += one_day
        report._note(report.repaired, "end_after_midnight", raw)
    flux = class_to_flux(goes_class)
    rows.append({
        "start": start, "peak": peak, "end": end if end is not None else pd.NaT,
        "goes_class": goes_class, "peak_flux": flux,
        "scale": list_scale(peak.to_pydatetime(), satellite), "noaa_ar": region,
        "satellite": satellite, "source": source,
    })


def _rows_from_swpc(frame, report, name):
    import pandas as pd

    _require(frame, ("start_time", "max_time", "end_time", "goes_class"), name)
    report.rows_read = len(frame)
    rows = []
    for record in frame.to_dict("records"):
        start = _parse_datetime(record["start_time"])
        if start is None:
            report._note(report.dropped, "malformed_start_time", record["start_time"])
            continue
        clock = parse_clock(record["max_time"])
        if clock is None:
            report._note(report.dropped, "malformed_peak_time", record["max_time"])
            continue
        peak = pd.Timestamp(start.date()) + pd.Timedelta(
            hours=clock[0], minutes=clock[1], seconds=clock[2])
        end = _parse_datetime(record["end_time"])
        if end is None and str(record["end_time"]).strip():
            report._note(report.repaired, "malformed_end_time", record["end_time"])
        satellite = _goes_number(record.get("goes_sat"))
        region = _region_number(record.get("noaa_ar"), report)
        _finish_row(rows, report, record["start_time"], start, peak, end,
                    record["goes_class"], region, satellite, "swpc")
    return rows


def _goes_number(text):
    """GOES number from 'GO8', 'G15', 'G08', ' 12'; None for 'SDO', 'COM'."""
    value = str(text or "").strip().upper()
    match = re.fullmatch(r"(?:GOES[- ]?|GO|G)?0?(\d{1,2})", value)
    return int(match.group(1)) if match else None


def _rows_from_hek(frame, report, name):
    class_column = next((c for c in ("fl_goescls", "goes_class") if c in frame.columns), None)
    if class_column is None:
        raise ValueError(
            f"{name}: no class column (fl_goescls or goes_class); found {list(frame.columns)}."
        )
    _require(frame, ("event_starttime", "event_peaktime"), name)
    region_column = next((c for c in ("ar_noaanum", "noaa_ar") if c in frame.columns), None)
    report.rows_read = len(frame)
    rows = []
    for record in frame.to_dict("records"):
        start = _parse_datetime(record["event_starttime"])
        if start is None:
            report._note(report.dropped, "malformed_start_time", record["event_starttime"])
            continue
        peak = _parse_datetime(record["event_peaktime"])
        if peak is None:
            report._note(report.dropped, "malformed_peak_time", record["event_peaktime"])
            continue
        end = _parse_datetime(record.get("event_endtime"))
        if end is None and str(record.get("event_endtime") or "").strip():
            report._note(report.repaired, "malformed_end_time", record.get("event_endtime"))
        region = _region_number(record.get(region_column), report) if region_column else None
        satellite = _goes_number(record.get("obs_observatory")) if "obs_observatory" in record else None
        _finish_row(rows, report, record["event_starttime"], start, peak, end,
                    record[class_column], region, satellite, "hek")
    return rows


def _rows_from_ncei(lines, report):
    import pandas as pd

    rows = []
    for line in lines:
        if not line.strip():
            continue
        report.rows_read += 1
        line = line.ljust(85)
        # Columns as documented in NGDC's xray.fmt (1-based, inclusive):
        # 6-7 year (YY), 8-9 month, 10-11 day, 14-17 start, 19-22 end,
        # 24-27 max, 60 class letter, 61-63 intensity, 81-85 NOAA region.
        try:
            year = int(line[5:7])
            day = datetime.date(1900 + year if year >= 70 else 2000 + year,
                                int(line[7:9]), int(line[9:11]))
        except ValueError:
            report._note(report.dropped, "malformed_date", line[5:11])
            continue
        midnight = pd.Timestamp(day)
        clocks = {key: parse_clock(line[a:b]) for key, (a, b) in
                  {"start": (13, 17), "end": (18, 22), "peak": (23, 27)}.items()}
        if clocks["start"] is None:
            report._note(report.dropped, "malformed_start_time", line[13:17])
            continue
        if clocks["peak"] is None:
            report._note(report.dropped, "malformed_peak_time", line[23:27])
            continue
        start, peak, end = (
            None if clocks[key] is None
            else midnight + pd.Timedelta(hours=clocks[key][0], minutes=clocks[key][1])
            for key in ("start", "peak", "end")
        )
        if end is None and line[18:22].strip():
            report._note(report.repaired, "malformed_end_time", line[18:22])
        region = _region_number(line[80:85], report)
        class_text = line[59:63].strip()
        satellite = _goes_number(line[67:71]) if line[67:71].strip().upper() != "GOES" else None
        _finish_row(rows, report, line.rstrip(), start, peak, end, class_text, region,
                    satellite, "ncei")
    return rows


class HarpNoaaMap:
    """Many-to-many map between HARP numbers and NOAA active regions.

    A HARP (an HMI active-region patch) can hold several NOAA regions, and a
    NOAA region split in two can sit in two HARPs.

    Example:
        >>> mapping = HarpNoaaMap({377: [11158], 401: [11162, 11163]})
        >>> mapping.noaa_of(401), mapping.harps_of(11163)
        ([11162, 11163], [401])
    """

    def __init__(self, harp_to_noaa=None):
        self._harp_to_noaa = collections.defaultdict(set)
        self._noaa_to_harp = collections.defaultdict(set)
        for harp, regions in (harp_to_noaa or {}).items():
            for region in regions:
                self.add(harp, region)

    def add(self, harp: int, noaa_ar: int) -> None:
        """Record that HARP `harp` holds NOAA region `noaa_ar`."""
        self._harp_to_noaa[int(harp)].add(int(noaa_ar))
        self._noaa_to_harp[int(noaa_ar)].add(int(harp))

    def noaa_of(self, harp: int) -> list:
        """NOAA regions of a HARP, sorted; [] when it has none."""
        return sorted(self._harp_to_noaa.get(int(harp), ()))

    def harps_of(self, noaa_ar: int) -> list:
        """HARPs holding a NOAA region, sorted."""
        return sorted(self._noaa_to_harp.get(int(noaa_ar), ()))

    def __len__(self):
        return len(self._harp_to_noaa)

    @classmethod
    def from_file(cls, path) -> HarpNoaaMap:
        """Read JSOC's `all_harps_with_noaa_ars.txt` ("HARPNUM NOAA_ARS" lines,
        regions comma-separated).

        Raises:
            ValueError: a line that is not "<HARP> <AR>[,<AR>...]", naming
                the file and line number.
        """
        mapping = cls()
        with open(path, encoding="utf-8") as stream:
            for number, line in enumerate(stream, start=1):
                text = line.strip()
                if not text or text.upper().startswith("HARPNUM"):
                    continue
                match = re.fullmatch(r"(\d+)\s+(\d+(?:\s*,\s*\d+)*)", text)
                if match is None:
                    raise ValueError(
                        f"{path}:{number}: expected '<HARP> <AR>[,<AR>...]', got {text!r}."
                    )
                for region in match.group(2).split(","):
                    mapping.add(int(match.group(1)), int(region))
        return mapping

    @classmethod
    def from_headers(cls, headers) -> HarpNoaaMap:
        """Build from SHARP headers (`HARPNUM` and `NOAA_ARS`, e.g. '11162,11163')."""
        mapping = cls()
        for header in headers:
            for region in re.findall(r"\d+", str(header.get("NOAA_ARS", ""))):
                if int(region) > 0:
                    mapping.add(int(header["HARPNUM"]), int(region))
        return mapping


def parse_region(region):
    """("disk", None), ("noaa", 11158) or ("harp", 377) from a region id.

    Region ids follow the data contract: "disk" for full-disk samples, NOAA
    numbers as digits ("11158"), HARPs with a prefix ("HARP377", "harp 377").

    Raises:
        ValueError: anything else, showing the value.

    Example:
        >>> parse_region("HARP377"), parse_region("11158"), parse_region("disk")
        (('harp', 377), ('noaa', 11158), ('disk', None))
    """
    text = str(region).strip()
    if text.lower() == DISK:
        return DISK, None
    match = re.fullmatch(r"(?i)harp[\s_:-]*(\d+)", text)
    if match:
        return "harp", int(match.group(1))
    match = re.fullmatch(r"(?i)(?:noaa|ar)?[\s_:-]*(\d+)", text)
    if match:
        return "noaa", int(match.group(1))
    raise ValueError(
        f"Region {region!r} is neither 'disk', a NOAA number ('11158') nor a HARP "
        "('HARP377')."
    )


def label_samples(
    events,
    samples,
    horizon_hours: float = 24.0,
    threshold="M1.0",
    window: str = "peak",
    boundaries: str = "(]",
    scale: str | None = None,
    harp_map: HarpNoaaMap | None = None,
):
    """Largest flare in each sample's forecast window, and the binary label.

    For a sample at time t the window runs from t to t + `horizon_hours`,
    its ends open or closed by `boundaries` ("(]" = (t, t+H], the data
    contract's choice). A flare belongs to the window when its `window`
    time ("start" or "peak") falls inside. Full-disk samples (region "disk")
    see every flare; region samples see the flares of their NOAA region, or
    of the NOAA regions of their HARP through `harp_map`. Flares without a
    region count only for the full disk. Fluxes are compared on `scale`.

    Args:
        events: the table of `read_event_list`.
        samples: DataFrame with `timestamp` (Unix seconds UTC, or datetimes)
            and `region` ("disk", "11158", "HARP377").
        horizon_hours: window length H.
        threshold: class string ("M1.0") or flux on `scale`.
        window: "peak" or "start".
        boundaries: "(]", "[)", "[]" or "()".
        scale: flux scale of the answer and the threshold; None requires all
            events to share one scale and uses it.
        harp_map: needed when samples name HARPs.

    Returns:
        (copy of `samples` with `peak_flux` (QUIET_FLUX when no flare),
        `goes_class` (as text, "quiet" when none), `label` (0/1) and
        `n_flares`; report dict with the settings and counts, including
        flares that could not be attributed to a region).

    Raises:
        ValueError: bad arguments, mixed scales without `scale`, HARP samples
            without a map; each message shows the value.

    Example:
        >>> labelled, report = label_samples(events, samples, 24, "M1.0", scale="swpc")
        >>> labelled["label"].mean()
        0.036
    """

    if window not in WINDOW_RULES:
        raise ValueError(f"window must be one of {WINDOW_RULES}, got {window!r}.")
    if boundaries not in BOUNDARIES:
        raise ValueError(f"boundaries must be one of {BOUNDARIES}, got {boundaries!r}.")
    if not horizon_hours > 0:
        raise ValueError(f"horizon_hours must be positive, got {horizon_hours!r}.")
    scales = sorted(set(events["scale"])) if len(events) else []
    if scale is None:
        if len(scales) > 1:
            raise ValueError(
                f"The events mix flux scales {scales}; pass scale= to choose the "
                "scale of labels and threshold (SCIENCE.md trap 6)."
            )
        scale = scales[0] if scales else "swpc"
    threshold_value = _threshold_flux(threshold)
    for column in ("timestamp", "region"):
        if column not in samples.columns:
            raise ValueError(f"samples need a {column!r} column; found {list(samples.columns)}.")
    times = _as_datetimes(samples["timestamp"])
    fluxes = np.array([
        convert_flux(flux, row_scale, scale)
        for flux, row_scale in zip(events["peak_flux"], events["scale"])
    ], dtype=np.float64)
    event_times = events[window].to_numpy(dtype="datetime64[ns]")
    usable = ~np.isnat(event_times)
    groups = _event_groups(events["noaa_ar"], usable, event_times, fluxes)
    horizon = np.timedelta64(round(horizon_hours * 3600e9), "ns")
    peak_flux = np.full(len(samples), QUIET_FLUX, dtype=np.float64)
    counts = np.zeros(len(samples), dtype=np.int64)
    for position, (moment, region) in enumerate(zip(times, samples["region"])):
        group_times, group_fluxes = _group_of(region, groups, harp_map)
        # Sorted event times: the window is a slice found by binary search.
        low = np.searchsorted(group_times, moment,
                              side="right" if boundaries[0] == "(" else "left")
        high = np.searchsorted(group_times, moment + horizon,
                               side="right" if boundaries[1] == "]" else "left")
        counts[position] = high - low
        if high > low:
            peak_flux[position] = max(QUIET_FLUX, float(group_fluxes[low:high].max()))
    labelled = samples.copy()
    labelled["peak_flux"] = peak_flux
    labelled["goes_class"] = [flux_to_class(value) for value in peak_flux]
    labelled["label"] = (peak_flux >= threshold_value * (1 - 1e-9)).astype(np.int64)
    labelled["n_flares"] = counts
    report = {
        "horizon_hours": float(horizon_hours),
        "threshold": threshold if isinstance(threshold, str) else float(threshold),
        "threshold_flux": threshold_value,
        "window": window,
        "boundaries": boundaries,
        "scale": scale,
        "event_scales": scales,
        "samples": len(samples),
        "positives": int(labelled["label"].sum()),
        "events_used": int(usable.sum()),
        "events_without_time": int((~usable).sum()),
        "events_without_region": int(events["noaa_ar"].isna().sum()),
    }
    return labelled, report


def _as_datetimes(values):
    import pandas as pd

    series = pd.Series(values)
    if pd.api.types.is_numeric_dtype(series):
        return pd.to_datetime(series, unit="s").to_numpy(dtype="datetime64[ns]")
    converted = pd.to_datetime(series, utc=True).dt.tz_convert(None)
    return converted.to_numpy(dtype="datetime64[ns]")


def _event_groups(regions, usable, event_times, fluxes):
    """Region -> (sorted event times, their fluxes); "disk" holds all events."""
    def sorted_pair(indices):
        order = indices[np.argsort(event_times[indices], kind="stable")]
        return event_times[order], fluxes[order]

    groups = {DISK: sorted_pair(np.flatnonzero(usable))}
    numbers = regions.to_numpy(dtype=object)
    present = regions.notna().to_numpy() & usable
    collected = collections.defaultdict(list)
    for index in np.flatnonzero(present):
        collected[int(numbers[index])].append(index)
    for number, indices in collected.items():
        groups[number] = sorted_pair(np.asarray(indices, dtype=np.int64))
    return groups


_NO_EVENTS = (np.zeros(0, dtype="datetime64[ns]"), np.zeros(0, dtype=np.float64))


def _group_of(region, groups, harp_map):
    kind, number = parse_region(region)
    if kind == DISK:
        return groups[DISK]
    if kind == "noaa":
        return groups.get(number, _NO_EVENTS)
    if harp_map is None:
        raise ValueError(
            f"Sample region {region!r} is a HARP; pass harp_map= (a HarpNoaaMap) "
            "to find its NOAA regions."
        )
    parts = [groups.get(ar, _NO_EVENTS) for ar in harp_map.noaa_of(number)]
    if not parts:
        return _NO_EVENTS
    times = np.concatenate([part[0] for part in parts])
    values = np.concatenate([part[1] for part in parts])
    order = np.argsort(times, kind="stable")
    return times[order], values[order]


def label_sample_file(
    samples_path,
    events_path,
    output_path,
    layout: str = "auto",
    harp_map_path=None,
    **settings,
) -> dict:
    """Label a CSV of samples from an event list and write the result.

    The logic behind `tools/make_labels.py`.

    Args:
        samples_path: CSV with `timestamp` and `region` columns.
        events_path: the event list (any layout `read_event_list` reads).
        output_path: CSV to write (samples plus peak_flux, goes_class,
            label, n_flares).
        layout: event-list layout or "auto".
        harp_map_path: JSOC HARP-NOAA map file, for HARP regions.
        **settings: passed to `label_samples` (horizon_hours, threshold,
            window, boundaries, scale).

    Returns:
        dict with "event_list" (the parse report) and "labels" (the
        labelling report).
    """
    import pandas as pd

    events, parse_report = read_event_list(events_path, layout=layout)
    samples = pd.read_csv(samples_path, dtype={"region": str})
    harp_map = HarpNoaaMap.from_file(harp_map_path) if harp_map_path else None
    labelled, label_report = label_samples(events, samples, harp_map=harp_map, **settings)
    labelled.to_csv(output_path, index=False)
    return {"event_list": parse_report.to_dict(), "labels": label_report}
