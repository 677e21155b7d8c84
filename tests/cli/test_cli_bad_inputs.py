"""Issue 5 at the command line: every bad input ends in one line naming the file and the problem,
a non-zero exit code, no traceback and no partial output; merely imperfect data are scored.

The library-level corpora (``test_edf_bad_inputs.py``, ``test_hypnogram*.py``, ``test_model.py``)
prove that the readers raise the right ``SleepscoreError``; these tests prove that the same
damage, fed to ``sleepscore predict``/``evaluate`` as a user would, comes out cleanly. Every input
is generated here, with the factories of those corpora.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import re
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edf_factory import (
    START,
    Channel,
    header_bytes,
    make_discontinuous,
    patch_bytes,
    patch_header,
    read_field,
    sine,
    write_psg,
)
from onnx_factory import contract_metadata, write_linear_model
from repo_paths import REPO
from sleepscore.cli import cli
from sleepscore.model import ANY_EEG_MODEL, DEFAULT_MODEL, shipped_models_dir

CHANNELS = ["EEG Fpz-Cz", "EEG Pz-Oz"]
STAGES = ["W", "N1", "N2", "N3", "REM"]
SECONDS = 120  # four 30-s epochs
ERROR_PREFIX = "sleepscore: error: "


# ---------------------------------------------------------------------------------------------
# Inputs


def write_night(path: Path, seconds: int = SECONDS, file_type: str = "edf", fs: int = 100,
                pz_oz: np.ndarray | None = None) -> Path:
    """A night the linear test model accepts: Fpz-Cz (10 Hz) and Pz-Oz (3 Hz) at ``fs``, 1-s records."""
    fpz_cz = Channel("EEG Fpz-Cz", sine(fs, seconds, 10.0, 30.0), fs)
    pz = Channel("EEG Pz-Oz", sine(fs, seconds, 3.0, 60.0) if pz_oz is None else pz_oz, fs)
    return write_psg(path, [fpz_cz, pz], file_type=file_type)  # type: ignore[arg-type]


def linear_model(folder: Path, channels: list[str] = CHANNELS, **options) -> Path:
    weights = np.random.default_rng(3).normal(size=(9 * len(channels), 5))
    return write_linear_model(folder / "linear.onnx", weights, contract_metadata(channels), **options)


@dataclasses.dataclass
class Invocation:
    """A command line, the output it must not leave behind, and what that output held before."""

    args: list[str]
    output: Path
    previous: str | None = None


def predict(tmp: Path, psg: Path | None = None, model: Path | None = None, *extra: str,
            output: Path | None = None) -> Invocation:
    psg = write_night(tmp / "night.edf") if psg is None else psg
    model = linear_model(tmp) if model is None else model
    output = tmp / "night.csv" if output is None else output
    return Invocation(["predict", str(psg), "-o", str(output), "--model", str(model), *extra], output)


def damaged_night(damage: Callable[[Path], None], file_type: str = "edf") -> Callable[[Path], Invocation]:
    def build(tmp: Path) -> Invocation:
        psg = write_night(tmp / ("night.bdf" if file_type.startswith("bdf") else "night.edf"),
                          file_type=file_type)
        damage(psg)
        return predict(tmp, psg)
    return build


def truncate(psg: Path, n_bytes: int = 77) -> None:
    with psg.open("r+b") as handle:
        handle.truncate(psg.stat().st_size - n_bytes)


def no_records(psg: Path) -> None:
    patch_header(psg, "n_records", "0")
    with psg.open("r+b") as handle:
        handle.truncate(header_bytes(psg))


def equal_fields(low: str, high: str) -> Callable[[Path], None]:
    def damage(psg: Path) -> None:
        patch_header(psg, low, read_field(psg, high, 0), signal=0)
    return damage


def gap(psg: Path) -> None:
    make_discontinuous(psg, gap_after_record=59, gap_s=7.5)


def not_an_edf(tmp: Path) -> Invocation:
    psg = tmp / "night.edf"
    psg.write_text("these are my notes, not a recording\n" * 20)
    return predict(tmp, psg)


def night_with(channels: Callable[[], list[Channel]]) -> Callable[[Path], Invocation]:
    return lambda tmp: predict(tmp, write_psg(tmp / "night.edf", channels()))


def with_hypnogram(text: str, name: str = "night.tsv") -> Callable[[Path], Invocation]:
    def build(tmp: Path) -> Invocation:
        hypnogram = tmp / name
        hypnogram.write_text(text, encoding="utf-8")
        return predict(tmp, None, None, "--hypnogram", str(hypnogram))
    return build


def clock_hypnogram(first_onset_s: float) -> str:
    """A Sleep-EDF-style text hypnogram whose first onset is ``first_onset_s`` after the PSG start."""
    from datetime import timedelta

    onset = START + timedelta(seconds=first_onset_s)
    return ("Onset\tDuration\tAnnotation\n"
            + "".join(f"{(onset + timedelta(seconds=30 * i)).isoformat()}\t30\tSleep stage W\n"
                      for i in range(4)))


def edf_hypnogram(tmp: Path, cut_bytes: int = 0) -> Invocation:
    """An EDF+ hypnogram written with edfio (one 120-s W annotation), the last ``cut_bytes`` cut off."""
    from edfio import Edf, EdfAnnotation, Recording

    hypnogram = tmp / "night-hypnogram.edf"
    Edf(signals=[], annotations=[EdfAnnotation(0, SECONDS, "Sleep stage W")],
        recording=Recording(startdate=START.date()), starttime=START.time()).write(hypnogram)
    hypnogram.write_bytes(hypnogram.read_bytes()[: hypnogram.stat().st_size - cut_bytes])
    return predict(tmp, None, None, "--hypnogram", str(hypnogram))


def with_model(write: Callable[[Path], Path]) -> Callable[[Path], Invocation]:
    return lambda tmp: predict(tmp, None, write(tmp))


def truncated_model(tmp: Path) -> Path:
    model = linear_model(tmp)
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    return model


def text_model(tmp: Path) -> Path:
    model = tmp / "notes.onnx"
    model.write_text("this is not a model\n")
    return model


def model_with(metadata: dict[str, str], scale: float = 1.0, n_outputs: int = 5,
               softmax: bool = True) -> Callable[[Path], Path]:
    def write(tmp: Path) -> Path:
        weights = np.random.default_rng(3).normal(size=(18, n_outputs)) * scale
        return write_linear_model(tmp / "broken.onnx", weights, metadata, softmax=softmax,
                                  n_outputs=n_outputs)
    return write


def existing_output(tmp: Path) -> Invocation:
    invocation = predict(tmp)
    invocation.previous = "epoch,stage\n0,W\n"
    invocation.output.write_text(invocation.previous)
    return invocation


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[Path], Invocation]
    exit_code: int
    message: str  # regex; it names the file, channel or label AND the problem


FULL_NAME = r"night\.edf"
CORPUS = [
    # EDF structure
    Case("truncated-mid-record", damaged_night(truncate), 1, FULL_NAME + r": file is truncated"),
    Case("record-count-above-size", damaged_night(lambda p: patch_header(p, "n_records", str(SECONDS + 1))), 1,
         FULL_NAME + rf": file is truncated: {SECONDS + 1} data records"),
    Case("record-count-below-size", damaged_night(lambda p: patch_header(p, "n_records", str(SECONDS - 1))), 1,
         FULL_NAME + rf": file is longer than its header says: {SECONDS - 1} data records"),
    Case("record-count-99999999", damaged_night(lambda p: patch_header(p, "n_records", "99999999")), 1,
         FULL_NAME + r": file is truncated: 99999999 data records"),
    Case("record-count-1e9-text", damaged_night(lambda p: patch_header(p, "n_records", "1e9")), 1,
         FULL_NAME + r": number of data records .* '1e9', not an integer"),
    Case("record-duration-zero", damaged_night(lambda p: patch_header(p, "record_duration", "0")), 1,
         FULL_NAME + r": data record duration .* '0', not a positive number"),
    Case("record-duration-garbage", damaged_night(lambda p: patch_header(p, "record_duration", "1,0")), 1,
         FULL_NAME + r": data record duration .* '1,0'"),
    Case("samples-per-record-vs-size",
         damaged_night(lambda p: patch_header(p, "samples_per_record", "101", signal=0)), 1,
         FULL_NAME + r": file is (truncated|longer than its header says)"),
    Case("non-ascii-in-number-field",
         damaged_night(lambda p: patch_header(p, "samples_per_record", b"1\xe900", signal=1)), 1,
         FULL_NAME + r": samples per data record of signal 'EEG Pz-Oz' .* not an integer"),
    Case("garbage-version", damaged_night(lambda p: patch_header(p, "version", b"\x00PK\x03")), 1,
         FULL_NAME + r": not an EDF or BDF file"),
    Case("zero-records", damaged_night(no_records), 1, FULL_NAME + r": contains no data records"),
    Case("edf-plus-d-gap", damaged_night(gap, file_type="edf+"), 1,
         FULL_NAME + r": discontinuous \(EDF\+D\) recording with a 7\.5-s gap"),
    Case("physical-min-equals-max", damaged_night(equal_fields("physical_min", "physical_max")), 1,
         FULL_NAME + r": channel 'EEG Fpz-Cz': physical minimum equals physical maximum"),
    Case("digital-min-equals-max", damaged_night(equal_fields("digital_min", "digital_max")), 1,
         FULL_NAME + r": channel 'EEG Fpz-Cz': digital range .* is empty"),
    Case("bdf-digital-min-equals-max",
         damaged_night(equal_fields("digital_min", "digital_max"), file_type="bdf"), 1,
         r"night\.bdf: channel 'EEG Fpz-Cz': digital range .* is empty"),
    Case("not-an-edf", not_an_edf, 1, FULL_NAME + r": not an EDF or BDF file"),
    Case("psg-does-not-exist", lambda tmp: predict(tmp, tmp / "absent.edf"), 1,
         r"absent\.edf: cannot read"),
    # Channels and signal
    Case("required-channel-missing",
         night_with(lambda: [Channel("EEG Fpz-Cz", sine(100, SECONDS, 10.0, 30.0), 100)]), 1,
         FULL_NAME + r": no channel 'EEG Pz-Oz'; the file has 'EEG Fpz-Cz'"),
    Case("channel-all-zeros",
         lambda tmp: predict(tmp, write_night(tmp / "night.edf", pz_oz=np.zeros(100 * SECONDS))), 1,
         FULL_NAME + r": channel 'EEG Pz-Oz' is flat for the whole recording"),
    Case("channel-all-nan-after-scaling",
         damaged_night(lambda p: patch_header(p, "physical_max", "nan", signal=1)), 1,
         FULL_NAME + r": channel 'EEG Pz-Oz': physical maximum 'nan' is not a finite number"),
    Case("sampling-rate-below-50-hz", lambda tmp: predict(tmp, write_night(tmp / "night.edf", fs=40)), 1,
         FULL_NAME + r": channel 'EEG Fpz-Cz' is sampled at 40 Hz, below the 50 Hz minimum"),
    Case("shorter-than-one-epoch", lambda tmp: predict(tmp, write_night(tmp / "night.edf", seconds=29)), 1,
         FULL_NAME + r": recording lasts 29 s, shorter than one 30-s epoch"),
    # Hypnogram
    Case("hypnogram-unknown-label", with_hypnogram("onset\tduration\tdescription\n0\t120\tDeep sleep\n"), 1,
         r"night\.tsv: line 2: unknown stage label 'Deep sleep'"),
    Case("hypnogram-negative-onset", with_hypnogram("onset\tduration\tdescription\n-30\t30\tW\n0\t90\tW\n"), 1,
         r"night\.tsv: line 2: negative onset -30"),
    Case("hypnogram-overlapping-onsets",
         with_hypnogram("onset\tduration\tdescription\n0\t60\tW\n30\t90\tN1\n"), 1,
         r"night\.tsv: line 3: onset 30 s overlaps"),
    Case("hypnogram-duration-not-30s",
         with_hypnogram("onset\tduration\tdescription\n0\t45\tW\n45\t75\tN2\n"), 1,
         r"night\.tsv: line 2: interval 0-45 s .* epoch grid"),
    Case("hypnogram-misaligned-start", with_hypnogram(clock_hypnogram(10), "night.txt"), 1,
         r"night\.txt: hypnogram starts 10 s after the PSG, not a whole number"),
    Case("hypnogram-of-another-night", with_hypnogram(clock_hypnogram(-12 * 3600), "night.txt"), 1,
         r"night\.txt: hypnogram ends \d+ s before the PSG starts.*different night"),
    Case("hypnogram-edf-truncated", lambda tmp: edf_hypnogram(tmp, cut_bytes=10), 1,
         r"night-hypnogram\.edf: file is truncated"),
    Case("hypnogram-empty", with_hypnogram(""), 1, r"night\.tsv: file is empty"),
    Case("hypnogram-csv-missing-columns", with_hypnogram("onset,duration\n0,30\n30,30\n", "expert.csv"), 1,
         r"expert\.csv: no stage .* column in the header"),
    # Model
    Case("model-not-onnx", with_model(text_model), 1, r"notes\.onnx: not a readable ONNX model"),
    Case("model-truncated", with_model(truncated_model), 1, r"linear\.onnx: not a readable ONNX model"),
    Case("model-missing-metadata",
         with_model(model_with(contract_metadata(CHANNELS, **{"sleepscore.channels": None}))), 1,
         r"broken\.onnx: model breaks the contract, metadata lacks sleepscore\.channels"),
    Case("model-wrong-output-shape", with_model(model_with(contract_metadata(CHANNELS), n_outputs=4)), 1,
         r"broken\.onnx: model breaks the contract, output 'probs' has shape \(1, 4, 4\)"),
    Case("model-probabilities-do-not-sum-to-1",
         with_model(model_with(contract_metadata(CHANNELS), softmax=False, scale=10.0)), 1,
         r"broken\.onnx: model breaks the contract, output rows are not probabilities that sum to 1"),
    Case("model-for-channels-the-file-lacks",
         with_model(model_with(contract_metadata(["EEG C3-A2", "EEG O1-A2"]))), 1,
         FULL_NAME + r": no channel 'EEG C3-A2'; the file has 'EEG Fpz-Cz', 'EEG Pz-Oz'"),
    # Output
    Case("output-folder-missing", lambda tmp: predict(tmp, output=tmp / "absent" / "night.csv"), 1,
         r"output folder \S*absent does not exist"),
    Case("output-exists-without-force", existing_output, 2,
         r"output \S*night\.csv already exists; pass --force"),
]


# ---------------------------------------------------------------------------------------------
# Checks


def invoke(args: list[str]) -> Result:
    return CliRunner().invoke(cli, args)


def error_line(result: Result, exit_code: int) -> str:
    """The one error line of a failed run; fails if anything but our own lines was printed."""
    assert result.exit_code == exit_code, result.output
    # Anything but SystemExit means an exception escaped the CLI's handlers.
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert all(line.startswith(("sleepscore: error: ", "sleepscore: warning: ")) for line in lines), \
        result.output
    errors = [line for line in lines if line.startswith(ERROR_PREFIX)]
    assert len(errors) == 1, result.output
    return errors[0][len(ERROR_PREFIX):]


def leftovers(output: Path) -> list[Path]:
    """Temporary files an atomic write would leave beside ``output`` if it broke off."""
    return sorted(output.parent.glob(f".{output.name}.*")) if output.parent.is_dir() else []


@pytest.mark.parametrize("case", CORPUS, ids=[case.id for case in CORPUS])
def test_bad_input_ends_cleanly(tmp_path: Path, case: Case) -> None:
    invocation = case.build(tmp_path)
    message = error_line(invoke(invocation.args), case.exit_code)
    assert re.search(case.message, message), message
    if invocation.previous is None:
        assert not invocation.output.exists()
    else:
        assert invocation.output.read_text() == invocation.previous
    assert leftovers(invocation.output) == []


def test_the_corpus_starts_from_inputs_that_work(tmp_path: Path) -> None:
    """Without the damage the same night, model and hypnogram score: each case fails for its reason."""
    hypnogram = tmp_path / "night.tsv"
    hypnogram.write_text("onset\tduration\tdescription\n0\t60\tW\n60\t60\tN2\n")
    invocation = predict(tmp_path, None, None, "--hypnogram", str(hypnogram))
    result = invoke(invocation.args)
    assert result.exit_code == 0, result.output
    rows = read_table(invocation.output)
    assert len(rows) == SECONDS // 30
    assert [row["expert"] for row in rows] == ["W", "W", "N2", "N2"]


def test_edf_hypnogram_of_the_corpus_is_valid_before_the_cut(tmp_path: Path) -> None:
    invocation = edf_hypnogram(tmp_path)
    result = invoke(invocation.args)
    assert result.exit_code == 0, result.output
    assert [row["expert"] for row in read_table(invocation.output)] == ["W"] * (SECONDS // 30)


def test_huge_record_count_fails_without_allocating_it(tmp_path: Path) -> None:
    # 99999999 records of 200 samples would be 40 GB as int16, 160 GB as float64.
    invocation = predict(tmp_path)
    # One good run first, so that imports and caches are not counted in the failing one.
    assert invoke([*invocation.args, "--force"]).exit_code == 0
    invocation.output.unlink()
    patch_header(Path(invocation.args[1]), "n_records", "99999999")
    tracemalloc.start()
    try:
        result = invoke(invocation.args)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "99999999 data records" in error_line(result, 1)
    assert peak < 50_000_000


def test_read_only_folder(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("running as root, where a read-only folder still accepts writes; "
                    "see test_unwritable_folder_simulated")
    locked = tmp_path / "locked"
    locked.mkdir()
    invocation = predict(tmp_path, output=locked / "night.csv")
    locked.chmod(0o555)
    try:
        message = error_line(invoke(invocation.args), 1)
    finally:
        locked.chmod(0o755)
    assert re.search(r"cannot write to output folder \S*locked", message), message
    assert list(locked.iterdir()) == []


def test_unwritable_folder_simulated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    invocation = predict(tmp_path)
    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    message = error_line(invoke(invocation.args), 1)
    assert re.search(rf"cannot write to output folder {re.escape(str(tmp_path))}: Permission denied",
                     message), message
    assert not invocation.output.exists() and leftovers(invocation.output) == []


def test_force_replaces_a_previous_output_with_a_complete_one(tmp_path: Path) -> None:
    invocation = existing_output(tmp_path)
    result = invoke([*invocation.args, "--force"])
    assert result.exit_code == 0, result.output
    assert len(read_table(invocation.output)) == SECONDS // 30


# ---------------------------------------------------------------------------------------------
# Through a real process: stderr is exactly one line, stdout is empty.

SUBPROCESS_CASES = ["truncated-mid-record", "hypnogram-unknown-label", "model-not-onnx",
                    "output-exists-without-force"]


@pytest.mark.parametrize("case", [c for c in CORPUS if c.id in SUBPROCESS_CASES],
                         ids=SUBPROCESS_CASES)
def test_real_process_prints_one_line_on_stderr(tmp_path: Path, case: Case) -> None:
    invocation = case.build(tmp_path)
    done = subprocess.run([sys.executable, "-m", "sleepscore", *invocation.args],
                          capture_output=True, text=True, cwd=REPO)
    assert done.returncode == case.exit_code, done.stderr
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(ERROR_PREFIX), done.stderr
    assert re.search(case.message, lines[0]), lines[0]


def test_truncated_edf_hypnogram_prints_nothing_on_stdout(tmp_path: Path) -> None:
    invocation = edf_hypnogram(tmp_path, cut_bytes=10)
    done = subprocess.run([sys.executable, "-m", "sleepscore", *invocation.args],
                          capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stdout == ""


# ---------------------------------------------------------------------------------------------
# The shipped default model (no --model): the same failures, and a night it cannot read.

def needs_shipped(*names: str) -> pytest.MarkDecorator:
    missing = [name for name in names if not (shipped_models_dir() / name).is_file()]
    return pytest.mark.skipif(bool(missing), reason=f"shipped model(s) {missing} not in {shipped_models_dir()}")


@needs_shipped(DEFAULT_MODEL)
@pytest.mark.parametrize("damage, message", [
    (truncate, FULL_NAME + r": file is truncated"),
    (gap, FULL_NAME + r": discontinuous \(EDF\+D\)"),
])
def test_default_model_path_fails_cleanly(tmp_path: Path, damage, message: str) -> None:
    psg = write_night(tmp_path / "night.edf", file_type="edf+")
    damage(psg)
    output = tmp_path / "night.csv"
    assert re.search(message, error_line(invoke(["predict", str(psg), "-o", str(output)]), 1))
    assert not output.exists()


@needs_shipped(DEFAULT_MODEL, ANY_EEG_MODEL)
def test_default_invocation_without_any_eeg_names_the_channels_and_the_option(tmp_path: Path) -> None:
    psg = write_psg(tmp_path / "night.edf", [Channel("E1-M2", sine(100, SECONDS, 1.0, 30.0), 100),
                                              Channel("EMG Chin", sine(100, SECONDS, 40.0, 5.0), 100),
                                              Channel("ECG", sine(100, SECONDS, 1.2, 500.0), 100)])
    output = tmp_path / "night.csv"
    message = error_line(invoke(["predict", str(psg), "-o", str(output)]), 1)
    assert re.search(FULL_NAME + r": no EEG channel found \(none of 'E1-M2', 'EMG Chin', 'ECG'.*--channels",
                     message), message
    assert not output.exists()


@needs_shipped(DEFAULT_MODEL, ANY_EEG_MODEL)
def test_three_channels_for_the_two_channel_model_is_one_line(tmp_path: Path) -> None:
    psg = write_psg(tmp_path / "night.edf", [Channel(name, sine(100, SECONDS, 10.0, 30.0), 100)
                                              for name in ("C4-M1", "C3-M2", "O2-M1")])
    output = tmp_path / "night.csv"
    message = error_line(invoke(["predict", str(psg), "-o", str(output), "--channels", "C4-M1,C3-M2,O2-M1",
                                 "--model", str(shipped_models_dir() / DEFAULT_MODEL)]), 1)
    assert DEFAULT_MODEL in message and "takes 2 channel(s)" in message and "3 were given" in message
    assert not output.exists()


def clock_seconds(text: str) -> float:
    hours, minutes, seconds = text.split(":")
    return 3600 * int(hours) + 60 * int(minutes) + float(seconds)


def test_real_hypnogram_of_the_next_night(tmp_path: Path, sleep_edf_dir: Path) -> None:
    """The 5-min excerpt of SC4001E0 with the expert hypnogram of SC4002E0, recorded the next day."""
    with (sleep_edf_dir / "sc78-nights.tsv").open(newline="") as handle:
        starts = {row["night"]: clock_seconds(row["rec_start"]) for row in csv.DictReader(handle, delimiter="\t")}
    # SC4002E0 starts the day after SC4001E0, at an earlier clock time: wrap around midnight.
    gap_after_excerpt_s = (starts["SC4002E0"] - starts["SC4001E0"]) % 86400 - 300
    output = tmp_path / "night.csv"
    result = invoke(["predict", str(sleep_edf_dir / "excerpt" / "SC4001E0-PSG-first5min.edf"),
                     "--hypnogram", str(sleep_edf_dir / "hypnograms" / "SC4002EC-Hypnogram.edf"),
                     "-o", str(output), "--model", str(linear_model(tmp_path))])
    message = error_line(result, 1)
    assert re.search(rf"SC4002EC-Hypnogram\.edf: hypnogram starts {gap_after_excerpt_s:g} s after the "
                     r"300-s PSG ends.*different night", message), message
    assert not output.exists()


@needs_shipped(DEFAULT_MODEL)
def test_real_excerpt_cut_mid_record_with_the_default_model(tmp_path: Path, sleep_edf_dir: Path) -> None:
    excerpt = tmp_path / "SC4001E0-PSG-first5min.edf"
    original = (sleep_edf_dir / "excerpt" / excerpt.name).read_bytes()
    excerpt.write_bytes(original[: len(original) - 1000])
    output = tmp_path / "night.csv"
    message = error_line(invoke(["predict", str(excerpt), "-o", str(output)]), 1)
    assert re.search(rf"SC4001E0-PSG-first5min\.edf: file is truncated: .* the file has {len(original) - 1000}",
                     message), message
    assert not output.exists()


# ---------------------------------------------------------------------------------------------
# Imperfect but usable data: scored, with the affected epochs flagged.


def read_table(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return [row for row in csv.DictReader(handle) if not row["epoch"].startswith("#")]


def test_flat_and_clipped_stretches_are_scored_and_flagged(tmp_path: Path) -> None:
    fs, n_epochs, rail = 100, 20, 100.0
    fpz_cz = sine(fs, 30 * n_epochs, 10.0, 30.0)
    pz_oz = sine(fs, 30 * n_epochs, 3.0, 60.0)
    flat_epochs, clipped_epochs = [4, 5], [10, 11]  # 60 s each, on the epoch grid
    fpz_cz[30 * fs * 4: 30 * fs * 6] = 0.0
    # A sine 1.2 times the range, cut at the rails: 37% of its samples sit at the physical
    # min/max (a clip), yet fewer than half of its steps are zero (not a flat line).
    stretch = slice(30 * fs * 10, 30 * fs * 12)
    pz_oz[stretch] = np.clip(1.2 * rail * np.sin(2 * np.pi * 3.0 * np.arange(60 * fs) / fs), -rail, rail)
    psg = write_psg(tmp_path / "night.edf", [
        Channel("EEG Fpz-Cz", fpz_cz, fs),
        Channel("EEG Pz-Oz", pz_oz, fs, physical_min=-rail, physical_max=rail),
    ])
    invocation = predict(tmp_path, psg)
    result = invoke(invocation.args)
    assert result.exit_code == 0, result.output
    rows = read_table(invocation.output)
    assert [int(row["epoch"]) for row in rows] == list(range(n_epochs))
    assert all(row["stage"] in STAGES for row in rows)
    expected = {epoch: "flat:EEG Fpz-Cz" for epoch in flat_epochs}
    expected |= {epoch: "clipped:EEG Pz-Oz" for epoch in clipped_epochs}
    assert {int(row["epoch"]): row["quality"] for row in rows if row["quality"]} == expected


def test_bdf_with_24_bit_saturation_codes_is_scored_and_flagged(tmp_path: Path) -> None:
    """Samples at the 24-bit extremes are the recorder's overflow codes: clipped, not fatal."""
    psg = write_night(tmp_path / "night.bdf", file_type="bdf")
    # 1-s records of 2 signals x 100 samples x 3 bytes; Pz-Oz is the second signal of each record.
    saturated_epoch, record_bytes, sample_bytes = 2, 2 * 100 * 3, 3
    extremes = ((2**23 - 1).to_bytes(3, "little", signed=True)
                + (-(2**23)).to_bytes(3, "little", signed=True)) * 50
    for record in range(30 * saturated_epoch, 30 * (saturated_epoch + 1)):
        patch_bytes(psg, header_bytes(psg) + record * record_bytes + 100 * sample_bytes, extremes)
    invocation = predict(tmp_path, psg)
    result = invoke(invocation.args)
    assert result.exit_code == 0, result.output
    rows = read_table(invocation.output)
    assert len(rows) == SECONDS // 30
    assert [row["quality"] for row in rows] == ["", "", "clipped:EEG Pz-Oz", ""]


