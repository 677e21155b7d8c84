"""Writing results: per-epoch tables, EDF+ hypnograms and JSON, all written atomically.

Every writer goes through :func:`atomic_path`: the file is written under a temporary name in the
target folder and renamed over the target only when complete, so an interrupted run (error,
Ctrl-C) never leaves a truncated file behind, and a previous result stays intact. An existing
output is only replaced when asked to (``force=True``, the CLI's ``--force``).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError, UsageError
from ..sleepstats import check_stage_codes
from ..stages import EPOCH_S, STAGES, UNSCORED

# Labels of the EDF+ standard texts (edfplus.info "standard texts"): AASM stages, and "?" for
# epochs the scorer left unscored, as the Sleep-EDF files write it.
EDF_STAGE_LABELS: dict[int, str] = {
    0: "Sleep stage W",
    1: "Sleep stage N1",
    2: "Sleep stage N2",
    3: "Sleep stage N3",
    4: "Sleep stage R",
    UNSCORED: "Sleep stage ?",
}
TABLE_FORMATS = {"csv": ",", "tsv": "\t"}


def check_output(path: str | Path, force: bool = False) -> Path:
    """Refuse an output that cannot be written, before any work is done for it.

    Raises
    ------
    UsageError
        If ``path`` is a folder, or exists and ``force`` is False.
    DataError
        If its folder does not exist.
    """
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"output {target} is a folder, not a file")
    if target.exists() and not force:
        raise UsageError(f"output {target} already exists; pass --force to overwrite it")
    if not target.parent.is_dir():
        raise DataError(f"output folder {target.parent} does not exist")
    return target


@contextlib.contextmanager
def atomic_path(path: str | Path, force: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write to; it replaces ``path`` only if the block succeeds.

    The rule for existing outputs: an existing file is never replaced unless ``force`` is True
    (the CLI's ``--force``); with ``force`` it is replaced in one atomic rename once the new
    file is complete. On any exception, KeyboardInterrupt included, the temporary file is
    removed and the previous file, if any, is left untouched.

    Parameters
    ----------
    path : str or Path
        Final output path.
    force : bool
        Replace an existing file.

    Yields
    ------
    Path
        A fresh, empty file in the same folder (so the final rename stays on one file system),
        with the same suffix as ``path`` for libraries that pick the format from the name.

    Raises
    ------
    UsageError
        If ``path`` exists and ``force`` is False, or ``path`` is a folder.
    DataError
        If the folder does not exist or cannot be written to.

    Examples
    --------
    >>> with atomic_path("night.csv", force=True) as tmp:  # doctest: +SKIP
    ...     tmp.write_text("epoch,stage\\n0,W\\n")
    """
    target = check_output(path, force)
    folder = target.parent
    try:
        handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{target.suffix}",
                                        dir=folder)
    except OSError as err:
        raise DataError(f"cannot write to output folder {folder}: {err.strerror}") from None
    temporary = Path(name)
    # Everything after mkstemp is inside the try, so that a Ctrl-C arriving at any point of it
    # still removes the temporary file.
    try:
        os.close(handle)
        # mkstemp creates the file readable by its owner only; give the result the permissions
        # any newly created file would get under the user's umask.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        yield temporary
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_json(path: str | Path, obj: Any, force: bool = False) -> None:
    """Write ``obj`` as indented, strict JSON (no NaN), atomically.

    Parameters
    ----------
    path : str or Path
        Output file.
    obj : Any
        JSON-serialisable object (use ``to_dict()`` of metric objects).
    force : bool
        Replace an existing file.
    """
    # Serialise before opening anything, so an unserialisable object leaves no file behind.
    text = json.dumps(obj, indent=2, allow_nan=False) + "\n"
    with atomic_path(path, force=force) as temporary:
        temporary.write_text(text, encoding="utf-8")


