"""Flare event lists, NOAA AR <-> HARP maps, and the horizon labeller.

Event lists come in several layouts; `read_event_list` parses each into one
table with the same columns, and a report of every row it repaired or
dropped, with the rows' numbers (SCIENCE.md, "Data formats a user will
bring"; the README section "Event lists flarekit reads"):

- ``swpc``: the NOAA SWPC GOES flare list as a CSV (``start_time``,
  ``max_time`` as HHMM, ``end_time``, ``goes_sat``, ``goes_class``,
  ``noaa_ar``; 0 = no region), as in Hayes' list in ../shared/data/events.
- ``swpc_events``: SWPC's daily "Edited Events" text reports
  (``YYYYMMDDevents.txt``: ``:Date: YYYY MM DD`` header, one line per event
  with ``Begin Max End Obs Q Type Loc/Frq Particulars Reg#``); the X-ray
  flares are the ``XRA`` lines at ``1-8A``.
- ``ncei``: NOAA NCEI / NGDC fixed-width GOES X-ray flare reports (one line
  per flare, ``31777YYMMDD  HHMM HHMM HHMM ...``, class at columns 60-63 and
  the region at 81-85), documented in NGDC's ``xray.fmt``.
- ``hek``: Heliophysics Event Knowledgebase records (``event_starttime``,
  ``event_peaktime``, ``event_endtime``, ``fl_goescls``, ``ar_noaanum``), as
  sunpy's HEK client returns them, and CSV lists written in the same names
  (``goes_class``, ``noaa_ar``), such as Hayes' solar cycle 24 list.
- ``columns``: any other CSV, through a column map (role -> column) given
  with ``columns=`` (``"class=Flare Class,start=Start Time,peak=Peak Time"``)
  or recognised from common human names (``Flare Class``, ``Start Time``,
  ``Peak Time``, ``End Time``, ``Active Region Number``).

Times are read strictly (`parse_time_text`): full dates and times (ISO with
any number of fractional digits, a ``Z`` or a UTC offset, ``_TAI`` stamps
converted to UTC), or clock times (``02:06``), which take the row's own date
and, when earlier than the start, the next day. Relative words (``now``,
``today``), dates without a time (``2011``) and day/month orders that cannot
be told apart (``02/03/2011``) are refused and counted with their rows. A
peak or end written with the start's date and an earlier clock is moved to
the next day only when that puts it less than `MAX_MIDNIGHT_SPAN_HOURS`
after the start (a flare running past midnight, as lists that compose
dates from the event's day write it); any other peak or end before the
start drops the row, counted, because which time is wrong is unknown.

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
(``start`` or ``peak``), whether the window's ends are inclusive, the flux
scale of the answer, and the time scale of sample times without a zone.

Example:
    >>> events, report = read_event_list("swpc_flarelist_19960731_20181231.csv")
    >>> report.dropped
    {'malformed_peak_time': 14}
    >>> labels = label_samples(events, samples, horizon_hours=24, threshold="M1.0",
    ...                        scale="swpc")
"""

from __future__ import annotations

import collections
import csv
import dataclasses
import datetime
import functools
import re
import typing
from pathlib import Path

import numpy as np

from flarekit.data.goes import QUIET_FLUX, class_to_flux, convert_flux, flux_to_class
from flarekit.data.goes import threshold_flux as _threshold_flux

EVENT_COLUMNS = ("start", "peak", "end", "goes_class", "peak_flux", "scale",
                 "noaa_ar", "satellite", "source")
LAYOUTS = ("swpc", "swpc_events", "ncei", "hek", "columns")
WINDOW_RULES = ("start", "peak")
# (t, t+H] is the data contract's window: a flare at t belongs to the past.
BOUNDARIES = ("(]", "[)", "[]", "()")
# SWPC switched its primary X-ray satellite to GOES-16, whose fluxes carry no
# 0.7 factor, and re-stated lists on true flux, from 2020 (SCIENCE.md trap 6).
GOES_R_LIST_START = datetime.datetime(2020, 1, 1)
DISK = "disk"
# A peak or end on the start's date but earlier than the start is a flare
# running past midnight only if the next day puts it this close after the
# start; SWPC flares last minutes to a few hours, so 12 h leaves no doubt
# about the direction, and anything farther is refused.
MAX_MIDNIGHT_SPAN_HOURS = 12.0
# Sample time scales a user can declare for stamps that carry no zone.
TIME_SCALES = ("utc", "tai")
# Column roles of the `columns` layout; class, start and peak are required.
COLUMN_ROLES = ("class", "start", "peak", "end", "region", "satellite", "date")
REQUIRED_ROLES = ("class", "start", "peak")
# Names recognised for each role, after lower-casing and turning every run of
# other characters into "_" ("Flare Class" -> "flare_class").
COLUMN_NAMES = {
    "class": ("goes_class", "fl_goescls", "flare_class", "class", "xray_class",
              "x_ray_class", "goes_xray_class", "goes_flare_class", "flare_goes_class"),
    "start": ("start_time", "event_starttime", "start", "begin_time", "begin",
              "start_datetime", "start_date_time", "starttime", "tstart", "flare_start",
              "flare_start_time", "time_start"),
    "peak": ("max_time", "event_peaktime", "peak_time", "peak", "maximum_time",
             "maximum", "max", "peak_datetime", "peak_date_time", "peaktime", "tpeak",
             "flare_peak_time", "time_peak", "time_max"),
    "end": ("end_time", "event_endtime", "end", "end_datetime", "end_date_time",
            "endtime", "tend", "stop_time", "flare_end_time", "time_end"),
    "region": ("noaa_ar", "ar_noaanum", "active_region_number", "active_region",
               "noaa_active_region", "noaa_active_region_number", "noaa_region",
               "noaa_ar_number", "noaa_number", "ar_number", "region_number", "region",
               "ar", "noaa"),
    "satellite": ("goes_sat", "satellite", "goes_satellite", "sat", "obs_observatory",
                  "observatory"),
    "date": ("date", "event_date", "day"),
}
_SWPC_NAMES = {"class": "goes_class", "start": "start_time", "peak": "max_time",
               "end": "end_time", "region": "noaa_ar", "satellite": "goes_sat",
               "date": "date"}
