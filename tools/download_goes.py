"""Download GOES XRS science-quality netCDF files from NOAA NCEI.

    python tools/download_goes.py --satellite 16 --start 2017-09-06 --end 2017-09-10 \
        --out data/goes [--resolution flx1s|avg1m]

Prints the files and a report (downloaded, already present, days with no
file). Read them with `flarekit.data.goes.read_xrs`; the flux scale of each
satellite and product is stated there. Logic: `flarekit.data.download`.
"""

import argparse
import json

from flarekit.data.download import GOES_RESOLUTIONS, download_goes


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--satellite", type=int, required=True, help="GOES number, 8-19")
    parser.add_argument("--start", required=True, help="first day, YYYY-MM-DD")
    parser.add_argument("--end", required=True, help="last day, YYYY-MM-DD")
    parser.add_argument("--out", required=True, help="folder to write into")
    parser.add_argument("--resolution", default="flx1s", choices=GOES_RESOLUTIONS)
    args = parser.parse_args(argv)
    paths, report = download_goes(args.satellite, args.start, args.end, args.out,
                                  args.resolution)
    summary = {"files": [str(path) for path in paths], **report}
    print(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main()
