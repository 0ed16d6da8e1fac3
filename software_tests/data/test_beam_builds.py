"""Dataset builders run as Apache Beam pipelines and write the plain build's examples.

`tfds build --beam_pipeline_options=...` (or a `DownloadConfig` with Beam
options) makes the synthetic_sun and sdoml builders return Beam transforms;
here the DirectRunner builds the smoke configs, and every example must equal
the plain build's, key by key. Skipped without apache-beam (the `beam` extra).
"""

import numpy as np
import pytest
import tensorflow_datasets as tfds

beam = pytest.importorskip("apache_beam")

from flarekit.data import pipeline


def _beam_config():
    options = beam.options.pipeline_options.PipelineOptions(
        ["--runner=DirectRunner", "--direct_num_workers=1"]
    )
    return tfds.download.DownloadConfig(beam_options=options)


def _examples_by_key(builder, split):
    examples = {}
    for example in tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False)):
        key = (example["region"], int(example["timestamp"]))
        assert key not in examples, key
        examples[key] = example
    return examples


def _assert_same_examples(plain, built):
    assert dict(plain.info.splits).keys() == dict(built.info.splits).keys()
    for split in plain.info.splits:
        expected, found = _examples_by_key(plain, split), _examples_by_key(built, split)
        assert sorted(found) == sorted(expected), split
        for key, example in expected.items():
            for feature, value in example.items():
                assert np.array_equal(
                    np.asarray(found[key][feature]), np.asarray(value),
                    equal_nan=np.asarray(value).dtype.kind == "f",
                ), (split, key, feature)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["synthetic_sun/active_region_smoke", "sdoml/v1_smoke"])
def test_beam_build_writes_the_plain_build_examples(name, tfds_dir, tmp_path):
    plain = pipeline.get_builder(name, tfds_dir)
    pipeline.register_builder(name)
    built = tfds.builder(name, data_dir=str(tmp_path))
    built.download_and_prepare(download_config=_beam_config())
    assert built._beam_build  # the builder took the Beam path
    assert built.info.metadata == plain.info.metadata
    _assert_same_examples(plain, built)
