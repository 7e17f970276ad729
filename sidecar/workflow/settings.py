"""The engine's tunables, apart from its parts because the client, dispatch and worker
sides each enforce some of them."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from google.protobuf.message import Message

from sidecar.errors import SidecarError


@dataclass
class EngineSettings:
    lease_seconds: float = 300.0
    # An instance whose new events are only results of a fan-out that is still running
    # waits for more results, so that a `when_all` over many activities replays its growing
    # history a few times instead of once per result: `fan_in_seconds_per_task` for each
    # activity still outstanding, at most `fan_in_window_seconds`.
    fan_in_window_seconds: float = 0.1
    fan_in_seconds_per_task: float = 0.001
    health_ping_seconds: float = 10.0
    max_in_flight_per_stream: int = 256
    max_payload_bytes: int = 4 * 1024 * 1024

    def check_size(self, message: Message) -> None:
        """Refuses an oversized message with an error naming the limit, not gRPC's bare one."""
        size = message.ByteSize()
        if size > self.max_payload_bytes:
            raise SidecarError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                "PAYLOAD_TOO_LARGE",
                f"message of {size} bytes exceeds the sidecar's limit of "
                f"{self.max_payload_bytes} bytes (--max-body-size)",
            )
