"""Spectral features of a 22-h two-channel night on one thread and on one thread per core.

In one process, on 2640 epochs of white noise (two channels, 30 s at 100 Hz, the size of a whole
Sleep-EDF recording): wall time of ``sleepscore.features.spectral_features`` with ``threads=1``
(what a batch worker runs) and with ``threads`` = the usable cores (what a single ``predict``
runs), alternating, after one warm-up call each; medians and minima of ``--repeats`` calls. The
two results must be identical, which the script checks.

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
    from sleepscore.features import spectral_features
    from sleepscore.scoring import usable_cores

    load_before = load()
    epochs = np.random.default_rng(0).normal(0, 20e-6, (EPOCHS, CHANNELS, SAMPLES))
    settings = sorted({1, usable_cores()})
    outputs = {threads: spectral_features(epochs, threads=threads) for threads in settings}
    if any(not np.array_equal(outputs[settings[0]], out) for out in outputs.values()):
        raise SystemExit("the features differ between thread counts")
    walls: dict[int, list[float]] = {threads: [] for threads in settings}
    for _ in range(args.repeats):
        for threads in settings:
            start = time.perf_counter()
            spectral_features(epochs, threads=threads)
            walls[threads].append(time.perf_counter() - start)
    rows = "\n".join(f"| {threads} | {statistics.median(w):.3f} | {min(w):.3f} |" for threads, w in walls.items())
    write_result("features_threads", f"""# Spectral features of a 22-h two-channel night by thread count

- Date: {now()}
- Command: `python -m benchmarks.features_threads --repeats {args.repeats}`
- Machine: {machine()}
- Load average (1/5/15 min) before: {load_before}; after: {load()}
- Data: {EPOCHS} epochs x {CHANNELS} channels x {SAMPLES} samples of white noise (a 22-h night at 100 Hz).
- Protocol: one process; thread counts alternate; one warm-up call each; outputs checked identical.

| threads | median s | min s |
| --- | --- | --- |
{rows}
""")


if __name__ == "__main__":
    main()
