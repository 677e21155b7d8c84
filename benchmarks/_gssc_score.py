"""What a GSSC user runs to score one night on a CPU, as a script the benchmark times end to end.

Usage: ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 PYTHONPATH=/tmp/gssc_pkgs python benchmarks/_gssc_score.py
NIGHT.edf OUT.csv EEG EOG``

GSSC (Hanna & Floeel 2023) needs torch, which the project's virtual environment has for training;
GSSC itself is installed with ``--no-deps`` into its own folder. Its networks are pickled whole
modules, which torch >= 2.6 refuses to load by default, hence ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``
(set by the caller: torch reads it at import).
MNE reads only the two signals used; ``EEGInfer.mne_infer`` filters, resamples and scores them; its
stages (GSSC returns no probabilities) are written as CSV.
"""

from __future__ import annotations

import sys
import warnings

import mne
import numpy as np
from gssc.infer import EEGInfer


def main(psg: str, output: str, eeg: str, eog: str) -> None:
    warnings.filterwarnings("ignore")
    raw = mne.io.read_raw_edf(psg, include=[eeg, eog], preload=True, verbose="error")
    raw.set_channel_types({eeg: "eeg", eog: "eog"}, verbose="error")
    stages, times = EEGInfer(use_cuda=False).mne_infer(raw, eeg=[eeg], eog=[eog])  # no probabilities
    np.savetxt(output, np.column_stack([times, stages]), delimiter=",", fmt="%g", header="onset_s,stage",
               comments="")


if __name__ == "__main__":
    main(*sys.argv[1:5])
