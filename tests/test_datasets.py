"""Dataset spec, folder pairing, subject parsing and the MNE download path (local server only)."""

from __future__ import annotations

import csv
import functools
import hashlib
import http.server
import threading
import warnings
from pathlib import Path

import mne.datasets.sleep_physionet.age as mne_age
import pytest

from sleepscore.batch import expand_inputs
from sleepscore.datasets import (SLEEP_EDF_20, RecordingPair, fetch_sleep_edf20, pair_folder,
                                 pair_sleep_edf, parse_subjects, subject_night)
from sleepscore.errors import DataError, SleepscoreError, UsageError


@pytest.mark.parametrize("text, expected", [
    ("15-19", [15, 16, 17, 18, 19]),
    ("0,3,5-7", [0, 3, 5, 6, 7]),
    (" 4 , 2-3,4", [2, 3, 4]),
    ("13", [13]),
])
def test_parse_subjects(text, expected):
    assert parse_subjects(text) == expected


@pytest.mark.parametrize("text", ["", "a", "3-1", "1,,2", "1-", "-2", "1.5", "0-3-5"])
def test_parse_subjects_rejects_nonsense(text):
    with pytest.raises(UsageError, match="subjects"):
        parse_subjects(text)


def test_subject_and_night_come_from_the_name():
    assert subject_night("SC4001E0-PSG.edf") == (0, 1)
    assert subject_night("/data/SC4192EV-Hypnogram.edf") == (19, 2)
    with pytest.raises(DataError, match="night.edf"):
        subject_night("night.edf")


def test_spec_has_the_39_nights_of_the_real_hypnogram_folder(sleep_edf_dir):
    real = {subject_night(p.name) for p in (sleep_edf_dir / "hypnograms").glob("SC4*-Hypnogram.edf")}
    assert len(real) == 39
    assert set(SLEEP_EDF_20.recordings()) == real
    assert (13, 2) not in real
    with pytest.raises(UsageError, match="20"):
        SLEEP_EDF_20.recordings([20])


def test_label_map_follows_rk_to_aasm():
    labels = SLEEP_EDF_20.label_map
    assert labels["Sleep stage 3"] == labels["Sleep stage 4"] == 3
    assert labels["Sleep stage R"] == 4 and labels["Sleep stage W"] == 0
    assert labels["Sleep stage ?"] == labels["Movement time"] == -1


def _touch(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).write_bytes(b"0")


def test_sleep_edf_pairing_uses_the_first_seven_characters(tmp_path, sleep_edf_dir):
    hypnograms = sorted(p.name for p in (sleep_edf_dir / "hypnograms").glob("*-Hypnogram.edf"))
    psgs = [f"{name[:7]}0-PSG.edf" for name in hypnograms]  # real letters differ: EC, EH, EJ, EP
    _touch(tmp_path, *hypnograms, *psgs)
    pairs = pair_sleep_edf(tmp_path)
    assert len(pairs) == 39
    for pair in pairs:
        assert pair.psg.name[:7] == pair.hypnogram.name[:7]
        assert pair.psg.name[7] == "0" and pair.hypnogram.name.endswith("-Hypnogram.edf")
    assert pairs[2].name == "SC4011E0" and pairs[2].hypnogram.name == "SC4011EH-Hypnogram.edf"


def test_sleep_edf_pairing_names_an_orphan(tmp_path):
    _touch(tmp_path, "SC4001E0-PSG.edf", "SC4001EC-Hypnogram.edf", "SC4002E0-PSG.edf")
    with pytest.raises(DataError, match="SC4002E0-PSG.edf"):
        pair_sleep_edf(tmp_path)
    with pytest.warns(UserWarning, match="SC4002E0-PSG.edf"):
        assert [p.name for p in pair_sleep_edf(tmp_path, strict=False)] == ["SC4001E0"]


