"""`python -m services.shipping`: serves shipping commands (`SHIPPING_COUNTRIES` sets the
supported destinations, default US,CA,GB,DE,FR,NL)."""

from __future__ import annotations

import os

from services.common.runtime import connect, serve
from services.contracts.names import AppId
from services.shipping.app import build_app
from services.shipping.rules import countries


def main() -> None:
    supported = countries(os.environ.get("SHIPPING_COUNTRIES"))
    serve(build_app(connect(AppId.SHIPPING), supported), default_port=6003)


if __name__ == "__main__":
    main()
