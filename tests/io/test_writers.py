"""Output writers: table content, atomicity, the --force rule, EDF+ hypnograms read back by MNE."""

from __future__ import annotations

import csv
import json
import os
from datetime import datetime
from pathlib import Path

import mne
import numpy as np
import pytest

from sleepscore.errors import DataError, UsageError
from sleepscore.io.writers import (ScoredNight, atomic_path, stage_runs, write_hypnogram_edf,
                               write_json, write_scored_table)

START = datetime(2024, 3, 1, 23, 58, 30)


def make_night(n: int = 6, quality: bool = True, expert: bool = True) -> ScoredNight:
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(5), size=n)
    return ScoredNight(
        probs=probs, start=START, epoch_s=30.0,
        quality=np.array(["", "flat", "", "", "clipped", ""][:n]) if quality else None,
        expert=np.array([0, 0, -1, 2, 3, 4][:n]) if expert else None)


def read_rows(path: Path, delimiter: str) -> tuple[list[dict[str, str]], list[str]]:
    """Table rows as dicts, and the comment lines, split the way a csv user has to."""
    lines = path.read_text(encoding="utf-8").splitlines()
    comments = [line for line in lines if line.startswith("#")]
    table = [line for line in lines if not line.startswith("#")]
    return list(csv.DictReader(table, delimiter=delimiter)), comments


@pytest.mark.parametrize("fmt, delimiter", [("csv", ","), ("tsv", "\t")])
def test_table_rows_and_columns(tmp_path: Path, fmt: str, delimiter: str) -> None:
    night = make_night()
    out = tmp_path / f"night.{fmt}"
    write_scored_table(out, night, {"TST_min": 412.5, "SOL_min": None, "model": "m.onnx"}, fmt=fmt)
    rows, comments = read_rows(out, delimiter)
    assert list(rows[0]) == ["epoch", "onset_s", "onset_time", "stage", "confidence", "p_W",
                             "p_N1", "p_N2", "p_N3", "p_REM", "quality", "expert"]
    assert len(rows) == 6
    # Clock times across midnight, written out by hand from START + k * 30 s.
    assert [r["onset_time"] for r in rows[:4]] == [
        "2024-03-01T23:58:30", "2024-03-01T23:59:00", "2024-03-01T23:59:30", "2024-03-02T00:00:00"]
    assert [r["onset_s"] for r in rows] == ["0", "30", "60", "90", "120", "150"]
    assert [r["quality"] for r in rows] == ["", "flat", "", "", "clipped", ""]
    assert [r["expert"] for r in rows] == ["W", "W", "", "N2", "N3", "REM"]
    names = ["W", "N1", "N2", "N3", "REM"]
    for row, p in zip(rows, night.probs):
        written = np.array([float(row[f"p_{s}"]) for s in names])
        np.testing.assert_allclose(written, p, atol=5e-5)
        assert row["stage"] == names[int(np.argmax(p))]
        assert float(row["confidence"]) == pytest.approx(p.max(), abs=5e-5)
    assert comments == ["# TST_min: 412.50", "# SOL_min: NA", "# model: m.onnx"]