_HEK_NAMES = {"class": ("fl_goescls", "goes_class"), "start": "event_starttime",
              "peak": "event_peaktime", "end": "event_endtime",
              "region": ("ar_noaanum", "noaa_ar"), "satellite": "obs_observatory"}

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
        rows: reason -> where the rows are (up to 50 each): file line
            numbers for files, 1-based record numbers for tables and records.
        row_numbers: "line" or "record", what `rows` counts.
        columns: role -> column read, for the CSV layouts.
    """

    source: str
    layout: str
    rows_read: int = 0
    rows_kept: int = 0
    repaired: dict = dataclasses.field(default_factory=dict)
    dropped: dict = dataclasses.field(default_factory=dict)
    examples: dict = dataclasses.field(default_factory=dict)
    rows: dict = dataclasses.field(default_factory=dict)
    row_numbers: str = "line"
    columns: dict = dataclasses.field(default_factory=dict)

    def _note(self, table: dict, reason: str, value, row=None) -> None:
        table[reason] = table.get(reason, 0) + 1
        shown = self.examples.setdefault(reason, [])
        if len(shown) < 3:
            shown.append(str(value))
        if row is not None:
            where = self.rows.setdefault(reason, [])
            if len(where) < 50:
                where.append(int(row))

    def summary(self) -> str:
        """One paragraph for logs and reports, with the first rows of each reason."""
        def listing(table):
            parts = []
            for key, value in sorted(table.items()):
                where = self.rows.get(key, [])[:5]
                shown = f" ({self.row_numbers}s {', '.join(map(str, where))})" if where else ""
                parts.append(f"{key} {value}{shown}")
            return ", ".join(parts) or "none"

        return (
            f"{self.source} ({self.layout} layout): read {self.rows_read} rows, kept "
            f"{self.rows_kept}; repaired: {listing(self.repaired)}; dropped: "
            f"{listing(self.dropped)}."
        )

    def to_dict(self) -> dict:
        """JSON-serialisable form."""
        return dataclasses.asdict(self)


def parse_goes_class(text, report: EventListReport | None = None, row=None):
    """A class string from an event list as a normalised class, or None.

    Repairs what lists really contain: trailing blanks ("C1  "), a decimal
    comma ("C6,2"), a trailing point ("X14."), and a bare letter ("C"),
    which is read as magnitude 1.0, the class's lower bound, and reported.

    Args:
        text: the raw class field.
        report: where repairs are counted, if given.
        row: the row's number, for the report.

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
            report._note(report.repaired, "bare_class_letter", text, row)
        return f"{letter}1.0"
    if "," in magnitude:
        if report is not None:
            report._note(report.repaired, "decimal_comma_in_class", text, row)
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


# ---- time text -------------------------------------------------------------------

class TimeText(typing.NamedTuple):
    """What a time field holds, from `parse_time_text`.

    Attributes:
        kind: "datetime" (date and time), "clock" (a time of day), "date"
            (a date without a time), "empty", or a refusal: "relative"
            ("now", "today"), "ambiguous" (day/month order unknown) or
            "malformed".
        value: pandas Timestamp (UTC, naive) for "datetime" and "date";
            (hour, minute, second) for "clock"; None otherwise.
        convention: how a "datetime" was read: "utc" (no zone given, taken
            as UTC), "utc_z" (Z/UTC/UT/GMT), "utc_offset" (converted from an
            offset), "tai" (a `_TAI` stamp converted to UTC).
    """

    kind: str
    value: typing.Any = None
    convention: str = ""


_ZONE = r"(?P<zone>Z|UTC|UT|GMT|[+-]\d{2}:?\d{2})?"
_TIME = (r"(?P<hour>\d{1,2}):?(?P<minute>\d{2})(?::?(?P<second>\d{2})"
         r"(?:[.,](?P<fraction>\d+))?)?")
_YEAR_FIRST = re.compile(
    rf"^(?P<year>\d{{4}})[-/.](?P<month>\d{{1,2}})[-/.](?P<day>\d{{1,2}})"
    rf"(?:(?:[T ]+|_){_TIME})?\s*{_ZONE}$", re.IGNORECASE)
_COMPACT = re.compile(
    rf"^(?P<year>\d{{4}})(?P<month>\d{{2}})(?P<day>\d{{2}})"
    rf"(?:[T_ ]?(?P<hour>\d{{2}})(?P<minute>\d{{2}})(?P<second>\d{{2}})?"
    rf"(?:[.,](?P<fraction>\d+))?)?\s*{_ZONE}$", re.IGNORECASE)
_YEAR_LAST = re.compile(
    rf"^(?P<first>\d{{1,2}})[-/.](?P<second_part>\d{{1,2}})[-/.](?P<year>\d{{4}})"
    rf"(?:[T ]+{_TIME})?\s*{_ZONE}$", re.IGNORECASE)
_CLOCK_ONLY = re.compile(rf"^{_TIME}\s*{_ZONE}$", re.IGNORECASE)
_RELATIVE = re.compile(
    r"\b(now|today|tonight|yesterday|tomorrow|ago|noon|midnight|last|next)\b",
    re.IGNORECASE)
_MONTH_FORMATS = ("%d-%b-%Y %H:%M:%S", "%d-%b-%Y %H:%M", "%d %b %Y %H:%M:%S",
                  "%d %b %Y %H:%M", "%Y %b %d %H%M", "%Y %b %d %H:%M", "%Y-%b-%d %H:%M:%S",
                  "%b %d %Y %H:%M:%S", "%b %d %Y %H:%M")


