"""The orchestrator's management API (FastAPI): runs, approvals, orders, stock.

`create_api(workflows, dapr, settings)` builds the app; routes are thin, the SDK calls
live in `workflow_gateway`, the response models in `schemas`, the diagram in `mermaid`.
"""

from services.orchestrator.api.app import create_api
from services.orchestrator.api.settings import ApiSettings

__all__ = ["ApiSettings", "create_api"]
