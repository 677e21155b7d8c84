"""Subject-wise splits: the nights of one subject always fall on the same side.

Two nights of one person are far more alike than nights of two people, so splitting by night
leaks the test subject into training and inflates every metric.
"""

from __future__ import annotations

import numpy as np

from ..errors import UsageError
from .data import Night


def subjects_of(nights: list[Night]) -> list[str]:
    """Distinct subjects of ``nights``, sorted."""
    return sorted({n.subject for n in nights})


def split_by_subject(nights: list[Night], val_subjects: list[str],
                     test_subjects: list[str]) -> tuple[list[Night], list[Night], list[Night]]:
    """Partition ``nights`` into train, validation and test by subject.

    Parameters
    ----------
    nights : list of Night
        Every available night.
    val_subjects, test_subjects : list of str
        Subject ids (e.g. ``"03"``) for validation and test; every other subject trains.

    Returns
    -------
    tuple of three lists of Night
        ``(train, val, test)``.

    Raises
    ------
    UsageError
        If a subject is unknown, listed on both sides, or no training subject is left.

    Examples
    --------
    >>> import numpy as np
    >>> nights = [Night(f"SC4{s}{k}E0", s, np.zeros((1, 9)), np.zeros(1, int))
    ...           for s in ("00", "01", "02") for k in (1, 2)]
    >>> [len(part) for part in split_by_subject(nights, ["01"], ["02"])]
    [2, 2, 2]
    """
    known = set(subjects_of(nights))
    for subject in [*val_subjects, *test_subjects]:
        if subject not in known:
            raise UsageError(f"subject {subject!r} has no nights (known: {', '.join(sorted(known))})")
    both = sorted(set(val_subjects) & set(test_subjects))
    if both:
        raise UsageError(f"subject {both[0]!r} is both a validation and a test subject")
    held_out = set(val_subjects) | set(test_subjects)
    train = [n for n in nights if n.subject not in held_out]
    if not train:
        raise UsageError("no training subject left after the validation and test subjects")
    return (train, [n for n in nights if n.subject in val_subjects],
            [n for n in nights if n.subject in test_subjects])


def subject_folds(subjects: list[str], k: int, seed: int) -> list[list[str]]:
    """Shuffle ``subjects`` with ``seed`` and deal them into ``k`` folds of near-equal size.

    Raises
    ------
    UsageError
        If ``k`` is below 2 or above the number of subjects.

    Examples
    --------
    >>> subject_folds(["00", "01", "02", "03", "04"], 2, seed=0)
    [['02', '03', '01'], ['04', '00']]
    """
    if not 2 <= k <= len(subjects):
        raise UsageError(f"--cv {k} needs between 2 and {len(subjects)} folds "
                         f"({len(subjects)} subjects)")
    order = np.random.default_rng(seed).permutation(sorted(subjects))
    return [[str(s) for s in order[i::k]] for i in range(k)]