def parse_time_text(text, hhmm_is_clock: bool = False) -> TimeText:
    """Read one time field strictly: what it holds, and how it was read.

    Accepts ISO dates and times with any number of fractional digits (so a
    column written by `pandas.Timestamp.isoformat`, where only some rows
    have microseconds, reads whole), with ``T``, a blank or ``_`` between
    date and time, a trailing ``Z``/``UTC`` or a UTC offset (converted), and
    a ``_TAI`` (or `` TAI``) suffix (converted to UTC with leap seconds);
    compact ``YYYYMMDD_hhmmss`` and ``YYYYMMDDhhmm``; day-first or month-first
    dates when one of the two numbers exceeds 12; month names ("15-Feb-2011
    01:44"); and clock times ("02:06", "02:06:30", "0206" when
    `hhmm_is_clock`). Refuses, without guessing: relative words, dates
    without a time, four digits that may be a year or a clock, and day/month
    orders that cannot be told apart.

    Args:
        text: the field as written (None and blanks are "empty").
        hhmm_is_clock: read four bare digits as HHMM (lists whose column holds
            clock times, such as SWPC's ``max_time``); otherwise "2011" is a
            year, a date without a time.

    Returns:
        `TimeText`.

    Example:
        >>> parse_time_text("2011-02-15T01:56:00.250000Z").value
        Timestamp('2011-02-15 01:56:00.250000')
        >>> parse_time_text("02/03/2011 10:00").kind, parse_time_text("today").kind
        ('ambiguous', 'relative')
    """
    import pandas as pd

    if text is None or (isinstance(text, float) and np.isnan(text)):
        return TimeText("empty")
    if isinstance(text, datetime.datetime | pd.Timestamp | np.datetime64):
        value = pd.Timestamp(text)
        if pd.isna(value):
            return TimeText("empty")
        if value.tzinfo is not None:
            return TimeText("datetime", value.tz_convert("UTC").tz_localize(None), "utc_z")
        return TimeText("datetime", value, "utc")
    raw = str(text).strip()
    if not raw:
        return TimeText("empty")
    tai = False
    body = raw
    suffix = re.search(r"(?:_|\s+)TAI$", body, re.IGNORECASE)
    if suffix:
        tai, body = True, body[:suffix.start()].strip()
    if _RELATIVE.search(body):
        return TimeText("relative")
    match = _YEAR_FIRST.match(body) or _COMPACT.match(body)
    day_month = None
    if match is None:
        match = _YEAR_LAST.match(body)
        if match is not None:
            first, second = int(match["first"]), int(match["second_part"])
            if first <= 12 and second <= 12 and first != second:
                return TimeText("ambiguous")
            day_month = (first, second) if first > 12 or first == second else (second, first)
    if match is not None:
        try:
            day, month = day_month if day_month else (int(match["day"]), int(match["month"]))
            date = datetime.date(int(match["year"]), month, day)
        except ValueError:
            return TimeText("malformed")
        if match["hour"] is None:
            if tai or match["zone"]:
                return TimeText("malformed")
            return TimeText("date", pd.Timestamp(date))
        clock = _clock_parts(match)
        if clock is None:
            return TimeText("malformed")
        value = pd.Timestamp(date) + clock
        return _zoned(value, match["zone"], tai)
    if re.fullmatch(r"\d{1,4}", body) and not (hhmm_is_clock and len(body) == 4):
        return TimeText("date")  # a bare year (or a day number): no time of day
    match = _CLOCK_ONLY.match(body)
    if match is not None and (":" in body or hhmm_is_clock):
        clock = _clock_parts(match)
        if clock is None or tai or (match["zone"] or "Z").upper() not in ("Z", "UTC", "UT"):
            return TimeText("malformed")
        seconds = int(clock.total_seconds())
        return TimeText("clock", (seconds // 3600, seconds // 60 % 60, seconds % 60))
    for form in _MONTH_FORMATS:
        try:
            value = pd.Timestamp(datetime.datetime.strptime(body, form))
        except ValueError:
            continue
        return _zoned(value, None, tai)
    return TimeText("malformed")


def _clock_parts(match):
    import pandas as pd

    hour, minute = int(match["hour"]), int(match["minute"])
    second = int(match["second"] or 0)
    if hour > 23 or minute > 59 or second > 60:
        return None
    fraction = match["fraction"] or ""
    nanoseconds = int((fraction + "000000000")[:9]) if fraction else 0
    return pd.Timedelta(hours=hour, minutes=minute, seconds=second,
                        nanoseconds=nanoseconds)


def _zoned(value, zone, tai: bool) -> TimeText:
    import pandas as pd

    if tai:
        if zone:
            return TimeText("malformed")
        return TimeText("datetime", tai_to_utc(value), "tai")
    if not zone:
        return TimeText("datetime", value, "utc")
    if zone.upper() in ("Z", "UTC", "UT", "GMT"):
        return TimeText("datetime", value, "utc_z")
    sign = 1 if zone[0] == "+" else -1
    digits = zone[1:].replace(":", "")
    offset = pd.Timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return TimeText("datetime", value - sign * offset, "utc_offset")


@functools.lru_cache(maxsize=4096)
def _tai_offset(moment: datetime.datetime) -> datetime.timedelta:
    from astropy.time import Time

    utc = Time(moment, scale="tai").utc.to_datetime()
    return moment - utc


def tai_to_utc(value):
    """A naive TAI time as naive UTC, leap seconds included (as SDO names need).

    Example:
        >>> tai_to_utc(pd.Timestamp("2017-09-10 16:00:37"))
        Timestamp('2017-09-10 16:00:00')
    """
    import pandas as pd

    value = pd.Timestamp(value)
    # TAI - UTC changes only at leap seconds, at the end of a UTC day: one
    # lookup per day serves every time of a day whose offset the next day
    # shares; around a leap second each time is converted on its own.
    noon = value.normalize().to_pydatetime() + datetime.timedelta(hours=12)
    offset = _tai_offset(noon)
    if offset != _tai_offset(noon + datetime.timedelta(days=1)):
        offset = _tai_offset(value.to_pydatetime())
    return value - pd.Timedelta(offset)


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


# ---- reading lists -----------------------------------------------------------------

def parse_column_map(text) -> dict:
    """Role -> column name from "class=Flare Class,start=Start Time,...".

    Roles: class, start, peak (required), end, region, satellite, date (the
    row's date, for lists whose times are clock times).

    Raises:
        ValueError: a pair that is not role=column, or an unknown role.

    Example:
        >>> parse_column_map("class=Flare Class,start=Start Time,peak=Peak Time")
        {'class': 'Flare Class', 'start': 'Start Time', 'peak': 'Peak Time'}
    """
    if isinstance(text, dict):
        pairs = list(text.items())
    else:
        pairs = []
        for part in str(text).split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise ValueError(
                    f"Column map entry {part.strip()!r} is not role=column; expected e.g. "
                    "'class=Flare Class,start=Start Time,peak=Peak Time'."
                )
            role, column = part.split("=", 1)
            pairs.append((role, column))
    mapping = {}
    for role, column in pairs:
        role = str(role).strip().lower()
        if role not in COLUMN_ROLES:
            raise ValueError(
                f"Unknown column role {role!r} in the column map; expected {COLUMN_ROLES}."
            )
        mapping[role] = str(column).strip()
    return mapping


def read_event_list(source, layout: str = "auto", columns=None,
                    skip_bad_rows: bool = False):
    """Parse a flare list in any layout of the module docstring into one table.

    Args:
        source: a CSV path, a text file of NCEI fixed-width or SWPC edited
            event reports, a pandas DataFrame, an astropy Table (sunpy's HEK
            results) or a list of HEK record dicts.
        layout: one of `LAYOUTS`, or "auto" to tell from the content.
        columns: a column map (dict or "class=...,start=...,peak=..."); implies
            the "columns" layout.
        skip_bad_rows: skip CSV rows whose number of fields differs from the
            header's, counting them (`dropped["ragged_row"]`), instead of
            raising.

    Returns:
        (DataFrame with `EVENT_COLUMNS`, sorted by start; `EventListReport`).

    Raises:
        FileNotFoundError: no such file.
        ValueError: an empty file, a ragged CSV row (unless skipped), a
            layout that cannot be recognised, or required columns that are
            missing; each message names the source and the line or columns.

    Example:
        >>> events, report = read_event_list("final_flare_list_sc24.csv")
        >>> report.repaired["unassigned_noaa_ar"]
        937
    """
    import pandas as pd

    if columns is not None:
        if layout not in ("auto", "columns"):
            raise ValueError(f"columns= reads the 'columns' layout, not {layout!r}.")
        layout = "columns"
    if layout != "auto" and layout not in LAYOUTS:
        raise ValueError(f"Unknown event-list layout {layout!r}; expected {LAYOUTS} or 'auto'.")
    name, frame, lines, numbering, bad_rows = _load_event_source(source, layout,
                                                                 skip_bad_rows)
    fields = None
    if layout == "auto":
        layout = _detect_text_layout(lines, name) if lines is not None else None
        if layout is None:
            layout, fields = _detect_layout(frame, name)
    if layout in ("ncei", "swpc_events") and lines is None:
        raise ValueError(f"{name}: the {layout!r} layout is read from a text file of reports.")
    report = EventListReport(source=name, layout=layout, row_numbers=numbering)
    for line, text in bad_rows:
        report._note(report.dropped, "ragged_row", text, line)
    if layout == "ncei":
        rows = _rows_from_ncei(lines, report)
    elif layout == "swpc_events":
        rows = _rows_from_swpc_events(lines, report, name)
    else:
        if layout == "columns" and columns is not None:
            fields = _fields_from_map(frame, parse_column_map(columns), name)
        elif layout == "columns" and fields is None:
            fields = _fields_by_names(frame)
            if not all(role in fields for role in REQUIRED_ROLES):
                raise _layout_error(frame, name)
        elif layout in ("swpc", "hek"):
            fields = _fixed_fields(frame, layout, name)
        report.columns = dict(fields)
        rows = _rows_from_columns(frame, fields, report, layout)
        report.rows_read += len(frame) + len(bad_rows)
    table = pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
    for column in ("start", "peak", "end"):
        table[column] = pd.to_datetime(table[column])
    table["noaa_ar"] = table["noaa_ar"].astype("Int64")
    table["satellite"] = table["satellite"].astype("Int64")
    table["peak_flux"] = table["peak_flux"].astype(np.float64)
    table = table.sort_values("start", kind="stable").reset_index(drop=True)
    report.rows_kept = len(table)
    return table, report


def _load_event_source(source, layout, skip_bad_rows):
    """(name, frame or None, text lines or None, row numbering, skipped rows)."""
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        frame = source.copy()
        frame.index = range(1, len(frame) + 1)
        return "<DataFrame>", frame, None, "record", []
    if isinstance(source, list):
        frame = pd.DataFrame(source)
        frame.index = range(1, len(frame) + 1)
        return "<HEK records>", frame, None, "record", []
    if hasattr(source, "to_pandas") and hasattr(source, "colnames"):
        frame = _hek_table_to_frame(source)
        frame.index = range(1, len(frame) + 1)
        return "<HEK table>", frame, None, "record", []
    path = str(source)
    if not Path(path).is_file():
        raise FileNotFoundError(f"No such event list: {path}")
    with open(path, encoding="utf-8-sig", errors="replace") as stream:
        text = stream.read()
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), None)
    if first is None:
        raise ValueError(
            f"{path}: the event list is empty; expected a CSV header line naming the "
            "columns, or NCEI / SWPC report lines."
        )
    if layout in ("ncei", "swpc_events") or (layout == "auto" and (
            re.match(r"^31\d{3}\d{6}", first) or _looks_like_swpc_events(lines))):
        return path, None, lines, "line", []
    frame, bad_rows = read_csv_strictly(path, text, skip_bad_rows)
    return path, frame, None, "line", bad_rows


