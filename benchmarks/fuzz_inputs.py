"""Fuzz the input readers for a fixed time and count how many inputs they survived (issue 5).

Two targets, each run for ``--seconds``:

- ``edf``: valid EDF, EDF+ and BDF files (written with ``tests/edf_factory.py``, plus the real
  Sleep-EDF excerpt when ``../shared`` is beside the clone) with mutated header fields, bytes,
  lengths, through :func:`sleepscore.pipeline.read_model_input` (reading, epochs and quality
  flags);
- ``hypnogram``: event tables (TSV, CSV, Sleep-EDF text), one-label-a-line files and EDF+
  hypnograms (written by :func:`sleepscore.io.writers.write_hypnogram_edf`, plus the real ones when
  present) with mutated bytes, through :func:`sleepscore.io.hypnogram.read_hypnogram` and
  :func:`~sleepscore.alignment.epoch_labels`.

An input passes when the reader returns a sane result or raises
:class:`~sleepscore.errors.SleepscoreError`; anything else is an *escape*. Escapes are counted and
saved under ``--crash-dir`` rather than raised, so one does not end the run: the point is a count
of inputs tried in a fixed time. Why hypothesis and not atheris: it is already a test dependency,
and its byte strategies with a dictionary of header tokens reach the header checks as quickly as
coverage feedback would for files this small; the tests use the same approach at a smaller budget.

Hypothesis has no time budget, so examples are drawn in chunks of ``--chunk`` (each with its own
seed, reproducible from ``--seed``) until the time is up; the overshoot is at most one chunk.

Usage::

    python -m benchmarks.fuzz_inputs --seconds 120
    python -m benchmarks.fuzz_inputs --seconds 10 --target hypnogram --output /tmp/fuzz.md
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import ctypes
import dataclasses
import hashlib
import os
import re
import sys
import tempfile
import time
import traceback
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import numpy as np
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[1]
# The EDF writers and the header-field offsets of the test factories, reused rather than copied.
sys.path.insert(0, str(REPO / "tests"))

from edf_factory import START, Channel, field_offset, n_signals, sine, sleep_edf_like, write_psg  # noqa: E402

from benchmarks._common import SLEEP_EDF, machine  # noqa: E402
from sleepscore.io.edf import list_channels  # noqa: E402
from sleepscore.errors import SleepscoreError  # noqa: E402
from sleepscore.alignment import epoch_labels  # noqa: E402
from sleepscore.io.hypnogram import Hypnogram, HypnogramWarning, read_hypnogram  # noqa: E402
from sleepscore.io.writers import write_hypnogram_edf  # noqa: E402
from sleepscore.pipeline import read_model_input  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "fuzz_inputs.md"

# Header texts that sit on the edges of what the readers accept.
HEADER_TOKENS = [b"0", b"1", b"-1", b"99999999", b"1e9", b"1e-300", b"nan", b"inf", b"-inf", b"0.5",
                 b"30", b"256", b"-32768", b"32767", b"8388607", b"-8388608", b" ", b"", b"\xff",
                 b"\x00", b"uV", b"mV", b"EDF+C", b"EDF+D", b"BIOSEMI", b"EDF Annotations"]
# Pieces of hypnogram text that steer the parsers: delimiters, line ends, signs, times, labels.
TEXT_TOKENS = [b"\t", b",", b";", b"\n", b"\r\n", b"\"", b" ", b"-", b"+", b".", b"e", b":", b"T",
               b"0", b"30", b"45", b"-30", b"1e308", b"nan", b"inf", b"W", b"N1", b"R", b"?",
               b"Sleep stage ", b"Movement time", b"1989-04-24T", b"\xc3\xa9", b"\xff", b"\x00",
               b"onset", b"duration", b"stage"]
EDF_FIELDS = ["version", "startdate", "starttime", "header_bytes", "reserved", "n_records",
              "record_duration", "n_signals"]
SIGNAL_FIELDS = ["label", "dimension", "physical_min", "physical_max", "digital_min",
                 "digital_max", "samples_per_record"]


@dataclasses.dataclass
class Seed:
    """A valid input to mutate: its bytes, the name it is written under, and its header size."""

    name: str
    data: bytes
    header_size: int = 0


@dataclasses.dataclass
class Tally:
    """What one target's run saw."""

    target: str
    seeds: list[str]
    tried: int = 0
    accepted: int = 0
    refused: int = 0
    escapes: int = 0
    printed: int = 0
    seconds: float = 0.0
    refusal_kinds: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    escape_kinds: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    printed_samples: list[str] = dataclasses.field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Seeds


