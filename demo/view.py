"""The demo's progress in the terminal, drawn with `rich`.

- `LiveView` (stdout is a terminal): a region at the bottom redrawn every round of polling
  (sagas per kind by state, the steps in flight, a progress bar), laid out for the
  terminal's width; each event is printed above it, so it stays in the scrollback. No
  alternate screen: the last frame stays in place, above the summary. The cursor is
  hidden while the region is live and shown again however the demo ends.
- `PlainView` (a pipe, a log, CI, a dumb terminal): the events as lines, and a progress
  line every few seconds when something changed; no control codes.
"""

from __future__ import annotations

import collections
import sys
from typing import TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from demo.scenarios import EXPECTED, Kind
from demo.tracking import Progress, Tracked, View

# A column per outcome the demo's kinds expect; anything else a saga ends with is "other".
_OUTCOMES = tuple(dict.fromkeys(expected.outcome for expected in EXPECTED.values()))
_STATES = ("in flight", *_OUTCOMES, "other")


def _state(item: Tracked) -> str:
    """`pending`, `in flight` or the saga's outcome (`other` for anything unexpected)."""
    if item.placed_at is None:
        return "pending"
    if not item.terminal:
        return "in flight"
    return item.stage if item.stage in _OUTCOMES else "other"


def _in_flight(progress: Progress) -> collections.Counter[str]:
    """How many running sagas are at each step."""
    return collections.Counter(
        i.stage for i in progress.tracked if i.placed_at is not None and not i.terminal
    )


def render_frame(progress: Progress) -> RenderableType:
    """One frame of the live view. 80 columns hold it whole; on a narrower terminal the
    headers fold onto more lines, and a count is never cut."""
    total = len(progress.tracked)
    counts: dict[Kind, collections.Counter[str]] = {}
    for item in progress.tracked:
        counts.setdefault(item.demo.kind, collections.Counter())[_state(item)] += 1
    totals = collections.Counter(_state(item) for item in progress.tracked)
    table = Table(box=None, pad_edge=False, show_footer=True, header_style="bold")
    table.add_column(
        "KIND", footer="total", no_wrap=True, min_width=max(map(len, counts)), footer_style="bold"
    )
    for header, footer in (("orders", total), *((state, totals[state]) for state in _STATES)):
        table.add_column(
            Text(header.upper(), overflow="fold"),
            footer=str(footer),
            justify="right",
            min_width=len(str(total)),
            footer_style="bold",
        )
    for kind in Kind:
        if kind in counts:
            states = counts[kind]
            table.add_row(kind, str(states.total()), *(str(states[s]) for s in _STATES))
    placed = total - totals["pending"]
    done = placed - totals["in flight"]
    bar = Table.grid(padding=(0, 1), expand=True)
    bar.add_column(ratio=1)
    bar.add_column(no_wrap=True)
    bar.add_row(
        ProgressBar(total=total or 1, completed=done),
        f"placed {placed}/{total}, finished {done}/{total}",
    )
    steps = _in_flight(progress)
    return Group(
        Text(
            f"Saga demo {progress.run_id}: API {progress.api_url}, {progress.elapsed:.1f}s",
            style="bold",
        ),
        table,
        Text("in flight: " + (" | ".join(f"{s} {n}" for s, n in sorted(steps.items())) or "none")),
        bar,
    )


def progress_line(progress: Progress) -> str:
    """One line of the plain view."""
    placed = sum(1 for i in progress.tracked if i.placed_at is not None)
    steps = _in_flight(progress)
    ended = collections.Counter(i.stage for i in progress.tracked if i.terminal)
    text = f"[{progress.elapsed:6.1f}s] placed {placed}/{len(progress.tracked)}"
    text += f" | in flight {sum(steps.values())}"
    if steps:
        text += " (" + ", ".join(f"{s} {n}" for s, n in sorted(steps.items())) + ")"
    text += f" | finished {sum(ended.values())}"
    if ended:
        text += " (" + ", ".join(f"{s} {n}" for s, n in sorted(ended.items())) + ")"
    return text


def _event_line(progress: Progress, text: str) -> str:
    return f"  {progress.elapsed:6.1f}s  {text}"


class LiveView(View):
    def __init__(self, console: Console) -> None:
        self._console = console
        # Redrawn by `update` only: the progress is not read from another thread.
        self._live = Live(console=console, auto_refresh=False)

    def update(self, progress: Progress) -> None:
        if not self._live.is_started:
            self._live.start()
        self._live.update(render_frame(progress), refresh=True)

    def event(self, progress: Progress, text: str) -> None:
        self._console.print(_event_line(progress, text), markup=False, highlight=False)

    def close(self, progress: Progress) -> None:
        if self._live.is_started:
            self._live.update(render_frame(progress), refresh=True)
            self._live.stop()


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
        self._print(_event_line(progress, text))

    def close(self, progress: Progress) -> None:
        line = progress_line(progress)
        if line != self._last:
            self._print(line)

    def _print(self, text: str) -> None:
        self._stream.write(text + "\n")
        self._stream.flush()


def make_view(mode: str, stream: TextIO | None = None) -> View:
    """`live` or `plain`; `auto` is live when the stream is a terminal that can redraw."""
    out = stream if stream is not None else sys.stdout
    console = Console(file=out, force_terminal=True if mode == "live" else None)
    if mode == "live" or (mode == "auto" and console.is_terminal and not console.is_dumb_terminal):
        return LiveView(console)
    return PlainView(out)
