"""The hypnogram formats clinics and cohorts export: one label per 5/20/30 s, NSRR XML (both
layouts), CAP Sleep Database scorings, vendor EDF+ stage labels, and the rules on a hypnogram's
length against its recording.

Every file is written here by hand in its format; expected stages are worked out in the tests
from the parameters that wrote each file.
"""

from __future__ import annotations

import csv
import warnings
from datetime import datetime, time, timedelta
from pathlib import Path

import numpy as np
import pyedflib
import pytest

from sleepscore.errors import DataError, UsageError
from sleepscore.alignment import epoch_labels, length_tolerance_s
from sleepscore.io.hypnogram import EpochList, Hypnogram, HypnogramWarning, read_hypnogram

W, N1, N2, N3, REM, UNSCORED = 0, 1, 2, 3, 4, -1
NAMES = {W: "W", N1: "N1", N2: "N2", N3: "N3", REM: "REM", UNSCORED: "?"}
PSG_START = datetime(2021, 3, 4, 22, 15, 0)


def write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def label_file(path: Path, stages: list[int], header: str = "") -> Path:
    return write_text(path, header + "".join(f"{NAMES[code]}\n" for code in stages))


def strict(call, *args, **kwargs):
    """Run ``call`` with HypnogramWarning raised as an error: it must not warn."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", HypnogramWarning)
        return call(*args, **kwargs)


# --- one label per line at 5, 20 and 30 s ------------------------------------------------------


def test_five_second_labels_are_detected_and_combined(tmp_path: Path) -> None:
    # 10 PSG epochs; each 30-s epoch is scored as six 5-s labels of one stage.
    per_epoch = [W, W, N1, N2, N2, N3, N3, N2, REM, W]
    path = label_file(tmp_path / "dreams.txt", [code for code in per_epoch for _ in range(6)],
                      header="[Hypnogram]\n")
    hyp = read_hypnogram(path)
    assert isinstance(hyp, EpochList) and hyp.epoch_s is None
    assert hyp.where(0) == "line 2"  # the header line is skipped, and counted
    np.testing.assert_array_equal(strict(epoch_labels, hyp, 10), per_epoch)


def test_five_second_labels_vote_by_majority_with_ties_to_the_first(tmp_path: Path) -> None:
    epochs = [
        ([N2, N2, N2, N2, W, W], N2),               # clear majority
        ([W, W, W, N2, N2, N2], W),                 # 3-3 tie: the label first in the epoch
        ([N2, N2, N2, W, W, W], N2),                # the same tie the other way round
        ([N1, N1, N2, N2, REM, REM], N1),           # three-way tie
        ([UNSCORED] * 4 + [N3, N3], UNSCORED),      # unscored time votes too
        ([N3, UNSCORED, N3, UNSCORED, N3, W], N3),  # 3 of 6 beats 2 of 6 and 1 of 6
    ]
    labels = [code for slices, _ in epochs for code in slices]
    hyp = read_hypnogram(label_file(tmp_path / "ties.txt", labels), epoch_s=5)
    np.testing.assert_array_equal(strict(epoch_labels, hyp, len(epochs)),
                                  [expected for _, expected in epochs])


def test_twenty_second_labels_count_the_seconds_they_cover(tmp_path: Path) -> None:
    # Six 20-s labels are 120 s: PSG epoch k spans 30k..30k+30 s.
    labels = [W, N2, N2, N3, UNSCORED, N1]
    # epoch 0: 20 s W + 10 s N2; 1: 10 + 20 s N2; 2: 20 s N3 + 10 s ?; 3: 10 s ? + 20 s N1
    expected = [W, N2, N3, N1]
    path = label_file(tmp_path / "old-rk.txt", labels)
    np.testing.assert_array_equal(strict(epoch_labels, read_hypnogram(path, epoch_s=20), 4),
                                  expected)
    # Detected too: 6 labels fit 120 s only at 20 s (30 s would be 180 s, 5 s 30 s).
    np.testing.assert_array_equal(strict(epoch_labels, read_hypnogram(path), 4), expected)


def test_five_second_labels_read_as_thirty_are_an_error_naming_both_lengths(tmp_path: Path
                                                                           ) -> None:
    # The case: 30 min of signal (60 epochs) scored in 5-s labels, 360 of them.
    path = label_file(tmp_path / "five.txt", [N2] * 360)
    with pytest.raises(DataError, match=r"five\.txt: 360 labels of 30 s span 10800 s, but the "
                                        r"recording is 1800 s \(60 epochs of 30 s\)"):
        epoch_labels(read_hypnogram(path, epoch_s=30), 60)
    # Read as what they are, they fit without a warning.
    assert strict(epoch_labels, read_hypnogram(path), 60).tolist() == [N2] * 60


def test_a_list_too_short_for_the_recording_is_an_error(tmp_path: Path) -> None:
    path = label_file(tmp_path / "short.txt", [W] * 100)
    # 960 epochs (8 h); 100 labels are 500, 2000 or 3000 s: none within 2 % of 28800 s.
    with pytest.raises(DataError, match=r"short\.txt: 100 labels do not fit the recording at any "
                                        r"epoch length \(500 s at 5-s epochs, 2000 s at 20-s "
                                        r"epochs, 3000 s at 30-s epochs\), but the recording is "
                                        r"28800 s"):
        epoch_labels(read_hypnogram(path), 960)


def test_a_list_that_fits_two_lengths_asks_for_the_epoch_length(tmp_path: Path) -> None:
    # One 30-s PSG epoch with a tolerance of one epoch: 2 labels fit at 5, 20 and 30 s.
    path = label_file(tmp_path / "two.txt", [W, W])
    with pytest.raises(DataError, match=r"two\.txt: .*5 and 20 and 30-s epochs alike; give the "
                                        r"hypnogram's epoch length \(--hypnogram-epoch\)"):
        epoch_labels(read_hypnogram(path), 1)
    with pytest.warns(HypnogramWarning, match=r"1 label\(s\) of 30 s from line 2 on"):
        assert epoch_labels(read_hypnogram(path, epoch_s=30), 1).tolist() == [W]


def test_a_small_overhang_is_cut_with_a_warning_giving_the_count(tmp_path: Path) -> None:
    # 960 epochs of 30 s plus 3 labels past the end: within the tolerance of 576 s.
    path = label_file(tmp_path / "over.txt", [N2] * 960 + [REM] * 3)
    with pytest.warns(HypnogramWarning, match=r"over\.txt: 3 label\(s\) of 30 s from line 961 on "
                                              r"lie past the end of the 28800-s recording"):
        labels = epoch_labels(read_hypnogram(path), 960)
    assert labels.tolist() == [N2] * 960


def test_a_small_shortfall_leaves_the_last_epochs_unscored(tmp_path: Path) -> None:
    path = label_file(tmp_path / "under.txt", [N2] * 955)
    labels = strict(epoch_labels, read_hypnogram(path), 960)
    assert labels.tolist() == [N2] * 955 + [UNSCORED] * 5


def test_the_tolerance_is_an_epoch_or_two_percent() -> None:
    assert length_tolerance_s(300) == 30  # one epoch beats 6 s
    assert length_tolerance_s(28800) == pytest.approx(576)  # 2 % of 8 h


@pytest.mark.parametrize(("header", "first_row"), [
    ("[Hypnogram]\n", 2), ("[Hypnogram]\n[Stages]\n", 3), ("stage\n", 2), ("[Hypnogram]\nSTAGE\n", 3),
])
def test_header_lines_are_skipped(tmp_path: Path, header: str, first_row: int) -> None:
    hyp = read_hypnogram(label_file(tmp_path / "h.txt", [W, N1, N2, REM], header=header))
    assert hyp.stages.tolist() == [W, N1, N2, REM]
    assert hyp.rows[0] == first_row


def test_a_bracketed_line_among_the_labels_is_an_unknown_label(tmp_path: Path) -> None:
    path = write_text(tmp_path / "mid.txt", "W\n[Hypnogram]\nN2\n")
    with pytest.raises(DataError, match=r"mid\.txt: line 2: unknown stage label '\[Hypnogram\]'"):
        read_hypnogram(path)


def test_hypnogram_epoch_must_be_a_known_length_and_only_for_label_lists(tmp_path: Path) -> None:
    path = label_file(tmp_path / "l.txt", [W])
    with pytest.raises(UsageError, match=r"epoch length 7 s is not one of 5, 20, 30 s"):
        read_hypnogram(path, epoch_s=7)
    table = write_text(tmp_path / "events.tsv", "onset\tduration\tstage\n0\t30\tW\n")
    with pytest.raises(UsageError, match=r"events\.tsv: --hypnogram-epoch applies to "
                                         r"one-label-per-line"):
        read_hypnogram(table, epoch_s=30)


def test_a_hypnogram_already_read_passes_through(tmp_path: Path) -> None:
    hyp = read_hypnogram(label_file(tmp_path / "l.txt", [W, N2]), epoch_s=20)
    assert read_hypnogram(hyp) is hyp
    with pytest.raises(UsageError, match=r"l\.txt: hypnogram already read"):
        read_hypnogram(hyp, epoch_s=30)


# --- DREAMS scorings ------------------------------------------------------------------------------

# The DREAMS databases' documentation: 5 wake, 4 REM, 3-0 R&K stages 1-4, -1 movement, -2 and -3
# unknown.
DREAMS = {5: W, 4: REM, 3: N1, 2: N2, 1: N3, 0: N3, -1: UNSCORED, -2: UNSCORED, -3: UNSCORED}


def dreams_file(path: Path, header: str, codes: list[int], per_epoch: int = 6) -> Path:
    return write_text(path, header + "\n" + "".join(f"{code}\n" for code in codes
                                                    for _ in range(per_epoch)))


@pytest.mark.parametrize("header", ["[HypnogramAASM]", "[HypnogramR&K]", "[Hypnogram]",
                                    " [hypnogramaasm] "])
def test_dreams_codes_are_read_in_their_own_coding_at_five_seconds(tmp_path: Path,
                                                                   header: str) -> None:
    codes = [5, 3, 2, 1, 0, 4, -1, -2, -3, 5]
    hyp = read_hypnogram(dreams_file(tmp_path / "HypnogramAASM_subject1.txt", header, codes))
    assert isinstance(hyp, EpochList) and (hyp.format, hyp.epoch_s) == ("dreams", 5.0)
    assert hyp.where(6) == "line 8"
    np.testing.assert_array_equal(strict(epoch_labels, hyp, len(codes)), [DREAMS[c] for c in codes])


def test_a_label_map_overrides_single_dreams_codes_and_the_epoch_length_can_be_given(
        tmp_path: Path) -> None:
    codes = [5, 2, 1, -2]
    path = dreams_file(tmp_path / "h.txt", "[Hypnogram]", codes)
    hyp = read_hypnogram(path, label_map={"-2": "W"})
    assert hyp.stages[::6].tolist() == [W, N2, N3, W]
    # Given 30-s epochs, six labels per PSG epoch is six PSG epochs each.
    assert read_hypnogram(path, epoch_s=30).epoch_s == 30
    with pytest.raises(DataError, match=r"h\.txt: 24 labels of 30 s span 720 s, but the "
                                        r"recording is 120 s"):
        epoch_labels(read_hypnogram(path, epoch_s=30), len(codes))


def test_a_dreams_code_outside_its_coding_is_an_error_naming_the_line(tmp_path: Path) -> None:
    path = write_text(tmp_path / "h.txt", "[HypnogramR&K]\n5\n2\n7\n")
    with pytest.raises(DataError, match=r"h\.txt: line 4: unknown stage label '7'"):
        read_hypnogram(path)


def test_words_under_a_dreams_header_are_read_as_words(tmp_path: Path) -> None:
    # Only integer codes are DREAMS': "1" among words is R&K stage 1, not DREAMS stage 3.
    hyp = read_hypnogram(write_text(tmp_path / "h.txt", "[Hypnogram]\nW\n1\nN3\n"))
    assert (hyp.format, hyp.stages.tolist()) == ("epochs", [W, N1, N3])


# --- NSRR XML: Compumedics/Profusion <CMPStudyConfig> ------------------------------------------


def profusion_xml(codes: list[str], epoch_length: str | None = "30", extra: str = "") -> str:
    length = f"<EpochLength>{epoch_length}</EpochLength>" if epoch_length is not None else ""
    stages = "".join(f"<SleepStage>{code}</SleepStage>" for code in codes)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n{extra}<CMPStudyConfig>{length}'
            f"<StepChannels/><ScoredEvents><ScoredEvent><Name>Arousal</Name><Start>12.5</Start>"
            f"<Duration>4</Duration></ScoredEvent></ScoredEvents>"
            f"<SleepStages>{stages}</SleepStages></CMPStudyConfig>\n")


def test_profusion_sleep_stages_are_read_per_epoch(tmp_path: Path) -> None:
    # The cohort codes: 0 wake, 1-4 R&K stages, 5 REM, 6 movement, 9 unscored.
    codes = ["0", "1", "2", "3", "4", "5", "6", "9", "2", "0"]
    path = write_text(tmp_path / "shhs1-200001-profusion.xml", profusion_xml(codes))
    hyp = read_hypnogram(path)
    assert isinstance(hyp, EpochList) and hyp.epoch_s == 30 and hyp.format == "profusion-xml"
    assert hyp.where(3) == "<SleepStage> 4"
    expected = [W, N1, N2, N3, N3, REM, UNSCORED, UNSCORED, N2, W]
    np.testing.assert_array_equal(strict(epoch_labels, hyp, 10), expected)


def test_profusion_twenty_second_epochs_are_combined(tmp_path: Path) -> None:
    path = write_text(tmp_path / "p20.xml", profusion_xml(["0", "2", "2", "3", "9", "1"], "20"))
    np.testing.assert_array_equal(strict(epoch_labels, read_hypnogram(path), 4), [W, N2, N3, N1])


def test_profusion_of_the_wrong_length_names_its_epoch_length(tmp_path: Path) -> None:
    path = write_text(tmp_path / "p.xml", profusion_xml(["0"] * 100))
    with pytest.raises(DataError, match=r"p\.xml: 100 labels of 30 s span 3000 s, but the "
                                        r"recording is 28800 s .*<EpochLength>"):
        epoch_labels(read_hypnogram(path), 960)


@pytest.mark.parametrize(("text", "message"), [
    (profusion_xml(["0", "7"]), r"<SleepStage> 2: unknown stage code '7'"),
    (profusion_xml(["0"], epoch_length=None), r"no <EpochLength> element"),
    (profusion_xml(["0"], epoch_length="thirty"), r"<EpochLength>: 'thirty' is not a number"),
    (profusion_xml(["0"], epoch_length="0"), r"<EpochLength> is 0"),
    (profusion_xml([]), r"empty <SleepStages>"),
    ("<CMPStudyConfig><EpochLength>30</EpochLength></CMPStudyConfig>", r"no <SleepStages>"),
    (profusion_xml(["0"]).replace("</CMPStudyConfig>", ""), r"not well-formed XML"),
    ("<Hypnogram><Stage>W</Stage></Hypnogram>", r"root element <Hypnogram> is neither"),
    (profusion_xml(["0"], extra='<!DOCTYPE x [<!ENTITY a "aaaa">]>\n'),
     r"declares a DOCTYPE or an entity \(line 2\)"),
    (profusion_xml(["0"], extra='<!DOCTYPE CMPStudyConfig SYSTEM "file:///etc/passwd">\n'),
     r"declares a DOCTYPE or an entity"),
    (profusion_xml(["&a;"]), r"not well-formed XML \(undefined entity"),
])
def test_bad_profusion_files(tmp_path: Path, text: str, message: str) -> None:
    path = write_text(tmp_path / "bad.xml", text)
    with pytest.raises(DataError, match=r"bad\.xml: (.* )?" + message):
        read_hypnogram(path)


def test_billion_laughs_is_refused_before_any_expansion(tmp_path: Path) -> None:
    entities = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    text = (f'<?xml version="1.0"?><!DOCTYPE CMPStudyConfig [<!ENTITY l0 "ha">{entities}]>'
            "<CMPStudyConfig><EpochLength>30</EpochLength><SleepStages><SleepStage>&l9;"
            "</SleepStage></SleepStages></CMPStudyConfig>")
    with pytest.raises(DataError, match=r"bomb\.xml: XML declares a DOCTYPE"):
        read_hypnogram(write_text(tmp_path / "bomb.xml", text))


# --- NSRR XML: <PSGAnnotation> ScoredEvents ----------------------------------------------------


def scored_event(event_type: str, concept: str, start: str, duration: str) -> str:
    return (f"<ScoredEvent><EventType>{event_type}</EventType><EventConcept>{concept}"
            f"</EventConcept><Start>{start}</Start><Duration>{duration}</Duration></ScoredEvent>")


def nsrr_xml(events: list[str]) -> str:
    return ('<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n<PSGAnnotation>'
            "<SoftwareVersion>Compumedics</SoftwareVersion><EpochLength>30</EpochLength>"
            f"<ScoredEvents>{''.join(events)}</ScoredEvents></PSGAnnotation>\n")


def test_nsrr_scored_events_keep_only_the_stages(tmp_path: Path) -> None:
    events = [
        "<ScoredEvent><EventType/><EventConcept>Recording Start Time</EventConcept><Start>0"
        "</Start><Duration>28800.0</Duration><ClockTime>00.00.00 22.15.00</ClockTime>"
        "</ScoredEvent>",
        scored_event("Stages|Stages", "Wake|0", "0", "60.0"),
        scored_event("Arousals|Arousals", "Arousal|Arousal ()", "70.5", "5.2"),
        scored_event("Stages|Stages", "Stage 1 sleep|1", "60.0", "30"),
        scored_event("Stages|Stages", "Stage 2 sleep|2", "90", "90"),
        scored_event("Stages|Stages", "Stage 4 sleep|4", "180", "30"),
        scored_event("Stages|Stages", "REM sleep|5", "210", "30"),
        scored_event("Stages|Stages", "Unscored|9", "240", "30"),
        scored_event("Stages|Stages", "Stage 3 sleep", "270", "30"),  # name without a code
    ]
    path = write_text(tmp_path / "mesa-sleep-0001-nsrr.xml", nsrr_xml(events))
    hyp = read_hypnogram(path)
    assert isinstance(hyp, Hypnogram) and hyp.format == "nsrr-xml" and hyp.start is None
    assert hyp.where(1) == "<ScoredEvent> 4"  # counted among all scored events
    expected = [W, W, N1, N2, N2, N2, N3, REM, UNSCORED, N3]
    np.testing.assert_array_equal(strict(epoch_labels, hyp, 10), expected)


def test_nsrr_events_past_the_recording_warn_with_the_count(tmp_path: Path) -> None:
    events = [scored_event("Stages|Stages", "Stage 2 sleep|2", "0", "150")]
    hyp = read_hypnogram(write_text(tmp_path / "long.xml", nsrr_xml(events)))
    with pytest.warns(HypnogramWarning, match=r"long\.xml: 2 epoch\(s\) of sleep stages lie past "
                                              r"the end of the 90-s recording"):
        assert epoch_labels(hyp, 3).tolist() == [N2] * 3


@pytest.mark.parametrize(("events", "message"), [
    ([scored_event("Arousals|Arousals", "Arousal|Arousal ()", "0", "3")],
     r"no staging event \(<EventType>Stages\|Stages</EventType>\)"),
    ([scored_event("Stages|Stages", "Stage 5 sleep|7", "0", "30")],
     r"<ScoredEvent> 1: unknown stage label 'Stage 5 sleep'"),
    ([scored_event("Stages|Stages", "Wake|0", "soon", "30")],
     r"<ScoredEvent> 1 <Start>: 'soon' is not a number"),
    ([scored_event("Stages|Stages", "Wake|0", "0", "-30")],
     r"<ScoredEvent> 1 <Duration>: '-30' is not a finite, non-negative"),
    ([scored_event("Stages|Stages", "Wake|0", "0", "60"),
      scored_event("Stages|Stages", "Stage 1 sleep|1", "30", "30")],
     r"<ScoredEvent> 2: onset 30 s overlaps the interval before it \(<ScoredEvent> 1\)"),
])
def test_bad_nsrr_event_files(tmp_path: Path, events: list[str], message: str) -> None:
    path = write_text(tmp_path / "bad.xml", nsrr_xml(events))
    with pytest.raises(DataError, match=r"bad\.xml: (.* )?" + message):
        read_hypnogram(path)


def test_nsrr_without_scored_events_and_off_grid_stages(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"none\.xml: NSRR XML has no <ScoredEvents>"):
        read_hypnogram(write_text(tmp_path / "none.xml", "<PSGAnnotation/>"))
    ragged = write_text(tmp_path / "ragged.xml",
                        nsrr_xml([scored_event("Stages|Stages", "Wake|0", "0", "45")]))
    with pytest.raises(DataError, match=r"ragged\.xml: <ScoredEvent> 1: interval 0-45 s"):
        epoch_labels(read_hypnogram(ragged), 3)


def test_xml_is_recognised_by_content_and_its_codes_take_no_label_map(tmp_path: Path) -> None:
    path = write_text(tmp_path / "scoring.dat",
                      nsrr_xml([scored_event("Stages|Stages", "REM sleep|5", "0", "30")]))
    assert read_hypnogram(path).stages.tolist() == [REM]
    with pytest.raises(UsageError, match=r"scoring\.dat: NSRR XML stage codes are fixed"):
        read_hypnogram(path, label_map={"5": "W"})


# --- CAP Sleep Database scorings -----------------------------------------------------------------

CAP_HEADER = "Sleep Stage\tPosition\tTime [hh:mm:ss]\tEvent\tDuration[s]\tLocation\n"
CAP_STAGES = {"SLEEP-S0": "W", "SLEEP-S1": "S1", "SLEEP-S2": "S2", "SLEEP-S3": "S3",
              "SLEEP-S4": "S4", "SLEEP-REM": "R", "SLEEP-MT": "MT"}


def cap_scoring(start: datetime, events: list[str], separator: str = ":",
                phases_every: int = 0) -> str:
    """A CAP-style scoring: a preamble, then one 30-s row per stage event from ``start``, with a
    4-s CAP phase row after every ``phases_every``-th stage."""
    rows = []
    for index, event in enumerate(events):
        clock = (start + timedelta(seconds=30 * index)).strftime(f"%H{separator}%M{separator}%S")
        rows.append(f"{CAP_STAGES[event]}\tUnknown Position\t{clock}\t{event}\t30\tROC-LOC\n")
        if phases_every and index % phases_every == 0:
            rows.append(f"{CAP_STAGES[event]}\tLeft\t{clock}\tMCAP-A1\t4\tFp2-F4-F4-C4\n")
    preamble = ("Patient Information:\n\nDiagnosis:\tControls\nRecording Date:\t04/03/2021\n"
                "Events Included:\nSLEEP-S0\nMCAP-A1\n\n")
    return preamble + CAP_HEADER + "".join(rows)


def test_cap_scoring_keeps_the_stage_events_and_crosses_midnight(tmp_path: Path) -> None:
    events = ["SLEEP-S0", "SLEEP-S1", "SLEEP-S2", "SLEEP-S3", "SLEEP-S4", "SLEEP-REM", "SLEEP-MT",
              "SLEEP-S2"]
    start = datetime(2021, 3, 4, 23, 58, 30)  # the sixth stage starts after midnight
    path = write_text(tmp_path / "n1.txt", cap_scoring(start, events, phases_every=3))
    hyp = read_hypnogram(path)
    assert isinstance(hyp, Hypnogram) and hyp.format == "cap"
    assert hyp.start == time(23, 58, 30)
    np.testing.assert_array_equal(hyp.onsets, 30.0 * np.arange(len(events)))
    assert hyp.where(1) == "line 12"  # after 8 preamble lines, the header, stage 1, its phase row
    # The PSG started two epochs before the scoring, on the day before.
    psg_start = start - timedelta(seconds=60)
    labels = strict(epoch_labels, hyp, len(events) + 2, psg_start=psg_start)
    np.testing.assert_array_equal(labels, [UNSCORED, UNSCORED, W, N1, N2, N3, N3, REM, UNSCORED,
                                           N2])


def test_cap_scoring_with_dotted_times_starting_after_midnight(tmp_path: Path) -> None:
    # The PSG starts at 23:59:00 and the scoring at 00:00:00 the next day: two epochs later,
    # though its time of day is earlier.
    path = write_text(tmp_path / "n2.txt",
                      cap_scoring(datetime(2021, 3, 5, 0, 0, 0), ["SLEEP-S2", "SLEEP-REM"], "."))
    labels = epoch_labels(read_hypnogram(path), 4, psg_start=datetime(2021, 3, 4, 23, 59, 0))
    np.testing.assert_array_equal(labels, [UNSCORED, UNSCORED, N2, REM])


@pytest.mark.parametrize(("text", "message"), [
    (CAP_HEADER + "S2\tLeft\t23:00:00\tMCAP-A1\t4\tC4-A1\n",
     r"CAP scoring has no sleep stage events \(SLEEP-S0 \.\.\. SLEEP-REM\)"),
    (CAP_HEADER + "S5\tLeft\t23:00:00\tSLEEP-S5\t30\tC4-A1\n",
     r"line 2: unknown stage label 'SLEEP-S5'"),
    (CAP_HEADER + "S2\tLeft\t25:00:00\tSLEEP-S2\t30\tC4-A1\n",
     r"line 2: '25:00:00' is not a clock time"),
    (CAP_HEADER + "S2\tLeft\t23:00:00\tSLEEP-S2\n", r"line 2: 4 field\(s\), expected at least 5"),
])
def test_bad_cap_scorings(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(DataError, match=r"cap\.txt: " + message):
        read_hypnogram(write_text(tmp_path / "cap.txt", text))


# --- vendor EDF+ stage labels --------------------------------------------------------------------


# How vendors and cohorts spell the stages in EDF+ annotations, with the stage each one means.
VENDOR_LABELS = [
    ("Sleep stage N2", N2), ("Sleep stage N1", N1), ("Sleep stage N3", N3), ("Stage 2", N2),
    ("Stage N3", N3), ("Stage W", W), ("Stage R", REM), ("SLEEP-S0", W), ("SLEEP-S1", N1),
    ("SLEEP-S2", N2), ("SLEEP-S3", N3), ("SLEEP-S4", N3), ("SLEEP-REM", REM),
    ("SLEEP-MT", UNSCORED), ("SLEEP-UNSCORED", UNSCORED), ("N2", N2), ("Wake", W),
    ("Awake", W), ("Stage 2 sleep", N2), ("REM sleep", REM), ("Sleep_stage_N3", N3),
    ("Sleep stage W", W), ("Sleep stage REM", REM),
]


def test_vendor_edf_plus_stage_labels(tmp_path: Path) -> None:
    path = tmp_path / "vendor.edf"
    writer = pyedflib.EdfWriter(str(path), 0, file_type=pyedflib.FILETYPE_EDFPLUS)
    writer.setStartdatetime(PSG_START)
    for i, (label, _) in enumerate(VENDOR_LABELS):
        writer.writeAnnotation(30.0 * i, 30.0, label)
    writer.close()
    hyp = read_hypnogram(path)
    labels = strict(epoch_labels, hyp, len(VENDOR_LABELS), psg_start=PSG_START)
    np.testing.assert_array_equal(labels, [code for _, code in VENDOR_LABELS])


@pytest.mark.parametrize("label", ["SLEEP-S5", "Stage 5", "N 2 x", "Sleep stage"])
def test_near_misses_stay_unknown(tmp_path: Path, label: str) -> None:
    path = write_text(tmp_path / "e.tsv", f"onset\tduration\tstage\n0\t30\t{label}\n")
    with pytest.raises(DataError, match=r"e\.tsv: line 2: unknown stage label"):
        read_hypnogram(path)


def test_a_negative_code_in_a_label_map_is_not_read_as_its_positive(tmp_path: Path) -> None:
    # "-1" must not become "1" when hyphens between words are read as spaces.
    path = write_text(tmp_path / "codes.txt", "-1\n1\n")
    hyp = read_hypnogram(path, label_map={"-1": "?", "1": "N1"})
    assert hyp.stages.tolist() == [UNSCORED, N1]


# --- Sleep-EDF's EDF+ hypnograms run past their PSG, and must keep working ----------------------


def psg_seconds(sleep_edf_dir: Path) -> dict[str, float]:
    """Each Sleep-EDF night's PSG length, from its recording start and stop clock times."""
    def seconds(text: str) -> float:
        clock = time.fromisoformat(text)
        return clock.hour * 3600 + clock.minute * 60 + clock.second

    with (sleep_edf_dir / "sc78-nights.tsv").open(newline="") as handle:
        return {row["night"][:7]: (seconds(row["rec_stop"]) - seconds(row["rec_start"])) % 86400
                for row in csv.DictReader(handle, delimiter="\t")}


