"""Expert hypnograms: reading, stage-label mapping, alignment to PSG epochs, and trimming.

Two kinds of scoring are read, told apart by extension and content:

**Timed annotations** (:class:`Hypnogram`), each with its onset and duration:

- **EDF+ annotation files** (``*.edf``, e.g. Sleep-EDF's ``SC4001EC-Hypnogram.edf``), read with
  pyedflib. Their header carries a clock start time (in Sleep-EDF, the PSG's own start) and the
  annotation onsets count from it.
- **Event tables**, tab-, comma- or semicolon-separated with a header naming an onset, a
  duration and a label column (case-insensitive; synonyms such as ``description``,
  ``annotation``, ``stage``). Onsets are either seconds from the PSG start (BIDS
  ``events.tsv`` style) or ISO date-times (Sleep-EDF text style, ``1989-04-24T16:13:00``).
- **NSRR XML** ``<PSGAnnotation>`` files: ``<ScoredEvent>`` elements of type ``Stages|Stages``
  with ``<EventConcept>`` (``Stage 2 sleep|2``), ``<Start>`` and ``<Duration>`` in seconds from
  the recording start (see :mod:`sleepscore.nsrr_xml`).

**Epoch lists** (:class:`EpochList`), one label per scoring epoch from the recording start:

- **One label per line**, optionally under one header word such as ``stage`` and/or section
  lines in brackets such as ``[Hypnogram]``. Epochs of 5, 20 or 30 s: given by the caller
  (``--hypnogram-epoch``), else detected as the one length at which the labels fit the
  recording (see *Length rules*).
- **Compumedics/Profusion XML** ``<CMPStudyConfig>`` files: ``<SleepStages>`` with one
  ``<SleepStage>`` code per epoch and the epoch length in ``<EpochLength>``.

Labels are R&K (``W 1 2 3 4 R M ?``, ``MT``), AASM (``W N1 N2 N3 R REM``, ``N4``), Sleep-EDF
(``Sleep stage W``, ``Movement time``) and vendor EDF+ spellings (``Sleep stage N2``,
``Stage 2``, ``Stage 2 sleep``, ``SLEEP-S2``, ``SLEEP-S0`` for wake, ``SLEEP-REM``,
``REM sleep``, ``Wake``, ``Sleep_stage_N2``), case-insensitive. R&K 3 and 4 both become N3.
Movement time, ``?``, ``Unscored`` and lights markers are not stages: their epochs are unscored
(-1) and excluded from every metric. Integer-coded text files (``0`` = W ...) need a label map
(:func:`parse_label_map`): without one ``0`` is an unknown label and ``1``-``4`` are read as R&K
stage numbers (so ``4`` is N3). The NSRR XML codes (0 W, 1-4, 5 REM, 6 movement, 9 unscored)
are fixed by the format.

Alignment rules (:func:`epoch_labels`): each timed annotation must start and end on the PSG's
epoch grid, so a 90-s annotation labels exactly three epochs; an annotation that would split an
epoch is an error naming its row, since any rounding would invent labels the expert never gave.
Rows with zero duration are point events (e.g. ``Lights off``) and label no epoch. An epoch list
scored in shorter epochs than the PSG's (5 or 20 s into 30 s) is combined by majority: each
stage, and unscored, counts the seconds it covers in the 30-s epoch; the largest count wins and
a tie goes to the tied label that comes first in the epoch.

Length rules (:func:`epoch_labels`), with a tolerance of :func:`length_tolerance_s` (the larger
of one PSG epoch and 2 % of the recording):

- An epoch list carries no clock, so its length is all that says its epochs are the PSG's: when
  its span differs from the recording's by more than the tolerance, that is an error naming both
  lengths (a wrong epoch length, or another night's file). Within the tolerance, labels past the
  end are cut with a warning giving their count.
- Timed annotations are placed by their own times, and cut at the end of the signal: Sleep-EDF
  hypnograms run hours past the end of the PSG (an unscored ``Sleep stage ?`` tail to midnight
  of the second day, or a few hours of wake), and an excerpt of a night is scored by its
  night's hypnogram. The cut is silent for unscored and wake tails and a warning giving the
  count of cut epochs when it drops sleep stages.

Warnings are issued as :class:`HypnogramWarning` with :func:`warnings.warn`; the CLI prints them
as its own warnings.
"""

from __future__ import annotations

import csv
import json
import math
import re
import warnings
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path
from typing import Mapping, NamedTuple, Sequence

import numpy as np

from .edf import read_header
from .errors import DataError, UsageError
from .nsrr_xml import XmlEpochs, looks_like_xml, read_nsrr_xml
from .protocols import TRIMS
from .stages import EPOCH_S, UNSCORED


