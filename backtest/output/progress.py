"""Progress on stderr for every long run: shown when stderr is a terminal (or when asked), never in a pipe or a log."""

from __future__ import annotations

import sys


def shows(enabled: bool | None) -> bool:
    """Whether to show progress: ``enabled`` when given (``--progress``/``--no-progress``), else whether stderr is
    a terminal."""
    return sys.stderr.isatty() if enabled is None else bool(enabled)


class Progress:
    """A progress bar of ``total`` units (rounds, pairs, points) on stderr, or nothing when not shown; ``stage``
    renames it (a backtest fits, then plays)."""

    def __init__(self, total: int, enabled: bool | None, *, unit: str, desc: str, unit_scale: bool = False):
        self.bar = None
        if shows(enabled):
            from tqdm import tqdm

            self.bar = tqdm(
                total=total,
                unit=unit,
                unit_scale=unit_scale,
                file=sys.stderr,
                leave=False,
                desc=desc,
                dynamic_ncols=True,
            )

    def stage(self, name: str) -> None:
        if self.bar is not None:
            self.bar.set_description(name)

    def grow(self, n: int) -> None:
        """Add ``n`` units of work found on the way (the training replay), so the bar never passes 100%."""
        if self.bar is not None:
            self.bar.total += n
            self.bar.refresh()

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
