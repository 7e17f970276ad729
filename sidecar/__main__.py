"""`python -m sidecar`: run the embedded sidecar with daprd-style flags."""

from __future__ import annotations

import asyncio
import sys

from foundation import logs
from sidecar import config
from sidecar.pubsub.routing import RuleError
from sidecar.resources.loader import ResourceError
from sidecar.server import serve
from sidecar.storefiles import StoreRefused


def main(argv: list[str] | None = None) -> int:
    settings = config.parse(argv)
    logs.configure(settings.app_id, settings.log_level)
    try:
        asyncio.run(serve(settings))
    except (OSError, ResourceError, RuleError, StoreRefused) as error:
        print(f"sidecar: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
