"""Download GOES flares from the Heliophysics Event Knowledgebase (HEK) via sunpy.

    python tools/download_events.py --start 2011-02-14 --end 2011-02-16 \
        --out data/flares_hek.csv

Writes the SWPC flare records in HEK column names (event_starttime,
event_peaktime, event_endtime, fl_goescls, ar_noaanum, ...) and prints the
report of reading them back with `flarekit.data.events.read_event_list`
(repairs and drops). Logic: `flarekit.data.download`.
"""

import argparse
import json

from flarekit.data.download import download_events


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--start", required=True, help="start time (sunpy-parseable)")
    parser.add_argument("--end", required=True, help="end time")
    parser.add_argument("--out", required=True, help="CSV to write")
    args = parser.parse_args(argv)
    path, report = download_events(args.start, args.end, args.out)
    summary = {"file": str(path), "report": report.to_dict() if report else "no flares"}
    print(json.dumps(summary, indent=2, default=str))
    return summary


if __name__ == "__main__":
    main()
