"""Section 4's evaluation: t-SNE labeling against uncertainty sampling, five-fold, seeded.

For every feature method and fold, the emulated annotator (Algorithm 1) and the active-learning
baselines label the four training folds; the section-4 classifier, always continued from its
current state, is retrained for 50 epochs on the labels obtained so far and scored on the fifth
fold. Baselines query 10 samples per round (one action each; the first round is random for all of
them, as there is no classifier yet). The t-SNE labels are evaluated at the emulation step whose
cumulative action count is nearest to each multiple of 10 (ties to the earlier step), and the
curve point is placed at that step's real action count. The summary metric is the first curve
point (no interpolation) whose accuracy reaches 80% of the accuracy of the same classifier
trained on all training labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from napari_tsne_label.emulation.annotator import (
    UNLABELED,
    EmulationProgress,
    EmulationResult,
    emulate_annotation,
)
from napari_tsne_label.emulation.classifier import STRATEGIES, MLPClassifier, select_queries
from napari_tsne_label.errors import UserInputError
from napari_tsne_label.progress import Progress, ProgressGenerator

ALL_STRATEGIES = ("tsne",) + STRATEGIES
TARGET_FRACTION = 0.8


@dataclass(frozen=True)
class TSNESettings:
    """Semi-supervised t-SNE and annotator settings of the emulated labeling (paper: Fig. 5)."""

    f: float = 0.1
    r: float = 0.1
    ramp_epochs: int = 10
    start_epoch: int = 200
    max_epochs: int = 1000
    perplexity: float = 20.0
    n_components: int = 3
    theta_k: float = 0.8


@dataclass(frozen=True)
class ProtocolSettings:
    """Cross-validation and active-learning settings; defaults follow section 4.

    ``max_actions`` is the evaluation horizon of every curve; ``target_fraction`` of the
    all-labels accuracy is the summary's target (Table 2: 0.8); ``full_epochs`` the training of the
    all-labels reference classifier; ``batch_size`` and ``torch_threads`` the classifier's
    mini-batch size and thread count.
    """

    strategies: tuple[str, ...] = ALL_STRATEGIES
    n_folds: int = 5
    seed: int = 0
    max_actions: int = 300
    query_size: int = 10
    retrain_epochs: int = 50
    full_epochs: int = 100
    batch_size: int = 128
    torch_threads: int = 1
    target_fraction: float = TARGET_FRACTION
    tsne: TSNESettings = field(default_factory=TSNESettings)


@dataclass(frozen=True)
class CurvePoint:
    """Validation accuracy after ``actions`` labeling actions (``n_labels`` labeled samples)."""

    method: str
    strategy: str
    fold: int
    actions: int
    n_labels: int
    accuracy: float


@dataclass(frozen=True)
class ProtocolProgress(Progress):
    """Progress of the protocol; carries the newest curve point and, during the t-SNE emulation,
    the live emulation report (positions, labels, step) for a GUI to draw."""

    method: str = ""
    strategy: str = ""
    fold: int = -1
    point: CurvePoint | None = None
    emulation: EmulationProgress | None = None


@dataclass
class ProtocolResult:
    """Curves, full-labeling accuracies (keyed by ``(method, fold)``) and the t-SNE emulations
    (keyed by ``(method, fold)``) of one protocol run."""

    curves: list[CurvePoint]
    full_accuracy: dict[tuple[str, int], float]
    emulations: dict[tuple[str, int], EmulationResult]
    settings: ProtocolSettings

    def curve(self, method: str, strategy: str, fold: int) -> tuple[np.ndarray, np.ndarray]:
        """Actions and accuracies, each (n_points,), of one strategy's curve on one fold."""
        points = [p for p in self.curves if (p.method, p.strategy, p.fold) == (method, strategy, fold)]
        return np.array([p.actions for p in points]), np.array([p.accuracy for p in points])


