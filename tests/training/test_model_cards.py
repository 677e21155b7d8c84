"""Model cards come from the run's JSON and the dataset registry: the committed cards must be
exactly what the code writes from the committed JSON, so that neither drifts from the other."""

from __future__ import annotations

import json

import pytest
from repo_paths import MODELS

from sleepscore.datasets import DATASETS, SLEEP_EDF_20
from sleepscore.training.card import model_card



@pytest.mark.parametrize("name", ["spectral-robust-eeg", "spectral-robust-fpzcz-pzoz"])
def test_shipped_cards_are_regenerated_exactly(name: str) -> None:
    summary = json.loads((MODELS / f"{name}.json").read_text())
    notes = (MODELS / "levers.md").read_text()
    assert model_card(name, summary, notes) == (MODELS / f"{name}.md").read_text()


def test_a_change_after_training_is_said_under_the_command() -> None:
    summary = json.loads((MODELS / "spectral-robust-eeg.json").read_text())
    summary["after_training"] = "a gate added and the model re-exported."
    card = model_card("m", summary)
    assert card.index(summary["command"]) < card.index("Changed after training: a gate added") < card.index("## Limits")
    assert "Changed after training" not in model_card("m", {**summary, "after_training": None})


def test_simulated_card_keeps_its_population_and_says_simulated() -> None:
    summary = json.loads((MODELS / "dev" / "tinysleepnet-simulated.json").read_text())
    card = model_card("tinysleepnet-simulated", summary)
    assert summary["trained_on"]["dataset"] == SLEEP_EDF_20.name
    assert card.startswith("# tinysleepnet-simulated\n\n**Simulated data.**")
    assert "laid out as Sleep-EDF-20" in card
    assert SLEEP_EDF_20.provenance.limits in card
    committed = (MODELS / "dev" / "tinysleepnet-simulated.md").read_text()
    # The committed card also carries the run's notes; everything the code writes is in it, in order.
    position = 0
    for line in card.splitlines():
        position = committed.index(line, position)


@pytest.mark.parametrize("spec", DATASETS.values(), ids=list(DATASETS))
def test_every_registered_dataset_describes_its_nights(spec) -> None:
    trained_on = {"dataset": spec.name, "channels": list(spec.channels), "nights": ["a", "b:EEG"],
                  "subjects": ["00"], "metrics_protocol": "p"}
    summary = {"trained_on": trained_on, "architecture": "x", "members": 1, "input": "features",
               "metrics": {}, "folds": [], "seconds": 1.0, "final_seconds": 1.0, "machine": "here"}
    card = model_card("m", summary)
    assert spec.provenance.what.format(nights=2) in card
    assert spec.provenance.limits in card
