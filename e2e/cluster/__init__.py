"""Cluster e2e: the chart on kind (or any cluster) with Dapr; see docs/runbook-kind.md."""
