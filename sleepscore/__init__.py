"""sleepscore: sleep-stage scoring of clinical EDF recordings with self-describing ONNX models.

The pipeline, one module per stage: :mod:`sleepscore.io` (reading recordings, hypnograms and
lights tables; writing results), :mod:`sleepscore.epochs` (epoching and quality flags),
:mod:`sleepscore.labels` and :mod:`sleepscore.alignment` (expert labels on the epochs),
:mod:`sleepscore.features` (spectral-v1), :mod:`sleepscore.pipeline` (read → epochs → model
input), :mod:`sleepscore.model` (ONNX contract), :mod:`sleepscore.scoring` (one night end to end),
:mod:`sleepscore.metrics` and :mod:`sleepscore.sleepstats` (agreement and sleep statistics),
:mod:`sleepscore.evaluation` and :mod:`sleepscore.batch` (many nights), :mod:`sleepscore.datasets`
(the dataset registry). The names most uses need are importable from the package itself
(``__all__``).

Examples
--------
Score a simulated 1-h night (the packaged simulator, so the example runs anywhere; its numbers
say the pipeline works, not how accurate the model is on real recordings) and compare it with
its own hypnogram:

>>> import tempfile
>>> import sleepscore
>>> folder = tempfile.mkdtemp()
>>> psg, hypnogram = sleepscore.simulate_dataset(folder, nights=1, seed=7, hours=1)[0]
>>> night = sleepscore.score_night(psg, hypnogram=hypnogram)
>>> night.channels, night.probs.shape
(['EEG Fpz-Cz', 'EEG Pz-Oz'], (120, 5))
>>> stats = sleepscore.save_night(night, f"{folder}/scored.csv")
>>> result = sleepscore.agreement(night.expert, night.stages)
>>> 0.0 <= result.kappa <= 1.0
True
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Each public name and the module that defines it, imported on first use (PEP 562): importing
# them all here would put numpy and onnxruntime (~0.15 s) in front of `sleepscore --help`.
_PUBLIC = {
    "score_night": "scoring", "save_night": "scoring", "choose_model": "scoring", "NightScore": "scoring",
    "read_psg": "io.edf", "read_header": "io.edf",
    "read_hypnogram": "io.hypnogram", "epoch_labels": "alignment",
    "read_model_input": "pipeline",
    "cut_epochs": "epochs", "epoch_quality": "epochs",
    "spectral_features": "features",
    "load_model": "model", "SleepModel": "model",
    "agreement": "metrics", "Agreement": "metrics", "summarise": "metrics", "expected_accuracy": "metrics",
    "sleep_statistics": "sleepstats",
    "evaluate": "evaluation", "evaluate_night": "evaluation", "Evaluation": "evaluation",
    "pair_folder": "datasets", "RecordingPair": "datasets",
    "simulate_dataset": "simulate",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'sleepscore' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
