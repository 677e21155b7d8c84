"""Hypnogram reading, label mapping, alignment to PSG epochs, trimming and lights tables.

Expected values come from the real Sleep-EDF text files parsed here with the csv module, from
the per-night feature files, from pyedflib's view of the PSG excerpt, or are worked out by hand
from the parameters that generated each file.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyedflib
import pytest

from sleepscore.errors import DataError, UsageError
from sleepscore.alignment import epoch_labels, trim_mask
from sleepscore.io.hypnogram import Hypnogram, read_hypnogram
from sleepscore.io.lights import read_lights_table
from sleepscore.labels import parse_label_map

W, N1, N2, N3, REM, UNSCORED = 0, 1, 2, 3, 4, -1
PSG_START = datetime(2021, 3, 4, 22, 15, 0)

# The Sleep-EDF README's mapping, written out independently of the module's label table.
SLEEP_EDF_CODES = {
    "Sleep stage W": W, "Sleep stage 1": N1, "Sleep stage 2": N2, "Sleep stage 3": N3,
    "Sleep stage 4": N3, "Sleep stage R": REM, "Sleep stage ?": UNSCORED,
    "Movement time": UNSCORED,
}


def write_edf_hypnogram(path: Path, annotations: list[tuple[float, float, str]],
                        start: datetime = PSG_START) -> Path:
    """An EDF+ file with no signals, only (onset, duration, label) annotations."""
    writer = pyedflib.EdfWriter(str(path), 0, file_type=pyedflib.FILETYPE_EDFPLUS)
    writer.setStartdatetime(start)
    for onset, duration, label in annotations:
        writer.writeAnnotation(onset, duration, label)
    writer.close()
    return path


def write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def sleep_edf_text_counts(path: Path) -> tuple[dict[int, int], datetime]:
    """Epochs per stage code and the first onset, straight from a Sleep-EDF text hypnogram."""
    counts: dict[int, int] = {}
    with path.open(newline="") as file:
        rows = list(csv.DictReader(file, delimiter="\t"))
    for row in rows:
        code = SLEEP_EDF_CODES[row["Annotation"]]
        counts[code] = counts.get(code, 0) + int(row["Duration"]) // 30
    return counts, datetime.fromisoformat(rows[0]["Onset"][:19])


def counts_by_code(labels: np.ndarray) -> dict[int, int]:
    codes, counts = np.unique(labels, return_counts=True)
    return {int(code): int(count) for code, count in zip(codes, counts)}


# --- real Sleep-EDF files ------------------------------------------------------------------------


def test_all_real_edf_hypnograms_match_the_text_scorings(sleep_edf_dir: Path) -> None:
    edf_files = sorted((sleep_edf_dir / "hypnograms").glob("*-Hypnogram.edf"))
    assert len(edf_files) == 39
    for edf in edf_files:
        (text,) = (sleep_edf_dir / "hypnograms-sc78").glob(f"{edf.name[:7]}*.txt")
        expected, first_onset = sleep_edf_text_counts(text)
        hyp = read_hypnogram(edf)
        assert hyp.start == first_onset, edf.name
        n_epochs = sum(expected.values())
        labels = epoch_labels(hyp, n_epochs, psg_start=first_onset)
        assert counts_by_code(labels) == expected, edf.name


def test_real_text_hypnograms_read_like_their_edf_twins(sleep_edf_dir: Path) -> None:
    edf = read_hypnogram(sleep_edf_dir / "hypnograms" / "SC4012EC-Hypnogram.edf")
    text = read_hypnogram(sleep_edf_dir / "hypnograms-sc78" / "SC4012E0.txt")
    expected, first_onset = sleep_edf_text_counts(sleep_edf_dir / "hypnograms-sc78" / "SC4012E0.txt")
    n_epochs = sum(expected.values())
    assert text.start == first_onset
    assert counts_by_code(epoch_labels(text, n_epochs, psg_start=first_onset)) == expected
    np.testing.assert_array_equal(epoch_labels(text, n_epochs, psg_start=first_onset),
                                  epoch_labels(edf, n_epochs, psg_start=first_onset))


def test_epoch_labels_agree_with_the_feature_files(sleep_edf_dir: Path) -> None:
    feature_files = sorted((sleep_edf_dir / "features").glob("*.npz"))
    assert len(feature_files) == 16
    for npz in feature_files:
        y = np.load(npz)["y"]
        (edf,) = (sleep_edf_dir / "hypnograms").glob(f"{npz.name[:7]}*-Hypnogram.edf")
        hyp = read_hypnogram(edf)
        whole_night = epoch_labels(hyp, 4000, psg_start=hyp.start)  # past every hypnogram's end
        scored_positions = np.flatnonzero(whole_night >= 0)
        # The PSG ends with the epoch of the last feature row (see the data README).
        n_psg_epochs = int(scored_positions[len(y) - 1]) + 1
        labels = epoch_labels(hyp, n_psg_epochs, psg_start=hyp.start)
        assert len(labels) == n_psg_epochs
        np.testing.assert_array_equal(labels[labels >= 0], y, err_msg=npz.name)


def test_real_psg_excerpt_aligns_by_clock_to_its_hypnogram(sleep_edf_dir: Path) -> None:
    with pyedflib.EdfReader(str(sleep_edf_dir / "excerpt" / "SC4001E0-PSG-first5min.edf")) as psg:
        psg_start = psg.getStartdatetime()
        n_epochs = int(psg.getFileDuration() // 30)
    hyp = read_hypnogram(sleep_edf_dir / "hypnograms" / "SC4001EC-Hypnogram.edf")
    # The README: the excerpt is 10 epochs, all scored "Sleep stage W".
    np.testing.assert_array_equal(epoch_labels(hyp, n_epochs, psg_start=psg_start), [W] * 10)


def test_a_psg_file_is_not_a_hypnogram(sleep_edf_dir: Path) -> None:
    excerpt = sleep_edf_dir / "excerpt" / "SC4001E0-PSG-first5min.edf"
    with pytest.raises(DataError, match=r"SC4001E0-PSG-first5min\.edf: .*no annotations"):
        read_hypnogram(excerpt)


def test_real_lights_table_converts_clock_times_across_midnight(sleep_edf_dir: Path) -> None:
    table = read_lights_table(sleep_edf_dir / "sc78-nights.tsv")
    assert len(table.nights) == 153
    # SC4001E0: start 16:13:00, lights off 00:38:00 (+8 h 25 min), on 06:59:00 (+14 h 46 min).
    assert table.nights["SC4001E0"] == (8 * 3600 + 25 * 60, 14 * 3600 + 46 * 60)
    # SC4002E0: start 14:50:00, off 21:57:00 the same evening, on 06:43:30 the next morning.
    assert table.nights["SC4002E0"] == (7 * 3600 + 7 * 60, 15 * 3600 + 53 * 60 + 30)
    assert table.lookup("SC4002E0-PSG") == table.nights["SC4002E0"]
    assert all(0 <= off < on < 86400 for off, on in table.nights.values())


# --- formats ---------------------------------------------------------------------------------


def test_edf_plus_hypnogram_keeps_its_clock_start_and_drops_point_events(tmp_path: Path) -> None:
    path = write_edf_hypnogram(tmp_path / "night.edf", [
        (0, 60, "Sleep stage W"), (60, -1, "Lights off"), (60, 90, "Sleep stage 2"),
        (150, 30, "Sleep stage R")])
    hyp = read_hypnogram(path)
    assert hyp.start == PSG_START
    np.testing.assert_array_equal(hyp.onsets, [0, 60, 150])
    np.testing.assert_array_equal(hyp.stages, [W, N2, REM])
    np.testing.assert_array_equal(epoch_labels(hyp, 6, psg_start=PSG_START),
                                  [W, W, N2, N2, N2, REM])


@pytest.mark.parametrize(("name", "text"), [
    ("bids.tsv", "onset\tduration\tdescription\n0\t60\tW\n60\t30\tN1\n90\t60\tN2\n"),
    ("upper.csv", "Onset,Duration,Stage\n0.0,60.0,Sleep stage W\n60,30,Sleep stage 1\n"
                  "90,60,Sleep stage 2\n"),
    ("semicolon.csv", "start;length;label;scorer\n0;60;wake;A\n60;30;n1;A\n90;60;n2;A\n"),
    ("units.tsv", "Onset (s)\tDuration [s]\tAnnotation\n0\t60\tW\n60\t30\t1\n90\t60\t2\n"),
    ("quoted.csv", 'onset,duration,trial_type\n0,60,"W"\n60,30,"N1"\n90,60,"N2"\n'),
    ("reordered.txt", "description\tonset\tduration\nW\t0\t60\nN1\t60\t30\nN2\t90\t60\n"),
])
def test_event_tables_with_header_synonyms_and_delimiters(tmp_path: Path, name: str,
                                                          text: str) -> None:
    hyp = read_hypnogram(write_text(tmp_path / name, text))
    assert hyp.start is None
    np.testing.assert_array_equal(epoch_labels(hyp, 6), [W, W, N1, N2, N2, UNSCORED])


def test_sleep_edf_style_text_with_iso_onsets(tmp_path: Path) -> None:
    path = write_text(tmp_path / "SC9999E0.txt",
                      "Onset\tDuration\tAnnotation\n"
                      "2021-03-04T22:15:00.0000000\t90\tSleep stage W\n"
                      "2021-03-04T22:16:30.0000000\t60\tSleep stage 4\n"
                      "2021-03-04T22:17:30.0000000\t30\tMovement time\n")
    hyp = read_hypnogram(path)
    assert hyp.start == PSG_START
    np.testing.assert_array_equal(hyp.onsets, [0, 90, 150])
    np.testing.assert_array_equal(epoch_labels(hyp, 6, psg_start=PSG_START),
                                  [W, W, W, N3, N3, UNSCORED])


@pytest.mark.parametrize("name", ["labels.txt", "labels.csv", "labels"])
def test_one_label_per_epoch_with_optional_header(tmp_path: Path, name: str) -> None:
    hyp = read_hypnogram(write_text(tmp_path / name, "Stage\nW\n\nN1\n N2 \nREM\n"))
    assert hyp.epoch_s is None  # detected against the recording: only 30 s fits 150 s
    np.testing.assert_array_equal(epoch_labels(hyp, 5), [W, N1, N2, REM, UNSCORED])
    # Line numbers count the header and the blank line, so messages point at the right line.
    np.testing.assert_array_equal(hyp.rows, [2, 4, 5, 6])


# --- labels ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("label", "code"), [
    # R&K
    ("W", W), ("1", N1), ("2", N2), ("3", N3), ("4", N3), ("R", REM), ("M", UNSCORED),
    ("?", UNSCORED), ("MT", UNSCORED),
    # AASM
    ("N1", N1), ("N2", N2), ("N3", N3), ("N4", N3), ("REM", REM), ("Wake", W),
    # Sleep-EDF
    ("Sleep stage W", W), ("Sleep stage 1", N1), ("Sleep stage 2", N2), ("Sleep stage 3", N3),
    ("Sleep stage 4", N3), ("Sleep stage R", REM), ("Sleep stage ?", UNSCORED),
    ("Movement time", UNSCORED),
    # not stages
    ("Unscored", UNSCORED), ("L", UNSCORED), ("Lights off", UNSCORED), ("Lights", UNSCORED),
    # case and whitespace
    ("  sleep STAGE r\t", REM), ("rem", REM), ("n3 ", N3), ("movement   TIME", UNSCORED),
])
def test_label_families(tmp_path: Path, label: str, code: int) -> None:
    path = write_text(tmp_path / "events.tsv", f"onset\tduration\tstage\n0\t30\t{label}\n")
    assert read_hypnogram(path).stages.tolist() == [code]


def test_unknown_label_names_label_file_and_line(tmp_path: Path) -> None:
    path = write_text(tmp_path / "odd.tsv", "onset\tduration\tstage\n0\t30\tW\n30\t30\tN5\n")
    with pytest.raises(DataError, match=r"odd\.tsv: line 3: unknown stage label 'N5'"):
        read_hypnogram(path)


def test_unknown_label_in_edf_names_the_annotation(tmp_path: Path) -> None:
    path = write_edf_hypnogram(tmp_path / "odd.edf", [(0, 30, "Sleep stage W"),
                                                      (30, 30, "Arousal")])
    with pytest.raises(DataError, match=r"odd\.edf: annotation 2: unknown stage label 'Arousal'"):
        read_hypnogram(path)


def test_integer_codes_need_a_label_map(tmp_path: Path) -> None:
    path = write_text(tmp_path / "codes.txt", "0\n1\n2\n3\n4\n5\n")
    with pytest.raises(DataError, match=r"codes\.txt: line 1: unknown stage label '0' .*label map"):
        read_hypnogram(path)
    label_map = {"0": "W", "1": "N1", "2": "N2", "3": "N3", "4": "REM", "5": "?"}
    # With the map, "4" is REM, not R&K stage 4 (N3): the map comes before the built-in labels.
    assert read_hypnogram(path, label_map=label_map).stages.tolist() == [W, N1, N2, N3, REM,
                                                                         UNSCORED]


@pytest.mark.parametrize(("codes", "suggested"), [
    # ISRUC-style: REM is 5, there is no 4.
    ([0, 1, 2, 3, 5, 0], "0=W,1=N1,2=N2,3=N3,5=REM"),
    # R&K numbers with stage 4 and REM 5 (the NSRR's), and an unscored 9.
    ([2, 3, 4, 5, 0, 9], "0=W,2=N2,3=N3,4=N3,5=REM,9=?"),
    ([0, 2, 4, 1], "0=W,1=N1,2=N2,4=REM"),
])
def test_an_unknown_integer_code_lists_the_files_codes_and_a_map_for_them(
        tmp_path: Path, codes: list[int], suggested: str) -> None:
    path = write_text(tmp_path / "codes.txt", "".join(f"{code}\n" for code in codes))
    listed = ", ".join(str(code) for code in sorted(set(codes)))
    with pytest.raises(DataError, match=rf"this file's are {listed}: e\.g\. --label-map "
                                        rf"{re.escape(suggested)}\)$"):
        read_hypnogram(path)
    # The suggestion reads the file (what it means is still the lab's to say).
    read_hypnogram(path, label_map=parse_label_map(suggested))


def test_label_map_to_a_non_stage_is_a_usage_error(tmp_path: Path) -> None:
    path = write_text(tmp_path / "codes.txt", "0\n")
    with pytest.raises(UsageError, match=r"'0' maps to 'N5'"):
        read_hypnogram(path, label_map={"0": "N5"})


@pytest.mark.parametrize("spec", ["0=W,1=N1,2=N2,3=N3,4=REM", " 0 = w , 1=n1,2=N2, 3=N3,4=R "])
def test_parse_inline_label_map(tmp_path: Path, spec: str) -> None:
    label_map = parse_label_map(spec)
    path = write_text(tmp_path / "codes.txt", "4\n3\n2\n1\n0\n")
    assert read_hypnogram(path, label_map=label_map).stages.tolist() == [REM, N3, N2, N1, W]


def test_parse_label_map_files(tmp_path: Path) -> None:
    pairs = write_text(tmp_path / "map.txt", "# Somnomedics export\n0=W\n\n1=N1  # light\n"
                                             "2=N2\n3=N3\n5=REM\n9=?\n")
    assert parse_label_map(str(pairs)) == {"0": "W", "1": "N1", "2": "N2", "3": "N3",
                                           "5": "REM", "9": "?"}
    as_json = write_text(tmp_path / "map.json", json.dumps({"0": "W", "5": "REM"}))
    assert parse_label_map(str(as_json)) == {"0": "W", "5": "REM"}


@pytest.mark.parametrize(("spec", "message"), [
    ("0=W,1=N7", r"'1' maps to 'N7'"),
    ("0=W,1", r"'1' is not CODE=STAGE"),
    ("0=W,0=N1", r"code '0' is given twice"),
    ("W N1 N2", r"neither a file nor CODE=STAGE"),
])
def test_parse_label_map_errors(spec: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_label_map(spec)


def test_parse_label_map_rejects_json_that_is_not_an_object(tmp_path: Path) -> None:
    path = write_text(tmp_path / "map.json", '{"0": 1}')
    with pytest.raises(UsageError, match=r"map\.json: JSON must be an object"):
        parse_label_map(str(path))


# --- alignment ----------------------------------------------------------------------------------


def test_hypnogram_starting_60_s_after_the_psg_leaves_two_leading_unscored_epochs(
        tmp_path: Path) -> None:
    path = write_edf_hypnogram(tmp_path / "late.edf", [(0, 90, "Sleep stage 2")],
                               start=PSG_START + timedelta(seconds=60))
    labels = epoch_labels(read_hypnogram(path), 6, psg_start=PSG_START)
    np.testing.assert_array_equal(labels, [UNSCORED, UNSCORED, N2, N2, N2, UNSCORED])


def test_hypnogram_one_epoch_early_loses_its_first_epoch(tmp_path: Path) -> None:
    path = write_edf_hypnogram(tmp_path / "early.edf", [(0, 30, "Sleep stage W"),
                                                        (30, 60, "Sleep stage 1")],
                               start=PSG_START - timedelta(seconds=30))
    np.testing.assert_array_equal(epoch_labels(read_hypnogram(path), 3, psg_start=PSG_START),
                                  [N1, N1, UNSCORED])


def test_labels_past_the_psg_are_cut_and_gaps_are_unscored(tmp_path: Path) -> None:
    path = write_text(tmp_path / "gappy.tsv", "onset\tduration\tstage\n0\t60\tW\n"
                                              "120\t30\tN2\n150\t3000\tN3\n")
    np.testing.assert_array_equal(epoch_labels(read_hypnogram(path), 7),
                                  [W, W, UNSCORED, UNSCORED, N2, N3, N3])


def test_clock_alignment_ignores_a_time_zone_on_one_side_only(tmp_path: Path) -> None:
    path = write_text(tmp_path / "tz.tsv", "onset\tduration\tstage\n"
                                           "2021-03-04T22:16:00+01:00\t30\tN1\n")
    labels = epoch_labels(read_hypnogram(path), 3, psg_start=PSG_START)
    np.testing.assert_array_equal(labels, [UNSCORED, UNSCORED, N1])


def test_hypnogram_of_another_night_is_an_error_with_the_gap(tmp_path: Path) -> None:
    path = write_edf_hypnogram(tmp_path / "next.edf", [(0, 600, "Sleep stage W")],
                               start=PSG_START + timedelta(days=1))
    # A 10-epoch PSG ends 300 s after its start; the hypnogram starts 86400 s after it.
    with pytest.raises(DataError, match=r"next\.edf: .*starts 86100 s after the 300-s PSG ends"):
        epoch_labels(read_hypnogram(path), 10, psg_start=PSG_START)


def test_hypnogram_ending_before_the_psg_is_an_error_with_the_gap(tmp_path: Path) -> None:
    path = write_edf_hypnogram(tmp_path / "before.edf", [(0, 600, "Sleep stage W")],
                               start=PSG_START - timedelta(days=2))
    with pytest.raises(DataError, match=r"before\.edf: hypnogram ends 172200 s before the PSG"):
        epoch_labels(read_hypnogram(path), 10, psg_start=PSG_START)


def test_hypnogram_starting_more_than_an_epoch_early_is_an_error(tmp_path: Path) -> None:
    path = write_edf_hypnogram(tmp_path / "early.edf", [(0, 600, "Sleep stage W")],
                               start=PSG_START - timedelta(seconds=90))
    with pytest.raises(DataError, match=r"early\.edf: hypnogram starts 90 s before the PSG"):
        epoch_labels(read_hypnogram(path), 10, psg_start=PSG_START)


def test_clock_offset_off_the_epoch_grid_is_an_error(tmp_path: Path) -> None:
    path = write_edf_hypnogram(tmp_path / "shifted.edf", [(0, 600, "Sleep stage W")],
                               start=PSG_START + timedelta(seconds=15))
    with pytest.raises(DataError, match=r"shifted\.edf: hypnogram starts 15 s after the PSG, "
                                        r"not a whole number of 30-s epochs"):
        epoch_labels(read_hypnogram(path), 10, psg_start=PSG_START)


def test_duration_off_the_epoch_grid_names_the_row(tmp_path: Path) -> None:
    path = write_text(tmp_path / "ragged.tsv", "onset\tduration\tstage\n0\t30\tW\n"
                                               "30\t45\tN1\n75\t45\tN2\n")
    with pytest.raises(DataError, match=r"ragged\.tsv: line 3: interval 30-75 s .*30-s epoch grid"):
        epoch_labels(read_hypnogram(path), 4)
    # Past the end of the PSG the grid does not matter: those labels are cut anyway.
    np.testing.assert_array_equal(epoch_labels(read_hypnogram(path), 2), [W, N1])


# --- reading errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "message"), [
    ("", r"file is empty"),
    ("\n  \n", r"file is empty"),
    ("onset\tduration\tstage\n", r"table has a header but no rows"),
    ("stage\n", r"hypnogram has a header but no labels"),
    ("onset\tstage\n0\tW\n", r"no duration \(e\.g\. duration, dur, length\) column"),
    ("time,dur\n0,30\n", r"no stage \(e\.g\. stage, sleep stage, label\) column"),
    ("0\t30\tW\n", r"no onset .*; no duration .*; no stage .* column"),
    ("onset\tduration\tstage\n0\t30\n", r"line 2: 2 field\(s\), expected at least 3"),
    ("onset\tduration\tstage\n-30\t30\tW\n", r"line 2: negative onset -30 s"),
    ("onset\tduration\tstage\n0\t60\tW\n30\t30\tN1\n",
     r"line 3: onset 30 s overlaps the interval before it \(line 2\), which ends at 60 s"),
    ("onset\tduration\tstage\n0\tlong\tW\n", r"line 2: duration 'long' is not a number"),
    ("onset\tduration\tstage\n0\t-30\tW\n", r"line 2: duration '-30' is not a finite, non-neg"),
    ("onset\tduration\tstage\nnan\t30\tW\n", r"line 2: onset 'nan' is not finite"),
    ("onset\tduration\tstage\n22:15:00\t30\tW\n", r"line 2: onset '22:15:00' is neither seconds"),
    ("onset\tduration\tstage\n0\t30\tW\n2021-03-04T22:15:30\t30\tW\n",
     r"line 3: onsets mix seconds and date-times"),
    ("onset\tduration\tstage\n0\t0\tLights off\n", r"hypnogram has no annotation with a duration"),
])
def test_malformed_text_hypnograms(tmp_path: Path, text: str, message: str) -> None:
    path = write_text(tmp_path / "bad.tsv", text)
    with pytest.raises(DataError, match=r"bad\.tsv: " + message):
        read_hypnogram(path)


def test_binary_garbage_and_broken_edf_are_data_errors(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.txt"
    garbage.write_bytes(bytes(range(128, 256)))
    with pytest.raises(DataError, match=r"garbage\.txt: not UTF-8 text"):
        read_hypnogram(garbage)
    edf = write_edf_hypnogram(tmp_path / "cut.edf", [(0, 30, "Sleep stage W")])
    edf.write_bytes(edf.read_bytes()[:-10])
    with pytest.raises(DataError, match=r"cut\.edf: file is truncated"):
        read_hypnogram(edf)
    with pytest.raises(DataError, match=r"missing\.tsv: cannot read hypnogram"):
        read_hypnogram(tmp_path / "missing.tsv")


def test_hypnogram_fields_describe_the_rows(tmp_path: Path) -> None:
    path = write_text(tmp_path / "unsorted.tsv", "onset\tduration\tstage\n60\t30\tN1\n0\t60\tW\n")
    hyp = read_hypnogram(path)
    assert isinstance(hyp, Hypnogram)
    np.testing.assert_array_equal(hyp.onsets, [0, 60])
    np.testing.assert_array_equal(hyp.durations, [60, 30])
    assert hyp.where(0) == "line 3" and hyp.path == path and hyp.format == "events"


# --- trimming --------------------------------------------------------------------------------


def hand_made_night() -> np.ndarray:
    """100 wake, sleep from epoch 100 to 209 (with an unscored epoch inside), 100 wake."""
    labels = np.array([W] * 100 + [N1, N2, N3, N3, REM] * 22 + [W] * 100)
    labels[150] = UNSCORED
    return labels


def test_trim_none_keeps_everything() -> None:
    assert trim_mask(hand_made_night(), "none").all()


def test_trim_30min_keeps_sixty_epochs_either_side_of_sleep() -> None:
    mask = trim_mask(hand_made_night(), "30min")
    # First sleep epoch 100, last 209: keep 100-60 = 40 through 209+60 = 269.
    np.testing.assert_array_equal(np.flatnonzero(mask), np.arange(40, 270))


def test_trim_30min_window_is_clipped_to_the_recording() -> None:
    labels = np.array([W] * 10 + [N2] * 5 + [W] * 20)
    assert trim_mask(labels, "30min").all()


def test_trim_lights_keeps_whole_epochs_between_lights_off_and_on() -> None:
    labels = np.zeros(100, dtype=np.int64)
    # 600 s = start of epoch 20; 1500 s = end of epoch 49.
    np.testing.assert_array_equal(np.flatnonzero(trim_mask(labels, "lights", (600, 1500))),
                                  np.arange(20, 50))
    # Lights off mid-epoch 20: that epoch was partly lit, so it is left out.
    np.testing.assert_array_equal(np.flatnonzero(trim_mask(labels, "lights", (610, 1500))),
                                  np.arange(21, 50))


def test_trim_errors() -> None:
    with pytest.raises(DataError, match=r"night\.edf: no sleep epoch"):
        trim_mask(np.array([W, W, UNSCORED]), "30min", source="night.edf")
    with pytest.raises(UsageError, match=r"needs lights-off and lights-on"):
        trim_mask(hand_made_night(), "lights")
    with pytest.raises(UsageError, match=r"unknown trimming protocol '60min'"):
        trim_mask(hand_made_night(), "60min")
    with pytest.raises(DataError, match=r"lights-on \(100 s\) is not after lights-off \(200 s\)"):
        trim_mask(hand_made_night(), "lights", (200, 100))
    with pytest.raises(DataError, match=r"no whole epoch between lights-off \(99000 s\)"):
        trim_mask(hand_made_night(), "lights", (99000, 99900))


# --- lights tables -----------------------------------------------------------------------------


def test_lights_table_csv_with_other_column_names(tmp_path: Path) -> None:
    path = write_text(tmp_path / "lights.csv", "Recording,Rec-Start,Lights Off,Lights On\n"
                                               "night1,23:30:00,23:45:30.5,07:00:00\n")
    assert read_lights_table(path).nights == {"night1": (15 * 60 + 30.5, 7.5 * 3600)}


@pytest.mark.parametrize(("text", "message"), [
    ("night\trec_start\tlights_off\n", r"no lights_on \(e\.g\. lights on, lightson\) column"),
    ("night\trec_start\tlights_off\tlights_on\nA\t22:00:00\tlate\t07:00:00\n",
     r"line 2: 'late' is not a clock time"),
    ("night\trec_start\tlights_off\tlights_on\nA\t22:00:00\t23:00:00\t07:00:00\n"
     "A\t22:00:00\t23:00:00\t07:00:00\n", r"line 3: recording 'A' appears twice"),
    ("night\trec_start\tlights_off\tlights_on\nA\t23:00:00\t22:50:00\t07:00:00\n",
     r"line 2: lights-on 07:00:00 does not follow lights-off 22:50:00"),
])
def test_lights_table_errors(tmp_path: Path, text: str, message: str) -> None:
    path = write_text(tmp_path / "lights.tsv", text)
    with pytest.raises(DataError, match=r"lights\.tsv: " + message):
        read_lights_table(path)


def test_lights_lookup_of_an_unknown_recording(tmp_path: Path) -> None:
    path = write_text(tmp_path / "lights.tsv", "night\trec_start\tlights_off\tlights_on\n"
                                               "A1\t22:00:00\t23:00:00\t07:00:00\n")
    with pytest.raises(DataError, match=r"lights\.tsv: no lights-off/lights-on row for recording 'B1'"):
        read_lights_table(path).lookup("B1")
