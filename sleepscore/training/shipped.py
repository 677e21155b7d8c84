"""Recipes of the models shipped in ``models/``; ``python -m sleepscore.training.shipped`` rebuilds them.

Each recipe runs subject-wise cross-validation on the real Sleep-EDF-20 features (the numbers in
the model card and metadata) and then trains the exported model on every subject.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .api import FEATURES_DATASET, RunResult, cross_validate
from .card import model_card
from .loop import TrainConfig
from .transitions import transition_probabilities

_REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = _REPO.parent / "shared" / "data" / "sleep-edf"
LEVERS_NOTES = _REPO / "models" / "levers.md"


@dataclass(frozen=True)
class Recipe:
    """Everything that defines one shipped model."""

    name: str
    channels: list[str]
    arch: str = "spectral-bigru"
    folds: int = 4
    epochs: int = 40
    seed: int = 0
    members: int = 1
    config: TrainConfig = field(default_factory=TrainConfig)
    options: dict[str, Any] = field(default_factory=dict)
    #: Add a transition-smoothing layer with the stage transitions of the Sleep-EDF-78 nights of
    #: subjects 20-82 (none of the Sleep-EDF-20 subjects, whose nights are trained and scored on).
    transition_prior: bool = False


RECIPES: dict[str, Recipe] = {
    recipe.name: recipe for recipe in (
        Recipe("spectral-bigru-fpzcz-pzoz", ["EEG Fpz-Cz", "EEG Pz-Oz"], members=3, transition_prior=True),
        Recipe("spectral-bigru-fpzcz", ["EEG Fpz-Cz"], transition_prior=True),
    )
}


def build(recipe: Recipe, data_dir: Path, models_dir: Path, quiet: bool = False) -> RunResult:
    """Cross-validate ``recipe`` and export its model to ``models_dir/NAME.onnx``."""
    command = f"python -m sleepscore.training.shipped {recipe.name}" + (
        "" if data_dir == DEFAULT_DATA_DIR else f" --data-dir {data_dir}")
    notes = LEVERS_NOTES.read_text() if LEVERS_NOTES.is_file() else None
    options = dict(recipe.options)
    if recipe.transition_prior:
        options["transition_prior"] = transition_probabilities(
            data_dir / "hypnograms-sc78", exclude_subjects=range(20)).tolist()
    return cross_validate(FEATURES_DATASET, data_dir, arch=recipe.arch, channels=recipe.channels,
                          k=recipe.folds, epochs=recipe.epochs, seed=recipe.seed,
                          output=models_dir / f"{recipe.name}.onnx", quiet=quiet,
                          members=recipe.members, config=recipe.config, options=options,
                          command=command, notes=notes)


def main(argv: list[str] | None = None) -> int:
    """Rebuild the named shipped models (all by default)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"any of {', '.join(RECIPES)}")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--models-dir", type=Path, default=_REPO / "models")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--cards-only", action="store_true",
                        help="only rewrite NAME.md from NAME.json and models/levers.md")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(RECIPES))
    if unknown:
        parser.error(f"unknown model {unknown[0]!r}; shipped models: {', '.join(RECIPES)}")
    for name in args.names or list(RECIPES):
        if args.cards_only:
            summary = json.loads((args.models_dir / f"{name}.json").read_text())
            notes = LEVERS_NOTES.read_text() if LEVERS_NOTES.is_file() else None
            (args.models_dir / f"{name}.md").write_text(model_card(name, summary, notes))
            continue
        result = build(RECIPES[name], args.data_dir, args.models_dir, args.quiet)
        pooled = result.metrics["30min"]["pooled"]
        print(f"{name}: CV ±30 min kappa {pooled['kappa']:.3f}, accuracy {pooled['accuracy']:.3f}; "
              f"final training {result.final_seconds:.0f} s -> {result.model_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
