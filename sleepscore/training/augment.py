"""Augmentations of a training night's numpy input, one per architecture that has one.

Each is ``augment(x, rng) -> x`` on a whole night (``[n_epochs, ...]``), applied by the training
loop before ``per_recording`` on every training pass (``TrainConfig.augment``); the architecture's
recipe (:mod:`sleepscore.training.recipes`) names which one it uses.

- :func:`spectral_augment` (``spectral-bigru``): amplitude change and feature noise.
- :func:`montage_augment` (``spectral-robust``): the same night recorded another way (gains,
  spectral tilt, 50-Hz sampling, muscle artefact).
- :func:`shift_signal` (``tinysleepnet``): the paper's signal augmentation, a time shift.

:func:`mix_derivations` is not an architecture's: the training loop applies it first, to any
one-channel recording cut from a multi-channel night, when ``TrainConfig.derivation_mixing`` asks.

The feature augmentations recompute the spectral-v1 features as the extractor
(:mod:`sleepscore.features`) would from the changed powers.
"""

from __future__ import annotations

import numpy as np

from ..stages import FEATURES_PER_CHANNEL, LOG_OFFSET

_N_BASE = len(FEATURES_PER_CHANNEL)
# spectral-v1 columns of one channel: delta, theta, alpha, beta, gamma log powers, two ratios, log
# variance, Hjorth mobility.
_DELTA, _THETA, _ALPHA, _THETA_ALPHA, _ALPHA_DELTA, _LOG_VAR, _MOBILITY = 0, 1, 2, 5, 6, 7, 8
# The paper's B_sig: shifts are drawn from ±10 % of an epoch.
MAX_SHIFT_FRACTION = 0.1
#: A 50-Hz file's gamma power as a share of the recorded one: none, but the features' logarithm
#: needs a positive power.
GAMMA_KEPT_AT_50_HZ = 1e-6
#: A 50-Hz file's beta power as a share of the recorded one (what lies below 25 Hz).
BETA_KEPT_AT_50_HZ = 0.8


def spectral_augment(x: np.ndarray, rng: np.random.Generator, max_gain: float = 2.0,
                     noise: float = 0.1) -> np.ndarray:
    """Random amplitude change and feature noise for one night's ``spectral-v1`` features.

    A gain ``g`` applied to a channel's signal multiplies its band powers and variance by
    ``g**2``; their features ``ln(P + 1e-10)`` are recomputed from ``P = exp(f) - 1e-10``, the
    two ratio features from the new log powers and Hjorth mobility ``sqrt(var(diff) / (var +
    1e-10))`` from the scaled variances, as the extractor would. Gaussian noise of ``noise`` times each column's SD over the night is then added.

    Parameters
    ----------
    x : np.ndarray
        ``[n_epochs, 9 * n_channels]`` unnormalised features.
    rng : np.random.Generator
        Source of randomness (seeded by the training loop).
    max_gain : float
        Per-channel gain drawn log-uniformly from ``[1 / max_gain, max_gain]``.
    noise : float
        Noise SD relative to each column's SD over the night.

    Returns
    -------
    np.ndarray
        Augmented copy, same shape and dtype.
    """
    out = np.array(x, dtype=np.float64, copy=True)
    for start in range(0, out.shape[1], _N_BASE):
        block = out[:, start:start + _N_BASE]
        gain = max_gain ** rng.uniform(-1.0, 1.0)
        # Every band power scaled alike: set_band_powers scales both variances exactly.
        set_band_powers(block, gain**2 * band_powers(block))
    out += rng.normal(0.0, 1.0, out.shape) * noise * out.std(axis=0)
    return out.astype(x.dtype)


# Band edges of spectral-v1 (delta .. gamma) in Hz, for the band totals the augmentation rescales.
_EDGES_HZ = np.array([[0.5, 4], [4, 8], [8, 13], [13, 30], [30, 50]])
_WIDTH_HZ = _EDGES_HZ[:, 1] - _EDGES_HZ[:, 0]
_DIFF_GAIN = 4 * np.sin(np.pi * _EDGES_HZ.mean(axis=1) / 100.0) ** 2


def _band_total(power: np.ndarray, weight: np.ndarray | float = 1.0) -> np.ndarray:
    """Approximate (weighted) total power from the five band mean densities."""
    return (power * _WIDTH_HZ * weight).sum(axis=1)


