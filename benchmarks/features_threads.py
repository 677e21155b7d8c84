"""Spectral features and quality flags of a 22-h two-channel night on one thread and on one
thread per core.

In one process, on 2640 epochs of white noise (two channels, 30 s at 100 Hz, the size of a whole
Sleep-EDF recording): wall time of ``sleepscore.features.spectral_features`` and
``sleepscore.epochs.epoch_quality`` with ``threads=1`` (what a batch worker runs) and with
``threads`` = the usable cores (what a single ``predict`` runs), alternating, after one warm-up
call each; medians and minima of ``--repeats`` calls. The results must not depend on the thread
count, which the script checks.

    python -m benchmarks.features_threads --repeats 9
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from benchmarks._common import load, machine, now, write_result

EPOCHS, CHANNELS, SAMPLES = 2640, 2, 3000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    from sleepscore.epochs import epoch_quality
    from sleepscore.features import spectral_features
    from sleepscore.threads import usable_cores

    load_before = load()
    epochs = np.random.default_rng(0).normal(0, 20e-6, (EPOCHS, CHANNELS, SAMPLES))
    steps = {
        "spectral_features": lambda threads: spectral_features(epochs, threads=threads),
        "epoch_quality": lambda threads: np.stack(list(
            vars(epoch_quality(epochs, [-1e-3] * CHANNELS, [1e-3] * CHANNELS, threads=threads)).values())),
    }
    settings = sorted({1, usable_cores()})
    for step, call in steps.items():
        outputs = [call(threads) for threads in settings]
        if any(not np.array_equal(outputs[0], out) for out in outputs):
            raise SystemExit(f"{step} differs between thread counts")
    walls: dict[tuple[str, int], list[float]] = {(step, threads): [] for step in steps for threads in settings}
    for _ in range(args.repeats):
        for step, call in steps.items():
            for threads in settings:
                start = time.perf_counter()
                call(threads)
                walls[step, threads].append(time.perf_counter() - start)
    rows = "\n".join(f"| {step} | {threads} | {statistics.median(w):.3f} | {min(w):.3f} |"
                     for (step, threads), w in walls.items())
    write_result("features_threads", f"""# Spectral features and quality flags of a 22-h two-channel night by thread count

- Date: {now()}
- Command: `python -m benchmarks.features_threads --repeats {args.repeats}`
- Machine: {machine()}
- Load average (1/5/15 min) before: {load_before}; after: {load()}
- Data: {EPOCHS} epochs x {CHANNELS} channels x {SAMPLES} samples of white noise (a 22-h night at 100 Hz).
- Protocol: one process; thread counts alternate; one warm-up call each; outputs checked identical.

| step | threads | median s | min s |
| --- | --- | --- | --- |
{rows}
""")


if __name__ == "__main__":
    main()
