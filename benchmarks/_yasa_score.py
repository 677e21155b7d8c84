"""What a YASA user runs to score one night, as a script the benchmarks time end to end.

Usage: ``PYTHONPATH=/tmp/yasa_pkgs python benchmarks/_yasa_score.py NIGHT.edf OUT.csv EEG EOG [EMG]``

MNE reads only the signals the classifier uses (less work and memory than the usual
``read_raw_edf(path, preload=True)`` of every signal, so the comparison favours YASA), then
``yasa.SleepStaging`` with EEG, EOG and, when named, EMG predicts each epoch; the stages and
probabilities are written as CSV, like ``sleepscore predict``'s table.
"""

from __future__ import annotations

import sys
import warnings

import mne
import yasa


def main(psg: str, output: str, eeg: str, eog: str, emg: str | None = None) -> None:
    # YASA's shipped classifiers were pickled with an older scikit-learn; it warns on every load.
    warnings.filterwarnings("ignore", category=UserWarning, module="sklearn")
    raw = mne.io.read_raw_edf(psg, include=[name for name in (eeg, eog, emg) if name], preload=True,
                              verbose="error")
    staging = yasa.SleepStaging(raw, eeg_name=eeg, eog_name=eog, emg_name=emg)
    hypnogram = staging.predict()  # a yasa.Hypnogram holding the stages and their probabilities
    table = hypnogram.proba.copy()
    table.insert(0, "stage", hypnogram.hypno.to_numpy())
    table.to_csv(output)


if __name__ == "__main__":
    main(*sys.argv[1:6])