def test_non_ascii_text_fields_do_not_stop_scoring(tmp_path: Path) -> None:
    psg = write_night(tmp_path / "night.edf")
    patch_header(psg, "patient", "Zoë Ångström".encode("latin-1"))
    patch_header(psg, "recording", b"\xff\xfe\x00 export")
    invocation = predict(tmp_path, psg)
    result = invoke(invocation.args)
    assert result.exit_code == 0, result.output
    assert len(read_table(invocation.output)) == SECONDS // 30


# ---------------------------------------------------------------------------------------------
# Several nights: keep going past a bad one, name it, exit non-zero at the end.


def write_pair(folder: Path, name: str, stages: list[str]) -> Path:
    psg = write_night(folder / f"{name}.edf", seconds=30 * len(stages))
    (folder / f"{name}.tsv").write_text(
        "onset\tduration\tdescription\n" + "".join(f"{30 * i}\t30\t{s}\n" for i, s in enumerate(stages)))
    return psg


@pytest.mark.parametrize("damage, problem", [
    (truncate, r"file is truncated"),
    (lambda p: patch_header(p, "physical_min", read_field(p, "physical_max", 1), signal=1),
     r"channel 'EEG Pz-Oz': physical minimum equals physical maximum"),
])
def test_evaluate_goes_on_past_a_night_whose_edf_is_bad(tmp_path: Path, damage, problem: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    write_pair(data, "a", ["W", "N1", "N2", "N2"])
    damage(write_pair(data, "b", ["W", "N2", "N2", "W"]))
    write_pair(data, "c", ["W", "W", "N2", "REM", "W"])
    report = tmp_path / "eval.json"
    result = invoke(["evaluate", str(data), "--model", str(linear_model(tmp_path)), "--report", str(report),
                     "-q"])
    message = error_line(result, 1)
    assert re.search(r"1 of 3 nights failed \(b\)", message), message
    assert re.search(r"sleepscore: warning: b: \S*b\.edf: " + problem, result.output), result.output
    nights = {night["night"]: night for night in json.loads(report.read_text())["nights"]}
    assert nights["a"]["agreement"]["n_epochs"] == 4 and nights["c"]["agreement"]["n_epochs"] == 5
    assert nights["b"]["agreement"] is None and re.search(problem, nights["b"]["error"])


@pytest.mark.parametrize("damage, problem", [
    (truncate, r"file is truncated"),
    (gap, r"discontinuous \(EDF\+D\) recording with a 7\.5-s gap"),
    (equal_fields("digital_min", "digital_max"), r"channel 'EEG Fpz-Cz': digital range .* is empty"),
])
def test_predict_on_a_folder_goes_on_past_a_bad_night(tmp_path: Path, damage, problem: str) -> None:
    cohort = tmp_path / "cohort"
    cohort.mkdir()
    for name, seconds in (("a", 90), ("c", 150)):
        write_night(cohort / f"{name}.edf", seconds=seconds)
    damage(write_night(cohort / "b.edf", file_type="edf+"))
    scored = tmp_path / "scored"
    result = invoke(["predict", str(cohort), "-o", str(scored), "--model", str(linear_model(tmp_path)),
                     "--jobs", "1", "-q"])
    assert re.search(r"1 of 3 nights failed \(b\.edf\)", error_line(result, 1))
    assert re.search(r"sleepscore: warning: \S*b\.edf: " + problem, result.output), result.output
    assert sorted(p.name for p in scored.iterdir()) == ["a.csv", "c.csv"]
    assert len(read_table(scored / "a.csv")) == 3 and len(read_table(scored / "c.csv")) == 5


def test_predict_on_a_folder_refuses_a_broken_model_before_any_night(tmp_path: Path) -> None:
    cohort = tmp_path / "cohort"
    cohort.mkdir()
    for name in "abc":
        write_night(cohort / f"{name}.edf")
    scored = tmp_path / "scored"
    result = invoke(["predict", str(cohort), "-o", str(scored), "--model", str(text_model(tmp_path)),
                     "--jobs", "2", "-q"])
    assert re.search(r"notes\.onnx: not a readable ONNX model", error_line(result, 1))
    assert not scored.exists() or list(scored.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# Fuzzing through the command: mutated EDF bytes end in exit 0 with a complete table, or exit 1
# with one error line and no table; never a traceback or another exception.


@pytest.fixture(scope="module")
def fuzz_inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Path, Path]:
    folder = tmp_path_factory.mktemp("cli-fuzz")
    source = write_night(folder / "source.edf", seconds=90, file_type="edf+")
    return source.read_bytes(), linear_model(folder), folder


_HEADER_BYTE = st.sampled_from(list(b"0123456789 .-+eE")) | st.integers(0, 255)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_mutated_edf_through_predict(fuzz_inputs: tuple[bytes, Path, Path], data: st.DataObject) -> None:
    original, model, folder = fuzz_inputs
    header_size = 256 * 4  # fixed header and three signal headers (two EEG, annotations)
    offsets = st.integers(0, header_size - 1) | st.integers(0, len(original) - 1)
    damaged = bytearray(original)
    for offset, value in data.draw(st.lists(st.tuples(offsets, _HEADER_BYTE), min_size=1, max_size=8)):
        damaged[offset] = value
    damaged = damaged[: data.draw(st.sampled_from([len(damaged), data.draw(st.integers(0, len(damaged)))]))]
    psg, output = folder / "mutant.edf", folder / "mutant.csv"
    psg.write_bytes(bytes(damaged))
    output.unlink(missing_ok=True)
    result = invoke(["predict", str(psg), "-o", str(output), "--model", str(model), "-q"])
    if result.exit_code == 0:
        assert result.exception is None
        rows = read_table(output)
        assert len(rows) >= 1 and all(row["stage"] in STAGES for row in rows)
    else:
        assert "mutant.edf" in error_line(result, 1)
        assert not output.exists()
    assert leftovers(output) == []
