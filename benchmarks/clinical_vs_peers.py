"""``sleepscore predict`` against YASA and GSSC on clinical PSG nights and a 22-h Sleep-EDF night.

The benchmark writes its own nights: an 8-h clinical PSG at 256 Hz and at 512 Hz (16 signals: six
EEG derivations, two EOG, chin and leg EMG, ECG, respiration at 32 Hz, SpO2; see
``_clinical_night.py``), and a 22-h Sleep-EDF-shaped night (7 signals, 100 Hz). Each tool scores
each night as its user runs it, in a fresh process, alternating (sleepscore, YASA, GSSC,
sleepscore, ...) so that a change in machine load hits all alike; the median wall time and peak
resident memory are reported with the ratios.

- sleepscore: ``sleepscore predict NIGHT.edf -o out.csv -q``, defaults only: the channel choice of
  issue 7 picks C4-M1 and O2-M1 for the single-EEG model (each alone, combined) on the clinical
  nights, Fpz-Cz + Pz-Oz and the two-channel model on the Sleep-EDF night.
- YASA ``SleepStaging``: EEG C4-M1, EOG E1-M2, EMG Chin1-Chin2 on the clinical nights (EEG Fpz-Cz
  and EOG horizontal on the Sleep-EDF night, whose 1-Hz EMG envelope YASA cannot use).
- GSSC ``EEGInfer`` on the CPU (EEG C4-M1, EOG E1-M2), when installed, on the clinical nights.

Then batch scoring: folders of 1, 4 and 16 links to the 256-Hz night, scored by what
``sleepscore predict FOLDER -o OUT --jobs N`` runs, with 1 and 2 workers; the time per night and
worker is set beside the single-night in-process time, and the peak memory beside the number of
nights.

Neither peer is a dependency; each goes into a folder of its own, put on ``PYTHONPATH`` for its
runs only (neither pulls torch: GSSC uses the virtual environment's)::

    pip install --target /tmp/yasa_pkgs --no-deps yasa pandas seaborn antropy lspopt lightgbm \\
        pooch numba llvmlite python-dateutil pytz tzdata platformdirs stochastic
    pip install --target /tmp/gssc_pkgs --no-deps gssc importlib_resources zipp pandas python-dateutil \\
        pytz tzdata
    python -m benchmarks.clinical_vs_peers --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks._clinical_night import CHIN, EOG, write_clinical_night
from benchmarks._common import BYTECODE_NOTE, REPO, Run, compile_bytecode, load, machine, measure, median, now, \
    peak_rss_mib, python, simulated_night, write_result
from benchmarks.parallel_scaling import measure_batch

CLINICAL_EEG = "C4-M1"
BATCH_SIZES = (1, 4, 16)


def step_profile(psg: str) -> list[tuple[str, float, float]]:
    """(step, seconds, peak RSS MiB after it) of one default sleepscore scoring, in this process."""
    previous = time.perf_counter()
    steps = []

    def mark(step: str) -> None:
        nonlocal previous
        current = time.perf_counter()
        steps.append((step, current - previous, peak_rss_mib()))
        previous = current

    from sleepscore.pipeline import read_model_input
    from sleepscore.scoring import NightScore, choose_model, predict_input, quality_flags, save_night
    mark("import sleepscore's scoring modules (numpy already imported)")
    choice = choose_model(psg, None, None)
    sleep_model = choice.model
    info = sleep_model.info
    mark("choose the channels, import onnxruntime, load the ONNX model")
    step_names = {"read": f"read_psg ({', '.join(choice.channels)}, resampled to {info.fs:g} Hz)",
                  "epochs": "cut_epochs", "quality": "epoch_quality (one thread per core)",
                  "features": "spectral_features (Welch, one thread per core)"}
    model_input = read_model_input(psg, choice.channels, input_kind=info.input, unit=info.unit,
                                   fs=info.fs, epoch_s=info.epoch_s, quality=True,
                                   on_step=lambda step: mark(step_names[step]))
    recording = model_input.recording
    probs = predict_input(sleep_model, model_input).probs
    mark(f"predict_input (onnxruntime, {len(choice.channels)} derivation(s))")
    night = NightScore(probs=probs, start=recording.start, epoch_s=info.epoch_s,
                       quality=quality_flags(model_input.quality, recording.channels), psg=Path(psg),
                       channels=recording.channels, model=sleep_model.path)
    with tempfile.TemporaryDirectory() as folder:
        save_night(night, Path(folder) / "night.csv")
    mark("save_night (CSV)")
    return steps


@dataclass
class Tool:
    """One scorer: how to run it on a night, and its measured runs."""

    name: str
    command: list[str]
    output: Path
    env: dict[str, str] | None = None
    runs: list[Run] = field(default_factory=list)

    def run(self) -> None:
        self.output.unlink(missing_ok=True)
        self.runs.append(measure(self.command, env=self.env))
        if not self.output.is_file():
            raise RuntimeError(f"{self.name} wrote no {self.output.name}")

    @property
    def wall_s(self) -> float:
        return median([r.wall_s for r in self.runs])

    @property
    def peak_mib(self) -> float:
        return median([r.peak_rss_mib for r in self.runs])


@dataclass
class Night:
    """One benchmark night and what each tool measured on it."""

    name: str
    description: str
    path: Path
    tools: list[Tool]
    profile: list = field(default_factory=list)


def peer_env(path: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": path, **extra}


def installed(path: str, module: str) -> str | None:
    """The version of ``module`` pip-installed under ``path``, or None."""
    found = sorted(Path(path).glob(f"{module}-*.dist-info"))
    return found[0].name.removeprefix(f"{module}-").removesuffix(".dist-info") if found else None


def tools_for(night: Path, workdir: Path, eeg: str, eog: str, emg: str | None, args: argparse.Namespace,
              with_gssc: bool) -> list[Tool]:
    stem = night.stem
    ours = Tool("sleepscore", [python(), "-m", "sleepscore", "predict", str(night), "-o",
                               str(workdir / f"{stem}-sleepscore.csv"), "-q", "--force"],
                workdir / f"{stem}-sleepscore.csv")
    yasa = Tool("YASA", [python(), str(REPO / "benchmarks" / "_yasa_score.py"), str(night),
                         str(workdir / f"{stem}-yasa.csv"), eeg, eog, *([emg] if emg else [])],
                workdir / f"{stem}-yasa.csv", peer_env(args.yasa_path))
    tools = [ours, yasa]
    if with_gssc:
        tools.append(Tool("GSSC", [python(), str(REPO / "benchmarks" / "_gssc_score.py"), str(night),
                                   str(workdir / f"{stem}-gssc.csv"), eeg, eog],
                          workdir / f"{stem}-gssc.csv",
                          peer_env(args.gssc_path, TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD="1")))
    return tools


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each tool on each night (alternating)")
    parser.add_argument("--hours", type=float, default=8.0, help="length of the clinical nights")
    parser.add_argument("--rates", type=int, nargs="+", default=[256, 512], help="clinical EEG rates (Hz)")
    parser.add_argument("--gssc-rates", type=int, nargs="*", default=[256], help="clinical rates GSSC also scores")
    parser.add_argument("--yasa-path", default="/tmp/yasa_pkgs", help="folder YASA was pip-installed into")
    parser.add_argument("--gssc-path", default="/tmp/gssc_pkgs", help="folder GSSC was pip-installed into")
    parser.add_argument("--workdir", type=Path, help="keep the nights and outputs here (default: a temp dir)")
    parser.add_argument("--steps", help=argparse.SUPPRESS)  # internal: profile scoring this PSG
    args = parser.parse_args()
    if args.steps:
        print(json.dumps(step_profile(args.steps)))
        return
    if installed(args.yasa_path, "yasa") is None:
        raise SystemExit(f"YASA is not installed in {args.yasa_path} (see this script's docstring)")
    has_gssc = installed(args.gssc_path, "gssc") is not None
    compile_bytecode()

    with tempfile.TemporaryDirectory() as temporary:
        workdir = args.workdir or Path(temporary)
        workdir.mkdir(parents=True, exist_ok=True)
        nights = []
        for rate in args.rates:
            path = workdir / f"clinical{rate}.edf"
            if not path.is_file():
                write_clinical_night(path, rate, args.hours)
            nights.append(Night(f"clinical {rate} Hz",
                                f"{args.hours:g}-h clinical PSG, 16 signals, EEG at {rate} Hz "
                                f"({path.stat().st_size / 2**20:.0f} MiB EDF+)", path,
                                tools_for(path, workdir, CLINICAL_EEG, EOG[0], CHIN, args,
                                          has_gssc and rate in args.gssc_rates)))
        sleep_edf = workdir / "sleepedf22h.edf"
        source = simulated_night(sleep_edf, 22.0)
        nights.append(Night("Sleep-EDF 22 h", f"22-h Sleep-EDF-shaped night, 7 signals, 100 Hz (real night "
                                              f"{source}'s stages; {sleep_edf.stat().st_size / 2**20:.0f} MiB EDF)",
                            sleep_edf, tools_for(sleep_edf, workdir, "EEG Fpz-Cz", "EOG horizontal", None, args,
                                                 False)))
        load_before = load()
        for _ in range(args.runs):
            for night in nights:
                for tool in night.tools:
                    tool.run()
        # After the timed rounds, so that the file is in the page cache as it was for them.
        for night in nights:
            night.profile = json.loads(subprocess.run(
                [python(), "-m", "benchmarks.clinical_vs_peers", "--steps", str(night.path)],
                cwd=REPO, check=True, capture_output=True, text=True).stdout)
        batch = measure_batches(nights[0].path, workdir)
        load_after = load()
    write_result("clinical_vs_peers", report(args, nights, batch, has_gssc, load_before, load_after))


def measure_batches(psg: Path, workdir: Path) -> dict[tuple[int, int], Run]:
    """Batch runs of ``BATCH_SIZES`` links to ``psg``, with 1 and 2 workers: {(nights, jobs): run}."""
    runs = {}
    for count in BATCH_SIZES:
        folder = workdir / f"batch{count}"
        folder.mkdir(exist_ok=True)
        for index in range(count):
            link = folder / f"night{index:02d}.edf"
            if not link.exists():
                link.symlink_to(psg)
        for jobs in (1, 2):
            runs[count, jobs] = measure_batch(folder, workdir, jobs, [])
    return runs


def verdict(ok: bool) -> str:
    return "met" if ok else "**MISSED**"


def report(args: argparse.Namespace, nights: list[Night], batch: dict[tuple[int, int], Run], has_gssc: bool,
           load_before: str, load_after: str) -> str:
    targets = {("clinical 256 Hz", "YASA"): 20, ("clinical 256 Hz", "GSSC"): 50, ("clinical 512 Hz", "YASA"): 15,
               ("Sleep-EDF 22 h", "YASA"): 20}
    lines = []
    for night in nights:
        ours = night.tools[0]
        for peer in night.tools[1:]:
            speed, memory = peer.wall_s / ours.wall_s, ours.peak_mib / peer.peak_mib
            target = targets.get((night.name, peer.name))
            speed_note = f">= {target}x: {verdict(speed >= target)}" if target else "-"
            lines.append(f"| {night.name} | {peer.name} | {ours.wall_s:.2f} | {peer.wall_s:.2f} | "
                         f"**{speed:.1f}x** | {speed_note} | {ours.peak_mib:.0f} | {peer.peak_mib:.0f} | "
                         f"{memory:.2f} ({verdict(memory <= 0.25)}) |")
    per_run = []
    for night in nights:
        for tool in night.tools:
            per_run.append(f"| {night.name} | {tool.name} | "
                           + " / ".join(f"{r.wall_s:.2f}" for r in tool.runs) + " | "
                           + " / ".join(f"{r.peak_rss_mib:.0f}" for r in tool.runs) + " | "
                           + " / ".join(f"{r.load_1min:.2f}" for r in tool.runs) + " |")
    profiles = []
    for night in nights:
        total = sum(seconds for _, seconds, _ in night.profile)
        profiles.append(f"\n### {night.name} (in-process total {total:.3f} s)\n\n| step | seconds | peak RSS after (MiB) |\n"
                        "| --- | --- | --- |\n"
                        + "\n".join(f"| {name} | {seconds:.3f} | {rss:.0f} |" for name, seconds, rss in night.profile))
    in_process = sum(seconds for _, seconds, _ in nights[0].profile)
    batch_rows = "\n".join(
        f"| {count} | {jobs} | {run.wall_s:.2f} | {run.wall_s * jobs / count:.2f} | {run.peak_rss_mib:.0f} |"
        for (count, jobs), run in sorted(batch.items()))
    versions = f"YASA {installed(args.yasa_path, 'yasa')}" + (
        f", GSSC {installed(args.gssc_path, 'gssc')} (CPU, torch from the project's environment)" if has_gssc
        else "; GSSC not installed, not run")
    return f"""# `sleepscore predict` vs YASA and GSSC on clinical nights

