"""The demo's progress in the terminal, in plain text (no dependency beyond `tabulate`).

- `LiveView` (on a terminal): one frame redrawn in place, every round of polling: sagas per
  kind by state, the steps in flight, a progress bar and the recent events.
- `PlainView` (a pipe, a log, CI): the events as lines, and a progress line every few
  seconds when something changed.
"""

from __future__ import annotations

import collections
import sys
from typing import TextIO

from tabulate import tabulate

from services.demo.generator import Kind, Progress, Tracked, View

_OUTCOMES = ("completed", "compensated", "rejected")
_HOME_AND_CLEAR = "\x1b[H\x1b[J"
_CLEAR_LINE_END = "\x1b[K"


def _state(item: Tracked) -> str:
    """`pending`, `in flight` or the saga's outcome (`other` for anything unexpected)."""
    if item.placed_at is None:
        return "pending"
    if not item.terminal:
        return "in flight"
    return item.stage if item.stage in _OUTCOMES else "other"


def render_frame(progress: Progress) -> str:
    """One frame of the live view."""
    rows = []
    totals: collections.Counter[str] = collections.Counter()
    for kind in Kind:
        items = [i for i in progress.tracked if i.demo.kind == kind]
        if not items:
            continue
        states = collections.Counter(_state(i) for i in items)
        states["orders"] = len(items)
        states["placed"] = sum(1 for i in items if i.placed_at is not None)
        totals.update(states)
        rows.append([kind, *_columns(states)])
    rows.append(["total", *_columns(totals)])
    table = tabulate(
        rows,
        headers=["KIND", "ORDERS", "PLACED", "IN FLIGHT", *(o.upper() for o in _OUTCOMES), "OTHER"],
        tablefmt="simple",
    )
    steps = collections.Counter(
        i.stage for i in progress.tracked if i.placed_at is not None and not i.terminal
    )
    done = sum(1 for i in progress.tracked if i.terminal)
    total = len(progress.tracked)
    width = 40
    filled = width * done // total if total else width
    lines = [
        f"Saga demo {progress.run_id}: {total} orders, API {progress.api_url}, "
        f"{progress.elapsed:.1f}s",
        "",
        table,
        "",
        "in flight: "
        + (" | ".join(f"{stage} {n}" for stage, n in sorted(steps.items())) or "none"),
        f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} sagas finished",
        "",
        "recent events:",
        *(f"  {at:6.1f}s  {text}" for at, text in progress.events),
    ]
    return "\n".join(lines)


def _columns(states: collections.Counter[str]) -> list[int]:
    return [
        states["orders"],
        states["placed"],
        states["in flight"],
        *(states[o] for o in _OUTCOMES),
        states["other"],
    ]


def progress_line(progress: Progress) -> str:
    """One line of the plain view."""
    placed = sum(1 for i in progress.tracked if i.placed_at is not None)
    steps = collections.Counter(
        i.stage for i in progress.tracked if i.placed_at is not None and not i.terminal
    )
    ended = collections.Counter(i.stage for i in progress.tracked if i.terminal)
    flight = sum(steps.values())
    text = f"[{progress.elapsed:6.1f}s] placed {placed}/{len(progress.tracked)}"
    text += f" | in flight {flight}"
    if steps:
        text += " (" + ", ".join(f"{s} {n}" for s, n in sorted(steps.items())) + ")"
    text += f" | finished {sum(ended.values())}"
    if ended:
        text += " (" + ", ".join(f"{s} {n}" for s, n in sorted(ended.items())) + ")"
    return text


class LiveView(View):
    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._started = False

    def update(self, progress: Progress) -> None:
        frame = render_frame(progress).replace("\n", f"{_CLEAR_LINE_END}\n")
        prefix = "\x1b[2J" if not self._started else ""
        self._started = True
        self._stream.write(f"{prefix}{_HOME_AND_CLEAR}{frame}{_CLEAR_LINE_END}\n")
        self._stream.flush()

    def close(self, progress: Progress) -> None:
        self.update(progress)
        self._stream.write("\n")
        self._stream.flush()


class PlainView(View):
    def __init__(self, stream: TextIO, every: float = 2.0) -> None:
        self._stream = stream
        self._every = every
        self._last_at = -every
        self._last = ""

    def update(self, progress: Progress) -> None:
        line = progress_line(progress)
        changed = line.split("]", 1)[1] != self._last.split("]", 1)[-1]
        if changed and progress.elapsed - self._last_at >= self._every:
            self._print(line)
            self._last, self._last_at = line, progress.elapsed

    def event(self, progress: Progress, text: str) -> None:
        super().event(progress, text)
        self._print(f"  {progress.elapsed:6.1f}s  {text}")

    def close(self, progress: Progress) -> None:
        line = progress_line(progress)
        if line != self._last:
            self._print(line)

    def _print(self, text: str) -> None:
        self._stream.write(text + "\n")
        self._stream.flush()


def make_view(mode: str, stream: TextIO | None = None) -> View:
    """`live` or `plain`; `auto` is live on a terminal."""
    out = stream if stream is not None else sys.stdout
    if mode == "live" or (mode == "auto" and out.isatty()):
        return LiveView(out)
    return PlainView(out)
