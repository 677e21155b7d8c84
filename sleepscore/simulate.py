"""Sleep-EDF-shaped simulated nights: real expert stage sequences, EEG with real per-stage spectra.

Each simulated night copies the stage sequence, length and clock times of one real Sleep-EDF
cassette night (the 153 expert scorings in ``shared/data/sleep-edf/hypnograms-sc78``), and writes

- ``SC4ssNE0-PSG.edf``: a plain EDF with the 7 signals, labels, rates, units, physical and
  digital ranges and 30-s records of the real files;
- ``SC4ssNEC-Hypnogram.edf``: an EDF+ annotation file with the expert's R&K texts
  (``Sleep stage W`` ... ``Sleep stage 4``, ``Sleep stage R``, ``Sleep stage ?``,
  ``Movement time``), running past the PSG's end as the real ones do.

How the EEG is made
-------------------
Per epoch and EEG channel, the five spectral-v1 band powers (Welch mean PSD in 0.5-4, 4-8, 8-13,
13-30, 30-50 Hz) and the variance are drawn per stage from a Gaussian copula fitted to the real
whole-night features in ``shared/data/sleep-edf/features`` (16 nights, subjects 0-7): real
per-stage marginals (quantiles), per-stage correlations, and a lag-1 correlation across epochs.
Each subject gets a level in normal-score units taking ``subject_spread**2`` of the real
between-night share of each dimension's variance (half the real spread by default, so that a
handful of nights already has the real per-stage means: a single real night's means lie within
0.5 sd of the pooled ones only about half the time), its own alpha and spindle frequencies and
event rates; its second night drifts a little from the first.

Coloured noise with a smooth spectrum through those band levels is summed with the events
scorers look for (alpha and blinks and muscle in wake, slow eye movements, theta and vertex waves
in N1, spindles and K-complexes in N2, slow waves in N3, rapid eye movements and sawtooth waves in
REM), then each band of the sum is rescaled in the Fourier domain until its Welch power is the
drawn one: the events stay visible above the background while every epoch keeps real per-stage
statistics. The EOG is frontal EEG plus the eye movements; the 1-Hz channels get breathing, a
stage-dependent EMG envelope (lowest in REM), a circadian rectal temperature and a marker level.

Epochs are synthesised independently (events never cross an epoch boundary), so the signal jumps
slightly at each 30-s boundary; the features, computed per epoch, never see it.

What the simulator takes from the real data (the 153 scorings with their PSG lengths, and the
fitted :class:`SpectralModel`) ships with the package in ``sleepscore/data/simulator.npz``
(under 200 KiB; Sleep-EDF is ODC-By 1.0, see ``sleepscore/data/README.md`` and
:data:`ATTRIBUTION`), so simulation needs nothing outside the package. ``make simulator-data``
refits it from ``shared/data/sleep-edf`` (:func:`reference_dir`) with :func:`load_reference` and
:func:`save_reference`; a test checks that the shipped file equals that refit.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable

import numpy as np
import pyedflib
from scipy.signal import sawtooth
from scipy.special import ndtr, ndtri

from sleepscore.datasets import RK_LABELS, SIMULATION_MARK, RecordingPair
from sleepscore.errors import DataError, UsageError
from sleepscore.features import BANDS_HZ, WELCH_NPERSEG, welch_psd
from sleepscore.io.writers import atomic_path
from sleepscore.stages import EPOCH_S, LOG_OFFSET, UNSCORED

FS = 100
EPOCH_SAMPLES = int(EPOCH_S * FS)
EEG_CHANNELS = ("EEG Fpz-Cz", "EEG Pz-Oz")
_BASE_COLUMNS = 18
_N_TARGETS = 6  # per EEG channel: five band powers and the variance
_CHUNK_EPOCHS = 400  # bounds memory: one chunk is ~10 MB per array
_CALIBRATION_STEPS = 4
_DEFAULT_REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "sleep-edf"
#: Sleep-EDF's licence asks for this wherever its data goes; it travels inside the packaged file.
ATTRIBUTION = ("Derived from the PhysioNet Sleep-EDF Database Expanded, sleep-cassette study "
               "(Kemp B, Zwinderman AH, Tuk B, Kamphuisen HAC, Oberye JJL. Analysis of a "
               "sleep-dependent neuronal feedback loop: the slow-wave microcontinuity of the EEG. "
               "IEEE Trans Biomed Eng 47(9):1185-1194, 2000; Goldberger AL et al. PhysioBank, "
               "PhysioToolkit, and PhysioNet. Circulation 101(23):e215-e220, 2000), "
               "Open Data Commons Attribution License v1.0.")


@dataclass(frozen=True)
class SignalSpec:
    """Header of one PSG signal, as in the real Sleep-EDF cassette files."""

    label: str
    dimension: str
    fs: float
    physical_min: float
    physical_max: float
    digital_min: int
    digital_max: int
    prefilter: str
    transducer: str

    def header(self) -> dict:
        """The signal header in pyedflib's format."""
        return {"label": self.label, "dimension": self.dimension, "sample_frequency": self.fs,
                "physical_min": self.physical_min, "physical_max": self.physical_max,
                "digital_min": self.digital_min, "digital_max": self.digital_max,
                "prefilter": self.prefilter, "transducer": self.transducer}


