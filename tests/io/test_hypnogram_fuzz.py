"""Property tests: whatever bytes a hypnogram, lights table or label map holds, the readers
either return a result or raise ``SleepscoreError``; no raw exception escapes to the user."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sleepscore.errors import SleepscoreError, UsageError
from sleepscore.alignment import epoch_labels, trim_mask
from sleepscore.io.hypnogram import EpochList, Hypnogram, read_hypnogram
from sleepscore.io.lights import read_lights_table
from sleepscore.labels import parse_label_map

# No deadline: the machine is shared and slow, and how long an example takes is not the property.
FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

VALID_EVENTS = ("onset\tduration\tdescription\n0\t60\tW\n60\t30\tN1\n90\t90\tSleep stage 2\n"
                "180\t30\tREM\n")
VALID_SLEEP_EDF_TEXT = ("Onset\tDuration\tAnnotation\n"
                        "1989-04-24T16:13:00.0000000\t60\tSleep stage W\n"
                        "1989-04-24T16:14:00.0000000\t30\tSleep stage 4\n"
                        "1989-04-24T16:14:30.0000000\t30\tMovement time\n")
VALID_CSV = "Onset,Duration,Stage\n0,30,W\n30,60,N2\n"
VALID_CAP = ("Patient Information:\nDiagnosis:\tControls\n\n"
             "Sleep Stage\tPosition\tTime [hh:mm:ss]\tEvent\tDuration[s]\tLocation\n"
             "W\tUnknown Position\t23:59:30\tSLEEP-S0\t30\tROC-LOC\n"
             "S2\tLeft\t00:00:00\tSLEEP-S2\t30\tROC-LOC\n"
             "S2\tLeft\t00:00:10\tMCAP-A1\t4\tFp2-F4-F4-C4\n")
VALID_DREAMS = "[HypnogramAASM]\n5\n5\n3\n2\n1\n4\n-2\n"
VALID_NSRR_XML = ("<PSGAnnotation><EpochLength>30</EpochLength><ScoredEvents>"
                  "<ScoredEvent><EventType>Stages|Stages</EventType>"
                  "<EventConcept>Wake|0</EventConcept><Start>0</Start><Duration>60</Duration>"
                  "</ScoredEvent><ScoredEvent><EventType>Stages|Stages</EventType>"
                  "<EventConcept>Stage 2 sleep|2</EventConcept><Start>60</Start>"
                  "<Duration>30</Duration></ScoredEvent></ScoredEvents></PSGAnnotation>")
VALID_PROFUSION_XML = ("<CMPStudyConfig><EpochLength>30</EpochLength><SleepStages>"
                       "<SleepStage>0</SleepStage><SleepStage>2</SleepStage>"
                       "<SleepStage>5</SleepStage></SleepStages></CMPStudyConfig>")
VALID_LIGHTS = ("night\trec_start\trec_stop\tlights_off\tlights_on\n"
                "SC4001E0\t16:13:00.000\t14:18:00\t00:38:00\t06:59:00.000\n")

# Pieces of text that matter to the parsers: delimiters, line ends, digits, signs, ISO
# punctuation, label letters, quoting, non-finite numbers, and characters hard on text handling.
SPICY = st.sampled_from(list("\t,;\n\r\"' 0123456789.-+eE:TWNRM?\x00\x85\u2028")
                        + ["inf", "nan", "Sleep stage ", "1989-04-24T"])
SPICY_TEXT = st.lists(st.one_of(SPICY, st.characters()), max_size=150).map("".join)


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    """``text`` after a few replacements, insertions and deletions of characters."""
    chars = list(text)
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(chars)))
        action = draw(st.sampled_from(["replace", "insert", "delete"]))
        character = draw(st.one_of(SPICY, st.characters()))
        if action == "insert" or position == len(chars):
            chars.insert(position, character)
        elif action == "replace":
            chars[position] = character
        else:
            del chars[position]
    return "".join(chars)


def check_hypnogram_path(path: Path) -> None:
    """Read, expand and trim; only SleepscoreError may come out, and results must be sane."""
    try:
        hyp = read_hypnogram(path)
    except SleepscoreError:
        return
    if isinstance(hyp, Hypnogram):
        assert np.all(np.diff(hyp.onsets) >= 0) and np.all(hyp.durations > 0)
    else:
        assert isinstance(hyp, EpochList) and (hyp.epoch_s is None or hyp.epoch_s > 0)
    assert set(hyp.stages.tolist()) <= {-1, 0, 1, 2, 3, 4}
    # A PSG that starts with the hypnogram (on some date, when it has a time of day only).
    psg_start = (datetime.combine(date(2021, 3, 4), hyp.start) if isinstance(hyp.start, time)
                 else hyp.start)
    for n_epochs in (1, 7, 3000):
        try:
            labels = epoch_labels(hyp, n_epochs, psg_start=psg_start)
        except SleepscoreError:
            continue
        assert labels.shape == (n_epochs,) and labels.dtype == np.int64
        assert set(labels.tolist()) <= {-1, 0, 1, 2, 3, 4}
        for protocol in ("none", "30min"):
            try:
                assert trim_mask(labels, protocol).shape == (n_epochs,)
            except SleepscoreError:
                pass


@FUZZ
@given(text=SPICY_TEXT)
def test_random_text_hypnogram(tmp_path: Path, text: str) -> None:
    path = tmp_path / "random.txt"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    check_hypnogram_path(path)


@FUZZ
@given(text=st.one_of(mutated(VALID_EVENTS), mutated(VALID_SLEEP_EDF_TEXT), mutated(VALID_CSV),
                      mutated(VALID_CAP), mutated(VALID_DREAMS)))
def test_mutated_event_tables(tmp_path: Path, text: str) -> None:
    path = tmp_path / "mutated.csv"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    check_hypnogram_path(path)


@FUZZ
@given(text=st.one_of(mutated(VALID_NSRR_XML), mutated(VALID_PROFUSION_XML)))
def test_mutated_nsrr_xml(tmp_path: Path, text: str) -> None:
    path = tmp_path / "mutated.xml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    check_hypnogram_path(path)


@FUZZ
@given(data=st.data())
def test_mutated_real_edf_hypnogram(sleep_edf_dir: Path, tmp_path: Path,
                                    data: st.DataObject) -> None:
    original = (sleep_edf_dir / "hypnograms" / "SC4001EC-Hypnogram.edf").read_bytes()
    damaged = bytearray(original)
    # Header bytes (the first 512) decide how everything after them is read, so half the
    # mutations land there.
    positions = st.one_of(st.integers(0, 511), st.integers(0, len(original) - 1))
    for position, value in data.draw(st.lists(st.tuples(positions, st.integers(0, 255)),
                                              max_size=12)):
        damaged[position] = value
    damaged = damaged[:data.draw(st.integers(0, len(damaged)))]
    path = tmp_path / "SC4001EC-Hypnogram.edf"
    path.write_bytes(bytes(damaged))
    check_hypnogram_path(path)


@FUZZ
@given(text=st.one_of(mutated(VALID_LIGHTS), st.text(max_size=200)))
def test_mutated_lights_table(tmp_path: Path, text: str) -> None:
    path = tmp_path / "lights.tsv"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        table = read_lights_table(path)
    except SleepscoreError:
        return
    assert all(0 <= off < on < 86400 for off, on in table.nights.values())


@FUZZ
@given(spec=st.one_of(mutated("0=W,1=N1,2=N2,3=N3,4=REM"), st.text(max_size=60)))
def test_label_map_values(tmp_path: Path, spec: str) -> None:
    try:
        label_map = parse_label_map(spec)
    except UsageError:
        return
    path = tmp_path / "codes.txt"
    path.write_text("\n".join(label_map) + "\n", encoding="utf-8", errors="surrogatepass")
    check_hypnogram_path(path)


@FUZZ
@given(labels=st.lists(st.integers(-1, 4), min_size=1, max_size=400),
       lights=st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6)),
       protocol=st.sampled_from(["none", "30min", "lights", "90min"]))
def test_trim_mask_on_random_nights(labels: list[int], lights: tuple[float, float],
                                    protocol: str) -> None:
    try:
        mask = trim_mask(np.array(labels), protocol, lights)
    except SleepscoreError:
        return
    assert mask.dtype == bool and mask.shape == (len(labels),) and mask.any()


@pytest.mark.parametrize(("text", "name"), [
    (VALID_EVENTS, "seed.tsv"), (VALID_SLEEP_EDF_TEXT, "seed.tsv"), (VALID_CSV, "seed.csv"),
    (VALID_CAP, "seed.txt"), (VALID_DREAMS, "seed.txt"), (VALID_NSRR_XML, "seed.xml"),
    (VALID_PROFUSION_XML, "seed.xml")])
def test_fuzz_seeds_are_valid(tmp_path: Path, text: str, name: str) -> None:
    """The unmutated seeds parse, so the mutations above start from the accepting path."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert len(read_hypnogram(path).stages) >= 2
