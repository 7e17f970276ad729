"""Output prefixing: whole lines only, each tagged with its process."""

from __future__ import annotations

import asyncio
import io
import os

from sidecar.runner.output import MAX_LINE, Sink, prefix, pump


async def copy(*chunks: bytes) -> list[bytes]:
    reader = asyncio.StreamReader()
    for chunk in chunks:
        reader.feed_data(chunk)
    reader.feed_eof()
    stream = io.BytesIO()
    await pump(reader, prefix("app", "orders"), Sink(stream, io.StringIO()))
    return stream.getvalue().split(b"\n")[:-1]


def test_prefixes_name_the_role_and_app() -> None:
    assert prefix("app", "orders") == b"== APP == orders | "
    assert prefix("sidecar", "orders") == b"== DAPR == orders | "


async def test_lines_split_across_chunks_are_joined() -> None:
    lines = await copy(b"first li", b"ne\r\nsecond\n", b"\nlast without newline")
    assert lines == [
        b"== APP == orders | first line",
        b"== APP == orders | second",
        b"== APP == orders | ",
        b"== APP == orders | last without newline",
    ]


async def test_endless_lines_are_written_in_pieces() -> None:
    lines = await copy(b"x" * (MAX_LINE * 2 + 10), b"\n")
    assert all(line.startswith(b"== APP == orders | x") for line in lines)
    assert sum(len(line) for line in lines) - len(lines) * len(b"== APP == orders | ") == (
        MAX_LINE * 2 + 10
    )


async def test_a_closed_stdout_does_not_stop_the_copy() -> None:
    class Closed(io.BytesIO):
        def write(self, data: object) -> int:
            raise BrokenPipeError

    reader = asyncio.StreamReader()
    reader.feed_data(b"a\nb\n")
    reader.feed_eof()
    await pump(reader, b"", Sink(Closed(), io.StringIO()))


def test_output_nobody_reads_goes_to_dev_null_and_raises_nothing() -> None:
    """The reader of the runner's pipe died (a killed launcher): writing must neither
    raise (the runner would ignore the signal it was reporting) nor fail at exit."""
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    os.close(out_read)
    os.close(err_read)
    with open(out_write, "wb") as stream, open(err_write, "w") as notices:
        sink = Sink(stream, notices)
        sink.write_lines(b"== APP == orders | ", [b"lost"])
        sink.notice("received SIGTERM; stopping all apps")
        sink.notice("stopped")
        for fd in (out_write, err_write):
            assert os.readlink(f"/proc/self/fd/{fd}") == os.devnull
