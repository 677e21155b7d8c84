"""Sequence networks over per-epoch ``spectral-v1`` features of a whole night.

The input is the unnormalised feature matrix of the recording (``[batch, seq, 9 * n_channels]``),
exactly as :func:`sleepscore.features.spectral_features` returns it, so the per-recording
standardisation lives inside the network and therefore inside the exported ONNX graph.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..stages import FEATURE_SET, FEATURES_PER_CHANNEL, LOG_OFFSET, N_STAGES
from . import Architecture, register

_N_BASE = len(FEATURES_PER_CHANNEL)
# Columns of one channel's block that are ln(power + 1e-10): the 5 band powers and the variance.
_LOG_POWER_COLUMNS = (0, 1, 2, 3, 4, 7)
_LOG_VAR, _MOBILITY = 7, 8
# The extractor's epsilon (LOG_OFFSET): log powers are ln(P + 1e-10) and ratios divide by
# (log + 1e-10). EEG powers in V^2/Hz are ~1e-13..1e-10, so it squashes the log powers towards
# ln(1e-10).
# Smallest power kept when the epsilon is subtracted again; float32 inputs resolve ~2e-16 there.
_MIN_POWER = 1e-16


class LogPowerUnsquash(nn.Module):
    """Undo the extractor's epsilon: log powers become ``ln P``, Hjorth mobility ``sqrt(var(diff) / var)``.

    The features' ``ln(P + 1e-10)`` is nearly flat for the beta and gamma powers of real EEG
    (P ~ 1e-13 V^2/Hz) and the variance in the mobility's denominator is of the order of the
    epsilon too, so a gain change of the signal is not a shift of these features. With
    ``P = max(exp(f) - 1e-10, 1e-16)`` they spread out, any gain becomes an additive shift of the
    log powers (removed by standardisation) and the mobility no longer depends on it.
    """

    def __init__(self, n_features: int) -> None:
        super().__init__()
        column = np.arange(n_features) % _N_BASE
        block_start = np.arange(n_features) - column
        self.register_buffer("log_power", torch.from_numpy(np.isin(column, _LOG_POWER_COLUMNS)),
                             persistent=False)
        self.register_buffer("mobility", torch.from_numpy(column == _MOBILITY), persistent=False)
        self.register_buffer("variance_of", torch.from_numpy(block_start + _LOG_VAR), persistent=False)
        self.register_buffer("floor", torch.tensor(_MIN_POWER, dtype=torch.float64), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        wide = x.double()
        squashed_power = wide.exp()
        power = torch.maximum(squashed_power - LOG_OFFSET, self.floor)
        variance = power.index_select(-1, self.variance_of)
        mobility = wide * (squashed_power.index_select(-1, self.variance_of) / variance).sqrt()
        out = torch.where(self.log_power, power.log(), wide)
        return torch.where(self.mobility, mobility, out).to(x.dtype)


class RecordingStandardise(nn.Module):
    """Standardise every feature over the whole recording (the sequence axis).

    Removes between-subject and between-montage offsets (electrode impedance, amplifier gain)
    that the spectral features carry, so the network sees how each night varies around itself.
    """

    def __init__(self, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # In float64: some features (the log-power ratios) vary by ~1e-3 around ~1, where float32
        # sums over a 2800-epoch night lose digits and torch and onnxruntime, which sum in
        # different orders, would disagree by ~1e-2 after the division.
        wide = x.double()
        mean = wide.mean(dim=1, keepdim=True)
        std = (wide - mean).pow(2).mean(dim=1, keepdim=True).add(self.eps).sqrt()
        return ((wide - mean) / std).to(x.dtype)


class TransitionSmoothing(nn.Module):
    """Mean-field smoothing of per-epoch logits with a stage-transition prior (a CRF-like layer).

    Each iteration adds to every epoch's logits the expected log-transition score from its
    neighbours' current beliefs, ``w * (q[t-1] @ log T + q[t+1] @ log T.T)``, with ``T`` fixed
    (learnt from real hypnograms) and the weight ``w`` trained. It is a fixed number of tensor
    operations, so it exports to ONNX with a dynamic sequence length, unlike a Viterbi loop.

    Parameters
    ----------
    transition : array-like
        ``[5, 5]`` probabilities of the next stage given the current one (rows sum to 1).
    iterations : int
        Mean-field updates.
    """

    def __init__(self, transition: list[list[float]] | np.ndarray, iterations: int = 3) -> None:
        super().__init__()
        log_transition = torch.log(torch.as_tensor(np.asarray(transition), dtype=torch.float32))
        self.register_buffer("log_transition", log_transition - log_transition.mean(), persistent=False)
        self.weight = nn.Parameter(torch.tensor(0.1))
        self.iterations = iterations

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        smoothed = logits
        for _ in range(self.iterations):
            beliefs = smoothed.softmax(dim=-1)
            # Zero beliefs beyond the ends of the sequence: the first and last epochs get one message.
            previous = nn.functional.pad(beliefs[:, :-1], (0, 0, 1, 0))
            following = nn.functional.pad(beliefs[:, 1:], (0, 0, 0, 1))
            messages = previous @ self.log_transition + following @ self.log_transition.T
            smoothed = logits + self.weight * messages
        return smoothed


class SpectralBiGRU(nn.Module):
    """Bidirectional GRU over the whole night's standardised spectral features.

    Parameters
    ----------
    n_features : int
        Input width (9 per EEG channel for ``spectral-v1``).
    hidden : int
        GRU units per direction.
    layers : int
        Stacked GRU layers.
    dropout : float
        Dropout on the input projection and between GRU layers (training only).
    unsquash : bool
        Map log powers back to ``ln P`` first (:class:`LogPowerUnsquash`).
    standardise : bool
        Standardise each feature over the recording (:class:`RecordingStandardise`); off only
        to measure what it gives.
    transition_prior : array-like, optional
        ``[5, 5]`` stage-transition probabilities; adds a :class:`TransitionSmoothing` layer.

    Examples
    --------
    >>> net = SpectralBiGRU(18)
    >>> net(torch.randn(2, 100, 18)).shape
    torch.Size([2, 100, 5])
    """

    def __init__(self, n_features: int, hidden: int = 64, layers: int = 2, dropout: float = 0.2,
                 unsquash: bool = True, standardise: bool = True,
                 transition_prior: list[list[float]] | None = None) -> None:
        super().__init__()
        self.unsquash = LogPowerUnsquash(n_features) if unsquash else nn.Identity()
        self.standardise = RecordingStandardise() if standardise else nn.Identity()
        self.project = nn.Sequential(nn.Linear(n_features, hidden), nn.GELU(), nn.Dropout(dropout))
        self.gru = nn.GRU(hidden, hidden, num_layers=layers, batch_first=True, bidirectional=True,
                          dropout=dropout if layers > 1 else 0.0)
        self.classify = nn.Linear(2 * hidden, N_STAGES)
        self.smooth = TransitionSmoothing(transition_prior) if transition_prior is not None else nn.Identity()

    def per_recording(self, x: torch.Tensor) -> torch.Tensor:
        """The part that needs the whole night: per-recording standardisation (no parameters)."""
        return self.standardise(self.unsquash(x))

    def per_window(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[batch, seq, 5]`` of standardised features; any window length works."""
        hidden, _ = self.gru(self.project(x))
        return self.smooth(self.classify(hidden))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.per_window(self.per_recording(x))


def build_spectral_bigru(n_channels: int, hidden: int = 64, layers: int = 2, dropout: float = 0.2,
                         unsquash: bool = True, standardise: bool = True,
                         transition_prior: list[list[float]] | None = None) -> SpectralBiGRU:
    """:class:`SpectralBiGRU` for ``n_channels`` EEG channels of ``spectral-v1`` features."""
    return SpectralBiGRU(_N_BASE * n_channels, hidden=hidden, layers=layers, dropout=dropout,
                         unsquash=unsquash, standardise=standardise,
                         transition_prior=transition_prior)


register(Architecture("spectral-bigru", build_spectral_bigru, input_kind="features",
                      feature_set=FEATURE_SET))