def read_csv_strictly(path, text: str | None = None, skip_bad_rows: bool = False):
    """A CSV as a table of text, each row indexed by its line in the file.

    Every field stays text, so that nothing is coerced before the parsers
    see it. A header with one name fewer than every row means the rows start
    with an index (what `DataFrame.to_csv` writes), which is dropped, as is
    a leading unnamed column.

    Args:
        path: the file (named in errors).
        text: its content, if already read.
        skip_bad_rows: skip rows with another number of fields than the
            header, returning them, instead of raising.

    Returns:
        (DataFrame of str indexed by line number, [(line, raw text)] of the
        skipped rows).

    Raises:
        ValueError: an empty file, a header without rows, or a ragged row;
            the message names the file and line and shows the fields.

    Example:
        >>> frame, skipped = read_csv_strictly("samples.csv")
    """
    import pandas as pd

    if text is None:
        with open(path, encoding="utf-8-sig", errors="replace") as stream:
            text = stream.read()
    reader = csv.reader(text.splitlines())
    records = []
    for fields in reader:
        if not fields or all(not field.strip() for field in fields):
            continue
        records.append((reader.line_num, fields))
    if not records:
        raise ValueError(f"{path}: the file is empty; expected a CSV header line "
                         "naming the columns.")
    header = [field.strip() for field in records[0][1]]
    body = records[1:]
    if not body:
        raise ValueError(f"{path}: has a header ({', '.join(header)}) but no rows.")
    has_index = len(body[0][1]) == len(header) + 1
    width = len(header) + int(has_index)
    kept, skipped = [], []
    for line, fields in body:
        if len(fields) != width:
            if not skip_bad_rows:
                raise ValueError(
                    f"{path}:{line}: {len(fields)} fields where the header (line "
                    f"{records[0][0]}) has {width} ({', '.join(header)}); found "
                    f"{','.join(fields)!r}. Pass skip_bad_rows=True (--skip-bad-rows) "
                    "to skip such rows, counted."
                )
            skipped.append((line, ",".join(fields)))
            continue
        kept.append((line, fields[1:] if has_index else fields))
    frame = pd.DataFrame([fields for _, fields in kept], columns=header,
                         index=[line for line, _ in kept], dtype=object)
    if len(frame.columns) and (not header[0] or header[0].startswith("Unnamed")):
        frame = frame.iloc[:, 1:]
    return frame, skipped


