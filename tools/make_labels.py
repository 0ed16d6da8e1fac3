"""Label a list of samples from a flare event list.

    python tools/make_labels.py --events swpc_flarelist.csv --samples samples.csv \
        --output labels.csv --horizon-hours 24 --threshold M1.0 --window peak \
        --boundaries "(]" --scale swpc [--harp-map all_harps_with_noaa_ars.txt]

`samples.csv` needs `timestamp` (Unix seconds UTC or ISO times) and `region`
("disk", a NOAA number such as 11158, or a HARP such as HARP377). The output
adds `peak_flux`, `goes_class`, `label` and `n_flares`; the event list's
repairs and drops and the label settings are printed as JSON. The logic is
`flarekit.data.events.label_sample_file`.
"""

import argparse
import json

from flarekit.data.events import BOUNDARIES, LAYOUTS, WINDOW_RULES, label_sample_file
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
    args = parser.parse_args(argv)
    threshold = args.threshold
    try:
        threshold = float(threshold)
    except ValueError:
        pass
    summary = label_sample_file(
        args.samples, args.events, args.output, layout=args.layout,
        harp_map_path=args.harp_map, horizon_hours=args.horizon_hours,
        threshold=threshold, window=args.window, boundaries=args.boundaries,
        scale=args.scale,
    )
    print(json.dumps(summary, indent=2, default=str))
    return summary


if __name__ == "__main__":
    main()