def test_generic_pairing_rule(tmp_path):
    _touch(tmp_path, "a.edf", "a.tsv", "b.edf", "b-hypnogram.edf", "c.EDF", "c_Hypnogram.txt",
           "SC4001E0-PSG.edf", "SC4001EC-Hypnogram.edf", "README.md")
    pairs = pair_folder(tmp_path)
    assert [(p.psg.name, p.hypnogram.name) for p in pairs] == [
        ("SC4001E0-PSG.edf", "SC4001EC-Hypnogram.edf"),
        ("a.edf", "a.tsv"),
        ("b.edf", "b-hypnogram.edf"),
        ("c.EDF", "c_Hypnogram.txt"),
    ]


def test_dreams_style_hypnograms_named_after_their_recording(tmp_path):
    # DREAMS names the scoring after the recording: Hypnogram_excerpt1.txt for excerpt1.edf.
    _touch(tmp_path, "excerpt1.edf", "Hypnogram_excerpt1.txt", "excerpt10.edf",
           "Hypnogram_excerpt10.txt", "subject1.edf", "HypnogramAASM_subject1.txt")
    assert [(p.psg.name, p.hypnogram.name) for p in pair_folder(tmp_path)] == [
        ("excerpt1.edf", "Hypnogram_excerpt1.txt"),
        ("excerpt10.edf", "Hypnogram_excerpt10.txt"),
        ("subject1.edf", "HypnogramAASM_subject1.txt"),
    ]
    # Its whole-night databases also hold an R&K scoring of each night. The models score AASM
    # stages, so the AASM one is used, the other named and not reported as unmatched.
    _touch(tmp_path, "HypnogramR&K_subject1.txt")
    with pytest.warns(UserWarning, match=r"subject1\.edf: scored with HypnogramAASM_subject1\.txt, "
                                         r"the AASM scoring; HypnogramR&K_subject1\.txt left out"):
        pairs = pair_folder(tmp_path)
    pairs_by_name = [(p.psg.name, p.hypnogram.name) for p in pairs]
    assert ("subject1.edf", "HypnogramAASM_subject1.txt") in pairs_by_name
    # Two scorings neither or both naming AASM stay the user's call.
    _touch(tmp_path, "HypnogramAASM2_subject1.txt")
    with pytest.raises(DataError, match="subject1.edf.*several"):
        pair_folder(tmp_path)


def test_other_labs_scoring_names_pair_with_their_recordings(tmp_path):
    # MASS: "NAME PSG.edf" and "NAME Base.edf"; HMC: NAME.edf and NAME_sleepscoring.edf (one
    # name the prefix of another); another lab's NAME-PSG.edf and NAME-Hypnogram.edf.
    _touch(tmp_path, "01-01-0001 PSG.edf", "01-01-0001 Base.edf", "SN001.edf",
           "SN001_sleepscoring.edf", "SN0010.edf", "SN0010_sleepscoring.edf", "patient1-PSG.edf",
           "patient1-Hypnogram.edf",
           "n2_PSG.edf", "n2.tsv")
    assert [(p.psg.name, p.hypnogram.name) for p in pair_folder(tmp_path)] == [
        ("01-01-0001 PSG.edf", "01-01-0001 Base.edf"), ("SN001.edf", "SN001_sleepscoring.edf"),
        ("SN0010.edf", "SN0010_sleepscoring.edf"), ("n2_PSG.edf", "n2.tsv"),
        ("patient1-PSG.edf", "patient1-Hypnogram.edf")]
    # predict on the folder scores the recordings only.
    assert [p.name for p in expand_inputs([tmp_path])] == [
        "01-01-0001 PSG.edf", "SN001.edf", "SN0010.edf", "n2_PSG.edf", "patient1-PSG.edf"]


def test_a_name_that_starts_another_takes_only_its_own_hypnogram(tmp_path):
    _touch(tmp_path, "a.edf", "ab.edf", "ab-hypnogram.edf", "a-hypnogram.edf")
    assert [(p.psg.name, p.hypnogram.name) for p in pair_folder(tmp_path)] == [
        ("a.edf", "a-hypnogram.edf"), ("ab.edf", "ab-hypnogram.edf")]