def _looks_like_swpc_events(lines) -> bool:
    head = "\n".join(lines[:40])
    return bool(re.search(r"^:Product:.*events", head, re.MULTILINE | re.IGNORECASE)
                or re.search(r"^#\s*Edited Events", head, re.MULTILINE | re.IGNORECASE)
                or re.search(r"^#Event\s+Begin\s+Max\s+End", head, re.MULTILINE))


def _detect_text_layout(lines, name):
    if lines is None:
        return None
    first = next(line for line in lines if line.strip())
    if re.match(r"^31\d{3}\d{6}", first):
        return "ncei"
    if _looks_like_swpc_events(lines):
        return "swpc_events"
    raise ValueError(f"{name}: text reports that are neither NCEI nor SWPC events.")


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


def _normal_name(name) -> str:
    return re.sub(r"[^0-9a-z]+", "_", str(name).strip().lower()).strip("_")


def _fields_by_names(frame) -> dict:
    """Role -> column, from the names of `COLUMN_NAMES` (first match wins)."""
    by_normal = {}
    for column in frame.columns:
        by_normal.setdefault(_normal_name(column), column)
    fields = {}
    for role, names in COLUMN_NAMES.items():
        for candidate in names:
            if candidate in by_normal and by_normal[candidate] not in fields.values():
                fields[role] = by_normal[candidate]
                break
    return fields


def _detect_layout(frame, name: str):
    normal = {_normal_name(column) for column in frame.columns}
    if {"start_time", "max_time", "goes_class"} <= normal:
        return "swpc", None
    if {"event_starttime", "event_peaktime"} <= normal:
        return "hek", None
    fields = _fields_by_names(frame)
    if all(role in fields for role in REQUIRED_ROLES):
        return "columns", fields
    raise _layout_error(frame, name)


def _layout_error(frame, name):
    return ValueError(
        f"{name}: cannot tell the event-list layout from its columns "
        f"{sorted(map(str, frame.columns))}; expected SWPC (start_time, max_time, "
        "end_time, goes_class, noaa_ar), HEK (event_starttime, event_peaktime, "
        "event_endtime, fl_goescls/goes_class, ar_noaanum/noaa_ar) or human names "
        "(Flare Class, Start Time, Peak Time, End Time, Active Region Number). Pass a "
        "column map, e.g. columns='class=<column>,start=<column>,peak=<column>' "
        "(--columns), or layout='ncei' / 'swpc_events' for text reports."
    )


def _fixed_fields(frame, layout, name) -> dict:
    by_normal = {}
    for column in frame.columns:
        by_normal.setdefault(_normal_name(column), column)
    wanted = _SWPC_NAMES if layout == "swpc" else _HEK_NAMES
    fields = {}
    for role, names in wanted.items():
        names = (names,) if isinstance(names, str) else names
        found = next((by_normal[n] for n in names if n in by_normal), None)
        if found is not None:
            fields[role] = found
    required = ("class", "start", "peak", "end") if layout == "swpc" else REQUIRED_ROLES
    missing = [role for role in required if role not in fields]
    if missing:
        expected = {role: wanted[role] for role in missing}
        if layout == "hek" and missing == ["class"]:
            raise ValueError(
                f"{name}: no class column (fl_goescls or goes_class); found "
                f"{list(frame.columns)}."
            )
        raise ValueError(
            f"{name}: missing column(s) for {missing} of the {layout} layout "
            f"(expected {expected}); found {list(frame.columns)}."
        )
    return fields


def _fields_from_map(frame, mapping, name) -> dict:
    missing_roles = [role for role in REQUIRED_ROLES if role not in mapping]
    if missing_roles:
        raise ValueError(
            f"{name}: the column map {mapping} lacks role(s) {missing_roles}; "
            f"required: {REQUIRED_ROLES}."
        )
    by_normal = {_normal_name(column): column for column in frame.columns}
    fields = {}
    for role, column in mapping.items():
        if column in frame.columns:
            fields[role] = column
        elif _normal_name(column) in by_normal:
            fields[role] = by_normal[_normal_name(column)]
        else:
            raise ValueError(
                f"{name}: the column map gives {role}={column!r}, but the file has no "
                f"such column; found {list(frame.columns)}."
            )
    return fields


def _region_number(text, report: EventListReport, row=None):
    value = str(text if text is not None else "").strip()
    if value in ("", "0", "0.0", "nan", "None", "-999", "--", "<NA>"):
        report._note(report.repaired, "unassigned_noaa_ar", repr(value), row)
        return None
    try:
        number = int(float(value))
    except ValueError:
        report._note(report.repaired, "malformed_noaa_ar", value, row)
        return None
    if number <= 0:
        report._note(report.repaired, "unassigned_noaa_ar", value, row)
        return None
    return number


def _goes_number(text):
    """GOES number from 'GO8', 'G15', 'G08', ' 12'; None for 'SDO', 'COM'."""
    value = str(text or "").strip().upper()
    match = re.fullmatch(r"(?:GOES[- ]?|GO|G)?0?(\d{1,2})", value)
    return int(match.group(1)) if match else None


def _refusal(kind: str, field: str) -> str:
    """Report reason of a time field that cannot be used."""
    prefix = {"relative": "relative", "date": "date_only", "ambiguous": "ambiguous",
              "clock": "clock_only"}.get(kind, "malformed")
    return f"{prefix}_{field}_time"


