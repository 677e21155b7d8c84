"""Stage-transition statistics of real expert hypnograms, a prior for sequence smoothing."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..stages import N_STAGES, UNSCORED
from .feature_files import _hypnogram_epoch_labels

_SUBJECT = re.compile(r"SC4(\d\d)\d")


def transition_probabilities(hypnogram_dir: str | Path, exclude_subjects: range | list[int]) -> np.ndarray:
    """Probability of each stage given the previous epoch's stage, over a folder of hypnograms.

    Parameters
    ----------
    hypnogram_dir : str or Path
        Folder of Sleep-EDF hypnograms (``hypnograms-sc78/SC4ssNE0.txt``).
    exclude_subjects : range or list of int
        Subjects whose nights are left out, e.g. ``range(20)``: Sleep-EDF-20 holds both the
        cross-validation subjects (their labels must not shape the model that is scored on
        them) and the subjects kept for untuned evaluation.

    Returns
    -------
    np.ndarray
        float64 ``[5, 5]``, row ``i`` the distribution of the stage following stage ``i``,
        from consecutive pairs of scored epochs (pairs touching an unscored epoch are skipped),
        with one pseudo-count per cell so no transition is impossible.

    Examples
    --------
    >>> p = transition_probabilities("../shared/data/sleep-edf/hypnograms-sc78", range(20))  # doctest: +SKIP
    >>> p.sum(axis=1)  # doctest: +SKIP
    array([1., 1., 1., 1., 1.])
    """
    excluded = set(exclude_subjects)
    counts = np.ones((N_STAGES, N_STAGES))
    paths = [p for p in sorted(Path(hypnogram_dir).glob("SC4*.txt"))
             if (m := _SUBJECT.match(p.name)) and int(m.group(1)) not in excluded]
    if not paths:
        raise DataError(f"{hypnogram_dir}: no SC4*.txt hypnogram outside the excluded subjects")
    for path in paths:
        labels = _hypnogram_epoch_labels(path)
        before, after = labels[:-1], labels[1:]
        scored = (before != UNSCORED) & (after != UNSCORED)
        np.add.at(counts, (before[scored], after[scored]), 1)
    return counts / counts.sum(axis=1, keepdims=True)
