"""How the shipped real-feature model scores simulated nights (issue 4's check of the simulator).

The shipped model was trained on real Sleep-EDF features only; if the simulator's EEG carries the
real per-stage spectral structure, the model should agree with the simulated nights' (real)
expert stage sequences well above chance. The target is pooled kappa >= 0.6 (±30 min). This
says how realistic the simulator is; it is not the model's accuracy on real recordings (that is
in the model card, from cross-validation on real features).

    python -m benchmarks.shipped_model_on_simulated --nights 10 --seed 11
"""

from __future__ import annotations

import argparse
import tempfile
import time

from benchmarks._common import RESULTS, load, machine, now
from sleepscore.datasets import pair_folder
from sleepscore.evaluation import evaluate
from sleepscore.model import default_model_path
from sleepscore.simulate import simulate_dataset

TARGET_KAPPA = 0.6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nights", type=int, default=10)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        simulate_dataset(folder, args.nights, args.seed)
        simulated_s = time.perf_counter() - started
        pairs = pair_folder(folder)
        rows = []
        for protocol in ("30min", "none"):
            outcome = evaluate(pairs, protocol=protocol)
            assert not outcome.failed, [n.error for n in outcome.failed]
            summary = outcome.summary
            pooled = summary.pooled
            rows.append(f"| {protocol} | {pooled.n_epochs} | {pooled.accuracy:.3f} | {pooled.macro_f1:.3f} "
                        f"| {pooled.kappa:.3f} | {summary.mean['kappa']:.3f} ± {summary.sd['kappa']:.3f} | "
                        + " | ".join(f"{f:.3f}" for f in pooled.f1) + " |")
            if protocol == "30min":
                kappa_30 = pooled.kappa
    text = f"""# The shipped real-feature model on simulated nights

`python -m benchmarks.shipped_model_on_simulated --nights {args.nights} --seed {args.seed}`,
{now()}, {machine()}, load {load()}.

Data: {args.nights} whole simulated nights ({args.nights // 2 + args.nights % 2} simulated subjects;
simulated and written in {simulated_s:.0f} s) from `sleepscore.simulate`: real expert stage
sequences of Sleep-EDF-78 nights, EEG matched to the real per-stage spectra. Model:
`{default_model_path().name}` (trained on real spectral features of Sleep-EDF-20 subjects 0-7),
chosen per night as `sleepscore evaluate` does. Pooled = summed confusion matrix over nights.

**These are simulated recordings.** The numbers measure how much real-data structure the
simulator reproduces, not the model's accuracy on real recordings.

| protocol | epochs | accuracy | macro-F1 | kappa (pooled) | kappa per night (mean ± sd) | F1 W | F1 N1 | F1 N2 | F1 N3 | F1 REM |
| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |
{chr(10).join(rows)}

Target: pooled kappa ≥ {TARGET_KAPPA} (±30 min): {"met" if kappa_30 >= TARGET_KAPPA else "NOT met"} ({kappa_30:.3f}).
"""
    out = RESULTS / "shipped_model_on_simulated.md"
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
