"""Time per forecast of a run: from the command line and from the web page.

- CLI: `flarekit predict --run RUN FOLDER` on N test patches of the run's
  dataset, in a subprocess; per-file seconds from its CSV (reading, preparing
  and the model call; the first includes the model's warm-up), and the
  command's wall time (Python, TensorFlow and model loading included).
- Page: `flarekit.serving.serve` on 127.0.0.1, the same N files POSTed as the page's
  JavaScript does; the server's forecast and saliency times and the round
  trip. With --chromium, also the round trip measured inside headless
  Chromium (Debian's, driven by playwright).

    python tools/benchmarks/forecast_latency.py --run RUN [--n 20] [--chromium]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd

from flarekit.interpret import read_run_samples
from flarekit.serving.serve import start_server


def write_patches(run_dir: Path, folder: Path, n: int) -> list:
    config = json.loads((run_dir / "config.json").read_text())
    samples, _ = read_run_samples(config, "test", n)
    paths = []
    for index, sample in enumerate(samples):
        paths.append(folder / f"test_{index:03d}.npy")
        np.save(paths[-1], sample["image"])
    return paths


def time_cli(run_dir: Path, folder: Path) -> dict:
    output = folder / "forecasts.csv"
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "flarekit.cli",
            "predict",
            "--run",
            str(run_dir),
            str(folder),
            "--output",
            str(output),
        ],
        check=True,
        capture_output=True,
    )
    wall = time.perf_counter() - started
    seconds = pd.read_csv(output)["seconds"].to_numpy()
    return {
        "files": len(seconds),
        "first_s": float(seconds[0]),
        "median_rest_s": float(np.median(seconds[1:])),
        "command_wall_s": wall,
    }


def time_http(url: str, paths: list) -> dict:
    rows = []
    for path in paths:
        request = urllib.request.Request(
            f"{url}api/predict?name={path.name}", data=path.read_bytes(), method="POST"
        )
        started = time.perf_counter()
        with urllib.request.urlopen(request) as response:
            answer = json.loads(response.read())
        rows.append(
            {
                "round_trip_ms": 1000 * (time.perf_counter() - started),
                "forecast_ms": answer["forecast_ms"],
                "saliency_ms": answer["saliency_ms"],
            }
        )
    frame = pd.DataFrame(rows).iloc[1:]  # the first includes warm-up
    return {key: float(frame[key].median()) for key in frame.columns}


def time_chromium(url: str, paths: list) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium"),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        page = browser.new_page()
        page.goto(url)
        times = []
        for path in paths:
            page.set_input_files("#file", str(path))
            page.click("#submit")
            page.wait_for_function(
                "document.getElementById('submit').textContent === 'Forecast' && "
                "document.getElementById('result').style.display === 'block'"
            )
            times.append(float(page.get_attribute("#timing", "data-round-trip-ms")))
        browser.close()
    return {"page_round_trip_ms": float(np.median(times[1:]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--chromium", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        paths = write_patches(args.run, Path(folder), args.n)
        result = {"cli": time_cli(args.run, Path(folder))}
        server, _ = start_server(args.run, port=0)
        host, port = server.server_address[:2]
        url = f"http://{host}:{port}/"
        try:
            result["http"] = time_http(url, paths)
            if args.chromium:
                result["chromium"] = time_chromium(url, paths)
        finally:
            server.shutdown()
            server.server_close()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
