"""The file-pipeline benchmark runs in a process of its own and reports the
median of per-round ratios (raw run, then pipeline run, back to back)."""

import statistics

import pytest

from flarekit.studies import benchmarks


def test_fits_throughput_in_a_fresh_process_reports_round_ratios(tmp_path):
    paths = benchmarks.write_image_files(tmp_path, "fits", count=8, size=32)
    result = benchmarks.in_fresh_process(
        "file_pipeline_throughput", "fits", paths, repeats=3, reads=64, timeout=300
    )
    assert result["format"] == "fits" and result["rounds"] == 3
    rounds = result["pipeline_over_raw_rounds"]
    assert len(rounds) == 3 and all(ratio > 0 for ratio in rounds)
    assert result["pipeline_over_raw"] == pytest.approx(statistics.median(rounds))
    assert result["astropy_images_per_s"] > 0


def test_a_failing_function_names_itself_and_its_error():
    with pytest.raises(RuntimeError, match="file_pipeline_throughput failed.*ValueError"):
        benchmarks.in_fresh_process("file_pipeline_throughput", "gif", ["x"], timeout=300)