_CASSETTE_BW = "HP:0.5Hz LP:100Hz [enhanced cassette BW]"
#: The 7 signals of ``SC4001E0-PSG.edf`` (read from the real excerpt's header).
SIGNALS: tuple[SignalSpec, ...] = (
    SignalSpec("EEG Fpz-Cz", "uV", 100.0, -192.0, 192.0, -2048, 2047, _CASSETTE_BW, "Ag-AgCl electrodes"),
    SignalSpec("EEG Pz-Oz", "uV", 100.0, -197.0, 196.0, -2048, 2047, _CASSETTE_BW, "Ag-AgCl electrodes"),
    SignalSpec("EOG horizontal", "uV", 100.0, -1009.0, 1009.0, -2048, 2047, _CASSETTE_BW,
               "Ag-AgCl electrodes"),
    SignalSpec("Resp oro-nasal", "", 1.0, -2048.0, 2047.0, -2048, 2047, "HP:0.03Hz LP:0.9Hz",
               "Oral-nasal thermistors"),
    SignalSpec("EMG submental", "uV", 1.0, -5.0, 5.0, -2500, 2500, "HP:16Hz Rectification LP:0.7Hz",
               "Ag-AgCl electrodes"),
    SignalSpec("Temp rectal", "DegC", 1.0, 34.0, 40.0, -2849, 2731, "", "Rectal thermistor"),
    SignalSpec("Event marker", "", 1.0, -2047.0, 2048.0, -2047, 2048, "Hold during 2 seconds",
               "Marker button"),
)

_STAGE_OF_EPOCH_FOR_UNSCORED = 0  # '?' and movement epochs are simulated as (restless) wake


@dataclass(frozen=True)
class ReferenceNight:
    """One real expert scoring used as a simulated night's skeleton.

    Attributes
    ----------
    name : str
        ``SC4ssNE0``.
    start : datetime
        Clock time of the recording start (first annotation onset).
    onsets, durations : np.ndarray
        float64 seconds from ``start``.
    texts : tuple of str
        The expert's annotation texts (``Sleep stage 4`` kept apart from ``Sleep stage 3``).
    psg_duration_s : float
        Length of the real PSG signal (rec_start to rec_stop of ``sc78-nights.tsv``), a whole
        number of epochs.
    """

    name: str
    start: dt.datetime
    onsets: np.ndarray
    durations: np.ndarray
    texts: tuple[str, ...]
    psg_duration_s: float

    def epoch_stages(self, n_epochs: int) -> np.ndarray:
        """Stage code of each of the first ``n_epochs`` epochs (-1 where nothing is scored)."""
        stages = np.full(n_epochs, UNSCORED, dtype=np.int64)
        for onset, duration, text in zip(self.onsets, self.durations, self.texts):
            first = int(round(onset / EPOCH_S))
            stages[first:min(first + int(round(duration / EPOCH_S)), n_epochs)] = RK_LABELS[text]
        return stages


@dataclass(frozen=True)
class SpectralModel:
    """Per-stage distribution of log band powers and variance, fitted on real nights.

    A Gaussian copula: each of the 12 dimensions (channel-major: five log band powers then the
    log of the variance over the bands' share of it, for each of ``EEG_CHANNELS``) keeps its real per-stage marginal, as quantiles,
    because wake's artefacts make those marginals skewed and the spectral-v1 log offset turns
    skew into bias; the dimensions are tied by their per-stage correlation.

    Attributes
    ----------
    quantiles : np.ndarray
        ``[5, 12, len(QUANTILE_GRID)]`` real per-stage quantiles at ``QUANTILE_GRID``.
    correlation : np.ndarray
        ``[5, 12, 12]`` per-stage correlation of the normal scores.
    subject_share : np.ndarray
        ``[12]`` share of each dimension's variance lying between nights (night means).
    subject_correlation : np.ndarray
        ``[12, 12]`` correlation of the per-night means across dimensions.
    rho : float
        Lag-1 correlation of an epoch's within-night deviation with the previous epoch's.
    """

    quantiles: np.ndarray
    correlation: np.ndarray
    subject_share: np.ndarray
    subject_correlation: np.ndarray
    rho: float


@dataclass(frozen=True)
class Reference:
    """Everything the simulator takes from the real data."""

    nights: tuple[ReferenceNight, ...]
    spectra: SpectralModel


@dataclass(frozen=True)
class SubjectTraits:
    """What makes one simulated subject differ from another."""

    level: np.ndarray  # [12] normal-score shift of every epoch's log powers
    level_variance: np.ndarray  # [12] variance ``level`` was drawn with
    alpha_hz: float
    spindle_hz: float
    event_rate: float  # multiplies every event rate
    sex: str
    age: int


@dataclass
class SimulatedNight:
    """A simulated recording before it is written.

    Attributes
    ----------
    signals : list of np.ndarray
        Physical values in each ``SIGNALS`` unit, one array per signal at its rate.
    stages : np.ndarray
        int64 per-epoch stage codes the signals were simulated for.
    start : datetime
        Recording start.
    onsets, durations, texts
        The hypnogram to write (seconds from ``start``, expert texts).
    """

    signals: list[np.ndarray]
    stages: np.ndarray
    start: dt.datetime
    onsets: np.ndarray
    durations: np.ndarray
    texts: tuple[str, ...]


def reference_dir(path: str | Path | None = None) -> Path:
    """The Sleep-EDF reference folder: ``path``, else ``$SLEEPSCORE_SLEEP_EDF_DIR``, else
    ``../shared/data/sleep-edf`` beside the source tree; DataError when it lacks the material."""
    folder = Path(path or os.environ.get("SLEEPSCORE_SLEEP_EDF_DIR") or _DEFAULT_REFERENCE)
    needed = [folder / "hypnograms-sc78", folder / "features", folder / "sc78-nights.tsv"]
    if not all(p.exists() for p in needed):
        raise DataError(f"{folder}: refitting the simulator needs the real Sleep-EDF scorings and "
                        "features (hypnograms-sc78/, features/, sc78-nights.tsv); set "
                        "SLEEPSCORE_SLEEP_EDF_DIR to the shared sleep-edf folder")
    return folder


