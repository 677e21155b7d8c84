"""The model card (``NAME.md``) written beside every exported model."""

from __future__ import annotations

import json

from typing import Any

from ..contract import ANY_EEG
from ..datasets import DATASETS, DatasetSpec
from ..protocols import PROTOCOLS
from ..stages import STAGES


_INPUTS = {"features": "the unnormalised spectral-v1 features", "raw": "the 30-s raw signal epochs"}


def _dataset(trained_on: dict[str, Any]) -> DatasetSpec | None:
    """The registered dataset a model was trained on (None for one the caller described)."""
    return DATASETS.get(trained_on["dataset"])


def _data_description(trained_on: dict[str, Any]) -> str:
    dataset = trained_on["dataset"]
    # A single-EEG model's recordings are "NIGHT:DERIVATION"; count the nights.
    nights = sorted({name.split(":")[0] for name in trained_on.get("nights", trained_on.get("train_nights", []))})
    subjects = ", ".join(trained_on.get("subjects", trained_on.get("train_subjects", [])))
    spec = _dataset(trained_on)
    if spec is not None and spec.provenance.source and trained_on.get("simulated_recordings"):
        # Simulated files in a published dataset's layout are that dataset in name only.
        what = (f"the PSG signals of {len(nights)} nights laid out as {spec.provenance.title} "
                "(its file names and expert stage sequences)")
    else:
        what = (spec.provenance.what if spec is not None else "{nights} nights").format(nights=len(nights))
    if trained_on.get("simulated_recordings"):
        what += (f"; {trained_on['simulated_recordings']} of {trained_on.get('recordings', '?')} "
                 "recordings were written by `sleepscore simulate` (real expert stage sequences, "
                 "simulated EEG), not recorded from people")
    if trained_on.get("trimmed_when_read"):
        what += ("; nights trimmed to ±30 min around sleep when read (the literature protocol), so "
                 "whole-recording metrics cover those epochs only")
    derivations = trained_on.get("derivations", trained_on["channels"])
    channels = (f"any one EEG derivation, trained on each of {', '.join(derivations)} as a recording "
                "of its own" if trained_on["channels"] == [ANY_EEG] else ", ".join(trained_on["channels"]))
    return (f"Dataset `{dataset}`: {what}, subjects {subjects}, channels "
            f"{channels}. Unscored epochs (`?`, movement time) stay in the "
            "sequence the network sees but carry no loss and count in no metric.")


def _limits(trained_on: dict[str, Any]) -> str:
    derivations = ", ".join(trained_on.get("derivations", trained_on["channels"]))
    if trained_on["channels"] == [ANY_EEG]:
        montage = (f"- Montage: trained on {derivations} only. Other derivations (central, frontal, "
                   "occipital) are scored through relative band powers and shrunk per-recording "
                   "centring; leave-one-derivation-out numbers are in the README, and no real "
                   "recording of another montage was used for training or tuning.\n")
    else:
        montage = (f"- Montage: trained on {derivations} only; other derivations give different "
                   "signals and are untested.\n")
    if trained_on.get("simulated_recordings"):
        montage += ("- Data: simulated recordings; the metrics show that training and export work, "
                    "not how well real PSG is scored.\n")
    spec = _dataset(trained_on)
    return montage + (spec.provenance.limits if spec is not None else "")


def _agreement_table(pooled: dict[str, Any], ece: float | None = None) -> list[str]:
    # A stage absent from the held-out nights and never predicted has no F1 (null).
    scores = [pooled["per_class"][s]["f1"] for s in STAGES]
    f1 = " | ".join("-" if score is None else f"{score:.3f}" for score in scores)
    calibration = f"{ece:.3f}" if ece is not None else "-"
    lines = [f"| accuracy | macro-F1 | kappa | {' | '.join('F1 ' + s for s in STAGES)} | ECE | epochs |",
             "|" + " --- |" * (5 + len(STAGES)),
             f"| {pooled['accuracy']:.3f} | {pooled['macro_f1']:.3f} | {pooled['kappa']:.3f} | {f1} "
             f"| {calibration} | {pooled['n_epochs']} |", "",
             "Confusion matrix (rows expert, columns model):", "",
             "| expert \\ model | " + " | ".join(STAGES) + " |",
             "|" + " --- |" * (1 + len(STAGES))]
    lines += [f"| {s} | " + " | ".join(str(c) for c in row) + " |"
              for s, row in zip(STAGES, pooled["confusion"])]
    return lines