def test_pandas_skips_the_statistics(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    out = tmp_path / "night.tsv"
    write_scored_table(out, make_night(), {"TST_min": 1.5, "SOL_min": None}, fmt="tsv")
    frame = pd.read_csv(out, sep="\t", comment="#")
    assert len(frame) == 6
    assert frame["epoch"].tolist() == list(range(6))
    assert frame["expert"].isna().tolist() == [False, False, True, False, False, False]


def test_table_without_optional_columns_or_start(tmp_path: Path) -> None:
    night = make_night(quality=False, expert=False)
    night.start = None
    out = tmp_path / "night.csv"
    write_scored_table(out, night)
    rows, comments = read_rows(out, ",")
    assert "quality" not in rows[0] and "expert" not in rows[0]
    assert {r["onset_time"] for r in rows} == {""}
    assert comments == []


def test_table_rejects_unknown_format_and_mismatched_columns(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="'xlsx'"):
        write_scored_table(tmp_path / "n.xlsx", make_night(), fmt="xlsx")
    with pytest.raises(DataError, match="expert has 3 epochs"):
        ScoredNight(probs=np.full((4, 5), 0.2), expert=np.zeros(3, dtype=int))
    with pytest.raises(DataError, match="shape"):
        ScoredNight(probs=np.full((4, 3), 0.2))
    with pytest.raises(DataError, match="expert: stage code 5"):
        ScoredNight(probs=np.full((2, 5), 0.2), expert=np.array([0, 5]))
    assert list(tmp_path.iterdir()) == []


class Exploding:
    """A statistics value whose formatting fails after the table rows were written."""

    def __str__(self) -> str:
        raise RuntimeError("boom")


def test_failed_writer_leaves_no_file(tmp_path: Path) -> None:
    out = tmp_path / "night.csv"
    with pytest.raises(RuntimeError, match="boom"):
        write_scored_table(out, make_night(), {"TST_min": 1.0, "bad": Exploding()})
    assert list(tmp_path.iterdir()) == []


def test_failed_writer_keeps_previous_file(tmp_path: Path) -> None:
    out = tmp_path / "night.csv"
    out.write_text("previous result\n")
    with pytest.raises(RuntimeError):
        write_scored_table(out, make_night(), {"bad": Exploding()}, force=True)
    assert out.read_text() == "previous result\n"
    assert list(tmp_path.iterdir()) == [out]


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, ValueError])
def test_atomic_path_cleans_up_on_any_exception(tmp_path: Path, interrupt: type) -> None:
    out = tmp_path / "result.json"
    with pytest.raises(interrupt):
        with atomic_path(out) as temporary:
            temporary.write_text("half written")
            assert temporary.parent == tmp_path and temporary != out
            raise interrupt()
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_replaces_only_on_success(tmp_path: Path) -> None:
    out = tmp_path / "result.txt"
    with atomic_path(out) as temporary:
        temporary.write_text("new")
        assert not out.exists()  # nothing visible under the final name until the block ends
    assert out.read_text() == "new"
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_existing_output_needs_force(tmp_path: Path) -> None:
    out = tmp_path / "stats.json"
    write_json(out, {"a": 1})
    with pytest.raises(UsageError, match=r"stats\.json already exists.*--force"):
        write_json(out, {"a": 2})
    assert json.loads(out.read_text()) == {"a": 1}
    write_json(out, {"a": 2}, force=True)
    assert json.loads(out.read_text()) == {"a": 2}


def test_json_is_strict_and_unserialisable_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_json(tmp_path / "x.json", {"kappa": float("nan")})
    assert list(tmp_path.iterdir()) == []


