"""Outputs of the evaluation: curve and step CSVs, the Table-2-style summary and PNG plots."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from napari_tsne_label.emulation.protocol import CurvePoint, ProtocolResult, summarize

STRATEGY_NAMES = {
    "tsne": "t-SNE",
    "random": "RandSelect",
    "least-confidence": "Uncertainty",
    "margin": "Margin",
    "entropy": "Entropy",
}


def write_curves_csv(path: Path, curves: list[CurvePoint]) -> None:
    """One row per curve point: method, strategy, fold, actions, labels, accuracy."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["method", "strategy", "fold", "actions", "labels", "accuracy"])
        for p in curves:
            writer.writerow(
                [p.method, p.strategy, p.fold, p.actions, p.n_labels, f"{p.accuracy:.6f}"]
            )


def write_steps_csv(path: Path, result: ProtocolResult) -> None:
    """One row per emulated labeling step (Algorithm 1) of every method and fold."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "method",
                "fold",
                "step",
                "epoch",
                "focus",
                "k",
                "actions",
                "cumulative_actions",
                "labels_gained",
                "label",
            ]
        )
        for (method, fold), emulation in result.emulations.items():
            for n, s in enumerate(emulation.steps):
                writer.writerow(
                    [
                        method,
                        fold,
                        n,
                        s.epoch,
                        s.focus,
                        s.k,
                        s.actions,
                        s.cumulative_actions,
                        s.n_gained,
                        s.label,
                    ]
                )


def write_summary_csv(path: Path, result: ProtocolResult) -> None:
    """Actions to the target share of full accuracy per method and strategy, per-fold values."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "method",
                "strategy",
                "mean_actions",
                "std_actions",
                "folds_reached",
                "folds",
                "per_fold_actions",
                "mean_full_accuracy",
            ]
        )
        for row in summarize(result):
            writer.writerow(
                [
                    row["method"],
                    row["strategy"],
                    _number(row["mean"]),
                    _number(row["std"]),
                    row["reached"],
                    row["folds"],
                    " ".join(f"{v:g}" for v in row["per_fold"]),
                    f"{mean_full_accuracy(result, row['method']):.4f}",
                ]
            )


def _number(value: float) -> str:
    return "" if math.isnan(value) else f"{value:g}"


def mean_full_accuracy(result: ProtocolResult, method: str) -> float:
    """Mean over folds of the all-labels validation accuracy of ``method``."""
    return float(np.mean([a for (m, _), a in result.full_accuracy.items() if m == method]))


def _percent(result: ProtocolResult) -> str:
    return f"{100 * result.settings.target_fraction:g}%"


def write_full_accuracy_csv(path: Path, result: ProtocolResult) -> None:
    """Validation accuracy of the all-labels classifier per method and fold."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["method", "fold", "accuracy"])
        for (method, fold), accuracy in result.full_accuracy.items():
            writer.writerow([method, fold, f"{accuracy:.6f}"])


def _cell(row: dict) -> str:
    if row["reached"] == 0:
        return f"> {row['max_actions']}"
    text = f"{row['mean']:.0f} ± {row['std']:.0f}"
    return text if row["reached"] == row["folds"] else f"{text} ({row['reached']}/{row['folds']})"


def format_table(result: ProtocolResult) -> str:
    """Table 2 of the paper for this data: mean ± std actions to reach the target (80%) share
    of full-labeling accuracy.

    Rows are strategies, columns feature methods; "(r/n)" marks a mean over the r of n folds
    that reached the target within the horizon, "> H" that none did.
    """
    rows = summarize(result)
    methods = list(dict.fromkeys(r["method"] for r in rows))
    cells = {
        (r["method"], r["strategy"]): _cell({**r, "max_actions": result.settings.max_actions})
        for r in rows
    }
    width = max([14] + [len(c) for c in cells.values()]) + 2
    lines = [
        f"Actions to reach {_percent(result)} of full-labeling accuracy (mean ± std over folds)",
        "".ljust(14) + "".join(m.upper().rjust(width) for m in methods),
    ]
    for strategy in result.settings.strategies:
        name = STRATEGY_NAMES.get(strategy, strategy)
        lines.append(name.ljust(14) + "".join(cells[m, strategy].rjust(width) for m in methods))
    lines.append(
        "Full accuracy".ljust(14)
        + "".join(f"{mean_full_accuracy(result, m):.3f}".rjust(width) for m in methods)
    )
    return "\n".join(lines)


def format_emulations(result: ProtocolResult) -> str:
    """One line per emulated t-SNE labeling session: steps, actions, labels, why it stopped."""
    lines = []
    for (method, fold), emulation in result.emulations.items():
        n_labeled = int(np.sum(emulation.labels >= 0))
        actions = emulation.steps[-1].cumulative_actions if emulation.steps else 0
        lines.append(
            f"{method} fold {fold + 1}: {len(emulation.steps)} steps, {actions} actions, "
            f"{n_labeled}/{emulation.labels.size} labeled ({emulation.stop_reason}), "
            f"{emulation.focus_already_labeled} steps focused on a labeled sample"
        )
    return "\n".join(lines)


def curve_on_grid(actions: np.ndarray, accuracy: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Step-function view of a curve on ``grid``: the accuracy of the last point at or before
    each grid action (NaN before the first point), so folds can be averaged."""
    index = np.searchsorted(actions, grid, side="right") - 1
    values = np.asarray(accuracy, dtype=float)[np.maximum(index, 0)]
    return np.where(index >= 0, values, np.nan)