def _place_after(start, parsed: TimeText, field: str, report, raw, row):
    """The peak or end time of a flare that starts at `start`, or a refusal reason.

    A clock time takes the start's date, or the next day when earlier than
    the start. A full time before the start is moved a day on only when it
    has the start's date and the move puts it within
    `MAX_MIDNIGHT_SPAN_HOURS` after the start: a flare running past midnight
    in a list that composes dates from the event's day. Otherwise the
    direction of the error is unknown and the time is refused.
    """
    import pandas as pd

    limit = pd.Timedelta(hours=MAX_MIDNIGHT_SPAN_HOURS)
    one_day = pd.Timedelta(days=1)
    if parsed.kind == "clock":
        hour, minute, second = parsed.value
        value = start.normalize() + pd.Timedelta(hours=hour, minutes=minute, seconds=second)
        if value < start:
            value += one_day
            if value - start > limit:
                return None, f"{field}_before_start"
            report._note(report.repaired, f"{field}_after_midnight", raw, row)
        return value, None
    value = parsed.value
    if value >= start:
        return value, None
    if value.normalize() == start.normalize() and value + one_day - start <= limit:
        report._note(report.repaired, f"{field}_after_midnight", raw, row)
        return value + one_day, None
    return None, f"{field}_before_start"


def _finish_row(rows, report, row, raw, start, peak, end, class_text, region, satellite,
                source):
    import pandas as pd

    goes_class = parse_goes_class(class_text, report, row)
    if goes_class is None:
        reason = "missing_class" if not str(class_text or "").strip() else "malformed_class"
        report._note(report.dropped, reason, class_text, row)
        return
    if end is not None and end < peak:
        report._note(report.dropped, "end_before_peak", raw, row)
        return
    flux = class_to_flux(goes_class)
    rows.append({
        "start": start, "peak": peak, "end": end if end is not None else pd.NaT,
        "goes_class": goes_class, "peak_flux": flux,
        "scale": list_scale(peak.to_pydatetime(), satellite), "noaa_ar": region,
        "satellite": satellite, "source": source,
    })


def _row_date(text):
    parsed = parse_time_text(text)
    if parsed.kind in ("date", "datetime"):
        return parsed.value.normalize()
    return None


def _rows_from_columns(frame, fields, report, source):
    """Rows of a CSV-like table whose roles are mapped to columns."""
    import pandas as pd

    rows = []
    peak_is_clock = source == "swpc"  # SWPC's max_time is HHMM
    get = {role: fields.get(role) for role in COLUMN_ROLES}
    for row, record in zip(frame.index, frame.to_dict("records")):
        def value(role, record=record):
            column = get[role]
            return record.get(column) if column is not None else None

        raw_start = value("start")
        parsed = parse_time_text(raw_start)
        if parsed.kind == "clock" and get["date"] is not None:
            date = _row_date(value("date"))
            if date is not None:
                hour, minute, second = parsed.value
                parsed = TimeText("datetime", date + pd.Timedelta(
                    hours=hour, minutes=minute, seconds=second), "utc")
        if parsed.kind != "datetime":
            report._note(report.dropped, _refusal(parsed.kind, "start"), raw_start, row)
            continue
        start = parsed.value
        raw_peak = value("peak")
        parsed_peak = parse_time_text(raw_peak, hhmm_is_clock=peak_is_clock)
        if parsed_peak.kind not in ("datetime", "clock"):
            report._note(report.dropped, _refusal(parsed_peak.kind, "peak"), raw_peak, row)
            continue
        peak, refused = _place_after(start, parsed_peak, "peak", report, raw_start, row)
        if refused:
            report._note(report.dropped, refused, f"{raw_start} -> {raw_peak}", row)
            continue
        raw_end = value("end")
        parsed_end = parse_time_text(raw_end)
        end = None
        if parsed_end.kind in ("datetime", "clock"):
            end, refused = _place_after(start, parsed_end, "end", report, raw_start, row)
            if refused:
                report._note(report.dropped, refused, f"{raw_start} -> {raw_end}", row)
                continue
        elif parsed_end.kind != "empty":
            # The end is not used for labels: keep the flare, without an end.
            report._note(report.repaired, _refusal(parsed_end.kind, "end"), raw_end, row)
        region = _region_number(value("region"), report, row) if get["region"] else None
        satellite = _goes_number(value("satellite")) if get["satellite"] else None
        _finish_row(rows, report, row, raw_start, start, peak, end, value("class"), region,
                    satellite, source)
    return rows


def _rows_from_ncei(lines, report):
    import pandas as pd

    rows = []
    for number, line in enumerate(lines, start=1):
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
            report._note(report.dropped, "malformed_date", line[5:11], number)
            continue
        clocks = {key: parse_clock(line[a:b]) for key, (a, b) in
                  {"start": (13, 17), "end": (18, 22), "peak": (23, 27)}.items()}
        if clocks["start"] is None:
            report._note(report.dropped, "malformed_start_time", line[13:17], number)
            continue
        if clocks["peak"] is None:
            report._note(report.dropped, "malformed_peak_time", line[23:27], number)
            continue
        hour, minute, _ = clocks["start"]
        start = pd.Timestamp(day) + pd.Timedelta(hours=hour, minutes=minute)
        peak, refused = _place_after(start, TimeText("clock", clocks["peak"]), "peak",
                                     report, line.rstrip(), number)
        if refused:
            report._note(report.dropped, refused, line.rstrip(), number)
            continue
        end = None
        if clocks["end"] is not None:
            end, refused = _place_after(start, TimeText("clock", clocks["end"]), "end",
                                        report, line.rstrip(), number)
            if refused:
                report._note(report.dropped, refused, line.rstrip(), number)
                continue
        elif line[18:22].strip():
            report._note(report.repaired, "malformed_end_time", line[18:22], number)
        region = _region_number(line[80:85], report, number)
        class_text = line[59:63].strip()
        satellite = _goes_number(line[67:71]) if line[67:71].strip().upper() != "GOES" else None
        _finish_row(rows, report, number, line.rstrip(), start, peak, end, class_text,
                    region, satellite, "ncei")
    return rows


# NOAA numbered its regions past 9999 on 2002-06-14 and the edited events
# kept writing four digits ("1158" = AR 11158); regions still numbered 9xxx
# stayed on the disk for a few weeks after, so those are left alone.
_FIVE_DIGIT_REGIONS_FROM = datetime.datetime(2002, 6, 14)
_SWPC_TIME = re.compile(r"^([BU]?)(\d{4}|/{4})([AU]?)$")


