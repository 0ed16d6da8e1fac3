"""Baselines on the NOAA Solar Region Summary table (develop <= 2011, test >= 2012).

    python tools/srs_baseline.py [--table ../shared/data/tables/AR_flare_ml_23_24.csv] \
        [--out runs/srs_baseline] [--threshold M1.0] [--bootstrap 1000]

Climatology, persistence, always-no, the McIntosh-class Poisson forecast
(Bloomfield et al. 2012) and a logistic regression, scored by flarekit's
metrics; writes report.md per forecaster, srs_baseline.md (the comparison
table) and summary.json. Logic: `flarekit.data.srs.run_srs_baseline`.
"""

import argparse
import sys

from flarekit.data.real_files import shared_data_file
from flarekit.data.srs import COUNT_COLUMNS, run_srs_baseline

DEFAULT_TABLE = "tables/AR_flare_ml_23_24.csv"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--table", default=None,
                        help=f"SRS table CSV (default: ../shared/data/{DEFAULT_TABLE})")
    parser.add_argument("--out", default="runs/srs_baseline")
    parser.add_argument("--threshold", default="M1.0", choices=sorted(COUNT_COLUMNS))
    parser.add_argument("--bootstrap", type=int, default=1000, help="region resamples")
    args = parser.parse_args(argv)
    table = args.table or shared_data_file(DEFAULT_TABLE)
    if table is None:
        sys.exit(f"No SRS table: pass --table, or place ../shared/data/{DEFAULT_TABLE}.")
    summary = run_srs_baseline(table, args.out, args.threshold, n_boot=args.bootstrap)
    with open(f"{args.out}/srs_baseline.md", encoding="utf-8") as stream:
        print(stream.read())
    return summary


if __name__ == "__main__":
    main()
