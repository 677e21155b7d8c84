"""Expert hypnogram files: the readers of every supported format.

Two kinds of scoring are read, told apart by extension and content:

**Timed annotations** (:class:`Hypnogram`), each with its onset and duration:

- **EDF+ annotation files** (``*.edf``, e.g. Sleep-EDF's ``SC4001EC-Hypnogram.edf``), read with
  pyedflib. Their header carries a clock start time (in Sleep-EDF, the PSG's own start) and the
  annotation onsets count from it.
- **Event tables**, tab-, comma- or semicolon-separated with a header naming an onset, a
  duration and a label column (case-insensitive; synonyms such as ``description``,
  ``annotation``, ``stage``). Onsets are either seconds from the PSG start (BIDS
  ``events.tsv`` style) or ISO date-times (Sleep-EDF text style, ``1989-04-24T16:13:00``).
- **CAP Sleep Database scorings** (PhysioNet ``capslpdb`` ``*.txt``): a free-text preamble,
  then a tab table (``Sleep Stage``, ``Time [hh:mm:ss]``, ``Event``, ``Duration[s]`` ...) whose
  stage rows (``SLEEP-S0`` ... ``SLEEP-REM``, ``SLEEP-MT``) are interleaved with CAP phases and
  other events (``MCAP-A1`` ...), which are skipped. Times are clock times of day without a date,
  so the scoring is placed at the PSG's start within 12 h either way.
- **NSRR XML** ``<PSGAnnotation>`` files: ``<ScoredEvent>`` elements of type ``Stages|Stages``
  with ``<EventConcept>`` (``Stage 2 sleep|2``), ``<Start>`` and ``<Duration>`` in seconds from
  the recording start (see :mod:`sleepscore.nsrr_xml`).

**Epoch lists** (:class:`EpochList`), one label per scoring epoch from the recording start:

- **One label per line**, optionally under one header word such as ``stage`` and/or section
  lines in brackets such as ``[Hypnogram]``. Epochs of 5, 20 or 30 s: given by the caller
  (``--hypnogram-epoch``), else detected as the one length at which the labels fit the
  recording (see *Length rules*).
- **DREAMS scorings** (the DREAMS Subjects, Patients and excerpt databases' ``.txt`` files): a
  ``[HypnogramAASM]``, ``[HypnogramR&K]`` or ``[Hypnogram]`` line, then one integer code per 5-s
  epoch, read with :data:`DREAMS_CODES` (its own coding: ``5`` is wake, ``0`` R&K stage 4). A
  ``label_map`` overrides single codes; ``epoch_s`` the 5 s.
- **Compumedics/Profusion XML** ``<CMPStudyConfig>`` files: ``<SleepStages>`` with one
  ``<SleepStage>`` code per epoch and the epoch length in ``<EpochLength>``.

Labels become stage codes through :mod:`sleepscore.labels`; placing them on the PSG's epochs is
:func:`sleepscore.alignment.epoch_labels`.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

import numpy as np

from ..errors import DataError, UsageError
from ..labels import LABELS, compile_label_map, is_integer_label, normalise_label, stage_code
from ..stages import TIME_TOLERANCE_S
from .edf import read_header
from .nsrr_xml import XmlEpochs, looks_like_xml, read_nsrr_xml
from .tables import (SECONDS_PER_DAY, clock_seconds, column_name, require_fields, split_table,
                     table_delimiter, text_lines)


#: Epoch lengths, in seconds, of the one-label-per-line files that are detected or accepted.
HYPNOGRAM_EPOCHS_S: tuple[float, ...] = (5.0, 20.0, 30.0)


_ONSET_COLUMNS = ("onset", "start", "start time", "begin", "time")


_DURATION_COLUMNS = ("duration", "dur", "length")


_LABEL_COLUMNS = ("stage", "sleep stage", "label", "description", "annotation", "trial type",
                  "event")


#: The DREAMS databases' stage codes (University of Mons, TCTS Lab; their documentation): 5 wake,
#: 4 REM, 3-0 R&K stages 1-4 (stage 4 does not occur in the AASM files), -1 movement, -2 and -3
#: unknown.
DREAMS_CODES: Mapping[str, str] = MappingProxyType({
    "5": "W", "4": "REM", "3": "N1", "2": "N2", "1": "N3", "0": "N3",
    "-1": "movement time", "-2": "?", "-3": "?"})
# A DREAMS scoring's first line; the same bracketed line above words (W, N2 ...) is just a header.
_DREAMS_HEADER = re.compile(r"\s*\[hypnogram(?:aasm|r&k)?\]\s*", re.IGNORECASE)
_DREAMS_EPOCH_S = 5.0


# The header a CAP Sleep Database scoring's table starts with (its own spellings, read by
# column_name), after a preamble of at most this many lines.
_CAP_COLUMNS = ("sleep stage", "time", "event", "duration")
_CAP_PREAMBLE_LINES = 100


class HypnogramWarning(UserWarning):
    """Something about a hypnogram's fit to its recording that the user should know."""


