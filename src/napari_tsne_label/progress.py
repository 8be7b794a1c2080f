"""Long work is written as generators that yield :class:`Progress` and return their result.

The CLI drains them with a tqdm bar, the napari widgets drive ``napari.utils.progress`` from
the same generator inside a thread worker, and tests drain them silently with :func:`drain`.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Progress:
    """One progress report: ``done`` of ``total`` units of the current ``stage``."""

    done: int
    total: int
    stage: str = ""
    message: str = ""


ProgressGenerator = Generator[Progress, None, T]


def drain(gen: ProgressGenerator[T], callback: Any = None) -> T:
    """Run a progress generator to the end and return its result.

    ``callback(progress)`` is called for every report, if given.
    """
    while True:
        try:
            report = next(gen)
        except StopIteration as stop:
            return stop.value
        if callback is not None:
            callback(report)


def drain_with_tqdm(gen: ProgressGenerator[T], disable: bool = False) -> T:
    """Run a progress generator to the end, showing one tqdm bar per stage; return its result."""
    from tqdm.auto import tqdm

    bars: dict[str, Any] = {}

    def show(report: Progress) -> None:
        bar = bars.get(report.stage)
        if bar is None:
            for old in bars.values():
                old.close()
            bars.clear()
            bar = bars[report.stage] = tqdm(
                total=report.total, initial=report.done, desc=report.stage, disable=disable
            )  # the first report comes after its work: counting it from zero inflates the rate
        bar.total = report.total
        bar.n = report.done
        if report.message:
            bar.set_postfix_str(report.message, refresh=False)
        bar.refresh()

    try:
        return drain(gen, show)
    finally:
        for bar in bars.values():
            bar.close()
