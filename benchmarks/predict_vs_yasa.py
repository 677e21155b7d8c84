"""``sleepscore predict`` against YASA's ``SleepStaging`` on one 22-h Sleep-EDF-shaped night.

Both are timed end to end as a user runs them, from process start to CSV written, alternating
(sleepscore, YASA, sleepscore, ...) so that a change in machine load hits both alike; the
median of the runs and the ratio are reported with each tool's peak resident memory. A
per-step profile of one in-process sleepscore run says where its time and memory go.

YASA is not a dependency of sleepscore: install it into a folder of its own, which is put on
``PYTHONPATH`` for the YASA runs only (it needs no torch)::

    pip install --target /tmp/yasa_pkgs --no-deps yasa pandas seaborn antropy lspopt lightgbm \\
        pooch numba llvmlite python-dateutil pytz tzdata platformdirs stochastic
    python -m benchmarks.predict_vs_yasa --runs 5 --yasa-path /tmp/yasa_pkgs
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import BYTECODE_NOTE, compile_bytecode, REPO, Run, load, machine, measure, median, now, peak_rss_mib, python, \
    scoring_model, simulated_night, write_result

HOURS = 22.0


def step_profile(psg: str, model: str | None) -> list[tuple[str, float, float]]:
    """(step, seconds, peak RSS MiB after it) of one sleepscore scoring, in this process."""
    previous = time.perf_counter()
    steps = []

    def mark(step: str) -> None:
        nonlocal previous
        current = time.perf_counter()
        steps.append((step, current - previous, peak_rss_mib()))
        previous = current

    from sleepscore.edf import read_psg
    from sleepscore.epochs import cut_epochs, epoch_quality
    from sleepscore.features import spectral_features
    from sleepscore.scoring import NightScore, choose_model, quality_flags, save_night
    mark("import sleepscore's scoring modules (numpy already imported)")
    choice = choose_model(psg, model, None)
    sleep_model = choice.model
    mark("import onnxruntime, load the ONNX model")
    recording = read_psg(psg, choice.channels, unit=sleep_model.info.unit, fs=sleep_model.info.fs)
    mark("read_psg (2 EEG channels)")
    epochs, _ = cut_epochs(recording.signals, fs=sleep_model.info.fs, epoch_s=sleep_model.info.epoch_s)
    quality = epoch_quality(epochs, recording.physical_min, recording.physical_max)
    mark("cut_epochs + epoch_quality")
    features = spectral_features(epochs, fs=sleep_model.info.fs)
    mark("spectral_features (Welch)")
    probs = sleep_model.predict_proba(features)
    mark("model.predict_proba (onnxruntime)")
    night = NightScore(probs=probs, start=recording.start, epoch_s=sleep_model.info.epoch_s,
                       quality=quality_flags(quality, recording.channels), psg=Path(psg),
                       channels=recording.channels, model=sleep_model.path)
    with tempfile.TemporaryDirectory() as folder:
        save_night(night, Path(folder) / "night.csv")
    mark("save_night (CSV)")
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each tool (alternating)")
    parser.add_argument("--yasa-path", default="/tmp/yasa_pkgs", help="folder YASA was pip-installed into")
    parser.add_argument("--workdir", type=Path, help="keep the night and outputs here (default: a temp dir)")
    parser.add_argument("--steps", help=argparse.SUPPRESS)  # internal: profile scoring this PSG
    parser.add_argument("--model", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.steps:
        print(json.dumps(step_profile(args.steps, args.model)))
        return
    compile_bytecode()

    with tempfile.TemporaryDirectory() as temporary:
        workdir = args.workdir or Path(temporary)
        workdir.mkdir(parents=True, exist_ok=True)
        psg = workdir / "night22h.edf"
        source = simulated_night(psg, HOURS)
        model_args, model_text = scoring_model(workdir)
        ours_csv, yasa_csv = workdir / "sleepscore.csv", workdir / "yasa.csv"
        ours_cmd = [python(), "-m", "sleepscore", "predict", str(psg), "-o", str(ours_csv), "-q", *model_args]
        yasa_cmd = [python(), str(REPO / "benchmarks" / "_yasa_score.py"), str(psg), str(yasa_csv)]
        yasa_env = {**os.environ, "PYTHONPATH": args.yasa_path}
        profile = json.loads(subprocess.run(
            [python(), "-m", "benchmarks.predict_vs_yasa", "--steps", str(psg), *model_args],
            cwd=REPO, check=True, capture_output=True, text=True).stdout)
        load_before = load()
        ours: list[Run] = []
        yasa: list[Run] = []
        for _ in range(args.runs):
            for output, cmd, env, runs in ((ours_csv, ours_cmd, None, ours), (yasa_csv, yasa_cmd, yasa_env, yasa)):
                output.unlink(missing_ok=True)
                runs.append(measure(cmd, env=env))
                if not output.is_file():
                    raise RuntimeError(f"{cmd[1:3]} wrote no {output.name}")
        epochs = sum(1 for line in ours_csv.read_text().splitlines() if line[:1].isdigit())
        yasa_epochs = len(yasa_csv.read_text().splitlines()) - 1
        load_after = load()
    write_result("predict_vs_yasa", report(args, source, model_text, epochs, yasa_epochs, ours, yasa,
                                           profile, load_before, load_after))


def report(args: argparse.Namespace, source: str, model_text: str, epochs: int, yasa_epochs: int,
           ours: list[Run], yasa: list[Run], profile: list, load_before: str, load_after: str) -> str:
    ours_wall, yasa_wall = median([r.wall_s for r in ours]), median([r.wall_s for r in yasa])
    ours_rss, yasa_rss = median([r.peak_rss_mib for r in ours]), median([r.peak_rss_mib for r in yasa])
    speed, memory = yasa_wall / ours_wall, ours_rss / yasa_rss
    rows = "\n".join(f"| {i + 1} | {o.wall_s:.2f} | {o.peak_rss_mib:.0f} | {y.wall_s:.2f} | "
                     f"{y.peak_rss_mib:.0f} | {o.load_1min:.2f} / {y.load_1min:.2f} |"
                     for i, (o, y) in enumerate(zip(ours, yasa)))
    steps = "\n".join(f"| {name} | {seconds:.3f} | {rss:.0f} |" for name, seconds, rss in profile)
    verdict_speed = "met" if speed >= 20 else "MISSED"
    verdict_memory = "met" if memory <= 0.25 else "MISSED"
    return f"""# `sleepscore predict` vs YASA `SleepStaging` on a 22-h night