# How each format names the place a label came from, for messages.
_ROW_KINDS = {"edf+": "annotation", "events": "line", "cap": "line", "epochs": "line",
              "dreams": "line", "nsrr-xml": "<ScoredEvent>", "profusion-xml": "<SleepStage>"}


@dataclass(frozen=True, eq=False)
class Hypnogram:
    """An expert scoring as timed intervals, in time order, none overlapping.

    Attributes
    ----------
    onsets : np.ndarray
        float64 seconds from ``start``; when ``start`` is None, from the PSG start.
    durations : np.ndarray
        float64 seconds, all positive (point events are dropped on reading).
    stages : np.ndarray
        int64 stage codes, 0-4 (W, N1, N2, N3, REM) or -1 for unscored.
    start : datetime, time or None
        Clock time of onset 0 when the file carries one (EDF+ header, ISO onsets); a time of day
        alone when the file has no date (CAP).
    path : Path
        The file it was read from.
    rows : np.ndarray
        int64, where each interval came from in the file, for error messages: the 1-based line
        of a text file, the 1-based annotation number of an EDF+ file or the 1-based
        ``<ScoredEvent>`` of an NSRR XML file.
    format : str
        ``"edf+"``, ``"events"`` (onset/duration/label table), ``"cap"`` or ``"nsrr-xml"``.
    """

    onsets: np.ndarray
    durations: np.ndarray
    stages: np.ndarray
    start: datetime | time | None
    path: Path
    rows: np.ndarray
    format: str

    def where(self, index: int) -> str:
        """Describe interval ``index``'s place in the file, e.g. ``"line 12"``."""
        return f"{_ROW_KINDS[self.format]} {int(self.rows[index])}"


@dataclass(frozen=True, eq=False)
class EpochList:
    """An expert scoring as one label per epoch from the recording start, without a clock.

    Attributes
    ----------
    stages : np.ndarray
        int64 stage codes, 0-4 (W, N1, N2, N3, REM) or -1 for unscored, one per epoch.
    epoch_s : float or None
        The scoring epoch length in seconds; None when the file does not say and the caller did
        not either, so that :func:`epoch_labels` detects it from the recording's length.
    path : Path
        The file it was read from.
    rows : np.ndarray
        int64 1-based line (text) or ``<SleepStage>`` (XML) of each label, for messages.
    format : str
        ``"epochs"`` (one label a line), ``"dreams"`` or ``"profusion-xml"``.
    """

    stages: np.ndarray
    epoch_s: float | None
    path: Path
    rows: np.ndarray
    format: str

    def where(self, index: int) -> str:
        """Describe label ``index``'s place in the file, e.g. ``"line 12"``."""
        return f"{_ROW_KINDS[self.format]} {int(self.rows[index])}"

    @property
    def start(self) -> None:
        """Clock time of the first epoch: never known, epoch lists count from the PSG start."""
        return None


