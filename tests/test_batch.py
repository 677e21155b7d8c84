"""Batch scoring: process pool and Dask give the in-process result, failures stay per night,
outputs are checked before any work, and interrupted runs leave only complete files."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edf_factory import Channel, START, write_psg
from onnx_factory import contract_metadata
from sleepscore.batch import BatchOutcome, expand_inputs, output_path, score_many
from sleepscore.errors import DataError, UsageError

SECONDS = 600
EPOCHS = SECONDS // 30
EEG = ["EEG Fpz-Cz", "EEG Pz-Oz"]


def eeg_like(rng: np.random.Generator, seconds: int, fs: int = 100) -> np.ndarray:
    """Pink-ish noise whose level and slow-wave content change every epoch, in uV, so that the
    model's stages vary along the night."""
    n = seconds * fs
    white = rng.standard_normal(n)
    pink = np.cumsum(white) - np.convolve(np.cumsum(white), np.ones(50) / 50, mode="same")
    envelope = np.repeat(rng.uniform(0.3, 3.0, seconds // 30), 30 * fs)
    slow = np.repeat(rng.uniform(0, 60, seconds // 30), 30 * fs) * np.sin(2 * np.pi * 1.0 * np.arange(n) / fs)
    return 20 * pink / pink.std() * envelope + slow


def write_night(path: Path, seed: int, seconds: int = SECONDS) -> Path:
    rng = np.random.default_rng(seed)
    channels = [Channel(label, eeg_like(rng, seconds), 100) for label in [*EEG, "EOG horizontal"]]
    channels.append(Channel("EMG submental", rng.uniform(1, 5, seconds), 1, dimension="uV"))
    return write_psg(path, channels, record_duration=30.0, start=START)


def write_centred_linear_model(path: Path, weights: np.ndarray) -> Path:
    """``probs = softmax((x - mean of x over the night) @ weights)``: centring inside the graph, as
    the contract asks of per-recording normalisation, keeps the softmax from saturating, so the
    probabilities differ from epoch to epoch and from night to night."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "seq", weights.shape[0]])
    probs = helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", "seq", 5])
    initializers = [numpy_helper.from_array(weights.astype(np.float32), "w"),
                    numpy_helper.from_array(np.array([1], dtype=np.int64), "seq_axis")]
    nodes = [helper.make_node("ReduceMean", ["x", "seq_axis"], ["mean"], keepdims=1),
             helper.make_node("Sub", ["x", "mean"], ["centred"]),
             helper.make_node("MatMul", ["centred", "w"], ["logits"]),
             helper.make_node("Softmax", ["logits"], ["probs"], axis=-1)]
    graph = helper.make_graph(nodes, "centred-linear", [x], [probs], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    helper.set_model_props(model, contract_metadata(EEG))
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    weights = np.random.default_rng(7).normal(size=(18, 5))
    return write_centred_linear_model(tmp_path_factory.mktemp("model") / "linear.onnx", weights)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("cohort")
    return [write_night(folder / f"night{i}-PSG.edf", seed=i) for i in range(4)]


@pytest.fixture(scope="module")
def in_process(tmp_path_factory: pytest.TempPathFactory, cohort: list[Path], model: Path) -> Path:
    """The cohort scored night after night in this process: the reference every other way of
    running must reproduce byte for byte."""
    outdir = tmp_path_factory.mktemp("jobs1")
    outcomes = score_many(cohort, outdir, model=model, jobs=1)
    assert [o.error for o in outcomes] == [None] * len(cohort)
    return outdir


def table_rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as handle:
        return [row for row in csv.reader(handle) if row and not row[0].startswith("#")]


def test_in_process_writes_one_complete_table_per_night(in_process: Path, cohort: list[Path]) -> None:
    for psg in cohort:
        rows = table_rows(in_process / f"{psg.stem}.csv")
        assert rows[0][:4] == ["epoch", "onset_s", "onset_time", "stage"]
        assert [int(row[0]) for row in rows[1:]] == list(range(EPOCHS))
    # Byte-identical outputs only prove the nights were not mixed up if the nights differ.
    tables = [table_rows(in_process / f"{psg.stem}.csv")[1:] for psg in cohort]
    assert len({row[3] for rows in tables for row in rows}) >= 3
    assert len({tuple(tuple(row[5:10]) for row in rows) for rows in tables}) == len(cohort)


def test_process_pool_matches_in_process_byte_for_byte(tmp_path: Path, cohort: list[Path], model: Path,
                                                        in_process: Path) -> None:
    seen: list[BatchOutcome] = []
    outcomes = score_many(cohort, tmp_path, model=model, jobs=2, on_night=seen.append)
    assert [o.psg for o in outcomes] == cohort  # input order, whatever the completion order
    assert sorted(o.name for o in seen) == sorted(p.name for p in cohort)
    assert all(o.ok and o.n_epochs == EPOCHS for o in outcomes)
    for outcome in outcomes:
        assert outcome.output == tmp_path / f"{outcome.psg.stem}.csv"
        assert outcome.output.read_bytes() == (in_process / outcome.output.name).read_bytes()
        # What the worker reports back is its own night's mean confidence (table column 4).
        confidence = [float(row[4]) for row in table_rows(outcome.output)[1:]]
        assert outcome.expected_accuracy == pytest.approx(np.mean(confidence), abs=1e-4)


def test_a_bad_night_fails_alone(tmp_path: Path, cohort: list[Path], model: Path) -> None:
    broken = tmp_path / "inputs" / "broken-PSG.edf"
    broken.parent.mkdir()
    broken.write_bytes(b"0       not an EDF header at all")
    nights = [cohort[0], broken, cohort[1]]
    outcomes = score_many(nights, tmp_path / "out", model=model, jobs=2)
    assert [o.ok for o in outcomes] == [True, False, True]
    failed = outcomes[1]
    assert failed.n_epochs is None and "broken-PSG.edf" in failed.error
    assert "\n" not in failed.error
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"{cohort[0].stem}.csv",
                                                                    f"{cohort[1].stem}.csv"]


def test_missing_channel_is_that_nights_error(tmp_path: Path, cohort: list[Path], model: Path) -> None:
    rng = np.random.default_rng(3)
    no_pz = write_psg(tmp_path / "no-pz.edf", [Channel("EEG Fpz-Cz", eeg_like(rng, SECONDS), 100)],
                      record_duration=30.0)
    outcomes = score_many([no_pz, cohort[0]], tmp_path / "out", model=model, jobs=1)
    assert not outcomes[0].ok and "Pz-Oz" in outcomes[0].error and "no-pz.edf" in outcomes[0].error
    assert outcomes[1].ok


def test_existing_output_is_refused_before_any_work(tmp_path: Path, cohort: list[Path], model: Path) -> None:
    existing = output_path(cohort[2], tmp_path)
    existing.write_text("keep me\n")
    with pytest.raises(UsageError, match=existing.name):
        score_many(cohort, tmp_path, model=model, jobs=2)
    assert [p.name for p in tmp_path.iterdir()] == [existing.name]
    assert existing.read_text() == "keep me\n"


def test_force_replaces_existing_output(tmp_path: Path, cohort: list[Path], model: Path,
                                        in_process: Path) -> None:
    existing = output_path(cohort[0], tmp_path)
    existing.write_text("old\n")
    (outcome,) = score_many(cohort[:1], tmp_path, model=model, force=True)
    assert outcome.ok
    assert existing.read_bytes() == (in_process / existing.name).read_bytes()


def test_two_nights_with_one_output_name_are_refused(tmp_path: Path, cohort: list[Path], model: Path) -> None:
    twin = tmp_path / "elsewhere" / cohort[0].name
    twin.parent.mkdir()
    twin.write_bytes(cohort[0].read_bytes())
    with pytest.raises(UsageError, match="would both be written"):
        score_many([cohort[0], twin], tmp_path / "out", model=model)


def test_broken_model_is_refused_once_before_scoring(tmp_path: Path, cohort: list[Path]) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(DataError, match="bad.onnx"):
        score_many(cohort, tmp_path / "out", model=bad, jobs=2)
    assert not any((tmp_path / "out").iterdir())


def test_jobs_below_one_is_a_usage_error(tmp_path: Path, cohort: list[Path], model: Path) -> None:
    with pytest.raises(UsageError, match="--jobs"):
        score_many(cohort, tmp_path, model=model, jobs=0)


@pytest.mark.parametrize("jobs", [1, 2])
def test_interrupt_leaves_only_complete_outputs(tmp_path: Path, cohort: list[Path], model: Path,
                                                in_process: Path, jobs: int) -> None:
    def interrupt(outcome: BatchOutcome) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        score_many(cohort, tmp_path, model=model, jobs=jobs, on_night=interrupt)
    written = sorted(tmp_path.iterdir())
    # In-process, the interrupt comes right after the first night; how many a pool finishes
    # depends on timing, but each one it wrote must be whole.
    assert len(written) == 1 if jobs == 1 else len(written) >= 1
    for path in written:
        assert not path.name.startswith("."), f"temporary file {path.name} left behind"
        assert path.read_bytes() == (in_process / path.name).read_bytes()


def test_dask_cluster_matches_in_process(tmp_path: Path, cohort: list[Path], model: Path,
                                         in_process: Path) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, worker_dashboard_address=None) as cluster:
        outcomes = score_many(cohort, tmp_path, model=model, dask_scheduler=cluster.scheduler_address)
    assert [o.psg for o in outcomes] == cohort
    for outcome in outcomes:
        assert outcome.ok, outcome.error
        assert outcome.output.read_bytes() == (in_process / outcome.output.name).read_bytes()


def test_unreachable_dask_scheduler_is_a_usage_error(tmp_path: Path, cohort: list[Path], model: Path) -> None:
    pytest.importorskip("distributed")
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(UsageError, match=f"127.0.0.1:{port}"):
        score_many(cohort, tmp_path, model=model, dask_scheduler=f"tcp://127.0.0.1:{port}")


class TestExpandInputs:
    @pytest.fixture
    def folder(self, tmp_path: Path) -> Path:
        for name in ["b-PSG.edf", "a-PSG.EDF", "c.bdf", "SC4001EC-Hypnogram.edf", "notes.txt"]:
            (tmp_path / name).write_bytes(b"")
        (tmp_path / "sub.edf").mkdir()
        return tmp_path

    def test_folder_gives_its_recordings_sorted_without_hypnograms(self, folder: Path) -> None:
        assert [p.name for p in expand_inputs([folder])] == ["a-PSG.EDF", "b-PSG.edf", "c.bdf"]

    def test_glob_is_expanded_with_the_same_rules(self, folder: Path) -> None:
        assert [p.name for p in expand_inputs([str(folder / "*.edf")])] == ["b-PSG.edf"]
        assert [p.name for p in expand_inputs([str(folder / "[ab]-PSG.*")])] == ["a-PSG.EDF", "b-PSG.edf"]

    def test_files_are_kept_as_given_in_order_once(self, folder: Path) -> None:
        hyp = folder / "SC4001EC-Hypnogram.edf"
        got = expand_inputs([folder / "c.bdf", hyp, str(folder / "c.bdf")])
        assert got == [folder / "c.bdf", hyp]

    def test_pattern_without_match_names_the_pattern(self, folder: Path) -> None:
        pattern = str(folder / "*.rec")
        with pytest.raises(UsageError, match=r"\*\.rec"):
            expand_inputs([pattern])

    def test_missing_file_and_empty_folder_are_usage_errors(self, tmp_path: Path) -> None:
        with pytest.raises(UsageError, match="nope.edf"):
            expand_inputs([tmp_path / "nope.edf"])
        (tmp_path / "empty").mkdir()
        with pytest.raises(UsageError, match="empty"):
            expand_inputs([tmp_path / "empty"])


def test_output_path_follows_the_format() -> None:
    assert output_path("in/SC4001E0-PSG.edf", "out") == Path("out/SC4001E0-PSG.csv")
    assert output_path("in/night.bdf", "out", "tsv") == Path("out/night.tsv")
    assert output_path("in/night.bdf", "out", "edf") == Path("out/night.edf")
    with pytest.raises(UsageError, match="xlsx"):
        output_path("night.edf", "out", "xlsx")


# ``evaluate`` runs on the same engine: a pool or a Dask cluster must give the in-process
# report, and a night that fails must fail alone.

def write_expert(psg: Path, seed: int) -> Path:
    stages = np.random.default_rng(seed).choice(["W", "N1", "N2", "N3", "R"], size=EPOCHS)
    path = psg.with_suffix(".tsv")
    path.write_text("onset\tduration\tdescription\n"
                    + "".join(f"{30 * i}\t30\t{stage}\n" for i, stage in enumerate(stages)))
    return path


@pytest.fixture(scope="module")
def cohort_pairs(cohort: list[Path]) -> list:
    from sleepscore.datasets import RecordingPair

    return [RecordingPair(psg, write_expert(psg, seed)) for seed, psg in enumerate(cohort)]


def test_evaluate_in_a_pool_and_on_dask_matches_in_process(cohort_pairs: list, model: Path) -> None:
    from sleepscore.evaluation import evaluate

    reference = evaluate(cohort_pairs, model, protocol="none").to_dict()
    kappas = [night["agreement"]["kappa"] for night in reference["nights"]]
    assert len(set(kappas)) > 1  # different nights, so a mix-up would show
    pooled = evaluate(cohort_pairs, model, protocol="none", jobs=2).to_dict()
    assert pooled == reference
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, worker_dashboard_address=None) as cluster:
        on_dask = evaluate(cohort_pairs, model, protocol="none",
                           dask_scheduler=cluster.scheduler_address).to_dict()
    assert on_dask == reference


def test_evaluate_in_a_pool_keeps_a_bad_night_to_itself(tmp_path: Path, cohort_pairs: list,
                                                        model: Path) -> None:
    from sleepscore.datasets import RecordingPair
    from sleepscore.evaluation import evaluate

    bad = tmp_path / "bad.tsv"
    bad.write_text("onset\tduration\tdescription\n0\t30\tDeep sleep\n")
    pairs = [cohort_pairs[0], RecordingPair(cohort_pairs[1].psg, bad), cohort_pairs[2]]
    report = evaluate(pairs, model, jobs=2)
    assert [night.error is None for night in report.nights] == [True, False, True]
    assert "Deep sleep" in report.nights[1].error


def test_summary_table_shows_names_and_errors_with_brackets_as_text() -> None:
    import io

    from rich.console import Console

    from sleepscore.batch import summary_table

    outcomes = [BatchOutcome("night[x].edf", Path("night[x].edf"), Path("out/night[x].csv"), 60,
                             0.2, expected_accuracy=0.8149),
                BatchOutcome("n2.edf", Path("n2.edf"), Path("out/n2.csv"), None, 0.1,
                             error="h.txt: line 2: unknown stage label '[stage]'")]
    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(summary_table(outcomes))
    text = console.file.getvalue()
    assert "night[x].edf" in text and "out/night[x].csv" in text
    assert "unknown stage label '[stage]'" in text
    rows = {line.split()[1]: line for line in text.splitlines() if ".edf" in line}
    assert "81%" in rows["night[x].edf"] and "%" not in rows["n2.edf"]


def test_an_existing_file_is_one_recording_even_with_glob_characters(tmp_path: Path) -> None:
    from sleepscore.batch import names_one_recording

    night = tmp_path / "night[x].edf"
    night.write_bytes(b"")
    assert names_one_recording(night) and names_one_recording(tmp_path / "missing.edf")
    assert not names_one_recording(tmp_path) and not names_one_recording(tmp_path / "*.edf")
