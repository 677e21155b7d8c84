"""Expert labels on the PSG's epochs, and the epochs an evaluation protocol counts.

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

import math
import warnings
from datetime import datetime, time
from pathlib import Path

import numpy as np

from .errors import DataError, UsageError
from .io.hypnogram import HYPNOGRAM_EPOCHS_S, EpochList, Hypnogram, HypnogramWarning
from .io.tables import SECONDS_PER_DAY
from .protocols import TRIMS
from .stages import EPOCH_S, TIME_TOLERANCE_S, UNSCORED


_WAKE_MARGIN_S = 30 * 60.0


# Share of the recording by which an epoch list's span may differ from it (at least one epoch):
# an export may add a label for a last partial epoch or stop a few minutes early, while a wrong
# epoch length is off by 33 % or more (20 vs 30 s).
_LENGTH_TOLERANCE_SHARE = 0.02


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
    if starts[0] < -epoch_s - TIME_TOLERANCE_S:
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
    if cut_s > TIME_TOLERANCE_S:
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
    past = n - int(math.floor(recording_s / length + TIME_TOLERANCE_S))
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
        mask = ((epoch_starts >= off_s - TIME_TOLERANCE_S)
                & (epoch_starts + epoch_s <= on_s + TIME_TOLERANCE_S))
        if not mask.any():
            raise DataError(f"{source}: no whole epoch between lights-off ({off_s:g} s) and "
                            f"lights-on ({on_s:g} s) in a {len(labels) * epoch_s:g}-s recording")
        return mask
    raise UsageError(f"unknown trimming protocol {protocol!r}; choose one of "
                     f"{', '.join(TRIMS)}")


def _clock_offset(hyp_start: datetime | time | None, psg_start: datetime | None) -> float:
    """Seconds from the PSG start to the hypnogram's onset 0 (0 without both clock times)."""
    if hyp_start is None or psg_start is None:
        return 0.0
    if isinstance(hyp_start, time):
        # A time of day alone (CAP files): the one within 12 h either side of the PSG start.
        same_day = datetime.combine(psg_start.date(), hyp_start.replace(tzinfo=psg_start.tzinfo))
        offset = (same_day - psg_start).total_seconds()
        return (offset + SECONDS_PER_DAY / 2) % SECONDS_PER_DAY - SECONDS_PER_DAY / 2
    if (hyp_start.tzinfo is None) != (psg_start.tzinfo is None):
        hyp_start, psg_start = hyp_start.replace(tzinfo=None), psg_start.replace(tzinfo=None)
    return (hyp_start - psg_start).total_seconds()


def _on_grid(seconds: np.ndarray, epoch_s: float) -> np.ndarray:
    return np.abs(seconds - np.rint(seconds / epoch_s) * epoch_s) <= TIME_TOLERANCE_S
