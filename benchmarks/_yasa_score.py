"""What a YASA user runs to score one night, as a script the benchmark times end to end.

Usage: ``PYTHONPATH=/tmp/yasa_pkgs python benchmarks/_yasa_score.py NIGHT.edf OUT.csv``

MNE reads only the two signals the classifier uses (less work and memory than the usual
``read_raw_edf(path, preload=True)`` of every signal, so the comparison favours YASA), then
``yasa.SleepStaging`` with EEG and EOG predicts each epoch; the stages and probabilities are
written as CSV, like ``sleepscore predict``'s table.
"""

from __future__ import annotations

import sys
import warnings

import mne
import yasa

EEG, EOG = "EEG Fpz-Cz", "EOG horizontal"


def main(psg: str, output: str) -> None:
    # YASA's shipped classifiers were pickled with scikit-learn 0.24; it warns on every load.
    warnings.filterwarnings("ignore", category=UserWarning, module="sklearn")
    raw = mne.io.read_raw_edf(psg, include=[EEG, EOG], preload=True, verbose="error")
    staging = yasa.SleepStaging(raw, eeg_name=EEG, eog_name=EOG)
    hypnogram = staging.predict()  # a yasa.Hypnogram holding the stages and their probabilities
    table = hypnogram.proba.copy()
    table.insert(0, "stage", hypnogram.hypno.to_numpy())
    table.to_csv(output)


if __name__ == "__main__":
    main(*sys.argv[1:3])