- Date: {now()}
- Command: `python -m benchmarks.clinical_vs_peers --runs {args.runs}` (rates {' '.join(map(str, args.rates))},
  GSSC on {' '.join(map(str, args.gssc_rates)) or 'none'} Hz)
- Machine: {machine()}
- Load average (1/5/15 min) before: {load_before}; after: {load_after}. Per-run 1-min loads below.
- Peers: {versions}, each from its own `--target` folder on `PYTHONPATH`.
- Data (simulated, for timing only): {'; '.join(night.description for night in nights)}.
- sleepscore: `sleepscore predict NIGHT.edf -o out.csv -q --force`, defaults only (clinical nights:
  C4-M1 + O2-M1, each scored alone by `spectral-robust-eeg.onnx` and combined, chosen by the tool;
  Sleep-EDF night: Fpz-Cz + Pz-Oz and
  `spectral-robust-fpzcz-pzoz.onnx`).
- YASA: `benchmarks/_yasa_score.py` (MNE reads only the signals used; `SleepStaging` with EEG
  C4-M1, EOG E1-M2, EMG Chin1-Chin2 on the clinical nights, EEG Fpz-Cz + EOG horizontal on the
  Sleep-EDF night). GSSC: `benchmarks/_gssc_score.py` (`EEGInfer(use_cuda=False).mne_infer`,
  EEG C4-M1, EOG E1-M2).
