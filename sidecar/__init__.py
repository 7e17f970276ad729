"""Embedded Dapr-compatible sidecar: daprd's gRPC APIs over SQLite, for local runs and CI."""