def edf_seeds(folder: Path) -> list[Seed]:
    """EDF (Sleep-EDF layout), EDF+ with 2-s records, BDF at 256 Hz (the resampling path)."""
    eeg = [Channel("EEG Fpz-Cz", sine(256, 60, 10.0, 50.0), 256),
           Channel("EEG Pz-Oz", sine(256, 60, 3.0, 80.0), 256)]
    files = [
        sleep_edf_like(folder / "sleep-edf-like.edf", seconds=90),
        write_psg(folder / "plus.edf", [Channel(c.label, sine(100, 60, 7.0, 40.0), 100) for c in eeg],
                  file_type="edf+", record_duration=2.0),
        write_psg(folder / "night.bdf", eeg, file_type="bdf"),
    ]
    excerpt = SLEEP_EDF / "excerpt" / "SC4001E0-PSG-first5min.edf"
    if excerpt.is_file():
        files.append(excerpt)
    return [Seed(path.name, path.read_bytes(), 256 * (n_signals(path) + 1)) for path in files]


def hypnogram_seeds(folder: Path) -> list[Seed]:
    texts = {
        "events.tsv": "onset\tduration\tdescription\n0\t60\tW\n60\t30\tN1\n90\t90\tSleep stage 2\n"
                      "180\t30\tREM\n",
        "events.csv": "Onset,Duration,Stage\n0,30,W\n30,60,N2\n90,30,?\n",
        "sleep-edf.txt": "Onset\tDuration\tAnnotation\n1989-04-24T16:13:00.0000000\t60\tSleep stage W\n"
                         "1989-04-24T16:14:00.0000000\t30\tSleep stage 4\n"
                         "1989-04-24T16:14:30.0000000\t30\tMovement time\n",
        "per-epoch.txt": "stage\nW\nW\nN1\nN2\nN3\nR\n",
    }
    seeds = [Seed(name, text.encode()) for name, text in texts.items()]
    written = folder / "written-hypnogram.edf"
    write_hypnogram_edf(written, np.array([0, 0, 1, 2, 2, 3, 4, -1, 0]),
                        start=START)
    seeds.append(Seed(written.name, written.read_bytes(), 512))
    for real in (SLEEP_EDF / "hypnograms" / "SC4001EC-Hypnogram.edf",
                 SLEEP_EDF / "hypnograms-sc78" / "SC4001E0.txt"):
        if real.is_file():
            seeds.append(Seed(real.name, real.read_bytes(), 512 if real.suffix == ".edf" else 0))
    return seeds


# ---------------------------------------------------------------------------------------------
# Mutations


@st.composite
def mutated_bytes(draw: st.DrawFn, seeds: list[Seed], tokens: list[bytes]) -> tuple[Seed, bytes]:
    """A seed after 1-4 token or byte replacements, insertions or deletions, maybe truncated.

    Half the edits land in the header (when the seed has one): it decides how the rest is read.
    Two pieces in three are tokens, which keep the text parseable enough to reach the later checks.
    """
    chosen = draw(st.sampled_from(seeds))
    data = bytearray(chosen.data)
    token = st.sampled_from(tokens)
    for _ in range(draw(st.integers(1, 4))):
        in_header = chosen.header_size and draw(st.booleans())
        # Hypothesis favours small integers; starting header edits after the 8-byte version field
        # keeps them from mostly hitting it (mutated_edf_fields and the whole-file edits still do).
        low, high = (8, chosen.header_size - 1) if in_header else (0, max(len(data) - 1, 0))
        position = draw(st.integers(low, high))
        piece = draw(st.one_of(token, token, st.binary(min_size=1, max_size=2)))
        action = draw(st.sampled_from(["replace", "insert", "delete"]))
        if action == "replace":
            data[position:position + len(piece)] = piece
        elif action == "insert":
            data[position:position] = piece
        else:
            del data[position:position + draw(st.integers(1, 16))]
    if draw(st.integers(0, 9)) == 0:
        data = data[:draw(st.integers(0, len(data)))]
    return chosen, bytes(data)


