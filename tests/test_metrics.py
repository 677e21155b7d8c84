"""Agreement metrics checked against scikit-learn on random and hand-built label pairs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sleepscore.errors import DataError
from sleepscore.metrics import agreement, agreement_from_confusion, confusion_matrix, summarise

sk = pytest.importorskip("sklearn.metrics")

LABELS = list(range(5))
# sklearn warns where kappa is undefined; those cases are tested on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:.*cohen_kappa_score. is undefined")


def sklearn_reference(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    """The same statistics from scikit-learn, unscored epochs dropped by hand."""
    scored = y_true != -1
    t, p = y_true[scored], y_pred[scored]
    precision, recall, f1, support = sk.precision_recall_fscore_support(
        t, p, labels=LABELS, zero_division=np.nan)
    return {
        "cm": sk.confusion_matrix(t, p, labels=LABELS),
        "accuracy": sk.accuracy_score(t, p),
        "macro_f1": sk.f1_score(t, p, labels=LABELS, average="macro", zero_division=np.nan),
        "kappa": sk.cohen_kappa_score(t, p, labels=LABELS),
        "precision": precision, "recall": recall, "f1": f1, "support": support,
    }


def assert_matches_sklearn(y_true: np.ndarray, y_pred: np.ndarray) -> None:
    ours = agreement(y_true, y_pred)
    ref = sklearn_reference(y_true, y_pred)
    np.testing.assert_array_equal(ours.confusion, ref["cm"])
    assert ours.n_epochs == int((y_true != -1).sum())
    assert ours.accuracy == pytest.approx(ref["accuracy"], abs=1e-12)
    assert ours.macro_f1 == pytest.approx(ref["macro_f1"], abs=1e-12)
    if math.isnan(ref["kappa"]):
        assert math.isnan(ours.kappa)
    else:
        assert ours.kappa == pytest.approx(ref["kappa"], abs=1e-12)
    for key in ("precision", "recall", "f1"):
        np.testing.assert_allclose(getattr(ours, key), ref[key], atol=1e-12)
    np.testing.assert_array_equal(ours.support, ref["support"])


# Labels drawn from a random subset of the stages, so that classes missing from the truth, from
# the prediction or from both occur often.
label_pairs = st.integers(min_value=1, max_value=300).flatmap(
    lambda n: st.tuples(
        st.lists(st.sampled_from([-1, 0, 1, 2, 3, 4]), min_size=n, max_size=n),
        st.lists(st.sampled_from([0, 1, 2, 3, 4]), min_size=n, max_size=n),
    ))


@settings(max_examples=150, deadline=None)
@given(label_pairs)
def test_matches_sklearn_on_random_labels(pair: tuple[list[int], list[int]]) -> None:
    y_true, y_pred = (np.array(v) for v in pair)
    if not (y_true != -1).any():
        with pytest.raises(DataError):
            agreement(y_true, y_pred)
        return
    assert_matches_sklearn(y_true, y_pred)


def test_matches_sklearn_seeded_realistic_nights() -> None:
    rng = np.random.default_rng(7)
    for _ in range(40):
        n = int(rng.integers(200, 1200))
        y_true = rng.choice([-1, 0, 1, 2, 3, 4], size=n, p=[0.02, 0.3, 0.08, 0.4, 0.1, 0.1])
        # A mostly-right predictor: 70 % copies of the truth, else a random stage.
        y_pred = np.where(rng.random(n) < 0.7, np.clip(y_true, 0, 4), rng.integers(0, 5, n))
        assert_matches_sklearn(y_true, y_pred)


@pytest.mark.parametrize("y_true, y_pred", [
    ([0, 0, 2, 2, 4], [0, 1, 2, 2, 4]),     # N3 absent from both, N1 only predicted
    ([0, 1, 2, 3, 3], [0, 0, 2, 2, 2]),     # N1 and N3 in truth, never predicted
    ([2, 2, 2, 2], [2, 2, 2, 2]),           # one class only: kappa undefined
    ([2, 2, 2, 2], [2, 2, 3, 2]),           # kappa = 0: no agreement beyond chance
    ([0, 0, 0], [4, 4, 4]),
])
def test_missing_classes_match_sklearn(y_true: list[int], y_pred: list[int]) -> None:
    assert_matches_sklearn(np.array(y_true), np.array(y_pred))


def test_a_stage_neither_scorer_used_is_left_out_of_macro_f1() -> None:
    # Perfect agreement on W, N2, REM; N1 and N3 absent from both: their F1 is undefined, and a
    # short recording scored perfectly has a macro-F1 of 1, not 3/5.
    labels = np.array([0, 2, 4, 0, 2])
    result = agreement(labels, labels)
    assert result.accuracy == 1.0
    assert result.macro_f1 == pytest.approx(1.0)
    assert result.kappa == pytest.approx(1.0)
    assert np.isnan(result.f1[[1, 3]]).all() and np.isnan(result.precision[[1, 3]]).all()
    # A stage the model predicted but the expert never scored counts, with F1 0.
    wrong = agreement(labels, np.array([0, 2, 4, 0, 3]))
    assert wrong.f1[3] == 0 and np.isnan(wrong.recall[3])
    assert wrong.macro_f1 == pytest.approx((1 + 2 / 3 + 0 + 1) / 4)


def test_unscored_epochs_are_excluded() -> None:
    y_true = np.array([-1, -1, 0, 2, 2, -1])
    y_pred = np.array([4, 4, 0, 2, 1, 3])
    result = agreement(y_true, y_pred)
    assert result.n_epochs == 3
    assert result.accuracy == pytest.approx(2 / 3)
    assert result.confusion.sum() == 3
    # The predictions under unscored epochs (REM, N3) must leave no trace.
    assert result.confusion[:, 3].sum() == 0 and result.confusion[:, 4].sum() == 0


def test_hand_computed_kappa() -> None:
    # Two raters, 10 epochs: 7 agree; marginals truth W=5,N2=5 and pred W=4,N2=6.
    y_true = np.array([0] * 5 + [2] * 5)
    y_pred = np.array([0, 0, 0, 2, 2, 2, 2, 2, 2, 0])
    chance = (5 * 4 + 5 * 6) / 100
    assert agreement(y_true, y_pred).kappa == pytest.approx((0.7 - chance) / (1 - chance))


def test_pooled_equals_metrics_of_concatenated_nights() -> None:
    rng = np.random.default_rng(3)
    nights = [(rng.integers(-1, 5, n), rng.integers(0, 5, n)) for n in (120, 300, 45)]
    summary = summarise([agreement(t, p) for t, p in nights])
    all_true = np.concatenate([t for t, _ in nights])
    all_pred = np.concatenate([p for _, p in nights])
    assert summary.n_nights == 3
    assert summary.pooled.accuracy == pytest.approx(sk.accuracy_score(
        all_true[all_true != -1], all_pred[all_true != -1]))
    assert summary.pooled.kappa == pytest.approx(sk.cohen_kappa_score(
        all_true[all_true != -1], all_pred[all_true != -1], labels=LABELS))
    per_night_acc = [sk.accuracy_score(t[t != -1], p[t != -1]) for t, p in nights]
    assert summary.mean["accuracy"] == pytest.approx(np.mean(per_night_acc))
    assert summary.sd["accuracy"] == pytest.approx(np.std(per_night_acc, ddof=1))
    per_night_f1_n3 = [sk.f1_score(t[t != -1], p[t != -1], labels=[3], average="macro",
                                   zero_division=np.nan) for t, p in nights]
    assert summary.mean["f1_N3"] == pytest.approx(np.mean(per_night_f1_n3))


def test_summary_averages_a_stage_f1_over_the_nights_that_have_the_stage() -> None:
    # Two 30-min pieces: one with N3, scored perfectly, one without N3 in either scoring.
    with_n3 = agreement(np.array([2, 3, 3]), np.array([2, 3, 3]))
    without = agreement(np.array([0, 2, 2]), np.array([0, 2, 1]))
    summary = summarise([with_n3, without])
    assert summary.mean["f1_N3"] == pytest.approx(1.0)
    assert math.isnan(summary.sd["f1_N3"])
    assert summary.mean["f1_N2"] == pytest.approx((1.0 + 2 / 3) / 2)


def test_summary_skips_undefined_kappa_and_single_night_sd() -> None:
    defined = agreement(np.array([0, 2, 2, 0]), np.array([0, 2, 0, 0]))
    undefined = agreement(np.array([2, 2]), np.array([2, 2]))
    summary = summarise([defined, undefined])
    assert summary.mean["kappa"] == pytest.approx(defined.kappa)
    assert math.isnan(summary.sd["kappa"])
    assert summary.mean["accuracy"] == pytest.approx((0.75 + 1.0) / 2)
    with pytest.raises(DataError):
        summarise([])


def test_to_dict_is_strict_json() -> None:
    undefined = agreement(np.array([2, 2, 2]), np.array([2, 2, 2]))
    text = json.dumps(undefined.to_dict(), allow_nan=False)
    back = json.loads(text)
    assert back["kappa"] is None
    assert back["per_class"]["N2"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 3}
    assert back["per_class"]["W"] == {"precision": None, "recall": None, "f1": None, "support": 0}
    assert back["confusion"][2][2] == 3
    summary = summarise([undefined])
    assert json.loads(json.dumps(summary.to_dict(), allow_nan=False))["sd"]["accuracy"] is None


def test_confusion_from_matrix_alone() -> None:
    cm = np.array([[50, 3, 1, 0, 0], [4, 10, 6, 0, 2], [1, 5, 80, 7, 3],
                   [0, 0, 9, 30, 0], [2, 3, 4, 0, 40]])
    # Expand the matrix back into label pairs and let sklearn score them.
    rows, cols = np.nonzero(cm)
    y_true = np.repeat(rows, cm[rows, cols])
    y_pred = np.repeat(cols, cm[rows, cols])
    from_cm = agreement_from_confusion(cm)
    assert from_cm.macro_f1 == pytest.approx(
        sk.f1_score(y_true, y_pred, labels=LABELS, average="macro", zero_division=np.nan))
    assert from_cm.n_epochs == cm.sum()


@pytest.mark.parametrize("y_true, y_pred, fragment", [
    ([0, 1], [0], "differ in length"),
    ([0, 7], [0, 1], "expert stage code 7"),
    ([0, 1], [0, -1], "predicted stage code -1"),
    ([-1, -1], [0, 1], "no scored epochs"),
])
def test_bad_input_raises_data_error(y_true: list[int], y_pred: list[int], fragment: str) -> None:
    with pytest.raises(DataError, match=fragment):
        agreement(np.array(y_true), np.array(y_pred))


def test_confusion_matrix_orientation() -> None:
    cm = confusion_matrix(np.array([0, 0, 0, 3]), np.array([1, 1, 0, 3]))
    assert cm.dtype == np.int64 and cm.shape == (5, 5)
    assert cm[0, 1] == 2 and cm[1, 0] == 0  # rows are the expert, columns the prediction


def test_expected_accuracy_predicts_the_accuracy_of_a_calibrated_scorer() -> None:
    """Labels drawn from the probabilities themselves make a perfectly calibrated scorer: its mean
    confidence must then match the accuracy it reaches, with no labels needed to compute it; an
    over-confident one (its probabilities sharpened) must claim more than it reaches."""
    from sleepscore.metrics import expected_accuracy

    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.full(5, 0.6), size=20000)
    truth = np.array([rng.choice(5, p=p) for p in probs])
    accuracy = float(np.mean(probs.argmax(axis=1) == truth))
    assert expected_accuracy(probs) == pytest.approx(accuracy, abs=0.01)
    sharpened = probs ** 3 / (probs ** 3).sum(axis=1, keepdims=True)
    assert expected_accuracy(sharpened) > accuracy + 0.05
    assert math.isnan(expected_accuracy(np.zeros((0, 5))))
