"""Channel choice for single-EEG models: standard derivations first, never EOG/EMG/ECG."""

from __future__ import annotations

import pytest

from sleepscore.errors import DataError
from sleepscore.montage import EEG_PRIORITY, choose_eeg, derivation_key, eeg_candidates, is_eeg, referenced_pairs

#: What a clinical PSG export holds besides EEG (AASM labels and a few vendors' spellings).
NOT_EEG = ["E1-M2", "E2-M1", "EOG LOC-A2", "ROC-A1", "EMG Chin1-Chin2", "Chin", "LLeg", "RLeg",
           "Leg/L", "ECG", "EKG", "ECG II", "Airflow", "Nasal Pressure", "Thor", "Abdo", "SpO2",
           "SaO2", "Pleth", "Pulse", "Snore", "Position", "Light", "Event marker",
           "Resp oro-nasal", "Temp rectal", "EMG submental", "EOG horizontal", "HR", "Sum"]


@pytest.mark.parametrize("label", NOT_EEG)
def test_non_eeg_channels_are_never_eeg(label: str) -> None:
    assert not is_eeg(label)


@pytest.mark.parametrize("label", ["EEG C4-M1", "C4-A1", "C4:M1", "c4/m1", "EEG C3-A2", "F4-M1",
                                   "O2-M1", "EEG Fpz-Cz", "EEG Pz-Oz", "Fp1-F7", "Cz", "EEG O1"])
def test_eeg_derivations_are_eeg(label: str) -> None:
    assert is_eeg(label)


@pytest.mark.parametrize("spelling", ["C4-M1", "C4-A1", "EEG C4-M1", "EEG C4-A1", "C4:M1",
                                      "C4/A1", "eeg c4 - m1", " C4-M1 ", "C4_M1", "EEG_C4_A1", "C4M1",
                                      "C4A1"])
def test_spellings_of_c4_m1_are_one_derivation(spelling: str) -> None:
    assert derivation_key(spelling) == "c4-m1"


def test_central_is_chosen_before_frontal_and_occipital_whatever_the_file_order() -> None:
    labels = ["E1-M2", "EEG O2-M1", "EEG F4-M1", "Chin1-Chin2", "EEG C3-M2", "EEG C4-M1", "ECG"]
    choice = choose_eeg("night.edf", labels)
    assert choice.labels[0] == "EEG C4-M1"
    assert "--channels" in choice.reason and "night.edf" in choice.reason
    assert eeg_candidates(labels) == ["EEG C4-M1", "EEG C3-M2", "EEG F4-M1", "EEG O2-M1"]


def test_a_second_derivation_comes_from_the_farthest_region_never_the_other_hemisphere() -> None:
    labels = ["E1-M2", "EEG O2-M1", "EEG F4-M1", "EEG O1-M2", "EEG C3-M2", "EEG C4-M1", "EEG F3-M2"]
    choice = choose_eeg("night.edf", labels)
    assert choice.labels == ["EEG C4-M1", "EEG O2-M1"]
    assert "'EEG C4-M1', 'EEG O2-M1'" in choice.reason and "combined" in choice.reason
    assert choose_eeg("n.edf", ["C4-M1", "C3-M2", "F3-M2"]).labels == ["C4-M1", "F3-M2"]
    assert choose_eeg("n.edf", ["C4-M1", "C3-M2"]).labels == ["C4-M1"]
    assert choose_eeg("n.edf", ["O1-M2", "C3-M2", "F4-M1"]).labels == ["C3-M2", "O1-M2"]
    assert choose_eeg("n.edf", ["O1-M2", "C3-M2", "F4-M1"][::2]).labels == ["F4-M1", "O1-M2"]
    # Pz-Oz is an occipital derivation, Fpz-Cz a frontal one.
    assert choose_eeg("n.edf", ["EEG Pz-Oz", "C3-M2"]).labels == ["C3-M2", "EEG Pz-Oz"]
    assert choose_eeg("n.edf", ["EEG Fpz-Cz", "O1-M2"]).labels == ["O1-M2", "EEG Fpz-Cz"]


def test_bare_electrodes_are_not_added_to_a_standard_derivation() -> None:
    assert choose_eeg("n.edf", ["C4-M1", "O2", "Fz-Ref"]).labels == ["C4-M1"]


def test_backup_central_then_frontal_then_occipital() -> None:
    assert choose_eeg("n.edf", ["O1-M2", "F3-M2", "C3-A2"]).labels[0] == "C3-A2"
    assert choose_eeg("n.edf", ["O1-M2", "F3-M2"]).labels[0] == "F3-M2"
    assert choose_eeg("n.edf", ["O1-M2", "EEG Pz-Oz"]).labels == ["O1-M2"]
    assert choose_eeg("n.edf", ["EEG Pz-Oz", "EEG Fpz-Cz"]).labels[0] == "EEG Fpz-Cz"


def test_priority_puts_central_first_and_sleep_edf_derivations_after_the_aasm_ones() -> None:
    assert EEG_PRIORITY[:2] == ("c4-m1", "c3-m2")
    assert EEG_PRIORITY.index("o1-m2") < EEG_PRIORITY.index("fpz-cz")


