"""The starters on real-data builders: configs load, networks build, smoke runs train.

`network_models/sdo_benchmark/binary_c24` (>= C1.0 in 24 h, SolarNet's
setting) and `network_models/sharp_sequences/binary_m24`, `binary_m48`
(>= M1.0 in 24 h / 48 h from 16-frame sequences). Their smoke settings read
the builders' packaged dummy_data/, so they run with no archive.
"""

import importlib.util
import json

import pytest

from flarekit import experiments
from flarekit.data.real_files import REPOSITORY_ROOT

STARTERS = {
    "sdo_benchmark/binary_c24": ("sdo_benchmark/last_step", (16, 16, 10)),
    "sharp_sequences/binary_m24": ("sharp_sequences/m24_fold0", (16, 16, 16, 1)),
    "sharp_sequences/binary_m48": ("sharp_sequences/m48_fold0", (16, 16, 16, 1)),
}


def _network_module(folder):
    spec = importlib.util.spec_from_file_location(f"starter_{folder.name}", folder / "network.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", sorted(STARTERS))
def test_config_loads_and_network_builds(name):
    folder = REPOSITORY_ROOT / "network_models" / name
    dataset, smoke_shape = STARTERS[name]
    assert experiments.load_config(folder / "config.py").dataset == dataset
    config = experiments.load_config(folder / "config.py", smoke=True)
    assert config.dataset.endswith("_smoke")
    network = _network_module(folder).build_network(config)
    assert tuple(network.input_shape[1:]) == smoke_shape
    assert network.output_shape[-1] == 1


@pytest.mark.slow
def test_sdo_benchmark_starter_smoke_run(tmp_path, tfds_dir):
    run_dir = experiments.run_experiment(
        REPOSITORY_ROOT / "network_models" / "sdo_benchmark" / "binary_c24", smoke=True,
        output_dir=str(tmp_path))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["settings"]["threshold"] == "C1.0"
    assert metrics["settings"]["flux_scale"] == "sdo_benchmark"
    assert (run_dir / "report.md").is_file()


@pytest.mark.slow
def test_sharp_sequences_starter_smoke_run(tmp_path, tfds_dir):
    run_dir = experiments.run_experiment(
        REPOSITORY_ROOT / "network_models" / "sharp_sequences" / "binary_m24", smoke=True,
        output_dir=str(tmp_path))
    assert (run_dir / "report.md").is_file()
    assert "TSS" in (run_dir / "report.md").read_text()
