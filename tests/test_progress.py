"""Progress generators are drained to their result, reports in order, one tqdm bar per stage."""

from napari_tsne_label.progress import Progress, drain, drain_with_tqdm


def _two_stages():
    for done in (2, 4):
        yield Progress(done, 4, "read")
    yield Progress(1, 1, "write", "saved")
    return "result"


def test_drain_returns_the_result_and_passes_every_report():
    reports = []
    assert drain(_two_stages(), reports.append) == "result"
    assert [(r.stage, r.done, r.total) for r in reports] == [("read", 2, 4), ("read", 4, 4), ("write", 1, 1)]


def test_drain_with_tqdm_shows_each_stage_to_its_total(capsys):
    assert drain_with_tqdm(_two_stages()) == "result"
    shown = capsys.readouterr().err
    assert "read: 100%" in shown and "4/4" in shown
    assert "write: 100%" in shown and "1/1" in shown and "saved" in shown