def montage_augment(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Exact spectral-v1 features of the same night recorded another way.

    Per channel: an amplifier/electrode-distance gain (x1/2.5 to x2.5 in amplitude); band-wise
    gains and a spectral tilt, as another derivation or another lab's filters give (log-power SD
    0.25 per band, tilt SD 0.1 per band step); with probability 0.15 a 50-Hz recording's loss of
    beta above 25 Hz and of all gamma; with probability 0.35 chin-muscle (EMG) artefact, added to
    the power rather than multiplied, because muscle is a second source, not a change of gain: in
    a third of those recordings every epoch, otherwise a random share (up to half), each hit epoch
    gaining up to 1000x the recording's median gamma density in gamma and at most half of that
    density in beta (an EMG spectrum rises above ~20 Hz, so only the top of the beta band is
    reached). Powers are changed in ``P`` (``exp(f) - 1e-10``) and the features recomputed as the
    extractor would; the variance and Hjorth mobility move with the band powers' change,
    approximated from the five band densities.

    Parameters
    ----------
    x : np.ndarray
        ``[n_epochs, 9 * n_channels]`` unnormalised spectral-v1 features.
    rng : np.random.Generator
        Source of randomness.

    Returns
    -------
    np.ndarray
        Augmented copy, same shape and dtype.
    """
    out = np.array(x, dtype=np.float64, copy=True)
    n_epochs = len(out)
    band_step = np.arange(5) - 2.0
    for start in range(0, out.shape[1], _N_BASE):
        block = out[:, start:start + _N_BASE]
        power = band_powers(block)
        log_gain = (2 * np.log(2.5) * rng.uniform(-1, 1) + rng.normal(0, 0.25, 5)
                    + rng.normal(0, 0.1) * band_step)
        gain = np.exp(log_gain)[None, :].repeat(n_epochs, axis=0)
        if rng.random() < 0.15:  # sampled at 50 Hz: nothing above 25 Hz
            gain[:, 3] *= rng.uniform(0.6, 0.9)
            gain[:, 4] *= GAMMA_KEPT_AT_50_HZ
        new_power = gain * power
        if rng.random() < 0.35:
            share = 1.0 if rng.random() < 1 / 3 else rng.uniform(0, 0.5)
            hit = rng.random(n_epochs) < share
            gamma = np.median(new_power[:, 4]) * np.exp(rng.uniform(0, np.log(1000), hit.sum()))
            new_power[hit, 4] += gamma
            new_power[hit, 3] += gamma * rng.uniform(0, 0.5, hit.sum())
        set_band_powers(block, new_power)
    return out.astype(x.dtype)


def as_sampled_at_50_hz(x: np.ndarray, beta_kept: float = BETA_KEPT_AT_50_HZ) -> np.ndarray:
    """Spectral-v1 features of every channel as a file sampled at 50 Hz gives them.

    A 50-Hz file holds nothing above its 25-Hz Nyquist frequency: no 30-50 Hz (gamma) power, and
    beta (13-30 Hz) without its top; the other columns are recomputed as the extractor would.

    Parameters
    ----------
    x : np.ndarray
        ``[n_epochs, 9 * n_channels]`` unnormalised spectral-v1 features.
    beta_kept : float
        Share of the beta power left (0.8: a 1/f spectrum keeps about that much below 25 Hz).

    Returns
    -------
    np.ndarray
        Changed copy, same shape and dtype.
    """
    out = np.array(x, dtype=np.float64)
    for start in range(0, out.shape[1], _N_BASE):
        block = out[:, start:start + _N_BASE]
        power = band_powers(block)
        power[:, 3] *= beta_kept
        power[:, 4] *= GAMMA_KEPT_AT_50_HZ
        set_band_powers(block, power)
    return out.astype(x.dtype)


def band_powers(block: np.ndarray) -> np.ndarray:
    """``[n_epochs, 5]`` delta-gamma band power densities of one channel's spectral-v1 columns."""
    return np.maximum(np.exp(np.asarray(block[:, :5], dtype=np.float64)) - LOG_OFFSET, 0.0)


def set_band_powers(block: np.ndarray, new_power: np.ndarray) -> None:
    """Rewrite one channel's spectral-v1 columns (float64, in place) for new band powers.

    The log band powers and their two ratios are exact; the signal's variance and its first
    difference's variance move with the band powers' change, approximated from the five band
    densities, and the log variance and Hjorth mobility are recomputed from them with the
    extractor's epsilon, ``sqrt(var(diff) / (var + 1e-10))``. The epsilon matters: EEG in volts
    has a variance of the order of 1e-10 V^2, so the mobility column moves with the signal's gain.
    """
    power = band_powers(block)
    old_variance, old_diff_variance = _variances(block)
    variance = old_variance * _band_total(new_power) / np.maximum(_band_total(power), 1e-300)
    # The difference's variance: each band's power weighted by the first difference's gain
    # 4 sin^2(pi f / fs) at the band's centre.
    diff_variance = (old_diff_variance * _band_total(new_power, _DIFF_GAIN)
                     / np.maximum(_band_total(power, _DIFF_GAIN), 1e-300))
    _write_block(block, new_power, variance, diff_variance)


