"""Where the tests find the checkout and the shared material beside it, from any test folder."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "models"
SLEEP_EDF = REPO.parent / "shared" / "data" / "sleep-edf"