def test_text_files_named_after_no_recording_are_left_alone(tmp_path):
    # A PhysioNet download holds SHA256SUMS.txt; a DREAMS folder its spindle scorings.
    _touch(tmp_path, "SC4001E0-PSG.edf", "SC4001EC-Hypnogram.edf", "SHA256SUMS.txt", "README.txt",
           "excerpt1.edf", "Hypnogram_excerpt1.txt", "Visual_scoring1_excerpt1.txt")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pairs = pair_folder(tmp_path)
    assert [(p.psg.name, p.hypnogram.name) for p in pairs] == [
        ("SC4001E0-PSG.edf", "SC4001EC-Hypnogram.edf"), ("excerpt1.edf", "Hypnogram_excerpt1.txt")]
    # A file named as a hypnogram is one, and without its recording it is still an error.
    _touch(tmp_path, "night2-hypnogram.txt")
    with pytest.raises(DataError, match=r"1 file\(s\) without a partner: night2-hypnogram\.txt$"):
        pair_folder(tmp_path)


def test_generic_pairing_reports_unmatched_and_ambiguous(tmp_path):
    _touch(tmp_path, "a.edf", "a.csv", "lonely.edf", "stray.tsv")
    # stray.tsv may be lonely.edf's hypnogram misnamed: named beside it.
    with pytest.raises(DataError, match=r"without a partner: lonely\.edf \(text files not named "
                                        r"after a recording, not taken as hypnograms: "
                                        r"stray\.tsv\)"):
        pair_folder(tmp_path)
    with pytest.warns(UserWarning, match="lonely.edf"):
        assert [p.name for p in pair_folder(tmp_path, strict=False)] == ["a"]
    _touch(tmp_path, "a-hypnogram.edf")
    with pytest.raises(DataError, match="a.edf.*several"):
        pair_folder(tmp_path, strict=False)


def test_mne_checksums_match_the_real_hypnogram_files(sleep_edf_dir):
    """The seam the download tests patch is the table MNE really checks against."""
    with open(mne_age.AGE_SLEEP_RECORDS, newline="") as file:
        sha1 = {row["fname"]: row["sha"] for row in csv.DictReader(file)}
    for name in ("SC4001EC-Hypnogram.edf", "SC4131EC-Hypnogram.edf"):
        digest = hashlib.sha1((sleep_edf_dir / "hypnograms" / name).read_bytes()).hexdigest()
        assert sha1[name] == digest


# ---- download through a local PhysioNet look-alike -------------------------------------------

NIGHTS = {"SC4001E0-PSG.edf": b"psg night 1" * 50, "SC4001EC-Hypnogram.edf": b"hyp 1" * 40,
          "SC4002E0-PSG.edf": b"psg night 2" * 60, "SC4002EC-Hypnogram.edf": b"hyp 2" * 30}


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    timeout = 5  # a stuck client cannot hold the server thread

    def log_message(self, *args):
        pass


@pytest.fixture
def physionet(tmp_path):
    """A local server laid out like PhysioNet; yields ``(base_url, cassette_folder)``."""
    root = tmp_path / "www"
    cassette = root / "sleep-edfx" / "1.0.0" / "sleep-cassette"
    cassette.mkdir(parents=True)
    for name, content in NIGHTS.items():
        (cassette / name).write_bytes(content)
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    server.timeout = 5
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/sleep-edfx/1.0.0/sleep-cassette", cassette
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def registry(tmp_path, monkeypatch):
    """MNE's record table with the sha1 of the served files for subject 0 (the rest unchanged)."""
    with open(mne_age.AGE_SLEEP_RECORDS, newline="") as file:
        rows = list(csv.reader(file))
    header = rows[0]
    for row in rows[1:]:
        if row[header.index("fname")] in NIGHTS:
            row[header.index("sha")] = hashlib.sha1(NIGHTS[row[header.index("fname")]]).hexdigest()
    patched = tmp_path / "age_records.csv"
    with patched.open("w", newline="") as file:
        csv.writer(file).writerows(rows)
    monkeypatch.setattr(mne_age, "AGE_SLEEP_RECORDS", str(patched))
    return patched


