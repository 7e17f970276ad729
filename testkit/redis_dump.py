"""Every value a Redis holds, read over its own protocol (RESP2), for tests that must look
at all of a store's data: `redis-cli --scan`, then each key's value by its type.

No client library: a socket, a few commands, pipelined. Values come back as raw bytes,
nested replies (hash fields, stream entries) joined, so a test can search them.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator, Sequence
from typing import Any

from testkit.sidecar import HOST

# How each type's whole value is read.
VALUE_COMMANDS: dict[bytes, tuple[bytes, ...]] = {
    b"string": (b"GET",),
    b"hash": (b"HGETALL",),
    b"list": (b"LRANGE", b"0", b"-1"),
    b"set": (b"SMEMBERS",),
    b"zset": (b"ZRANGE", b"0", b"-1", b"WITHSCORES"),
    b"stream": (b"XRANGE", b"-", b"+"),
}


class RedisError(Exception):
    """Redis answered with an error."""


class Connection:
    """One RESP2 connection: pipelined commands, their replies in order."""

    def __init__(self, port: int, host: str = HOST, timeout: float = 30.0) -> None:
        self._socket = socket.create_connection((host, port), timeout=timeout)
        self._reader = self._socket.makefile("rb")

    def close(self) -> None:
        self._reader.close()
        self._socket.close()

    def pipeline(self, commands: Sequence[Sequence[bytes]]) -> list[Any]:
        payload = bytearray()
        for command in commands:
            payload += b"*%d\r\n" % len(command)
            for arg in command:
                payload += b"$%d\r\n%s\r\n" % (len(arg), arg)
        self._socket.sendall(payload)
        return [self._read() for _ in commands]

    def _read(self) -> Any:
        line = self._reader.readline()
        kind, rest = line[:1], line[1:].rstrip(b"\r\n")
        if kind == b"+":
            return rest
        if kind == b"-":
            raise RedisError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            return None if size < 0 else self._reader.read(size + 2)[:size]
        if kind == b"*":
            count = int(rest)
            return None if count < 0 else [self._read() for _ in range(count)]
        raise RedisError(f"unexpected reply {line!r}")


def _flat(reply: Any) -> bytes:
    if reply is None:
        return b""
    if isinstance(reply, bytes):
        return reply
    if isinstance(reply, int):
        return str(reply).encode()
    return b"\n".join(_flat(part) for part in reply)


def redis_values(port: int, batch: int = 500) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) for every key of the Redis on `port`, the value's parts joined."""
    connection = Connection(port)
    try:
        cursor = b"0"
        while True:
            [(cursor, keys)] = connection.pipeline([(b"SCAN", cursor, b"COUNT", b"%d" % batch)])
            types = connection.pipeline([(b"TYPE", key) for key in keys])
            # `none`: deleted since the scan saw it. Any other type would be data unread.
            kept = [(key, kind) for key, kind in zip(keys, types, strict=True) if kind != b"none"]
            unknown = sorted({kind for _, kind in kept if kind not in VALUE_COMMANDS})
            if unknown:
                raise RedisError(f"keys of types {unknown} cannot be read here")
            values = connection.pipeline(
                [(VALUE_COMMANDS[kind][0], key, *VALUE_COMMANDS[kind][1:]) for key, kind in kept]
            )
            for (key, _), value in zip(kept, values, strict=True):
                yield key, _flat(value)
            if cursor == b"0":
                return
    finally:
        connection.close()
