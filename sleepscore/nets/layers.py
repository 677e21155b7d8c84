"""Blocks shared by the raw-signal networks, so that no block is written twice.

Every network in :mod:`sleepscore.nets` maps ``x`` float32 ``[batch, seq, n_channels, 3000]``
(30-s epochs at 100 Hz, in volts) to logits ``[batch, seq, 5]``. The helpers here turn that
into the per-epoch tensors the published architectures were defined on, and back.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from sleepscore.stages import EPOCH_S, TARGET_FS

SAMPLES_PER_EPOCH = int(EPOCH_S * TARGET_FS)
MICROVOLTS_PER_VOLT = 1e6


def to_microvolts(x: torch.Tensor) -> torch.Tensor:
    """Convert volts (the contract's unit) to µV, the unit every paper trained on.

    The published networks saw Sleep-EDF signals in µV as stored in the EDF; feeding volts
    (values ~1e-5) to their first convolution would leave it orders of magnitude below the
    scale its initialisation assumes. Doing it here keeps the conversion inside the ONNX graph.
    """
    return x * MICROVOLTS_PER_VOLT


def fold_epochs(x: torch.Tensor) -> torch.Tensor:
    """Merge the batch and sequence axes: ``[batch, seq, C, T]`` → ``[batch*seq, C, T]``.

    Uses ``-1`` for the merged axis so that an ONNX export keeps batch and seq dynamic.
    """
    return x.reshape(-1, x.shape[2], x.shape[3])


def unfold_epochs(per_epoch: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Split ``[batch*seq, ...]`` back into ``[batch, seq, ...]`` using the shape of ``like``."""
    return per_epoch.reshape(like.shape[0], like.shape[1], *per_epoch.shape[1:])


def conv_bn_act(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    *,
    stride: int = 1,
    padding: int | str = "same",
    activation: type[nn.Module] = nn.ReLU,
    groups: int = 1,
    dims: int = 1,
) -> nn.Sequential:
    """Convolution, batch norm, activation; the conv has no bias since BN adds one.

    ``dims`` picks 1-D (raw signals) or 2-D (spectrogram images) layers.

    Examples
    --------
    >>> conv_bn_act(1, 8, 5)(torch.zeros(2, 1, 100)).shape
    torch.Size([2, 8, 100])
    >>> conv_bn_act(1, 8, 3, stride=2, padding=1, dims=2)(torch.zeros(2, 1, 10, 10)).shape
    torch.Size([2, 8, 5, 5])
    """
    conv, norm = {1: (nn.Conv1d, nn.BatchNorm1d), 2: (nn.Conv2d, nn.BatchNorm2d)}[dims]
    return nn.Sequential(
        conv(in_channels, out_channels, kernel_size, stride=stride, padding=padding, groups=groups, bias=False),
        norm(out_channels),
        activation(),
    )


def raw_conv_branch(
    in_channels: int,
    *,
    first_filters: int,
    first_kernel: int,
    first_stride: int,
    first_pool: nn.Module,
    filters: int,
    kernel: int,
    n_convs: int,
    last_pool: nn.Module,
    dropout: float,
    padding: int | str = "same",
    activation: type[nn.Module] = nn.ReLU,
) -> nn.Sequential:
    """The raw-EEG CNN branch of DeepSleepNet, TinySleepNet and AttnSleep's MRCNN.

    All three papers use the same pattern: one wide strided convolution, max-pool, dropout,
    ``n_convs`` narrow convolutions, max-pool. They differ only in the numbers passed here.
    The first convolution is padded by ``(first_kernel - first_stride) // 2`` on each side,
    which gives the output lengths the papers report (500 for kernel 50 / stride 6 and 60 for
    kernel 400 / stride 50 on 3000 samples).

    Parameters
    ----------
    in_channels : int
        Signal channels of one epoch.
    first_filters, first_kernel, first_stride : int
        The first (wide, strided) convolution.
    first_pool, last_pool : nn.Module
        The two max-pools; passed in because the papers pad them differently.
    filters, kernel, n_convs : int
        The narrow convolutions after the first pool.
    dropout : float
        Dropout after the first pool.
    padding : int or str
        Padding of the narrow convolutions.
    activation : type of nn.Module
        ``nn.ReLU`` (DeepSleepNet, TinySleepNet) or ``nn.GELU`` (AttnSleep).

    Examples
    --------
    >>> branch = raw_conv_branch(1, first_filters=8, first_kernel=50, first_stride=6,
    ...     first_pool=nn.MaxPool1d(8, 8, ceil_mode=True), filters=8, kernel=8, n_convs=1,
    ...     last_pool=nn.MaxPool1d(4, 4, ceil_mode=True), dropout=0.5)
    >>> branch(torch.zeros(2, 1, 3000)).shape
    torch.Size([2, 8, 16])
    """
    narrow = [
        conv_bn_act(first_filters if i == 0 else filters, filters, kernel, padding=padding, activation=activation)
        for i in range(n_convs)
    ]
    return nn.Sequential(
        conv_bn_act(
            in_channels,
            first_filters,
            first_kernel,
            stride=first_stride,
            padding=(first_kernel - first_stride) // 2,
            activation=activation,
        ),
        first_pool,
        nn.Dropout(dropout),
        *narrow,
        last_pool,
    )


def output_shape(module: nn.Module, in_channels: int, n_samples: int = SAMPLES_PER_EPOCH) -> torch.Size:
    """Shape of ``module``'s output for one epoch, without the batch axis.

    Sizing the layer after a CNN by running it once is less error-prone than repeating
    each paper's length arithmetic by hand.
    """
    was_training = module.training
    module.eval()
    with torch.no_grad():
        shape = module(torch.zeros(1, in_channels, n_samples)).shape[1:]
    module.train(was_training)
    return shape


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation (Hu et al. 2018): rescale channels by a gate of their means.

    Works on ``[N, C, ...]`` with any number of trailing axes, so AttnSleep (1-D, sigmoid gate,
    no biases) and MobileNetV3 (2-D, hard-sigmoid gate, biases) share it.

    Parameters
    ----------
    channels : int
        Channels of the input.
    squeeze_channels : int
        Width of the bottleneck.
    gate : type of nn.Module
        ``nn.Sigmoid`` or ``nn.Hardsigmoid``.
    bias : bool
        Whether the two linear layers have biases.

    Examples
    --------
    >>> SqueezeExcite(16, 4)(torch.ones(2, 16, 10)).shape
    torch.Size([2, 16, 10])
    """

    def __init__(
        self, channels: int, squeeze_channels: int, gate: type[nn.Module] = nn.Sigmoid, bias: bool = True
    ) -> None:
        super().__init__()
        self.excite = nn.Sequential(
            nn.Linear(channels, squeeze_channels, bias=bias),
            nn.ReLU(),
            nn.Linear(squeeze_channels, channels, bias=bias),
            gate(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        squeezed = x.flatten(2).mean(dim=2)
        weights = self.excite(squeezed)
        return x * weights.reshape(*weights.shape, *([1] * (x.dim() - 2)))


class LogSpectrogram(nn.Module):
    """Log power spectrogram of each epoch, equal to ``scipy.signal.spectrogram`` before the log.

    Matches ``scipy.signal.spectrogram(x, fs, window="hann", nperseg, noverlap,
    detrend="constant", scaling="density", mode="psd")``. It is written as one strided
    convolution with a fixed windowed-DFT basis instead of ``torch.stft`` because the
    TorchScript ONNX exporter cannot export complex-valued STFT output; the per-segment mean
    removal (``detrend="constant"``) is folded into the basis by subtracting each basis row's
    mean, since DFT(w·(x - mean x)) is linear in x.

    Parameters
    ----------
    fs : float
        Sampling rate (Hz).
    nperseg : int
        Segment length (samples); must be even so the last bin is the Nyquist bin.
    noverlap : int
        Overlap between segments (samples).
    floor : float
        Added before the log so that flat segments stay finite.

    Examples
    --------
    >>> spec = LogSpectrogram(fs=100.0, nperseg=200, noverlap=150)
    >>> spec(torch.randn(4, 2, 3000)).shape
    torch.Size([4, 2, 101, 57])
    """

    def __init__(self, fs: float, nperseg: int, noverlap: int, floor: float = 1e-6) -> None:
        super().__init__()
        if nperseg % 2:
            raise ValueError(f"nperseg must be even, got {nperseg}")
        self.hop = nperseg - noverlap
        self.floor = floor
        n_freqs = nperseg // 2 + 1
        n = np.arange(nperseg)
        # Periodic Hann, as scipy.signal.get_window("hann", nperseg) returns.
        window = 0.5 - 0.5 * np.cos(2 * np.pi * n / nperseg)
        phase = 2 * np.pi * np.outer(np.arange(n_freqs), n) / nperseg
        basis = np.concatenate([window * np.cos(phase), -window * np.sin(phase)])
        basis -= basis.mean(axis=1, keepdims=True)
        self.register_buffer("basis", torch.tensor(basis[:, None, :], dtype=torch.float32), persistent=False)
        # One-sided density: every bin but DC and Nyquist carries the power of its mirror too.
        bin_scale = np.full(n_freqs, 2.0 / (fs * np.sum(window**2)))
        bin_scale[[0, -1]] /= 2
        self.register_buffer("bin_scale", torch.tensor(bin_scale[:, None], dtype=torch.float32), persistent=False)
        self.n_freqs = n_freqs

    def power(self, x: torch.Tensor) -> torch.Tensor:
        """Power spectral density ``[N, C, n_freqs, n_frames]`` of ``x`` ``[N, C, T]``."""
        coefficients = nn.functional.conv1d(x.reshape(-1, 1, x.shape[-1]), self.basis, stride=self.hop)
        real, imag = coefficients[:, : self.n_freqs], coefficients[:, self.n_freqs :]
        density = (real.square() + imag.square()) * self.bin_scale
        return density.reshape(x.shape[0], x.shape[1], self.n_freqs, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log(self.power(x) + self.floor)


def attend(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, n_heads: int, dropout: float) -> torch.Tensor:
    """Multi-head scaled dot-product attention on ``[N, tokens, dim]`` inputs, heads merged back.

    Written on top of ``scaled_dot_product_attention`` rather than ``nn.MultiheadAttention``
    because the TorchScript ONNX export of the latter bakes the batch size of the example
    input into its reshapes, which breaks the contract's dynamic batch and seq axes.

    Parameters
    ----------
    query : torch.Tensor
        ``[N, L, dim]``.
    key, value : torch.Tensor
        ``[N, S, dim]``.
    n_heads : int
        Heads; each sees ``dim // n_heads`` consecutive features.
    dropout : float
        Dropout on the attention weights (pass 0 in eval mode).

    Returns
    -------
    torch.Tensor
        ``[N, L, dim]``.
    """
    q, k, v = (t.reshape(t.shape[0], t.shape[1], n_heads, -1).transpose(1, 2) for t in (query, key, value))
    heads = nn.functional.scaled_dot_product_attention(q, k, v, dropout_p=dropout)
    return heads.transpose(1, 2).flatten(2)


class MultiHeadAttention(nn.Module):
    """Multi-head attention with learned query, key, value and output projections.

    Parameters
    ----------
    dim : int
        Model width.
    n_heads : int
        Heads (``dim`` must be divisible by it).
    dropout : float
        Dropout on the attention weights during training.

    Examples
    --------
    >>> MultiHeadAttention(16, 4)(torch.zeros(2, 3, 16), torch.zeros(2, 5, 16)).shape
    torch.Size([2, 3, 16])
    """

    def __init__(self, dim: int, n_heads: int, dropout: float = 0.1) -> None:
        super().__init__()
        if dim % n_heads:
            raise ValueError(f"dim {dim} is not divisible by n_heads {n_heads}")
        self.n_heads = n_heads
        self.dropout = dropout
        self.query, self.key, self.value, self.out = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """Tokens of ``x`` attend to tokens of ``context`` (pass ``x`` itself for self-attention)."""
        dropout = self.dropout if self.training else 0.0
        attended = attend(self.query(x), self.key(context), self.value(context), self.n_heads, dropout)
        return self.out(attended)


class TransformerBlock(nn.Module):
    """Pre-norm transformer encoder layer: self-attention then a feed-forward sublayer.

    Parameters
    ----------
    dim : int
        Model width.
    n_heads : int
        Attention heads.
    ff_dim : int
        Hidden width of the feed-forward sublayer.
    dropout : float
        Dropout on attention weights and on each sublayer's output.

    Examples
    --------
    >>> TransformerBlock(16, 4, 32)(torch.zeros(2, 3, 16)).shape
    torch.Size([2, 3, 16])
    """

    def __init__(self, dim: int, n_heads: int, ff_dim: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.attention_norm = nn.LayerNorm(dim)
        self.attention = MultiHeadAttention(dim, n_heads, dropout)
        self.feed_forward = nn.Sequential(
            nn.LayerNorm(dim), nn.Linear(dim, ff_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(ff_dim, dim)
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        normed = self.attention_norm(x)
        x = x + self.dropout(self.attention(normed, normed))
        return x + self.dropout(self.feed_forward(x))