# Onsets and durations are floats parsed from text or from 100-ns EDF+ ticks; a millisecond is far
# below any real scoring resolution and far above float rounding at a day's worth of seconds.
_TOLERANCE_S = 1e-3
_SECONDS_PER_DAY = 86400.0
_WAKE_MARGIN_S = 30 * 60.0

#: Epoch lengths, in seconds, of the one-label-per-line files that are detected or accepted.
HYPNOGRAM_EPOCHS_S: tuple[float, ...] = (5.0, 20.0, 30.0)
# Share of the recording by which an epoch list's span may differ from it (at least one epoch):
# an export may add a label for a last partial epoch or stop a few minutes early, while a wrong
# epoch length is off by 33 % or more (20 vs 30 s).
_LENGTH_TOLERANCE_SHARE = 0.02

_STAGE_TOKENS: dict[str, int] = {
    "w": 0, "wake": 0, "awake": 0, "s0": 0,
    "1": 1, "n1": 1, "s1": 1,
    "2": 2, "n2": 2, "s2": 2,
    "3": 3, "4": 3, "n3": 3, "n4": 3, "s3": 3, "s4": 3,
    "r": 4, "rem": 4,
    "?": UNSCORED, "m": UNSCORED, "mt": UNSCORED, "unscored": UNSCORED,
}
# Every stage token also appears in the vendor phrasings around it: "Sleep stage 2" (Sleep-EDF),
# "Sleep stage N2", "Stage 2", "SLEEP-S2" (Compumedics EDF+), "Stage 2 sleep" and "REM sleep"
# (NSRR).
_PHRASINGS = ("{}", "sleep stage {}", "stage {}", "sleep {}", "stage {} sleep", "{} sleep")
_LABELS: dict[str, int] = {
    **{form.format(token): code for form in _PHRASINGS for token, code in _STAGE_TOKENS.items()},
    **dict.fromkeys(["movement time", "movement", "not scored", "l", "lights",
                     "lights off", "lights on"], UNSCORED),
}

_ONSET_COLUMNS = ("onset", "start", "start time", "begin", "time")
_DURATION_COLUMNS = ("duration", "dur", "length")
_LABEL_COLUMNS = ("stage", "sleep stage", "label", "description", "annotation", "trial type",
                  "event")
_NIGHT_COLUMNS = ("night", "recording", "record", "name")
_REC_START_COLUMNS = ("rec start", "recording start", "start", "start time")
_LIGHTS_OFF_COLUMNS = ("lights off", "lightsoff", "lights out")
_LIGHTS_ON_COLUMNS = ("lights on", "lightson")


class HypnogramWarning(UserWarning):
    """Something about a hypnogram's fit to its recording that the user should know."""


