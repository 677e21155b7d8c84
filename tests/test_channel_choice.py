"""The default invocation on any montage: which shipped model and channel score a file."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edf_factory import Channel, sine, write_psg
from sleepscore.cli import cli
from sleepscore.model import ANY_EEG_MODEL, DEFAULT_MODEL, shipped_models_dir
from sleepscore.scoring import choose_model, score_night

pytestmark = pytest.mark.skipif(
    not all((shipped_models_dir() / name).is_file() for name in (DEFAULT_MODEL, ANY_EEG_MODEL)),
    reason="shipped models not built")

SECONDS = 600  # 20 epochs


def eeg(seed: int, fs: float = 100, seconds: float = SECONDS) -> np.ndarray:
    """Tens of microvolts of 1/f-ish noise: EEG-like enough to be scored."""
    rng = np.random.default_rng(seed)
    n = round(fs * seconds)
    spectrum = np.fft.rfft(rng.normal(0, 1, n)) / np.maximum(np.fft.rfftfreq(n, 1 / fs), 0.5)
    signal = np.fft.irfft(spectrum, n=n)
    return 30 * signal / signal.std()


def clinical_psg(path: Path, fs: float = 256) -> Path:
    """An AASM-style export: EOG first, EEG in an order that is not the priority order."""
    channels = [Channel("E1-M2", eeg(1, fs), fs), Channel("EEG O2-M1", eeg(2, fs), fs),
                Channel("EEG C4-A1", eeg(3, fs), fs), Channel("EMG Chin", eeg(4, fs) / 5, fs),
                Channel("ECG", sine(fs, SECONDS, 1.2, 800.0), fs), Channel("SpO2", np.full(SECONDS, 97.0), 1, "%")]
    return write_psg(path, channels)


def geometric_pool(*probs: np.ndarray) -> np.ndarray:
    """The documented combination of derivations, written out: prod(p_i) ** (1 / n ** 0.74), normalised."""
    pooled = np.prod(np.stack(probs).astype(np.float64), axis=0) ** (1 / len(probs) ** 0.74)
    return pooled / pooled.sum(axis=1, keepdims=True)


def test_a_clinical_montage_is_scored_by_default_on_its_central_and_occipital_derivations(tmp_path: Path) -> None:
    psg = clinical_psg(tmp_path / "night.edf")
    output = tmp_path / "night.csv"
    result = CliRunner().invoke(cli, ["predict", str(psg), "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert "scoring EEG channels 'EEG C4-A1', 'EEG O2-M1'" in result.stderr and "--channels" in result.stderr
    with output.open() as handle:
        rows = [row for row in csv.reader(handle) if row and not row[0].startswith("#")]
    assert len(rows) == 1 + SECONDS // 30
    night = score_night(psg)
    assert night.model.name == ANY_EEG_MODEL and night.channels == ["EEG C4-A1", "EEG O2-M1"]
    # Each derivation scored alone, then pooled: the default's probabilities.
    central, occipital = score_night(psg, channels=["C4-A1"]), score_night(psg, channels=["O2-M1"])
    assert central.channels == ["EEG C4-A1"]
    np.testing.assert_allclose(night.probs, geometric_pool(central.probs, occipital.probs), atol=1e-5)
    assert not np.allclose(night.probs, central.probs, atol=1e-3)
    np.testing.assert_allclose(night.distance, (central.distance + occipital.distance) / 2, rtol=1e-5)


def test_a_flat_derivation_is_left_out_of_the_epochs_it_is_flat_in(tmp_path: Path) -> None:
    fs = 128.0
    central = eeg(3, fs)
    occipital = eeg(2, fs)
    occipital[: round(fs * 300)] = 0.0  # the first 10 epochs: electrode off
    psg = write_psg(tmp_path / "night.edf", [Channel("EEG C4-A1", central, fs), Channel("EEG O2-M1", occipital, fs)])
    night = score_night(psg)
    assert night.channels == ["EEG C4-A1", "EEG O2-M1"]
    alone = score_night(psg, channels=["C4-A1"]).probs
    both = geometric_pool(alone, score_night(psg, channels=["O2-M1"]).probs)
    np.testing.assert_allclose(night.probs[:10], alone[:10], atol=1e-5)
    np.testing.assert_allclose(night.probs[10:], both[10:], atol=1e-5)
    assert all(flag.startswith("flat:EEG O2-M1") for flag in night.quality[:10])


def test_fpz_cz_and_pz_oz_go_to_the_two_channel_model(tmp_path: Path) -> None:
    psg = write_psg(tmp_path / "night.edf", [Channel("EEG Fpz-Cz", eeg(1), 100),
                                              Channel("EEG Pz-Oz", eeg(2), 100),
                                              Channel("EOG horizontal", eeg(3), 100)])
    choice = choose_model(psg, None, None)
    assert choice.model.path.name == DEFAULT_MODEL
    assert choice.channels == ["EEG Fpz-Cz", "EEG Pz-Oz"] and choice.notes == []


def test_fpz_cz_alone_goes_to_the_single_eeg_model(tmp_path: Path) -> None:
    psg = write_psg(tmp_path / "night.edf", [Channel("EEG Fpz-Cz", eeg(1), 100),
                                              Channel("EOG horizontal", eeg(3), 100)])
    choice = choose_model(psg, None, None)
    assert choice.model.path.name == ANY_EEG_MODEL and choice.channels == ["EEG Fpz-Cz"]


def test_channels_override_the_choice_and_pick_the_model_by_derivation(tmp_path: Path) -> None:
    psg = clinical_psg(tmp_path / "night.edf")
    one = choose_model(psg, None, ["O2-M1"])
    assert one.model.path.name == ANY_EEG_MODEL and one.channels == ["O2-M1"]
    # Two channels go to the two-channel model only when they are its own derivations.
    two = choose_model(psg, None, ["C4-A1", "O2-M1"])
    assert two.model.path.name == ANY_EEG_MODEL and two.channels == ["C4-A1", "O2-M1"]
    assert choose_model(psg, None, ["Fpz-Cz", "Pz-Oz"]).model.path.name == DEFAULT_MODEL
    assert choose_model(psg, None, ["Pz-Oz", "Fpz-Cz"]).model.path.name == ANY_EEG_MODEL
    assert score_night(psg, channels=["O2-M1"]).channels == ["EEG O2-M1"]


def test_a_single_eeg_model_given_with_model_still_gets_its_channels_chosen(tmp_path: Path) -> None:
    psg = clinical_psg(tmp_path / "night.edf")
    choice = choose_model(psg, shipped_models_dir() / ANY_EEG_MODEL, None)
    assert choice.channels == ["EEG C4-A1", "EEG O2-M1"]


def test_evaluate_takes_channels_and_model_like_predict(tmp_path: Path) -> None:
    psg = clinical_psg(tmp_path / "night.edf")
    hypnogram = tmp_path / "night.txt"
    hypnogram.write_text("\n".join(["W"] * 4 + ["N2"] * 16) + "\n")
    report = tmp_path / "report.json"
    result = CliRunner().invoke(cli, ["evaluate", str(psg), str(hypnogram), "--channels", "O2-M1",
                                      "--model", str(shipped_models_dir() / ANY_EEG_MODEL),
                                      "--report", str(report), "-q"])
    assert result.exit_code == 0, result.output
    content = json.loads(report.read_text())
    assert content["model"].endswith(ANY_EEG_MODEL)
    assert content["nights"][0]["recording_epochs"] == SECONDS // 30
    assert content["nights"][0]["channels"] == ["EEG O2-M1"]


def test_a_referential_export_is_scored_on_the_derivation_its_channels_make(tmp_path: Path) -> None:
    """Every electrode against the recorder's reference: the default scores C4 minus A1, and the
    probabilities are those of that difference given by hand as a channel of its own."""
    fs = 200
    reference = 50 * eeg(9, fs)  # large, so that scoring C4-REF itself would not give the same answer
    c4, a1 = eeg(3, fs), eeg(5, fs) / 3
    referential = write_psg(tmp_path / "referential.edf", [
        Channel("EEG O1-REF", eeg(2, fs) + reference, fs), Channel("EEG C4-REF", c4 + reference, fs),
        Channel("EEG A1-REF", a1 + reference, fs), Channel("EOG E1-REF", eeg(4, fs) + reference, fs)])
    bipolar = write_psg(tmp_path / "bipolar.edf", [Channel("EEG C4-A1", c4 - a1, fs),
                                                    Channel("EEG O1-A1", eeg(2, fs) - a1, fs)])
    result = CliRunner().invoke(cli, ["predict", str(referential), "-o", str(tmp_path / "out.csv")])
    assert result.exit_code == 0, result.output
    assert "'C4-M1' as 'EEG C4-REF' minus 'EEG A1-REF'" in result.stderr
    built, given = score_night(referential), score_night(bipolar)
    assert built.channels == ["C4-M1", "O1-M1"] and built.model.name == ANY_EEG_MODEL
    assert given.channels == ["EEG C4-A1", "EEG O1-A1"]
    np.testing.assert_allclose(built.probs, given.probs, atol=1e-3)


def test_a_referential_export_with_the_sleep_edf_electrodes_goes_to_the_two_channel_model(tmp_path: Path) -> None:
    channels = [Channel(f"{name}-Ref", eeg(seed), 100) for seed, name in enumerate(["Fpz", "Cz", "Pz", "Oz"])]
    choice = choose_model(write_psg(tmp_path / "night.edf", channels), None, None)
    assert choice.model.path.name == DEFAULT_MODEL and choice.channels == ["Fpz-Cz", "Pz-Oz"]


@pytest.mark.parametrize("labels, chosen", [
    # CAP: bipolar chains and one central derivation against the earlobe.
    (["Fp2-F4", "F4-C4", "C4-P4", "P4-O2", "C4-A1", "ROC-LOC", "EMG1-EMG2"], ["C4-A1", "P4-O2"]),
    # Dreem Open Dataset: underscores between the electrodes.
    (["F3_F4", "C3_M2", "FP1_O1", "F3_M2", "EOG1", "EMG"], ["C3_M2", "F3_M2"]),
    # MASS: linked-ear reference.
    (["EEG Fp1-LER", "EEG C3-LER", "EEG O2-LER", "EOG Right Horiz"], ["EEG C3-LER", "EEG O2-LER"]),
])
def test_other_labs_spellings_are_scored_by_default(tmp_path: Path, labels: list[str], chosen: list[str]) -> None:
    fs = 200.0
    psg = write_psg(tmp_path / "night.edf", [Channel(label, eeg(i, fs), fs) for i, label in enumerate(labels)])
    night = score_night(psg)
    assert night.model.name == ANY_EEG_MODEL and night.channels == chosen
    alone = [score_night(psg, channels=[label]).probs for label in chosen]
    np.testing.assert_allclose(night.probs, geometric_pool(*alone), atol=1e-5)
