"""Load the precomputed spectral-v1 feature files of Sleep-EDF-20 as whole-night :class:`Night` s.

The files ``features/SC4ssNE0.npz`` (``../shared/data/sleep-edf/README.md``) hold one row per
*scored* epoch: epochs scored ``Sleep stage ?`` or ``Movement time`` were dropped. A sequence model
is given the whole recording at predict time, so the loader puts every row back at its true epoch
position, recovered from the night's text hypnogram (``hypnograms-sc78/SC4ssNE0.txt``).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..alignment import epoch_labels
from ..io.hypnogram import read_hypnogram
from ..stages import EPOCH_S, FEATURES_PER_CHANNEL, UNSCORED
from .data import Night

#: Channels of the feature files, in column order (channel-major, 9 base features each).
FEATURE_FILE_CHANNELS: tuple[str, ...] = ("EEG Fpz-Cz", "EEG Pz-Oz")

_NIGHT_NAME = re.compile(r"SC4(\d\d)\dE0")


def _hypnogram_epoch_labels(path: str | Path) -> np.ndarray:
    """One stage code per 30-s epoch from the first onset to the end of the last annotation.

    Examples
    --------
    >>> _hypnogram_epoch_labels("../shared/data/sleep-edf/hypnograms-sc78/SC4001E0.txt")[:3]  # doctest: +SKIP
    array([0, 0, 0])
    """
    hypnogram = read_hypnogram(path)
    n_epochs = int(round((hypnogram.onsets[-1] + hypnogram.durations[-1]) / EPOCH_S))
    return epoch_labels(hypnogram, n_epochs)


def feature_columns(channels: list[str] | tuple[str, ...]) -> list[int]:
    """Columns of the feature files holding the base features of ``channels``, in that order."""
    unknown = [ch for ch in channels if ch not in FEATURE_FILE_CHANNELS]
    if unknown:
        raise DataError(f"feature files have no channel {unknown[0]!r} "
                        f"(they hold {list(FEATURE_FILE_CHANNELS)})")
    width = len(FEATURES_PER_CHANNEL)
    return [FEATURE_FILE_CHANNELS.index(ch) * width + i for ch in channels for i in range(width)]


def load_feature_night(npz_path: str | Path, hypnogram_path: str | Path,
                       channels: list[str] | tuple[str, ...] = FEATURE_FILE_CHANNELS) -> Night:
    """One feature file as a whole-night sequence, unscored epochs put back.

    Unscored epochs (``?``, movement time) get label -1 and a copy of the features of the
    previous scored epoch (the next one for a recording that starts unscored): any fill
    would do since they carry no loss, but a copy keeps the per-recording statistics and
    the network's context free of artificial values. The sequence ends at the last row
    of the file, which is where the PSG signal ended (the hypnogram runs further).

    Parameters
    ----------
    npz_path : str or Path
        ``SC4ssNE0.npz`` with ``X`` ``[n_scored, 72]`` and ``y`` ``[n_scored]``.
    hypnogram_path : str or Path
        The night's hypnogram, any format :func:`sleepscore.io.hypnogram.read_hypnogram` reads.
    channels : sequence of str
        Which channels' 9 base features to keep (``spectral-v1`` order).

    Returns
    -------
    Night
        ``x`` float32 ``[n_epochs, 9 * len(channels)]``, ``y`` int64 ``[n_epochs]``.

    Raises
    ------
    DataError
        If the file is unreadable or its labels disagree with the hypnogram.
    """
    npz_path = Path(npz_path)
    name = npz_path.stem
    match = _NIGHT_NAME.fullmatch(name)
    if match is None:
        raise DataError(f"{npz_path}: name is not a Sleep-EDF night (SC4ssNE0.npz)")
    try:
        with np.load(npz_path) as data:
            x_scored, y_scored = data["X"][:, feature_columns(channels)], data["y"]
    except (OSError, KeyError, ValueError) as err:
        raise DataError(f"{npz_path}: not a feature file with arrays X and y ({err})") from None
    labels = _hypnogram_epoch_labels(hypnogram_path)
    positions = np.flatnonzero(labels != UNSCORED)[: len(y_scored)]
    if len(positions) < len(y_scored) or not np.array_equal(labels[positions], y_scored):
        raise DataError(f"{npz_path}: labels disagree with hypnogram {hypnogram_path}")
    n_epochs = positions[-1] + 1
    y = np.full(n_epochs, UNSCORED, dtype=np.int64)
    y[positions] = y_scored
    # Row index of the latest scored epoch at or before each position: a forward fill.
    source = np.maximum.accumulate(np.where(y != UNSCORED, np.arange(n_epochs), 0))
    row_of_position = np.cumsum(y != UNSCORED) - 1
    x = x_scored[np.maximum(row_of_position[source], 0)].astype(np.float32)
    return Night(name=name, subject=match.group(1), x=x, y=y)


def load_feature_nights(data_dir: str | Path,
                        channels: list[str] | tuple[str, ...] = FEATURE_FILE_CHANNELS) -> list[Night]:
    """Every night of ``data_dir/features/*.npz`` as whole-night sequences.

    This is the loader behind ``sleepscore train --dataset sleep-edf20-features``.

    Parameters
    ----------
    data_dir : str or Path
        The Sleep-EDF folder holding ``features/`` and ``hypnograms-sc78/``
        (``../shared/data/sleep-edf`` in the development checkout).
    channels : sequence of str
        ``["EEG Fpz-Cz", "EEG Pz-Oz"]`` (18 columns) or a subset of them.

    Returns
    -------
    list of Night
        Sorted by night name; see :func:`load_feature_night`.

    Examples
    --------
    >>> nights = load_feature_nights("../shared/data/sleep-edf", ["EEG Fpz-Cz"])  # doctest: +SKIP
    >>> nights[0].name, nights[0].x.shape  # doctest: +SKIP
    ('SC4001E0', (2650, 9))
    """
    data_dir = Path(data_dir)
    files = sorted((data_dir / "features").glob("SC4*.npz"))
    if not files:
        raise DataError(f"{data_dir / 'features'}: no SC4*.npz feature files")
    return [load_feature_night(f, data_dir / "hypnograms-sc78" / f"{f.stem}.txt", channels)
            for f in files]