@dataclass
class ScoredNight:
    """What the per-epoch table and the hypnogram are written from.

    Attributes
    ----------
    probs : np.ndarray
        float ``[n_epochs, 5]`` stage probabilities in the order W, N1, N2, N3, REM.
    start : datetime or None
        Clock time of the first epoch (the EDF start), None when unknown.
    epoch_s : float
        Epoch length in seconds.
    quality : np.ndarray or None
        Per-epoch quality flag strings ("" for a clean epoch), written as a ``quality`` column.
    expert : np.ndarray or None
        Expert stage codes (0-4, -1 unscored), written as an ``expert`` column.
    """

    probs: np.ndarray
    start: datetime | None = None
    epoch_s: float = EPOCH_S
    quality: np.ndarray | None = None
    expert: np.ndarray | None = None

    def __post_init__(self) -> None:
        if np.ndim(self.probs) != 2 or np.shape(self.probs)[1] != len(STAGES):
            raise DataError(f"stage probabilities must be [n_epochs, {len(STAGES)}], "
                            f"got shape {np.shape(self.probs)}")
        n_epochs = len(self.probs)
        for name in ("quality", "expert"):
            column = getattr(self, name)
            if column is not None and len(column) != n_epochs:
                raise DataError(f"{name} has {len(column)} epochs but there are {n_epochs} "
                                "scored epochs")
        if self.expert is not None:
            check_stage_codes(self.expert, "expert")

    @property
    def stages(self) -> np.ndarray:
        """Most probable stage per epoch (0-4)."""
        return np.asarray(self.probs).argmax(axis=1)


def _stage_name(code: int) -> str:
    # Unscored expert epochs are written as an empty cell: missing data to pandas and spreadsheets.
    return STAGES[code] if code != UNSCORED else ""


def _format_value(value: Any) -> str:
    if value is None:
        return "NA"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def write_scored_table(path: str | Path, table: ScoredNight, stats: Mapping[str, Any] | None = None,
                       fmt: str = "csv", force: bool = False) -> None:
    """Write one row per epoch, then the night's statistics as ``#`` comment lines.

    Columns: ``epoch`` (0-based), ``onset_s`` (seconds from the recording start),
    ``onset_time`` (ISO 8601 date and time, empty when the start is unknown), ``stage``
    (W/N1/N2/N3/REM), ``confidence`` (probability of that stage), ``p_W`` ... ``p_REM``, then
    ``quality`` and ``expert`` (stage name, empty when unscored) when the night has them.

    After the table come lines ``# key: value``, one per entry of ``stats`` (floats with two
    decimals, undefined values as ``NA``). ``pandas.read_csv(path, comment="#")`` skips them;
    a reader built on Python's ``csv`` module must drop rows whose first cell starts with ``#``.

    Parameters
    ----------
    path : str or Path
        Output file.
    table : ScoredNight
        The scored night.
    stats : Mapping, optional
        Summary to append, e.g. :func:`sleepscore.sleepstats.sleep_statistics`.
    fmt : {"csv", "tsv"}
        Comma- or tab-separated.
    force : bool
        Replace an existing file.

    Raises
    ------
    UsageError
        For an unknown ``fmt`` or an existing output without ``force``.

    Examples
    --------
    >>> night = ScoredNight(probs=np.array([[0.9, 0.05, 0.05, 0.0, 0.0]]))
    >>> write_scored_table("night.csv", night, {"TST_min": 0.0})  # doctest: +SKIP
    """
    if fmt not in TABLE_FORMATS:
        raise UsageError(f"unknown table format {fmt!r}; choose one of {', '.join(TABLE_FORMATS)}")
    probs = np.asarray(table.probs, dtype=np.float64)
    stages = table.stages
    header = ["epoch", "onset_s", "onset_time", "stage", "confidence",
              *(f"p_{stage}" for stage in STAGES)]
    if table.quality is not None:
        header.append("quality")
    if table.expert is not None:
        header.append("expert")
    with atomic_path(path, force=force) as temporary, \
            temporary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=TABLE_FORMATS[fmt], lineterminator="\n")
        writer.writerow(header)
        # Python floats and ints: formatting numpy scalars row by row costs several times more.
        for epoch, (row, stage) in enumerate(zip(probs.tolist(), np.asarray(stages).tolist())):
            onset_s = epoch * table.epoch_s
            onset_time = ((table.start + timedelta(seconds=onset_s)).isoformat()
                          if table.start is not None else "")
            cells = [epoch, f"{onset_s:.10g}", onset_time, STAGES[stage], f"{row[stage]:.4f}",
                     *(f"{p:.4f}" for p in row)]
            if table.quality is not None:
                cells.append(table.quality[epoch])
            if table.expert is not None:
                cells.append(_stage_name(int(table.expert[epoch])))
            writer.writerow(cells)
        for key, value in (stats or {}).items():
            handle.write(f"# {key}: {_format_value(value)}\n")


