"""Atomic writes: a crash leaves the previous file or folder (or none), never a half-written one."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish_mode(path: str | os.PathLike) -> None:
    """Give a file (or a folder tree) made by mkstemp/mkdtemp (0600/0700) the permissions a
    plain open() or mkdir() would have, before it is renamed into place."""
    path, mask = Path(path), _umask()
    paths = [path, *path.rglob("*")] if path.is_dir() else [path]
    for p in paths:
        if p.exists() and not p.is_symlink():
            os.chmod(p, (0o777 if p.is_dir() else 0o666) & ~mask)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside `path`; rename it into place only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:  # named as the file the user asked for, not our temporary name
        raise type(exc)(exc.errno, exc.strerror, str(path)) from None
    os.close(fd)
    try:
        yield Path(tmp)
        publish_mode(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, prefix: str | None = None, suffix: str = "", exists: str = "replace",
               aside: str | None = None, keep_on_error=None):
    """Yield a new staging folder beside `path`; when the block succeeds, publish it at `path` in one
    rename (with the permissions mkdir would give). The one staging-and-rename publisher of the
    package (datasets, image caches, pretrained folders, checkpoints, results).

    exists: "replace": a folder already at `path` is moved aside (to `aside`, a name beside it), then
    removed after the rename; "keep": another process published it meanwhile, so theirs stays.
    keep_on_error(stage) -> bool: leave a failed stage in place for inspection (else it is removed)."""
    if exists not in ("replace", "keep"):
        raise ValueError(f"exists={exists!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=prefix or f".{path.name}.", suffix=suffix, dir=path.parent))
    try:
        yield stage
        publish_mode(stage)
        if path.exists() and exists == "keep":
            shutil.rmtree(stage)
            return
        old = None
        if path.exists():
            old = path.parent / (aside or f".{path.name}.old-{os.getpid()}")
            if old.exists():
                shutil.rmtree(old)
            os.replace(path, old)
        os.replace(stage, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        if stage.exists() and not (keep_on_error and keep_on_error(stage)):
            shutil.rmtree(stage, ignore_errors=True)
        raise


def write_text(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path, obj, indent: int | None = 1) -> None:
    write_text(path, json.dumps(obj, ensure_ascii=False, indent=indent, sort_keys=False) + "\n")


def write_csv(path, frame) -> None:
    """Write a pandas DataFrame atomically (no index column)."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
