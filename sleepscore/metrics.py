"""Agreement between an expert's and a model's stages: confusion matrix, accuracy, F1, kappa.

Everything is derived from the 5x5 confusion matrix, so metrics pooled over several nights are
simply the metrics of the summed matrices. Epochs the expert left unscored (``-1``) are excluded
from every count. Only numpy is needed; the definitions match scikit-learn's
(``accuracy_score``, ``f1_score(average="macro", labels=range(5), zero_division=np.nan)``,
``cohen_kappa_score(labels=range(5))``, ``precision_recall_fscore_support(zero_division=np.nan)``),
which the tests check, but scikit-learn is not a runtime dependency.

A statistic whose denominator is zero is undefined (NaN), not 0: the precision of a stage never
predicted, the recall of a stage the expert never scored, the F1 of a stage in neither. Macro-F1
is the mean over the stages that occur in the expert's or the model's scoring. A 30-min recording
holds two or three stages; counting the absent ones as F1 = 0 would cap its macro-F1 at 0.4-0.6
however well it is scored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import DataError
from .stages import N_STAGES, STAGES, UNSCORED


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray,
                     n_classes: int = N_STAGES) -> np.ndarray:
    """Count epochs per (expert stage, predicted stage) pair.

    Parameters
    ----------
    y_true : np.ndarray
        Expert stages, integer codes ``0..n_classes-1`` or ``-1`` (unscored, excluded).
    y_pred : np.ndarray
        Predicted stages, integer codes ``0..n_classes-1``, same length as ``y_true``.
    n_classes : int
        Number of stages (5: W, N1, N2, N3, REM).

    Returns
    -------
    np.ndarray
        int64 ``[n_classes, n_classes]``; rows are the expert's stages, columns the predicted ones.

    Raises
    ------
    DataError
        If the arrays differ in length or hold codes outside the stage range.

    Examples
    --------
    >>> confusion_matrix(np.array([0, 0, 2, -1]), np.array([0, 1, 2, 4]))[:3, :3]
    array([[1, 1, 0],
           [0, 0, 0],
           [0, 0, 1]])
    """
    truth = np.asarray(y_true).ravel()
    pred = np.asarray(y_pred).ravel()
    if truth.shape != pred.shape:
        raise DataError(f"expert labels ({truth.size} epochs) and predictions ({pred.size} epochs) "
                        "differ in length")
    scored = truth != UNSCORED
    truth, pred = truth[scored], pred[scored]
    for name, codes in (("expert", truth), ("predicted", pred)):
        bad = codes[(codes < 0) | (codes >= n_classes)]
        if bad.size:
            raise DataError(f"{name} stage code {bad[0]} is outside 0..{n_classes - 1}")
    flat = truth.astype(np.int64) * n_classes + pred.astype(np.int64)
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


@dataclass(frozen=True)
class Agreement:
    """Agreement of one night (or of several pooled nights) with the expert.

    Attributes
    ----------
    confusion : np.ndarray
        int64 ``[5, 5]``, rows expert, columns predicted.
    n_epochs : int
        Scored epochs compared (unscored ones excluded).
    accuracy : float
        Fraction of epochs where prediction equals the expert.
    macro_f1 : float
        Mean of the per-class F1 scores of the stages in the truth or the prediction; a stage in
        neither is left out (scikit-learn's ``zero_division=np.nan``).
    kappa : float
        Cohen's kappa. NaN when chance agreement is 1 (both raters used one and the same single
        stage for every epoch), where kappa is undefined, as in scikit-learn.
    precision, recall, f1 : np.ndarray
        float ``[5]`` per stage; NaN where undefined (stage never predicted for precision, never
        in the truth for recall, in neither for F1).
    support : np.ndarray
        int64 ``[5]``, expert epochs per stage.
    """

    confusion: np.ndarray
    n_epochs: int
    accuracy: float
    macro_f1: float
    kappa: float
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form; undefined values (NaN) become ``None``.

        Examples
        --------
        >>> agreement(np.array([0, 2, 2]), np.array([0, 2, 1])).to_dict()["per_class"]["N2"]
        {'precision': 1.0, 'recall': 0.5, 'f1': 0.6666666666666666, 'support': 2}
        """
        return {
            "n_epochs": self.n_epochs,
            "accuracy": _json_float(self.accuracy),
            "macro_f1": _json_float(self.macro_f1),
            "kappa": _json_float(self.kappa),
            "per_class": {
                stage: {
                    "precision": _json_float(self.precision[i]),
                    "recall": _json_float(self.recall[i]),
                    "f1": _json_float(self.f1[i]),
                    "support": int(self.support[i]),
                }
                for i, stage in enumerate(STAGES)
            },
            "confusion": self.confusion.tolist(),
        }


