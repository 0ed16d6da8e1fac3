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


def test_tfrecord_throughput_reports_the_median_of_round_ratios(tmp_path):
    builder = benchmarks.write_memory_dataset(tmp_path, 64)
    result = benchmarks.pipeline_throughput(builder, repeats=3, passes=1)
    for key in ("first_epoch_over_raw", "shuffled_first_epoch_over_raw"):
        rounds = result[f"{key}_rounds"]
        assert len(rounds) == 3 and result[key] == pytest.approx(statistics.median(rounds))
    assert result["images"] == result["raw_images_checked"] == 64
    assert result["cached_epoch_over_raw"] > 0
