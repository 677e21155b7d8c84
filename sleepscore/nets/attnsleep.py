"""AttnSleep (Eldele, Chen, Liu, Wu, Kwoh, Li & Guan 2021, IEEE TNSRE 29:809-818).

A single-epoch classifier in three parts:

- **MRCNN**, a multi-resolution CNN: two branches on the raw 30-s epoch, one with small kernels
  (50 samples, stride 6) and one with large kernels (400 samples, stride 50), each conv → max-pool
  → dropout → 2 convs → max-pool with batch norm and GELU; their outputs are concatenated along
  time (64 + 16 = 80 steps of 128 channels at 100 Hz).
- **AFR**, adaptive feature recalibration: an SE-residual block (1×1 convolutions, squeeze-and-
  excitation) that also reduces the 128 channels to 30.
- **TCE**, the temporal context encoder: two layers of multi-head attention whose queries, keys
  and values come from *causal* convolutions along time (so that each attention input encodes
  only its past, which stands in for positional encoding), each followed by a feed-forward
  sublayer, with residual connections and layer norm. As in the paper's code, the attention
  tokens are the 30 recalibrated feature maps and the model dimension is their 80 time steps
  (5 heads of 16 steps each); the causal convolutions run along those time steps.

The paper classifies one epoch at a time (sequence length 1); here every epoch of the
``seq`` axis is classified independently, so the network has no inter-epoch context.

Parameter count (``n_channels=1``): 509,765 here against ~0.51 M in the paper.

Examples
--------
>>> net = AttnSleep(n_channels=1).eval()
>>> net(torch.zeros(2, 3, 1, 3000)).shape
torch.Size([2, 3, 5])
"""

from __future__ import annotations

import torch
from torch import nn

from sleepscore.nets import Architecture, register
from sleepscore.nets.layers import (
    SqueezeExcite,
    attend,
    conv_bn_act,
    fold_epochs,
    output_shape,
    raw_conv_branch,
    to_microvolts,
    unfold_epochs,
)
from sleepscore.stages import N_STAGES

CNN_DROPOUT = 0.5
ATTENTION_DROPOUT = 0.1


class CausalConv1d(nn.Conv1d):
    """Convolution whose output at step t sees only steps ≤ t (left zero-padding)."""

    def __init__(self, channels: int, kernel_size: int) -> None:
        super().__init__(channels, channels, kernel_size)
        self.left_pad = kernel_size - 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(nn.functional.pad(x, (self.left_pad, 0)))


class AdaptiveFeatureRecalibration(nn.Module):
    """AFR: an SE-residual block, ``[N, in_channels, T]`` → ``[N, out_channels, T]``.

    Parameters
    ----------
    in_channels, out_channels : int
        128 and 30 in the paper.
    se_reduction : int
        Squeeze ratio of the SE gate (16 in the paper, so 30 channels squeeze to 1).
    """

    def __init__(self, in_channels: int, out_channels: int, se_reduction: int = 16) -> None:
        super().__init__()
        self.residual = nn.Sequential(
            conv_bn_act(in_channels, out_channels, 1),
            conv_bn_act(out_channels, out_channels, 1, activation=nn.Identity),
            SqueezeExcite(out_channels, max(1, out_channels // se_reduction), gate=nn.Sigmoid, bias=False),
        )
        self.shortcut = conv_bn_act(in_channels, out_channels, 1, activation=nn.Identity)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.residual(x) + self.shortcut(x))


class CausalAttentionLayer(nn.Module):
    """One TCE layer: causal-convolution multi-head attention, then a feed-forward sublayer.

    Parameters
    ----------
    n_tokens : int
        Feature maps coming out of AFR (attention tokens; the causal convs' channels).
    d_model : int
        Time steps per feature map (the attention's model dimension).
    n_heads : int
        Attention heads; each attends over ``d_model // n_heads`` consecutive time steps.
    d_ff : int
        Hidden width of the feed-forward sublayer.
    kernel_size : int
        Length of the causal convolutions.
    """

    def __init__(self, n_tokens: int, d_model: int, n_heads: int, d_ff: int, kernel_size: int = 7) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} is not divisible by n_heads {n_heads}")
        self.n_heads = n_heads
        self.query_conv = CausalConv1d(n_tokens, kernel_size)
        self.key_conv = CausalConv1d(n_tokens, kernel_size)
        self.value_conv = CausalConv1d(n_tokens, kernel_size)
        self.merge_heads = nn.Linear(d_model, d_model)
        self.norm = nn.LayerNorm(d_model)
        self.feed_forward = nn.Sequential(
            nn.Linear(d_model, d_ff), nn.ReLU(), nn.Dropout(ATTENTION_DROPOUT), nn.Linear(d_ff, d_model)
        )
        self.dropout = nn.Dropout(ATTENTION_DROPOUT)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        query = self.query_conv(x)
        dropout = ATTENTION_DROPOUT if self.training else 0.0
        heads = attend(query, self.key_conv(x), self.value_conv(x), self.n_heads, dropout)
        x = query + self.dropout(self.merge_heads(heads))
        return x + self.dropout(self.feed_forward(self.norm(x)))


class AttnSleep(nn.Module):
    """AttnSleep: ``[batch, seq, n_channels, 3000]`` volts → logits ``[batch, seq, 5]``.

    Parameters
    ----------
    n_channels : int
        Signal channels per epoch (one EEG channel in the paper).
    afr_channels : int
        Feature maps after recalibration (30 in the paper).
    n_heads, d_ff, n_layers : int
        TCE shape (5, 120, 2 in the paper).
    """

    def __init__(
        self, n_channels: int = 1, afr_channels: int = 30, n_heads: int = 5, d_ff: int = 120, n_layers: int = 2
    ) -> None:
        super().__init__()
        self.small_kernels = raw_conv_branch(
            n_channels,
            first_filters=64,
            first_kernel=50,
            first_stride=6,
            first_pool=nn.MaxPool1d(8, 2, padding=4),
            filters=128,
            kernel=8,
            n_convs=2,
            padding=4,
            last_pool=nn.MaxPool1d(4, 4, padding=2),
            dropout=CNN_DROPOUT,
            activation=nn.GELU,
        )
        self.large_kernels = raw_conv_branch(
            n_channels,
            first_filters=64,
            first_kernel=400,
            first_stride=50,
            first_pool=nn.MaxPool1d(4, 2, padding=2),
            filters=128,
            kernel=7,
            n_convs=2,
            padding=3,
            last_pool=nn.MaxPool1d(2, 2, padding=1),
            dropout=CNN_DROPOUT,
            activation=nn.GELU,
        )
        small_shape = output_shape(self.small_kernels, n_channels)
        d_model = small_shape[1] + output_shape(self.large_kernels, n_channels)[1]
        self.mrcnn_dropout = nn.Dropout(CNN_DROPOUT)
        self.recalibration = AdaptiveFeatureRecalibration(small_shape[0], afr_channels)
        self.encoder = nn.Sequential(
            *(CausalAttentionLayer(afr_channels, d_model, n_heads, d_ff) for _ in range(n_layers)),
            nn.LayerNorm(d_model),
        )
        self.classifier = nn.Linear(afr_channels * d_model, N_STAGES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        epochs = to_microvolts(fold_epochs(x))
        multi_resolution = torch.cat([self.small_kernels(epochs), self.large_kernels(epochs)], dim=2)
        recalibrated = self.recalibration(self.mrcnn_dropout(multi_resolution))
        return unfold_epochs(self.classifier(self.encoder(recalibrated).flatten(1)), x)


register(Architecture("attnsleep", AttnSleep, input_kind="raw"))
