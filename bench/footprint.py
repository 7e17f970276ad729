"""What a running platform occupies: each process's resident memory and each SQLite file's
size (its write-ahead log and shared-memory file counted apart), and how many workflow runs
its stores hold, sampled so a long run can show whether any of them keeps growing.

Read from `/proc/<pid>/status` (`VmRSS`) and the file system, and the runs from the
orchestrator sidecar's own database (read-only), so sampling adds no load to the platform's
APIs.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024
SQLITE_SUFFIXES = (".sqlite", ".sqlite-wal", ".sqlite-shm")


@dataclass(frozen=True)
class Sample:
    """One look at the platform: when (`time.monotonic()`), memory per process, bytes per
    file, and the workflow runs and history rows the orchestrator's store holds."""

    at: float
    rss_bytes: dict[str, int]
    file_bytes: dict[str, int]
    runs: int | None
    history_rows: int | None

    def figures(self) -> dict[str, object]:
        return {
            "rss_mib": {name: round(size / MIB, 1) for name, size in self.rss_bytes.items()},
            "file_mib": {name: round(size / MIB, 2) for name, size in self.file_bytes.items()},
            "runs": self.runs,
            "history_rows": self.history_rows,
        }


def rss_bytes(pid: int) -> int:
    """The process's resident set size."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def sqlite_files(data_dir: Path) -> dict[str, int]:
    """The size of every SQLite file under `data_dir`, by its path below it."""
    return {
        str(path.relative_to(data_dir)): path.stat().st_size
        for path in sorted(data_dir.rglob("*"))
        if path.name.endswith(SQLITE_SUFFIXES) and path.is_file()
    }


def workflow_rows(database: Path) -> tuple[int | None, int | None]:
    """Runs and history rows in a sidecar's workflow database; None when it cannot be read."""
    if not database.exists():
        return None, None
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as db:
            runs = db.execute("SELECT COUNT(*) FROM instances").fetchone()[0]
            history = db.execute("SELECT COUNT(*) FROM history").fetchone()[0]
    except sqlite3.Error:
        return None, None
    return int(runs), int(history)


def sample(pids: Mapping[str, int], data_dir: Path, workflow_db: Path) -> Sample:
    runs, history = workflow_rows(workflow_db)
    return Sample(
        time.monotonic(),
        {name: rss_bytes(pid) for name, pid in pids.items()},
        sqlite_files(data_dir),
        runs,
        history,
    )


def growth_per_hour(first: Sample, last: Sample) -> dict[str, dict[str, float]]:
    """Each process's memory and each file's size change between two samples, in MiB per
    hour, extrapolated linearly."""
    hours = (last.at - first.at) / 3600
    if hours <= 0:
        return {"rss_mib": {}, "file_mib": {}}

    def rate(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, float]:
        return {name: round((after[name] - before.get(name, 0)) / MIB / hours, 2) for name in after}

    return {
        "rss_mib": rate(first.rss_bytes, last.rss_bytes),
        "file_mib": rate(first.file_bytes, last.file_bytes),
    }
