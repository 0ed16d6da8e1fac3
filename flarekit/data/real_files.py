"""Where the real example files are: pip wheels and ../shared/data.

flarekit's tests, notebooks and tools use real observations from two places,
neither of which the project requires (SCIENCE.md, PROVENANCE.md):

- test files shipped inside pinned PyPI wheels (`sunpy==7.0.5`,
  `sunkit-instruments==0.6.2`, `sunkit-image==0.6.1`, installed by the `test`
  extra), under `<package>/data/test/`;
- the shared data folder beside the repository, `<repo>/../shared/data`, or
  the folder named by the environment variable `FLAREKIT_SHARED_DATA`.

Both helpers return None when the file is not there, so callers can skip
with a clear reason instead of failing.

Example:
    >>> path = package_test_file("sunpy", "go1520110607.fits")
    >>> path.name
    'go1520110607.fits'
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

# The repository root: flarekit/data/real_files.py -> flarekit/data -> flarekit -> repo.
REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA_ENV = "FLAREKIT_SHARED_DATA"

# Which wheel carries which test files, for messages telling how to get them.
PACKAGE_PINS = {
    "sunpy": "sunpy==7.0.5",
    "sunkit_instruments": "sunkit-instruments==0.6.2",
    "sunkit_image": "sunkit-image==0.6.1",
}


def package_test_file(package: str, name: str) -> Path | None:
    """Path of a test file inside an installed package, or None.

    Args:
        package: import name, e.g. "sunpy", "sunkit_instruments", "sunkit_image".
        name: file name under `<package>/data/test/` (may contain sub-folders).

    Returns:
        The path when the package is installed and ships the file, else None.

    Example:
        >>> package_test_file("sunkit_image", "aia_171_cutout.fits") is not None
        True
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location) / "data" / "test" / name
        if path.exists():
            return path
    return None


def missing_package_file_reason(package: str, name: str) -> str:
    """A skip reason telling how to obtain a missing wheel test file."""
    pin = PACKAGE_PINS.get(package, package)
    return (
        f"{name} not found in {package}/data/test/: install the test extra "
        f"(pip install -e '.[test]', which pins {pin})."
    )


def shared_data_dir() -> Path | None:
    """The shared real-data folder, or None when it is absent.

    `$FLAREKIT_SHARED_DATA` when set, else `<repository>/../shared/data`.

    Example:
        >>> folder = shared_data_dir()
        >>> folder is None or (folder / "PROVENANCE.md").exists()
        True
    """
    configured = os.environ.get(SHARED_DATA_ENV)
    candidates = [Path(configured)] if configured else []
    candidates.append(REPOSITORY_ROOT.parent / "shared" / "data")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return None


def shared_data_file(relative: str) -> Path | None:
    """A file under the shared data folder, or None.

    Example:
        >>> shared_data_file("events/final_flare_list_sc24.csv")  # doctest: +SKIP
        PosixPath('.../shared/data/events/final_flare_list_sc24.csv')
    """
    folder = shared_data_dir()
    if folder is None:
        return None
    path = folder / relative
    return path if path.exists() else None
