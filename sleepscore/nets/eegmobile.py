"""EEGMobile: MobileNetV3-Large (Howard et al. 2019, ICCV) on per-epoch EEG spectrograms.

Each 30-s epoch becomes a log-power spectrogram image (one image channel per EEG channel),
computed inside the network by :class:`~sleepscore.nets.layers.LogSpectrogram` so that the
exported ONNX graph takes the raw epochs the contract asks for. The spectrogram equals
``scipy.signal.spectrogram(x_uV, fs=100, window="hann", nperseg=200, noverlap=150,
detrend="constant", scaling="density", mode="psd")`` before the log: the paper's exact
``scipy`` call was not available here, so these values are this module's choice. A 2-s Hann
window gives 0.5-Hz bins from 0 to 50 Hz (101 rows), fine enough to separate delta (0.5-4 Hz),
spindles (11-16 Hz) and alpha (8-13 Hz); a 0.5-s hop gives 57 columns, so the five stride-2
stages of MobileNetV3 still leave a 4 × 2 feature map.

The image goes through the MobileNetV3-Large body unchanged (a 3×3 stride-2 stem with 16
filters, fifteen inverted-residual blocks with depthwise convolutions, squeeze-and-excitation
with a hard-sigmoid gate in the blocks the paper marks, ReLU in the first six blocks and
h-swish after; a 1×1 convolution to 960 channels, global pooling, a 1280-unit h-swish layer,
dropout 0.2) and a 5-way classifier. Every epoch is classified on its own (no sequence context).

Trained from scratch: no ImageNet weights can be downloaded here, and ImageNet filters expect
three-channel natural images, not one log-spectrogram per EEG channel.

Parameter count (``n_channels=1``, width 1.0): 4,208,149 here. MobileNetV3-Large has 5.4 M with
its 1000-class ImageNet head (Howard et al. 2019, Table 3); replacing that head's 1280 × 1000
layer by 1280 × 5 removes 1.27 M, and the stem takes 1 input channel instead of 3.

Examples
--------
>>> net = EEGMobile(n_channels=1).eval()
>>> net(torch.zeros(2, 3, 1, 3000)).shape
torch.Size([2, 3, 5])
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from sleepscore.nets import Architecture, register
from sleepscore.nets.layers import LogSpectrogram, SqueezeExcite, conv_bn_act, fold_epochs, to_microvolts, unfold_epochs
from sleepscore.stages import N_STAGES, TARGET_FS

SPECTROGRAM_NPERSEG = 200
SPECTROGRAM_NOVERLAP = 150


class BlockSpec(NamedTuple):
    """One inverted-residual block of MobileNetV3 (a row of the paper's Table 1)."""

    kernel: int
    expanded: int
    out: int
    squeeze_excite: bool
    hard_swish: bool
    stride: int


# MobileNetV3-Large, Howard et al. 2019, Table 1 (input 16 channels from the stem).
LARGE_BLOCKS: tuple[BlockSpec, ...] = (
    BlockSpec(3, 16, 16, False, False, 1),
    BlockSpec(3, 64, 24, False, False, 2),
    BlockSpec(3, 72, 24, False, False, 1),
    BlockSpec(5, 72, 40, True, False, 2),
    BlockSpec(5, 120, 40, True, False, 1),
    BlockSpec(5, 120, 40, True, False, 1),
    BlockSpec(3, 240, 80, False, True, 2),
    BlockSpec(3, 200, 80, False, True, 1),
    BlockSpec(3, 184, 80, False, True, 1),
    BlockSpec(3, 184, 80, False, True, 1),
    BlockSpec(3, 480, 112, True, True, 1),
    BlockSpec(3, 672, 112, True, True, 1),
    BlockSpec(5, 672, 160, True, True, 2),
    BlockSpec(5, 960, 160, True, True, 1),
    BlockSpec(5, 960, 160, True, True, 1),
)
STEM_CHANNELS = 16
LAST_CONV_CHANNELS = 960
HEAD_UNITS = 1280
HEAD_DROPOUT = 0.2


def make_divisible(channels: float, divisor: int = 8) -> int:
    """Round a channel count to a multiple of ``divisor`` as MobileNet does, never below 90 %.

    Examples
    --------
    >>> make_divisible(72 / 4), make_divisible(120 * 0.75)
    (24, 88)
    """
    rounded = max(divisor, int(channels + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * channels else rounded


class InvertedResidual(nn.Module):
    """MobileNetV3 block: 1×1 expansion, depthwise k×k, optional SE, linear 1×1 projection.

    Parameters
    ----------
    in_channels : int
        Channels entering the block.
    spec : BlockSpec
        Kernel, expanded and output widths (already scaled by the width multiplier), SE,
        activation and stride.
    """

    def __init__(self, in_channels: int, spec: BlockSpec) -> None:
        super().__init__()
        activation = nn.Hardswish if spec.hard_swish else nn.ReLU
        layers: list[nn.Module] = []
        if spec.expanded != in_channels:
            layers.append(conv_bn_act(in_channels, spec.expanded, 1, activation=activation, dims=2))
        layers.append(
            conv_bn_act(
                spec.expanded,
                spec.expanded,
                spec.kernel,
                stride=spec.stride,
                padding=spec.kernel // 2,
                groups=spec.expanded,
                activation=activation,
                dims=2,
            )
        )
        if spec.squeeze_excite:
            layers.append(SqueezeExcite(spec.expanded, make_divisible(spec.expanded / 4), gate=nn.Hardsigmoid))
        layers.append(conv_bn_act(spec.expanded, spec.out, 1, activation=nn.Identity, dims=2))
        self.block = nn.Sequential(*layers)
        self.residual = spec.stride == 1 and in_channels == spec.out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return x + out if self.residual else out


class EEGMobile(nn.Module):
    """EEGMobile: ``[batch, seq, n_channels, 3000]`` volts → logits ``[batch, seq, 5]``.

    Parameters
    ----------
    n_channels : int
        EEG channels per epoch; each becomes one channel of the spectrogram image.
    width : float
        MobileNetV3 width multiplier (1.0 is the paper's Large model).
    """

    def __init__(self, n_channels: int = 1, width: float = 1.0) -> None:
        super().__init__()
        self.spectrogram = LogSpectrogram(TARGET_FS, SPECTROGRAM_NPERSEG, SPECTROGRAM_NOVERLAP)
        stem = make_divisible(STEM_CHANNELS * width)
        layers: list[nn.Module] = [
            conv_bn_act(n_channels, stem, 3, stride=2, padding=1, activation=nn.Hardswish, dims=2)
        ]
        channels = stem
        for spec in LARGE_BLOCKS:
            scaled = spec._replace(expanded=make_divisible(spec.expanded * width), out=make_divisible(spec.out * width))
            layers.append(InvertedResidual(channels, scaled))
            channels = scaled.out
        last = make_divisible(LAST_CONV_CHANNELS * width)
        layers.append(conv_bn_act(channels, last, 1, activation=nn.Hardswish, dims=2))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Linear(last, HEAD_UNITS), nn.Hardswish(), nn.Dropout(HEAD_DROPOUT), nn.Linear(HEAD_UNITS, N_STAGES)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        images = self.spectrogram(to_microvolts(fold_epochs(x)))
        pooled = self.features(images).mean(dim=(2, 3))
        return unfold_epochs(self.classifier(pooled), x)


register(Architecture("eegmobile", EEGMobile, input_kind="raw"))
