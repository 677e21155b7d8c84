"""Shared fixtures. Real Sleep-EDF material lives in ``../shared`` beside the clone; users' clones
lack it, so every test that needs it skips cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest
from repo_paths import SLEEP_EDF


@pytest.fixture(scope="session")
def sleep_edf_dir() -> Path:
    """``../shared/data/sleep-edf`` (real hypnograms, PSG excerpt, per-night features)."""
    if not (SLEEP_EDF / "README.md").is_file():
        pytest.skip("../shared/data/sleep-edf is not beside this clone")
    return SLEEP_EDF
