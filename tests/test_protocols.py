"""The protocol registry is the one vocabulary: every name it gives is accepted where it is used."""

from __future__ import annotations

import numpy as np
import pytest

from sleepscore.alignment import trim_mask
from sleepscore.protocols import PROTOCOLS, SCORINGS, TRIMS, by_trim, label_of


def test_every_protocol_names_a_known_trim_and_scoring():
    assert set(PROTOCOLS) == {p.name for p in PROTOCOLS.values()}
    for protocol in PROTOCOLS.values():
        assert protocol.trim in TRIMS and protocol.scoring in SCORINGS, protocol


@pytest.mark.parametrize("trim", TRIMS)
def test_every_trim_is_accepted_by_trim_mask_and_has_one_recording_protocol(trim):
    labels = np.array([0] * 100 + [2] * 20 + [0] * 100)
    mask = trim_mask(labels, trim, (600.0, 5400.0) if trim == "lights" else None)
    assert mask.dtype == bool and mask[100:120].all()
    protocol = by_trim(trim)
    assert protocol.trim == trim and protocol.scoring == "recording"
    assert [p for p in PROTOCOLS.values() if p.trim == trim and p.scoring == "recording"] == [protocol]


def test_an_unknown_trim_is_refused_with_the_registry_names():
    with pytest.raises(Exception, match="none, 30min, lights"):
        trim_mask(np.zeros(10, dtype=int), "90min")


def test_training_reports_registry_protocols_only():
    pytest.importorskip("torch")
    from sleepscore.training.evaluate import SCORED_PROTOCOLS

    assert set(SCORED_PROTOCOLS) <= set(PROTOCOLS)
    assert {PROTOCOLS[name].scoring for name in SCORED_PROTOCOLS} == set(SCORINGS)


def test_table_labels_tell_every_protocol_apart_and_trims_read_as_their_protocol():
    labels = [p.label for p in PROTOCOLS.values()]
    assert len(set(labels)) == len(labels)
    for trim in TRIMS:  # evaluate --trim reports its metrics under the trim's name
        assert label_of(trim) == by_trim(trim).label
    assert label_of("a-lab-protocol") == "a-lab-protocol"
