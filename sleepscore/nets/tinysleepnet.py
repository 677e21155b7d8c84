"""TinySleepNet (Supratak & Guo 2020, EMBC, pp. 641-644).

DeepSleepNet reduced to one CNN branch and one unidirectional LSTM: on each raw 30-s epoch a
convolution of 128 filters of fs/2 = 50 samples with stride fs/16 = 6, max-pool 8, dropout 0.5,
three convolutions of 128 filters of 8 samples, max-pool 4, dropout 0.5 (batch norm and ReLU
after every convolution); then one LSTM layer of 128 units over the epoch sequence, dropout 0.5
and a softmax layer. Trained end to end with plain cross-entropy (the paper's signal and
sequence augmentation belong to training, not to the network: the signal augmentation is
``shift_signal`` in :mod:`sleepscore.training.augment`, the architecture's recipe's ``augment``;
the sequence augmentation, a random start for each training sequence, is what the shared loop's
random crops already do).

Parameter count (``n_channels=1``): 1,516,421 here against ~1.3 M in the paper. The layer list
is the paper's; the LSTM input is the flattened CNN output, 128 filters × 16 steps = 2048
values with "SAME" pooling, so the LSTM alone holds 1.11 M and the CNN 0.40 M. The published
layer list does not account for the 0.2 M gap; ``tests/nets/test_nets.py`` derives the count above
from that list independently.

Examples
--------
>>> net = TinySleepNet(n_channels=1).eval()
>>> net(torch.zeros(2, 3, 1, 3000)).shape
torch.Size([2, 3, 5])
"""

from __future__ import annotations

import torch
from torch import nn

from sleepscore.nets import Architecture, register
from sleepscore.nets.layers import fold_epochs, output_shape, raw_conv_branch, to_microvolts, unfold_epochs
from sleepscore.stages import N_STAGES, TARGET_FS

DROPOUT = 0.5


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


register(Architecture("tinysleepnet", TinySleepNet, input_kind="raw"))
