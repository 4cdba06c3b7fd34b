"""Write files and folders so that a reader never sees half of one: temp name, then rename."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# the one atomic file writer (data's cache uses it too)
from ...data.atomic import atomic_file, staged_file, umask as _umask

from ..errors import BacktestError

__all__ = ["atomic_dir", "atomic_file", "atomic_files", "check_writable"]


def check_writable(path: str | Path, option: str, *, overwrite: bool = False, force: str | None = None) -> Path:
    """Before any work: ``path`` (a file or folder to create) must be free unless ``overwrite``, and the nearest
    folder above it that exists must take new entries (tried for real: a probe folder is made and removed).
    ``force``: the flag that would allow replacing it, named in the error."""
    path = Path(path)
    if path.exists() and not (overwrite and path.is_file()):
        raise BacktestError(
            f"{option} {path} already exists; choose another name"
            + (f" or give {force} to replace it" if force and path.is_file() else "")
        )
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise BacktestError(f"{option} {path}: {parent} is a file, not a folder")
    try:
        Path(tempfile.mkdtemp(dir=parent, prefix=".qcoord-probe.")).rmdir()
    except OSError as exc:
        raise BacktestError(f"{option} {path}: cannot write in {parent} ({exc.strerror or exc})") from None
    return path


@contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temp folder beside ``path``; on success rename it to ``path`` (which must not exist)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700
        yield tmp
        if path.exists():  # a folder that appeared meanwhile is never replaced
            raise BacktestError(f"{path} appeared while this run was being written; nothing was replaced")
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextmanager
def atomic_files(folder: str | Path) -> Iterator:
    """Several files of one folder written as a set: ``put(name, mode)`` opens a temp file as ``atomic_file`` does,
    but every rename waits until the whole block has succeeded; the files are then renamed in the order they were
    opened (open the index file, e.g. sweep.json, last: while it is missing the set is incomplete). On an error or
    an interrupt (Ctrl-C) none is renamed and the temp files are removed."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[str, Path]] = []

    @contextmanager
    def put(name: str, mode: str = "w") -> Iterator:
        with staged_file(folder / name, mode) as (fh, tmp):
            staged.append((tmp, folder / name))
            yield fh

    try:
        yield put
        for tmp, final in staged:
            os.replace(tmp, final)
    except BaseException:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        raise
