"""Class- against log-flux-conditioned diffusion on the same real conditions
(FID with both extractors, class consistency, and whether the images follow
the flux within a class); resumable.

    python tools/conditioning_study.py --class-run RUN --flux-run RUN
        --out runs/conditioning [--min-images 256] [--seeds 0 1 2]
        [--setting dpmpp:20:1 dpmpp:20:2] [--simclr-encoder auto|none|PATH]
    python tools/conditioning_study.py --out runs/conditioning --render

Train the flux run with the class run's settings and `--set condition=log_flux`:

    flarekit run network_models/generation/conditional_diffusion --set condition=log_flux

Rerunning with the same --out resumes: finished points are skipped. Writes
conditioning.json, conditioning.md, figures/flux_response.png and the
extractor classifier. Logic: `flarekit.studies.conditioning`.
"""

import argparse
import json
import sys
import time
from pathlib import Path

from flarekit.studies import conditioning


def parse_setting(token: str) -> tuple:
    """'SAMPLER:STEPS:GUIDANCE' -> (sampler, steps, guidance)."""
    parts = token.split(":")
    try:
        sampler, steps, scale = parts
        steps, scale = int(steps), float(scale)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--setting {token!r}: expected SAMPLER:STEPS:GUIDANCE, e.g. dpmpp:20:1"
        ) from None
    if steps < 1 or scale < 0:
        raise argparse.ArgumentTypeError(
            f"--setting {token!r}: steps must be >= 1 and guidance >= 0"
        )
    return sampler, steps, scale


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--class-run", help="a finished goes_class diffusion run")
    parser.add_argument("--flux-run", help="a finished log_flux diffusion run")
    parser.add_argument("--min-images", type=int, default=256)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--setting",
        type=parse_setting,
        nargs="+",
        default=list(conditioning.SETTINGS),
        metavar="SAMPLER:STEPS:GUIDANCE",
    )
    parser.add_argument("--sweep-images", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--classifier-epochs", type=int, default=3)
    parser.add_argument("--simclr-encoder", default="auto")
    parser.add_argument("--render", action="store_true")
    args = parser.parse_args(argv)

    if args.render:
        path = Path(args.out) / conditioning.RESULTS_FILE
        if not path.exists():
            parser.error(f"--render: no {path} (run the study first)")
        results = json.loads(path.read_text())
        print(conditioning.write_conditioning(args.out, results).read_text())
        return
    if not (args.class_run and args.flux_run):
        parser.error("--class-run and --flux-run are both needed (or --render)")
    started = time.perf_counter()
    try:
        path = conditioning.run_conditioning_study(
            args.out,
            {"goes_class": args.class_run, "log_flux": args.flux_run},
            settings=tuple(args.setting),
            seeds=tuple(args.seeds),
            min_images=args.min_images,
            sweep_images=args.sweep_images,
            batch_size=args.batch_size,
            classifier_options={"epochs": args.classifier_epochs},
            simclr_encoder=None
            if args.simclr_encoder == "none"
            else args.simclr_encoder,
        )
    except ValueError as error:
        sys.exit(f"flarekit: {error}")
    print(f"flarekit: written to {path} ({time.perf_counter() - started:.0f} s)")
    print(path.read_text())


if __name__ == "__main__":
    main()