def _clock_seconds(text: str) -> float:
    hours, minutes, seconds = text.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _read_reference_night(path: Path, psg_duration_s: float) -> ReferenceNight:
    # Read as raw rows rather than with hypnogram.read_hypnogram, which maps R&K 3 and 4 to one
    # code and '?' and movement to another: the simulated file keeps the expert's own texts.
    with path.open(newline="") as file:
        rows = list(csv.DictReader(file, delimiter="\t"))
    try:
        clock = [dt.datetime.fromisoformat(row["Onset"][:26]) for row in rows]
        durations = np.array([float(row["Duration"]) for row in rows])
        texts = tuple(row["Annotation"] for row in rows)
    except (KeyError, ValueError) as err:
        raise DataError(f"{path}: not an Onset/Duration/Annotation scoring table ({err})") from None
    unknown = sorted(set(texts) - set(RK_LABELS))
    if unknown:
        raise DataError(f"{path}: unknown stage label {unknown[0]!r}")
    onsets = np.array([(c - clock[0]).total_seconds() for c in clock])
    return ReferenceNight(path.stem, clock[0], onsets, durations, texts, psg_duration_s)


def _psg_durations(table: Path) -> dict[str, float]:
    """PSG length per night from the rec_start/rec_stop clock times (recordings cross midnight)."""
    durations = {}
    with table.open(newline="") as file:
        for row in csv.DictReader(file, delimiter="\t"):
            seconds = (_clock_seconds(row["rec_stop"]) - _clock_seconds(row["rec_start"])) % 86400
            durations[row["night"]] = EPOCH_S * (seconds // EPOCH_S)
    return durations


#: Probabilities at which the real marginals are stored (finer in the tails, where wake's
#: artefacts live).
QUANTILE_GRID = np.concatenate([[0.0005, 0.001, 0.0025], np.linspace(0.005, 0.995, 199),
                                [0.9975, 0.999, 0.9995]])


def _correlation(cov: np.ndarray) -> np.ndarray:
    sd = np.sqrt(np.diag(cov))
    return cov / np.outer(sd, sd)


_BAND_WIDTHS = np.array([hi - lo for lo, hi in BANDS_HZ])


def _band_variance(log_powers: np.ndarray) -> np.ndarray:
    """Variance the five bands hold: mean PSD times width, summed."""
    return np.exp(log_powers) @ _BAND_WIDTHS


def _fit_spectra(feature_files: list[Path]) -> SpectralModel:
    targets, stages, nights = [], [], []
    for index, path in enumerate(feature_files):
        with np.load(path) as data:
            base = data["X"][:, :_BASE_COLUMNS]
            y = data["y"]
        per_channel = []
        for first in (0, 9):
            columns = base[:, [first, first + 1, first + 2, first + 3, first + 4, first + 7]]
            # Powers far below the 1e-10 offset come back from exp(feature) - 1e-10 with float
            # rounding; 1e-20 V^2/Hz is far below any real EEG band.
            log_powers = np.log(np.maximum(np.exp(columns) - LOG_OFFSET, 1e-20))
            # The variance enters as its excess over the bands' share (log ratio), not as a level
            # of its own: drawn independently, a variance below the bands' sum cannot be made.
            log_powers[:, 5] -= np.log(_band_variance(log_powers[:, :5]))
            per_channel.append(log_powers)
        targets.append(np.concatenate(per_channel, axis=1))
        stages.append(y)
        nights.append(np.full(len(y), index))
    values, stage, night = np.concatenate(targets), np.concatenate(stages), np.concatenate(nights)
    dims = values.shape[1]
    quantiles = np.zeros((5, dims, len(QUANTILE_GRID)))
    correlation = np.zeros((5, dims, dims))
    scores = np.zeros_like(values)
    for s in range(5):
        in_stage = stage == s
        quantiles[s] = np.quantile(values[in_stage], QUANTILE_GRID, axis=0).T
        ranks = (np.argsort(np.argsort(values[in_stage], axis=0), axis=0) + 0.5) / in_stage.sum()
        scores[in_stage] = ndtri(ranks)
        correlation[s] = np.corrcoef(scores[in_stage], rowvar=False)
    shares, between = [], []
    residuals = np.zeros_like(scores)
    for s in range(5):
        in_stage = stage == s
        night_means = []
        for n in np.unique(night[in_stage]):
            rows = in_stage & (night == n)
            night_means.append(scores[rows].mean(axis=0))
            residuals[rows] = scores[rows] - night_means[-1]
        shares.append(np.var(night_means, axis=0) / scores[in_stage].var(axis=0))
        between.append(np.cov(np.array(night_means), rowvar=False))
    consecutive = (night[1:] == night[:-1]) & (stage[1:] == stage[:-1])
    rho = float(np.mean(np.sum(residuals[1:][consecutive] * residuals[:-1][consecutive], 0)
                        / np.sum(residuals[:-1][consecutive] ** 2, 0)))
    return SpectralModel(quantiles, correlation, np.clip(np.mean(shares, axis=0), 0.0, 0.9),
                         _correlation(np.mean(between, axis=0)), rho)


def load_reference(path: str | Path | None = None) -> Reference:
    """The simulator's real-data reference: the packaged one, or refitted from a folder.

    Parameters
    ----------
    path : str or Path, optional
        A Sleep-EDF folder (see :func:`reference_dir`) to read the real scorings from and fit the
        spectral model to; None reads the fit shipped in the package, which needs no real data.

    Returns
    -------
    Reference
        The 153 reference nights in name order and the fitted :class:`SpectralModel`.
    """
    if path is None:
        with resources.as_file(_PACKAGED) as packaged:
            return _read_reference(packaged)
    folder = reference_dir(path)
    durations = _psg_durations(folder / "sc78-nights.tsv")
    nights = tuple(_read_reference_night(p, durations[p.stem])
                   for p in sorted((folder / "hypnograms-sc78").glob("SC4*.txt"))
                   if p.stem in durations)
    features = sorted((folder / "features").glob("SC4*.npz"))
    if not nights or not features:
        raise DataError(f"{folder}: no reference scorings or feature files found")
    return Reference(nights, _fit_spectra(features))


_PACKAGED = resources.files("sleepscore") / "data" / "simulator.npz"
#: ``texts`` are stored as indices into this list (npz arrays of Python strings would need pickle).
_TEXTS = tuple(RK_LABELS)


def save_reference(reference: Reference, path: str | Path) -> None:
    """Write ``reference`` as a compressed npz that :func:`load_reference` reads back unchanged.

    Parameters
    ----------
    reference : Reference
        Typically ``load_reference(folder)``.
    path : str or Path
        File to write (atomically; an existing one is replaced).
    """
    nights, spectra = reference.nights, reference.spectra
    arrays = {
        "attribution": np.array(ATTRIBUTION),
        "names": np.array([n.name for n in nights]),
        "starts": np.array([n.start.isoformat() for n in nights]),
        "psg_duration_s": np.array([n.psg_duration_s for n in nights]),
        "rows": np.array([len(n.texts) for n in nights]),
        "onsets": np.concatenate([n.onsets for n in nights]),
        "durations": np.concatenate([n.durations for n in nights]),
        "texts": np.array([_TEXTS.index(t) for n in nights for t in n.texts], dtype=np.uint8),
        "quantiles": spectra.quantiles,
        "correlation": spectra.correlation,
        "subject_share": spectra.subject_share,
        "subject_correlation": spectra.subject_correlation,
        "rho": np.array(spectra.rho),
    }
    with atomic_path(path, force=True) as temporary, temporary.open("wb") as file:
        np.savez_compressed(file, **arrays)


def _read_reference(path: Path) -> Reference:
    """The :class:`Reference` that :func:`save_reference` wrote to ``path``."""
    with np.load(path) as data:
        ends = np.cumsum(data["rows"])
        pieces = [np.split(data[key], ends[:-1]) for key in ("onsets", "durations", "texts")]
        nights = tuple(
            ReferenceNight(str(name), dt.datetime.fromisoformat(str(start)), onsets, durations,
                           tuple(_TEXTS[i] for i in texts), float(psg_s))
            for name, start, psg_s, onsets, durations, texts
            in zip(data["names"], data["starts"], data["psg_duration_s"], *pieces))
        spectra = SpectralModel(data["quantiles"], data["correlation"], data["subject_share"],
                                data["subject_correlation"], float(data["rho"]))
    return Reference(nights, spectra)


def draw_subject(reference: Reference, rng: np.random.Generator,
                 subject_spread: float = 0.5) -> SubjectTraits:
    """Draw one subject's traits (see the module docstring for ``subject_spread``)."""
    spectra = reference.spectra
    level = rng.multivariate_normal(np.zeros(len(spectra.subject_share)), spectra.subject_correlation)
    return SubjectTraits(
        level=subject_spread * np.sqrt(spectra.subject_share) * level,
        level_variance=subject_spread ** 2 * spectra.subject_share,
        alpha_hz=float(rng.uniform(8.5, 11.5)),
        spindle_hz=float(np.clip(rng.normal(13.0, 0.6), 11.5, 15.0)),
        event_rate=float(np.exp(rng.normal(0.0, 0.2))),
        sex=str(rng.choice(["F", "M"])),
        age=int(rng.integers(25, 102)),
    )


def _night_drift(subject: SubjectTraits, rng: np.random.Generator) -> SubjectTraits:
    """The same subject on another night: a small shift of level and rhythm frequencies."""
    return SubjectTraits(
        level=subject.level + rng.normal(0.0, 0.05, subject.level.shape),
        level_variance=subject.level_variance,
        alpha_hz=subject.alpha_hz + float(rng.normal(0.0, 0.15)),
        spindle_hz=subject.spindle_hz + float(rng.normal(0.0, 0.1)),
        event_rate=subject.event_rate * float(np.exp(rng.normal(0.0, 0.05))),
        sex=subject.sex,
        age=subject.age,
    )


def _draw_targets(stages: np.ndarray, spectra: SpectralModel, subject: SubjectTraits,
                  rng: np.random.Generator) -> np.ndarray:
    """Per-epoch log band powers and log variance ``[n_epochs, 12]``.

    Normal scores walk as AR(1), so neighbouring epochs look alike as in real nights; the
    subject's level takes its share of each score's unit variance and the walk the rest, so the
    scores stay standard normal over subjects and the real marginals come out unchanged.
    """
    dims = len(spectra.subject_share)
    innovations = rng.standard_normal((len(stages), dims))
    walk = np.empty_like(innovations)
    walk[0] = innovations[0]
    scale = np.sqrt(1 - spectra.rho ** 2)
    for t in range(1, len(stages)):
        walk[t] = spectra.rho * walk[t - 1] + scale * innovations[t]
    simulated_stage = np.where(stages == UNSCORED, _STAGE_OF_EPOCH_FOR_UNSCORED, stages)
    rest = np.sqrt(1 - subject.level_variance)
    targets = np.empty_like(walk)
    for s in range(5):
        rows = simulated_stage == s
        eigenvalues, vectors = np.linalg.eigh(spectra.correlation[s])
        factor = vectors * np.sqrt(np.clip(eigenvalues, 0.0, None))
        scores = subject.level + rest * (walk[rows] @ factor.T)
        probabilities = ndtr(scores)
        for d in range(dims):
            targets[rows, d] = np.interp(probabilities[:, d], QUANTILE_GRID, spectra.quantiles[s, d])
    return targets


# ---- events -------------------------------------------------------------------------------------


def _place(out: np.ndarray, start: int, waveform: np.ndarray, gains: tuple[float, ...]) -> None:
    """Add ``waveform`` at ``start`` into the ``[n_channels, samples]`` epoch ``out``, cut at
    its end so events never cross an epoch boundary."""
    length = min(len(waveform), out.shape[1] - start)
    for channel, gain in enumerate(gains):
        if gain:
            out[channel, start:start + length] += gain * waveform[:length]


def _burst(rng: np.random.Generator, hz: float, seconds: float, amplitude: float) -> np.ndarray:
    """A waxing-waning oscillation (Hann envelope): spindle, alpha or theta burst."""
    n = max(int(seconds * FS), 2)
    t = np.arange(n) / FS
    return amplitude * np.hanning(n) * np.sin(2 * np.pi * hz * t + rng.uniform(0, 2 * np.pi))


def _gaussian(seconds: float, width_s: float) -> np.ndarray:
    t = np.arange(int(seconds * FS)) / FS
    return np.exp(-0.5 * ((t - seconds / 2) / width_s) ** 2)


def _alpha(rng, traits):
    return _burst(rng, traits.alpha_hz + rng.normal(0, 0.2), rng.uniform(3, 12), 25e-6)


def _blink(rng, traits):
    return rng.uniform(80e-6, 160e-6) * _gaussian(0.6, 0.08)


def _muscle(rng, traits):
    n = int(rng.uniform(0.5, 3.0) * FS)
    noise = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / FS)
    noise[(freqs < 20) | (freqs > 45)] = 0  # EMG leaking into EEG sits above the EEG rhythms
    return 15e-6 * np.hanning(n) * np.fft.irfft(noise, n) / 0.5


