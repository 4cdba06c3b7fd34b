"""Write a file so that a reader never sees half of it: a temp file beside it, then a rename. The one atomic file
writer of the package (the Yahoo cache, run folders, scan and sweep tables all write through it)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def umask() -> int:
    """The process's file-creation mask (read without changing it for longer than one call)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def staged_file(path: str | Path, mode: str = "w") -> Iterator:
    """Open a temp file beside ``path``: yields ``(file, temp path)``; removes the temp file if the block fails. The
    caller renames it over ``path`` (``atomic_file`` at once; ``backtest.output.atomic.atomic_files`` once every file
    of a set is written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~umask())  # mkstemp makes 0600: give the file the permissions the user asked for
        opened = os.fdopen(fd, mode) if "b" in mode else os.fdopen(fd, mode, encoding="utf-8", newline="")
        with opened as fh:
            yield fh, tmp
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_file(path: str | Path, mode: str = "w") -> Iterator:
    """Open a temp file beside ``path``; on success rename it over ``path``, on error remove it."""
    with staged_file(path, mode) as (fh, tmp):
        yield fh
    try:
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
