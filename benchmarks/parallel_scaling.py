"""Throughput of batch scoring with 1 and 2 worker processes, and memory against the number of nights.

A folder of 22-h Sleep-EDF-shaped nights (``--distinct`` generated ones, linked under as many
names as ``--nights`` asks, so that start-up is a small part of the run) is scored by :func:`sleepscore.batch.score_many`
in a fresh process per run (process start, pool start-up and every CSV written included),
alternating ``jobs=1`` and ``jobs=2``; the median throughput of each and their ratio are reported.
Then ``jobs=2`` scores 2, 8 and all of the nights, and the peak resident memory of the largest
process (the driver or one worker) shows whether memory stays flat as the batch grows.

Usage::

    python -m benchmarks.parallel_scaling --nights 96 --distinct 4 --repeats 3
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
import tempfile
from pathlib import Path

from benchmarks._common import BYTECODE_NOTE, compile_bytecode, Run, load, machine, measure, median, now, python, scoring_model, \
    simulated_night, write_result

HOURS = 22.0


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (the fork server and the pool workers it forked)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found += [int(child), *descendants(int(child))]
    return found


def vm_hwm_mib(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:  # exited between listing and reading
        return 0.0
    return next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmHWM:")), 0.0)


def run_batch(folder: Path, outdir: Path, jobs: int, model: str | None, peak_file: Path) -> None:
    """What ``sleepscore predict FOLDER -o OUTDIR --jobs N -q`` does, short of the CLI's table.

    Pool workers are children of the fork server, not of this process, so GNU time never sees
    them; their peak memory is read from ``/proc`` each time a night completes (they live until
    the batch ends) and written to ``peak_file``.
    """
    from sleepscore.batch import expand_inputs, score_many

    worker_peak = 0.0

    def sample(_outcome: object) -> None:
        nonlocal worker_peak
        worker_peak = max([worker_peak, *(vm_hwm_mib(pid) for pid in descendants(os.getpid()))])

    outcomes = score_many(expand_inputs([folder]), outdir, model=model, jobs=jobs, on_night=sample)
    peak_file.write_text(f"{worker_peak}\n")
    failed = [o.error for o in outcomes if not o.ok]
    if failed:
        raise SystemExit(f"{len(failed)} nights failed: {failed[0]}")


def measure_batch(folder: Path, workdir: Path, jobs: int, model_args: list[str]) -> Run:
    """Score every night in ``folder`` with ``jobs`` workers in a fresh process (outputs under
    ``workdir``); the peak memory is the largest of the driver's and any worker's."""
    outdir, peak_file = workdir / "out", workdir / "worker-peak"
    shutil.rmtree(outdir, ignore_errors=True)
    run = measure([python(), "-m", "benchmarks.parallel_scaling", "--batch", str(folder),
                   str(outdir), str(jobs), str(peak_file), *model_args])
    worker_peak = float(peak_file.read_text())
    return dataclasses.replace(run, peak_rss_mib=max(run.peak_rss_mib, worker_peak))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nights", type=int, default=96, help="nights per batch")
    parser.add_argument("--distinct", type=int, default=4, help="different simulated nights among them")
    parser.add_argument("--repeats", type=int, default=3, help="alternating jobs=1/jobs=2 pairs")
    parser.add_argument("--batch", nargs=4, help=argparse.SUPPRESS)  # internal: FOLDER OUTDIR JOBS PEAK_FILE
    parser.add_argument("--model", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.batch:
        run_batch(Path(args.batch[0]), Path(args.batch[1]), int(args.batch[2]), args.model, Path(args.batch[3]))
        return
    compile_bytecode()

    with tempfile.TemporaryDirectory() as temporary:
        workdir = Path(temporary)
        generated, nights = workdir / "generated", workdir / "nights"
        generated.mkdir()
        nights.mkdir()
        originals = []
        for seed in range(args.distinct):
            originals.append(generated / f"sim{seed}-PSG.edf")
            source = simulated_night(originals[-1], HOURS, seed=seed)
        for index in range(args.nights):
            (nights / f"night{index:03d}-PSG.edf").symlink_to(originals[index % args.distinct])
        model_args, model_text = scoring_model(workdir)

        load_before = load()
        runs: dict[int, list[Run]] = {1: [], 2: []}
        for _ in range(args.repeats):
            for jobs in (1, 2):
                runs[jobs].append(measure_batch(nights, workdir, jobs, model_args))
        memory: dict[int, Run] = {}
        for count in sorted({2, 8, args.nights}):
            subset = workdir / f"subset{count}"
            subset.mkdir()
            for night in sorted(nights.glob("*.edf"))[:count]:
                (subset / night.name).symlink_to(night)
            memory[count] = measure_batch(subset, workdir, 2, model_args)
        load_after = load()
    write_result("parallel_scaling", report(args, source, model_text, runs, memory, load_before, load_after))


def report(args: argparse.Namespace, source: str, model_text: str, runs: dict[int, list[Run]],
           memory: dict[int, Run], load_before: str, load_after: str) -> str:
    wall = {jobs: median([r.wall_s for r in runs[jobs]]) for jobs in runs}
    throughput = {jobs: args.nights / wall[jobs] * 60 for jobs in wall}
    scaling = wall[1] / wall[2]
    rows = "\n".join(f"| {i + 1} | {one.wall_s:.1f} | {two.wall_s:.1f} | {one.load_1min:.2f} / {two.load_1min:.2f} |"
                     for i, (one, two) in enumerate(zip(runs[1], runs[2])))
    memory_rows = "\n".join(f"| {count} | {run.wall_s:.1f} | {run.peak_rss_mib:.0f} |"
                            for count, run in memory.items())
    return f"""# Batch scoring: 1 vs 2 worker processes, and memory vs number of nights