def _saccade(rng, traits, amplitude=80e-6):
    n = int(rng.uniform(1.0, 3.0) * FS)
    t = np.arange(n) / FS
    sign = rng.choice([-1.0, 1.0])
    return sign * amplitude * (1 - np.exp(-t / 0.02)) * np.exp(-t / 1.0)


def _slow_eye_movement(rng, traits):
    seconds = rng.uniform(4, 12)
    return _burst(rng, rng.uniform(0.15, 0.5), seconds, rng.uniform(40e-6, 120e-6))


def _theta(rng, traits):
    return _burst(rng, rng.uniform(4.5, 7.0), rng.uniform(1, 3), 20e-6)


def _vertex(rng, traits):
    return -rng.uniform(30e-6, 60e-6) * _gaussian(0.5, 0.05)


def _spindle(rng, traits):
    return _burst(rng, traits.spindle_hz + rng.normal(0, 0.4), rng.uniform(0.5, 2.0),
                  rng.uniform(15e-6, 35e-6))


def _k_complex(rng, traits):
    size = rng.uniform(60e-6, 120e-6)
    t = np.arange(int(1.5 * FS)) / FS
    return size * (-np.exp(-0.5 * ((t - 0.35) / 0.1) ** 2) + 0.6 * np.exp(-0.5 * ((t - 0.8) / 0.2) ** 2))