def stratified_folds(truth: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """Fold index in ``[0, n_folds)`` of every sample, shape (N,): each class is shuffled
    (seeded) and dealt round-robin, so fold class counts differ by at most one."""
    truth = np.asarray(truth)
    rng = np.random.default_rng(seed)
    folds = np.empty(truth.shape, dtype=np.int64)
    for cls in np.unique(truth):
        members = rng.permutation(np.flatnonzero(truth == cls))
        folds[members] = np.arange(members.size) % n_folds
    return folds


def actions_to_reach(actions: np.ndarray, accuracy: np.ndarray, target: float) -> float:
    """First action count whose accuracy is at least ``target`` (curve sorted by actions);
    NaN if the curve never reaches it. No interpolation between curve points."""
    reached = np.flatnonzero(np.asarray(accuracy) >= target)
    return float(np.asarray(actions)[reached[0]]) if reached.size else float("nan")


def evaluation_steps(cumulative_actions: np.ndarray, increment: int, max_actions: int) -> list[int]:
    """Indices of the emulation steps to evaluate: for every multiple of ``increment`` up to
    the last step's actions (capped at ``max_actions``), the step whose cumulative action count
    is nearest (ties to the earlier step); each step at most once, in order."""
    if cumulative_actions.size == 0:
        return []
    last = min(int(cumulative_actions[-1]), max_actions)
    targets = np.arange(increment, last + increment, increment)
    targets = targets[targets <= max(max_actions, increment)]
    nearest = np.argmin(np.abs(cumulative_actions[None, :] - targets[:, None]), axis=1)
    return sorted({int(i) for i in nearest if cumulative_actions[i] <= max_actions})


def standardize(train: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Z-score both arrays (n, D) with the mean and std of ``train`` (constant columns kept 0)."""
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std[std == 0] = 1.0
    return ((train - mean) / std).astype(np.float32), ((other - mean) / std).astype(np.float32)


@dataclass(frozen=True)
class FoldData:
    """One cross-validation split of one feature method, features standardized on ``x_train``."""

    method: str
    fold: int
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    raw_train: np.ndarray
    n_classes: int


def _classifier(data: FoldData, settings: ProtocolSettings) -> MLPClassifier:
    """A fresh classifier, seeded per fold so that every strategy starts from the same weights."""
    seed = settings.seed * 1000 + data.fold
    return MLPClassifier(
        data.x_train.shape[1], data.n_classes, seed, settings.batch_size, settings.torch_threads
    )


def _report(
    data: FoldData,
    strategy: str,
    done: int,
    total: int,
    what: str,
    message: str = "",
    point: CurvePoint | None = None,
    emulation: EmulationProgress | None = None,
) -> ProtocolProgress:
    """A progress report whose stage names the method, fold and strategy."""
    stage = f"{data.method} fold {data.fold + 1} {strategy}: {what}"
    return ProtocolProgress(
        done, total, stage, message, data.method, strategy, data.fold, point, emulation
    )


def _point(data: FoldData, strategy: str, clf: MLPClassifier, actions: int, n: int) -> CurvePoint:
    accuracy = clf.accuracy(data.x_val, data.y_val)
    return CurvePoint(data.method, strategy, data.fold, int(actions), int(n), accuracy)


def full_labeling_accuracy(data: FoldData, settings: ProtocolSettings) -> float:
    """Validation accuracy of the classifier trained on every training label."""
    clf = _classifier(data, settings).fit(data.x_train, data.y_train, settings.full_epochs)
    return clf.accuracy(data.x_val, data.y_val)


def active_learning_curve(
    data: FoldData, strategy: str, settings: ProtocolSettings
) -> ProgressGenerator[list[CurvePoint]]:
    """Query-retrain rounds of one baseline strategy; yields a :class:`ProtocolProgress` with
    each new curve point and returns the curve."""
    rng = np.random.default_rng([settings.seed, data.fold, ALL_STRATEGIES.index(strategy)])
    clf = _classifier(data, settings)
    labeled = np.zeros(len(data.y_train), dtype=bool)
    curve: list[CurvePoint] = []
    total = min(settings.max_actions, len(data.y_train))
    yield _report(data, strategy, 0, total, "actions")
    while labeled.sum() < total:
        pool = np.flatnonzero(~labeled)
        first_round = not labeled.any()
        proba = None if first_round else clf.predict_proba(data.x_train[pool])
        rule = "random" if first_round else strategy
        labeled[select_queries(rule, proba, pool, settings.query_size, rng)] = True
        clf.fit(data.x_train[labeled], data.y_train[labeled], settings.retrain_epochs)
        n = int(labeled.sum())
        curve.append(_point(data, strategy, clf, n, n))
        message = f"accuracy {curve[-1].accuracy:.3f}"
        yield _report(data, strategy, n, total, "actions", message, curve[-1])
    return curve


def tsne_curve(
    data: FoldData, settings: ProtocolSettings, build_engine, build_tree
) -> ProgressGenerator[tuple[list[CurvePoint], EmulationResult]]:
    """Emulate Algorithm 1 on the training folds, then retrain at the nearest 10-action
    increments; yields live emulation reports and curve points, returns (curve, emulation)."""
    s = settings.tsne
    engine = build_engine(data.raw_train, s, settings.seed + data.fold)
    emulation = yield from _forward_emulation(
        data,
        emulate_annotation(
            engine,
            data.y_train,
            build_tree,
            start_epoch=s.start_epoch,
            max_epochs=s.max_epochs,
            max_actions=settings.max_actions + settings.query_size,
            theta_k=s.theta_k,
        ),
    )
    clf = _classifier(data, settings)
    chosen = evaluation_steps(
        emulation.cumulative_actions, settings.query_size, settings.max_actions
    )
    curve: list[CurvePoint] = []
    for done, index in enumerate(chosen, start=1):
        labels = emulation.labels_after(index + 1)
        labeled = labels != UNLABELED
        clf.fit(data.x_train[labeled], labels[labeled], settings.retrain_epochs)
        actions = emulation.steps[index].cumulative_actions
        curve.append(_point(data, "tsne", clf, actions, int(labeled.sum())))
        message = f"{actions} actions, accuracy {curve[-1].accuracy:.3f}"
        yield _report(data, "tsne", done, len(chosen), "retraining", message, curve[-1])
    return curve, emulation


def _forward_emulation(data: FoldData, emulation) -> ProgressGenerator[EmulationResult]:
    """Re-yield the emulation's reports wrapped in :class:`ProtocolProgress`; return its result."""
    while True:
        try:
            report = next(emulation)
        except StopIteration as stop:
            return stop.value
        yield _report(
            data, "tsne", report.done, report.total, report.stage, report.message, None, report
        )


def default_engine(X: np.ndarray, s: TSNESettings, seed: int):
    """The package's semi-supervised t-SNE engine configured by ``s``."""
    from napari_tsne_label.tsne import SemiSupervisedTSNE

    return SemiSupervisedTSNE(
        X,
        n_components=s.n_components,
        perplexity=s.perplexity,
        f=s.f,
        r=s.r,
        ramp_epochs=s.ramp_epochs,
        seed=seed,
    )


def default_tree(Y: np.ndarray):
    """The package's octree (quadtree in 2D), shared with the Barnes-Hut gradient."""
    from napari_tsne_label.tsne.tree import build_tree

    return build_tree(Y)


def fold_data(
    method: str, X: np.ndarray, truth: np.ndarray, folds: np.ndarray, fold: int
) -> FoldData:
    """Split ``X`` (N, D) and ``truth`` (N,) into the training folds and validation ``fold``."""
    train, val = folds != fold, folds == fold
    x_train, x_val = standardize(X[train], X[val])
    return FoldData(
        method, fold, x_train, truth[train], x_val, truth[val], X[train], int(truth.max()) + 1
    )


def validate_inputs(
    features: Mapping[str, np.ndarray], truth: np.ndarray, settings: ProtocolSettings
) -> None:
    """Raise :class:`UserInputError` for inputs the protocol cannot run on."""
    unknown = sorted(set(settings.strategies) - set(ALL_STRATEGIES))
    if unknown:
        raise UserInputError(
            f"unknown strategy {', '.join(unknown)}; choose from {', '.join(ALL_STRATEGIES)}"
        )
    if np.any(truth < 0):
        raise UserInputError("every sample needs a ground-truth class to emulate labeling")
    smallest = int(np.unique(truth, return_counts=True)[1].min()) if truth.size else 0
    if settings.n_folds < 2 or smallest < settings.n_folds:
        raise UserInputError(
            f"{settings.n_folds}-fold cross-validation needs at least 2 folds and "
            f"{settings.n_folds} samples per class (smallest class has {smallest})"
        )
    for method, X in features.items():
        if len(X) != len(truth):
            raise UserInputError(f"features {method!r} have {len(X)} rows for {len(truth)} samples")


def run_protocol(
    features: Mapping[str, np.ndarray],
    truth: np.ndarray,
    settings: ProtocolSettings = ProtocolSettings(),
    build_engine=default_engine,
    build_tree=default_tree,
) -> ProgressGenerator[ProtocolResult]:
    """Run the whole evaluation for every feature method in ``features`` ({name: (N, D)})
    against ``truth`` (N,), yielding :class:`ProtocolProgress`; deterministic for a seed."""
    truth = np.asarray(truth, dtype=np.int64)
    validate_inputs(features, truth, settings)
    folds = stratified_folds(truth, settings.n_folds, settings.seed)
    curves: list[CurvePoint] = []
    full: dict[tuple[str, int], float] = {}
    emulations: dict[tuple[str, int], EmulationResult] = {}
    for method, X in features.items():
        for fold in range(settings.n_folds):
            data = fold_data(method, np.asarray(X, dtype=np.float64), truth, folds, fold)
            yield _report(data, "all labels", 0, 1, "reference classifier")
            full[method, fold] = full_labeling_accuracy(data, settings)
            for strategy in settings.strategies:
                if strategy == "tsne":
                    curve, emulations[method, fold] = yield from tsne_curve(
                        data, settings, build_engine, build_tree
                    )
                else:
                    curve = yield from active_learning_curve(data, strategy, settings)
                curves.extend(curve)
    return ProtocolResult(curves, full, emulations, settings)


def summarize(result: ProtocolResult) -> list[dict]:
    """Actions to reach ``target_fraction`` (80%) of full accuracy, per method and strategy:
    one dict per pair with
    ``method, strategy, mean, std, reached`` (folds that reached it), ``folds`` and the
    per-fold values (NaN where not reached within the horizon)."""
    rows = []
    methods = list(dict.fromkeys(p.method for p in result.curves))
    for method in methods:
        for strategy in result.settings.strategies:
            per_fold = []
            for fold in range(result.settings.n_folds):
                target = result.settings.target_fraction * result.full_accuracy[method, fold]
                per_fold.append(actions_to_reach(*result.curve(method, strategy, fold), target))
            values = np.array(per_fold)
            reached = values[~np.isnan(values)]
            rows.append(
                {
                    "method": method,
                    "strategy": strategy,
                    "mean": float(reached.mean()) if reached.size else float("nan"),
                    "std": float(reached.std()) if reached.size else float("nan"),
                    "reached": int(reached.size),
                    "folds": int(values.size),
                    "per_fold": per_fold,
                }
            )
    return rows