def read_hypnogram(path: str | Path | Hypnogram | EpochList,
                   label_map: Mapping[str, str] | None = None,
                   epoch_s: float | None = None) -> Hypnogram | EpochList:
    """Read an expert hypnogram (EDF+ annotations, event table, CAP scoring, NSRR XML, or one
    label per epoch).

    Parameters
    ----------
    path : str, Path, Hypnogram or EpochList
        The hypnogram file; see the module docstring for the formats. A hypnogram already read
        is returned as it is, so that a caller can read it with its own options and hand it to
        code that takes a path or a hypnogram (:func:`sleepscore.scoring.score_night`).
    label_map : mapping of str to str, optional
        File label → stage name (``W``, ``N1``, ``N2``, ``N3``, ``REM``, or an unscored label
        such as ``?``), consulted before the built-in labels, e.g.
        ``{"0": "W", "1": "N1", "2": "N2", "3": "N3", "4": "REM"}``. Keys are matched
        case-insensitively, ignoring surrounding whitespace. Not for NSRR XML, whose codes are
        fixed.
    epoch_s : float, optional
        Epoch length in seconds of a one-label-per-line file, one of
        :data:`HYPNOGRAM_EPOCHS_S` (default: 5 s for a DREAMS scoring, else detected by
        :func:`epoch_labels`). The other formats carry their own times.

    Returns
    -------
    Hypnogram or EpochList
        Timed annotations, or one label per epoch.

    Raises
    ------
    DataError
        If the file cannot be read, is empty, lacks a column or element, holds an unknown label,
        a bad number or time, a negative onset or overlapping intervals (naming the file and
        row), or is XML with a DOCTYPE or entity.
    UsageError
        If ``label_map`` maps to something that is not a stage, ``epoch_s`` is not one of
        :data:`HYPNOGRAM_EPOCHS_S`, or ``epoch_s`` or a ``label_map`` is given for a file
        whose format fixes them, or with a hypnogram already read.

    Examples
    --------
    >>> hyp = read_hypnogram("SC4001EC-Hypnogram.edf")  # doctest: +SKIP
    >>> hyp.start, hyp.stages[:3]  # doctest: +SKIP
    (datetime.datetime(1989, 4, 24, 16, 13), array([0, 1, 2]))
    >>> read_hypnogram("HypnogramAASM_subject1.txt").epoch_s  # a DREAMS scoring  # doctest: +SKIP
    5.0
    """
    if isinstance(path, (Hypnogram, EpochList)):
        if label_map is not None or epoch_s is not None:
            raise UsageError(f"{path.path}: hypnogram already read; give the label map and "
                             "epoch length when reading it")
        return path
    path = Path(path)
    labels = compile_label_map(label_map)
    if epoch_s is not None and epoch_s not in HYPNOGRAM_EPOCHS_S:
        raise UsageError(f"hypnogram epoch length {epoch_s:g} s is not one of "
                         f"{', '.join(f'{length:g}' for length in HYPNOGRAM_EPOCHS_S)} s")
    try:
        with path.open("rb") as file:
            magic = file.read(64)
    except OSError as err:
        raise DataError(f"{path}: cannot read hypnogram ({err.strerror})") from None
    if path.suffix.lower() in (".edf", ".bdf") or magic[:8] in (b"0       ", b"\xffBIOSEMI"):
        hyp: Hypnogram | EpochList = _read_edf_hypnogram(path, labels)
    elif path.suffix.lower() == ".xml" or looks_like_xml(magic):
        if label_map is not None:
            raise UsageError(f"{path}: NSRR XML stage codes are fixed by the format; "
                             "drop --label-map")
        hyp = _read_xml_hypnogram(path)
    else:
        hyp = _read_text_hypnogram(path, labels, epoch_s, label_map)
    if epoch_s is not None and hyp.format not in ("epochs", "dreams"):
        raise UsageError(f"{path}: --hypnogram-epoch applies to one-label-per-line files; "
                         "this file carries its own times")
    return hyp


def _read_edf_hypnogram(path: Path, labels: Mapping[str, int]) -> Hypnogram:
    # pyedflib over mne.read_annotations: it checks the header against the file size (mne's
    # reader regex-scans the raw bytes and silently accepts truncated or corrupt files), it
    # returns the header's start time (mne gives orig_time=None for these files), and it is
    # ~30x faster on the Sleep-EDF hypnograms (0.2 ms vs 7 ms a file, not counting mne's import).
    # Imported here: scoring without a hypnogram (every predict) never needs it, and it costs
    # ~20 ms of start-up.
    import pyedflib

    # Our own header check first: pyedflib prints its complaints about a damaged file on stdout.
    read_header(path)
    try:
        with warnings.catch_warnings():
            # pyedflib warns whenever a header field is not UTF-8 (a Latin-1 patient name is
            # common and harmless); a label that decodes badly is reported as unknown below.
            warnings.filterwarnings("ignore", "Could not decode string", UserWarning)
            with pyedflib.EdfReader(str(path)) as reader:
                onsets, durations, descriptions = reader.readAnnotations()
                start = reader.getStartdatetime()
    except OSError as err:
        raise DataError(f"{path}: not a readable EDF+ file ({_one_line(err)})") from None
    if len(onsets) == 0:
        raise DataError(f"{path}: EDF file has no annotations, so it holds no hypnogram "
                        "(is it a PSG recording?)")
    rows = np.arange(1, len(onsets) + 1)
    stages = [stage_code(path, f"annotation {row}", str(description), labels)
              for row, description in zip(rows, descriptions)]
    # EDF+ marks an annotation without a duration with -1; that is a point event.
    durations = np.maximum(np.asarray(durations, dtype=np.float64), 0.0)
    return _assemble(path, "edf+", np.asarray(onsets, dtype=np.float64), durations,
                     np.asarray(stages, dtype=np.int64), rows, start)


