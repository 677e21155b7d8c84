"""AASM-style summary statistics of one hypnogram (TIB, TST, efficiency, latencies, WASO, stages).

Definitions follow YASA's ``sleep_statistics`` (which follows the AASM manual), so numbers can be
compared with what clinicians and YASA users expect; the one deliberate difference is REM latency,
measured from sleep onset as the AASM defines it (YASA's ``Lat_REM`` counts from the record start,
that is ``SOL_min + REM_latency_min`` here).
"""

from __future__ import annotations

import numpy as np

from .errors import DataError
from .stages import EPOCH_S, STAGES, UNSCORED

WAKE = STAGES.index("W")
REM = STAGES.index("REM")
SLEEP_STAGES = ("N1", "N2", "N3", "REM")


def check_stage_codes(stages: np.ndarray, what: str = "hypnogram") -> np.ndarray:
    """Return ``stages`` as a 1-D array after checking every code is a stage or unscored.

    Parameters
    ----------
    stages : np.ndarray
        Stage code per epoch: 0-4 (W, N1, N2, N3, REM) or -1 (unscored).
    what : str
        Name used in the error message, e.g. ``"expert"``.

    Returns
    -------
    np.ndarray
        The same codes as an array.

    Raises
    ------
    DataError
        If ``stages`` is not one-dimensional or holds a code outside -1..4.
    """
    codes = np.asarray(stages)
    if codes.ndim != 1:
        raise DataError(f"{what}: expected one stage per epoch, got shape {codes.shape}")
    bad = codes[(codes < UNSCORED) | (codes >= len(STAGES))]
    if bad.size:
        raise DataError(f"{what}: stage code {bad[0]} is outside -1..{len(STAGES) - 1}")
    return codes


def _percent(part: float, whole: float) -> float | None:
    return 100.0 * part / whole if whole > 0 else None


def sleep_statistics(stages: np.ndarray, epoch_s: float = EPOCH_S) -> dict[str, float | None]:
    """Summary statistics of a hypnogram, in minutes and percent.

    The hypnogram is taken as the time in bed: crop it first (lights-off to lights-on, or the
    "±30 min around sleep" protocol) if the recording runs longer than the night.

    Parameters
    ----------
    stages : np.ndarray
        Stage per epoch in time order: 0=W, 1=N1, 2=N2, 3=N3, 4=REM, -1=unscored. Predicted
        (0-4) and expert (with -1) hypnograms both work.
    epoch_s : float
        Epoch length in seconds.

    Returns
    -------
    dict[str, float | None]
        In this order (minutes unless ``_pct``):

        - ``TIB_min``: time in bed, every epoch of the hypnogram, unscored ones included.
        - ``SPT_min``: sleep period time, from the first to the last sleep epoch inclusive.
        - ``TST_min``: total sleep time, N1+N2+N3+REM epochs (all lie within the SPT).
        - ``SE_pct``: sleep efficiency, TST / TIB x 100.
        - ``SME_pct``: sleep maintenance efficiency, TST / SPT x 100.
        - ``SOL_min``: sleep onset latency, start of the hypnogram to the first sleep epoch.
        - ``WASO_min``: wake after sleep onset, wake epochs within the SPT, i.e. between sleep
          onset and the final awakening (wake after the last sleep epoch is not WASO).
        - ``REM_latency_min``: sleep onset to the first REM epoch (AASM definition).
        - ``W_min``: all wake epochs, before, during and after the SPT.
        - ``N1_min``, ``N2_min``, ``N3_min``, ``REM_min``: time in each sleep stage.
        - ``N1_pct``, ``N2_pct``, ``N3_pct``, ``REM_pct``: time in each stage as percent of TST.
        - ``unscored_min``: unscored epochs (``-1``).

        Unscored epochs count in TIB (and in SPT when they fall inside it) but in no stage, so
        inside the SPT they are neither TST nor WASO and ``SPT = TST + WASO + unscored in SPT``.
        Undefined values are ``None`` (JSON null): ``SOL_min``, ``SME_pct`` and the
        percentages for a night without sleep, ``REM_latency_min`` for a night without REM, and
        ``SE_pct`` for an empty hypnogram.

    Raises
    ------
    DataError
        If ``stages`` is not one-dimensional or holds a code outside -1..4.

    Examples
    --------
    >>> stats = sleep_statistics(np.array([0, 0, 1, 2, 2, 0, 2, 4, 4, 0]))
    >>> stats["TIB_min"], stats["TST_min"], stats["SOL_min"], stats["WASO_min"]
    (5.0, 3.0, 1.0, 0.5)
    >>> stats["REM_latency_min"], stats["SE_pct"]
    (2.5, 60.0)
    """
    hypnogram = check_stage_codes(stages)
    epoch_min = epoch_s / 60.0
    sleep_at = np.flatnonzero(hypnogram > WAKE)
    rem_at = np.flatnonzero(hypnogram == REM)
    onset = int(sleep_at[0]) if sleep_at.size else None
    sleep_period = hypnogram[onset:sleep_at[-1] + 1] if sleep_at.size else hypnogram[:0]

    minutes = {stage: float(np.count_nonzero(hypnogram == STAGES.index(stage))) * epoch_min
               for stage in STAGES}
    tib = hypnogram.size * epoch_min
    spt = sleep_period.size * epoch_min
    tst = sum(minutes[stage] for stage in SLEEP_STAGES)

    stats: dict[str, float | None] = {
        "TIB_min": tib,
        "SPT_min": spt,
        "TST_min": tst,
        "SE_pct": _percent(tst, tib),
        "SME_pct": _percent(tst, spt),
        "SOL_min": onset * epoch_min if onset is not None else None,
        "WASO_min": float(np.count_nonzero(sleep_period == WAKE)) * epoch_min,
        "REM_latency_min": ((int(rem_at[0]) - onset) * epoch_min
                            if rem_at.size and onset is not None else None),
        "W_min": minutes["W"],
    }
    stats.update({f"{stage}_min": minutes[stage] for stage in SLEEP_STAGES})
    stats.update({f"{stage}_pct": _percent(minutes[stage], tst) for stage in SLEEP_STAGES})
    stats["unscored_min"] = float(np.count_nonzero(hypnogram == UNSCORED)) * epoch_min
    return stats
