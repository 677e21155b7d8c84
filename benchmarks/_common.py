"""What the speed benchmarks share: the machine and its load, measured child processes, the
simulated night and the model they score with, and the Markdown result files."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
#: The real Sleep-EDF data beside the checkout (../shared), which the real-data benchmarks read.
SLEEP_EDF = REPO.parent / "shared" / "data" / "sleep-edf"


def machine() -> str:
    """``nproc``, CPU model and RAM, as one Markdown line."""
    cpu = "unknown CPU"
    with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo", encoding="ascii") as handle:
        ram_kib = int(next(line for line in handle if line.startswith("MemTotal")).split()[1])
    return (f"{os.cpu_count()} CPUs (`nproc` {len(os.sched_getaffinity(0))}), {cpu}, "
            f"{ram_kib / 2**20:.1f} GiB RAM, Python {platform.python_version()}, {platform.system()}")


def load() -> str:
    """The 1-, 5- and 15-minute load averages, e.g. ``"1.02 / 0.87 / 0.60"``."""
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class Run:
    """One measured child process."""

    wall_s: float
    peak_rss_mib: float
    load_1min: float


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (``VmHWM``).

    Not ``getrusage``: Linux carries the ``ru_maxrss`` of the process that forked us across
    ``exec``, so a child of a large benchmark driver would report the driver's size.
    """
    with open("/proc/self/status", encoding="ascii") as handle:
        kib = next(int(line.split()[1]) for line in handle if line.startswith("VmHWM:"))
    return kib / 1024


def measure(command: Sequence[str], env: dict[str, str] | None = None, cwd: Path = REPO) -> Run:
    """Run ``command`` to completion and return its wall time and peak resident memory.

    The peak is GNU time's ``%M``: the largest resident set of the command or of any process it
    waited for (one worker of a pool, not their sum). GNU time is the parent rather than this
    driver because Linux carries a parent's ``ru_maxrss`` into its children across ``exec``. A
    failed command raises with its stderr.
    """
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        started = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, *command], env=env, cwd=cwd,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, command))} failed ({done.returncode}):\n"
                               f"{done.stderr.decode(errors='replace')[-2000:]}")
        peak_kib = int(rss.read().split()[-1])
    return Run(wall, peak_kib / 1024, os.getloadavg()[0])


#: Said in each timing result, after :func:`compile_bytecode` has run.
BYTECODE_NOTE = ("sleepscore's modules byte-compiled first (`compileall`), as pip does when it installs "
                 "the wheel; YASA and every dependency were installed with theirs")


def compile_bytecode() -> None:
    """Write ``__pycache__`` for the checkout's ``sleepscore`` package.

    An editable checkout run with ``PYTHONDONTWRITEBYTECODE=1`` (as on this project's machines)
    has none and recompiles every module at each start (~0.015 s), which no installed copy does.
    """
    import compileall

    compileall.compile_dir(REPO / "sleepscore", quiet=1)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def simulated_night(path: Path, hours: float, seed: int = 0) -> str:
    """Write a Sleep-EDF-shaped night (7 signals, 30-s records) lasting ``hours``; return the
    name of the real night it copies.

    The EEG and EOG come from :mod:`sleepscore.simulate`: the stage sequence of the first real
    cassette night long enough (``hours`` from 30 min before its sleep onset) and per-epoch
    spectra drawn from the real Sleep-EDF per-stage statistics, with spindles, K-complexes,
    slow waves, alpha and eye movements.
    """
    from sleepscore.simulate import draw_subject, load_reference, simulate_night, write_night

    reference = load_reference()
    wanted_epochs = round(hours * 3600 / 30)
    for source in reference.nights:
        stages = source.epoch_stages(int(source.psg_duration_s // 30))
        sleep = np.flatnonzero((stages >= 1) & (stages <= 4))
        if len(sleep) and len(stages) - max(int(sleep[0]) - 60, 0) >= wanted_epochs:
            break
    else:
        raise RuntimeError(f"no Sleep-EDF night lasts {hours} h after sleep onset")
    rng = np.random.default_rng(seed)
    night = simulate_night(source, reference, draw_subject(reference, rng), rng, hours=hours)
    write_night(night, path, path.with_name(path.stem + "-Hypnogram.edf"))
    return source.name


def scoring_model(workdir: Path) -> tuple[list[str], str]:
    """``--model`` arguments for ``sleepscore predict`` and a description of the model.

    The shipped default model when it is there (no arguments: what a user runs); otherwise an
    untrained ``spectral-bigru`` of the same architecture, exported like the shipped one, whose
    speed is the same because weights do not change the work done.
    """
    from sleepscore.model import default_model_path

    shipped = default_model_path()
    if shipped.is_file():
        return [], f"the shipped default model `{shipped.name}`"
    from sleepscore.nets import build_network
    from sleepscore.training.export import contract_metadata, export_onnx

    channels = ["EEG Fpz-Cz", "EEG Pz-Oz"]
    network = build_network("spectral-bigru", len(channels))
    path = workdir / "spectral-bigru-untrained.onnx"
    metadata = contract_metadata(input_kind="features", channels=channels, architecture="spectral-bigru",
                                 trained_on={"dataset": "none (benchmark stand-in)"}, metrics={},
                                 feature_set="spectral-v1")
    export_onnx(network, path, metadata, np.zeros((20, 9 * len(channels)), dtype=np.float32))
    return ["--model", str(path)], ("an untrained `spectral-bigru` exported like the shipped default "
                                    "(the shipped model was not there yet; same architecture, same work)")


def write_result(name: str, text: str) -> Path:
    """Write ``benchmarks/results/<name>.md`` and return its path."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.md"
    path.write_text(text.rstrip() + "\n", encoding="utf-8")
    return path


def python() -> str:
    return sys.executable
