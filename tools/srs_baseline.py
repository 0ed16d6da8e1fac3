"""Forecasters on the NOAA Solar Region Summary table (develop <= 2011, test >= 2012).

    python tools/srs_baseline.py [--table ../shared/data/tables/AR_flare_ml_23_24.csv] \
        [--out runs/srs_baseline] [--threshold M1.0] [--bootstrap 1000] [--seeds 0,1,2]

Climatology, persistence, the McIntosh-class Poisson forecast (Bloomfield et
al. 2012), logistic regression and histogram gradient boosting on the day's
descriptors and on the region's history, each at the TSS- and the
HSS2-maximising threshold chosen on validation; writes srs_baseline.md (the
tables, with CPU costs), summary.json, reliability diagrams and a report.md
per forecaster. Logic: `flarekit.studies.srs.run_srs_baseline`.
"""

import argparse
import sys

from flarekit.data.real_files import shared_data_file
from flarekit.data.srs_table import COUNT_COLUMNS
from flarekit.studies.srs import LEARNED_FORECASTERS, SEEDS, run_srs_baseline

DEFAULT_TABLE = "tables/AR_flare_ml_23_24.csv"


def _seeds(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--seeds expects comma-separated integers such as 0,1,2; got {text!r}."
        ) from None


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--table",
        default=None,
        help=f"SRS table CSV (default: ../shared/data/{DEFAULT_TABLE})",
    )
    parser.add_argument("--out", default="runs/srs_baseline")
    parser.add_argument("--threshold", default="M1.0", choices=sorted(COUNT_COLUMNS))
    parser.add_argument("--bootstrap", type=int, default=1000, help="region resamples")
    parser.add_argument(
        "--seeds",
        type=_seeds,
        default=list(SEEDS),
        help="seeds of the learned forecasters (default 0,1,2)",
    )
    parser.add_argument(
        "--forecasters",
        default=",".join(LEARNED_FORECASTERS),
        help="learned forecasters to fit, comma-separated "
        f"(default: all of {', '.join(LEARNED_FORECASTERS)})",
    )
    parser.add_argument(
        "--no-reports",
        action="store_true",
        help="skip the per-forecaster run folders (report.md)",
    )
    args = parser.parse_args(argv)
    table = args.table or shared_data_file(DEFAULT_TABLE)
    if table is None:
        sys.exit(
            f"No SRS table: pass --table, or place ../shared/data/{DEFAULT_TABLE}."
        )
    forecasters = tuple(name for name in args.forecasters.split(",") if name)
    summary = run_srs_baseline(
        table,
        args.out,
        args.threshold,
        n_boot=args.bootstrap,
        seeds=args.seeds,
        forecasters=forecasters,
        write_reports=not args.no_reports,
    )
    with open(f"{args.out}/srs_baseline.md", encoding="utf-8") as stream:
        print(stream.read())
    return summary


if __name__ == "__main__":
    main()
