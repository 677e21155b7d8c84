"""Constants shared by every module: stage codes 0=W, 1=N1, 2=N2, 3=N3, 4=REM and -1 for unscored
epochs, the epoch length and rate, and the layout of the ``spectral-v1`` features."""

from __future__ import annotations

STAGES: tuple[str, ...] = ("W", "N1", "N2", "N3", "REM")
N_STAGES = len(STAGES)
UNSCORED = -1
EPOCH_S = 30.0
TARGET_FS = 100.0
# spectral-v1 (computed by sleepscore.features; the feature networks read the same layout).
FEATURE_SET = "spectral-v1"
FEATURES_PER_CHANNEL = ("delta", "theta", "alpha", "beta", "gamma",
                        "theta_alpha", "alpha_delta", "log_var", "hjorth_mobility")
#: The contract's offset inside every log and ratio (``ln(P + LOG_OFFSET)``).
LOG_OFFSET = 1e-10
# Onsets and durations are floats parsed from text or from 100-ns EDF+ ticks; a millisecond is far
# below any real scoring resolution and far above float rounding at a day's worth of seconds.
TIME_TOLERANCE_S = 1e-3
