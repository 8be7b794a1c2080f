"""The project store: one ``*.ntl.zarr`` directory per labeling project.

Layout (Zarr v3 group plus two plain files)::

    P.ntl.zarr/
      zarr.json            attributes: schema version, class names, thumbnail size, import report
      thumbnails/          (N, h, w, 3) uint8, chunked along N
      boxes/               (N, 4) int32 crop boxes x0, y0, x1, y1 in the source image
      truth/               (N,) int32 ground-truth class, -1 unknown
      labels/              (N,) int32 current labels, a mirror rebuilt from the action log
      features/<method>    (N, d) matrices, settings in the array attributes
      embeddings/<name>    (N, k) positions, settings in the array attributes
      sources.json         absolute source path of every sample
      actions.jsonl        append-only action log, the source of truth for labels and added classes
      .lock                flock'ed by the one writer; holds its pid

Every action is one JSON line, written, flushed and fsync'ed before the call returns, so a killed
process loses nothing that was acknowledged; a torn last line is ignored and cut on the next
writable open. Zarr's local store replaces each chunk and metadata file atomically.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from napari_tsne_label.errors import UserInputError
from napari_tsne_label.progress import Progress, ProgressGenerator, drain

SCHEMA_VERSION = 1
PROJECT_SUFFIX = ".ntl.zarr"
LOG_NAME = "actions.jsonl"
SOURCES_NAME = "sources.json"
LOCK_NAME = ".lock"
STAGING_NAME = ".staging"
THUMBNAIL_CHUNK = 64
STATE_KINDS = frozenset({"label", "undo", "redo", "add_class", "rename_class"})
_MATRIX_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Action:
    """One logged action: when, what kind, on which samples, with which label/value, by whom."""

    time: float
    kind: str
    indices: tuple[int, ...]
    label: int
    value: Any
    source: str

    def to_json(self) -> str:
        """The action as one JSON line (without the newline)."""
        record = {
            "time": self.time,
            "kind": self.kind,
            "indices": list(self.indices),
            "label": self.label,
            "value": self.value,
            "source": self.source,
        }
        return json.dumps(record, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> Action:
        """Parse one log line written by :meth:`to_json`."""
        record = json.loads(line)
        return cls(
            float(record["time"]),
            str(record["kind"]),
            tuple(record["indices"]),
            int(record["label"]),
            record.get("value"),
            str(record["source"]),
        )


@dataclass
class _Application:
    """A label application as replayed: enough to undo and redo it."""

    indices: np.ndarray
    label: int
    source: str
    previous_labels: np.ndarray
    previous_sources: list[str]


class _LabelState:
    """Current labels, who set them, class names and the undo/redo stacks, replayed from actions."""

    def __init__(self, n_samples: int, class_names: Sequence[str]):
        self.labels = np.full(n_samples, -1, dtype=np.int32)
        self.sources = [""] * n_samples
        self.class_names = list(class_names)
        self.undo_stack: list[_Application] = []
        self.redo_stack: list[_Application] = []

    def replay(self, action: Action) -> np.ndarray | None:
        """Apply one state-changing action; return the indices it relabeled, if any."""
        if action.kind == "label":
            return self._apply(
                np.asarray(action.indices, dtype=np.int64), action.label, action.source
            )
        if action.kind == "undo":
            return self._undo()
        if action.kind == "redo":
            return self._redo()
        if action.kind == "add_class":
            self.class_names.append(str(action.value))
        elif action.kind == "rename_class":
            self.class_names[action.label] = str(action.value)
        return None

    def _apply(self, indices: np.ndarray, label: int, source: str) -> np.ndarray:
        application = _Application(
            indices, label, source, self.labels[indices].copy(), [self.sources[i] for i in indices]
        )
        self._set(indices, label, [source] * len(indices))
        self.undo_stack.append(application)
        self.redo_stack.clear()
        return indices

    def _undo(self) -> np.ndarray | None:
        if not self.undo_stack:
            return None
        application = self.undo_stack.pop()
        self.labels[application.indices] = application.previous_labels
        for i, source in zip(application.indices, application.previous_sources):
            self.sources[i] = source
        self.redo_stack.append(application)
        return application.indices

    def _redo(self) -> np.ndarray | None:
        if not self.redo_stack:
            return None
        application = self.redo_stack.pop()
        self._set(
            application.indices, application.label, [application.source] * len(application.indices)
        )
        self.undo_stack.append(application)
        return application.indices

    def _set(self, indices: np.ndarray, label: int, sources: list[str]) -> None:
        self.labels[indices] = label
        for i, source in zip(indices, sources):
            self.sources[i] = source if label >= 0 else ""


class _WriteLock:
    """An exclusive ``flock`` on the lock file; the kernel drops it if the holding process dies."""

    def __init__(self, project_path: Path):
        lock_path = project_path / LOCK_NAME
        self._fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(self._fd)
            raise UserInputError(
                f"project {project_path} is open for writing by another process (pid {holder})"
            ) from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        """Drop the lock (idempotent)."""
        if self._fd >= 0:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` via a temporary file and ``os.replace``."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _read_log(path: Path) -> tuple[list[Action], int]:
    """Parse the action log; return the actions and the byte length of its intact part.

    A last line without its newline (a write cut by a kill) is ignored; a broken line anywhere
    else means the file was damaged by something other than a crash and is refused.
    """
    if not path.exists():
        return [], 0
    data = path.read_bytes()
    actions: list[Action] = []
    intact = 0
    lines = data.split(b"\n")
    for number, line in enumerate(lines[:-1], start=1):
        try:
            actions.append(Action.from_json(line.decode("utf-8")))
        except (ValueError, KeyError, TypeError):
            raise UserInputError(f"action log {path} is damaged at line {number}") from None
        intact += len(line) + 1
    return actions, intact


def _check_name(name: str) -> None:
    if not _MATRIX_NAME.match(name):
        raise ValueError(f"invalid matrix name {name!r}: use letters, digits, '_', '-', '.'")


class Project:
    """A labeling project on disk: thumbnails, sources, boxes, truth, labels, features, embeddings.

    Open with :meth:`open` or make with :meth:`create`; use as a context manager or call
    :meth:`close`. Only one process may hold a project writable at a time.
    """

    def __init__(self, path: Path, group: zarr.Group, writable: bool, lock: _WriteLock | None):
        self.path = path
        self.writable = writable
        self._group = group
        self._lock = lock
        self._closed = False
        self._sources: list[str] = json.loads((path / SOURCES_NAME).read_text(encoding="utf-8"))
        initial_names = list(group.attrs["initial_class_names"])
        actions, intact = _read_log(path / LOG_NAME)
        self._actions = actions
        self._state = _LabelState(self.n_samples, initial_names)
        for action in actions:
            self._state.replay(action)
        self._log_handle = None
        if writable:
            self._log_handle = self._open_log(intact)
            self._save_mirrors()

    # ------------------------------------------------------------------ creation and opening

    @classmethod
    def create(
        cls,
        path: str | os.PathLike,
        *,
        thumbnails: Any,
        sources: Sequence[str],
        boxes: Any,
        truth: Any,
        class_names: Sequence[str],
        import_report: Mapping[str, Any] | None = None,
    ) -> Project:
        """Write a new project and return it open for writing.

        ``thumbnails`` is an array-like (numpy or dask) of shape (N, h, w, 3) uint8, ``boxes``
        (N, 4) int x0, y0, x1, y1, ``truth`` (N,) int with -1 for unknown.
        """
        return drain(
            cls.create_progress(
                path,
                thumbnails=thumbnails,
                sources=sources,
                boxes=boxes,
                truth=truth,
                class_names=class_names,
                import_report=import_report,
            )
        )

    @classmethod
    def create_progress(
        cls,
        path: str | os.PathLike,
        *,
        thumbnails: Any,
        sources: Sequence[str],
        boxes: Any,
        truth: Any,
        class_names: Sequence[str],
        import_report: Mapping[str, Any] | None = None,
    ) -> ProgressGenerator[Project]:
        """Like :meth:`create`, yielding progress while thumbnails are computed and written.

        The project is built in a hidden sibling directory and renamed into place at the end,
        so an interrupted creation leaves no half-made project behind.
        """
        final = new_project_path(path)
        n = len(sources)
        _check_shapes(thumbnails, boxes, truth, n)
        staging = final.with_name(f".{final.name}.{uuid.uuid4().hex}.partial")
        try:
            group = zarr.open_group(staging, mode="w", zarr_format=3)
            h, w = int(thumbnails.shape[1]), int(thumbnails.shape[2])
            group.attrs.update(
                {
                    "napari_tsne_label": {"schema_version": SCHEMA_VERSION},
                    "initial_class_names": list(class_names),
                    "class_names": list(class_names),
                    "thumbnail_size": [h, w],
                    "import_report": dict(import_report or {}),
                    "created": time.time(),
                }
            )
            group.create_array("boxes", data=np.asarray(boxes, dtype=np.int32).reshape(n, 4))
            group.create_array("truth", data=np.asarray(truth, dtype=np.int32).reshape(n))
            group.create_array("labels", data=np.full(n, -1, dtype=np.int32), chunks=(max(n, 1),))
            group.require_group("features")
            group.require_group("embeddings")
            _write_json_atomic(staging / SOURCES_NAME, [str(s) for s in sources])
            yield from _write_thumbnails(group, thumbnails)
            (staging / LOG_NAME).touch()
            os.rename(staging, final)
            _fsync_directory(final.parent)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return cls.open(final, writable=True)

    @classmethod
    def open(cls, path: str | os.PathLike, writable: bool = False) -> Project:
        """Open an existing project; a second writer gets :class:`UserInputError`."""
        project_path = Path(path).expanduser().absolute()
        if not project_path.is_dir():
            raise UserInputError(f"no project at {project_path}")
        try:
            group = zarr.open_group(project_path, mode="r+" if writable else "r", zarr_format=3)
            meta = dict(group.attrs).get("napari_tsne_label")
        except (FileNotFoundError, ValueError, zarr.errors.GroupNotFoundError):
            meta = None
        if not isinstance(meta, dict) or "schema_version" not in meta:
            raise UserInputError(f"{project_path} is not a napari-tsne-label project")
        if meta["schema_version"] > SCHEMA_VERSION:
            raise UserInputError(
                f"{project_path} has schema version {meta['schema_version']}; this version of "
                f"napari-tsne-label reads up to {SCHEMA_VERSION}: please upgrade"
            )
        lock = _WriteLock(project_path) if writable else None
        try:
            return cls(project_path, group, writable, lock)
        except BaseException:
            if lock is not None:
                lock.release()
            raise

    def close(self) -> None:
        """Close the log and release the write lock (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._log_handle is not None:
            self._log_handle.close()
        if self._lock is not None:
            self._lock.release()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "writable" if self.writable else "read-only"
        return f"Project({str(self.path)!r}, n_samples={self.n_samples}, {mode})"

    # ------------------------------------------------------------------ samples

    @property
    def n_samples(self) -> int:
        """Number of samples N."""
        return len(self._sources)

    @property
    def thumbnail_size(self) -> int:
        """Side length in pixels of the square RGB thumbnails."""
        return int(self._group.attrs["thumbnail_size"][0])

    @property
    def thumbnails(self) -> zarr.Array:
        """Thumbnails, a zarr array of shape (N, h, w, 3) uint8 chunked along N."""
        return self._group["thumbnails"]

    def thumbnails_dask(self) -> Any:
        """The thumbnails as a dask array of shape (N, h, w, 3) uint8, one block per zarr chunk."""
        import dask.array as da

        return da.from_zarr(self.thumbnails)

    @property
    def sources(self) -> list[str]:
        """Absolute path of the source image of every sample, length N."""
        return list(self._sources)

    @property
    def boxes(self) -> np.ndarray:
        """Crop boxes in the source images, (N, 4) int32 x0, y0, x1, y1 (whole: 0, 0, w, h)."""
        return self._group["boxes"][:]

    @property
    def truth(self) -> np.ndarray:
        """Ground-truth class index per sample, (N,) int32, -1 where unknown."""
        return self._group["truth"][:]

    @property
    def import_report(self) -> dict[str, Any]:
        """What the import did: source kind, counts, skipped files and dropped/clamped boxes."""
        return dict(self._group.attrs.get("import_report", {}))

    # ------------------------------------------------------------------ classes and labels

    @property
    def class_names(self) -> list[str]:
        """Class names; a label or truth value ``i`` means ``class_names[i]``."""
        return list(self._state.class_names)

    def add_class(self, name: str) -> int:
        """Add a class called ``name`` (logged); return its index."""
        name = self._valid_class_name(name)
        self._commit(Action(time.time(), "add_class", (), -1, name, "user"))
        return len(self._state.class_names) - 1

    def rename_class(self, index: int, name: str) -> None:
        """Rename class ``index`` to ``name`` (logged)."""
        if not 0 <= index < len(self._state.class_names):
            raise ValueError(f"class index {index} out of range")
        name = self._valid_class_name(name, ignore=index)
        self._commit(Action(time.time(), "rename_class", (), int(index), name, "user"))

    @property
    def labels(self) -> np.ndarray:
        """Current labels, (N,) int32, -1 = unlabeled (a copy)."""
        return self._state.labels.copy()

    @property
    def label_sources(self) -> list[str]:
        """Per sample, the ``source`` of the action that set its current label ('' if none)."""
        return list(self._state.sources)

    def apply_label(self, indices: Any, label: int, source: str = "user") -> None:
        """Set ``label`` (-1 clears) on samples ``indices``; logged and saved before returning.

        An empty ``indices`` does nothing (and is not logged).
        """
        idx = np.unique(np.asarray(indices, dtype=np.int64).reshape(-1))
        if idx.size == 0:
            return
        if idx[0] < 0 or idx[-1] >= self.n_samples:
            raise ValueError(f"sample indices must lie in [0, {self.n_samples})")
        if not -1 <= label < len(self._state.class_names):
            raise ValueError(
                f"label {label} is not a class index (0..{len(self.class_names) - 1}) or -1"
            )
        self._commit(
            Action(time.time(), "label", tuple(int(i) for i in idx), int(label), None, source)
        )

    def undo(self) -> np.ndarray | None:
        """Undo the last label application (logged); return the indices it touched, None if none."""
        if not self._state.undo_stack:
            return None
        return self._commit(Action(time.time(), "undo", (), -1, None, "user"))

    def redo(self) -> np.ndarray | None:
        """Redo the last undone label application (logged); return its indices, None if none."""
        if not self._state.redo_stack:
            return None
        return self._commit(Action(time.time(), "redo", (), -1, None, "user"))

    @property
    def can_undo(self) -> bool:
        """Whether :meth:`undo` has a label application to undo."""
        return bool(self._state.undo_stack)

    @property
    def can_redo(self) -> bool:
        """Whether :meth:`redo` has an undone application to redo."""
        return bool(self._state.redo_stack)

    def log_action(
        self, kind: str, indices: Any = (), label: int = -1, value: Any = None, source: str = "user"
    ) -> None:
        """Record a non-labeling action (focus, slider, deselect, ...) in the log.

        ``value`` must be JSON-serialisable. Kinds that change labels or classes are reserved.
        """
        if kind in STATE_KINDS:
            raise ValueError(f"action kind {kind!r} is reserved; use the dedicated method")
        idx = tuple(int(i) for i in np.asarray(indices, dtype=np.int64).reshape(-1))
        self._commit(Action(time.time(), kind, idx, int(label), value, source))

    def actions(self) -> list[Action]:
        """Every logged action, oldest first."""
        return list(self._actions)

    # ------------------------------------------------------------------ features and embeddings

    def write_features(self, method: str, X: Any, settings: Mapping[str, Any]) -> None:
        """Store the (N, d) feature matrix of extraction ``method`` with its settings."""
        self._write_matrix("features", method, X, settings)

    def read_features(self, method: str) -> np.ndarray:
        """The (N, d) feature matrix of ``method``."""
        return self._matrix("features", method)[:]

    def feature_settings(self, method: str) -> dict[str, Any]:
        """The settings stored with the features of ``method``."""
        return dict(self._matrix("features", method).attrs["settings"])

    @property
    def features(self) -> dict[str, tuple[int, ...]]:
        """Stored feature matrices: {method: shape}."""
        return self._shapes("features")

    def write_embedding(self, name: str, Y: Any, settings: Mapping[str, Any]) -> None:
        """Store the (N, k) embedding ``name`` with its settings."""
        self._write_matrix("embeddings", name, Y, settings)

    def read_embedding(self, name: str) -> np.ndarray:
        """The (N, k) embedding ``name``."""
        return self._matrix("embeddings", name)[:]

    def embedding_settings(self, name: str) -> dict[str, Any]:
        """The settings stored with embedding ``name``."""
        return dict(self._matrix("embeddings", name).attrs["settings"])

    @property
    def embeddings(self) -> dict[str, tuple[int, ...]]:
        """Stored embeddings: {name: shape}."""
        return self._shapes("embeddings")

    # ------------------------------------------------------------------ internals

    def _require_writable(self) -> None:
        if self._closed:
            raise UserInputError(f"project {self.path} is closed")
        if not self.writable:
            raise UserInputError(f"project {self.path} is open read-only")

    def _valid_class_name(self, name: str, ignore: int = -1) -> str:
        name = str(name).strip()
        if not name:
            raise UserInputError("a class name cannot be empty")
        taken = [n for i, n in enumerate(self._state.class_names) if i != ignore]
        if name in taken:
            raise UserInputError(f"class {name!r} already exists")
        return name

    def _open_log(self, intact: int):
        handle = open(self.path / LOG_NAME, "ab")
        if handle.tell() != intact:
            handle.truncate(intact)
            os.fsync(handle.fileno())
        return handle

    def _commit(self, action: Action) -> np.ndarray | None:
        """Append ``action`` durably to the log, then apply it and refresh the on-disk mirrors."""
        self._require_writable()
        self._log_handle.write(action.to_json().encode("utf-8") + b"\n")
        self._log_handle.flush()
        os.fsync(self._log_handle.fileno())
        self._actions.append(action)
        touched = self._state.replay(action)
        if action.kind in STATE_KINDS:
            self._save_mirrors()
        return touched

    def _save_mirrors(self) -> None:
        """Rewrite the labels array and the class-name attribute from the replayed state."""
        if self.n_samples:
            self._group["labels"][:] = self._state.labels
        if list(self._group.attrs["class_names"]) != self._state.class_names:
            self._group.attrs["class_names"] = list(self._state.class_names)

    def _matrix(self, kind: str, name: str) -> zarr.Array:
        try:
            return self._group[f"{kind}/{name}"]
        except KeyError:
            present = ", ".join(sorted(self._shapes(kind))) or "none"
            raise UserInputError(
                f"no {kind} named {name!r} in {self.path} (present: {present})"
            ) from None

    def _shapes(self, kind: str) -> dict[str, tuple[int, ...]]:
        group = self._group[kind]
        return {name: tuple(array.shape) for name, array in sorted(group.arrays())}

    def _write_matrix(self, kind: str, name: str, values: Any, settings: Mapping[str, Any]) -> None:
        """Write a (N, k) matrix to ``kind/name``: built aside, then swapped in by renames."""
        self._require_writable()
        _check_name(name)
        matrix = np.asarray(values)
        if matrix.ndim != 2 or matrix.shape[0] != self.n_samples:
            raise ValueError(
                f"{kind} {name!r} must have shape ({self.n_samples}, k), got {matrix.shape}"
            )
        staging = self.path / STAGING_NAME
        staging.mkdir(exist_ok=True)
        built = staging / uuid.uuid4().hex
        array = zarr.create_array(built, data=matrix, zarr_format=3)
        array.attrs["settings"] = json.loads(json.dumps(dict(settings)))
        target = self.path / kind / name
        if target.exists():
            retired = staging / uuid.uuid4().hex
            os.rename(target, retired)
            os.rename(built, target)
            shutil.rmtree(retired)
        else:
            os.rename(built, target)


def new_project_path(path: str | os.PathLike) -> Path:
    """``path`` made absolute, checked to end in ``.ntl.zarr`` and not to exist yet."""
    final = Path(path).expanduser().absolute()
    if not final.name.endswith(PROJECT_SUFFIX):
        raise UserInputError(f"a project path must end in {PROJECT_SUFFIX}, got {final.name}")
    if final.exists():
        raise UserInputError(f"{final} already exists; choose a new --project path")
    return final


def _check_shapes(thumbnails: Any, boxes: Any, truth: Any, n: int) -> None:
    shape = tuple(thumbnails.shape)
    if len(shape) != 4 or shape[0] != n or shape[3] != 3:
        raise ValueError(f"thumbnails must have shape ({n}, h, w, 3), got {shape}")
    if np.dtype(thumbnails.dtype) != np.uint8:
        raise ValueError(f"thumbnails must be uint8, got {thumbnails.dtype}")
    if np.shape(boxes) != (n, 4):
        raise ValueError(f"boxes must have shape ({n}, 4), got {np.shape(boxes)}")
    if np.shape(truth) != (n,):
        raise ValueError(f"truth must have shape ({n},), got {np.shape(truth)}")


def _write_thumbnails(group: zarr.Group, thumbnails: Any) -> ProgressGenerator[None]:
    """Write (N, h, w, 3) thumbnails chunk by chunk, computing lazy (dask) blocks as they go."""
    n, h, w, _ = (int(s) for s in thumbnails.shape)
    chunk = min(THUMBNAIL_CHUNK, max(n, 1))
    array = group.create_array(
        "thumbnails", shape=(n, h, w, 3), chunks=(chunk, h, w, 3), dtype=np.uint8
    )
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        block = thumbnails[start:stop]
        array[start:stop] = np.asarray(block.compute() if hasattr(block, "compute") else block)
        yield Progress(stop, n, "writing thumbnails")