def _slow_waves(rng, traits):
    seconds = rng.uniform(4, 15)
    return _burst(rng, rng.uniform(0.8, 2.0), seconds, rng.uniform(60e-6, 120e-6))


def _rapid_eye_movements(rng, traits):
    seconds = rng.uniform(2, 6)
    out = np.zeros(int(seconds * FS))
    for start in np.sort(rng.integers(0, len(out), rng.integers(3, 11))):
        _place(out[None], start, _saccade(rng, traits, rng.uniform(80e-6, 200e-6)), (1.0,))
    return out


def _sawtooth(rng, traits):
    hz, seconds = rng.uniform(2, 5), rng.uniform(2, 5)
    t = np.arange(int(seconds * FS)) / FS
    return 25e-6 * np.hanning(len(t)) * sawtooth(2 * np.pi * hz * t, width=0.8)


@dataclass(frozen=True)
class _Event:
    make: Callable[[np.random.Generator, SubjectTraits], np.ndarray]
    rates: tuple[float, float, float, float, float]  # mean count per 30-s epoch for W..REM
    gains: tuple[float, float, float]  # Fpz-Cz, Pz-Oz, EOG
    quiet_wake_factor: float = 1.0  # rate multiplier in wake near sleep (lights off)


#: Rates per epoch; gains follow scalp topography (alpha occipital, K-complexes and blinks
#: frontal, eye movements on the EOG).
EVENTS: dict[str, _Event] = {
    "alpha": _Event(_alpha, (0.5, 0.3, 0, 0, 0.1), (0.3, 1.0, 0.05), quiet_wake_factor=3.0),
    "blink": _Event(_blink, (4.0, 0.3, 0, 0, 0), (1.0, 0.05, 0.3), quiet_wake_factor=0.4),
    "muscle": _Event(_muscle, (0.8, 0.1, 0.02, 0, 0.05), (1.0, 0.7, 1.0), quiet_wake_factor=0.2),
    "saccade": _Event(_saccade, (3.0, 0, 0, 0, 0), (0.1, 0, 1.0), quiet_wake_factor=0.3),
    "slow eye movement": _Event(_slow_eye_movement, (0.1, 0.8, 0.05, 0, 0), (0.15, 0, 1.0)),
    "theta": _Event(_theta, (0, 1.5, 0.3, 0, 0.5), (0.8, 1.0, 0.1)),
    "vertex wave": _Event(_vertex, (0, 0.6, 0.1, 0, 0), (1.0, 0.4, 0.2)),
    "spindle": _Event(_spindle, (0, 0.1, 2.0, 0.3, 0), (1.0, 0.7, 0.05)),
    "K-complex": _Event(_k_complex, (0, 0.05, 0.7, 0.2, 0), (1.0, 0.5, 0.3)),
    "slow waves": _Event(_slow_waves, (0, 0, 0.3, 3.0, 0), (1.0, 0.6, 0.5)),
    "rapid eye movements": _Event(_rapid_eye_movements, (0, 0, 0, 0, 0.8), (0.15, 0, 1.0)),
    "sawtooth": _Event(_sawtooth, (0, 0, 0, 0, 0.5), (0.7, 1.0, 0.05)),
}


