"""A spectral sequence network for any EEG derivation, any recording length and damaged spectra.

The shipped ``spectral-bigru`` standardises every spectral-v1 feature over the whole recording. That
assumes a ~22-h Sleep-EDF night of one montage: a 30-min recording of sleep loses its stage mix to
the standardisation, another derivation is another feature distribution, and a 50-Hz file (no
power above 25 Hz) or chin-muscle artefact (30-50 Hz) moves the gamma power and Hjorth mobility
far outside anything seen in training, which the network reads as wake.

``spectral-robust`` changes what the network is given:

- **Relative features.** Per channel, the delta, theta, alpha, beta and gamma log powers relative
  to the channel's low-frequency level (the mean of the delta, theta and alpha log powers), that
  level itself and the log Hjorth mobility. Relative powers do not change with amplifier gain or
  electrode distance. The variance is dropped. Gamma and mobility are what a 50-Hz sampling rate,
  line noise and muscle artefacts destroy, but they are also what wake looks like in every
  derivation (without them another derivation's wake was scored as sleep), so they are kept
  (``high_frequency``, the default) and their damage is taught by augmentation
  (``montage_augment`` in :mod:`sleepscore.training.augment`). Augmentation alone still let
  muscle turn sleep into confident wake, so each shipped ensemble also holds one network built
  with ``high_frequency=False``: averaged with it, the two that read muscle as wake are never
  confident (``models/levers.md``, 2026-12-06).
- **Shrunk per-recording centring.** Every trusted feature is given twice: standardised with the
  training population's statistics, and centred on the recording's own mean shrunk toward the
  population mean, ``c = (sum_t v_t + k * mu) / (n + k)`` with ``k`` epochs of prior weight. A
  22-h night is centred on itself as before; a 10-min nap is centred almost on the population, so
  it keeps its stage mix. The weight ``n / (n + k)`` is an input too, so the network knows which
  regime it is in.
- **Calibration inside the graph.** Logits are divided by a temperature fitted on held-out nights
  (:meth:`set_temperature`), so ``confidence`` means what it says.
- **Muscle gate** (``muscle_gate``). Strong 30-50 Hz muscle makes an N2 epoch's gamma look like
  wake's, and the networks that read gamma then call it wake (on damaged real features the
  gamma-blind network keeps its kappa where the others lose a third of theirs). So a network that
  reads gamma also says, per epoch, how far the gamma lies above what the epoch's own lower bands
  predict (a linear fit on the training epochs); an ensemble (:class:`sleepscore.nets.ProbabilityAverage`)
  weighs such a network down by that excess, leaving a gated epoch to the gamma-blind networks.
  Real muscle and wake raise beta with gamma, so the fit follows them and the gate stays open.
- **Missing-gamma gate** (``missing_gamma_gate``). The reverse: a file sampled at 50 Hz has no
  30-50 Hz content at all (a 35-Hz low-pass keeps about 0.4 of it). The gamma-reading networks
  were taught that damage, yet on real features with the gamma removed they lost most of their
  kappa on 30-min recordings, where the gamma-blind network was unmoved. So where an epoch's
  gamma lies further *below* its fit than 99 % of the training epochs reach, such a network is
  weighed down, to ``missing_gamma_weight`` one residual SD further. Not to nothing: on a
  derivation it was not trained on, the gamma-blind network alone was confidently wrong
  (``models/levers.md``).
- **Distance to training.** :meth:`input_distance` is the per-epoch distance of the relative powers
  to the nearest stage's training distribution, exported as a second ONNX output; the CLI warns
  when a recording has many epochs beyond what 99 % of training epochs reach. A gamma the
  missing-gamma gate finds missing is left out of it (a 50-Hz file is not unlike the training
  data in what it has).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..stages import FEATURE_SET, FEATURES_PER_CHANNEL, N_STAGES
from . import Architecture, register
from .spectral import LogPowerUnsquash, TransitionSmoothing

_N_BASE = len(FEATURES_PER_CHANNEL)
# spectral-v1 columns of one channel: delta, theta, alpha, beta, gamma log powers, two ratios, log
# variance, Hjorth mobility.
_BANDS = (0, 1, 2, 3)
_LEVEL_BANDS = (0, 1, 2)
_GAMMA, _LOG_VAR, _MOBILITY = 4, 7, 8
# What the gates' line predicts the relative gamma from, with the level and a constant: the
# relative delta, theta and beta. Not alpha: the three level bands' relative powers sum to 0, so
# with all three least squares has no unique answer, and LAPACK's gelsy then returned a worse one
# (residual SD up to 1.14 against 1.01) that changed from run to run.
_GAMMA_PREDICTOR_BANDS = (0, 1, 3)
# Standardised values beyond this are artefacts (a flat channel gives log powers of ln 1e-16).
_CLIP = 8.0
#: Default weight a gamma-reading network keeps in an ensemble where its epoch's gamma is missing
#: (``missing_gamma_gate``; ``missing_gamma_weight`` sets another). Of 0, 0.25 and 0.5, measured on
#: real features with the gamma removed (``models/levers.md``), 0.5 lost kappa nowhere on the
#: first fold networks it was measured on; the single-EEG model now uses 0.25, which scored those
#: networks and a second draw of them alike, where 0.5 did not.
MISSING_GAMMA_WEIGHT = 0.5


class TrustedSpectralInputs(nn.Module):
    """spectral-v1 features → population-standardised and shrunk-recording-centred trusted features.

    Parameters
    ----------
    n_channels : int
        EEG channels in the input (9 spectral-v1 columns each).
    shrinkage_epochs : float
        Prior weight ``k`` of the population mean, in epochs (120 = 1 h).
    high_frequency : bool
        Also give the relative gamma power and the log Hjorth mobility (both read the 30-50 Hz
        content that 50-Hz files lack and muscle inflates; training augments both damages).

    stage_centring : bool
        Fit per-stage means of every trusted feature, for ``forward(x, probs)``.
    muscle_gate : bool
        Fit the gamma each epoch's lower bands predict, for :meth:`gamma_excess` (needs
        ``high_frequency``).
    missing_gamma_gate : bool
        The same fit, for :meth:`gamma_missing` (needs ``high_frequency``).
    missing_gamma_weight : float
        The weight left to this network in an ensemble where its gamma is wholly missing (see
        :meth:`gates`).

    Given stage probabilities (``forward(x, probs)``), the recording's offset from the population
    is measured against the population mean *of each epoch's expected stage* rather than against
    the population's overall mean, so that a recording's stage mix (22 h mostly wake, a 30-min
    nap all sleep) no longer moves its centre; only what is left, the derivation's and the
    subject's own offset, is removed.
    """

    def __init__(self, n_channels: int, shrinkage_epochs: float = 120.0,
                 high_frequency: bool = False, stage_centring: bool = False,
                 muscle_gate: bool = False, missing_gamma_gate: bool = False,
                 missing_gamma_weight: float = MISSING_GAMMA_WEIGHT) -> None:
        super().__init__()
        self.n_channels = n_channels
        self.unsquash = LogPowerUnsquash(_N_BASE * n_channels)
        self.bands = (*_BANDS, _GAMMA) if high_frequency else _BANDS
        self.high_frequency = high_frequency
        self.per_channel = len(self.bands) + 1 + int(high_frequency)
        width = self.per_channel * n_channels
        self.shrinkage_epochs = shrinkage_epochs
        # Persistent: fitted on the training nights and part of the exported graph.
        self.register_buffer("population_mean", torch.zeros(width, dtype=torch.float64))
        self.register_buffer("population_sd", torch.ones(width, dtype=torch.float64))
        self.register_buffer("stage_mean", torch.zeros(N_STAGES, len(self.bands) * n_channels, dtype=torch.float64))
        self.register_buffer("stage_sd", torch.ones(N_STAGES, len(self.bands) * n_channels, dtype=torch.float64))
        # Only where used: the shipped models' checkpoints and graphs predate it.
        if stage_centring:
            self.register_buffer("stage_trusted_mean", torch.zeros(N_STAGES, width, dtype=torch.float64))
        else:
            self.stage_trusted_mean = None
        self.register_buffer("distance_threshold", torch.tensor(np.inf, dtype=torch.float64))
        # Per channel, the relative gamma's linear fit on _GAMMA_PREDICTOR_BANDS and the level
        # (coefficients, then the intercept), the residuals' SD, and the residual z that 99 % of
        # the training epochs stay within, above and below. Only where asked: older checkpoints
        # lack them.
        self.muscle_gate = muscle_gate and high_frequency
        self.missing_gamma_gate = missing_gamma_gate and high_frequency
        self.missing_gamma_weight = float(missing_gamma_weight)
        if self.muscle_gate or self.missing_gamma_gate:
            self.register_buffer("gamma_fit", torch.zeros(n_channels, len(_GAMMA_PREDICTOR_BANDS) + 2,
                                                         dtype=torch.float64))
            self.register_buffer("gamma_residual_sd", torch.ones(n_channels, dtype=torch.float64))
        if self.muscle_gate:
            self.register_buffer("gamma_excess_threshold", torch.tensor(np.inf, dtype=torch.float64))
        if self.missing_gamma_gate:
            self.register_buffer("gamma_missing_threshold", torch.tensor(-np.inf, dtype=torch.float64))

    @property
    def out_features(self) -> int:
        return 2 * self.per_channel * self.n_channels + 1

    def trusted(self, x: torch.Tensor) -> torch.Tensor:
        """``[batch, seq, per_channel * n_channels]`` float64: relative band powers, levels
        (and log mobilities)."""
        log_power = self.unsquash(x.double())
        blocks = log_power.unflatten(-1, (self.n_channels, _N_BASE))
        level = blocks[..., list(_LEVEL_BANDS)].mean(dim=-1, keepdim=True)
        parts = [(blocks[..., list(self.bands)] - level).flatten(-2), level.flatten(-2)]
        if self.high_frequency:
            parts.append(blocks[..., _MOBILITY].clamp_min(1e-6).log())
        return torch.cat(parts, dim=-1)

    @torch.no_grad()
    def fit_population(self, nights_x: list[np.ndarray], nights_y: list[np.ndarray],
                       population: list[np.ndarray]) -> None:
        """Population and per-stage statistics of the trusted features of the training nights.

        Parameters
        ----------
        nights_x, nights_y : list of np.ndarray
            Each night's spectral-v1 features ``[n_epochs, 9 * n_channels]`` and stage codes.
        population : list of np.ndarray
            Per night, bool ``[n_epochs]``: the epochs the statistics are fitted on, all of them
            scored. The training loop gives the scored epochs of the sleep periods (30 min around
            the first and last sleep epoch, :func:`sleepscore.training.loop.fit_population`),
            what a clinical recording holds, so that a short recording is shrunk toward a typical
            night rather than toward the long wake of a 22-h Sleep-EDF day.
        """
        values, labels = [], []
        for x, y, keep in zip(nights_x, nights_y, population):
            values.append(self.trusted(torch.from_numpy(np.asarray(x, dtype=np.float32))[None])[0][keep])
            labels.append(torch.from_numpy(y[keep]))
        v, y = torch.cat(values), torch.cat(labels)
        self.population_mean.copy_(v.mean(dim=0))
        self.population_sd.copy_(v.std(dim=0).clamp_min(1e-3))
        relative = self._relative_z(v)
        for stage in range(N_STAGES):
            members = relative[y == stage]
            if len(members) > 1:
                self.stage_mean[stage] = members.mean(dim=0)
                self.stage_sd[stage] = members.std(dim=0).clamp_min(1e-3)
            if self.stage_trusted_mean is not None:
                # A stage missing from the training nights expects the population mean.
                self.stage_trusted_mean[stage] = (v[y == stage].mean(dim=0) if (y == stage).any()
                                                  else self.population_mean)
        self.distance_threshold.fill_(torch.quantile(self._distance(v), 0.99).item())
        if self.muscle_gate or self.missing_gamma_gate:
            self.fit_gamma_gates(v)

    @torch.no_grad()
    def fit_gamma_gates(self, trusted: torch.Tensor) -> None:
        """Fit :meth:`gamma_excess` and :meth:`gamma_missing` on training epochs' trusted
        features ``[n, width]``."""
        predictors, gamma = self._gamma_predictors(trusted), self._relative_gamma(trusted)
        for channel in range(self.n_channels):
            fit = torch.linalg.lstsq(predictors[:, channel], gamma[:, channel, None]).solution[:, 0]
            self.gamma_fit[channel] = fit
            self.gamma_residual_sd[channel] = (gamma[:, channel] - predictors[:, channel] @ fit).std()
        z = self._gamma_z(trusted)
        if self.muscle_gate:
            self.gamma_excess_threshold.fill_(torch.quantile(z.amax(dim=-1), 0.99).item())
        if self.missing_gamma_gate:
            self.gamma_missing_threshold.fill_(torch.quantile(z.amin(dim=-1), 0.01).item())

    def _relative_z(self, trusted: torch.Tensor) -> torch.Tensor:
        width = len(self.bands) * self.n_channels
        return ((trusted - self.population_mean) / self.population_sd)[..., :width]

    def _relative_gamma(self, trusted: torch.Tensor) -> torch.Tensor:
        """``[..., n_channels]`` gamma power relative to the level."""
        return trusted[..., :len(self.bands) * self.n_channels].unflatten(-1, (self.n_channels, -1))[..., -1]

    def _gamma_predictors(self, trusted: torch.Tensor) -> torch.Tensor:
        """``[..., n_channels, 5]``: the relative delta, theta and beta powers, the level and a
        constant."""
        relative = trusted[..., :len(self.bands) * self.n_channels].unflatten(-1, (self.n_channels, -1))
        level_start = len(self.bands) * self.n_channels
        level = trusted[..., level_start:level_start + self.n_channels, None]
        # level * 0 + 1, not ones_like: the exporter would freeze the tracing example's shape.
        return torch.cat([relative[..., list(_GAMMA_PREDICTOR_BANDS)], level, level * 0 + 1], dim=-1)

    def _gamma_z(self, trusted: torch.Tensor) -> torch.Tensor:
        """``[..., n_channels]``: each channel's gamma above its fit, in residual SDs."""
        predicted = (self._gamma_predictors(trusted) * self.gamma_fit).sum(dim=-1)
        return (self._relative_gamma(trusted) - predicted) / self.gamma_residual_sd

    def gamma_excess(self, x: torch.Tensor) -> torch.Tensor:
        """``[batch, seq]`` in [0, 1]: 0 while an epoch's gamma is within what 99 % of the training
        epochs reach above their fit (in its largest channel), rising to 1 one residual SD beyond
        (see ``muscle_gate``)."""
        return self._excess(self._gamma_z(self.trusted(x)))

    def gamma_missing(self, x: torch.Tensor) -> torch.Tensor:
        """``[batch, seq]`` in [0, 1]: 0 while an epoch's gamma is within what 99 % of the training
        epochs reach below their fit (in its smallest channel), rising to 1 one residual SD beyond
        (see ``missing_gamma_gate``)."""
        return self._missing(self._gamma_z(self.trusted(x)))

    def gates(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[batch, seq]`` each: the weight, one minus the gamma excess (``muscle_gate``) times
        one minus ``1 - missing_gamma_weight`` of the missing gamma (``missing_gamma_gate``), and
        that missing gamma (0 without the gate); the trusted features and residuals are computed
        once for both gates."""
        z = self._gamma_z(self.trusted(x))
        weight = z[..., 0].float() * 0 + 1
        missing = weight * 0
        if self.muscle_gate:
            weight = weight * (1 - self._excess(z))
        if self.missing_gamma_gate:
            missing = self._missing(z)
            weight = weight * (1 - (1 - self.missing_gamma_weight) * missing)
        return weight, missing

    def _excess(self, z: torch.Tensor) -> torch.Tensor:
        return (z.amax(dim=-1) - self.gamma_excess_threshold).clamp(0, 1).float()

    def _missing(self, z: torch.Tensor) -> torch.Tensor:
        return (self.gamma_missing_threshold - z.amin(dim=-1)).clamp(0, 1).float()

    def forward(self, x: torch.Tensor, probs: torch.Tensor | None = None) -> torch.Tensor:
        """Network inputs of ``x`` ``[batch, seq, 9 * n_channels]``; with ``probs``
        ``[batch, seq, 5]`` (a first pass's stage probabilities), stage-mix-adapted centring."""
        v = self.trusted(x)
        # The length as a tensor, not v.shape[1]: a Python int would be frozen into the exported
        # graph at the length of the tracing example.
        ones = v[..., :1] * 0 + 1
        n = ones.sum(dim=1, keepdim=True)
        k = self.shrinkage_epochs
        expected = self.population_mean if probs is None else probs.double() @ self.stage_trusted_mean
        # Shrunk toward no offset with k epochs of prior weight: (sum_t (v_t - e_t)) / (n + k).
        offset = (v - expected).sum(dim=1, keepdim=True) / (n + k)
        population_z = (v - self.population_mean) / self.population_sd
        recording_z = (v - self.population_mean - offset) / self.population_sd
        weight = ones * (n / (n + k))
        out = torch.cat([population_z, recording_z], dim=-1).clamp(-_CLIP, _CLIP)
        return torch.cat([out, weight], dim=-1).float()

    def _distance(self, trusted: torch.Tensor) -> torch.Tensor:
        z = (self._relative_z(trusted).unsqueeze(-2) - self.stage_mean) / self.stage_sd
        weight = self._band_weight(trusted).unsqueeze(-2)
        return ((z.pow(2) * weight).sum(dim=-1) / weight.sum(dim=-1)).sqrt().amin(dim=-1)

    def _band_weight(self, trusted: torch.Tensor) -> torch.Tensor:
        """``[..., width]`` weight of each relative power in :meth:`distance`: 1, but a channel's
        gamma missing as ``missing_gamma_gate`` measures it weighs as much less. A file sampled
        at 50 Hz has no gamma at all: that is reported by its sampling rate and handled by the
        gate, and counted here it made every epoch of every such file unlike the training data."""
        ones = self._relative_gamma(trusted) * 0 + 1
        gamma = ones
        if self.missing_gamma_gate:
            # Per channel, unlike _missing: one channel's missing gamma says nothing of another's.
            gamma = 1 - (self.gamma_missing_threshold - self._gamma_z(trusted)).clamp(0, 1)
        # Broadcast against a constant, not expand(): the exporter would freeze the traced shape.
        others = ones.unsqueeze(-1) * ones.new_ones(len(self.bands) - 1)
        return torch.cat([others, gamma.unsqueeze(-1)], dim=-1).flatten(-2)

    def distance(self, x: torch.Tensor) -> torch.Tensor:
        """Per-epoch RMS z-distance of the relative powers to the nearest stage's training mean."""
        return self._distance(self.trusted(x)).float()


class SpectralRobustGRU(nn.Module):
    """Bidirectional GRU over :class:`TrustedSpectralInputs`, with transition smoothing and a temperature.

    Parameters
    ----------
    n_features : int
        Input width: 9 spectral-v1 columns per EEG channel.
    hidden, layers, dropout
        GRU size and regularisation.
    shrinkage_epochs : float
        See :class:`TrustedSpectralInputs`.
    transition_prior : array-like, optional
        ``[5, 5]`` stage-transition probabilities for a :class:`TransitionSmoothing` layer.
    adapt_passes : int
        Extra passes that recentre the recording on its stage mix as the previous pass predicted
        it (:class:`TrustedSpectralInputs` with ``probs``); 0 centres on the plain recording mean.
    muscle_gate, missing_gamma_gate : bool
        Report :meth:`trust`, lowered where the gamma exceeds (falls short of) what the lower bands
        predict (see :meth:`TrustedSpectralInputs.gamma_excess` and
        :meth:`~TrustedSpectralInputs.gamma_missing`); a network without ``high_frequency`` trusts
        every epoch.
    missing_gamma_weight : float
        See :class:`TrustedSpectralInputs`.

    Examples
    --------
    >>> net = SpectralRobustGRU(9)
    >>> net(torch.randn(1, 40, 9) - 25).shape
    torch.Size([1, 40, 5])
    """

    def __init__(self, n_features: int, hidden: int = 64, layers: int = 2, dropout: float = 0.2,
                 shrinkage_epochs: float = 120.0, high_frequency: bool = True,
                 transition_prior: list[list[float]] | None = None, adapt_passes: int = 0,
                 muscle_gate: bool = False, missing_gamma_gate: bool = False,
                 missing_gamma_weight: float = MISSING_GAMMA_WEIGHT) -> None:
        super().__init__()
        self.adapt_passes = adapt_passes
        if n_features % _N_BASE:
            raise ValueError(f"{n_features} input columns are not whole spectral-v1 channels")
        self.inputs = TrustedSpectralInputs(n_features // _N_BASE, shrinkage_epochs, high_frequency,
                                            stage_centring=adapt_passes > 0, muscle_gate=muscle_gate,
                                            missing_gamma_gate=missing_gamma_gate,
                                            missing_gamma_weight=missing_gamma_weight)
        self.project = nn.Sequential(nn.Linear(self.inputs.out_features, hidden), nn.GELU(),
                                     nn.Dropout(dropout))
        self.gru = nn.GRU(hidden, hidden, num_layers=layers, batch_first=True, bidirectional=True,
                          dropout=dropout if layers > 1 else 0.0)
        self.classify = nn.Linear(2 * hidden, N_STAGES)
        self.smooth = TransitionSmoothing(transition_prior) if transition_prior is not None else nn.Identity()
        self.register_buffer("temperature", torch.ones(()))

    def fit_population(self, nights_x: list[np.ndarray], nights_y: list[np.ndarray],
                       population: list[np.ndarray]) -> None:
        """Fit the input statistics on the ``population`` epochs of the training nights (see
        :meth:`TrustedSpectralInputs.fit_population`; the loop calls this before training)."""
        self.inputs.fit_population(nights_x, nights_y, population)

    def set_temperature(self, temperature: float) -> None:
        """Divide the logits by ``temperature`` (fitted on held-out nights) from now on."""
        self.temperature.fill_(float(temperature))

    def per_recording(self, x: torch.Tensor) -> torch.Tensor:
        """The part that needs the whole recording: trusted features and their centring (after
        ``adapt_passes`` passes that predict the stage mix it is centred on)."""
        inputs = self.inputs(x)
        for _ in range(self.adapt_passes):
            with torch.no_grad():
                probs = torch.softmax(self.per_window(inputs), dim=-1)
            inputs = self.inputs(x, probs)
        return inputs

    def per_window(self, x: torch.Tensor) -> torch.Tensor:
        hidden, _ = self.gru(self.project(x))
        return self.smooth(self.classify(hidden)) / self.temperature

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.per_window(self.per_recording(x))

    @property
    def gates_gamma(self) -> bool:
        """Whether :meth:`trust` can fall below 1 (a network that reads gamma, with a gate)."""
        return self.inputs.muscle_gate or self.inputs.missing_gamma_gate

    def trust(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[batch, seq]`` each: the weight of this network's probabilities in an ensemble (1,
        times one minus the gamma excess (``muscle_gate``) and one minus the missing gamma
        (``missing_gamma_gate``), for a network that reads gamma), and the missing gamma it saw
        (0 without that gate)."""
        if not self.gates_gamma:
            ones = x[..., 0].float() * 0 + 1
            return ones, ones * 0
        weight, missing = self.inputs.gates(x)
        # Never exactly 0: an ensemble whose networks all read gamma still divides by their sum.
        return weight.clamp_min(1e-3), missing

    def input_distance(self, x: torch.Tensor) -> torch.Tensor:
        """``[batch, seq]`` distance of each epoch to the training data (see :class:`TrustedSpectralInputs`)."""
        return self.inputs.distance(x)

    @property
    def distance_threshold(self) -> float:
        """The :meth:`input_distance` that 99 % of the training epochs stay within."""
        return float(self.inputs.distance_threshold)


def build_spectral_robust(n_channels: int, hidden: int = 64, layers: int = 2, dropout: float = 0.2,
                          shrinkage_epochs: float = 120.0, high_frequency: bool = True,
                          transition_prior: list[list[float]] | None = None,
                          adapt_passes: int = 0, muscle_gate: bool = False,
                          missing_gamma_gate: bool = False,
                          missing_gamma_weight: float = MISSING_GAMMA_WEIGHT) -> SpectralRobustGRU:
    """:class:`SpectralRobustGRU` for ``n_channels`` EEG channels of ``spectral-v1`` features."""
    return SpectralRobustGRU(_N_BASE * n_channels, hidden=hidden, layers=layers, dropout=dropout,
                             shrinkage_epochs=shrinkage_epochs, high_frequency=high_frequency,
                             transition_prior=transition_prior, adapt_passes=adapt_passes,
                             muscle_gate=muscle_gate, missing_gamma_gate=missing_gamma_gate,
                             missing_gamma_weight=missing_gamma_weight)


register(Architecture("spectral-robust", build_spectral_robust, input_kind="features",
                      feature_set=FEATURE_SET))