def _json_float(value: float) -> float | None:
    # JSON has no NaN; null is what readers in other languages understand as "undefined".
    return None if math.isnan(value) else float(value)


def _defined_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Elementwise ratio, NaN where the denominator is 0 (scikit-learn's
    ``zero_division=np.nan``)."""
    out = np.full(numerator.shape, np.nan, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def agreement_from_confusion(confusion: np.ndarray) -> Agreement:
    """Every agreement statistic from a confusion matrix alone.

    Parameters
    ----------
    confusion : np.ndarray
        Square count matrix, rows expert, columns predicted (see :func:`confusion_matrix`).
        Summing the matrices of several nights and passing the sum gives pooled metrics.

    Returns
    -------
    Agreement

    Raises
    ------
    DataError
        If the matrix holds no epochs (every expert label was unscored).
    """
    cm = np.asarray(confusion, dtype=np.int64)
    total = int(cm.sum())
    if total == 0:
        raise DataError("no scored epochs to compare: every expert label is unscored")
    true_positives = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    precision = _defined_ratio(true_positives, predicted)
    recall = _defined_ratio(true_positives, support)
    # 2TP / (2TP + FP + FN) == 2TP / (support + predicted); avoids the 0/0 of 2PR/(P+R).
    f1 = _defined_ratio(2.0 * true_positives, (support + predicted).astype(np.float64))
    observed = true_positives.sum() / total
    chance = float(support @ predicted) / total**2
    kappa = (observed - chance) / (1.0 - chance) if chance < 1.0 else math.nan
    return Agreement(
        confusion=cm,
        n_epochs=total,
        accuracy=float(observed),
        macro_f1=float(np.nanmean(f1)),  # some stage occurs: there is an epoch
        kappa=float(kappa),
        precision=precision,
        recall=recall,
        f1=f1,
        support=support,
    )


def agreement(y_true: np.ndarray, y_pred: np.ndarray) -> Agreement:
    """Agreement of predicted stages with the expert's, unscored epochs excluded.

    Parameters
    ----------
    y_true : np.ndarray
        Expert stages 0-4, or -1 for unscored epochs.
    y_pred : np.ndarray
        Predicted stages 0-4, same length.

    Returns
    -------
    Agreement

    Examples
    --------
    >>> a = agreement(np.array([0, 0, 2, 2, -1]), np.array([0, 2, 2, 2, 4]))
    >>> a.n_epochs, a.accuracy
    (4, 0.75)
    """
    return agreement_from_confusion(confusion_matrix(y_true, y_pred))


@dataclass(frozen=True)
class Summary:
    """Agreement over several nights: pooled over epochs, and mean and SD over nights.

    Attributes
    ----------
    pooled : Agreement
        Metrics of the summed confusion matrix (every epoch weighs the same).
    n_nights : int
        Nights summarised.
    mean, sd : dict[str, float]
        Per-night ``accuracy``, ``macro_f1``, ``kappa`` and ``f1_W`` ... ``f1_REM`` averaged over
        nights (every night weighs the same). SD is the sample SD (``ddof=1``), NaN for one night.
        Nights where a value is undefined (kappa of a one-stage night, F1 of a stage neither
        scorer used) are left out of its mean and SD.
    """

    pooled: Agreement
    n_nights: int
    mean: dict[str, float]
    sd: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form; undefined values (NaN) become ``None``."""
        return {
            "n_nights": self.n_nights,
            "pooled": self.pooled.to_dict(),
            "mean": {key: _json_float(value) for key, value in self.mean.items()},
            "sd": {key: _json_float(value) for key, value in self.sd.items()},
        }


