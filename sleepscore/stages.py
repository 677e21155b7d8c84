"""Stage codes shared by every module: 0=W, 1=N1, 2=N2, 3=N3, 4=REM, and -1 for unscored epochs."""

from __future__ import annotations

STAGES: tuple[str, ...] = ("W", "N1", "N2", "N3", "REM")
N_STAGES = len(STAGES)
UNSCORED = -1
EPOCH_S = 30.0
TARGET_FS = 100.0