- Date: {now()}
- Command: `python -m benchmarks.predict_vs_yasa --runs {args.runs} --yasa-path {args.yasa_path}`
- Machine: {machine()}
- Load average (1/5/15 min) before: {load_before}; after: {load_after}. The machine was shared;
  per-run 1-min loads are in the table.
- Data: one generated 22-h night ({epochs} epochs of 30 s), Sleep-EDF layout (7 signals: Fpz-Cz,
  Pz-Oz, EOG at 100 Hz; 4 signals at 1 Hz; 30-s records; 48 MB EDF), simulated by
  `sleepscore.simulate` on the stage sequence of real night {source} with per-stage spectra
  fitted to the real Sleep-EDF features (not zeros).
- sleepscore: `python -m sleepscore predict night22h.edf -o sleepscore.csv -q` with
  {model_text}.
- YASA {yasa_version(args.yasa_path)}: `benchmarks/_yasa_score.py` (MNE `read_raw_edf` of the two
  signals it uses, `SleepStaging(raw, eeg_name="EEG Fpz-Cz", eog_name="EOG horizontal").predict()`,
  stages and probabilities to CSV; {yasa_epochs} epochs), from its own `--target` folder on `PYTHONPATH`.
- Bytecode: {BYTECODE_NOTE}.
- Protocol: {args.runs} alternating runs of each, fresh process each time, wall time from process
  start to exit (CSV written); peak memory = max resident set size (GNU time `%M`). Median reported.

## Result

| | sleepscore | YASA | ratio | target |
| --- | --- | --- | --- | --- |
| wall time, median (s) | {ours_wall:.2f} | {yasa_wall:.2f} | {speed:.1f}x faster | >= 20x: **{verdict_speed}** |
| peak RSS, median (MiB) | {ours_rss:.0f} | {yasa_rss:.0f} | {memory:.2f} of YASA's | <= 0.25: **{verdict_memory}** |

| run | sleepscore s | sleepscore MiB | YASA s | YASA MiB | 1-min load after (ours / YASA) |
| --- | --- | --- | --- | --- | --- |
{rows}

## Where sleepscore's time and memory go (one in-process run, same night)

| step | seconds | peak RSS after (MiB) |
| --- | --- | --- |
{steps}

Interpreter start-up and the CLI's own imports (click, rich) come on top of these steps in the
end-to-end time; see `import_time.md`.
"""


def yasa_version(path: str) -> str:
    found = sorted(Path(path).glob("yasa-*.dist-info"))
    return found[0].name.removeprefix("yasa-").removesuffix(".dist-info") if found else "(version unknown)"


if __name__ == "__main__":
    sys.exit(main())