def _per_night_values(night: Agreement) -> dict[str, float]:
    values = {"accuracy": night.accuracy, "macro_f1": night.macro_f1, "kappa": night.kappa}
    values.update({f"f1_{stage}": float(night.f1[i]) for i, stage in enumerate(STAGES)})
    return values


def summarise(per_night: list[Agreement]) -> Summary:
    """Pool nights (summed confusion matrix) and average their metrics.

    Parameters
    ----------
    per_night : list[Agreement]
        One entry per night, e.g. from :func:`agreement`.

    Returns
    -------
    Summary

    Raises
    ------
    DataError
        If ``per_night`` is empty.

    Examples
    --------
    >>> nights = [agreement(np.array([0, 2]), np.array([0, 2])),
    ...           agreement(np.array([0, 2]), np.array([2, 2]))]
    >>> s = summarise(nights)
    >>> s.pooled.accuracy, s.mean["accuracy"]
    (0.75, 0.75)
    """
    if not per_night:
        raise DataError("no nights to summarise")
    pooled = agreement_from_confusion(sum(night.confusion for night in per_night))
    rows = [_per_night_values(night) for night in per_night]
    mean: dict[str, float] = {}
    sd: dict[str, float] = {}
    for key in rows[0]:
        values = np.array([row[key] for row in rows])
        values = values[~np.isnan(values)]
        mean[key] = float(values.mean()) if values.size else math.nan
        sd[key] = float(values.std(ddof=1)) if values.size > 1 else math.nan
    return Summary(pooled=pooled, n_nights=len(per_night), mean=mean, sd=sd)


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error: the epoch-weighted gap between confidence and accuracy.

    Epochs are put in ``bins`` equal-width confidence bins over [0, 1]; the ECE is the sum over
    bins of (share of epochs in the bin) x |mean confidence - accuracy| (Guo et al. 2017).

    Parameters
    ----------
    confidence : np.ndarray
        Per epoch, the probability of the predicted stage.
    correct : np.ndarray
        bool per epoch: the predicted stage is the expert's.
    bins : int
        Number of bins.

    Returns
    -------
    float
        0 for perfect calibration; NaN without epochs.

    Examples
    --------
    >>> round(expected_calibration_error(np.array([0.9, 0.9, 0.6, 0.6]),
    ...                                  np.array([True, True, True, False])), 3)
    0.1
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    if confidence.size == 0:
        return math.nan
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    counts = np.bincount(which, minlength=bins)
    gap = np.abs(np.bincount(which, weights=confidence, minlength=bins)
                 - np.bincount(which, weights=correct.astype(np.float64), minlength=bins))
    return float(gap.sum() / counts.sum())


def expected_accuracy(probs: np.ndarray) -> float:
    """The accuracy a calibrated model expects against an expert: its mean confidence.

    Where the confidence is calibrated (the expected calibration error of the shipped models is
    at most 0.05 in cross-validation), the mean probability of the predicted stage is what the
    accuracy against an expert would be, with no expert hypnogram needed. It is only as good as
    the calibration: on a derivation the model never saw it can be far too high
    (``models/levers.md``).

    Parameters
    ----------
    probs : np.ndarray
        ``[n_epochs, 5]`` stage probabilities.

    Returns
    -------
    float
        NaN without epochs.

    Examples
    --------
    >>> expected_accuracy(np.array([[0.9, 0.1, 0, 0, 0], [0.2, 0.5, 0.3, 0, 0]]))
    0.7
    """
    probs = np.asarray(probs, dtype=np.float64)
    return float(probs.max(axis=1).mean()) if len(probs) else math.nan
