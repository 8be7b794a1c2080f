"""Report files and the Table-2-style summary of a hand-made protocol result; the CLI's errors."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from tests.conftest import make_project

from napari_tsne_label.cli import main
from napari_tsne_label.emulation.annotator import EmulationResult, EmulationStep
from napari_tsne_label.emulation.protocol import CurvePoint, ProtocolResult, ProtocolSettings
from napari_tsne_label.emulation.report import (
    curve_on_grid,
    format_emulations,
    format_table,
    write_report,
)


def hand_made_result():
    """Two methods, two folds; t-SNE reaches the target in both folds, random only in one."""
    curves = []
    for method in ("im", "tf"):
        for fold in (0, 1):
            tsne_accs = (0.5, 0.75, 0.9) if fold == 0 else (0.8, 0.85, 0.9)
            curves += [
                CurvePoint(method, "tsne", fold, a, 3 * a, acc)
                for a, acc in zip((8, 21, 33), tsne_accs, strict=True)
            ]
            random_accs = (0.3, 0.4, 0.5) if fold == 0 else (0.3, 0.5, 0.8)
            curves += [
                CurvePoint(method, "random", fold, a, a, acc)
                for a, acc in zip((10, 20, 30), random_accs, strict=True)
            ]
    settings = ProtocolSettings(strategies=("tsne", "random"), n_folds=2, max_actions=40)
    full = {(m, f): 0.9 for m in ("im", "tf") for f in (0, 1)}  # target 0.72
    return ProtocolResult(curves, full, {}, settings)


def test_table_rows_cells_and_partial_folds():
    table = format_table(hand_made_result()).splitlines()
    assert table[0] == "Actions to reach 80% of full-labeling accuracy (mean ± std over folds)"
    assert table[1].split() == ["IM", "TF"]
    # t-SNE: folds reach at 21 and 8 -> 14.5 -> "14" (banker's rounding of :.0f) ± 6.5 -> "6"
    assert table[2].split() == ["t-SNE", "14", "±", "6", "14", "±", "6"]
    # random: only fold 1 reaches (at 30): mean 30 ± 0 over 1 of 2 folds
    assert table[3].split() == ["RandSelect", "30", "±", "0", "(1/2)", "30", "±", "0", "(1/2)"]
    assert table[4].split() == ["Full", "accuracy", "0.900", "0.900"]


def test_table_at_a_stricter_target():
    result = hand_made_result()
    result.settings = ProtocolSettings(
        strategies=("tsne", "random"), n_folds=2, max_actions=40, target_fraction=0.95
    )
    table = format_table(result).splitlines()  # target 0.855: t-SNE at 33 in both folds, random never
    assert table[0].startswith("Actions to reach 95% of full-labeling accuracy")
    assert table[2].split() == ["t-SNE", "33", "±", "0", "33", "±", "0"]
    assert table[3].split() == ["RandSelect", ">", "40", ">", "40"]


def test_write_report_files(tmp_path):
    paths = write_report(tmp_path / "out", hand_made_result())
    with open(paths["curves.csv"]) as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 24
    assert rows[0] == {
        "method": "im",
        "strategy": "tsne",
        "fold": "0",
        "actions": "8",
        "labels": "24",
        "accuracy": "0.500000",
    }
    with open(paths["summary.csv"]) as handle:
        summary = list(csv.DictReader(handle))
    assert [
        (r["method"], r["strategy"], r["mean_actions"], r["folds_reached"]) for r in summary
    ] == [
        ("im", "tsne", "14.5", "2"),
        ("im", "random", "30", "1"),
        ("tf", "tsne", "14.5", "2"),
        ("tf", "random", "30", "1"),
    ]
    assert summary[1]["per_fold_actions"] == "nan 30"
    assert paths["summary.txt"].read_text().startswith("Actions to reach 80%")
    assert paths["full_accuracy.csv"].read_text().splitlines() == [
        "method,fold,accuracy",
        "im,0,0.900000",
        "im,1,0.900000",
        "tf,0,0.900000",
        "tf,1,0.900000",
    ]
    assert paths["curves.png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert paths["steps.csv"].read_text().startswith("method,fold,step,epoch,focus,k,actions")


def test_emulation_lines_and_steps_csv(tmp_path):
    result = hand_made_result()
    steps = [
        EmulationStep(201, 4, 3, 2, 2, np.array([1, 2, 4]), 0),
        EmulationStep(202, 4, 1, 2, 4, np.array([3]), 0),
    ]
    result.emulations["im", 1] = EmulationResult(
        steps, np.array([-1, 0, 0, 0, 0]), np.zeros((5, 3)), 1, "max epochs"
    )
    assert format_emulations(result) == (
        "im fold 2: 2 steps, 4 actions, 4/5 labeled (max epochs), "
        "1 steps focused on a labeled sample"
    )
    rows = write_report(tmp_path, result)["steps.csv"].read_text().splitlines()
    assert rows[1:] == ["im,1,0,201,4,3,2,2,3,0", "im,1,1,202,4,1,2,4,1,0"]


def test_curve_on_grid_is_last_value_at_or_before():
    grid = np.array([5, 10, 15, 33, 50])
    values = curve_on_grid(np.array([10, 20, 33]), np.array([0.1, 0.2, 0.3]), grid)
    np.testing.assert_allclose(values, [np.nan, 0.1, 0.1, 0.3, 0.3])


def test_cli_names_extract_command_when_features_are_missing(tmp_path, capsys):
    path = tmp_path / "p.ntl.zarr"
    make_project(path).close()
    status = main(
        ["emulate", "--project", str(path), "--out", str(tmp_path / "o"), "--methods", "im"]
    )
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"napari-tsne-label emulate: error: project has no 'im' features: run "
        f"`napari-tsne-label extract --project {path} --method im` first"
    )


def test_cli_rejects_unknown_strategy(tmp_path, capsys):
    path = tmp_path / "p.ntl.zarr"
    with make_project(path, n=30) as project:
        project.write_features("pix", np.zeros((30, 4), dtype=np.float32), {"method": "pix"})
    status = main(
        [
            "emulate",
            "--project",
            str(path),
            "--out",
            str(tmp_path / "o"),
            "--methods",
            "pix",
            "--strategies",
            "tsne,best",
            "--folds",
            "2",
        ]
    )
    assert status == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith(
            "error: unknown strategy best; "
            "choose from tsne, random, least-confidence, margin, entropy"
        )
    )


def test_cli_rejects_target_outside_unit_interval(tmp_path, capsys):
    status = main(
        ["emulate", "--project", str(tmp_path), "--out", str(tmp_path), "--target", "1.5"]
    )
    assert status == 2
    assert capsys.readouterr().err.strip().endswith("error: --target must be in (0, 1], got 1.5")


@pytest.mark.parametrize("flag", ["--folds", "--start"])
def test_cli_rejects_negative_numbers(tmp_path, capsys, flag):
    status = main(["emulate", "--project", str(tmp_path), "--out", str(tmp_path), flag, "-1"])
    assert status == 2
    assert capsys.readouterr().err.strip().endswith(f"error: {flag} must not be negative")