def _variances(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The signal's and its first difference's variance, from the log variance and mobility columns."""
    variance = np.maximum(np.exp(block[:, _LOG_VAR]) - LOG_OFFSET, 0.0)
    return variance, block[:, _MOBILITY] ** 2 * (variance + LOG_OFFSET)


def _write_block(block: np.ndarray, power: np.ndarray, variance: np.ndarray,
                 diff_variance: np.ndarray) -> None:
    """One channel's spectral-v1 columns as the extractor computes them from these quantities."""
    block[:, _MOBILITY] = np.sqrt(diff_variance / (variance + LOG_OFFSET))
    block[:, :5] = np.log(power + LOG_OFFSET)
    block[:, _THETA_ALPHA] = block[:, _THETA] / (block[:, _ALPHA] + LOG_OFFSET)
    block[:, _ALPHA_DELTA] = block[:, _ALPHA] / (block[:, _DELTA] + LOG_OFFSET)
    block[:, _LOG_VAR] = np.log(variance + LOG_OFFSET)


def mix_derivations(x: np.ndarray, other_derivations: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The recording as a virtual derivation between its own and another of the same night.

    A single-EEG model trained on Fpz-Cz and Pz-Oz alone sees two points of a continuum: a
    central or mastoid-referenced derivation (C4-M1, C3-M2) picks up frontal delta and eye
    movements as well as posterior alpha, each attenuated. So the recording is replaced by
    :func:`mixed_derivation` with one of ``other_derivations`` drawn at random and a share drawn
    uniformly from [0, 1].

    Parameters
    ----------
    x : np.ndarray
        One recording: ``[n_epochs, 9]`` spectral-v1 features of one channel or
        ``[n_epochs, 1, samples]`` raw epochs.
    other_derivations : np.ndarray
        The same epochs from the night's other derivations, ``[n_epochs, n_other, ...]`` (each
        ``[:, j]`` shaped like ``x``): :attr:`sleepscore.datasets.Night.other_derivations`.
    rng : np.random.Generator
        Source of the derivation and the share.

    Returns
    -------
    np.ndarray
        The mixed recording, shaped and typed like ``x``.
    """
    other = other_derivations[:, rng.integers(other_derivations.shape[1])]
    return mixed_derivation(x, other, rng.uniform())


def mixed_derivation(x: np.ndarray, other: np.ndarray, share: float) -> np.ndarray:
    """The virtual derivation ``sqrt(share) * a + sqrt(1 - share) * b`` of two derivations.

    Raw epochs are mixed exactly. For spectral-v1 features the band powers, the variance and the
    first difference's variance are mixed as ``share * P_a + (1 - share) * P_b``, which is exact
    when the two derivations are uncorrelated, and the other columns are recomputed from them as
    the extractor would.

    Parameters
    ----------
    x, other : np.ndarray
        The same epochs of two derivations: ``[n_epochs, 9]`` spectral-v1 features of one channel
        each, or raw epochs ``[n_epochs, 1, samples]``.
    share : float
        Share of ``x``'s power in the mixture, 0 to 1.

    Returns
    -------
    np.ndarray
        Shaped and typed like ``x``.

    Examples
    --------
    >>> a, b = np.full((2, 1, 4), 3.0), np.full((2, 1, 4), 4.0)
    >>> mixed_derivation(a, b, 0.36)[0, 0].tolist()   # 0.6 * 3 + 0.8 * 4
    [5.0, 5.0, 5.0, 5.0]
    """
    if x.ndim == 3:
        return (np.sqrt(share) * x + np.sqrt(1 - share) * other).astype(x.dtype)
    own, another = np.asarray(x, dtype=np.float64), np.asarray(other, dtype=np.float64)
    out = own.copy()
    mixed = [share * mine + (1 - share) * theirs
             for mine, theirs in zip((band_powers(own), *_variances(own)),
                                     (band_powers(another), *_variances(another)))]
    _write_block(out, *mixed)
    return out.astype(x.dtype)


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
