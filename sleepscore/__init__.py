"""sleepscore: sleep-stage scoring of clinical EDF recordings with self-describing ONNX models.

The pipeline, one module per stage: :mod:`sleepscore.edf` (reading), :mod:`sleepscore.epochs`
(epoching and quality flags), :mod:`sleepscore.hypnogram` (expert labels), :mod:`sleepscore.features`
(spectral-v1), :mod:`sleepscore.model` (ONNX contract), :mod:`sleepscore.scoring` (one night end to
end), :mod:`sleepscore.output` (writing), :mod:`sleepscore.metrics` and :mod:`sleepscore.sleepstats`
(agreement and sleep statistics), :mod:`sleepscore.evaluation` (many nights).

Examples
--------
>>> from sleepscore.scoring import score_night
>>> night = score_night("SC4001E0-PSG.edf", hypnogram="SC4001EC-Hypnogram.edf")  # doctest: +SKIP
>>> night.stages[:3], night.probs.shape  # doctest: +SKIP
"""

__version__ = "0.1.0"
