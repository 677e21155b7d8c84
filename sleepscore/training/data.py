"""Training data: one :class:`~sleepscore.datasets.Night` per recording, and per-channel recordings."""

from __future__ import annotations

import numpy as np

from ..datasets import Night
from ..pipeline import one_channel


def per_channel_nights(nights: list[Night], channels: list[str]) -> list[Night]:
    """Every channel of every night as a one-channel recording of its own (same subject).

    Features (``[n_epochs, width * n_channels]``, channel-major) are split into channel blocks,
    raw epochs (``[n_epochs, n_channels, samples]``) along the channel axis. A single-EEG model
    trained on these sees each derivation as just another EEG. Each recording carries the
    night's other channels as ``other_derivations``, for derivation mixing in training.

    Examples
    --------
    >>> import numpy as np
    >>> night = Night("n", "00", np.arange(12.0).reshape(2, 6), np.array([0, 2]))
    >>> [(n.name, n.x.tolist()) for n in per_channel_nights([night], ["A", "B"])]
    [('n:A', [[0.0, 1.0, 2.0], [6.0, 7.0, 8.0]]), ('n:B', [[3.0, 4.0, 5.0], [9.0, 10.0, 11.0]])]
    """
    out = []
    for night in nights:
        blocks = [one_channel(night.x, i, len(channels)) for i in range(len(channels))]
        for i, channel in enumerate(channels):
            others = [block for j, block in enumerate(blocks) if j != i]
            out.append(Night(f"{night.name}:{channel}", night.subject, blocks[i], night.y,
                             np.stack(others, axis=1) if others else None))
    return out