def test_download_checks_and_stores_then_reuses(physionet, registry, tmp_path):
    base_url, _ = physionet
    data_dir = tmp_path / "data"
    pairs = fetch_sleep_edf20([0], data_dir=data_dir, base_url=base_url)
    assert [p.name for p in pairs] == ["SC4001E0", "SC4002E0"]
    for pair in pairs:
        assert isinstance(pair, RecordingPair)
        assert pair.psg.read_bytes() == NIGHTS[pair.psg.name]
        assert pair.hypnogram.read_bytes() == NIGHTS[pair.hypnogram.name]
        assert data_dir in pair.psg.parents
    # Offline now (nothing listens there): the files under --data-dir are used as they are.
    again = fetch_sleep_edf20([0], data_dir=data_dir, base_url="http://127.0.0.1:9/nowhere")
    assert again == pairs


def test_files_already_in_data_dir_need_no_download(tmp_path):
    _touch(tmp_path, "SC4001E0-PSG.edf", "SC4001EC-Hypnogram.edf", "SC4002E0-PSG.edf",
           "SC4002EC-Hypnogram.edf")
    pairs = fetch_sleep_edf20([0], data_dir=tmp_path, base_url="http://127.0.0.1:9/nowhere")
    assert [(p.psg.parent, p.name) for p in pairs] == [(tmp_path, "SC4001E0"), (tmp_path, "SC4002E0")]


def test_a_corrupt_download_is_rejected_and_not_kept(physionet, registry, tmp_path):
    base_url, cassette = physionet
    (cassette / "SC4002EC-Hypnogram.edf").write_bytes(b"tampered")
    data_dir = tmp_path / "data"
    with pytest.raises(SleepscoreError, match="checksum"):
        fetch_sleep_edf20([0], data_dir=data_dir, base_url=base_url)
    assert not list(data_dir.rglob("SC4002EC-Hypnogram.edf"))


def test_offline_download_says_what_failed_and_how_to_work_offline(registry, tmp_path):
    with pytest.raises(DataError, match=r"127\.0\.0\.1:9.*--data-dir") as err:
        fetch_sleep_edf20([0], data_dir=tmp_path, base_url="http://127.0.0.1:9/sleep-cassette")
    assert "\n" not in str(err.value)


def test_missing_night_of_subject_13_is_skipped_with_mne_warning(tmp_path):
    _touch(tmp_path, "SC4131E0-PSG.edf", "SC4131EC-Hypnogram.edf")
    with pytest.warns(RuntimeWarning, match="subject 13"):
        pairs = fetch_sleep_edf20([13], data_dir=tmp_path, base_url="http://127.0.0.1:9/nowhere")
    assert [p.name for p in pairs] == ["SC4131E0"]


def test_subjects_outside_sleep_edf20_are_refused():
    with pytest.raises(UsageError, match="25"):
        fetch_sleep_edf20([3, 25])


def test_command_line_dataset_choices_are_the_registry() -> None:
    # The CLI spells the names out to keep `--help` fast; they must not drift from the registry.
    from sleepscore.cli.evaluate import SCORABLE_DATASETS
    from sleepscore.cli.train import train
    from sleepscore.datasets import DATASETS

    choices = next(p for p in train.params if p.name == "dataset").type.choices
    assert sorted(choices) == sorted(DATASETS)
    assert list(SCORABLE_DATASETS) == [name for name, spec in DATASETS.items()
                                       if spec.files == "psg" and spec.subjects]


def test_unknown_dataset_names_the_known_ones() -> None:
    from sleepscore.datasets import get_dataset

    with pytest.raises(UsageError, match="sleep-edf20-features"):
        get_dataset("sleep-edf-78")


def test_folder_dataset_pairs_its_folder_and_refuses_subjects(tmp_path: Path) -> None:
    from sleepscore.datasets import FOLDER

    (tmp_path / "a.edf").write_bytes(b"")
    (tmp_path / "a.tsv").write_text("onset\tduration\tdescription\n")
    assert FOLDER.pairs(tmp_path) == [RecordingPair(tmp_path / "a.edf", tmp_path / "a.tsv")]
    with pytest.raises(UsageError, match="--data-dir"):
        FOLDER.pairs(None)
    with pytest.raises(UsageError, match="--subjects"):
        FOLDER.pairs(tmp_path, [1])