def _events(stages: np.ndarray, quiet_wake: np.ndarray, traits: SubjectTraits,
            rng: np.random.Generator) -> np.ndarray:
    """``[n_epochs, 3, 3000]`` event waveforms (volts) for the Fpz-Cz, Pz-Oz and EOG rows."""
    out = np.zeros((len(stages), 3, EPOCH_SAMPLES))
    simulated_stage = np.where(stages == UNSCORED, _STAGE_OF_EPOCH_FOR_UNSCORED, stages)
    for event in EVENTS.values():
        rate = np.asarray(event.rates)[simulated_stage] * traits.event_rate
        rate = np.where(quiet_wake, rate * event.quiet_wake_factor, rate)
        counts = rng.poisson(rate)
        for epoch in np.repeat(np.arange(len(stages)), counts):
            waveform = event.make(rng, traits)
            # Wholly inside the epoch: a cut event would leave a step that Welch barely sees at
            # the epoch edge, and calibration would then inflate the whole band.
            start = int(rng.integers(0, max(EPOCH_SAMPLES - len(waveform), 0) + 1))
            _place(out[epoch], start, waveform, event.gains)
    return out


# ---- spectra ------------------------------------------------------------------------------------

_RFFT_FREQS = np.fft.rfftfreq(EPOCH_SAMPLES, 1 / FS)
_WELCH_FREQS = np.fft.rfftfreq(WELCH_NPERSEG, 1 / FS)
# Fourier bins each band's gain applies to (the bands tile 0.5-50 Hz; below 0.5 Hz is the sixth
# region, set by the variance target) and the Welch bins the features average (edges included).
_FOURIER_REGIONS = [(_RFFT_FREQS >= lo) & (_RFFT_FREQS < hi) for lo, hi in BANDS_HZ]
_FOURIER_REGIONS[-1] |= _RFFT_FREQS >= BANDS_HZ[-1][1]
_LOW_REGION = _RFFT_FREQS < BANDS_HZ[0][0]
_WELCH_BANDS = [(_WELCH_FREQS >= lo) & (_WELCH_FREQS <= hi) for lo, hi in BANDS_HZ]
# Geometric band centres: EEG spectra fall roughly as a power of frequency, so log-PSD is
# interpolated linearly in log-frequency between them.
_LOG_CENTRES = np.log([0.2] + [np.sqrt(lo * hi) for lo, hi in BANDS_HZ] + [FS / 2])
_LOG_FREQS = np.log(np.maximum(_RFFT_FREQS, _RFFT_FREQS[1]))