# How each format names the place a label came from, for messages.
_ROW_KINDS = {"edf+": "annotation", "events": "line", "epochs": "line",
              "nsrr-xml": "<ScoredEvent>", "profusion-xml": "<SleepStage>"}


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
    start : datetime or None
        Clock time of onset 0 when the file carries one (EDF+ header, ISO onsets).
    path : Path
        The file it was read from.
    rows : np.ndarray
        int64, where each interval came from in the file, for error messages: the 1-based line
        of a text file, the 1-based annotation number of an EDF+ file or the 1-based
        ``<ScoredEvent>`` of an NSRR XML file.
    format : str
        ``"edf+"``, ``"events"`` (onset/duration/label table) or ``"nsrr-xml"``.
    """

    onsets: np.ndarray
    durations: np.ndarray
    stages: np.ndarray
    start: datetime | None
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
        ``"epochs"`` (one label a line) or ``"profusion-xml"``.
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


class Lights(NamedTuple):
    """Lights-off and lights-on, in seconds from the recording start."""

    off_s: float
    on_s: float


@dataclass(frozen=True)
class LightsTable:
    """Per-recording lights times read by :func:`read_lights_table`.

    Attributes
    ----------
    path : Path
        The table file, named in error messages.
    nights : dict of str to Lights
        Lights times by recording name (the table's night column).
    """

    path: Path
    nights: dict[str, Lights]

    def lookup(self, recording: str) -> Lights:
        """Lights times of one recording.

        Parameters
        ----------
        recording : str
            Recording name, e.g. a PSG file stem. A table row matches when its name equals it or
            is its prefix (``SC4001E0`` matches ``SC4001E0-PSG``); the longest match wins.

        Returns
        -------
        Lights

        Raises
        ------
        DataError
            If no row matches.

        Examples
        --------
        >>> table = read_lights_table("sc78-nights.tsv")  # doctest: +SKIP
        >>> table.lookup("SC4001E0-PSG")  # doctest: +SKIP
        Lights(off_s=30300.0, on_s=53160.0)
        """
        matches = [name for name in self.nights if recording.startswith(name)]
        if not matches:
            raise DataError(f"{self.path}: no lights-off/lights-on row for recording "
                            f"{recording!r}")
        return self.nights[max(matches, key=len)]


def read_hypnogram(path: str | Path | Hypnogram | EpochList,
                   label_map: Mapping[str, str] | None = None,
                   epoch_s: float | None = None) -> Hypnogram | EpochList:
    """Read an expert hypnogram (EDF+ annotations, event table, NSRR XML, or one label per epoch).

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
        :data:`HYPNOGRAM_EPOCHS_S` (default: detected by :func:`epoch_labels`). The other formats
        carry their own times.

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
    >>> read_hypnogram("dreams-5s.txt", epoch_s=5).epoch_s  # doctest: +SKIP
    5.0
    """
    if isinstance(path, (Hypnogram, EpochList)):
        if label_map is not None or epoch_s is not None:
            raise UsageError(f"{path.path}: hypnogram already read; give the label map and "
                             "epoch length when reading it")
        return path
    path = Path(path)
    labels = _compile_label_map(label_map)
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
        hyp = _read_text_hypnogram(path, labels, epoch_s)
    if epoch_s is not None and hyp.format != "epochs":
        raise UsageError(f"{path}: --hypnogram-epoch applies to one-label-per-line files; "
                         "this file carries its own times")
    return hyp


def length_tolerance_s(recording_s: float, epoch_s: float = EPOCH_S) -> float:
    """How far, in seconds, an epoch list's span may differ from its recording's.

    The larger of one epoch and 2 % of the recording (9.6 min of an 8-h night): an export may
    add a label for a last partial epoch or stop a few minutes early, while a wrong epoch length
    is off by a third or more (20 s read as 30 s) and a 5-s list read as 30-s labels by six
    times.

    Examples
    --------
    >>> length_tolerance_s(8 * 3600)
    576.0
    >>> length_tolerance_s(300)
    30.0
    """
    return max(float(epoch_s), _LENGTH_TOLERANCE_SHARE * float(recording_s))


def epoch_labels(hyp: Hypnogram | EpochList, n_epochs: int, psg_start: datetime | None = None,
                 epoch_s: float = EPOCH_S) -> np.ndarray:
    """Expand a hypnogram into one stage code per PSG epoch.

    Timed annotations (:class:`Hypnogram`) are placed on the PSG's time axis by clock time when
    both have one (wall-clock times are compared if only one carries a time zone), otherwise
    their onsets are taken as seconds from the PSG start; they are cut at the end of the signal,
    with a :class:`HypnogramWarning` giving the count of cut epochs when sleep stages (not just
    wake or unscored time) are cut. An :class:`EpochList` starts with the PSG and must span its length
    within :func:`length_tolerance_s`; its epoch length, when not known, is the one of
    :data:`HYPNOGRAM_EPOCHS_S` at which it fits, and shorter epochs than the PSG's are combined
    by majority (ties to the label first in the epoch). Epochs no label covers are -1.

    Parameters
    ----------
    hyp : Hypnogram or EpochList
        From :func:`read_hypnogram`.
    n_epochs : int
        Number of whole epochs in the PSG.
    psg_start : datetime, optional
        Clock time of the PSG's first sample.
    epoch_s : float
        Epoch length in seconds.

    Returns
    -------
    np.ndarray
        int64 ``[n_epochs]``: 0-4 (W, N1, N2, N3, REM) or -1 (unscored or not covered).

    Raises
    ------
    DataError
        If a timed hypnogram does not overlap the PSG at all (another night?), starts more than
        one epoch before it, or an interval inside the PSG does not start and end on its epoch
        grid, the message giving the mismatch in seconds; if an epoch list does not fit the
        recording's length (naming both), fits it at none or several of the epoch lengths, or
        has an epoch length that is not a whole number of seconds.

    Examples
    --------
    >>> hyp = read_hypnogram("SC4001EC-Hypnogram.edf")  # doctest: +SKIP
    >>> epoch_labels(hyp, 10, psg_start=hyp.start)  # doctest: +SKIP
    array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    >>> scored_in_5s = EpochList(np.array([0] * 4 + [2] * 8), 5.0, Path("dreams.txt"),
    ...                          np.arange(1, 13), "epochs")
    >>> epoch_labels(scored_in_5s, 2)  # 4 W + 2 N2, then 6 N2
    array([0, 2])
    """
    if n_epochs < 1:
        raise ValueError(f"n_epochs must be positive, got {n_epochs}")
    if isinstance(hyp, EpochList):
        return _epoch_list_labels(hyp, n_epochs, epoch_s)
    offset = _clock_offset(hyp.start, psg_start)
    starts = offset + hyp.onsets
    ends = starts + hyp.durations
    psg_end = n_epochs * epoch_s
    if ends[-1] <= 0:
        raise DataError(f"{hyp.path}: hypnogram ends {-ends[-1]:g} s before the PSG starts, so "
                        "it does not overlap the recording (a different night?)")
    if starts[0] >= psg_end:
        raise DataError(f"{hyp.path}: hypnogram starts {starts[0] - psg_end:g} s after the "
                        f"{psg_end:g}-s PSG ends, so it does not overlap the recording "
                        "(a different night?)")
    if starts[0] < -epoch_s - _TOLERANCE_S:
        raise DataError(f"{hyp.path}: hypnogram starts {-starts[0]:g} s before the PSG, more "
                        f"than one {epoch_s:g}-s epoch (a different recording?)")
    if not _on_grid(np.array([offset]), epoch_s)[0]:
        raise DataError(f"{hyp.path}: hypnogram starts {offset:g} s after the PSG, not a whole "
                        f"number of {epoch_s:g}-s epochs, so its epochs do not match the PSG's")
    # Only the part inside the PSG must fit the grid: what lies outside is cut anyway.
    clipped_starts = np.clip(starts, 0.0, psg_end)
    clipped_ends = np.clip(ends, 0.0, psg_end)
    off_grid = ~(_on_grid(clipped_starts, epoch_s) & _on_grid(clipped_ends, epoch_s))
    if off_grid.any():
        bad = int(np.flatnonzero(off_grid)[0])
        raise DataError(f"{hyp.path}: {hyp.where(bad)}: interval {starts[bad]:g}-{ends[bad]:g} s "
                        f"from the PSG start does not start and end on the {epoch_s:g}-s "
                        "epoch grid")
    # A wake or unscored tail is what Sleep-EDF's hypnograms have past their PSG; sleep past the
    # end means a truncated recording or an excerpt, which the user should know of.
    asleep = (hyp.stages != UNSCORED) & (hyp.stages != 0)
    cut_s = float((np.maximum(ends, psg_end) - np.maximum(starts, psg_end))[asleep].sum())
    if cut_s > _TOLERANCE_S:
        warnings.warn(f"{hyp.path}: {cut_s / epoch_s:.0f} epoch(s) of sleep stages lie past the "
                      f"end of the {psg_end:g}-s recording and were cut (the hypnogram scores "
                      f"sleep up to {ends[asleep].max():g} s)", HypnogramWarning, stacklevel=2)
    first_epochs = np.rint(clipped_starts / epoch_s).astype(np.int64)
    end_epochs = np.rint(clipped_ends / epoch_s).astype(np.int64)
    labels = np.full(n_epochs, UNSCORED, dtype=np.int64)
    for first, end, stage in zip(first_epochs, end_epochs, hyp.stages):
        labels[first:end] = stage
    return labels


def _epoch_list_labels(hyp: EpochList, n_epochs: int, epoch_s: float) -> np.ndarray:
    """An epoch list checked against the recording's length and combined into its epochs."""
    recording_s = n_epochs * epoch_s
    tolerance = length_tolerance_s(recording_s, epoch_s)
    n = len(hyp.stages)
    psg = f"the recording is {recording_s:g} s ({n_epochs} epochs of {epoch_s:g} s)"
    if hyp.epoch_s is None:
        fits = [length for length in HYPNOGRAM_EPOCHS_S
                if abs(n * length - recording_s) <= tolerance]
        spans = ", ".join(f"{n * length:g} s at {length:g}-s epochs" for length in HYPNOGRAM_EPOCHS_S)
        if not fits:
            raise DataError(f"{hyp.path}: {n} labels do not fit the recording at any epoch "
                            f"length ({spans}), but {psg}, give or take {tolerance:g} s "
                            "(another night's hypnogram?)")
        if len(fits) > 1:
            raise DataError(f"{hyp.path}: {n} labels fit the {recording_s:g}-s recording at "
                            f"{' and '.join(f'{length:g}' for length in fits)}-s epochs alike; "
                            "give the hypnogram's epoch length (--hypnogram-epoch)")
        length = fits[0]
    else:
        length = hyp.epoch_s
        span = n * length
        if abs(span - recording_s) > tolerance:
            source = ("its <EpochLength>" if hyp.format == "profusion-xml"
                      else "check --hypnogram-epoch")
            raise DataError(f"{hyp.path}: {n} labels of {length:g} s span {span:g} s, but {psg}; "
                            f"they differ by more than the {tolerance:g}-s tolerance (another "
                            f"night's hypnogram, or the wrong epoch length: {source})")
    if length != int(length):
        raise DataError(f"{hyp.path}: epoch length {length:g} s is not a whole number of seconds")
    past = n - int(math.floor(recording_s / length + _TOLERANCE_S))
    if past > 0:
        warnings.warn(f"{hyp.path}: {past} label(s) of {length:g} s from {hyp.where(n - past)} on "
                      f"lie past the end of the {recording_s:g}-s recording and were cut",
                      HypnogramWarning, stacklevel=3)
    return _majority_epochs(hyp.stages, int(length), n_epochs, epoch_s)


def _majority_epochs(stages: np.ndarray, length_s: int, n_epochs: int, epoch_s: float
                     ) -> np.ndarray:
    """Labels of ``length_s`` seconds each → one per PSG epoch, by the seconds each covers.

    Both lengths are cut into slices of their greatest common divisor (5 s for 5-s labels,
    10 s for 20-s ones); every slice votes for its label, unscored included, and slices past
    the last label vote unscored. The most votes win; a tie goes to the tied label whose first
    slice comes first in the epoch.
    """
    if epoch_s != int(epoch_s):
        raise ValueError(f"PSG epoch length {epoch_s:g} s is not a whole number of seconds")
    slice_s = math.gcd(length_s, int(epoch_s))
    per_epoch = int(epoch_s) // slice_s
    slices = np.full(n_epochs * per_epoch, UNSCORED, dtype=np.int64)
    repeated = np.repeat(stages, length_s // slice_s)[:len(slices)]
    slices[:len(repeated)] = repeated
    votes = slices.reshape(n_epochs, per_epoch)[:, :, None] == np.arange(UNSCORED, 5)
    counts = votes.sum(axis=1)
    first = np.where(votes.any(axis=1), votes.argmax(axis=1), per_epoch)
    # More votes first, then the earlier first slice: one integer score per candidate label.
    return (counts * (per_epoch + 1) - first).argmax(axis=1) + UNSCORED


def trim_mask(labels: np.ndarray, protocol: str, lights: tuple[float, float] | None = None,
              epoch_s: float = EPOCH_S, *, source: str | Path = "recording") -> np.ndarray:
    """Epochs a trimming protocol keeps for training and evaluation.

    Parameters
    ----------
    labels : np.ndarray
        Per-epoch stage codes (:func:`epoch_labels`).
    protocol : {"none", "30min", "lights"}
        ``none`` keeps the whole recording. ``30min`` is the literature's ±30 min: from 30 min
        before the first sleep (N1, N2, N3, REM) epoch to 30 min after the last one. ``lights``
        keeps the epochs lying wholly between lights-off and lights-on.
    lights : (float, float), optional
        Lights-off and lights-on in seconds from the PSG start (e.g. a :class:`Lights`); needed
        by ``lights``.
    epoch_s : float
        Epoch length in seconds.
    source : str or Path
        Recording named in error messages.

    Returns
    -------
    np.ndarray
        bool ``[len(labels)]``, True for kept epochs. Unscored epochs inside the window stay
        True; metrics exclude them by their -1 label.

    Raises
    ------
    UsageError
        For an unknown protocol, or ``lights`` without lights times.
    DataError
        If the protocol keeps nothing: no sleep epoch (``30min``), or lights times outside the
        recording or in the wrong order (``lights``).

    Examples
    --------
    >>> labels = np.array([0] * 100 + [2] * 10 + [0] * 100)
    >>> int(trim_mask(labels, "30min").sum())  # 60 wake epochs either side of the sleep
    130
    """
    labels = np.asarray(labels)
    if protocol == "none":
        return np.ones(len(labels), dtype=bool)
    mask = np.zeros(len(labels), dtype=bool)
    if protocol == "30min":
        sleep = np.flatnonzero((labels >= 1) & (labels <= 4))
        if len(sleep) == 0:
            raise DataError(f"{source}: no sleep epoch (N1, N2, N3 or REM), so the 30min "
                            "protocol keeps nothing")
        margin = round(_WAKE_MARGIN_S / epoch_s)
        mask[max(sleep[0] - margin, 0):sleep[-1] + margin + 1] = True
        return mask
    if protocol == "lights":
        if lights is None:
            raise UsageError("the lights protocol needs lights-off and lights-on times "
                             "(--lights FILE)")
        off_s, on_s = lights
        if not off_s < on_s:
            raise DataError(f"{source}: lights-on ({on_s:g} s) is not after lights-off "
                            f"({off_s:g} s)")
        epoch_starts = np.arange(len(labels)) * epoch_s
        mask = ((epoch_starts >= off_s - _TOLERANCE_S)
                & (epoch_starts + epoch_s <= on_s + _TOLERANCE_S))
        if not mask.any():
            raise DataError(f"{source}: no whole epoch between lights-off ({off_s:g} s) and "
                            f"lights-on ({on_s:g} s) in a {len(labels) * epoch_s:g}-s recording")
        return mask
    raise UsageError(f"unknown trimming protocol {protocol!r}; choose one of "
                     f"{', '.join(TRIMS)}")


def read_lights_table(path: str | Path) -> LightsTable:
    """Read per-recording lights-off/lights-on clock times, like Sleep-EDF's ``sc78-nights.tsv``.

    Parameters
    ----------
    path : str or Path
        Tab-, comma- or semicolon-separated table with a header naming the recording
        (``night``), its start (``rec_start``), ``lights_off`` and ``lights_on`` columns
        (case-insensitive; other columns are ignored), times as ``hh:mm:ss[.fff]``.

    Returns
    -------
    LightsTable
        Times converted to seconds from the recording start; a time earlier in the day than the
        start is taken to be after midnight.

    Raises
    ------
    DataError
        If the file is unreadable or empty, lacks a column, repeats a recording, or holds a bad
        time or a lights-on not after lights-off (naming the line).

    Examples
    --------
    >>> table = read_lights_table("sc78-nights.tsv")  # doctest: +SKIP
    >>> table.nights["SC4001E0"]  # rec_start 16:13:00, lights 00:38:00 to 06:59:00  # doctest: +SKIP
    Lights(off_s=30300.0, on_s=53160.0)
    """
    path = Path(path)
    lines = _text_lines(path)
    (night_col, start_col, off_col, on_col), rows = _split_table(
        path, lines, night=_NIGHT_COLUMNS, rec_start=_REC_START_COLUMNS,
        lights_off=_LIGHTS_OFF_COLUMNS, lights_on=_LIGHTS_ON_COLUMNS)
    nights: dict[str, Lights] = {}
    for line_no, fields in rows:
        _require_fields(path, line_no, fields, max(night_col, start_col, off_col, on_col) + 1)
        night = fields[night_col].strip()
        if night in nights:
            raise DataError(f"{path}: line {line_no}: recording {night!r} appears twice")
        rec_start, off, on = (_clock_seconds(path, line_no, fields[col])
                              for col in (start_col, off_col, on_col))
        off_s = (off - rec_start) % _SECONDS_PER_DAY
        on_s = (on - rec_start) % _SECONDS_PER_DAY
        if not off_s < on_s:
            raise DataError(f"{path}: line {line_no}: lights-on {fields[on_col].strip()} does not "
                            f"follow lights-off {fields[off_col].strip()} within 24 h of the "
                            f"recording start {fields[start_col].strip()}")
        nights[night] = Lights(off_s, on_s)
    return LightsTable(path, nights)


def parse_label_map(value: str) -> dict[str, str]:
    """Parse the CLI's ``--label-map``: inline ``CODE=STAGE`` pairs, or a file of them.

    Parameters
    ----------
    value : str
        ``"0=W,1=N1,2=N2,3=N3,4=REM"``; or the path of a file holding either one
        ``CODE=STAGE`` pair a line (blank lines and ``#`` comments ignored) or a JSON object
        ``{"0": "W", "1": "N1", ...}``. Stages are any label :func:`read_hypnogram` knows
        (``W``, ``N1``, ``N2``, ``N3``, ``REM``, ``R``, ``?`` ...).

    Returns
    -------
    dict of str to str
        Code → stage name, ready for :func:`read_hypnogram`'s ``label_map``.

    Raises
    ------
    UsageError
        If the value is neither a file nor pairs, a pair or the JSON is malformed, a code is
        repeated, or a stage is unknown.

    Examples
    --------
    >>> parse_label_map("0=W, 1=N1, 2=N2, 3=N3, 4=REM, 9=?")["4"]
    'REM'
    """
    file = Path(value)
    if file.is_file():
        try:
            text = file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as err:
            raise UsageError(f"--label-map {value}: cannot read it ({err})") from None
        if text.lstrip().startswith("{"):
            mapping = _json_label_map(value, text)
        else:
            pairs = [line.split("#", 1)[0] for line in text.splitlines()]
            mapping = _pairs_label_map(value, [pair for pair in pairs if pair.strip()])
    elif "=" in value:
        mapping = _pairs_label_map(value, value.split(","))
    else:
        raise UsageError(f"--label-map {value!r} is neither a file nor CODE=STAGE pairs "
                         "such as 0=W,1=N1,2=N2,3=N3,4=REM")
    _compile_label_map(mapping)
    return mapping


def _pairs_label_map(value: str, pairs: Sequence[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs:
        code, sep, stage = pair.partition("=")
        code, stage = code.strip(), stage.strip()
        if not sep or not code or not stage:
            raise UsageError(f"--label-map {value}: {pair.strip()!r} is not CODE=STAGE")
        if _normalise(code) in map(_normalise, mapping):
            raise UsageError(f"--label-map {value}: code {code!r} is given twice")
        mapping[code] = stage
    if not mapping:
        raise UsageError(f"--label-map {value}: no CODE=STAGE pair in it")
    return mapping


def _json_label_map(value: str, text: str) -> dict[str, str]:
    try:
        mapping = json.loads(text)
    except json.JSONDecodeError as err:
        raise UsageError(f"--label-map {value}: invalid JSON ({err})") from None
    if not isinstance(mapping, dict) or not all(isinstance(stage, str)
                                                for stage in mapping.values()):
        raise UsageError(f"--label-map {value}: JSON must be an object of code to stage name "
                         'strings, e.g. {"0": "W", "1": "N1"}')
    return mapping


def _compile_label_map(label_map: Mapping[str, str] | None) -> dict[str, int]:
    """Built-in labels overlaid with the user's map, keyed by normalised label."""
    labels = dict(_LABELS)
    for code, stage in (label_map or {}).items():
        if _normalise(stage) not in _LABELS:
            raise UsageError(f"label map: {code!r} maps to {stage!r}, which is not a stage "
                             "(use W, N1, N2, N3, REM or ? for unscored)")
        labels[_normalise(code)] = _LABELS[_normalise(stage)]
    return labels


def _normalise(label: str) -> str:
    # "SLEEP-S2" and "Sleep_stage_N2" read as "sleep s2" and "sleep stage n2"; a hyphen that
    # does not join two words ("-1") is kept.
    label = re.sub(r"(?<=[A-Za-z])[-_](?=[A-Za-z0-9?])", " ", label)
    return " ".join(label.split()).lower()


def _stage_code(path: Path, where: str, label: str, labels: Mapping[str, int]) -> int:
    code = labels.get(_normalise(label))
    if code is not None:
        return code
    hint = ""
    if re.fullmatch(r"\s*[+-]?\d+\s*", label):
        hint = " (integer stage codes need a label map, e.g. --label-map 0=W,1=N1,2=N2,3=N3,4=REM)"
    raise DataError(f"{path}: {where}: unknown stage label {label.strip()!r}{hint}")


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
    stages = [_stage_code(path, f"annotation {row}", str(description), labels)
              for row, description in zip(rows, descriptions)]
    # EDF+ marks an annotation without a duration with -1; that is a point event.
    durations = np.maximum(np.asarray(durations, dtype=np.float64), 0.0)
    return _assemble(path, "edf+", np.asarray(onsets, dtype=np.float64), durations,
                     np.asarray(stages, dtype=np.int64), rows, start)


def _read_text_hypnogram(path: Path, labels: Mapping[str, int], epoch_s: float | None
                         ) -> Hypnogram | EpochList:
    lines = _text_lines(path)
    if _delimiter(lines) is None:
        return _read_epoch_labels(path, lines, labels, epoch_s)
    (onset_col, duration_col, label_col), rows = _split_table(
        path, lines, onset=_ONSET_COLUMNS, duration=_DURATION_COLUMNS, stage=_LABEL_COLUMNS)
    n_needed = max(onset_col, duration_col, label_col) + 1
    raw_onsets: list[float | datetime] = []
    durations, stages, line_numbers = [], [], []
    for line_no, fields in rows:
        _require_fields(path, line_no, fields, n_needed)
        raw_onsets.append(_onset_value(path, line_no, fields[onset_col]))
        durations.append(_seconds(path, line_no, "duration", fields[duration_col]))
        stages.append(_stage_code(path, f"line {line_no}", fields[label_col], labels))
        line_numbers.append(line_no)
    onsets, start = _relative_onsets(path, raw_onsets, line_numbers)
    return _assemble(path, "events", onsets, np.array(durations, dtype=np.float64),
                     np.array(stages, dtype=np.int64), np.array(line_numbers), start)


def _read_epoch_labels(path: Path, lines: list[tuple[int, str]], labels: Mapping[str, int],
                       epoch_s: float | None) -> EpochList:
    # Header lines before the first label: section names in brackets ("[Hypnogram]", as some
    # exports write) and one column word ("stage") that is not itself a label.
    while lines and re.fullmatch(r"\s*\[.*\]\s*", lines[0][1]):
        lines = lines[1:]
    if lines and _normalise(lines[0][1]) in _LABEL_COLUMNS and _normalise(lines[0][1]) not in labels:
        lines = lines[1:]
    if not lines:
        raise DataError(f"{path}: hypnogram has a header but no labels")
    stages = [_stage_code(path, f"line {line_no}", text, labels) for line_no, text in lines]
    return EpochList(np.array(stages, dtype=np.int64), epoch_s, path,
                     np.array([line_no for line_no, _ in lines], dtype=np.int64), "epochs")


def _read_xml_hypnogram(path: Path) -> Hypnogram | EpochList:
    scoring = read_nsrr_xml(path)
    if isinstance(scoring, XmlEpochs):
        rows = np.arange(1, len(scoring.labels) + 1)
        stages = [_stage_code(path, f"<SleepStage> {row}", label, _LABELS)
                  for row, label in zip(rows, scoring.labels)]
        return EpochList(np.array(stages, dtype=np.int64), scoring.epoch_s, path, rows,
                         "profusion-xml")
    stages = [_stage_code(path, f"<ScoredEvent> {number}", label, _LABELS)
              for number, label in zip(scoring.numbers, scoring.labels)]
    return _assemble(path, "nsrr-xml", np.array(scoring.onsets, dtype=np.float64),
                     np.array(scoring.durations, dtype=np.float64),
                     np.array(stages, dtype=np.int64), np.array(scoring.numbers), None)


def _assemble(path: Path, fmt: str, onsets: np.ndarray, durations: np.ndarray,
              stages: np.ndarray, rows: np.ndarray, start: datetime | None) -> Hypnogram:
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
    overlapping = np.flatnonzero(hyp.onsets[1:] < ends[:-1] - _TOLERANCE_S)
    if len(overlapping):
        bad = overlapping[0] + 1
        raise DataError(f"{path}: {hyp.where(bad)}: onset {hyp.onsets[bad]:g} s overlaps the "
                        f"interval before it ({hyp.where(bad - 1)}), which ends at "
                        f"{ends[bad - 1]:g} s")
    return hyp


def _text_lines(path: Path) -> list[tuple[int, str]]:
    """Non-blank lines with their 1-based numbers."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as err:
        raise DataError(f"{path}: cannot read it ({err.strerror})") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text (nor an EDF+ file)") from None
    lines = [(number, line) for number, line in enumerate(text.splitlines(), start=1)
             if line.strip()]
    if not lines:
        raise DataError(f"{path}: file is empty")
    return lines


def _delimiter(lines: list[tuple[int, str]]) -> str | None:
    """Tab, comma or semicolon, or None for a file of one label a line."""
    # Read off the header line rather than csv.Sniffer: the sniffer needs every sampled row to
    # split alike, so one ragged row made it take a table for a one-label-a-line file and report
    # the header as an unknown label instead of naming the ragged line.
    for delimiter in ("\t", ",", ";"):
        if delimiter in lines[0][1]:
            return delimiter
    return None


def _split_table(path: Path, lines: list[tuple[int, str]], **wanted: Sequence[str]
                 ) -> tuple[list[int], list[tuple[int, list[str]]]]:
    """Indices of the wanted columns in a delimited table's header, and its data rows.

    Each keyword names a column role and lists its synonyms in order of preference.
    """
    # Without a delimiter the table has one column, which then names the missing ones.
    delimiter = _delimiter(lines) or "\t"
    rows = []
    for line_no, line in lines:
        try:
            rows.append((line_no, next(csv.reader([line], delimiter=delimiter))))
        except csv.Error as err:
            raise DataError(f"{path}: line {line_no}: {err}") from None
    columns = _find_columns(path, [_column_name(name) for name in rows[0][1]], wanted)
    if len(rows) == 1:
        raise DataError(f"{path}: table has a header but no rows")
    return columns, rows[1:]


def _column_name(name: str) -> str:
    # "Onset (s)", "onset[s]", "Lights_Off" and "lights-off" all name the same column.
    name = re.sub(r"[(\[].*?[)\]]", "", name)
    return _normalise(name.replace("_", " ").replace("-", " "))


def _find_columns(path: Path, header: list[str], wanted: Mapping[str, Sequence[str]]
                  ) -> list[int]:
    """Index of each wanted column: the first of its synonyms present in the header."""
    found, missing = [], []
    for role, synonyms in wanted.items():
        index = next((header.index(name) for name in synonyms if name in header), None)
        if index is None:
            missing.append(f"{role} (e.g. {', '.join(synonyms[:3])})")
        found.append(index)
    if missing:
        raise DataError(f"{path}: no {'; no '.join(missing)} column in the header "
                        f"[{', '.join(header)}]")
    return found


def _require_fields(path: Path, line_no: int, fields: list[str], n_needed: int) -> None:
    if len(fields) < n_needed:
        raise DataError(f"{path}: line {line_no}: {len(fields)} field(s), expected at least "
                        f"{n_needed}")


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


def _clock_seconds(path: Path, line_no: int, text: str) -> float:
    try:
        clock = time.fromisoformat(text.strip())
    except ValueError:
        raise DataError(f"{path}: line {line_no}: {text.strip()!r} is not a clock time "
                        "hh:mm:ss") from None
    return clock.hour * 3600 + clock.minute * 60 + clock.second + clock.microsecond / 1e6


def _clock_offset(hyp_start: datetime | None, psg_start: datetime | None) -> float:
    """Seconds from the PSG start to the hypnogram's onset 0 (0 without both clock times)."""
    if hyp_start is None or psg_start is None:
        return 0.0
    if (hyp_start.tzinfo is None) != (psg_start.tzinfo is None):
        hyp_start, psg_start = hyp_start.replace(tzinfo=None), psg_start.replace(tzinfo=None)
    return (hyp_start - psg_start).total_seconds()


def _on_grid(seconds: np.ndarray, epoch_s: float) -> np.ndarray:
    return np.abs(seconds - np.rint(seconds / epoch_s) * epoch_s) <= _TOLERANCE_S


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split())
