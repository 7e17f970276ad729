"""The local e2e suite's platform: the testing kit's (`testkit.platform`), plus the ledger.

Starting, killing and observing the processes is reusable machinery and lives in the kit;
what only this suite needs is here: reading the services' records to check the books
(`e2e.local.ledger`).
"""

from __future__ import annotations

from e2e.local.ledger import Ledger
from testkit import platform


class Platform(platform.Platform):
    """The platform of `dapr.yaml` on the runtime `E2E_RUNTIME` names (see the kit)."""

    @property
    def ledger(self) -> Ledger:
        """The services' records in the shared state store, read through the observer's sidecar."""
        return Ledger(self.dapr)
