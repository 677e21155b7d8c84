"""DeepSleepNet (Supratak, Dong, Wu & Guo 2017, IEEE TNSRE 25(11):1998-2008).

Representation learning: two CNN branches on each raw 30-s epoch, one with small filters
(fs/2 = 50 samples, stride fs/16 = 6) to catch the timing of waveforms, one with large filters
(4·fs = 400 samples, stride fs/2 = 50) to catch their frequency content; each is conv → max-pool
→ dropout → 3 convs → max-pool, with batch norm and ReLU after every conv. Sequence residual
learning: a two-layer bidirectional LSTM (512 units per direction) over the epoch sequence, plus
a shortcut (fully connected layer on the CNN features, 1024 units) added to the LSTM output.

Two-step training (the paper's Section II-C), run by the shared training loop
(``sleepscore.training.loop.fit``) through :func:`two_step_hook`, its ``on_epoch_start``:

1. Pre-training: the CNN alone with a per-epoch softmax head (the network's ``pretraining``
   buffer makes ``forward`` return that head's logits), on a class-balanced training set of
   single 30-s epochs (every scored epoch once, minority stages duplicated until each stage is as
   frequent as the most frequent one), 100 epochs per batch, learning rate 1e-4, plain
   cross-entropy, no gradient clipping. These epochs are never kept by early stopping and do
   not count towards its patience.
2. Fine-tuning: the whole network on sequences (batches of 10 sequences of 25 epochs), the CNN at
   a learning rate of 1e-6 and the rest at 1e-4 (the optimiser is split in place at the switch),
   plain cross-entropy, global gradient norm clipped at 10.

:data:`TWO_STEP` holds these settings. The paper runs 100 + 200 epochs, which is the
architecture's default training length; a run of another length keeps the 1:2 split (``--epochs
30``: 10 + 20). Differences that remain: sequences are random crops of the nights, and the LSTM
state is not carried from one sequence of a night to the next as in the original code; the
optimiser is the loop's AdamW (weight decay on every weight, where the paper put L2 on the
first convolutions only).

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
from dataclasses import dataclass

import torch
from torch import nn

from sleepscore.nets import Architecture, register
from sleepscore.nets.layers import fold_epochs, output_shape, raw_conv_branch, to_microvolts, unfold_epochs
from sleepscore.stages import N_STAGES, TARGET_FS
from sleepscore.training.loop import EpochHook, EpochPlan

DROPOUT = 0.5


@dataclass(frozen=True)
class TwoStepSchedule:
    """DeepSleepNet's two-step training settings (Supratak et al. 2017, Section III-C).

    Attributes
    ----------
    pretrain_lr : float
        Adam learning rate for CNN pre-training on class-balanced single epochs.
    pretrain_epochs : int
        Passes over the oversampled training set in pre-training.
    pretrain_batch_epochs : int
        Single 30-s epochs per pre-training batch.
    finetune_lr_cnn : float
        Adam learning rate of the pre-trained CNN during fine-tuning (kept low so the
        sequence part cannot wash out what the CNN learnt).
    finetune_lr_sequence : float
        Adam learning rate of the BiLSTM, shortcut and softmax during fine-tuning.
    finetune_epochs : int
        Passes over the training nights in fine-tuning.
    finetune_batch_sequences, finetune_seq_len : int
        Batch shape of fine-tuning: sequences per batch, epochs per sequence.
    clip_grad_norm : float
        Global gradient-norm clip during fine-tuning (the LSTM's exploding gradients).
    class_weighting : str
        Loss weighting of both steps: ``"none"``, the paper's plain cross-entropy (pre-training
        balances the stages by oversampling instead).
    """

    pretrain_lr: float = 1e-4
    pretrain_epochs: int = 100
    pretrain_batch_epochs: int = 100
    finetune_lr_cnn: float = 1e-6
    finetune_lr_sequence: float = 1e-4
    finetune_epochs: int = 200
    finetune_batch_sequences: int = 10
    finetune_seq_len: int = 25
    clip_grad_norm: float = 10.0
    class_weighting: str = "none"

    @property
    def total_epochs(self) -> int:
        """Pre-training plus fine-tuning epochs (300 in the paper)."""
        return self.pretrain_epochs + self.finetune_epochs

    def pretraining_epochs(self, max_epochs: int) -> int:
        """Pre-training epochs of a ``max_epochs`` run: its share at the paper's split, rounded down.

        Examples
        --------
        >>> TWO_STEP.pretraining_epochs(300), TWO_STEP.pretraining_epochs(30), TWO_STEP.pretraining_epochs(2)
        (100, 10, 0)
        """
        return max_epochs * self.pretrain_epochs // self.total_epochs


TWO_STEP = TwoStepSchedule()


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


def two_step_hook(schedule: TwoStepSchedule = TWO_STEP) -> EpochHook:
    """An ``on_epoch_start(model, epoch, optimizer, max_epochs)`` hook running DeepSleepNet's two steps.

    The first ``schedule.pretraining_epochs(max_epochs)`` epochs pre-train the CNN with its
    per-epoch head at ``schedule.pretrain_lr`` on class-balanced single epochs; they are not
    selectable for early stopping. From the next epoch on the whole network is fine-tuned on
    sequences, the CNN at ``schedule.finetune_lr_cnn`` and the rest at
    ``schedule.finetune_lr_sequence``, with clipped gradients. The optimiser is split in place,
    keeping its state.

    Parameters
    ----------
    schedule : TwoStepSchedule
        Learning rates, split of the epochs, batch shapes and clipping.

    Returns
    -------
    callable
        The hook; it returns each epoch's :class:`~sleepscore.training.loop.EpochPlan`.

    Examples
    --------
    >>> net = DeepSleepNet()
    >>> optimiser = torch.optim.Adam(net.parameters())
    >>> hook = two_step_hook()
    >>> plan = hook(net, 1, optimiser, 3); bool(net.pretraining), plan.sampling, plan.selectable
    (True, 'balanced_epochs', False)
    >>> plan = hook(net, 2, optimiser, 3); bool(net.pretraining), [g["lr"] for g in optimiser.param_groups]
    (False, [0.0001, 1e-06])
    >>> plan.window, plan.batch_size, plan.clip_grad_norm
    (25, 10, 10.0)
    """
    pretrain_plan = EpochPlan(sampling="balanced_epochs", batch_size=schedule.pretrain_batch_epochs,
                              class_weighting=schedule.class_weighting, clip_grad_norm=None,
                              selectable=False)
    finetune_plan = EpochPlan(window=schedule.finetune_seq_len,
                              batch_size=schedule.finetune_batch_sequences,
                              class_weighting=schedule.class_weighting,
                              clip_grad_norm=schedule.clip_grad_norm)

    def on_epoch_start(model: nn.Module, epoch: int, optimizer: torch.optim.Optimizer,
                       max_epochs: int) -> EpochPlan:
        pretrain_epochs = schedule.pretraining_epochs(max_epochs)
        if epoch <= pretrain_epochs:
            if epoch == 1:
                model.pretraining.fill_(True)
                for group in optimizer.param_groups:
                    group["lr"] = schedule.pretrain_lr
            return pretrain_plan
        if epoch == pretrain_epochs + 1:
            model.pretraining.fill_(False)
            cnn = list(model.cnn_parameters())
            cnn_ids = {id(p) for p in cnn}
            for group in optimizer.param_groups:
                group["params"] = [p for p in group["params"] if id(p) not in cnn_ids]
                group["lr"] = schedule.finetune_lr_sequence
            optimizer.add_param_group({"params": cnn, "lr": schedule.finetune_lr_cnn})
        return finetune_plan

    return on_epoch_start


register(Architecture("deepsleepnet", DeepSleepNet, input_kind="raw", on_epoch_start=two_step_hook(),
                      default_epochs=TWO_STEP.total_epochs))
