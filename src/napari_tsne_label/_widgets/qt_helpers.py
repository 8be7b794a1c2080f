"""Small Qt helpers shared by the dock widgets: guarded buttons, spin boxes, worker bodies."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from napari_tsne_label.errors import UserInputError


def reports_user_errors(handler: Callable) -> Callable:
    """Wrap a GUI handler so a :class:`UserInputError` becomes a napari warning, not a traceback."""

    @functools.wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        except UserInputError as err:
            from napari.utils.notifications import show_warning

            show_warning(str(err))
            return None

    return wrapper


def on_click(button: Any, handler: Callable[[], Any]) -> None:
    """Call ``handler()`` when ``button`` is clicked, user errors shown as napari warnings."""
    guarded = reports_user_errors(handler)
    button.clicked.connect(lambda *_: guarded())


def spin(
    box: Any, low: float, high: float, value: float, step: float = 1, decimals: int | None = None
) -> Any:
    """Configure a QSpinBox / QDoubleSpinBox with range, step, decimals and value; return it."""
    if decimals is not None:
        box.setDecimals(decimals)
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setValue(value)
    return box


def prepare_torch_training() -> None:
    """Import torch's compiler on the GUI thread, safely, before a worker trains a torch model.

    The first torch optimizer imports ``torch._dynamo``, which imports triton. Loading triton's
    LLVM into a process that already holds Mesa's (software OpenGL such as llvmpipe: Xvfb,
    virtual machines) crashes the interpreter, so there triton is hidden from torch first; this
    package never compiles kernels with triton.
    """
    if "torch._dynamo" in sys.modules:
        return
    if "triton" not in sys.modules and _mesa_llvm_loaded():
        sys.modules["triton"] = None
    import torch._dynamo  # noqa: F401


def _mesa_llvm_loaded() -> bool:
    """Whether a shared ``libLLVM`` (loaded by Mesa's OpenGL drivers) is mapped in this process."""
    maps = Path("/proc/self/maps")
    return maps.exists() and "libLLVM" in maps.read_text(errors="replace")


def forward_progress(generator: Any):
    """Worker body: yield every progress report of ``generator`` and return its result."""
    return (yield from generator)


def progress_worker(
    generator: Any, *, yielded: Callable, returned: Callable, errored: Callable, finished: Callable
) -> Any:
    """An unstarted napari thread worker draining ``generator``, its signals connected.

    Torch training is prepared first, since the job may train a network off the GUI thread.
    """
    from napari.qt.threading import create_worker

    prepare_torch_training()
    worker = create_worker(forward_progress, generator, _start_thread=False)
    worker.yielded.connect(yielded)
    worker.returned.connect(returned)
    worker.errored.connect(errored)
    worker.finished.connect(finished)
    return worker


class ProgressJobMixin:
    """Cancel and progress display for a dock that drains a progress generator in a worker.

    The dock provides ``worker`` (or None), ``_cancelling``, ``status`` (a QLabel) and
    ``progress`` (a QProgressBar).
    """

    def cancel(self) -> None:
        """Stop the running job after its current step; nothing stored before is lost."""
        if self.worker is not None:
            self.worker.quit()
            self._cancelling = True
            self.status.setText("cancelling…")

    def _show_progress(self, report: Any, text: str) -> bool:
        """Show ``report`` on the bar and ``text`` on the status line; False while cancelling."""
        if self._cancelling:
            return False
        self.progress.setMaximum(max(report.total, 1))
        self.progress.setValue(report.done)
        self.status.setText(text)
        return True
