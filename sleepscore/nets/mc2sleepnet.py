"""MC2SleepNet (Na et al. 2025, arXiv:2502.17470), at a reduced width for CPU training.

Multi-modal Cross-masking with Contrastive learning. Two backbones embed every 30-s epoch twice:

- a **raw-signal CNN** (the DeepSleepNet/TinySleepNet small-filter branch: 50-sample filters
  with stride 6, max-pools, three 8-sample convolutions) followed by a linear embedding;
- a **spectrogram transformer**: the epoch's log spectrogram (as in :mod:`sleepscore.nets.eegmobile`,
  2-s Hann segments every 0.5 s, 0.5-Hz bins), one token per time column with a learned
  position embedding, a transformer encoder, mean-pooled.

Training has two stages; their losses and schedule are a training recipe
(:mod:`sleepscore.training.recipes`: ``mc2sleepnet_pretrain_loss``, ``mc2sleepnet_loss`` and
``freeze_backbones_hook``). The network provides what they need:

1. Stage 1 trains the full network on cross-entropy plus an epoch-level InfoNCE loss between the
   two backbones' projected embeddings (:meth:`MC2SleepNet.epoch_embeddings`,
   ``raw_projection``, ``spectrogram_projection``). During training, **cross-masking** replaces,
   at random sequence positions, the embedding of one modality (never both) by a learned mask
   token; the sequence-level **cross-attention** (each modality's epochs attend to the other's)
   then has to recover the masked epoch from the other modality and the neighbouring epochs.
2. :meth:`MC2SleepNet.freeze_backbones`, then fine-tune the sequence part with plain
   cross-entropy (``forward``), backbones frozen.

At evaluation (and in the ONNX graph) nothing is masked.

Width: the embeddings are 128-dimensional (two transformer layers, 4 heads, in the
spectrogram backbone; one 256-wide layer at the sequence level), chosen so that a training step
fits a 2-core CPU. The paper's full-size widths and parameter count were not available here,
so no paper figure is compared. Parameter count (``n_channels=1``): 1,081,935.

Examples
--------
>>> net = MC2SleepNet(n_channels=1).eval()
>>> net(torch.zeros(2, 3, 1, 3000)).shape
torch.Size([2, 3, 5])
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import nn

from sleepscore.nets import Architecture, register
from sleepscore.nets.eegmobile import SPECTROGRAM_NOVERLAP, SPECTROGRAM_NPERSEG
from sleepscore.nets.layers import (
    SAMPLES_PER_EPOCH,
    LogSpectrogram,
    MultiHeadAttention,
    TransformerBlock,
    fold_epochs,
    output_shape,
    raw_conv_branch,
    to_microvolts,
    unfold_epochs,
)
from sleepscore.stages import N_STAGES, TARGET_FS

DROPOUT = 0.1
CNN_DROPOUT = 0.5


def sinusoidal_positions(length: torch.Tensor | int, dim: int) -> torch.Tensor:
    """Vaswani et al. (2017) position encodings ``[length, dim]``, built for any length.

    Built from ``arange`` at run time (not a fixed table) so that the exported graph keeps a
    dynamic sequence axis.
    """
    position = torch.arange(length, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    angles = position * frequency
    return torch.stack([angles.sin(), angles.cos()], dim=2).flatten(1)


class SpectrogramTransformer(nn.Module):
    """Epoch embedding from the log spectrogram: one token per time column, transformer, mean.

    Parameters
    ----------
    n_channels : int
        EEG channels; their spectrogram columns are concatenated into one token.
    dim, n_heads, n_layers : int
        Transformer width, heads and depth.
    """

    def __init__(self, n_channels: int, dim: int, n_heads: int = 4, n_layers: int = 2) -> None:
        super().__init__()
        self.spectrogram = LogSpectrogram(TARGET_FS, SPECTROGRAM_NPERSEG, SPECTROGRAM_NOVERLAP)
        n_frames = (SAMPLES_PER_EPOCH - SPECTROGRAM_NPERSEG) // (SPECTROGRAM_NPERSEG - SPECTROGRAM_NOVERLAP) + 1
        token_size = n_channels * self.spectrogram.n_freqs
        # Log powers sit far from zero mean and unit scale; normalising each token first keeps
        # the embedding's initialisation in its intended range.
        self.embed = nn.Sequential(nn.LayerNorm(token_size), nn.Linear(token_size, dim))
        self.positions = nn.Parameter(torch.zeros(n_frames, dim))
        nn.init.trunc_normal_(self.positions, std=0.02)
        self.encoder = nn.Sequential(
            *(TransformerBlock(dim, n_heads, 2 * dim, DROPOUT) for _ in range(n_layers)), nn.LayerNorm(dim)
        )

    def forward(self, epochs: torch.Tensor) -> torch.Tensor:
        image = self.spectrogram(epochs)
        tokens = image.flatten(1, 2).transpose(1, 2)
        return self.encoder(self.embed(tokens) + self.positions).mean(dim=1)


class MC2SleepNet(nn.Module):
    """MC2SleepNet: ``[batch, seq, n_channels, 3000]`` volts → logits ``[batch, seq, 5]``.

    Parameters
    ----------
    n_channels : int
        Signal channels per epoch (one EEG channel in the paper).
    dim : int
        Epoch-embedding width of each backbone (reduced for CPU).
    mask_ratio : float
        Fraction of sequence positions where one modality is masked during training.
    temperature : float
        InfoNCE temperature (read by the training recipe's stage-1 loss).
    contrastive_weight : float
        Weight of the InfoNCE term in the stage-1 loss (read by the training recipe).
    """

    def __init__(
        self,
        n_channels: int = 1,
        dim: int = 128,
        mask_ratio: float = 0.3,
        temperature: float = 0.1,
        contrastive_weight: float = 1.0,
    ) -> None:
        super().__init__()
        self.mask_ratio = mask_ratio
        self.temperature = temperature
        self.contrastive_weight = contrastive_weight
        fs = int(TARGET_FS)
        cnn = raw_conv_branch(
            n_channels,
            first_filters=64,
            first_kernel=fs // 2,
            first_stride=fs // 16,
            first_pool=nn.MaxPool1d(8, 8, ceil_mode=True),
            filters=64,
            kernel=8,
            n_convs=3,
            last_pool=nn.MaxPool1d(4, 4, ceil_mode=True),
            dropout=CNN_DROPOUT,
        )
        self.raw_backbone = nn.Sequential(
            cnn, nn.Flatten(), nn.Linear(output_shape(cnn, n_channels).numel(), dim), nn.ReLU()
        )
        self.spectrogram_backbone = SpectrogramTransformer(n_channels, dim)
        self.raw_projection = nn.Linear(dim, dim)
        self.spectrogram_projection = nn.Linear(dim, dim)
        self.mask_tokens = nn.Parameter(torch.zeros(2, dim))
        nn.init.trunc_normal_(self.mask_tokens, std=0.02)
        self.raw_attends_spectrogram = MultiHeadAttention(dim, 4, DROPOUT)
        self.spectrogram_attends_raw = MultiHeadAttention(dim, 4, DROPOUT)
        self.sequence_encoder = TransformerBlock(2 * dim, 4, 2 * dim, DROPOUT)
        self.classifier = nn.Sequential(nn.LayerNorm(2 * dim), nn.Linear(2 * dim, N_STAGES))
        self.backbones_frozen = False

    def backbone_modules(self) -> tuple[nn.Module, ...]:
        """The epoch-level parts: both backbones and their contrastive projections."""
        return (self.raw_backbone, self.spectrogram_backbone, self.raw_projection, self.spectrogram_projection)

    def backbone_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters of :meth:`backbone_modules`."""
        for module in self.backbone_modules():
            yield from module.parameters()

    def freeze_backbones(self) -> None:
        """Stage 2: stop gradients and batch-norm/dropout updates in both backbones."""
        self.backbones_frozen = True
        for parameter in self.backbone_parameters():
            parameter.requires_grad_(False)
        self.train(self.training)

    def train(self, mode: bool = True) -> MC2SleepNet:
        """Set training mode, keeping frozen backbones in eval mode (fixed BN statistics)."""
        super().train(mode)
        if self.backbones_frozen:
            for module in self.backbone_modules():
                module.eval()
        return self

    def epoch_embeddings(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both backbones' embeddings of every epoch, each ``[batch, seq, dim]``."""
        epochs = to_microvolts(fold_epochs(x))
        return (
            unfold_epochs(self.raw_backbone(epochs), x),
            unfold_epochs(self.spectrogram_backbone(epochs), x),
        )

    def _cross_mask(self, raw: torch.Tensor, spectrogram: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Replace one modality's embedding by its mask token at random positions."""
        draw = torch.rand(raw.shape[:2], device=raw.device)[..., None]
        mask_raw = draw < self.mask_ratio / 2
        mask_spectrogram = (draw >= self.mask_ratio / 2) & (draw < self.mask_ratio)
        return (
            torch.where(mask_raw, self.mask_tokens[0], raw),
            torch.where(mask_spectrogram, self.mask_tokens[1], spectrogram),
        )

    def sequence_logits(self, raw: torch.Tensor, spectrogram: torch.Tensor) -> torch.Tensor:
        """Logits ``[batch, seq, 5]`` from the two embedding sequences (cross-masked in training)."""
        if self.training:
            raw, spectrogram = self._cross_mask(raw, spectrogram)
        positions = sinusoidal_positions(raw.shape[1], raw.shape[2]).to(raw.device)
        raw, spectrogram = raw + positions, spectrogram + positions
        raw_context = self.raw_attends_spectrogram(raw, spectrogram)
        spectrogram_context = self.spectrogram_attends_raw(spectrogram, raw)
        fused = torch.cat([raw + raw_context, spectrogram + spectrogram_context], dim=2)
        return self.classifier(self.sequence_encoder(fused))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.sequence_logits(*self.epoch_embeddings(x))


register(Architecture("mc2sleepnet", MC2SleepNet, input_kind="raw"))
