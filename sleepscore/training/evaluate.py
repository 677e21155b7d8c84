"""Held-out scoring of trained networks under the two protocols the literature uses on Sleep-EDF.

``30min`` keeps each night from 30 min before its first sleep epoch to 30 min after its last
(the usual "±30 min" protocol); ``whole`` keeps every scored epoch of the recording, wake
included, which is what the tool meets at predict time. Numbers of the two differ a lot
(the long wake periods are easy), so every metric written by training names its protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from ..metrics import Summary, agreement, expected_calibration_error, summarise
from ..alignment import trim_mask
from ..protocols import PIECE_EPOCHS, PROTOCOLS
from ..stages import UNSCORED
from .augment import as_sampled_at_50_hz
from .data import Night

#: The :mod:`sleepscore.protocols` scored on whole-recording logits (the feature nights carry no
#: lights-off times, so no ``lights``).
WHOLE_RECORDING: tuple[str, ...] = ("30min", "whole")
#: Each night cut to its ±30-min window *before* scoring, so that the model sees a
#: clinical-length recording (as the literature's models do), not a 22-h one.
RECORDING_CUT = PROTOCOLS["30min_recording"].name
#: 30-min recordings cut one after another from each night's sleep period, each scored alone (a
#: nap, an MSLT trial, an excerpt): what per-recording normalisation finds hardest.
SLEEP_PIECES = PROTOCOLS["30min_pieces"].name
#: Every protocol :func:`score_held_out` reports.
SCORED_PROTOCOLS: tuple[str, ...] = (*WHOLE_RECORDING, RECORDING_CUT, SLEEP_PIECES)


def protocol_labels(y: np.ndarray, protocol: str) -> np.ndarray:
    """Expert labels with every epoch outside ``protocol`` set to unscored (-1).

    Parameters
    ----------
    y : np.ndarray
        int ``[n_epochs]`` stage codes of one whole night, -1 for unscored.
    protocol : str
        ``"30min"``: from 30 min before the first sleep epoch (N1, N2, N3, REM) to 30 min
        after the last, clipped to the recording; ``"whole"``: every scored epoch.

    Returns
    -------
    np.ndarray
        Copy of ``y``; metrics exclude its -1 epochs.

    Examples
    --------
    >>> protocol_labels(np.array([0] * 70 + [2] + [0] * 70), "30min")[[9, 10, 130, 131]]
    array([-1,  0,  0, -1])
    """
    if protocol not in WHOLE_RECORDING:
        raise ValueError(f"unknown protocol {protocol!r}, expected one of {list(WHOLE_RECORDING)}")
    kept = np.array(y, dtype=np.int64, copy=True)
    kept[~trim_mask(kept, PROTOCOLS[protocol].trim)] = UNSCORED
    return kept


@torch.no_grad()
def predict_nights(model: torch.nn.Module, nights: list[Night],
                   output: Callable[[torch.Tensor], torch.Tensor] | None = None) -> list[np.ndarray]:
    """Per-epoch logits of ``model`` on each whole night (batch of one, as at predict time), or
    what ``output`` (a method of ``model``, e.g. ``missing_gamma_share``) gives instead."""
    model.eval()
    output = output or model
    return [output(torch.from_numpy(np.asarray(n.x, dtype=np.float32))[None])[0].numpy()
            for n in nights]


def score_predictions(nights: list[Night], predictions: list[np.ndarray],
                      protocols: tuple[str, ...] = WHOLE_RECORDING) -> dict[str, Summary]:
    """Agreement of predicted stages with the expert under both protocols.

    Parameters
    ----------
    nights : list of Night
        The held-out nights (their ``y`` is the expert's scoring).
    predictions : list of np.ndarray
        Per night, int stage codes ``[n_epochs]`` or scores ``[n_epochs, 5]`` (argmax taken).
    protocols : tuple of str
        Which of :data:`WHOLE_RECORDING` to score.

    Returns
    -------
    dict of str to Summary
        Per protocol, pooled metrics (summed confusion matrix, per-class F1) and the mean and
        SD over nights.
    """
    stages = [p.argmax(axis=1) if p.ndim == 2 else p for p in predictions]
    return {protocol: summarise([agreement(protocol_labels(n.y, protocol), s)
                                 for n, s in zip(nights, stages)])
            for protocol in protocols}


@dataclass(frozen=True)
class ProtocolScores:
    """Held-out agreement under one protocol.

    Attributes
    ----------
    summary : Summary
        Pooled metrics and the mean and SD over nights.
    ece : float or None
        Expected calibration error of the top probability over the protocol's scored epochs
        (:func:`sleepscore.metrics.expected_calibration_error`); None without epochs.
    """

    summary: Summary
    ece: float | None

    def headline(self, protocol: str) -> str:
        """One line of pooled accuracy, macro-F1 and kappa, e.g. for logs and progress bars."""
        pooled = self.summary.pooled
        return (f"{protocol}: acc {pooled.accuracy:.3f} MF1 {pooled.macro_f1:.3f} "
                f"kappa {pooled.kappa:.3f} ({pooled.n_epochs} epochs)")

    def to_dict(self) -> dict[str, Any]:
        """``Summary.to_dict()`` plus ``ece``: the form of the JSON summaries and model metadata."""
        return {**self.summary.to_dict(), "ece": self.ece}


@dataclass(frozen=True)
class HeldOutScores:
    """Held-out scores of a run under each protocol it reports (:data:`SCORED_PROTOCOLS`).

    Attributes
    ----------
    by_protocol : dict of str to ProtocolScores
        Keyed by :mod:`sleepscore.protocols` name, in :data:`SCORED_PROTOCOLS` order; empty for
        a run without test nights.
    """

    by_protocol: dict[str, ProtocolScores]

    def __getitem__(self, protocol: str) -> ProtocolScores:
        return self.by_protocol[protocol]

    def __contains__(self, protocol: object) -> bool:
        return protocol in self.by_protocol

    def __bool__(self) -> bool:
        return bool(self.by_protocol)

    def headlines(self) -> str:
        """Every protocol's :meth:`ProtocolScores.headline`, ``; ``-separated."""
        return "; ".join(scores.headline(protocol) for protocol, scores in self.by_protocol.items())

    def to_dict(self) -> dict[str, Any]:
        """``{protocol: ProtocolScores.to_dict()}``: the ``sleepscore.metrics`` metadata."""
        return {protocol: scores.to_dict() for protocol, scores in self.by_protocol.items()}


def recording_cut(night: Night) -> Night:
    """The night cut to 30 min before its first to 30 min after its last sleep epoch."""
    keep = trim_mask(night.y, PROTOCOLS[RECORDING_CUT].trim, source=night.name)
    return Night(night.name, night.subject, night.x[keep], night.y[keep])


def sleep_pieces(night: Night, epochs: int = PIECE_EPOCHS) -> list[Night]:
    """Consecutive ``epochs``-long recordings cut from the night's sleep period.

    The sleep period runs from the first to the last sleep epoch; a shorter remainder at its end
    is left out. Each piece is a recording of its own: naps, MSLT trials, excerpts.

    Examples
    --------
    >>> y = np.array([0] * 10 + [2] * 130 + [0] * 10)
    >>> [len(p.y) for p in sleep_pieces(Night("n", "00", np.zeros((150, 9)), y))]
    [60, 60]
    """
    sleep = np.flatnonzero((night.y > 0) & (night.y != UNSCORED))
    if len(sleep) == 0:
        return []
    starts = range(int(sleep[0]), int(sleep[-1]) + 2 - epochs, epochs)
    return [Night(f"{night.name}@{start}", night.subject, night.x[start:start + epochs],
                  night.y[start:start + epochs]) for start in starts]


@dataclass
class HeldOutPrediction:
    """Logits of one held-out night as each protocol scores it (see :func:`predict_held_out`)."""

    whole: np.ndarray
    cut: np.ndarray
    pieces: list[np.ndarray]


def predict_held_out(model: torch.nn.Module, nights: list[Night],
                     output: Callable[[torch.Tensor], torch.Tensor] | None = None) -> list[HeldOutPrediction]:
    """Per night, the logits (or ``output``, see :func:`predict_nights`) on the whole recording,
    on its :func:`recording_cut` and on each of its :func:`sleep_pieces` scored alone."""
    whole = predict_nights(model, nights, output)
    cut = predict_nights(model, [recording_cut(n) for n in nights], output)
    pieces = [predict_nights(model, sleep_pieces(n), output) for n in nights]
    return [HeldOutPrediction(*items) for items in zip(whole, cut, pieces)]


def _views(nights: list[Night], predictions: list[HeldOutPrediction]) -> tuple[list[Night], list[np.ndarray]]:
    """Every recording the predictions score (whole nights, cuts, pieces) and its array."""
    recordings = [*nights, *(recording_cut(n) for n in nights),
                  *(piece for n in nights for piece in sleep_pieces(n))]
    arrays = [*(p.whole for p in predictions), *(p.cut for p in predictions),
              *(logits for p in predictions for logits in p.pieces)]
    return recordings, arrays


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _scored(nights: list[Night], logits: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Stacked logits and labels of the scored epochs of ``nights``."""
    y = np.concatenate([n.y for n in nights])
    keep = y != UNSCORED
    return np.concatenate(logits)[keep], y[keep]


def _calibration(nights: list[Night], logits: list[np.ndarray]) -> float | None:
    if not nights:
        return None
    scores, labels = _scored(nights, logits)
    probs = _softmax(scores)
    return expected_calibration_error(probs.max(axis=1), probs.argmax(axis=1) == labels)


def score_held_out(nights: list[Night], predictions: list[HeldOutPrediction]) -> HeldOutScores:
    """Scores of held-out nights under every protocol of :data:`SCORED_PROTOCOLS`.

    :func:`score_predictions` of the whole-recording logits (``30min`` and ``whole``), plus
    :data:`RECORDING_CUT` (every scored epoch of the cut nights, scored as recordings) and
    :data:`SLEEP_PIECES` (every scored epoch of the 30-min pieces, each scored alone; left out
    when no night has a full piece). Each comes with the calibration error of its epochs.
    """
    whole = [p.whole for p in predictions]
    summaries = score_predictions(nights, whole)
    scores = {}
    for protocol in WHOLE_RECORDING:
        kept = [Night(n.name, n.subject, n.x, protocol_labels(n.y, protocol)) for n in nights]
        scores[protocol] = ProtocolScores(summaries[protocol], _calibration(kept, whole))
    views = {RECORDING_CUT: ([recording_cut(n) for n in nights], [p.cut for p in predictions]),
             SLEEP_PIECES: ([piece for n in nights for piece in sleep_pieces(n)],
                            [logits for p in predictions for logits in p.pieces])}
    for protocol, (recordings, logits) in views.items():
        if recordings:
            summary = score_predictions(recordings, logits, ("whole",))["whole"]
            scores[protocol] = ProtocolScores(summary, _calibration(recordings, logits))
    return HeldOutScores(scores)


def fit_temperature(nights: list[Night], predictions: list[HeldOutPrediction]) -> float:
    """The temperature that minimises the negative log-likelihood of held-out logits.

    All three views of each night (whole recording, clinical cut, 30-min pieces) count, so the
    calibration holds for any recording length.
    """
    scores, labels = _scored(*_views(nights, predictions))
    return _grid_minimum(lambda temperature: _nll(scores / temperature, labels))


def _nll(scores: np.ndarray, labels: np.ndarray) -> float:
    return float(-np.log(_softmax(scores)[np.arange(len(labels)), labels] + 1e-12).mean())


def _grid_minimum(loss: Callable[[float], float]) -> float:
    """The temperature of least ``loss`` on a grid over 0.25-4 in log steps of ~2 %: one scalar,
    and a grid cannot land in a local optimum."""
    grid = [float(t) for t in np.exp(np.linspace(np.log(0.25), np.log(4.0), 141))]
    return min(grid, key=loss)


def as_50_hz_nights(nights: list[Night]) -> list[Night]:
    """``nights`` as files sampled at 50 Hz give their features (:func:`.augment.as_sampled_at_50_hz`)."""
    return [Night(n.name, n.subject, as_sampled_at_50_hz(n.x), n.y) for n in nights]


@dataclass(frozen=True)
class TemperatureViews:
    """Held-out epochs for fitting a temperature that acts on a share of each epoch.

    The network divides its log probabilities by ``1 + (temperature - 1) * share``: the
    missing-gamma temperature by the share of missing gamma
    (:meth:`~sleepscore.nets.ProbabilityAverage.set_missing_gamma_temperature`), the
    short-recording one by the recording's shortness
    (:meth:`~sleepscore.nets.ProbabilityAverage.set_short_recording_temperature`). Every scored
    epoch of every view (whole night, cut, pieces) of each night counts.

    Attributes
    ----------
    logits : np.ndarray
        ``[n, 5]``: the network's output with that temperature at 1.
    shares : np.ndarray
        ``[n]``: the share it acts on.
    labels : np.ndarray
        ``[n]``: the expert's stages.
    """

    logits: np.ndarray
    shares: np.ndarray
    labels: np.ndarray

    @classmethod
    def missing_gamma(cls, network: torch.nn.Module, nights: list[Night]) -> "TemperatureViews":
        """``network`` (a :class:`~sleepscore.nets.ProbabilityAverage` that
        ``finds_missing_gamma``) on ``nights`` as recorded and as 50-Hz files."""
        return cls._predict(network, [*nights, *as_50_hz_nights(nights)], "missing_gamma_temperature",
                            network.missing_gamma_share)

    @classmethod
    def short_recordings(cls, network: torch.nn.Module, nights: list[Night]) -> "TemperatureViews":
        """``network`` (a :class:`~sleepscore.nets.ProbabilityAverage`) on ``nights``, whose
        30-min pieces are the short recordings."""
        return cls._predict(network, nights, "short_recording_temperature", network.shortness)

    @classmethod
    def _predict(cls, network: torch.nn.Module, nights: list[Night], temperature: str,
                 share: Callable[[torch.Tensor], torch.Tensor]) -> "TemperatureViews":
        buffer = getattr(network, temperature)
        kept = float(buffer)
        buffer.fill_(1.0)
        try:
            recordings, logits = _views(nights, predict_held_out(network, nights))
        finally:
            buffer.fill_(kept)
        shares = _views(nights, predict_held_out(network, nights, share))[1]
        scores, labels = _scored(recordings, logits)
        return cls(scores, _scored(recordings, shares)[0], labels)

    def scaled(self, temperature: float) -> np.ndarray:
        """The logits as the network gives them with that ``temperature``."""
        return self.logits / (1 + (temperature - 1) * self.shares[:, None])


def fit_view_temperature(views: list[TemperatureViews]) -> float:
    """The temperature that minimises the negative log-likelihood of ``views``, on the grid of
    :func:`fit_temperature`.

    The network's own temperature is fitted where the share is ~0 (intact nights, mostly whole
    ones), so this one is fitted where it is not, with the other epochs beside them so that it
    cannot buy a better fit on 50-Hz files or short recordings with a worse one on the rest.
    """
    labels = np.concatenate([v.labels for v in views])
    return _grid_minimum(lambda t: _nll(np.concatenate([v.scaled(t) for v in views]), labels))