def mean_curves(result: ProtocolResult, method: str, grid: np.ndarray) -> dict[str, np.ndarray]:
    """{strategy: (2, len(grid)) mean and std over folds} of the curves of ``method``."""
    out = {}
    for strategy in result.settings.strategies:
        per_fold = []
        for fold in range(result.settings.n_folds):
            actions, accuracy = result.curve(method, strategy, fold)
            if actions.size:
                per_fold.append(curve_on_grid(actions, accuracy, grid))
        if per_fold:
            stacked = np.array(per_fold)
            with np.errstate(invalid="ignore"):
                out[strategy] = np.array([np.nanmean(stacked, 0), np.nanstd(stacked, 0)])
    return out


def plot_curves(path: Path, result: ProtocolResult) -> None:
    """PNG of accuracy vs actions, mean line and ±std band per strategy, one panel per method."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = list(dict.fromkeys(p.method for p in result.curves))
    grid = np.arange(1, result.settings.max_actions + 1)
    fig, axes = plt.subplots(1, len(methods), figsize=(5 * len(methods), 4), squeeze=False)
    for ax, method in zip(axes[0], methods, strict=True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            curves = mean_curves(result, method, grid)
        for strategy, (mean, std) in curves.items():
            label = STRATEGY_NAMES.get(strategy, strategy)
            (line,) = ax.plot(grid, mean, label=label)
            ax.fill_between(grid, mean - std, mean + std, color=line.get_color(), alpha=0.2)
        target = result.settings.target_fraction * mean_full_accuracy(result, method)
        ax.axhline(
            target, color="grey", linestyle="--", linewidth=1, label=f"{_percent(result)} of full"
        )
        ax.set(
            title=method.upper(),
            xlabel="labeling actions",
            ylabel="validation accuracy",
            ylim=(0, 1),
            xlim=(0, result.settings.max_actions),
        )
        ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(out_dir: Path, result: ProtocolResult) -> dict[str, Path]:
    """Write curves.csv, steps.csv, summary.csv, full_accuracy.csv, summary.txt and curves.png
    into ``out_dir``
    (created if needed); return {name: path}."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        name: out_dir / name
        for name in (
            "curves.csv",
            "steps.csv",
            "summary.csv",
            "full_accuracy.csv",
            "summary.txt",
            "curves.png",
        )
    }
    write_curves_csv(paths["curves.csv"], result.curves)
    write_steps_csv(paths["steps.csv"], result)
    write_summary_csv(paths["summary.csv"], result)
    write_full_accuracy_csv(paths["full_accuracy.csv"], result)
    paths["summary.txt"].write_text(
        format_table(result) + "\n\n" + format_emulations(result) + "\n"
    )
    plot_curves(paths["curves.png"], result)
    return paths
