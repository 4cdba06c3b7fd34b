"""One resumable job runner behind ``run_scan`` and ``run_sweep``: a folder of finished jobs, progress, batches,
and a plain loop or a Dask cluster (``batch.cluster``) to run the rest.

A job folder holds ``<kind>_options.json`` (what the jobs were run with) and one JSON file per finished job under
``<records>/``, each written atomically as it finishes. A rerun with the same options reads the finished jobs back
and computes only the others; a rerun with other options is refused unless forced (finished jobs whose key still
matches are kept: a job's key covers everything its result depends on).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from ..errors import BacktestError, Interrupted
from ..output.atomic import atomic_file, check_writable
from ..output.progress import Progress
from ..output.jsondoc import dumps, options


class JobFolder:
    """A folder of finished jobs, ``<out>/<records>/<key>.json``; ``create`` also checks and records the options."""

    def __init__(self, out: str | Path, records: str, scratch: bool = False):
        self.out, self.records = Path(out), Path(out) / records
        self.scratch = scratch  # a temporary folder (no --out): nothing is kept to resume from
        self.records.mkdir(parents=True, exist_ok=True)

    @classmethod
    def create(
        cls, out: str | Path, kind: str, records: str, signature: dict, force: bool = False, scratch: bool = False
    ) -> JobFolder:
        """The folder of a ``kind`` of batch ("scan", "sweep"): new, or the same batch's to resume (another's only
        with ``force``). Checked before any job runs, so a refused folder is left as it was."""
        out = Path(out)
        if out.exists() and not out.is_dir():
            raise BacktestError(f"--out {out} is a file, not a folder; give a folder for the {kind}")
        if out.exists() and any(out.iterdir()) and not (out / records).is_dir():
            raise BacktestError(f"{out} exists and is not a {kind} folder")
        if not out.exists():
            check_writable(out, "--out")
        sig_path = out / f"{kind}_options.json"
        signature = json.loads(dumps(options(signature), None))  # as it reads back
        if sig_path.is_file() and json.loads(sig_path.read_text()) != signature and not force:
            raise BacktestError(
                f"--out {out} holds a {kind} with other options; choose another --out, or add --force "
                "to replace its tables"
            )
        folder = cls(out, records, scratch)
        with atomic_file(sig_path) as fh:
            fh.write(dumps(signature, None))
        return folder

    def read(self, key: str) -> dict | None:
        path = self.records / f"{key}.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def write(self, key: str, record: dict) -> dict:
        """Save a finished job; returns the record exactly as a rerun would read it back."""
        text = dumps(record, None)
        with atomic_file(self.records / f"{key}.json") as fh:
            fh.write(text)
        return json.loads(text)


def run_group(shared, func: Callable, tasks: list[tuple]) -> list:
    """A batch of tasks on one worker: ``func(shared, *task)`` for each (the unit a cluster schedules)."""
    return [func(shared, *task) for task in tasks]


def run_jobs(
    folder: JobFolder,
    keys: list[str],
    func: Callable,
    shared,
    tasks: list[tuple],
    executor,
    *,
    batch_size: int = 1,
    progress: bool | None = None,
    unit: str = "job",
    desc: str = "jobs",
    on_done: Callable[[int], None] | None = None,
) -> tuple[list[dict], int]:
    """Every job's record in job order, and how many were computed: finished jobs are read back from ``folder``,
    the others run as ``func(shared, *task)`` on ``executor`` (``batch.cluster``) in batches of ``batch_size``,
    each saved as its batch finishes. ``shared`` (the data) goes to every worker once. ``on_done(n)`` is told of
    every n jobs done (read back or computed), as the progress bar is."""
    if batch_size < 1:
        raise BacktestError(f"batch size must be a whole number >= 1, got {batch_size!r}")
    records: dict[int, dict] = {}
    for i, key in enumerate(keys):
        found = folder.read(key)
        if found is not None:
            records[i] = found
    todo = [i for i in range(len(keys)) if i not in records]
    groups = [todo[i : i + batch_size] for i in range(0, len(todo), batch_size)]
    with Progress(len(keys), progress, unit=unit, desc=desc) as bar:
        bar.update(len(records))
        if on_done is not None:
            on_done(len(records))
        work = [(func, [tasks[i] for i in group]) for group in groups]

        def save(g: int, results: list) -> None:
            for i, record in zip(groups[g], results):
                records[i] = folder.write(keys[i], record)

        try:
            for g, results in executor.map(run_group, shared, work):
                save(g, results)
                bar.update(len(groups[g]))
                if on_done is not None:
                    on_done(len(groups[g]))
        except KeyboardInterrupt:  # Ctrl-C: keep every batch that finished, then stop in one line
            for g, results in getattr(executor, "finished", lambda: [])():
                save(g, results)
            where = "" if folder.scratch else f", kept in {folder.records} (rerun the same command to resume)"
            raise Interrupted(f"{len(records)} of {len(keys)} {unit}s done{where}") from None
    return [records[i] for i in range(len(keys))], len(todo)
