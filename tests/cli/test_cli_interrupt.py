"""Ctrl-C during a multi-night run: the finished outputs stay complete, no file is half-written,
no temporary file is left behind, and a previous result that was being replaced survives."""

from __future__ import annotations

import contextlib
import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from edf_factory import Channel, sine, write_psg
from onnx_factory import contract_metadata, write_linear_model
from repo_paths import REPO
from sleepscore.batch import BatchOutcome, score_many


CHANNELS = ["EEG Fpz-Cz", "EEG Pz-Oz"]
STAGES = ["W", "N1", "N2", "N3", "REM"]


def write_nights(folder: Path, count: int, seconds: int = 120) -> list[Path]:
    """``count`` two-channel nights whose lengths differ, so each output has its own row count."""
    folder.mkdir(parents=True, exist_ok=True)
    nights = []
    for index in range(count):
        length = seconds + 30 * index
        nights.append(write_psg(folder / f"night{index:02d}.edf", [
            Channel("EEG Fpz-Cz", sine(100, length, 10.0 + index, 30.0), 100),
            Channel("EEG Pz-Oz", sine(100, length, 3.0, 60.0), 100),
        ]))
    return nights


def epochs_of(psg: Path, seconds: int = 120) -> int:
    """Epochs of a night of :func:`write_nights`, from its index in the name."""
    return (seconds + 30 * int(psg.stem.removeprefix("night"))) // 30


@pytest.fixture
def model(tmp_path: Path) -> Path:
    weights = np.random.default_rng(5).normal(size=(18, 5))
    return write_linear_model(tmp_path / "linear.onnx", weights, contract_metadata(CHANNELS))


def table_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return [row for row in csv.DictReader(handle) if not row["epoch"].startswith("#")]


def assert_complete(output: Path, n_epochs: int) -> None:
    """The whole table: every epoch in order, valid stages, and the statistics that end the file."""
    rows = table_rows(output)
    assert [int(row["epoch"]) for row in rows] == list(range(n_epochs))
    assert all(row["stage"] in STAGES for row in rows)
    assert output.read_text().splitlines()[-1].startswith("# ")


def temporary_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.tmp*"))


def interrupt_after(count: int):
    seen: list[BatchOutcome] = []

    def on_night(outcome: BatchOutcome) -> None:
        seen.append(outcome)
        if len(seen) == count:
            raise KeyboardInterrupt
    return on_night, seen


def test_ctrl_c_after_the_first_night_keeps_it_and_starts_no_other(tmp_path: Path, model: Path) -> None:
    psgs = write_nights(tmp_path / "in", 4)
    out = tmp_path / "out"
    on_night, seen = interrupt_after(1)
    with pytest.raises(KeyboardInterrupt):
        score_many(psgs, out, model=model, jobs=1, on_night=on_night)
    assert [outcome.psg for outcome in seen] == [psgs[0]] and seen[0].ok
    assert sorted(p.name for p in out.iterdir()) == ["night00.csv"]
    assert_complete(out / "night00.csv", epochs_of(psgs[0]))


def test_ctrl_c_in_the_middle_of_a_write_leaves_the_previous_file(tmp_path: Path, model: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    psgs = write_nights(tmp_path / "in", 3)
    out = tmp_path / "out"
    out.mkdir()
    previous = "epoch,stage\n0,W\n"
    (out / "night01.csv").write_text(previous)
    real_writer = csv.writer
    tables_started = []

    def writer_interrupted_in_the_second_table(handle, *args, **kwargs):
        writer = real_writer(handle, *args, **kwargs)
        tables_started.append(handle)
        if len(tables_started) < 2:
            return writer

        class Interrupted:
            rows = 0

            def writerow(self, row):
                Interrupted.rows += 1
                if Interrupted.rows == 3:  # header and one epoch are in the temporary file by now
                    handle.flush()
                    raise KeyboardInterrupt
                return writer.writerow(row)
        return Interrupted()

    monkeypatch.setattr(csv, "writer", writer_interrupted_in_the_second_table)
    with pytest.raises(KeyboardInterrupt):
        score_many(psgs, out, model=model, jobs=1, force=True)
    assert len(tables_started) == 2
    assert_complete(out / "night00.csv", epochs_of(psgs[0]))
    assert (out / "night01.csv").read_text() == previous
    assert not (out / "night02.csv").exists()
    assert temporary_files(out) == []


def test_ctrl_c_with_a_process_pool_leaves_only_complete_outputs(tmp_path: Path, model: Path) -> None:
    psgs = write_nights(tmp_path / "in", 6)
    out = tmp_path / "out"
    on_night, seen = interrupt_after(1)
    with pytest.raises(KeyboardInterrupt):
        score_many(psgs, out, model=model, jobs=2, on_night=on_night)
    written = sorted(out.glob("*.csv"))
    # The night reported before the interrupt is on disk; the nights running in the other worker
    # at that moment may finish, the ones not started are cancelled.
    assert out / f"{seen[0].psg.stem}.csv" in written
    for output in written:
        assert_complete(output, epochs_of(output))
    assert temporary_files(out) == []


def finished_outputs(out: Path) -> list[Path]:
    # pathlib's "*" also matches the hidden temporary files of atomic writes; those are not outputs.
    return sorted(p for p in out.glob("*.csv") if not p.name.startswith(".")) if out.is_dir() else []


#: Nights in the folder interrupted below, and how many different ones they link to.
MANY_NIGHTS, DISTINCT_NIGHTS = 1000, 20


def link_many_nights(folder: Path) -> None:
    """:data:`MANY_NIGHTS` nights ``night000.edf``, ..., night ``i`` a link to the ``i %
    DISTINCT_NIGHTS``-th night of :func:`write_nights` (10-20 min): scoring all of them takes
    seconds, far longer than noticing the first output (40 written nights took well under a
    second), at the cost of writing 20 files."""
    distinct = write_nights(folder / "distinct", DISTINCT_NIGHTS, seconds=600)
    for index in range(MANY_NIGHTS):
        (folder / f"night{index:03d}.edf").symlink_to(distinct[index % DISTINCT_NIGHTS])


def epochs_of_linked(output: Path) -> int:
    return epochs_of(Path(f"night{int(output.stem.removeprefix('night')) % DISTINCT_NIGHTS}"), seconds=600)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_to_predict_on_a_folder(tmp_path: Path, model: Path, jobs: str) -> None:
    link_many_nights(tmp_path / "in")
    out = tmp_path / "out"
    # A session of its own, so that SIGINT can go to the whole process group as a terminal's
    # Ctrl-C does: the pool's workers get it too. SIGINT's default action is restored in the child
    # because a test run started in the background (`make test &`) ignores SIGINT, and Python
    # keeps an inherited "ignore" instead of raising KeyboardInterrupt.
    process = subprocess.Popen(
        [sys.executable, "-m", "sleepscore", "predict", str(tmp_path / "in"), "-o", str(out),
         "--jobs", jobs, "--model", str(model), "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        while not finished_outputs(out) and process.poll() is None:
            time.sleep(0.01)
        os.killpg(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=300)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode not in (0, None), "the run ended before it could be interrupted"
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("sleepscore: error: ") and "interrupt" in lines[0], stderr
    written = finished_outputs(out)
    assert 1 <= len(written) < MANY_NIGHTS
    for output in written:
        assert_complete(output, epochs_of_linked(output))
    assert temporary_files(out) == []
