"""`make bench`: every benchmark, then BENCHMARKS.md (and BENCHMARKS.json).

    python tools/benchmarks/run_all.py [--quick] [--output BENCHMARKS.md]

About 15 minutes on a 2-core CPU; --quick checks the machinery in a few.
"""

import argparse

from flarekit.studies.benchmarks import run_all

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, not for reporting")
    parser.add_argument("--output", default="BENCHMARKS.md")
    parser.add_argument("--workdir", default=None, help="scratch folder (default: a temp one)")
    args = parser.parse_args()
    run_all(args.output, args.workdir, quick=args.quick)