def stage_runs(stages: np.ndarray) -> list[tuple[int, int, int]]:
    """Split a hypnogram into runs of equal stages.

    Parameters
    ----------
    stages : np.ndarray
        Stage code per epoch.

    Returns
    -------
    list[tuple[int, int, int]]
        ``(first epoch, number of epochs, stage code)`` per run, in time order.

    Examples
    --------
    >>> stage_runs(np.array([0, 0, 2, 2, 2, 0]))
    [(0, 2, 0), (2, 3, 2), (5, 1, 0)]
    """
    codes = np.asarray(stages).ravel()
    if codes.size == 0:
        return []
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    lengths = np.diff(np.r_[starts, codes.size])
    return [(int(s), int(n), int(codes[s])) for s, n in zip(starts, lengths)]


def write_hypnogram_edf(path: str | Path, stages: np.ndarray, start: datetime | None = None,
                        epoch_s: float = EPOCH_S, force: bool = False) -> None:
    """Write a hypnogram as an annotation-only EDF+ file, one annotation per run of equal stages.

    The file has the layout of the Sleep-EDF ``*-Hypnogram.edf`` files (EDF+C, a single
    ``EDF Annotations`` signal, one data record of duration 0), which EDFbrowser and
    ``mne.read_annotations`` open. Labels are the EDF+ standard texts ``Sleep stage W``,
    ``Sleep stage N1``, ``Sleep stage N2``, ``Sleep stage N3``, ``Sleep stage R`` and
    ``Sleep stage ?`` (unscored); onsets are seconds from ``start``.

    Parameters
    ----------
    path : str or Path
        Output ``.edf`` file.
    stages : np.ndarray
        Stage code per epoch (0-4, -1 unscored).
    start : datetime or None
        Recording start written to the header; None writes the EDF+ "unknown" start date
        (``X``, header date 01.01.85) and time 00:00:00.
    epoch_s : float
        Epoch length in seconds.
    force : bool
        Replace an existing file.

    Examples
    --------
    >>> write_hypnogram_edf("night-hypnogram.edf", np.array([0, 0, 1, 2]),
    ...                     start=datetime(2024, 3, 1, 23, 10))  # doctest: +SKIP
    """
    # edfio writes annotation-only EDF+ files without a dummy data signal; pyedflib needs one.
    from edfio import Edf, EdfAnnotation, Recording

    codes = np.asarray(stages)
    unknown = sorted({int(c) for c in np.unique(codes)} - EDF_STAGE_LABELS.keys())
    if unknown:
        raise DataError(f"stage code {unknown[0]} has no hypnogram label")
    annotations = [EdfAnnotation(first * epoch_s, count * epoch_s, EDF_STAGE_LABELS[code])
                   for first, count, code in stage_runs(codes)]
    try:
        edf = Edf(signals=[], annotations=annotations,
                  recording=Recording(startdate=start.date() if start is not None else None),
                  starttime=start.time().replace(tzinfo=None) if start is not None else None)
    except ValueError as err:  # e.g. a start date outside the 1985-2084 range EDF can hold
        raise DataError(f"{path}: cannot write the hypnogram: {err}") from None
    with atomic_path(path, force=force) as temporary:
        edf.write(temporary)


def write_feature_table(path: str | Path, features: np.ndarray, names: list[str],
                        epoch_s: float = EPOCH_S, force: bool = False) -> None:
    """Write per-epoch features as CSV: ``epoch``, ``onset_s``, then one column per feature.

    Values are written with 17 significant digits, so reading the file back gives the computed
    float64 values exactly.
    """
    with atomic_path(path, force=force) as temporary, \
            temporary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["epoch", "onset_s", *names])
        for epoch, row in enumerate(np.asarray(features, dtype=np.float64)):
            writer.writerow([epoch, f"{epoch * epoch_s:.10g}", *(f"{v:.17g}" for v in row)])
