"""The saga platform's Dapr apps: inventory, payment, shipping and the orchestrator."""
