"""Held-out scoring of trained networks under the two protocols the literature uses on Sleep-EDF.

``30min`` keeps each night from 30 min before its first sleep epoch to 30 min after its last
(the usual "±30 min" protocol); ``whole`` keeps every scored epoch of the recording, wake
included, which is what the tool meets at predict time. Numbers of the two differ a lot
(the long wake periods are easy), so every metric written by training names its protocol.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..metrics import agreement, summarise
from ..hypnogram import trim_mask
from ..stages import UNSCORED
from .data import Night

#: Metric protocols and the :func:`sleepscore.hypnogram.trim_mask` protocol each one uses.
PROTOCOLS: dict[str, str] = {"30min": "30min", "whole": "none"}
#: A third protocol: each night cut to its ±30-min window *before* scoring, so that the model
#: sees a clinical-length recording (as the literature's models do), not a 22-h one.
RECORDING_CUT = "30min_recording"


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
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}, expected one of {list(PROTOCOLS)}")
    kept = np.array(y, dtype=np.int64, copy=True)
    kept[~trim_mask(kept, PROTOCOLS[protocol])] = UNSCORED
    return kept


@torch.no_grad()
def predict_nights(model: torch.nn.Module, nights: list[Night]) -> list[np.ndarray]:
    """Per-epoch logits of ``model`` on each whole night (batch of one, as at predict time)."""
    model.eval()
    return [model(torch.from_numpy(np.asarray(n.x, dtype=np.float32))[None])[0].numpy()
            for n in nights]


def score_predictions(nights: list[Night], predictions: list[np.ndarray]) -> dict[str, Any]:
    """Agreement of predicted stages with the expert under both protocols.

    Parameters
    ----------
    nights : list of Night
        The held-out nights (their ``y`` is the expert's scoring).
    predictions : list of np.ndarray
        Per night, int stage codes ``[n_epochs]`` or scores ``[n_epochs, 5]`` (argmax taken).

    Returns
    -------
    dict
        ``{protocol: Summary.to_dict()}`` for ``30min`` and ``whole``: pooled metrics (summed
        confusion matrix, per-class F1) and the mean and SD over nights.
    """
    stages = [p.argmax(axis=1) if p.ndim == 2 else p for p in predictions]
    return {protocol: summarise([agreement(protocol_labels(n.y, protocol), s)
                                 for n, s in zip(nights, stages)]).to_dict()
            for protocol in PROTOCOLS}


def headline(scores: dict[str, Any], protocol: str = "30min") -> str:
    """One line of pooled accuracy, macro-F1 and kappa, e.g. for logs and progress bars."""
    pooled = scores[protocol]["pooled"]
    return (f"{protocol}: acc {pooled['accuracy']:.3f} MF1 {pooled['macro_f1']:.3f} "
            f"kappa {pooled['kappa']:.3f} ({pooled['n_epochs']} epochs)")


def recording_cut(night: Night) -> Night:
    """The night cut to 30 min before its first to 30 min after its last sleep epoch."""
    keep = trim_mask(night.y, "30min", source=night.name)
    return Night(night.name, night.subject, night.x[keep], night.y[keep])


def predict_held_out(model: torch.nn.Module, nights: list[Night]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per night, the logits on the whole recording and on its :func:`recording_cut`."""
    cut = predict_nights(model, [recording_cut(n) for n in nights])
    return list(zip(predict_nights(model, nights), cut))


def score_held_out(nights: list[Night], predictions: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, Any]:
    """:func:`score_predictions` of the whole-recording logits (``30min`` and ``whole``), plus
    :data:`RECORDING_CUT`: every scored epoch of the cut nights, scored as recordings."""
    scores = score_predictions(nights, [whole for whole, _ in predictions])
    scores[RECORDING_CUT] = score_predictions([recording_cut(n) for n in nights],
                                              [cut for _, cut in predictions])["whole"]
    return scores