def _rows_from_swpc_events(lines, report, name):
    """X-ray flares (XRA, 1-8A) of SWPC edited event reports (`YYYYMMDDevents.txt`)."""
    import pandas as pd

    rows = []
    day = None
    match = re.search(r"(\d{8})events", Path(name).name)
    if match:
        day = pd.Timestamp(datetime.datetime.strptime(match.group(1), "%Y%m%d"))
    for number, line in enumerate(lines, start=1):
        date_line = re.match(r"^:Date:\s*(\d{4})\s+(\d{1,2})\s+(\d{1,2})", line)
        if date_line:
            day = pd.Timestamp(datetime.date(*map(int, date_line.groups())))
            continue
        tokens = line.split()
        if not tokens or line.startswith((":", "#")) or "XRA" not in tokens:
            continue
        if day is None:
            raise ValueError(
                f"{name}:{number}: an event before any ':Date: YYYY MM DD' line, and the "
                "file name is not YYYYMMDDevents.txt; the event's date is unknown."
            )
        report.rows_read += 1
        if tokens[1] == "+":
            tokens = [tokens[0], *tokens[2:]]
        kind = tokens.index("XRA")
        after = tokens[kind + 1:]
        if not after or after[0].upper() != "1-8A":
            report.rows_read -= 1  # an XRA line of another band is not a flare
            continue
        times = [_SWPC_TIME.match(token) for token in tokens[1:4]]
        if any(time is None for time in times):
            report._note(report.dropped, "malformed_line", line.strip(), number)
            continue
        start_clock = parse_clock(times[0].group(2))
        peak_clock = parse_clock(times[1].group(2))
        end_clock = parse_clock(times[2].group(2))
        if start_clock is None:
            report._note(report.dropped, "malformed_start_time", tokens[1], number)
            continue
        if peak_clock is None:
            report._note(report.dropped, "malformed_peak_time", tokens[2], number)
            continue
        for time, field in zip(times, ("start", "peak", "end")):
            if time.group(1) or time.group(3):
                # B = before, A = after, U = uncertain: a bound, kept and counted.
                report._note(report.repaired, f"{field}_time_is_a_bound", time.group(0),
                             number)
        start = day + pd.Timedelta(hours=start_clock[0], minutes=start_clock[1])
        peak, refused = _place_after(start, TimeText("clock", peak_clock), "peak", report,
                                     line.strip(), number)
        end = None
        if not refused and end_clock is not None:
            end, refused = _place_after(start, TimeText("clock", end_clock), "end",
                                        report, line.strip(), number)
        if refused:
            report._note(report.dropped, refused, line.strip(), number)
            continue
        class_text = after[1] if len(after) > 1 else ""
        region = None
        if len(after) > 3 and after[-1].isdigit():
            region = _region_number(after[-1], report, number)
            if region is not None and region < 9000 and start >= _FIVE_DIGIT_REGIONS_FROM:
                region += 10000
        else:
            report._note(report.repaired, "unassigned_noaa_ar", "''", number)
        satellite = _goes_number(tokens[4]) if len(tokens) > 4 else None
        _finish_row(rows, report, number, line.strip(), start, peak, end, class_text,
                    region, satellite, "swpc_events")
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
    time_scale: str = "utc",
    source: str = "samples",
    skip_bad_times: bool = False,
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
        time_scale: "utc" or "tai", the scale of sample times written
            without a zone; stamps ending in `_TAI` are converted to UTC
            whatever this says, and Unix seconds are UTC.
        source: the samples' file name, for messages.
        skip_bad_times: leave out samples whose time cannot be read, counted
            by reason with their rows, instead of raising.

    Returns:
        (copy of `samples` with `peak_flux` (QUIET_FLUX when no flare),
        `goes_class` (as text, "quiet" when none), `label` (0/1),
        `n_flares` and `time_convention` (how the row's time was read, see
        `sample_times`); report dict with the settings and counts, including
        flares that could not be attributed to a region and the time
        conventions used).

    Raises:
        ValueError: bad arguments, mixed scales without `scale`, HARP samples
            without a map, sample times that cannot be read (unless
            skipped); each message shows the value, and for times the file,
            column and rows.

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
    times, conventions, bad = sample_times(
        samples["timestamp"], time_scale, source, skip_bad_times,
        [f"line {label}" if samples.attrs.get("row_numbers") == "line" else f"row {n + 1}"
         for n, label in enumerate(samples.index)])
    skipped = {}
    if bad:
        keep = np.ones(len(samples), dtype=bool)
        for position, reason in bad:
            keep[position] = False
            entry = skipped.setdefault(reason, {"count": 0, "rows": []})
            entry["count"] += 1
            if len(entry["rows"]) < 50:
                entry["rows"].append(_sample_row(samples, position))
        samples, times, conventions = samples[keep], times[keep], conventions[keep]
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
    labelled["time_convention"] = conventions
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
        "time_scale_declared": time_scale,
        "time_conventions": {str(key): int(value) for key, value in
                             zip(*np.unique(conventions, return_counts=True))},
        "samples_skipped": skipped,
    }
    return labelled, report


# How each sample time was read, as `label_samples` reports it.
TIME_CONVENTIONS = {
    "unix_seconds_utc": "a number: Unix seconds, UTC",
    "datetime_utc": "a datetime value without zone, taken as UTC",
    "datetime_tai": "a datetime value without zone, declared TAI, converted to UTC",
    "iso_utc": "ISO text without zone, taken as UTC",
    "iso_tai": "ISO text without zone, declared TAI (time_scale='tai'), converted",
    "iso_utc_z": "ISO text with Z / UTC",
    "iso_utc_offset": "ISO text with a UTC offset, converted to UTC",
    "tai_suffix": "a `_TAI` stamp, converted to UTC with leap seconds",
    "iso_date_utc": "an ISO date alone (YYYY-MM-DD), read as 00:00 UTC",
    "iso_date_tai": "an ISO date alone, declared TAI, 00:00 TAI converted",
}


