"""onnxruntime inference time of the raw-signal networks for 8-, 16- and 24-h nights: is it linear?

Each raw architecture of ``sleepscore.nets`` is built untrained for the two EEG channels and
exported with ``sleepscore.training.export.export_onnx`` exactly as a trained one would be
(weights do not change the work done). Each (network, night length) is then timed in a fresh
process: one ``[1, n_epochs, 2, 3000]`` float32 night of random values, one warm-up call on a
short night, then the median of ``--repeats`` calls on the whole night; peak memory comes with it. A line
``seconds = a + b * hours`` is fitted per network, and the 16-h and 24-h times are compared with
2x and 3x the 8-h time. A network whose 8-h night already exceeds ``--budget`` seconds is not run
on the longer nights.

Usage::

    python -m benchmarks.raw_nets_scaling --hours 8 16 24 --repeats 3 --budget 120
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks._common import REPO, load, machine, now, peak_rss_mib, python, write_result

CHANNELS = ["EEG Fpz-Cz", "EEG Pz-Oz"]
SAMPLES = 3000
EPOCHS_PER_HOUR = 120


def export(name: str, folder: Path) -> Path:
    """An untrained ``name`` network as a contract ONNX file."""
    from sleepscore.nets import build_network, get_architecture
    from sleepscore.training.export import contract_metadata, export_onnx

    network = build_network(name, len(CHANNELS))
    metadata = contract_metadata(input_kind=get_architecture(name).input_kind, channels=CHANNELS,
                                 architecture=name, trained_on={"dataset": "none (benchmark)"}, metrics={})
    example = np.zeros((8, len(CHANNELS), SAMPLES), dtype=np.float32)
    return export_onnx(network, folder / f"{name}.onnx", metadata, example)


def time_one(model: Path, hours: float, threads: int | None, repeats: int) -> dict[str, float]:
    """Median seconds of whole-night ``predict_proba`` calls after a warm-up; runs in its own process."""
    from sleepscore.model import SleepModel

    sleep_model = SleepModel(model, threads=threads)
    rng = np.random.default_rng(0)
    sleep_model.predict_proba(rng.normal(0, 20e-6, (20, len(CHANNELS), SAMPLES)))  # warm-up
    night = rng.normal(0, 20e-6, (round(hours * EPOCHS_PER_HOUR), len(CHANNELS), SAMPLES)).astype(np.float32)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        sleep_model.predict_proba(night)
        times.append(time.perf_counter() - started)
    return {"seconds": float(np.median(times)), "peak_rss_mib": peak_rss_mib()}


def linear_fit(hours: list[float], seconds: list[float]) -> tuple[float, float, float]:
    """Least-squares ``seconds = a + b * hours``; returns (a, b, R^2)."""
    b, a = np.polyfit(hours, seconds, 1)
    predicted = a + b * np.asarray(hours)
    residual = float(np.sum((np.asarray(seconds) - predicted) ** 2))
    total = float(np.sum((np.asarray(seconds) - np.mean(seconds)) ** 2))
    return float(a), float(b), 1 - residual / total if total > 0 else 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, nargs="+", default=[8.0, 16.0, 24.0])
    parser.add_argument("--budget", type=float, default=120.0,
                        help="skip longer nights of a network whose first night took longer (s)")
    parser.add_argument("--timeout", type=float, default=600.0, help="limit of one timing process (s)")
    parser.add_argument("--threads", type=int, default=None, help="onnxruntime intra-op threads")
    parser.add_argument("--networks", nargs="+", help="default: every raw architecture")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per night (median)")
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)  # internal: MODEL HOURS
    args = parser.parse_args()
    if args.one:
        print(json.dumps(time_one(Path(args.one[0]), float(args.one[1]), args.threads, args.repeats)))
        return

    from sleepscore.nets import architecture_names, get_architecture

    names = args.networks or [n for n in architecture_names() if get_architecture(n).input_kind == "raw"]
    load_before = load()
    results: dict[str, dict[float, dict[str, float] | str]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            model = export(name, Path(folder))
            results[name] = {}
            for hours in args.hours:
                command = [python(), "-m", "benchmarks.raw_nets_scaling", "--one", str(model), str(hours),
                           "--repeats", str(args.repeats)]
                if args.threads:
                    command += ["--threads", str(args.threads)]
                try:
                    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                                          timeout=args.timeout)
                except subprocess.TimeoutExpired:
                    results[name][hours] = f"over {args.timeout:g} s"
                    break
                if done.returncode != 0:
                    results[name][hours] = f"failed: {done.stderr.strip().splitlines()[-1][:120]}"
                    break
                results[name][hours] = json.loads(done.stdout)
                print(name, hours, results[name][hours], flush=True)
                if results[name][hours]["seconds"] > args.budget:
                    break
    write_result("raw_nets_scaling", report(args, results, load_before, load()))


def report(args: argparse.Namespace, results: dict, load_before: str, load_after: str) -> str:
    hours = args.hours
    head = " | ".join(f"{h:g} h s (MiB)" for h in hours)
    rows = []
    for name, by_hours in results.items():
        cells, measured = [], {}
        for h in hours:
            value = by_hours.get(h, "not run")
            if isinstance(value, dict):
                measured[h] = value["seconds"]
                cells.append(f"{value['seconds']:.2f} ({value['peak_rss_mib']:.0f})")
            else:
                cells.append(value)
        if len(measured) >= 3:
            a, b, r2 = linear_fit(list(measured), list(measured.values()))
            first = measured[hours[0]]
            ratios = ", ".join(f"{measured[h] / first:.2f} (ideal {h / hours[0]:g})" for h in hours[1:])
            linear = "yes" if r2 >= 0.99 and all(abs(measured[h] / first - h / hours[0]) <= 0.15 * h / hours[0]
                                                 for h in hours[1:]) else "NO"
            fit = f"{a:.2f} + {b:.3f}*h, R^2 {r2:.4f} | {ratios} | {linear}"
        else:
            fit = "too few lengths measured | - | -"
        rows.append(f"| {name} | {' | '.join(cells)} | {fit} |")
    threads = args.threads or "onnxruntime default (all cores)"
    return f"""# Raw-signal networks: onnxruntime inference time vs night length

- Date: {now()}
- Command: `python -m benchmarks.raw_nets_scaling --hours {' '.join(f'{h:g}' for h in hours)} --repeats {args.repeats} --budget {args.budget:g}`
- Machine: {machine()}
- Load average (1/5/15 min) before: {load_before}; after: {load_after} (shared machine).
- Data: random float32 input `[1, n_epochs, 2, 3000]` (N(0, 20 uV)), n_epochs = 120 per hour;
  untrained networks from `sleepscore.nets.build_network(name, 2)` exported with
  `sleepscore.training.export.export_onnx` (weights do not change the work done).
- Protocol: each (network, length) in a fresh process; `SleepModel` (onnxruntime CPU, threads:
  {threads}), one warm-up call on 20 epochs, then the median of {args.repeats} timed calls on the whole night;
  peak RSS of that process in brackets. Linear = R^2 >= 0.99 and each ratio to the shortest
  night within 15 % of the ideal.

| network | {head} | fit (s) | ratio to {hours[0]:g} h | linear |
| --- | {' | '.join('---' for _ in hours)} | --- | --- | --- |
{chr(10).join(rows)}
"""


if __name__ == "__main__":
    sys.exit(main())