def _read_text_hypnogram(path: Path, labels: Mapping[str, int], epoch_s: float | None,
                         label_map: Mapping[str, str] | None) -> Hypnogram | EpochList:
    lines = text_lines(path)
    cap_header = _cap_header(lines)
    if cap_header is not None:
        return _read_cap_hypnogram(path, lines[cap_header:], labels)
    if _is_dreams(lines):
        # The user's map still wins, code by code.
        codes = compile_label_map({**DREAMS_CODES, **(label_map or {})})
        return _read_epoch_labels(path, lines, codes, epoch_s or _DREAMS_EPOCH_S, "dreams")
    if table_delimiter(lines) is None:
        return _read_epoch_labels(path, lines, labels, epoch_s)
    (onset_col, duration_col, label_col), rows = split_table(
        path, lines, onset=_ONSET_COLUMNS, duration=_DURATION_COLUMNS, stage=_LABEL_COLUMNS)
    n_needed = max(onset_col, duration_col, label_col) + 1
    raw_onsets: list[float | datetime] = []
    durations, stages, line_numbers = [], [], []
    for line_no, fields in rows:
        require_fields(path, line_no, fields, n_needed)
        raw_onsets.append(_onset_value(path, line_no, fields[onset_col]))
        durations.append(_seconds(path, line_no, "duration", fields[duration_col]))
        stages.append(stage_code(path, f"line {line_no}", fields[label_col], labels))
        line_numbers.append(line_no)
    onsets, start = _relative_onsets(path, raw_onsets, line_numbers)
    return _assemble(path, "events", onsets, np.array(durations, dtype=np.float64),
                     np.array(stages, dtype=np.int64), np.array(line_numbers), start)


def _cap_header(lines: list[tuple[int, str]]) -> int | None:
    """Index of a CAP scoring's table header among the first lines, or None."""
    for index, (_, line) in enumerate(lines[:_CAP_PREAMBLE_LINES]):
        if set(_CAP_COLUMNS) <= {column_name(field) for field in line.split("\t")}:
            return index
    return None


def _read_cap_hypnogram(path: Path, lines: list[tuple[int, str]], labels: Mapping[str, int]
                        ) -> Hypnogram:
    (time_col, duration_col, event_col), rows = split_table(
        path, lines, time=("time",), duration=("duration",), event=("event",))
    clocks, durations, stages, line_numbers = [], [], [], []
    for line_no, fields in rows:
        require_fields(path, line_no, fields, max(time_col, duration_col, event_col) + 1)
        # The stages are the SLEEP- events; CAP phases (MCAP-A1 ...) and the rest are not.
        if not normalise_label(fields[event_col]).startswith("sleep "):
            continue
        clocks.append(clock_seconds(path, line_no, fields[time_col]))
        durations.append(_seconds(path, line_no, "duration", fields[duration_col]))
        stages.append(stage_code(path, f"line {line_no}", fields[event_col], labels))
        line_numbers.append(line_no)
    if not clocks:
        raise DataError(f"{path}: CAP scoring has no sleep stage events (SLEEP-S0 ... SLEEP-REM)")
    # A time of day earlier than the first stage's is after midnight.
    onsets = (np.array(clocks) - clocks[0]) % SECONDS_PER_DAY
    start = (datetime.min + timedelta(seconds=clocks[0])).time()
    return _assemble(path, "cap", onsets, np.array(durations, dtype=np.float64),
                     np.array(stages, dtype=np.int64), np.array(line_numbers), start)


def _is_dreams(lines: list[tuple[int, str]]) -> bool:
    """A DREAMS header line followed by integer codes only."""
    return (len(lines) > 1 and _DREAMS_HEADER.fullmatch(lines[0][1]) is not None
            and all(is_integer_label(text) for _, text in lines[1:]))


def _read_epoch_labels(path: Path, lines: list[tuple[int, str]], labels: Mapping[str, int],
                       epoch_s: float | None, fmt: str = "epochs") -> EpochList:
    # Header lines before the first label: section names in brackets ("[Hypnogram]", as some
    # exports write) and one column word ("stage") that is not itself a label.
    while lines and re.fullmatch(r"\s*\[.*\]\s*", lines[0][1]):
        lines = lines[1:]
    if lines and normalise_label(lines[0][1]) in _LABEL_COLUMNS and normalise_label(lines[0][1]) not in labels:
        lines = lines[1:]
    if not lines:
        raise DataError(f"{path}: hypnogram has a header but no labels")
    integers = [text for _, text in lines if is_integer_label(text)]
    stages = [stage_code(path, f"line {line_no}", text, labels, integers) for line_no, text in lines]
    return EpochList(np.array(stages, dtype=np.int64), epoch_s, path,
                     np.array([line_no for line_no, _ in lines], dtype=np.int64), fmt)


