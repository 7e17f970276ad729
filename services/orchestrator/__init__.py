"""The orchestrator app: saga and approval workflows, their subscriptions, the management API."""
