"""Query or export SDO data (AIA, HMI, SHARPs) from JSOC via drms.

    # keywords only (no email needed):
    python tools/download_sdo.py --series hmi.sharp_cea_720s --prime-key 377 \
        --start 2011-02-15T00:00 --end 2011-02-15T04:00 --cadence 96m \
        --keys T_REC,HARPNUM,NOAA_ARS,USFLUX
    # files (an email registered at http://jsoc.stanford.edu/ajax/register_email.html):
    python tools/download_sdo.py --series hmi.sharp_cea_720s --prime-key 377 \
        --start 2011-02-15T00:00 --end 2011-02-15T04:00 --cadence 96m \
        --segments Br,Bp,Bt --email you@example.org --out data/sharp

Read the files with `flarekit.data.fits.read_solar_image` /
`read_sharp_patch`. Logic: `flarekit.data.download`.
"""

import argparse
import json

from flarekit.data.download import export_jsoc, jsoc_record_set, query_jsoc_keywords


def _split(text):
    return tuple(part for part in (text or "").split(",") if part)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", required=True, help="e.g. hmi.sharp_cea_720s")
    parser.add_argument("--start", required=True)
    parser.add_argument("--end", required=True)
    parser.add_argument("--cadence", default=None, help="JSOC step, e.g. 96m, 1h")
    parser.add_argument("--prime-key", action="append", default=[],
                        help="prime-key value before the time (HARP number)")
    parser.add_argument("--trailing-key", action="append", default=[],
                        help="prime-key value after the time (AIA wavelength)")
    parser.add_argument("--segments", default="", help="comma-separated segments")
    parser.add_argument("--keys", default="", help="comma-separated keywords to list")
    parser.add_argument("--email", default=None, help="JSOC-registered email (export)")
    parser.add_argument("--out", default=None, help="folder for exported files")
    parser.add_argument("--poll-seconds", type=float, default=5.0,
                        help="seconds between export status checks")
    args = parser.parse_args(argv)
    record_set = jsoc_record_set(args.series, args.start, args.end, args.cadence,
                                 prime_keys=args.prime_key,
                                 trailing_keys=args.trailing_key,
                                 segments=_split(args.segments))
    summary = {"record_set": record_set}
    if args.keys:
        table = query_jsoc_keywords(record_set, _split(args.keys))
        summary["keywords"] = table.to_dict(orient="records")
    if args.out:
        downloads = export_jsoc(record_set, args.email, args.out, sleep=args.poll_seconds)
        summary["files"] = [str(path) for path in downloads["download"]]
    print(json.dumps(summary, indent=2, default=str))
    return summary


if __name__ == "__main__":
    main()
