"""Shared fixtures: a private cache folder per test session, so tests never read a user's cache."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "twin"))
sys.path.insert(0, str(ROOT / "tests" / "server"))


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    import os

    folder = tmp_path_factory.mktemp("twin-cache")
    old = os.environ.get("TWIN_CACHE_DIR")
    os.environ["TWIN_CACHE_DIR"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("TWIN_CACHE_DIR", None)
    else:
        os.environ["TWIN_CACHE_DIR"] = old
