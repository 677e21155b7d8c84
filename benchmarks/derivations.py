"""One night, several EEG derivations: the single-EEG model on each alone, then combined.

``predict`` scores a file without the two-channel model's own derivations with the single-EEG
model on two of its standard derivations from far-apart scalp regions, each alone, and combines
their probabilities (:func:`sleepscore.model.combine_derivations`). This measures what that gives on the
real nights in ``../shared`` (the 16 Sleep-EDF-20 feature nights, subjects 0-7), where each night
has two derivations, Fpz-Cz and Pz-Oz: the shipped single-EEG recipe is cross-validated exactly as
``make models`` trains it (subject-wise 4-fold, seed 0), and each fold's model scores each test
night's Fpz-Cz and Pz-Oz alone under every protocol (±30 min of the whole recording, the whole
recording, the clinical cut, 30-min pieces of the sleep period each scored alone).

Rows: each derivation alone; the two combined as a plain geometric mean (exponent 1); combined as
shipped (:data:`~sleepscore.model.DERIVATION_EXPONENT`); and, to show how that exponent was chosen,
the factor on the mean log-probability that minimises the log-loss of the other three folds'
held-out predictions (the inverse of their :func:`~sleepscore.training.evaluate.fit_temperature`),
applied to each fold (cross-fitted). Then the same on damaged features
(:func:`benchmarks.robustness._damaged`: muscle in every N2 epoch of both derivations or of
Fpz-Cz only, a 50-Hz file), beside the shipped two-channel model's figures from
``benchmarks/results/robustness.md``.

    python -m benchmarks.derivations --jobs 2
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.special import softmax

from benchmarks._common import machine, now, write_result
from benchmarks.robustness import SLEEP_EDF, _DERIVATIONS, _damaged, _shipped_recipe
from sleepscore.model import ANY_EEG_MODEL, DERIVATION_EXPONENT, Prediction, combine_derivations

_DAMAGES = ("as recorded", "muscle in N2", "muscle in N2 of Fpz-Cz only", "50-Hz file")


def _combined(logits: list[np.ndarray], exponent: float) -> np.ndarray:
    """Log-probabilities of :func:`combine_derivations` of the derivations' held-out logits."""
    return np.log(combine_derivations([Prediction(softmax(x, axis=1)) for x in logits], exponent=exponent).probs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=1, help="networks trained at once (as train --jobs)")
    args = parser.parse_args()

    from sleepscore.training.api import cross_validate, resolve_nights
    from sleepscore.training.data import Night
    from sleepscore.training.evaluate import HeldOutPrediction, fit_temperature, predict_held_out, score_held_out
    from sleepscore.training.splits import split_by_subject

    started = time.perf_counter()
    result = cross_validate("sleep-edf20-features", SLEEP_EDF, channels=_DERIVATIONS,
                            **_shipped_recipe(ANY_EEG_MODEL, args.passes, {}, None, args.jobs))
    seconds = time.perf_counter() - started
    recordings = resolve_nights("sleep-edf20-features", SLEEP_EDF, None, _DERIVATIONS, True)[0]

    tables = []
    for damage in _DAMAGES:
        # Per fold: the test nights (their Fpz-Cz recording stands for the night) and, per night,
        # each derivation's held-out logits.
        folds: list[tuple[list[Night], list[list[HeldOutPrediction]]]] = []
        for fold in result.folds:
            test = split_by_subject(recordings, [], fold.test_subjects)[2]
            damaged = [Night(n.name, n.subject, n.x if damage == "as recorded" or
                             (damage.endswith("Fpz-Cz only") and "Pz-Oz" in n.name)
                             else _damaged(n.x, n.y, damage.replace(" of Fpz-Cz only", "")), n.y)
                       for n in test]
            by_name = dict(zip([n.name for n in damaged], predict_held_out(fold.network, damaged)))
            nights = [n for n in damaged if n.name.endswith(_DERIVATIONS[0])]
            folds.append((nights, [[by_name[n.name.replace(_DERIVATIONS[0], d)] for d in _DERIVATIONS]
                                   for n in nights]))

        def combine(per_night: list[HeldOutPrediction], exponent: float, factor: float = 1.0) -> HeldOutPrediction:
            return HeldOutPrediction(factor * _combined([p.whole for p in per_night], exponent),
                                     factor * _combined([p.cut for p in per_night], exponent),
                                     [factor * _combined(list(pieces), exponent)
                                      for pieces in zip(*(p.pieces for p in per_night))])

        rows = {}
        nights = [n for f in folds for n in f[0]]
        for i, derivation in enumerate(_DERIVATIONS):
            rows[f"{derivation} alone"] = [p[i] for f in folds for p in f[1]]
        rows["both, geometric mean"] = [combine(p, 1.0) for f in folds for p in f[1]]
        rows[f"both, as shipped (exponent {DERIVATION_EXPONENT})"] = [combine(p, DERIVATION_EXPONENT)
                                                                      for f in folds for p in f[1]]
        if damage == "as recorded":
            fitted, factors = [], []
            for k, (_, fold_predictions) in enumerate(folds):
                others = [(n, combine(p, 1.0)) for j, f in enumerate(folds) if j != k for n, p in zip(*f)]
                factors.append(1 / fit_temperature([n for n, _ in others], [p for _, p in others]))
                fitted += [combine(p, 1.0, factors[-1]) for p in fold_predictions]
            everyone = [combine(p, 1.0) for f in folds for p in f[1]]
            rows[f"both, geometric mean x the other folds' best factor ({', '.join(f'{f:.2f}' for f in factors)}; "
                 f"all folds {1 / fit_temperature(nights, everyone):.2f})"] = fitted
        lines = [f"### {damage}", "",
                 "| recording | kappa ±30 min | whole | cut | pieces | ECE ±30 min | ECE cut | ECE pieces |",
                 "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for name, predictions in rows.items():
            scores = score_held_out(nights, predictions)
            kappas = [f"{scores[p].summary.pooled.kappa:.3f}" for p in scores.by_protocol]
            eces = [f"{scores[p].ece:.3f}" for p in ("30min", "30min_recording", "30min_pieces")]
            lines.append(f"| {name} | " + " | ".join(kappas + eces) + " |")
        tables += [*lines, ""]

    report = f"""# Several derivations of one night: the single-EEG model on each, combined

- Date: {now()}
- Command: `python -m benchmarks.derivations --passes {args.passes} --jobs {args.jobs}` (cross-validation {seconds:.0f} s)
- Machine: {machine()}
- Data: real per-epoch features of the 16 Sleep-EDF-20 nights in `../shared` (subjects 0-7),
  Fpz-Cz and Pz-Oz; subject-wise 4-fold cross-validation of the shipped single-EEG recipe
  (`make models`' second line, seed 0), metrics pooled over the test folds. Damaged rows modify the
  real features (`benchmarks.robustness`), they are not damaged recordings.

For comparison, the shipped two-channel model (one network reading both derivations together,
same folds, `benchmarks/results/robustness.md`): kappa ±30 min 0.793, whole 0.877, cut 0.806,
pieces 0.740; muscle in N2 0.772, 50-Hz file 0.786 (±30 min).

{chr(10).join(tables)}"""
    write_result("derivations", report)
    print(report)


if __name__ == "__main__":
    main()