def _background(log_powers: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Fourier coefficients ``[n, 1501]`` of noise whose log PSD runs piecewise-linearly (in log
    frequency) through the band levels at the band centres: a smooth spectrum, not a staircase."""
    n = len(log_powers)
    # Below 0.5 Hz the recorder's high-pass lowers the spectrum; calibration then sets this
    # region's level from the variance.
    low = log_powers[:, :1] - 1.0
    levels = np.concatenate([low, log_powers, log_powers[:, -1:]], axis=1)
    log_psd = np.stack([np.interp(_LOG_FREQS, _LOG_CENTRES, row) for row in levels])
    coefficients = rng.standard_normal((n, len(_RFFT_FREQS))) + 1j * rng.standard_normal((n, len(_RFFT_FREQS)))
    coefficients[:, 0] = 0.0  # no DC: the recorder's 0.5-Hz high-pass
    return coefficients * np.exp(log_psd / 2)


def _calibrate(spectrum: np.ndarray, band_powers: np.ndarray, variance: np.ndarray,
               limits: tuple[float, float]) -> np.ndarray:
    """Rescale each band of ``spectrum`` ``[n, 1501]`` until the epoch, clipped at ``limits``
    (volts) as the recorder will clip it, has Welch band powers ``band_powers`` ``[n, 5]`` and
    variance ``variance`` ``[n]``; returns the unclipped epochs.

    Welch's Hann window leaks power across band edges and clipping removes some, so a few
    fixed-point steps are taken.
    """
    spectrum = spectrum.copy()
    weights = np.full(spectrum.shape[1], 2.0)
    weights[0] = weights[-1] = 1.0
    for _ in range(_CALIBRATION_STEPS):
        x = np.fft.irfft(spectrum, EPOCH_SAMPLES, axis=-1)
        clipped = np.clip(x, *limits)
        # The extractor's own Welch, so that calibration measures what the features see.
        _, psd = welch_psd(clipped, fs=FS)
        for band, (fourier, welch_bins) in enumerate(zip(_FOURIER_REGIONS, _WELCH_BANDS)):
            measured = psd[:, welch_bins].mean(axis=-1)
            spectrum[:, fourier] *= np.sqrt(band_powers[:, band] / np.maximum(measured, 1e-30))[:, None]
        # Parseval: the variance is the sum of the regions' shares, so the low region takes
        # whatever the target leaves (a floor keeps it from vanishing); clipping's loss is the
        # ratio measured this step.
        clip_loss = clipped.var(axis=-1) / np.maximum(x.var(axis=-1), 1e-30)
        share = np.abs(spectrum) ** 2 * weights / EPOCH_SAMPLES ** 2
        rest = share[:, ~_LOW_REGION].sum(axis=-1)
        low = share[:, _LOW_REGION].sum(axis=-1)
        wanted_low = np.maximum(variance / clip_loss - rest, 0.02 * variance)
        spectrum[:, _LOW_REGION] *= np.sqrt(wanted_low / np.maximum(low, 1e-30))[:, None]
    return np.fft.irfft(spectrum, EPOCH_SAMPLES, axis=-1)


def _eeg_and_eog(stages: np.ndarray, targets: np.ndarray, traits: SubjectTraits,
                 rng: np.random.Generator) -> np.ndarray:
    """``[3, n_epochs * 3000]`` volts: the two EEG channels and the EOG."""
    sleep = np.flatnonzero((stages >= 1) & (stages <= 4))
    margin = int(30 * 60 / EPOCH_S)
    index = np.arange(len(stages))
    quiet_wake = ((index >= (sleep[0] - margin if len(sleep) else 0))
                  & (index <= (sleep[-1] + margin if len(sleep) else -1)))
    out = np.empty((3, len(stages) * EPOCH_SAMPLES))
    for first in range(0, len(stages), _CHUNK_EPOCHS):
        rows = slice(first, min(first + _CHUNK_EPOCHS, len(stages)))
        events = _events(stages[rows], quiet_wake[rows], traits, rng)
        event_spectra = np.fft.rfft(events, axis=-1)
        chunk = np.empty((events.shape[0], 3, EPOCH_SAMPLES))
        for channel in range(2):
            columns = targets[rows, channel * _N_TARGETS:(channel + 1) * _N_TARGETS]
            spectrum = _background(columns[:, :5], rng) + event_spectra[:, channel]
            variance = _band_variance(columns[:, :5]) * np.exp(columns[:, 5])
            limits = (SIGNALS[channel].physical_min * 1e-6, SIGNALS[channel].physical_max * 1e-6)
            chunk[:, channel] = _calibrate(spectrum, np.exp(columns[:, :5]), variance, limits)
        # Horizontal EOG electrodes pick up frontal EEG; the eye movements come on top.
        chunk[:, 2] = 0.6 * chunk[:, 0] + events[:, 2] + rng.normal(0, 2e-6, events[:, 2].shape)
        out[:, rows.start * EPOCH_SAMPLES:rows.stop * EPOCH_SAMPLES] = (
            chunk.transpose(1, 0, 2).reshape(3, -1))
    return out


def _slow_channels(stages: np.ndarray, start: dt.datetime, rng: np.random.Generator
                   ) -> list[np.ndarray]:
    """The 1-Hz signals: oro-nasal breathing, EMG envelope, rectal temperature, event marker."""
    per_second = np.repeat(np.where(stages == UNSCORED, 0, stages), int(EPOCH_S))
    n = len(per_second)
    seconds = np.arange(n)
    # Breathing slows and steadies in deep sleep; 1 Hz sampling still resolves 0.2-0.3 Hz.
    breath_hz = np.array([0.28, 0.25, 0.24, 0.22, 0.27])[per_second] + rng.normal(0, 0.01, n)
    breathing = 600 * np.sin(2 * np.pi * np.cumsum(breath_hz)) + rng.normal(0, 60, n)
    # The EMG envelope drops with depth of sleep and is lowest in REM (atonia), with twitches.
    envelope = np.array([3.5, 3.0, 2.8, 2.7, 2.2])[per_second] + rng.normal(0, 0.08, n)
    twitches = (per_second == 4) & (rng.random(n) < 0.01)
    envelope[twitches] += rng.uniform(0.5, 1.5, twitches.sum())
    envelope = np.convolve(envelope, np.ones(5) / 5, mode="same")
    # Core temperature: circadian minimum near 04:30, about 0.4 degC below the daytime level.
    clock_h = (start.hour + start.minute / 60 + seconds / 3600) % 24
    temperature = 37.0 + 0.4 * np.cos(2 * np.pi * (clock_h - 16.5) / 24) + rng.normal(0, 0.01, n)
    marker = 920 + rng.normal(0, 15, n)
    return [breathing, envelope, temperature, marker]


def simulate_night(source: ReferenceNight, reference: Reference, traits: SubjectTraits,
                   rng: np.random.Generator, *, hours: float | None = None) -> SimulatedNight:
    """Simulate one recording on the stage sequence of a real night.

    Parameters
    ----------
    source : ReferenceNight
        Real scoring that gives the stages, length and clock times.
    reference : Reference
        From :func:`load_reference`.
    traits : SubjectTraits
        The subject (and night) it is recorded from.
    rng : np.random.Generator
        Source of all randomness.
    hours : float, optional
        Keep only this much, starting 30 min before the first sleep epoch (for quick tests);
        None keeps the whole real length (17-24 h).

    Returns
    -------
    SimulatedNight
    """
    n_epochs = int(source.psg_duration_s // EPOCH_S)
    stages = source.epoch_stages(n_epochs)
    first_epoch = 0
    if hours is not None:
        if hours <= 0:
            raise UsageError(f"hours must be positive, got {hours:g}")
        sleep = np.flatnonzero((stages >= 1) & (stages <= 4))
        first_epoch = max(int(sleep[0]) - int(30 * 60 / EPOCH_S), 0) if len(sleep) else 0
        n_epochs = min(n_epochs - first_epoch, max(int(hours * 3600 / EPOCH_S), 1))
        stages = stages[first_epoch:first_epoch + n_epochs]
    shift = first_epoch * EPOCH_S
    start = source.start + dt.timedelta(seconds=shift)
    ends = source.onsets + source.durations
    kept = ends > shift
    onsets = np.maximum(source.onsets[kept] - shift, 0.0)
    durations = ends[kept] - shift - onsets

    targets = _draw_targets(stages, reference.spectra, traits, rng)
    fast = _eeg_and_eog(stages, targets, traits, rng)
    signals = [channel * 1e6 for channel in fast] + _slow_channels(stages, start, rng)
    texts = tuple(t for t, keep in zip(source.texts, kept) if keep)
    return SimulatedNight(signals, stages, start, onsets, durations, texts)


def _digital(values: np.ndarray, spec: SignalSpec) -> np.ndarray:
    """Physical values to the file's integers, clipped at the range as the real recorder clips.
    Done here because pyedflib's physical path is several times slower for a whole night."""
    gain = (spec.digital_max - spec.digital_min) / (spec.physical_max - spec.physical_min)
    digital = np.rint((values - spec.physical_min) * gain + spec.digital_min)
    return np.clip(digital, spec.digital_min, spec.digital_max).astype(np.int32)


def write_night(night: SimulatedNight, psg_path: str | Path, hypnogram_path: str | Path, *,
                sex: str = "X", age: int | None = None,
                note: str = "simulated") -> RecordingPair:
    """Write ``night`` as a Sleep-EDF pair: plain EDF with 30-s records, EDF+ annotations.

    Parameters
    ----------
    night : SimulatedNight
        From :func:`simulate_night`.
    psg_path, hypnogram_path : str or Path
        Files to write.
    sex, age : str, int
        Patient field as Sleep-EDF writes it (``X F X Female_33yr``); ``sex`` is F, M or X.
    note : str
        Appended to the recording field of both headers so the files say they are simulated.

    Returns
    -------
    RecordingPair
    """
    psg_path, hypnogram_path = Path(psg_path), Path(hypnogram_path)
    patient = {"F": "Female", "M": "Male"}.get(sex, "X") + (f"_{age}yr" if age is not None else "")

    def set_header(writer: pyedflib.EdfWriter) -> None:
        writer.setStartdatetime(night.start)
        writer.setRecordingAdditional(note)
        writer.setPatientName(patient)
        if sex in ("F", "M"):
            writer.setSex(1 if sex == "M" else 0)

    writer = pyedflib.EdfWriter(str(psg_path), len(SIGNALS), file_type=pyedflib.FILETYPE_EDF)
    try:
        writer.setSignalHeaders([spec.header() for spec in SIGNALS])
        with warnings.catch_warnings():
            # pyedflib warns that a forced record length may alter rates; 30 s holds 3000 and 30
            # samples exactly, as in the real files.
            warnings.simplefilter("ignore", UserWarning)
            writer.setDatarecordDuration(EPOCH_S)
        set_header(writer)
        writer.writeSamples([_digital(values, spec) for values, spec in zip(night.signals, SIGNALS)],
                            digital=True)
    finally:
        writer.close()
    writer = pyedflib.EdfWriter(str(hypnogram_path), 0, file_type=pyedflib.FILETYPE_EDFPLUS)
    try:
        set_header(writer)
        for onset, duration, text in zip(night.onsets, night.durations, night.texts):
            writer.writeAnnotation(float(onset), float(duration), text)
    finally:
        writer.close()
    return RecordingPair(psg_path, hypnogram_path)


def simulate_dataset(outdir: str | Path, nights: int, seed: int, *,
                     reference: Reference | None = None, subject_spread: float = 0.5,
                     hours: float | None = None) -> list[RecordingPair]:
    """Write ``nights`` simulated Sleep-EDF nights, two per subject, into ``outdir``.

    Night ``i`` is subject ``i // 2``, night ``i % 2 + 1``: ``SC4ssNE0-PSG.edf`` and
    ``SC4ssNEC-Hypnogram.edf``. Each night takes a different real scoring, chosen by ``seed``,
    and the same ``seed`` always writes the same files.

    Parameters
    ----------
    outdir : str or Path
        Created if missing.
    nights : int
        1-153 (one real scoring each).
    seed : int
        Seed of everything random.
    reference : Reference, optional
        From :func:`load_reference` (the packaged one when None).
    subject_spread : float
        Fraction of the real between-night spread given to subjects (see module docstring).
    hours : float, optional
        Shorten every night (see :func:`simulate_night`).

    Returns
    -------
    list of RecordingPair

    Examples
    --------
    >>> pairs = simulate_dataset("sim", nights=2, seed=0)  # doctest: +SKIP
    >>> [p.name for p in pairs]  # doctest: +SKIP
    ['SC4001E0', 'SC4002E0']
    """
    reference = reference or load_reference()
    if not 1 <= nights <= len(reference.nights):
        raise UsageError(f"--nights must be 1-{len(reference.nights)} (one real scoring each), "
                         f"got {nights}")
    if not 0 <= subject_spread <= 1:
        raise UsageError(f"subject_spread must be in 0-1, got {subject_spread:g}")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    root = np.random.SeedSequence(seed)
    choice_seed, *subject_seeds = root.spawn(1 + (nights + 1) // 2)
    # Per subject: one stream for its traits, one per night, so night 2 never shifts night 1.
    streams = [seed_sequence.spawn(3) for seed_sequence in subject_seeds]
    sources = np.random.default_rng(choice_seed).choice(len(reference.nights), nights, replace=False)
    pairs = []
    for index, source_index in enumerate(sources):
        subject, night = divmod(index, 2)
        traits = draw_subject(reference, np.random.default_rng(streams[subject][0]), subject_spread)
        night_rng = np.random.default_rng(streams[subject][1 + night])
        if night == 1:
            traits = _night_drift(traits, night_rng)
        simulated = simulate_night(reference.nights[source_index], reference, traits, night_rng,
                                   hours=hours)
        name = f"SC4{subject:02d}{night + 1}"
        pair = write_night(simulated, outdir / f"{name}E0-PSG.edf", outdir / f"{name}EC-Hypnogram.edf",
                           sex=traits.sex, age=traits.age,
                           note=f"{SIMULATION_MARK}_seed-{seed}_{reference.nights[source_index].name}")
        pairs.append(pair)
    return pairs