def test_real_sleep_edf_hypnograms_are_cut_at_their_psg_end_silently(sleep_edf_dir: Path
                                                                     ) -> None:
    lengths = psg_seconds(sleep_edf_dir)
    files = sorted((sleep_edf_dir / "hypnograms").glob("*-Hypnogram.edf"))
    assert len(files) == 39
    for path in files:
        hyp = read_hypnogram(path)
        n_epochs = int(lengths[path.name[:7]] // 30)
        # Every one runs past its PSG (to 86400 s), with an unscored tail: no warning.
        assert hyp.onsets[-1] + hyp.durations[-1] > n_epochs * 30, path.name
        labels = strict(epoch_labels, hyp, n_epochs, psg_start=hyp.start)
        assert len(labels) == n_epochs and (labels >= 0).any(), path.name


def test_the_real_five_minute_excerpt_is_cut_with_a_warning(sleep_edf_dir: Path) -> None:
    hyp = read_hypnogram(sleep_edf_dir / "hypnograms" / "SC4001EC-Hypnogram.edf")
    with pytest.warns(HypnogramWarning, match=r"SC4001EC-Hypnogram\.edf: \d+ epoch\(s\) of sleep "
                                              r"stages lie past the end of the 300-s"):
        labels = epoch_labels(hyp, 10, psg_start=hyp.start)
    assert labels.tolist() == [W] * 10


def test_real_sleep_edf_78_text_hypnograms_with_wake_tails_are_cut_silently(sleep_edf_dir: Path
                                                                           ) -> None:
    lengths = psg_seconds(sleep_edf_dir)
    wake_tails = 0
    for path in sorted((sleep_edf_dir / "hypnograms-sc78").glob("SC4*.txt")):
        hyp = read_hypnogram(path)
        n_epochs = int(lengths[path.name[:7]] // 30)
        ends = hyp.onsets + hyp.durations
        past = (ends > n_epochs * 30) & (hyp.stages != UNSCORED)
        assert set(hyp.stages[past].tolist()) <= {W}, path.name  # what the rule relies on
        wake_tails += bool(past.any())
        strict(epoch_labels, hyp, n_epochs, psg_start=hyp.start)
    assert wake_tails >= 1  # some nights do carry wake past their PSG


def test_a_sleep_tail_warns_but_a_wake_tail_does_not(tmp_path: Path) -> None:
    wake = write_text(tmp_path / "w.tsv", "onset\tduration\tstage\n0\t60\tN2\n60\t3000\tW\n")
    assert strict(epoch_labels, read_hypnogram(wake), 3).tolist() == [N2, N2, W]
    sleep = write_text(tmp_path / "s.tsv", "onset\tduration\tstage\n0\t60\tW\n60\t300\tREM\n")
    with pytest.warns(HypnogramWarning, match=r"s\.tsv: 9 epoch\(s\) of sleep stages .* scores "
                                              r"sleep up to 360 s"):
        assert epoch_labels(read_hypnogram(sleep), 3).tolist() == [W, W, REM]


def test_timed_tables_never_error_on_their_length(tmp_path: Path) -> None:
    # A timed table that stops early leaves unscored epochs; one that runs on is cut.
    start = PSG_START + timedelta(seconds=0)
    path = write_text(tmp_path / "t.tsv", "onset\tduration\tstage\n"
                                          f"{start.isoformat()}\t60\tN2\n")
    assert strict(epoch_labels, read_hypnogram(path), 4, psg_start=PSG_START).tolist() == \
        [N2, N2, UNSCORED, UNSCORED]
