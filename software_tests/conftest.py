"""Shared test set-up: quiet TensorFlow, a per-session TFDS folder, paths."""

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

REPOSITORY = Path(__file__).resolve().parents[1]
SHARED_DATA = REPOSITORY.parent / "shared" / "data"


@pytest.fixture(scope="session")
def tfds_dir(tmp_path_factory):
    """One TFDS data folder for the whole test session, so each smoke dataset
    is generated once however many tests use it."""
    folder = os.environ.get("FLAREKIT_TEST_DATA_DIR") or str(tmp_path_factory.mktemp("tfds"))
    os.environ["FLAREKIT_DATA_DIR"] = folder
    return folder


@pytest.fixture(scope="session")
def smoke_builder(tfds_dir):
    """The prepared `synthetic_sun/active_region_smoke` builder."""
    from flarekit.data import pipeline

    return pipeline.get_builder("synthetic_sun/active_region_smoke", tfds_dir)


@pytest.fixture
def shared_data():
    """../shared/data when present; the test is skipped cleanly otherwise."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is not present on this machine")
    return SHARED_DATA
