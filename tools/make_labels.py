"""Label a list of samples from a flare event list.

    python tools/make_labels.py --events swpc_flarelist.csv --samples samples.csv \
        --output labels.csv --horizon-hours 24 --threshold M1.0 --window peak \
        --boundaries "(]" --scale swpc [--harp-map all_harps_with_noaa_ars.txt] \
        [--layout auto|swpc|swpc_events|ncei|hek|columns] \
        [--columns "class=Flare Class,start=Start Time,peak=Peak Time,end=End Time,region=Active Region Number"] \
        [--skip-bad-rows] [--time-scale utc|tai] [--skip-bad-times]

`samples.csv` needs `timestamp` (Unix seconds UTC or ISO times) and `region`
("disk", a NOAA number such as 11158, or a HARP such as HARP377). The output
adds `peak_flux`, `goes_class`, `label`, `n_flares` and `time_convention`;
the event list's repairs and drops (with their lines) and the label settings
are printed as JSON. An unreadable file exits with its message. The logic is
`flarekit.data.events.label_sample_file`.
"""

import argparse
import json

from flarekit.data.events import (
    BOUNDARIES,
    LAYOUTS,
    TIME_SCALES,
    WINDOW_RULES,
    label_sample_file,
)
from flarekit.data.goes import FLUX_SCALES


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", required=True, help="flare list (SWPC, NCEI, HEK)")
    parser.add_argument("--samples", required=True, help="CSV with timestamp, region")
    parser.add_argument("--output", required=True, help="labelled CSV to write")
    parser.add_argument("--layout", default="auto", choices=("auto", *LAYOUTS))
    parser.add_argument("--horizon-hours", type=float, default=24.0)
    parser.add_argument("--threshold", default="M1.0", help="class (M1.0) or flux")
    parser.add_argument("--window", default="peak", choices=WINDOW_RULES)
    parser.add_argument("--boundaries", default="(]", choices=BOUNDARIES)
    parser.add_argument("--scale", default=None, choices=sorted(FLUX_SCALES))
    parser.add_argument("--harp-map", default=None, help="JSOC HARP -> NOAA map")
    parser.add_argument("--columns", default=None,
                        help='event-list column map, e.g. "class=Flare Class,start=Start '
                             'Time,peak=Peak Time" (roles: class, start, peak, end, '
                             'region, satellite, date)')
    parser.add_argument("--skip-bad-rows", action="store_true",
                        help="skip event-list rows with a wrong number of fields, counted")
    parser.add_argument("--time-scale", default="utc", choices=TIME_SCALES,
                        help="scale of sample times written without a zone")
    parser.add_argument("--skip-bad-times", action="store_true",
                        help="leave out samples whose time cannot be read, counted")
    args = parser.parse_args(argv)
    threshold = args.threshold
    try:
        threshold = float(threshold)
    except ValueError:
        pass
    try:
        summary = label_sample_file(
            args.samples, args.events, args.output, layout=args.layout,
            harp_map_path=args.harp_map, columns=args.columns,
            skip_bad_rows=args.skip_bad_rows, horizon_hours=args.horizon_hours,
            threshold=threshold, window=args.window, boundaries=args.boundaries,
            scale=args.scale, time_scale=args.time_scale,
            skip_bad_times=args.skip_bad_times,
        )
    except (ValueError, FileNotFoundError) as error:
        raise SystemExit(f"make_labels: {error}") from None
    print(json.dumps(summary, indent=2, default=str))
    return summary


if __name__ == "__main__":
    main()
