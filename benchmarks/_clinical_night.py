"""A clinical PSG night as sleep labs record it, written as EDF+ for the speed benchmarks.

16 signals in 1-s records: six EEG derivations (F4-M1, C4-M1, O2-M1, F3-M2, C3-M2, O1-M2), two EOG
(E1-M2, E2-M1), chin and two leg EMG, ECG, all at the EEG rate (256 or 512 Hz), airflow, thoracic
and abdominal effort at 32 Hz, and SpO2 at 1 Hz. The EEG and EOG are :mod:`sleepscore.simulate`
nights (real stage sequence, per-stage spectra fitted to the real Sleep-EDF features) mixed into
six derivations and taken to the clinical rate; the other signals are synthetic with stage-dependent
chin tone, so that every reader does the work a real file asks of it. Simulated: for timing, not
for accuracy.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyedflib
from scipy.signal import resample_poly

EEG = ("F4-M1", "C4-M1", "O2-M1", "F3-M2", "C3-M2", "O1-M2")
#: Weights of the simulated (Fpz-Cz, Pz-Oz) pair in each derivation: frontal leans on the first,
#: occipital on the second.
_EEG_MIX = ((0.9, 0.2), (0.7, 0.5), (0.3, 0.9), (0.85, 0.25), (0.65, 0.55), (0.25, 0.95))
EOG = ("E1-M2", "E2-M1")
CHIN = "Chin1-Chin2"
RESPIRATION_FS = 32


def write_clinical_night(path: Path, fs: int, hours: float = 8.0, seed: int = 0) -> None:
    """Write an ``hours``-long 16-signal night at ``fs`` Hz (EEG, EOG, EMG, ECG) to ``path``."""
    from sleepscore.simulate import draw_subject, load_reference, simulate_night

    reference = load_reference()
    rng = np.random.default_rng(seed)
    wanted = round(hours * 3600 / 30)
    source = next(night for night in reference.nights if night.psg_duration_s / 30 >= wanted + 120)
    night = simulate_night(source, reference, draw_subject(reference, rng), rng, hours=hours)
    seconds = len(night.stages) * 30
    n = seconds * fs

    def clinical_rate(x_100hz: np.ndarray) -> np.ndarray:
        return resample_poly(x_100hz, fs, 100)[:n]

    fpz, pz, eog = (clinical_rate(signal) for signal in night.signals[:3])
    per_second = np.repeat(night.stages.clip(0, 4), 30)
    tone = np.array([12.0, 6.0, 5.0, 4.0, 1.5])[per_second]  # chin EMG RMS (uV): atonia in REM
    signals, headers = [], []

    def add(label: str, values: np.ndarray, rate: int, dimension: str, limit: float,
            low: float | None = None) -> None:
        signals.append(values)
        headers.append({"label": label, "dimension": dimension, "sample_frequency": rate,
                        "physical_min": -limit if low is None else low, "physical_max": limit,
                        "digital_min": -32768, "digital_max": 32767, "prefilter": "", "transducer": ""})

    for label, (a, b) in zip(EEG, _EEG_MIX):
        add(label, a * fpz + b * pz + rng.normal(0, 1.0, n), fs, "uV", 500.0)
    add(EOG[0], eog + rng.normal(0, 2.0, n), fs, "uV", 1000.0)
    add(EOG[1], -0.9 * eog + rng.normal(0, 2.0, n), fs, "uV", 1000.0)
    add(CHIN, rng.normal(0, 1.0, n) * np.repeat(tone, fs), fs, "uV", 500.0)
    for leg in ("LLeg", "RLeg"):
        twitch = np.repeat(rng.random(seconds) < 0.02, fs) * 40.0
        add(leg, rng.normal(0, 1.0, n) * (3.0 + twitch), fs, "uV", 500.0)
    beats = np.zeros(n)
    beats[np.cumsum(rng.normal(fs, 0.05 * fs, seconds + 10).astype(int))[:seconds] % n] = 1.0
    add("ECG", np.convolve(beats, np.exp(-0.5 * (np.arange(-fs // 20, fs // 20) / (fs / 200)) ** 2),
                           mode="same") * 1000.0, fs, "uV", 3000.0)
    breath = np.sin(2 * np.pi * 0.25 * np.arange(seconds * RESPIRATION_FS) / RESPIRATION_FS)
    for label in ("Airflow", "Thor", "Abdo"):
        add(label, breath * rng.uniform(0.5, 1.0) + rng.normal(0, 0.05, len(breath)), RESPIRATION_FS, "mV", 5.0)
    add("SpO2", 96 + rng.normal(0, 0.5, seconds).clip(-3, 3), 1, "%", 100.0, low=0.0)

    with pyedflib.EdfWriter(str(path), len(signals), file_type=pyedflib.FILETYPE_EDFPLUS) as writer:
        writer.setSignalHeaders(headers)
        writer.setStartdatetime(dt.datetime(2026, 1, 5, 22, 30))
        writer.setPatientName("simulated")
        writer.writeSamples(signals)