def _recipe_text(summary: dict) -> str:
    """Sentences on the members built with keywords of their own and on derivation mixing
    (empty when neither is used)."""
    text = ""
    own = [f"network {member} with " + ", ".join(f"`{key}={json.dumps(value)}`" for key, value in options.items())
           for member, options in enumerate(summary.get("member_options") or [], start=1) if options]
    if own:
        text += f" Built differently: {'; '.join(own)}."
    mixing = summary.get("config", {}).get("derivation_mixing", 0.0)
    if mixing:
        text += (f" Each training recording was, with probability {mixing:g} per pass, replaced by a "
                 "virtual derivation mixed from its own and another derivation of the same night.")
    return text


def model_card(name: str, summary: dict[str, Any], notes: str | None = None) -> str:
    """Markdown model card of a run from its metrics JSON (``NAME.json``) content.

    Parameters
    ----------
    name : str
        Model name (file stem).
    summary : dict
        What :func:`sleepscore.training.api` writes to ``NAME.json``.
    notes : str, optional
        Extra markdown appended before the limits (e.g. a table of what each training lever gave).

    Returns
    -------
    str
    """
    trained_on = summary["trained_on"]
    lines = [f"# {name}", ""]
    if trained_on.get("simulated_recordings"):
        lines += ["**Simulated data.** This model was trained and tested on recordings written by "
                  "`sleepscore simulate` (real expert stage sequences, EEG generated to match real "
                  "per-stage spectra), not on recordings of people. Its numbers show that the "
                  "training and export code works; they say nothing about accuracy on real PSG.", ""]
    lines += [
             f"`{summary['architecture']}` ({summary['members']} network(s) averaged inside the graph) "
             f"over {_INPUTS[summary['input']]} of {', '.join(trained_on['channels'])}: input the "
             "whole recording, output per-epoch probabilities of W, N1, N2, N3, REM." + _recipe_text(summary),
             "", "## Data", "", _data_description(trained_on), "",
             "## Protocol", "", trained_on["metrics_protocol"] + ".", ""]
    if "final_model" in trained_on:
        lines += ["The exported model is " + trained_on["final_model"] + ".", ""]
    short = trained_on.get("short_recording", {}).get("fold_temperatures")
    if short:
        lines += ["Each fold's short-recording temperature, fitted on the other folds' test nights: "
                  + ", ".join(f"{t:.3f}" for t in short) + ".", ""]
    for protocol in PROTOCOLS.values():
        if protocol.name in summary["metrics"]:
            scores = summary["metrics"][protocol.name]
            lines += [f"## Metrics, {protocol.title}", "", *_agreement_table(scores["pooled"], scores.get("ece")), ""]
    fifty_hz = trained_on.get("missing_gamma", {}).get("metrics_50_hz")
    if fifty_hz:
        lines += ["## Metrics, files sampled at 50 Hz", "",
                  "The same test nights' features as a file sampled at 50 Hz gives them (no gamma, beta "
                  "x0.8), each fold's model with the missing-gamma temperature fitted on the other folds' "
                  "test nights (" + ", ".join(f"{t:.3f}" for t in trained_on["missing_gamma"]["fold_temperatures"])
                  + "). Kappa / ECE: " + "; ".join(
                      f"{PROTOCOLS[protocol].label} {scores['kappa']:.3f} / "
                      + ("-" if scores["ece"] is None else f"{scores['ece']:.3f}")
                      for protocol, scores in fifty_hz.items()) + ".", ""]
    if summary.get("folds"):
        lines += ["Per fold (test subjects: kappa ±30 min / whole recording): " + "; ".join(
            f"{','.join(f['test_subjects'])}: {f['30min']['kappa']:.3f} / {f['whole']['kappa']:.3f}"
            for f in summary["folds"]) + ".", ""]
    lines += ["## Reproduce", "", "```", summary.get("command") or "(not recorded)", "```", "",
              f"Training the exported model took {summary['final_seconds']:.0f} s (the whole run, "
              f"cross-validation included, {summary['seconds']:.0f} s) on {summary['machine']}.",
              ""]
    # A shipped model changed without retraining (a re-export with a new gate) says so under the
    # command that no longer reproduces it exactly.
    if summary.get("after_training"):
        lines += [f"Changed after training: {summary['after_training']}", ""]
    if notes:
        lines += [notes.strip(), ""]
    lines += ["## Limits", "", _limits(trained_on)]
    return "\n".join(lines)
