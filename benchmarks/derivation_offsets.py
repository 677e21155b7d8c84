"""How the trusted features of the other real derivation differ from Fpz-Cz's, stage by stage.

``spectral-robust`` centres each recording on an estimate of its offset from the training
population. A constant offset (a gain, an electrode distance) is what centring can remove; an
offset that depends on the stage is a different appearance of the stages, which it cannot. This
script measures which of the two separates Pz-Oz from Fpz-Cz on the 16 real Sleep-EDF feature
nights: per night and stage, the mean of (Pz-Oz minus Fpz-Cz) of each trusted feature of
``TrustedSpectralInputs`` (relative band powers, level, log mobility), averaged over nights.

Usage: ``python -m benchmarks.derivation_offsets`` (needs ``../shared/data/sleep-edf`` and torch).
"""

from __future__ import annotations

import numpy as np
import torch

from benchmarks._common import SLEEP_EDF, load, machine, now, write_result
from sleepscore.nets.spectral_robust import TrustedSpectralInputs
from sleepscore.stages import STAGES
from sleepscore.training.feature_files import load_feature_nights

COLUMNS = ("delta", "theta", "alpha", "beta", "gamma", "level", "log mobility")
# Stages with fewer epochs in a night leave that night out of the stage's mean.
_MIN_EPOCHS = 5


def main() -> None:
    frontal = load_feature_nights(SLEEP_EDF, ["EEG Fpz-Cz"])
    parietal = load_feature_nights(SLEEP_EDF, ["EEG Pz-Oz"])
    inputs = TrustedSpectralInputs(1, high_frequency=True)

    def trusted(x: np.ndarray) -> np.ndarray:
        return inputs.trusted(torch.from_numpy(x.astype(np.float32))[None])[0].numpy()

    differences = np.full((len(frontal), len(STAGES), len(COLUMNS)), np.nan)
    frontal_values, labels = [], []
    for night, (a, b) in enumerate(zip(frontal, parietal)):
        va, vb = trusted(a.x), trusted(b.x)
        frontal_values.append(va)
        labels.append(a.y)
        for stage in range(len(STAGES)):
            if (a.y == stage).sum() >= _MIN_EPOCHS:
                differences[night, stage] = (vb[a.y == stage] - va[a.y == stage]).mean(axis=0)
    mean_difference = np.nanmean(differences, axis=0)
    v, y = np.concatenate(frontal_values), np.concatenate(labels)
    within_sd = np.mean([v[y == stage].std(axis=0) for stage in range(len(STAGES))], axis=0)
    header = "| stage | " + " | ".join(COLUMNS) + " |\n| --- |" + " --- |" * len(COLUMNS)
    rows = [f"| {stage} | " + " | ".join(f"{value:+.2f}" for value in mean_difference[i]) + " |"
            for i, stage in enumerate(STAGES)]
    rows.append("| within-stage SD of Fpz-Cz (mean over stages) | "
                + " | ".join(f"{value:.2f}" for value in within_sd) + " |")
    rows.append("| SD of the difference over stages | "
                + " | ".join(f"{value:.2f}" for value in np.nanstd(mean_difference, axis=0)) + " |")
    text = "\n".join([
        "# Pz-Oz minus Fpz-Cz, trusted spectral-robust features, per stage (real nights)", "",
        f"`python -m benchmarks.derivation_offsets`, {now()}, {machine()}, load {load()}.", "",
        f"Data: the {len(frontal)} real Sleep-EDF-20 feature nights (subjects 0-7), every scored "
        "epoch; per night and stage the mean difference of the two derivations' trusted features "
        "(log units: band log powers relative to the level, the level, the log Hjorth mobility), "
        "then the mean over nights.", "", header, *rows, "",
        "A difference that is the same in every stage is an offset that per-recording "
        "centring removes; the SD over stages says how far from that it is.", ""])
    print(text)
    write_result("derivation_offsets", text)


if __name__ == "__main__":
    main()