@st.composite
def mutated_edf_fields(draw: st.DrawFn, seeds: list[Seed]) -> tuple[Seed, bytes]:
    """A seed with 1-3 header fields replaced by edge-case texts, space-padded to their width."""
    chosen = draw(st.sampled_from(seeds))
    with tempfile.NamedTemporaryFile(suffix=".edf") as handle:
        # field_offset reads the signal count from a file; the seeds are valid, so it is exact.
        handle.write(chosen.data)
        handle.flush()
        path = Path(handle.name)
        data = bytearray(chosen.data)
        for _ in range(draw(st.integers(1, 3))):
            if draw(st.booleans()):
                offset, width = field_offset(path, draw(st.sampled_from(EDF_FIELDS)))
            else:
                signal = draw(st.integers(0, n_signals(path) - 1))
                offset, width = field_offset(path, draw(st.sampled_from(SIGNAL_FIELDS)), signal)
            value = draw(st.sampled_from(HEADER_TOKENS) | st.binary(max_size=width))[:width]
            data[offset:offset + width] = value.ljust(width, b" ")
    return chosen, bytes(data)


LABELS = ["W", "N1", "N2", "N3", "N4", "R", "REM", "?", "MT", "Sleep stage 1", "Movement time",
          "Lights off", "Wake"]


@st.composite
def generated_table(draw: st.DrawFn) -> tuple[Seed, bytes]:
    """An event table built from random rows: mostly parseable, so the alignment checks of
    epoch_labels (grid, overlap with the PSG, start offset) are what decides."""
    delimiter = draw(st.sampled_from(["\t", ",", ";"]))
    clock = draw(st.booleans())
    onset = draw(st.sampled_from([0.0, 10.0, -30.0, 30.0]) | st.floats(-1e5, 1e5, allow_nan=False))
    lines = [delimiter.join(["onset", "duration", "description"])]
    for _ in range(draw(st.integers(1, 12))):
        typical = st.sampled_from([30.0, 60.0, 0.0, 45.0, 90.0])
        duration = draw(st.one_of(typical, typical, st.floats(-100, 1e4, allow_nan=False)))
        stamp = (START + timedelta(seconds=onset)).isoformat() if clock else f"{onset:g}"
        lines.append(delimiter.join([stamp, f"{duration:g}", draw(st.sampled_from(LABELS))]))
        onset += draw(st.sampled_from([duration, duration, duration, 30.0, -30.0]))
    return Seed("generated.tsv", b""), ("\n".join(lines) + "\n").encode()


# ---------------------------------------------------------------------------------------------
# What each target runs on an input


def run_edf(path: Path) -> None:
    labels = list_channels(path)
    wanted = ["Fpz-Cz", "Pz-Oz"] if len(labels) > 1 else labels[:1]
    model_input = read_model_input(path, wanted, input_kind="raw", quality=True, threads=1)
    assert np.isfinite(model_input.recording.signals).all(), "non-finite samples returned"
    assert 0 <= model_input.dropped_s < 30, "inconsistent epochs"
    assert model_input.quality.flat.shape == model_input.epochs.shape[:2], "inconsistent epochs"


def run_hypnogram(path: Path) -> None:
    hyp = read_hypnogram(path)
    if isinstance(hyp, Hypnogram):  # an epoch list (one label a line) has no intervals
        assert np.all(hyp.durations > 0) and np.all(np.diff(hyp.onsets) >= 0), "unordered intervals"
    starts = [None, hyp.start, hyp.start + timedelta(seconds=30) if hyp.start else None]
    for psg_start in starts:
        for n_epochs in (1, 10, 3000):
            try:
                # A hypnogram longer than the recording warns; the CLI prints that as its own
                # one-line warning, so it is not C-library output.
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", HypnogramWarning)
                    labels = epoch_labels(hyp, n_epochs, psg_start=psg_start)
            except SleepscoreError:
                continue
            assert labels.shape == (n_epochs,) and set(labels.tolist()) <= {-1, 0, 1, 2, 3, 4}, \
                "labels outside the stage codes"