def test_output_that_is_a_folder(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is a folder"):
        write_json(tmp_path, {}, force=True)


def test_missing_folder_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such"
    with pytest.raises(DataError, match=f"output folder {missing} does not exist"):
        write_json(missing / "x.json", {})


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root ignores folder permissions")
def test_read_only_folder_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(DataError, match=f"cannot write to output folder {folder}"):
            write_json(folder / "x.json", {})
    finally:
        folder.chmod(0o755)


def test_unwritable_folder_error_without_chmod(tmp_path: Path, monkeypatch) -> None:
    # Runs as root too: the failure is injected where the temporary file is created.
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("sleepscore.io.writers.tempfile.mkstemp", refuse)
    message = f"cannot write to output folder {tmp_path}: Permission denied"
    with pytest.raises(DataError, match=message):
        write_json(tmp_path / "x.json", {})


# --- EDF+ hypnograms ---------------------------------------------------------------------------

def test_stage_runs() -> None:
    assert stage_runs(np.array([2, 2, 0, 4, 4, 4])) == [(0, 2, 2), (2, 1, 0), (3, 3, 4)]
    assert stage_runs(np.array([], dtype=int)) == []


def test_hypnogram_round_trip_through_mne(tmp_path: Path) -> None:
    stages = np.array([0, 0, 0, 1, 2, 2, 2, 3, 3, -1, 4, 4, 0])
    out = tmp_path / "night-hypnogram.edf"
    write_hypnogram_edf(out, stages, start=datetime(2024, 3, 1, 22, 45, 0), epoch_s=30.0)
    annotations = mne.read_annotations(out)
    np.testing.assert_allclose(annotations.onset, [0, 90, 120, 210, 270, 300, 360])
    np.testing.assert_allclose(annotations.duration, [90, 30, 90, 60, 30, 60, 30])
    assert list(annotations.description) == [
        "Sleep stage W", "Sleep stage N1", "Sleep stage N2", "Sleep stage N3", "Sleep stage ?",
        "Sleep stage R", "Sleep stage W"]
    header = out.read_bytes()[:256].decode("ascii")
    assert header[168:184] == "01.03.2422.45.00"  # dd.mm.yyhh.mm.ss start date and time
    assert "Startdate 01-MAR-2024" in header[88:168]


def test_hypnogram_header_matches_sleep_edf_layout(tmp_path: Path, sleep_edf_dir: Path) -> None:
    """Same EDF+ layout as PhysioNet's hypnograms, which EDFbrowser opens."""
    out = tmp_path / "h.edf"
    write_hypnogram_edf(out, np.array([0, 2, 2]), start=datetime(1989, 4, 24, 16, 13))
    ours = out.read_bytes()
    theirs = (sleep_edf_dir / "hypnograms" / "SC4001EC-Hypnogram.edf").read_bytes()
    for field in (slice(0, 8), slice(192, 236), slice(244, 256), slice(256, 272)):
        assert ours[field] == theirs[field]  # version, EDF+C, record duration + 1 signal, label
    header_bytes = int(ours[184:192])
    record_bytes = 2 * int(ours[header_bytes - 40:header_bytes - 32].decode().split()[0])
    assert len(ours) == header_bytes + int(ours[236:244]) * record_bytes


def test_real_hypnogram_survives_round_trip(tmp_path: Path, sleep_edf_dir: Path) -> None:
    codes = {"Sleep stage W": 0, "Sleep stage 1": 1, "Sleep stage 2": 2, "Sleep stage 3": 3,
             "Sleep stage 4": 3, "Sleep stage R": 4, "Sleep stage ?": -1, "Movement time": -1}
    ours = {"Sleep stage W": 0, "Sleep stage N1": 1, "Sleep stage N2": 2, "Sleep stage N3": 3,
            "Sleep stage R": 4, "Sleep stage ?": -1}

    def expand(annotations: mne.Annotations, mapping: dict[str, int]) -> np.ndarray:
        return np.concatenate([np.full(int(d // 30), mapping[t])
                               for d, t in zip(annotations.duration, annotations.description)])

    original = expand(mne.read_annotations(
        sleep_edf_dir / "hypnograms" / "SC4001EC-Hypnogram.edf"), codes)
    out = tmp_path / "copy.edf"
    write_hypnogram_edf(out, original)
    np.testing.assert_array_equal(expand(mne.read_annotations(out), ours), original)


def test_hypnogram_read_back_by_sleepscore(tmp_path: Path) -> None:
    hypnogram = pytest.importorskip("sleepscore.io.hypnogram")
    stages = np.array([0, 0, 1, 2, 3, 3, -1, 4, 0])
    start = datetime(2024, 3, 1, 23, 0, 0)
    out = tmp_path / "h.edf"
    write_hypnogram_edf(out, stages, start=start)
    read = hypnogram.read_hypnogram(out)
    labels = pytest.importorskip("sleepscore.alignment").epoch_labels(read, len(stages), psg_start=start,
                                                                      epoch_s=30.0)
    np.testing.assert_array_equal(labels, stages)


def test_hypnogram_rejects_unknown_code_and_bad_date(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="stage code 7"):
        write_hypnogram_edf(tmp_path / "h.edf", np.array([0, 7]))
    with pytest.raises(DataError, match="h.edf: cannot write the hypnogram"):
        write_hypnogram_edf(tmp_path / "h.edf", np.array([0]), start=datetime(1979, 1, 1))
    assert list(tmp_path.iterdir()) == []