def sample_times(values, time_scale: str = "utc", source: str = "samples",
                 skip_bad: bool = False, row_names=None):
    """Sample times as UTC datetime64[ns], with how each was read.

    Numbers are Unix seconds (UTC). Text goes through `parse_time_text`:
    ISO times with mixed precision (what `pandas.Timestamp.isoformat`
    writes), a trailing `Z` or offset, `_TAI` stamps (converted), and ISO
    dates alone (midnight, as `DataFrame.to_csv` writes a daily index).
    Times without zone are on `time_scale`.

    Args:
        values: a Series (or sequence) of times.
        time_scale: "utc" or "tai" for times written without zone.
        source: the file name, for messages.
        skip_bad: return unreadable rows instead of raising.
        row_names: how to name each row in messages (e.g. "line 5"); by
            default "row <1-based position>".

    Returns:
        (datetime64[ns] array, object array of `TIME_CONVENTIONS` keys,
        [(position, reason)] of unreadable rows, empty unless `skip_bad`).

    Raises:
        ValueError: an unknown time scale, or (without `skip_bad`) times that
            cannot be read; the message names the file, the column and the
            first rows with their text and reason.

    Example:
        >>> times, conventions, _ = sample_times(["2011-02-15T00:00:00",
        ...                                       "2011-02-15T00:12:00.500000Z"])
        >>> list(conventions)
        ['iso_utc', 'iso_utc_z']
    """
    import pandas as pd

    if time_scale not in TIME_SCALES:
        raise ValueError(f"time_scale must be one of {TIME_SCALES}, got {time_scale!r}.")
    series = pd.Series(values).reset_index(drop=True)
    if row_names is None:
        row_names = [f"row {position + 1}" for position in range(len(series))]
    column = series.name or "timestamp"
    tai = time_scale == "tai"
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        if series.isna().any():
            position = int(np.flatnonzero(series.isna().to_numpy())[0])
            if not skip_bad:
                raise ValueError(
                    f"{source}: column {column!r}, {row_names[position]}: no time (empty) "
                    "among Unix seconds."
                )
        times = pd.to_datetime(series, unit="s").to_numpy(dtype="datetime64[ns]")
        bad = [(int(p), "empty") for p in np.flatnonzero(series.isna().to_numpy())]
        return times, np.full(len(series), "unix_seconds_utc", dtype=object), bad
    if pd.api.types.is_datetime64_any_dtype(series):
        if getattr(series.dt, "tz", None) is not None:
            converted = series.dt.tz_convert("UTC").dt.tz_localize(None)
            return (converted.to_numpy(dtype="datetime64[ns]"),
                    np.full(len(series), "iso_utc_offset", dtype=object), [])
        if tai:
            converted = series.map(tai_to_utc)
            return (converted.to_numpy(dtype="datetime64[ns]"),
                    np.full(len(series), "datetime_tai", dtype=object), [])
        return (series.to_numpy(dtype="datetime64[ns]"),
                np.full(len(series), "datetime_utc", dtype=object), [])
    times = np.full(len(series), np.datetime64("NaT"), dtype="datetime64[ns]")
    conventions = np.full(len(series), "", dtype=object)
    bad = []
    cache = {}
    for position, text in enumerate(series.tolist()):
        if text not in cache:
            cache[text] = _sample_time(text, tai)
        value, convention = cache[text]
        if value is None:
            bad.append((position, convention))
            continue
        times[position] = np.datetime64(value.value, "ns")
        conventions[position] = convention
    if bad and not skip_bad:
        shown = "; ".join(
            f"{row_names[position]} {series.iloc[position]!r} ({reason})"
            for position, reason in bad[:5])
        raise ValueError(
            f"{source}: column {column!r}: {len(bad)} time(s) cannot be read: {shown}. "
            "Expected ISO date-times (2011-02-15T01:44:00, Z or an offset allowed, "
            "_TAI stamps converted) or Unix seconds; relative words, clock times "
            "without a date and ambiguous day/month orders are refused. Pass "
            "skip_bad_times=True (--skip-bad-times) to leave such rows out, counted."
        )
    return times, conventions, bad


def _sample_time(text, tai: bool):
    """(Timestamp, convention) or (None, reason) of one sample time."""
    import pandas as pd

    parsed = parse_time_text(text)
    if parsed.kind == "datetime":
        if parsed.convention == "tai":
            return parsed.value, "tai_suffix"
        if parsed.convention == "utc":
            return (tai_to_utc(parsed.value), "iso_tai") if tai else (parsed.value, "iso_utc")
        return parsed.value, f"iso_{parsed.convention}"
    if parsed.kind == "date" and parsed.value is not None and re.fullmatch(
            r"\d{4}-\d{2}-\d{2}", str(text).strip()):
        value = pd.Timestamp(parsed.value)
        return (tai_to_utc(value), "iso_date_tai") if tai else (value, "iso_date_utc")
    reason = {"relative": "relative time", "date": "date without a time",
              "ambiguous": "ambiguous day/month order", "clock": "clock time without a date",
              "empty": "empty"}.get(parsed.kind, "malformed")
    return None, reason


def _sample_row(samples, position: int):
    """The 1-based row of a sample, or its file line when read by `label_sample_file`."""
    label = samples.index[position]
    return int(label) if samples.attrs.get("row_numbers") == "line" else position + 1


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
    columns=None,
    skip_bad_rows: bool = False,
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
        columns: column map of the event list (`read_event_list`).
        skip_bad_rows: skip ragged rows of the event list, counted.
        **settings: passed to `label_samples` (horizon_hours, threshold,
            window, boundaries, scale, time_scale, skip_bad_times).

    Returns:
        dict with "event_list" (the parse report) and "labels" (the
        labelling report).

    Raises:
        ValueError: an unreadable event list or samples file, missing
            columns, or unreadable sample times; each names the file.
    """
    import pandas as pd

    events, parse_report = read_event_list(events_path, layout=layout, columns=columns,
                                           skip_bad_rows=skip_bad_rows)
    samples, _ = read_csv_strictly(samples_path)
    for column in ("timestamp", "region"):
        if column not in samples.columns:
            raise ValueError(
                f"{samples_path}: no {column!r} column; found {list(samples.columns)}."
            )
    # Unix seconds stay numbers; everything else stays text for sample_times.
    numeric = pd.to_numeric(samples["timestamp"], errors="coerce")
    if numeric.notna().all():
        samples["timestamp"] = numeric
    samples.attrs["row_numbers"] = "line"
    harp_map = HarpNoaaMap.from_file(harp_map_path) if harp_map_path else None
    labelled, label_report = label_samples(events, samples, harp_map=harp_map,
                                           source=str(samples_path), **settings)
    labelled.to_csv(output_path, index=False)
    return {"event_list": parse_report.to_dict(), "labels": label_report}
