"""Five-fold protocol pieces with known answers, and determinism of a tiny end-to-end run."""

from __future__ import annotations

import numpy as np
import pytest

from napari_tsne_label.emulation.protocol import (
    CurvePoint,
    ProtocolProgress,
    ProtocolResult,
    ProtocolSettings,
    TSNESettings,
    actions_to_reach,
    evaluation_steps,
    run_protocol,
    stratified_folds,
    summarize,
)
from napari_tsne_label.errors import UserInputError
from napari_tsne_label.progress import drain


def test_stratified_folds_balance_classes_and_are_seeded():
    truth = np.repeat([0, 1, 2], [10, 7, 23])
    folds = stratified_folds(truth, 5, seed=0)
    assert folds.shape == (40,) and set(folds.tolist()) == {0, 1, 2, 3, 4}
    for cls in range(3):
        per_fold = np.bincount(folds[truth == cls], minlength=5)
        assert per_fold.max() - per_fold.min() <= 1
    np.testing.assert_array_equal(folds, stratified_folds(truth, 5, seed=0))
    assert not np.array_equal(folds, stratified_folds(truth, 5, seed=1))


def test_actions_to_reach_first_point_at_or_above_target_without_interpolation():
    actions = np.array([10, 20, 30, 40, 50])
    accuracy = np.array([0.30, 0.55, 0.79, 0.85, 0.70])
    assert actions_to_reach(actions, accuracy, 0.8) == 40.0
    assert actions_to_reach(actions, accuracy, 0.55) == 20.0  # reaching exactly counts
    assert actions_to_reach(actions, accuracy, 0.2) == 10.0
    assert np.isnan(actions_to_reach(actions, accuracy, 0.9))


def test_evaluation_steps_nearest_to_multiples_of_ten():
    cumulative = np.array([2, 4, 9, 13, 22, 31, 33])
    # targets 10, 20, 30, 40 -> nearest 9, 22, 31, 33
    assert evaluation_steps(cumulative, 10, 100) == [2, 4, 5, 6]
    # a horizon of 25 keeps targets 10, 20 only
    assert evaluation_steps(cumulative, 10, 25) == [2, 4]
    # tie between 5 and 15 for target 10 goes to the earlier step; 20 -> 15 (same step once)
    assert evaluation_steps(np.array([5, 15]), 10, 100) == [0, 1]
    assert evaluation_steps(np.array([3, 4, 5]), 10, 100) == [2]
    assert evaluation_steps(np.array([], dtype=np.int64), 10, 100) == []


def known_result():
    curves = []
    # fold 0: full accuracy 0.9 -> target 0.72; fold 1: full 0.8 -> target 0.64
    for fold, accs in enumerate([[0.5, 0.7, 0.75], [0.66, 0.7, 0.8]]):
        curves += [
            CurvePoint("im", "tsne", fold, a, a, acc)
            for a, acc in zip((12, 25, 31), accs, strict=True)
        ]
        curves += [CurvePoint("im", "random", fold, a, a, 0.3) for a in (10, 20, 30)]
    settings = ProtocolSettings(strategies=("tsne", "random"), n_folds=2, max_actions=30)
    return ProtocolResult(curves, {("im", 0): 0.9, ("im", 1): 0.8}, {}, settings)


def test_summary_mean_std_over_folds_and_unreached():
    rows = summarize(known_result())
    tsne, random = rows
    assert (tsne["strategy"], tsne["reached"], tsne["per_fold"]) == ("tsne", 2, [31.0, 12.0])
    assert tsne["mean"] == pytest.approx(21.5) and tsne["std"] == pytest.approx(9.5)
    assert random["reached"] == 0 and np.isnan(random["mean"])


def test_bad_inputs_are_one_line_user_errors():
    X = {"im": np.zeros((10, 4))}
    truth = np.repeat([0, 1], 5)
    with pytest.raises(UserInputError, match="^unknown strategy bogus; choose from tsne, random"):
        drain(run_protocol(X, truth, ProtocolSettings(strategies=("bogus",))))
    with pytest.raises(UserInputError, match="^every sample needs a ground-truth class"):
        drain(run_protocol(X, np.array([0, 1, -1, 0, 1, 0, 1, 0, 1, 0])))
    expected = (
        "6-fold cross-validation needs at least 2 folds and 6 samples per class "
        "(smallest class has 5)"
    )
    with pytest.raises(
        UserInputError, match=f"^{expected}$".replace("(", r"\(").replace(")", r"\)")
    ):
        drain(run_protocol(X, truth, ProtocolSettings(n_folds=6)))
    with pytest.raises(UserInputError, match="^features 'im' have 10 rows for 8 samples$"):
        drain(run_protocol(X, truth[:8], ProtocolSettings(n_folds=2)))


TINY = ProtocolSettings(
    n_folds=2,
    max_actions=30,
    retrain_epochs=5,
    full_epochs=20,
    tsne=TSNESettings(start_epoch=15, max_epochs=60, perplexity=5),
)


def tiny_data():
    rng = np.random.default_rng(0)
    truth = np.repeat([0, 1, 2], 24)
    X = rng.normal(size=(72, 12)) + 4 * np.eye(3, 12)[truth]
    return {"pix": X}, truth


def run_tiny():
    features, truth = tiny_data()
    reports = []
    result = drain(run_protocol(features, truth, TINY), reports.append)
    return result, reports


def test_tiny_end_to_end_run_is_deterministic_and_complete():
    first, reports = run_tiny()
    second, _ = run_tiny()
    assert first.curves == second.curves
    assert first.full_accuracy == second.full_accuracy
    for key, emulation in first.emulations.items():
        np.testing.assert_array_equal(emulation.labels, second.emulations[key].labels)
    strategies = {p.strategy for p in first.curves}
    assert strategies == {"tsne", "random", "least-confidence", "margin", "entropy"}
    random_fold0 = [p.actions for p in first.curves if (p.strategy, p.fold) == ("random", 0)]
    assert random_fold0 == [10, 20, 30]
    tsne_points = [p for p in first.curves if p.strategy == "tsne"]
    assert all(p.n_labels >= p.actions // 2 for p in tsne_points)
    assert all(isinstance(r, ProtocolProgress) for r in reports)
    live = [r for r in reports if r.emulation is not None and r.emulation.step is not None]
    assert live and live[0].emulation.positions.shape == (36, 3)
    assert sum(r.point is not None for r in reports) == len(first.curves)
