"""`python -m services.inventory`: seeds the stock that is missing, then serves commands."""

from __future__ import annotations

import os

from services.common.runtime import connect, serve
from services.contracts.names import AppId
from services.inventory import store
from services.inventory.app import build_app
from services.inventory.rules import seed_levels


def main() -> None:
    client = connect(AppId.INVENTORY)
    store.seed(client, seed_levels(os.environ.get("INVENTORY_SEED")))
    serve(build_app(client), default_port=6001)


if __name__ == "__main__":
    main()