@dataclasses.dataclass(frozen=True)
class Target:
    make_seeds: Callable[[Path], list[Seed]]
    strategy: Callable[[list[Seed]], st.SearchStrategy[tuple[Seed, bytes]]]
    run: Callable[[Path], None]
    inputs: str  # how the inputs are made, for the report


TARGETS: dict[str, Target] = {
    "edf": Target(edf_seeds, lambda seeds: mutated_bytes(seeds, HEADER_TOKENS) | mutated_edf_fields(seeds),
                  run_edf, "byte/token edits and truncations of the seeds; header fields replaced by "
                  "edge-case texts"),
    "hypnogram": Target(hypnogram_seeds, lambda seeds: mutated_bytes(seeds, TEXT_TOKENS) | generated_table(),
                        run_hypnogram, "byte/token edits and truncations of the seeds; event tables "
                        "generated from random rows"),
}


def kind_of(message: str) -> str:
    """A refusal message with its path, quoted values and numbers blanked, to count kinds."""
    message = re.sub(r"^\S*?[^/\s]+\.(edf|bdf|tsv|csv|txt)\S*?:\s*", "", message)
    message = re.sub(r"(b?'[^']*'|\"[^\"]*\")", "'…'", message)
    return re.sub(r"-?\d+(\.\d+)?(e[+-]?\d+)?", "N", message)[:90]


_LIBC = ctypes.CDLL(None)


