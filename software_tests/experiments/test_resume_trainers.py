"""Every custom trainer resumes in a fresh process.

The starter is run to the end, its metrics.json removed (as when a process
dies after the last epoch's checkpoint, in the report), and the same command
run again in a new interpreter: it must pick the run up, load the checkpoint
(SimCLR, DiffusionModel and ConditionalVAE are custom keras classes, so the
loader has to import them whatever the starter's network.py imported), skip
the finished epochs, and write the report.
"""

import json
import os
import subprocess
import sys

import pytest

from flarekit.experiments import find_experiment


def _run(folder, runs):
    return subprocess.run(
        [sys.executable, str(folder / "network.py"), "--smoke"],
        capture_output=True,
        text=True,
        env={**os.environ, "FLAREKIT_RUNS_DIR": str(runs)},
        timeout=600,
    )


@pytest.mark.parametrize(
    "name",
    ["ssl/simclr_pretrain", "generation/conditional_diffusion", "generation/cvae"],
)
def test_starter_resumes_after_dying_in_its_report(name, tmp_path, tfds_dir):
    folder = find_experiment(name)
    runs = tmp_path / "runs"
    first = _run(folder, runs)
    assert first.returncode == 0, first.stderr[-3000:]
    (run_dir,) = list((runs / name).iterdir())
    history = (run_dir / "history.csv").read_text()
    finished = json.loads((run_dir / "metrics.json").read_text())
    (run_dir / "metrics.json").unlink()

    second = _run(folder, runs)
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"resuming unfinished run {run_dir}" in second.stdout
    assert list((runs / name).iterdir()) == [run_dir]
    assert (run_dir / "history.csv").read_text() == history  # no epoch retrained
    resumed = json.loads((run_dir / "metrics.json").read_text())
    assert resumed.keys() == finished.keys()