- Date: {now()}
- Command: `python -m benchmarks.parallel_scaling --nights {args.nights} --distinct {args.distinct} --repeats {args.repeats}`
- Machine: {machine()}
- Load average (1/5/15 min) before: {load_before}; after: {load_after}. The machine was shared;
  per-run 1-min loads are in the table.
- Data: {args.nights} 22-h nights (2640 epochs each, 48 MB EDF each): {args.distinct} different ones
  linked under {args.nights} names (the files stay in the page cache, as in any rerun). Sleep-EDF layout
  (7 signals), simulated by `sleepscore.simulate` (stage sequence of real night {source}, a
  different simulated subject per generated night).
- Model: {model_text}.
- Bytecode: {BYTECODE_NOTE}.
- Protocol: each run is a fresh process calling `sleepscore.batch.score_many(expand_inputs([folder]),
  outdir, jobs=N)`, i.e. what `sleepscore predict FOLDER -o OUTDIR --jobs N -q` runs, timed from process
  start to the last CSV written (start of the workers included); jobs=1 scores in-process.
  {args.repeats} alternating pairs (jobs=1, jobs=2); medians reported.

## Throughput

| workers | median wall (s) | nights per minute |
| --- | --- | --- |
| 1 | {wall[1]:.1f} | {throughput[1]:.2f} |
| 2 | {wall[2]:.1f} | {throughput[2]:.2f} |

Scaling 1 -> 2 workers: **{scaling:.2f}x** (target >= 1.7x: **{'met' if scaling >= 1.7 else 'MISSED'}**).

| pair | jobs=1 s | jobs=2 s | 1-min load after (1 / 2) |
| --- | --- | --- | --- |
{rows}

## Memory vs number of nights (jobs=2)

Peak resident set of the largest single process: the driver (GNU time `%M`) or a pool worker
(`VmHWM` from `/proc`, sampled as each night completes):

| nights | wall (s) | peak RSS (MiB) |
| --- | --- | --- |
{memory_rows}
"""


if __name__ == "__main__":
    sys.exit(main())
