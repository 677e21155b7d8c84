"""DeepSleepNet (Supratak, Dong, Wu & Guo 2017, IEEE TNSRE 25(11):1998-2008).

Representation learning: two CNN branches on each raw 30-s epoch, one with small filters
(fs/2 = 50 samples, stride fs/16 = 6) to catch the timing of waveforms, one with large filters
(4·fs = 400 samples, stride fs/2 = 50) to catch their frequency content; each is conv → max-pool
→ dropout → 3 convs → max-pool, with batch norm and ReLU after every conv. Sequence residual
learning: a two-layer bidirectional LSTM (512 units per direction) over the epoch sequence, plus
a shortcut (fully connected layer on the CNN features, 1024 units) added to the LSTM output.

Two-step training (the paper's Section II-C) is a training recipe
(:mod:`sleepscore.training.recipes`: ``TWO_STEP`` and ``two_step_hook``). The network provides
what it needs: a per-epoch softmax head that the ``pretraining`` buffer makes ``forward`` return
(step 1, the CNN alone on class-balanced single 30-s epochs), and the CNN and sequence parameter
groups (step 2, fine-tuning the whole network with a low learning rate for the pre-trained CNN).

Parameter count (``n_channels=1``): 24,760,202 here (``benchmarks/nets_throughput.py``). The
issue quotes ~21-24 M for the paper; the LSTM input is the concatenated CNN features (2048 + 1024
= 3072 values per epoch with TensorFlow "SAME" pooling, reproduced here by ``ceil_mode``), so
the first BiLSTM layer alone holds 14.7 M and the shortcut 3.1 M. The original code also had a
single bias per LSTM gate where PyTorch has two (+8 k). The per-epoch pre-training head
(15 k) is counted.

Examples
--------
>>> net = DeepSleepNet(n_channels=1).eval()
>>> net(torch.zeros(2, 3, 1, 3000)).shape
torch.Size([2, 3, 5])
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

from sleepscore.nets import Architecture, register
from sleepscore.nets.layers import fold_epochs, output_shape, raw_conv_branch, to_microvolts, unfold_epochs
from sleepscore.stages import N_STAGES, TARGET_FS

DROPOUT = 0.5


class DeepSleepNet(nn.Module):
    """DeepSleepNet: ``[batch, seq, n_channels, 3000]`` volts → logits ``[batch, seq, 5]``.

    Parameters
    ----------
    n_channels : int
        Signal channels per epoch (the paper used one EEG channel; more channels enter the
        first convolutions as input channels).
    lstm_units : int
        Units per direction of each BiLSTM layer (512 in the paper).
    """

    def __init__(self, n_channels: int = 1, lstm_units: int = 512) -> None:
        super().__init__()
        fs = int(TARGET_FS)
        # "SAME" max-pooling of the original TensorFlow code is ceil_mode without padding.
        self.small_filters = raw_conv_branch(
            n_channels,
            first_filters=64,
            first_kernel=fs // 2,
            first_stride=fs // 16,
            first_pool=nn.MaxPool1d(8, 8, ceil_mode=True),
            filters=128,
            kernel=8,
            n_convs=3,
            last_pool=nn.MaxPool1d(4, 4, ceil_mode=True),
            dropout=DROPOUT,
        )
        self.large_filters = raw_conv_branch(
            n_channels,
            first_filters=64,
            first_kernel=fs * 4,
            first_stride=fs // 2,
            first_pool=nn.MaxPool1d(4, 4, ceil_mode=True),
            filters=128,
            kernel=6,
            n_convs=3,
            last_pool=nn.MaxPool1d(2, 2, ceil_mode=True),
            dropout=DROPOUT,
        )
        n_features = output_shape(self.small_filters, n_channels).numel() + output_shape(
            self.large_filters, n_channels
        ).numel()
        self.feature_dropout = nn.Dropout(DROPOUT)
        self.pretrain_head = nn.Linear(n_features, N_STAGES)
        self.bilstm = nn.LSTM(
            n_features, lstm_units, num_layers=2, batch_first=True, bidirectional=True, dropout=DROPOUT
        )
        self.shortcut = nn.Sequential(
            nn.Linear(n_features, 2 * lstm_units, bias=False), nn.BatchNorm1d(2 * lstm_units), nn.ReLU()
        )
        self.sequence_dropout = nn.Dropout(DROPOUT)
        self.classifier = nn.Linear(2 * lstm_units, N_STAGES)
        # A buffer rather than a plain attribute: the step then travels with the weights (the
        # loop's kept copy, the checkpoint), so weights always come back with their head.
        self.register_buffer("pretraining", torch.tensor(False))

    def epoch_features(self, x: torch.Tensor) -> torch.Tensor:
        """CNN features of every epoch: ``[batch, seq, n_features]``."""
        epochs = to_microvolts(fold_epochs(x))
        features = torch.cat([self.small_filters(epochs).flatten(1), self.large_filters(epochs).flatten(1)], dim=1)
        return unfold_epochs(self.feature_dropout(features), x)

    def pretrain_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Step 1: per-epoch logits from the CNN and its own softmax head, no sequence context.

        Parameters
        ----------
        x : torch.Tensor
            ``[batch, seq, n_channels, 3000]`` volts; pre-training treats every epoch alone.

        Returns
        -------
        torch.Tensor
            Logits ``[batch, seq, 5]``.
        """
        return self.pretrain_head(self.epoch_features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pretraining:
            return self.pretrain_logits(x)
        features = self.epoch_features(x)
        context, _ = self.bilstm(features)
        shortcut = unfold_epochs(self.shortcut(features.flatten(0, 1)), x)
        return self.classifier(self.sequence_dropout(context + shortcut))

    def cnn_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters of the two CNN branches (the low learning rate group of step 2)."""
        yield from self.small_filters.parameters()
        yield from self.large_filters.parameters()

    def sequence_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters trained in step 2 at the normal rate: BiLSTM, shortcut, classifier."""
        for part in (self.bilstm, self.shortcut, self.classifier):
            yield from part.parameters()


register(Architecture("deepsleepnet", DeepSleepNet, input_kind="raw"))