@contextlib.contextmanager
def library_output(capture: Path):
    """Send whatever is written to file descriptors 1 and 2 (C libraries' printf) to ``capture``.

    A clean refusal is one line from sleepscore; a C library printing on the terminal breaks that,
    and Python-level redirection cannot see it, so the descriptors themselves are redirected.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with capture.open("wb") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            _LIBC.fflush(None)
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for descriptor in saved:
                os.close(descriptor)


def fuzz(target: str, seconds: float, chunk: int, base_seed: int, crash_dir: Path) -> Tally:
    chosen = TARGETS[target]
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        seeds = chosen.make_seeds(folder)
        tally = Tally(target, [s.name for s in seeds])
        strategy = chosen.strategy(seeds)
        deadline = time.monotonic() + seconds

        def one_input(case: tuple[Seed, bytes]) -> None:
            if time.monotonic() > deadline:
                return  # the rest of the last chunk is drawn but not run
            source, data = case
            path = folder / f"input{Path(source.name).suffix}"
            path.write_bytes(data)
            tally.tried += 1
            try:
                chosen.run(path)
            except SleepscoreError as err:
                tally.refused += 1
                tally.refusal_kinds[kind_of(str(err))] += 1
                if "\n" in str(err):
                    record_escape(tally, crash_dir, source, data, f"multi-line message: {err!r}")
            except Exception as err:  # noqa: BLE001 - an escape is what this benchmark counts
                frame = traceback.extract_tb(err.__traceback__)[-1]
                where = f"{Path(frame.filename).name}:{frame.lineno}"
                record_escape(tally, crash_dir, source, data, f"{type(err).__name__} at {where}: {err}")
            else:
                tally.accepted += 1
            # C streams are block-buffered when redirected to a file: flush to see this input's output.
            _LIBC.fflush(None)
            size = capture.stat().st_size
            if size > printed_so_far[0]:
                tally.printed += 1
                if len(tally.printed_samples) < 3:
                    with capture.open("rb") as handle:
                        handle.seek(printed_so_far[0])
                        tally.printed_samples.append(handle.read(200).decode("latin-1").strip())
                printed_so_far[0] = size

        capture = folder / "library-output.txt"
        printed_so_far = [0]
        started = time.monotonic()
        round_number = 0
        with library_output(capture):
            while time.monotonic() < deadline:
                runner = settings(max_examples=chunk, deadline=None, database=None, phases=[Phase.generate],
                                  suppress_health_check=list(HealthCheck))(
                    seed(base_seed + round_number)(given(strategy)(one_input)))
                runner()
                round_number += 1
        tally.seconds = time.monotonic() - started
    return tally


def record_escape(tally: Tally, crash_dir: Path, source: Seed, data: bytes, description: str) -> None:
    tally.escapes += 1
    tally.escape_kinds[description.splitlines()[0][:160]] += 1
    crash_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(data).hexdigest()[:12]
    (crash_dir / f"{tally.target}-{digest}{Path(source.name).suffix}").write_bytes(data)


# ---------------------------------------------------------------------------------------------
# Report


def report(tallies: list[Tally], command: str, seconds: float, chunk: int, base_seed: int,
           load_before: tuple[float, ...], crash_dir: Path) -> str:
    import hypothesis

    load_after = os.getloadavg()
    lines = [
        "# Input fuzzing (issue 5)",
        "",
        f"- command: `{command}`",
        f"- date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {machine()}; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after "
        "(shared machine: inputs per second depend on the other users)",
        f"- engine: hypothesis {hypothesis.__version__}, chunks of {chunk} examples, seeds {base_seed}, "
        f"{base_seed + 1}, ...",
        f"- budget: {seconds:g} s per target",
        "- passes: a sane result, or a one-line `SleepscoreError`; an escape is any other exception, "
        "a failed sanity check or a multi-line message; *printed* counts inputs during which something "
        "(a C library) wrote to stdout/stderr, which would break the CLI's one-line rule",
        "",
        "| target | seeds | inputs | inputs tried | accepted | refused (SleepscoreError) | escapes | printed | seconds | "
        "inputs/s |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for t in tallies:
        lines.append(f"| {t.target} | {', '.join(t.seeds)} | {TARGETS[t.target].inputs} | {t.tried} | {t.accepted} | {t.refused} | "
                     f"{t.escapes} | {t.printed} | {t.seconds:.0f} | {t.tried / max(t.seconds, 1e-9):.0f} |")
    for t in tallies:
        if t.printed_samples:
            lines += ["", f"{t.target}: what was printed, e.g. "
                      + "; ".join(f"`{sample}`" for sample in t.printed_samples)]
    for t in tallies:
        lines += ["", f"## {t.target}: the most frequent refusals ({len(t.refusal_kinds)} kinds)", "",
                  "| count | message (path, quoted values and numbers blanked) |", "| ---: | --- |"]
        lines += [f"| {count} | {kind.replace('|', '/')} |" for kind, count in t.refusal_kinds.most_common(12)]
        if t.escapes:
            lines += ["", f"### {t.target}: escapes (inputs saved in `{crash_dir}`)", ""]
            lines += [f"- {count} x {kind}" for kind, count in t.escape_kinds.most_common()]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="time budget per target")
    parser.add_argument("--target", action="append", choices=sorted(TARGETS),
                        help="target to fuzz (repeatable; default: all)")
    parser.add_argument("--chunk", type=int, default=200, help="examples per hypothesis run")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first chunk")
    parser.add_argument("--output", type=Path, default=RESULTS, help="markdown report to write")
    parser.add_argument("--crash-dir", type=Path, default=Path(tempfile.gettempdir()) / "sleepscore-fuzz-escapes",
                        help="where inputs that escape are saved")
    args = parser.parse_args()
    load_before = os.getloadavg()
    tallies = []
    for target in args.target or sorted(TARGETS):
        tally = fuzz(target, args.seconds, args.chunk, args.seed, args.crash_dir)
        print(f"{target}: {tally.tried} inputs in {tally.seconds:.0f} s, {tally.accepted} accepted, "
              f"{tally.refused} refused, {tally.escapes} escapes", flush=True)
        tallies.append(tally)
    command = "python -m benchmarks.fuzz_inputs " + " ".join(sys.argv[1:])
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report(tallies, command.strip(), args.seconds, args.chunk, args.seed,
                                  load_before, args.crash_dir))
    print(f"wrote {args.output}")
    if any(t.escapes for t in tallies):
        sys.exit(1)


if __name__ == "__main__":
    main()
