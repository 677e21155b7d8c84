"""TinySleepNet (Supratak & Guo 2020, EMBC, pp. 641-644).

DeepSleepNet reduced to one CNN branch and one unidirectional LSTM: on each raw 30-s epoch a
convolution of 128 filters of fs/2 = 50 samples with stride fs/16 = 6, max-pool 8, dropout 0.5,
three convolutions of 128 filters of 8 samples, max-pool 4, dropout 0.5 (batch norm and ReLU
after every convolution); then one LSTM layer of 128 units over the epoch sequence, dropout 0.5
and a softmax layer. Trained end to end with plain cross-entropy (the paper's signal and
sequence augmentation belong to training, not to the network: :func:`shift_signal` is the
signal augmentation, registered as the architecture's ``augment``; the sequence augmentation,
a random start for each training sequence, is what the shared loop's random crops already do).

Parameter count (``n_channels=1``): 1,516,421 here against ~1.3 M in the paper. The layer list
is the paper's; the LSTM input is the flattened CNN output, 128 filters × 16 steps = 2048
values with "SAME" pooling, so the LSTM alone holds 1.11 M and the CNN 0.40 M. The published
layer list does not account for the 0.2 M gap; ``tests/test_nets.py`` derives the count above
from that list independently.

Examples
--------
>>> net = TinySleepNet(n_channels=1).eval()
>>> net(torch.zeros(2, 3, 1, 3000)).shape
torch.Size([2, 3, 5])
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from sleepscore.nets import Architecture, register
from sleepscore.nets.layers import fold_epochs, output_shape, raw_conv_branch, to_microvolts, unfold_epochs
from sleepscore.stages import N_STAGES, TARGET_FS

DROPOUT = 0.5
# The paper's B_sig: shifts are drawn from ±10 % of an epoch.
MAX_SHIFT_FRACTION = 0.1


class TinySleepNet(nn.Module):
    """TinySleepNet: ``[batch, seq, n_channels, 3000]`` volts → logits ``[batch, seq, 5]``.

    Parameters
    ----------
    n_channels : int
        Signal channels per epoch (one EEG channel in the paper).
    lstm_units : int
        Units of the unidirectional LSTM (128 in the paper).
    """

    def __init__(self, n_channels: int = 1, lstm_units: int = 128) -> None:
        super().__init__()
        fs = int(TARGET_FS)
        self.cnn = nn.Sequential(
            raw_conv_branch(
                n_channels,
                first_filters=128,
                first_kernel=fs // 2,
                first_stride=fs // 16,
                first_pool=nn.MaxPool1d(8, 8, ceil_mode=True),
                filters=128,
                kernel=8,
                n_convs=3,
                last_pool=nn.MaxPool1d(4, 4, ceil_mode=True),
                dropout=DROPOUT,
            ),
            nn.Flatten(),
            nn.Dropout(DROPOUT),
        )
        self.lstm = nn.LSTM(output_shape(self.cnn, n_channels).numel(), lstm_units, batch_first=True)
        self.sequence_dropout = nn.Dropout(DROPOUT)
        self.classifier = nn.Linear(lstm_units, N_STAGES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = unfold_epochs(self.cnn(to_microvolts(fold_epochs(x))), x)
        context, _ = self.lstm(features)
        return self.classifier(self.sequence_dropout(context))


def shift_signal(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """TinySleepNet's signal augmentation: shift a whole night along time, then re-cut epochs.

    The shift is drawn uniformly from ±10 % of an epoch (±300 samples), so every epoch keeps
    at least 90 % of its own signal and its label stays valid. Samples pushed off one end of
    the night come back at the other; both ends are wake, so this adds no new stage content.

    Parameters
    ----------
    x : np.ndarray
        ``[n_epochs, n_channels, n_samples]``, one whole night.
    rng : np.random.Generator
        Source of the shift.

    Returns
    -------
    np.ndarray
        Same shape and dtype as ``x``.

    Examples
    --------
    >>> night = np.arange(12.0).reshape(3, 1, 4)
    >>> shift_signal(night, np.random.default_rng(0)).shape
    (3, 1, 4)
    """
    n_epochs, n_channels, n_samples = x.shape
    max_shift = int(MAX_SHIFT_FRACTION * n_samples)
    shift = int(rng.integers(-max_shift, max_shift + 1))
    continuous = x.transpose(1, 0, 2).reshape(n_channels, n_epochs * n_samples)
    shifted = np.roll(continuous, shift, axis=1)
    return shifted.reshape(n_channels, n_epochs, n_samples).transpose(1, 0, 2)


register(Architecture("tinysleepnet", TinySleepNet, input_kind="raw", augment=shift_signal))