- Bytecode: {BYTECODE_NOTE}.
- Protocol: {args.runs} rounds; in each, every tool scores every night once, in a fresh process,
  timed from process start to exit (CSV written); peak memory = max resident set size (GNU time
  `%M`). Medians reported.

## Result

| night | peer | sleepscore s | peer s | speed-up | target | sleepscore MiB | peer MiB | memory ratio (target <= 0.25) |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
{chr(10).join(lines)}

| night | tool | wall s per run | peak MiB per run | 1-min load after each |
| --- | --- | --- | --- | --- |
{chr(10).join(per_run)}

## Batch scoring ({nights[0].name} night, linked under N names)

What `sleepscore predict FOLDER -o OUT --jobs J -q` runs, fresh process, pool start-up included.
"per night and worker" = wall x J / N, to set beside the in-process single-night time of
{in_process:.2f} s (the step profile below). Peak memory is the largest process's (driver or a worker).

| nights N | workers J | wall s | s per night and worker | peak MiB |
| --- | --- | --- | --- | --- |
{batch_rows}

## Where sleepscore's time goes (one in-process run per night, after the timed rounds)
{''.join(profiles)}

Interpreter start-up and the CLI's imports (click, rich) come on top in the end-to-end times.
"""


if __name__ == "__main__":
    sys.exit(main())
