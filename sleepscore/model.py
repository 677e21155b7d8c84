"""Loading and running models that follow the ONNX model contract (``docs/model-contract.md``).

A model is one self-describing ``.onnx`` file: its metadata says which channels, unit, sampling rate
and input kind it needs, so the pipeline never hard-codes them. Only onnxruntime is needed here.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .contract import ANY_EEG, DISTANCE, GAMMA_EXCESS, INPUT, PROBS, REQUIRED_KEYS, ModelInfo, declared_channels, decode_metadata
from .errors import DataError
from .stages import STAGES

__all__ = ["ANY_EEG", "ANY_EEG_MODEL", "DEFAULT_MODEL", "REQUIRED_KEYS", "ModelInfo", "Prediction", "SleepModel",
           "combine_derivations", "declared_channels", "default_model_path", "load_model", "shipped_models_dir"]

#: The shipped two-channel model, used when a file has both of its channels (Fpz-Cz, Pz-Oz).
DEFAULT_MODEL = "spectral-robust-fpzcz-pzoz.onnx"
#: The shipped single-EEG model, for any one EEG derivation.
ANY_EEG_MODEL = "spectral-robust-eeg.onnx"
#: How :func:`combine_derivations` pools derivations: their log-probabilities are summed and divided
#: by ``n ** DERIVATION_EXPONENT``. A plain mean (exponent 1) left two derivations under-confident
#: (their errors are correlated, but less than fully): on the shipped single-EEG model's
#: cross-validation (Fpz-Cz and Pz-Oz of the same nights, ``benchmarks/results/derivations.md``)
#: the mean times 1.2 minimised the held-out log-loss in every fold (1.17-1.24), and
#: 2 ** (1 - 0.74) = 1.2. One derivation is left as the model gave it.
DERIVATION_EXPONENT = 0.74
# Softmax rows computed in float32 sum to 1 within a few ulps; anything further off is not a softmax.
_SUM_TOLERANCE = 1e-3


class Prediction(NamedTuple):
    """What a model says about one night.

    Attributes
    ----------
    probs : np.ndarray
        float32 ``[n_epochs, 5]`` in the order W, N1, N2, N3, REM.
    distance : np.ndarray or None
        float32 ``[n_epochs]`` from the model's optional ``distance`` output (how far each
        epoch's input lies from the training data), None if it has none.
    gamma_excess : np.ndarray or None
        float32 ``[n_epochs]`` in [0, 1] from the optional ``gamma_excess`` output (30-50 Hz power
        beyond what the epoch's lower bands predict: muscle), None if it has none.
    """

    probs: np.ndarray
    distance: np.ndarray | None = None
    gamma_excess: np.ndarray | None = None


def combine_derivations(predictions: list[Prediction], usable: np.ndarray | None = None,
                        exponent: float = DERIVATION_EXPONENT) -> Prediction:
    """One prediction from a single-EEG model's predictions on several derivations of one night.

    Each epoch's stage probabilities are the normalised product of the derivations' probabilities,
    tempered by ``exponent`` (by default :data:`DERIVATION_EXPONENT`: a geometric mean,
    sharpened as cross-validation measured); ``distance`` and ``gamma_excess`` are the
    derivations' means. An epoch's unusable derivations (flat, clipped or missing signal) are left
    out of it, unless all are.

    Parameters
    ----------
    predictions : list of Prediction
        One per derivation, each over the same epochs.
    usable : np.ndarray, optional
        bool ``[n_epochs, n_derivations]``; None: all usable.
    exponent : float
        The summed log-probabilities are divided by ``n ** exponent`` (1: a geometric mean).

    Returns
    -------
    Prediction

    Examples
    --------
    >>> sure, unsure = np.array([[0.9, 0.1, 0, 0, 0]]), np.array([[0.5, 0.5, 0, 0, 0]])
    >>> def first_two(*args):
    ...     return combine_derivations(*args).probs[0, :2].astype(float).round(3).tolist()
    >>> first_two([Prediction(sure)])
    [0.9, 0.1]
    >>> first_two([Prediction(sure), Prediction(unsure)])
    [0.788, 0.212]
    >>> first_two([Prediction(sure), Prediction(unsure)], np.array([[False, True]]))  # the first unusable
    [0.5, 0.5]
    """
    probs = np.stack([p.probs for p in predictions]).astype(np.float64)
    weight = np.ones(probs.shape[:2]) if usable is None else np.asarray(usable, dtype=np.float64).T
    weight[:, weight.sum(axis=0) == 0] = 1.0
    log_probs = (weight[..., None] * np.log(np.maximum(probs, 1e-12))).sum(axis=0)
    log_probs /= weight.sum(axis=0)[:, None] ** exponent
    combined = np.exp(log_probs - log_probs.max(axis=1, keepdims=True))

    def mean(values: list[np.ndarray | None]) -> np.ndarray | None:
        if any(v is None for v in values):
            return None
        return ((weight * np.stack(values)).sum(axis=0) / weight.sum(axis=0)).astype(np.float32)

    return Prediction((combined / combined.sum(axis=1, keepdims=True)).astype(np.float32),
                      mean([p.distance for p in predictions]), mean([p.gamma_excess for p in predictions]))


def share_beyond(distance: np.ndarray, threshold: float) -> float:
    """Share of epochs whose ``distance`` to the training data exceeds ``threshold`` (the distance
    99 % of the training epochs stay within): what ``predict``'s "unlike the training data"
    warning compares with ``sleepscore.scoring.UNFAMILIAR_WARNING_SHARE``.

    Examples
    --------
    >>> share_beyond(np.array([0.5, 1.5, 2.5, 0.1]), 1.0)
    0.5
    """
    return float(np.mean(distance > threshold))


def shipped_models_dir() -> Path:
    """Folder of the shipped models: inside the installed wheel, else the clone's ``models/``."""
    installed = resources.files("sleepscore") / "shipped_models"
    if installed.is_dir():
        return Path(str(installed))
    return Path(__file__).resolve().parents[1] / "models"


def default_model_path() -> Path:
    """Path of the default model (two-channel spectral sequence model)."""
    return shipped_models_dir() / DEFAULT_MODEL


def _open_session(ort: Any, path: Path, threads: int | None) -> Any:
    """An onnxruntime CPU session of ``path`` with ``threads`` intra-op threads (None: its default)."""
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises several private exception types
        reason = str(err).splitlines()[0][:160] if str(err) else type(err).__name__
        raise DataError(f"{path}: not a readable ONNX model ({reason})") from None


class SleepModel:
    """An ONNX sleep-staging model and its declared contract.

    Parameters
    ----------
    path : str or Path
        The ``.onnx`` file.
    threads : int, optional
        onnxruntime intra-op threads; 1 suits a process pool with one night per worker.

    Examples
    --------
    >>> model = SleepModel(default_model_path())  # doctest: +SKIP
    >>> model.info.channels  # doctest: +SKIP
    ['EEG Fpz-Cz', 'EEG Pz-Oz']
    """

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(f"{self.path}: model file not found")
        self._session = _open_session(ort, self.path, threads or 1)
        meta = self._session.get_modelmeta().custom_metadata_map
        self.info = decode_metadata(self.path, meta)
        if threads is None and self.info.input == "raw":
            # Raw-signal networks are convolutions over long arrays, which onnxruntime splits well
            # across cores; the feature models are recurrences of small products, which its thread
            # pool only slows (a 22-h night: 0.025 s on one thread, 0.05 s on two, on 2 cores).
            self._session = _open_session(ort, self.path, None)
        self._check_signature()
        outputs = [o.name for o in self._session.get_outputs()]
        self._outputs = [PROBS] + [name for name in (DISTANCE, GAMMA_EXCESS) if name in outputs]
        threshold = self.info.extra.get("distance_threshold")
        self.distance_threshold = float(threshold) if threshold is not None else None

    def _check_signature(self) -> None:
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        if [i.name for i in inputs] != [INPUT] or PROBS not in [o.name for o in outputs]:
            raise DataError(f"{self.path}: model breaks the contract, needs one input 'x' and an "
                            f"output 'probs' (has inputs {[i.name for i in inputs]}, "
                            f"outputs {[o.name for o in outputs]})")
        rank = len(inputs[0].shape)
        expected = 3 if self.info.input == "features" else 4
        if rank != expected:
            raise DataError(f"{self.path}: model input 'x' has rank {rank}, the contract needs "
                            f"{expected} for {self.info.input} models")

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Per-epoch stage probabilities of one whole night (see :meth:`predict`)."""
        return self.predict(x)[0]

    def unfamiliar_share(self, distance: np.ndarray | None) -> float | None:
        """Share of epochs farther from the training data than 99 % of the training epochs.

        None when the model reports no distance (an optional output of the contract).
        """
        if distance is None or self.distance_threshold is None or len(distance) == 0:
            return None
        return share_beyond(distance, self.distance_threshold)

    def predict(self, x: np.ndarray) -> Prediction:
        """Per-epoch stage probabilities of one whole night, and what the model's optional outputs
        say about its input.

        Parameters
        ----------
        x : np.ndarray
            ``[n_epochs, n_features]`` (feature models) or ``[n_epochs, n_channels, samples]``
            (raw models), every epoch of the night in time order.

        Returns
        -------
        Prediction
        """
        batch = np.ascontiguousarray(x, dtype=np.float32)[np.newaxis]
        try:
            probs, *rest = self._session.run(self._outputs, {INPUT: batch})
        except Exception as err:  # shape or type mismatch inside onnxruntime
            reason = str(err).splitlines()[0][:160]
            raise DataError(f"{self.path}: model failed on input of shape {batch.shape} ({reason})") from None
        n_epochs = batch.shape[1]
        if probs.shape != (1, n_epochs, len(STAGES)):
            raise DataError(f"{self.path}: model breaks the contract, output 'probs' has shape "
                            f"{probs.shape}, expected (1, {n_epochs}, {len(STAGES)})")
        probs = probs[0]
        if not np.all(np.isfinite(probs)) or np.abs(probs.sum(axis=1) - 1).max(initial=0) > _SUM_TOLERANCE:
            raise DataError(f"{self.path}: model breaks the contract, output rows are not "
                            "probabilities that sum to 1")
        per_epoch = dict(zip(self._outputs[1:], rest))
        for name, values in per_epoch.items():
            if values.shape != (1, n_epochs):
                raise DataError(f"{self.path}: model breaks the contract, output '{name}' has shape "
                                f"{values.shape}, expected (1, {n_epochs})")
        return Prediction(probs, *(per_epoch[name][0] if name in per_epoch else None
                                   for name in (DISTANCE, GAMMA_EXCESS)))


def load_model(path: str | Path | None = None, threads: int | None = None) -> SleepModel:
    """Load ``path``, or the shipped default model when ``path`` is None."""
    return SleepModel(default_model_path() if path is None else path, threads=threads)
