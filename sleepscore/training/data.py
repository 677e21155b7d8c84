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
