"""Does saliency land on the region that flares? Numbers for the synthetic Sun.

On full-disk images in which one region carries at least half of the disk's
flare rate (the generator knows it) and lies within 60 deg of the central
meridian, measure each saliency method's share of saliency on that region,
against the region's share of the image area (`flarekit.interpret`):

- always for the hand-built reference forecaster (strong opposite
  polarities side by side, as in the R value that sets synthetic flare rates);
- with `--run RUN`, also for a trained full-disk run (e.g. the starter run
  with `--set dataset=synthetic_sun/full_disk --set image_size=128`), on
  steps of its TEST split only.

    python tools/saliency_sanity.py [--run RUN] [--count 12] [--output sanity.csv]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from flarekit import interpret
from flarekit.data import pipeline, synthetic

COLUMNS = ["share", "area_share", "concentration", "flipped_share"]


def reference_table(count: int, size: int = 64) -> pd.DataFrame:
    sun = synthetic.simulate(synthetic.SyntheticSunConfig(duration_days=60.0))
    steps = interpret.sanity_steps(sun, count=count)
    images = np.stack([sun.render_full_disk(step, size) for step in steps])
    model, features = interpret.build_reference_forecaster(size)
    interpret.calibrate_reference_forecaster(model, features, images)
    return interpret.full_disk_sanity(model, sun, steps, size).assign(
        model="reference (hand-built)"
    )


def run_table(run_dir: Path, count: int) -> pd.DataFrame:
    config = json.loads((run_dir / "config.json").read_text())
    builder = pipeline.get_builder(config["dataset"], config.get("data_dir") or None)
    sun = synthetic.simulate(builder.builder_config.sun_config())
    samples = sun.samples("full_disk")
    test_steps = samples.step[sun.split("full_disk").assignment == "test"]
    steps = interpret.sanity_steps(sun, count=count, allowed=test_steps)
    model = interpret.load_run_model(run_dir)
    size = int(model.input_shape[1])
    return interpret.full_disk_sanity(model, sun, steps, size).assign(
        model=f"trained: {run_dir.name}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, default=None, help="a full-disk run folder")
    parser.add_argument("--count", type=int, default=12, help="images per model")
    parser.add_argument("--output", type=Path, default=None, help="CSV of every image")
    args = parser.parse_args()
    tables = [reference_table(args.count)]
    if args.run is not None:
        tables.append(run_table(args.run, args.count))
    table = pd.concat(tables, ignore_index=True)
    summary = table.groupby(["model", "method"])[COLUMNS].median()
    summary["images"] = table.groupby(["model", "method"]).size()
    print("Medians over images:")
    print(summary.round(3).to_string())
    if args.output:
        table.to_csv(args.output, index=False)
        print(args.output)


if __name__ == "__main__":
    main()