def test_a_non_standard_eeg_label_is_taken_when_nothing_standard_exists() -> None:
    choice = choose_eeg("n.edf", ["ECG", "EEG T3-T5", "EEG T4-T6"])
    assert choice.labels == ["EEG T3-T5"]
    assert "no standard derivation" in choice.reason


def test_channels_below_50_hz_are_not_candidates() -> None:
    assert choose_eeg("n.edf", ["C4-M1", "C3-M2", "O2-M1"], rates=[32.0, 128.0, 40.0]).labels == ["C3-M2"]


def test_no_eeg_is_one_line_naming_the_file_the_channels_and_the_option() -> None:
    with pytest.raises(DataError) as caught:
        choose_eeg("psg.edf", ["E1-M2", "Chin", "ECG"])
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("psg.edf: no EEG channel")
    assert "'E1-M2'" in message and "'ECG'" in message and "--channels" in message


def test_a_missing_named_channel_lists_the_eeg_candidates_and_the_option() -> None:
    from sleepscore.io.edf import match_channels

    with pytest.raises(DataError) as caught:
        match_channels(["C3-M2"], ["E1-M2", "EEG O2-M1", "Chin", "EEG C4-M1"], "psg.edf")
    message = str(caught.value)
    assert "no channel 'C3-M2'" in message
    assert "(EEG: EEG C4-M1, EEG O2-M1)" in message and message.endswith("choose with --channels")


def test_channels_against_one_reference_make_every_derivation_between_their_electrodes() -> None:
    pairs = referenced_pairs(["EEG C4-REF", "EEG A1-REF", "EEG O2-REF", "EOG E2-REF", "ECG"])
    assert pairs["c4-m1"] == ("EEG C4-REF", "EEG A1-REF") and pairs["o2-m1"] == ("EEG O2-REF", "EEG A1-REF")
    assert not any("e2" in key for key in pairs)
    assert referenced_pairs(["C3", "A2", "O1"])["c3-m2"] == ("C3", "A2")
    # Different references never pair: Sleep-EDF's two derivations make nothing new.
    assert referenced_pairs(["EEG Fpz-Cz", "EEG Pz-Oz", "C4-AVG", "M1-REF"]) == {}


def test_a_referential_file_is_scored_on_the_derivations_it_can_build() -> None:
    labels = ["EEG Fp1-REF", "EEG O2-REF", "EEG C4-REF", "EEG A1-REF", "EEG A2-REF", "EOG E1-REF"]
    choice = choose_eeg("night.edf", labels)
    assert choice.labels == ["C4-M1", "O2-M1"]
    assert "'C4-M1' as 'EEG C4-REF' minus 'EEG A1-REF'" in choice.reason
    assert "'O2-M1' as 'EEG O2-REF' minus 'EEG A1-REF'" in choice.reason
    # The file's own derivation comes before one built to the same rank, and after a better one.
    assert choose_eeg("n.edf", ["C4-M1", "C4-REF", "M1-REF"]).labels == ["C4-M1"]
    assert choose_eeg("n.edf", ["O2-M1", "C3-REF", "A2-REF"]).labels == ["C3-M2", "O2-M1"]


@pytest.mark.parametrize("spelling", ["C3-LE", "EEG C3-LER", "EEG C3-CLE", "C3-LNK", "C3-A1A2",
                                      "C3-(A1+A2)/2", "C3-M1+M2", "C3 (A1+A2)"])
def test_spellings_of_a_linked_ears_reference_are_one_derivation(spelling: str) -> None:
    assert derivation_key(spelling) == "c3-le"
    assert is_eeg(spelling)


def test_linked_ears_follow_the_mastoids_of_their_region() -> None:
    # MASS-style linked-ear exports list Fp1 first; the central electrode is still the one scored,
    # and a second derivation comes from the farthest region, as with mastoids.
    labels = ["EEG Fp1-LER", "EEG F3-LER", "EEG O1-LER", "EEG C3-LER", "EEG A2-LER"]
    assert eeg_candidates(labels[:4])[:3] == ["EEG C3-LER", "EEG F3-LER", "EEG O1-LER"]
    assert choose_eeg("n.edf", labels[:4]).labels == ["EEG C3-LER", "EEG O1-LER"]
    # With the mastoid recorded too, the derivation built against it comes first, the mastoid
    # itself last.
    assert eeg_candidates(labels)[:3] == ["C3-M2", "EEG C3-LER", "F3-M2"]
    assert eeg_candidates(labels)[-1] == "EEG A2-LER"
    assert EEG_PRIORITY.index("cz-m2") < EEG_PRIORITY.index("c3-le") < EEG_PRIORITY.index("f4-m1")


def test_a_bipolar_chain_gives_its_links_closest_to_the_sleep_edf_derivations() -> None:
    # CAP-style files: one referential central derivation and bipolar chains.
    cap = ["Fp2-F4", "F4-C4", "C4-P4", "P4-O2", "Fp1-F3", "F3-C3", "C3-P3", "P3-O1", "C4-A1", "ROC-LOC"]
    assert choose_eeg("n.edf", cap).labels == ["C4-A1", "P4-O2"]
    # A chain alone: the parietal-occipital link (Pz-Oz's geometry), then the frontopolar one.
    assert choose_eeg("n.edf", cap[:8]).labels == ["P4-O2", "Fp2-F4"]
    assert choose_eeg("n.edf", ["F3-C3", "C3-P3"]).labels == ["C3-P3"]
