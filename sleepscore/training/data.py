"""The unit of training data: one night, as per-epoch inputs and stage labels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np



@dataclass
class Night:
    """One recording, every 30-s epoch in time order.

    Attributes
    ----------
    name : str
        Recording name, e.g. ``"SC4001E0"``.
    subject : str
        Subject id; splits are made on this, never on nights.
    x : np.ndarray
        Per-epoch input: ``[n_epochs, n_features]`` for feature models,
        ``[n_epochs, n_channels, 3000]`` for raw models.
    y : np.ndarray
        int64 ``[n_epochs]``, 0-4 (W, N1, N2, N3, REM) or -1 for unscored epochs, which
        are kept in the sequence (the model sees them) but excluded from loss and metrics.
    """

    name: str
    subject: str
    x: np.ndarray
    y: np.ndarray


def per_channel_nights(nights: list[Night], channels: list[str]) -> list[Night]:
    """Every channel of every night as a one-channel recording of its own (same subject).

    Features (``[n_epochs, width * n_channels]``, channel-major) are split into channel blocks,
    raw epochs (``[n_epochs, n_channels, samples]``) along the channel axis. A single-EEG model
    trained on these sees each derivation as just another EEG.

    Examples
    --------
    >>> night = Night("n", "00", np.arange(12.0).reshape(2, 6), np.array([0, 2]))
    >>> [(n.name, n.x.tolist()) for n in per_channel_nights([night], ["A", "B"])]
    [('n:A', [[0.0, 1.0, 2.0], [6.0, 7.0, 8.0]]), ('n:B', [[3.0, 4.0, 5.0], [9.0, 10.0, 11.0]])]
    """
    out = []
    for night in nights:
        raw = night.x.ndim == 3
        width = 1 if raw else night.x.shape[1] // len(channels)
        for i, channel in enumerate(channels):
            x = night.x[:, i:i + 1] if raw else night.x[:, i * width:(i + 1) * width]
            out.append(Night(f"{night.name}:{channel}", night.subject, x, night.y))
    return out