def _read_xml_hypnogram(path: Path) -> Hypnogram | EpochList:
    scoring = read_nsrr_xml(path)
    if isinstance(scoring, XmlEpochs):
        rows = np.arange(1, len(scoring.labels) + 1)
        stages = [stage_code(path, f"<SleepStage> {row}", label, LABELS)
                  for row, label in zip(rows, scoring.labels)]
        return EpochList(np.array(stages, dtype=np.int64), scoring.epoch_s, path, rows,
                         "profusion-xml")
    stages = [stage_code(path, f"<ScoredEvent> {number}", label, LABELS)
              for number, label in zip(scoring.numbers, scoring.labels)]
    return _assemble(path, "nsrr-xml", np.array(scoring.onsets, dtype=np.float64),
                     np.array(scoring.durations, dtype=np.float64),
                     np.array(stages, dtype=np.int64), np.array(scoring.numbers), None)


def _assemble(path: Path, fmt: str, onsets: np.ndarray, durations: np.ndarray,
              stages: np.ndarray, rows: np.ndarray, start: datetime | time | None) -> Hypnogram:
    """Order the intervals and check their onsets; point events are dropped here."""
    intervals = durations > 0
    if not intervals.any():
        raise DataError(f"{path}: hypnogram has no annotation with a duration")
    order = np.argsort(onsets[intervals], kind="stable")
    hyp = Hypnogram(onsets=onsets[intervals][order], durations=durations[intervals][order],
                    stages=stages[intervals][order], start=start, path=path,
                    rows=rows[intervals][order].astype(np.int64), format=fmt)
    if hyp.onsets[0] < 0:
        raise DataError(f"{path}: {hyp.where(0)}: negative onset {hyp.onsets[0]:g} s")
    ends = hyp.onsets + hyp.durations
    overlapping = np.flatnonzero(hyp.onsets[1:] < ends[:-1] - TIME_TOLERANCE_S)
    if len(overlapping):
        bad = overlapping[0] + 1
        raise DataError(f"{path}: {hyp.where(bad)}: onset {hyp.onsets[bad]:g} s overlaps the "
                        f"interval before it ({hyp.where(bad - 1)}), which ends at "
                        f"{ends[bad - 1]:g} s")
    return hyp


def _seconds(path: Path, line_no: int, what: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{path}: line {line_no}: {what} {text.strip()!r} is not a number of "
                        "seconds") from None
    if not math.isfinite(value) or value < 0:
        raise DataError(f"{path}: line {line_no}: {what} {text.strip()!r} is not a finite, "
                        "non-negative number of seconds")
    return value


def _onset_value(path: Path, line_no: int, text: str) -> float | datetime:
    # Seconds first: fromisoformat also reads some bare digit strings as dates (20111104).
    try:
        value = float(text)
    except ValueError:
        try:
            return datetime.fromisoformat(text.strip())
        except ValueError:
            raise DataError(f"{path}: line {line_no}: onset {text.strip()!r} is neither seconds "
                            "nor an ISO date-time such as 1989-04-24T16:13:00") from None
    if not math.isfinite(value):
        raise DataError(f"{path}: line {line_no}: onset {text.strip()!r} is not finite")
    if value < 0:
        raise DataError(f"{path}: line {line_no}: negative onset {value:g} s")
    return value


def _relative_onsets(path: Path, raw_onsets: list[float | datetime], line_numbers: list[int]
                     ) -> tuple[np.ndarray, datetime | None]:
    """Seconds from the first clock time (ISO onsets) or the values as given (seconds)."""
    is_clock = [isinstance(onset, datetime) for onset in raw_onsets]
    if all(is_clock):
        aware = [onset.tzinfo is not None for onset in raw_onsets]  # type: ignore[union-attr]
        if any(aware) and not all(aware):
            mixed = line_numbers[aware.index(not aware[0])]
            raise DataError(f"{path}: line {mixed}: onset time zone given on some lines only")
        start = min(raw_onsets)  # type: ignore[type-var]
        return np.array([(onset - start).total_seconds() for onset in raw_onsets]), start
    if any(is_clock):
        mixed = line_numbers[is_clock.index(not is_clock[0])]
        raise DataError(f"{path}: line {mixed}: onsets mix seconds and date-times")
    return np.array(raw_onsets, dtype=np.float64), None


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split())
