import subprocess
import sys

import pytest

from flarekit import cli


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    for command in ("run", "build", "report"):
        assert command in out


def test_run_without_network_file_names_the_folder(tmp_path):
    with pytest.raises(SystemExit, match="no network.py"):
        cli.main(["run", str(tmp_path)])


def test_console_script_is_installed():
    result = subprocess.run(
        [sys.executable, "-m", "flarekit.cli", "build", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "dataset" in result.stdout


def test_build_prints_split_sizes(tfds_dir, smoke_builder, capsys):
    cli.main(["build", "synthetic_sun/active_region_smoke", "--data-dir", tfds_dir])
    out = capsys.readouterr().out
    assert "train:" in out and "test:" in out


def test_unknown_dataset_error_lists_known_ones():
    from flarekit.data import pipeline

    with pytest.raises(ValueError, match="synthetic_sun"):
        pipeline.register_builder("no_such_dataset/x")
