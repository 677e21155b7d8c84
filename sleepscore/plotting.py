"""One-page picture of a scored night: hypnogram(s) and hypnodensity, saved as PNG.

matplotlib is an optional extra (``pip install 'sleepscore[plot]'``) and is imported only when a
plot is asked for, so scoring never pays for it.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from .errors import DataError, UsageError
from .io.writers import ScoredNight, atomic_path
from .sleepstats import check_stage_codes
from .stages import EPOCH_S, STAGES, UNSCORED

# Clinical hypnogram order, top to bottom: W, REM, N1, N2, N3 (REM drawn next to wake, as
# sleep labs do, so deepening sleep reads as going down).
DISPLAY_ORDER = ("N3", "N2", "N1", "REM", "W")
STAGE_COLOURS = {"W": "#f2c14e", "N1": "#9ecae1", "N2": "#4292c6", "N3": "#08306b",
                 "REM": "#e34a33"}
INSTALL_HINT = "plotting needs matplotlib: pip install 'sleepscore[plot]'"
DPI = 100
WIDTH_IN = 12.0
PANEL_HEIGHT_IN = 2.2


def _levels(stages: np.ndarray) -> np.ndarray:
    """Vertical position of each epoch in the hypnogram; unscored epochs become gaps (NaN)."""
    level_of_code = np.array([DISPLAY_ORDER.index(stage) for stage in STAGES], dtype=np.float64)
    codes = np.asarray(stages, dtype=np.int64)
    levels = np.full(codes.shape, np.nan)
    scored = codes != UNSCORED
    levels[scored] = level_of_code[codes[scored]]
    return levels


def plot_night(path: str | Path, probs: np.ndarray, stages: np.ndarray,
               expert: np.ndarray | None = None, start: datetime | None = None,
               epoch_s: float = EPOCH_S, force: bool = False) -> None:
    """Save the hypnogram, the expert's hypnogram (if any) and the hypnodensity as one PNG.

    Panels, top to bottom: predicted hypnogram; expert hypnogram with unscored epochs left blank
    (only when ``expert`` is given); hypnodensity, the stage probabilities stacked per epoch.
    The time axis shows clock time when ``start`` is known, else hours from the start.

    Parameters
    ----------
    path : str or Path
        Output PNG file, written atomically (see :func:`sleepscore.io.writers.atomic_path`).
    probs : np.ndarray
        float ``[n_epochs, 5]`` stage probabilities (W, N1, N2, N3, REM).
    stages : np.ndarray
        Predicted stage per epoch (0-4).
    expert : np.ndarray, optional
        Expert stage per epoch (0-4, -1 unscored).
    start : datetime, optional
        Clock time of the first epoch.
    epoch_s : float
        Epoch length in seconds.
    force : bool
        Replace an existing file.

    Raises
    ------
    UsageError
        If matplotlib is not installed, or the output exists and ``force`` is False.
    DataError
        If the arrays disagree in length or hold invalid stage codes.

    Examples
    --------
    >>> probs = np.full((960, 5), 0.2)
    >>> plot_night("night.png", probs, probs.argmax(axis=1))  # doctest: +SKIP
    """
    png = night_png(probs, stages, expert, start, epoch_s)
    with atomic_path(path, force=force) as temporary:
        temporary.write_bytes(png)


def night_png(probs: np.ndarray, stages: np.ndarray, expert: np.ndarray | None = None,
              start: datetime | None = None, epoch_s: float = EPOCH_S) -> bytes:
    """The picture :func:`plot_night` saves, as PNG bytes (e.g. to embed in an HTML page).

    Parameters and errors are :func:`plot_night`'s, less the output.

    Examples
    --------
    >>> png = night_png(np.full((960, 5), 0.2), np.zeros(960, dtype=int))  # doctest: +SKIP
    >>> png[:8]  # doctest: +SKIP
    b'\\x89PNG\\r\\n\\x1a\\n'
    """
    try:
        # The object-oriented API without pyplot: no global backend switch, no GUI, safe in threads
        # and inside a user's notebook.
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter
    except ImportError:
        raise UsageError(INSTALL_HINT) from None

    # ScoredNight checks the probabilities' shape and the expert's length and codes.
    probs = ScoredNight(probs=np.asarray(probs, dtype=np.float64), expert=expert).probs
    check_stage_codes(stages, "predicted stages")
    if len(stages) != len(probs):
        raise DataError(f"predicted stages have {len(stages)} epochs but the probabilities "
                        f"have {len(probs)}")
    hours = np.arange(len(probs) + 1) * epoch_s / 3600.0  # epoch edges
    hypnograms = [("Predicted", stages)] + ([("Expert", expert)] if expert is not None else [])
    n_panels = len(hypnograms) + 1

    figure = Figure(figsize=(WIDTH_IN, PANEL_HEIGHT_IN * n_panels), dpi=DPI, layout="constrained")
    axes = figure.subplots(n_panels, 1, sharex=True)
    for ax, (title, codes) in zip(axes, hypnograms):
        ax.stairs(_levels(codes), hours, baseline=None, color="black", linewidth=1.0)
        ax.set_yticks(range(len(DISPLAY_ORDER)), DISPLAY_ORDER)
        ax.set_ylim(-0.5, len(DISPLAY_ORDER) - 0.5)
        ax.set_ylabel(title)

    density = axes[-1]
    centres = (hours[:-1] + hours[1:]) / 2
    density.stackplot(centres, probs.T, labels=STAGES, colors=[STAGE_COLOURS[s] for s in STAGES],
                      linewidth=0)
    density.set_ylim(0, 1)
    density.set_ylabel("Probability")
    density.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    density.set_xlim(hours[0], hours[-1])
    if start is not None:
        density.xaxis.set_major_formatter(FuncFormatter(
            lambda h, _: (start + timedelta(hours=h)).strftime("%H:%M")))
        density.set_xlabel(f"Clock time (start {start:%Y-%m-%d %H:%M:%S})")
    else:
        density.set_xlabel("Hours from recording start")

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
