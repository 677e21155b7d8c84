"""Per-stage means of the 18 spectral-v1 base features: simulated nights vs the 16 real nights.

Simulates full-length nights with the default settings, reads them back with MNE (as any
consumer would), computes the features with ``sleepscore.features.spectral_features`` and prints
(and writes to ``benchmarks/results/simulator_vs_real.md``) the distance of each simulated
per-stage mean from the real one, in real per-stage standard deviations.

Usage: ``python benchmarks/simulator_vs_real.py [--nights 6] [--seed 0]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import mne
import numpy as np

from sleepscore.features import feature_names, spectral_features
from sleepscore.alignment import epoch_labels
from sleepscore.io.hypnogram import read_hypnogram
from sleepscore.simulate import EEG_CHANNELS, load_reference, reference_dir, simulate_dataset
from sleepscore.stages import STAGES

RESULT = Path(__file__).resolve().parent / "results" / "simulator_vs_real.md"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nights", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    folder = reference_dir()  # the real features to compare with
    reference = load_reference()  # what users simulate from: the packaged fit
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        pairs = simulate_dataset(out, args.nights, args.seed, reference=reference)
        seconds = time.perf_counter() - started
        features, stages, hours = [], [], []
        for pair in pairs:
            raw = mne.io.read_raw_edf(pair.psg, verbose="error")
            volts = raw.get_data(picks=list(EEG_CHANNELS))
            n = volts.shape[1] // 3000
            hours.append(n / 120)
            epochs = volts[:, :n * 3000].reshape(2, n, 3000).transpose(1, 0, 2)
            labels = epoch_labels(read_hypnogram(pair.hypnogram), n,
                                  raw.info["meas_date"].replace(tzinfo=None))
            features.append(spectral_features(epochs))
            stages.append(labels)
    simulated, simulated_y = np.concatenate(features), np.concatenate(stages)
    real, real_y = [], []
    for path in sorted((folder / "features").glob("*.npz")):
        with np.load(path) as data:
            real.append(data["X"][:, :18])
            real_y.append(data["y"])
    real, real_y = np.concatenate(real), np.concatenate(real_y)

    names = [name.replace("EEG ", "") for name in feature_names(list(EEG_CHANNELS))]
    lines = [
        "# Simulated vs real spectral-v1 features",
        "",
        f"`python benchmarks/simulator_vs_real.py --nights {args.nights} --seed {args.seed}`: "
        f"{args.nights} full nights ({min(hours):.1f}-{max(hours):.1f} h, simulated and written "
        f"in {seconds:.0f} s), default `subject_spread=0.5`, read back with MNE; real: the 16 "
        "nights of `features/*.npz`. Cells: (simulated mean - real mean) / real sd, per stage; "
        "|d| < 0.5 is the acceptance line.",
        "",
        "| feature | " + " | ".join(f"{s} (n={int((simulated_y == i).sum())})"
                                   for i, s in enumerate(STAGES)) + " |",
        "| --- |" + " ---: |" * len(STAGES),
    ]
    distances = np.zeros((len(STAGES), len(names)))
    for stage in range(len(STAGES)):
        rows, real_rows = simulated_y == stage, real_y == stage
        distances[stage] = ((simulated[rows].mean(0) - real[real_rows].mean(0))
                            / real[real_rows].std(0))
    for column, name in enumerate(names):
        lines.append(f"| {name} | " + " | ".join(f"{d:+.2f}" for d in distances[:, column]) + " |")
    inside = np.abs(distances) < 0.5
    lines += ["", f"Within 0.5 sd: {int(inside.sum())} of {inside.size} cells; "
              f"largest |d| = {np.abs(distances).max():.2f}."]
    text = "\n".join(lines) + "\n"
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
