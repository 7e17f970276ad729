"""Process output, line by line, each line prefixed with who wrote it.

`== APP == orders | ...` for an app and `== DAPR == orders | ...` for its sidecar, like
the Dapr CLI, so interleaved output of many processes stays attributable. Bytes pass
through undecoded; only whole lines are written, so lines of different processes never
mix mid-line.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import sys
from typing import IO, AnyStr, BinaryIO, TextIO

# A "line" longer than this is written in pieces rather than buffered without bound.
MAX_LINE = 64 * 1024


def prefix(role: str, app_id: str) -> bytes:
    tag = "APP" if role == "app" else "DAPR"
    return f"== {tag} == {app_id} | ".encode()


class Sink:
    """Where prefixed lines and the runner's notices go. Output that cannot be written
    any more (EPIPE: `| head`, or a launcher that died; EIO: a closed terminal) is dropped
    rather than raised: writing is never a reason for the runner not to stop its processes.
    """

    def __init__(self, stream: BinaryIO | None = None, notices: TextIO | None = None) -> None:
        self._stream = stream if stream is not None else sys.stdout.buffer
        self._notices = notices if notices is not None else sys.stderr
        self._dead: set[object] = set()  # the streams that cannot be written

    def write_lines(self, head: bytes, lines: list[bytes]) -> None:
        if lines:
            self._write(self._stream, b"".join(head + line + b"\n" for line in lines))

    def notice(self, message: str) -> None:
        """The runner's own messages, on stderr so they survive `> app.log`."""
        self._write(self._notices, f"runner: {message}\n")

    def _write(self, stream: IO[AnyStr], data: AnyStr) -> None:
        if stream in self._dead:
            return
        try:
            stream.write(data)
            stream.flush()
        except (OSError, ValueError):  # ValueError: the stream was closed
            self._dead.add(stream)
            _to_devnull(stream)


def _to_devnull(stream: IO[AnyStr]) -> None:
    """Points the stream's file descriptor at /dev/null: what is still buffered, and the
    interpreter's last flush at exit, then succeed (Python would otherwise print "Exception
    ignored ... BrokenPipeError" on the dead stream and exit with 120)."""
    with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
        fd = stream.fileno()
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        os.close(null)


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
