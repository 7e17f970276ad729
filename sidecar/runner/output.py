"""Process output, line by line, each line prefixed with who wrote it.

`== APP == orders | ...` for an app and `== DAPR == orders | ...` for its sidecar, like
the Dapr CLI, so interleaved output of many processes stays attributable. Bytes pass
through undecoded; only whole lines are written, so lines of different processes never
mix mid-line.
"""

from __future__ import annotations

import asyncio
import sys
from typing import BinaryIO, TextIO

# A "line" longer than this is written in pieces rather than buffered without bound.
MAX_LINE = 64 * 1024


def prefix(role: str, app_id: str) -> bytes:
    tag = "APP" if role == "app" else "DAPR"
    return f"== {tag} == {app_id} | ".encode()


class Sink:
    """Where prefixed lines go; a closed stdout (`| head`) silently drops further output."""

    def __init__(self, stream: BinaryIO | None = None, notices: TextIO | None = None) -> None:
        self._stream = stream if stream is not None else sys.stdout.buffer
        self._notices = notices if notices is not None else sys.stderr
        self._broken = False

    def write_lines(self, head: bytes, lines: list[bytes]) -> None:
        if self._broken or not lines:
            return
        try:
            self._stream.write(b"".join(head + line + b"\n" for line in lines))
            self._stream.flush()
        except BrokenPipeError:
            self._broken = True

    def notice(self, message: str) -> None:
        """The runner's own messages, on stderr so they survive `> app.log`."""
        print(f"runner: {message}", file=self._notices, flush=True)


async def pump(reader: asyncio.StreamReader, head: bytes, sink: Sink) -> None:
    """Copies `reader` to `sink` until EOF; a last line without newline is kept."""
    pending = b""
    while chunk := await reader.read(MAX_LINE):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        if len(pending) >= MAX_LINE:
            lines.append(pending)
            pending = b""
        sink.write_lines(head, [line.removesuffix(b"\r") for line in lines])
    if pending:
        sink.write_lines(head, [pending.removesuffix(b"\r")])
